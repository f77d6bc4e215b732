// The SMTP session as a state machine with no I/O. The driver feeds it command lines
// and the outcomes of what it asked for (TLS, DATA, the commit); it answers with a
// Step: the reply lines to send and what the driver must do next. One command table
// says, per verb, in which states it is allowed, whether it is allowed before TLS
// when TLS is required, whether it ends a pipelined group (RFC 2920 §3.1), and which
// check/apply pair handles it. Every state change goes through transition(), which
// the protocol log can trace.
#pragma once

#include "command.hpp"
#include "data_reader.hpp"
#include "replies.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::smtp {

// Rights a session holds (Exchange's ms-Exch-SMTP-* rights, granted by the
// connector's PermissionGroups).
namespace permission {
inline constexpr std::uint32_t Submit = 1u << 0;                  // may send mail at all
inline constexpr std::uint32_t AcceptAnyRecipient = 1u << 1;      // may relay
inline constexpr std::uint32_t BypassMessageSizeLimit = 1u << 2;  // MaxMessageSize does not apply
inline constexpr std::uint32_t Anonymous = 1u << 3;               // an anonymous (internet) session: tarpitted
inline constexpr std::uint32_t AcceptAnySender = 1u << 4;
inline constexpr std::uint32_t AcceptAuthoritativeDomainSender = 1u << 5;
inline constexpr std::uint32_t AcceptRoutingHeaders = 1u << 6;    // Received:/Resent-* kept as sent
inline constexpr std::uint32_t AcceptOrganizationHeaders = 1u << 7;
inline constexpr std::uint32_t BypassAntiSpam = 1u << 8;
inline constexpr std::uint32_t AcceptAuthenticationFlag = 1u << 9;
// Not an Exchange right: the session holds ExchangeServers or Partners rights, so
// back pressure at Medium still serves it (see transport/backpressure/README.md).
inline constexpr std::uint32_t HubOrPartner = 1u << 10;
}  // namespace permission

// What the session knows of its Receive connector, fixed for the session's life.
struct SessionSettings {
    std::string fqdn = "localhost";  // Fqdn: HELO reply, Received header
    std::string banner;              // Banner; empty = "<Fqdn> edge-transport ESMTP service ready"
    std::uint64_t max_message_size = 10 * 1024 * 1024;
    std::uint32_t max_recipients = 200;
    std::uint32_t max_protocol_errors = 5;
    std::uint64_t max_header_size = 64 * 1024;
    bool require_tls = false;
    bool require_ehlo_domain = false;  // RequireEHLODomain: an address literal is not enough
    bool size_without_value = false;   // SizeEnabled EnabledWithoutValue: "SIZE" with no number
    bool tls_available = false;  // a certificate is loaded and STARTTLS may be offered
    bool size_enabled = true, pipelining_enabled = true, chunking_enabled = true, eight_bit_mime_enabled = true,
         dsn_enabled = true, enhanced_status_codes_enabled = true, smtputf8_enabled = true;
    std::uint32_t permissions = permission::Submit | permission::Anonymous;
    // Domain Security (issue 20): on a DomainSecureEnabled connector, the domains of
    // TLSReceiveDomainSecureList (lower case). MAIL from one of them needs mutual TLS
    // with a client certificate valid for it; empty = no partner is held to it.
    std::vector<std::string> domain_secure_domains;
};

// What the client's TLS certificate proved, as the driver found it after the
// handshake (the core never sees X.509): whether one was sent, whether its chain is
// trusted, and the DNS names it is for (subjectAltName dNSName, else the CN).
struct ClientCertificate {
    bool presented = false;
    bool valid = false;        // chains to a trusted authority, in its validity period, for TLS clients
    std::string problem;       // why not valid ("certificate has expired")
    std::vector<std::string> names;
};
// RFC 6125 §6.4: `domain` matches a name exactly (any case) or a "*.parent" name in
// its one left-most label.
bool certificate_name_matches(std::string_view name, std::string_view domain);

struct TransactionRecipient {
    Mailbox address;
    std::uint8_t notify = 0;
    std::string orcpt;
};

// Lives from MAIL until the commit or RSET.
struct Transaction {
    Mailbox sender;
    std::optional<std::uint64_t> declared_size;
    BodyType body = BodyType::Unspecified;
    bool smtputf8 = false;
    Ret ret = Ret::Unspecified;
    std::string envid;
    std::vector<TransactionRecipient> recipients;
    // The message: BDAT chunks appended as they arrive (one buffer, never a string per
    // chunk), or the DATA reader's body once DATA ended.
    MessageBuffer message;
    std::uint64_t bdat_bytes = 0;  // announced so far in BDAT commands
    bool no_room = false;          // the server had no room for the body: 452 4.3.1 at LAST
};

enum class RecipientVerdict : std::uint8_t { Accept, RelayDenied, UnknownUser };

// The decisions that need the world outside the protocol: routing and back pressure.
struct SessionPolicy {
    std::function<RecipientVerdict(const Mailbox&, std::uint32_t permissions)> check_recipient;
    // False while back pressure refuses new mail for a session with these permissions.
    std::function<bool(std::uint32_t permissions)> accepting_mail;
    // Admission at the commit (issue 14), each empty = always yes. Whether the queue
    // volume has room for a body of `bytes` (asked at MAIL with the declared SIZE, or
    // 0); false: 452 4.3.1.
    std::function<bool(std::uint64_t bytes)> room_for_body;
    // Asked again at DATA with the declared SIZE (not held: a client that declares
    // much and sends little must not keep others out). Each BDAT: hold room for the
    // bytes announced so far until the transaction ends (DATA's driver holds the bytes
    // received so far). False: a BDAT's bytes are read but not kept and LAST gets
    // 452 4.3.1.
    std::function<bool(std::uint64_t bytes)> reserve_body;
    // The transaction ended without a commit that kept its hold (RSET, EHLO, a
    // refusal, the commit's answer): the hold is given back.
    std::function<void()> release_body;
    // Transport agents (transport/agents, issue 16) at HELO/EHLO, MAIL and RCPT, after
    // the protocol's own checks: a refusal with this catalogue reply (a reply that
    // closes ends the session), or nullopt to go on. Each empty = no agents.
    std::function<std::optional<AgentReply>(std::string_view helo, bool extended)> agents_at_helo;
    std::function<std::optional<AgentReply>(const Mailbox& sender)> agents_at_mail;
    // At RCPT the agents may also rewrite the recipient (the Address Rewriting Inbound
    // Agent): what they leave in `recipient` is what the transaction records.
    std::function<std::optional<AgentReply>(Mailbox& recipient, std::uint32_t permissions)> agents_at_rcpt;
    // OnDataCommand (issue 17): DATA or a transaction's first BDAT, once MAIL was given —
    // asked before the sequence check, so an agent may end a session whose every RCPT
    // it refused (the IP Block list: "disconnect after all RCPT TO commands"). A refusal
    // of BDAT always closes: the chunk that follows could not be told from commands.
    std::function<std::optional<AgentReply>()> agents_at_data;
};

enum class SessionState : std::uint8_t { Connected, Greeted, Mail, Rcpt, Data, Bdat, TlsHandshake, Committing, Closed };
const char* to_string(SessionState);

struct Step {
    enum class Next : std::uint8_t {
        ReadCommand,  // read the next command line
        StartTls,     // send the replies, discard any buffered input, run the TLS handshake
        ReadData,     // feed the bytes after the reply to a DataReader until done
        ReadChunk,    // read `chunk_size` raw bytes for BDAT
        Commit,       // commit transaction() durably, then call on_committed()
        Close,        // send the replies and close
    };
    std::vector<std::string> replies;  // lines without CRLF
    Next next = Next::ReadCommand;
    std::uint64_t chunk_size = 0;
    bool tarpit = false;  // delay the replies by the connector's TarpitInterval
};

class Session {
public:
    Session(SessionSettings settings, SessionPolicy policy, std::string client_address);

    Step greet();
    Step on_command(std::string_view line);
    // STARTTLS: the handshake succeeded (the session starts over, RFC 3207 §4.2).
    Step on_tls_established();
    // The TLS client authenticated (a pinned hub certificate): the session's rights
    // become these from now on.
    void set_permissions(std::uint32_t permissions) { settings_.permissions = permissions; }
    std::uint32_t permissions() const { return settings_.permissions; }
    // After STARTTLS on a Domain Security connector: what the client certificate proved.
    void set_client_certificate(ClientCertificate c) { client_certificate_ = std::move(c); }
    // DATA: the reader reached CRLF.CRLF.
    Step on_data(DataReader& reader);
    // BDAT: the bytes of the chunk announced by the last BDAT, in pieces as they are
    // read (raw: no dot-stuffing, RFC 3030), then its end.
    void chunk_piece(std::string_view piece);
    Step on_chunk_end();
    // The server has no room for more of this transaction's body (the session memory
    // limit): nothing more is kept and BDAT LAST gets 452 4.3.1.
    void stop_storing_body();
    // The commit the session asked for finished; `queued_id` is the message's id for
    // the 250 reply (the Message-ID), or nullopt with `storage_full` for back pressure.
    Step on_committed(std::optional<std::string> queued_id, bool storage_full);
    // The commit was refused before it started (MaxHopCount, header too big): the
    // transaction ends with this reply.
    Step on_commit_refused(ReplyId reply);
    Step on_commit_refused(const AgentReply& reply);  // an end-of-message agent's refusal
    // A command line longer than kMaxCommandLine (the driver skipped it to its CRLF).
    Step on_line_too_long();
    // The driver's handle on the transaction to commit (it moves the body out).
    Transaction& transaction_for_commit() { return txn_; }

    SessionState state() const { return state_; }
    const Transaction& transaction() const { return txn_; }
    bool tls_active() const { return tls_; }
    const std::string& helo_domain() const { return helo_; }
    bool extended() const { return esmtp_; }  // the client said EHLO (ESMTP), not HELO
    std::uint32_t protocol_errors() const { return errors_; }
    // Every state change, for the protocol log: (from, to, verb that caused it).
    std::function<void(SessionState, SessionState, std::string_view)> on_transition;

private:
    struct Handler;
    friend struct CommandTable;

    Step reply(ReplyId id, std::initializer_list<std::string_view> args = {});
    Step refuse(ReplyId id, std::initializer_list<std::string_view> args = {});
    Step refuse(const AgentReply& r) {
        // A milter's own reply is a whole line (replies.hpp reply_is_peers_own).
        if (reply_is_peers_own(r.id)) {
            Step s = refuse(r.id);
            if (!s.replies.empty()) s.replies.front() = render(r, enhanced());
            return s;
        }
        return r.text.empty() ? refuse(r.id) : refuse(r.id, {r.text});
    }
    void transition(SessionState to, std::string_view cause);
    void reset_transaction();
    bool enhanced() const { return settings_.enhanced_status_codes_enabled; }
    // MaxMessageSize, unless the session holds Bypass-Message-Size-Limit; even then
    // kLargestMessage, as for DATA.
    bool over_size_limit(std::uint64_t bytes) const {
        if (bytes > kLargestMessage) return true;
        return bytes > settings_.max_message_size && (settings_.permissions & permission::BypassMessageSizeLimit) == 0;
    }

    // Domain Security: why MAIL from `sender` is refused, or "" when it may go on.
    std::string check_domain_secure(const Mailbox& sender) const;
    Step apply_helo(const Command&, bool extended);
    Step apply_mail(const Command&);
    Step apply_rcpt(const Command&);
    Step apply_data(const Command&);
    Step apply_bdat(const Command&);
    Step apply_rset(const Command&);
    Step apply_noop(const Command&);
    Step apply_quit(const Command&);
    Step apply_vrfy(const Command&);
    Step apply_help(const Command&);
    Step apply_starttls(const Command&);
    Step apply_not_implemented(const Command&);

    SessionSettings settings_;
    SessionPolicy policy_;
    std::string client_;
    SessionState state_ = SessionState::Connected;
    Transaction txn_;
    std::string helo_;
    bool tls_ = false;
    bool esmtp_ = false;
    bool bdat_last_ = false;
    std::uint32_t errors_ = 0;
    ClientCertificate client_certificate_;
};

// True when the client must wait for this command's reply before sending more
// (RFC 2920 §3.1); the driver flushes its replies then.
bool ends_pipeline_group(Verb verb);

}  // namespace edge::smtp
