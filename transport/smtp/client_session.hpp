// The SMTP client (a Send connector's side of a connection) as a state machine with
// no I/O: replies and connection events in, actions out (send these bytes, start TLS,
// close). It greets with EHLO (HELO when told to or when EHLO is refused), takes
// STARTTLS as the connector says, and sends messages one transaction at a time with
// the ESMTP extensions the peer offers: PIPELINING (RFC 2920), SIZE (RFC 1870),
// 8BITMIME (RFC 6152), DSN (RFC 3461), CHUNKING (RFC 3030), SMTPUTF8 (RFC 6531).
// Every recipient of a message ends with one outcome: Delivered, Deferred or Failed.
// The driver owns the socket, TLS, timeouts and DNS; see README.md for its duties.
#pragma once

#include "reply_reader.hpp"

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace edge::smtp {

// What the peer's EHLO reply offered (RFC 5321 §4.1.1.1; keywords case-insensitive).
struct PeerExtensions {
    bool esmtp = false;  // the peer answered EHLO (not only HELO)
    bool pipelining = false, starttls = false, size = false, eightbitmime = false, dsn = false, chunking = false,
         smtputf8 = false, enhanced_status_codes = false;
    bool auth_plain = false, auth_login = false;  // RFC 4954 AUTH mechanisms we speak
    std::uint64_t max_size = 0;  // SIZE n; 0 = no limit given
};

PeerExtensions parse_ehlo_reply(const Reply& ehlo);

// The Send connector's settings for one connection (validated by the caller:
// RequireTLS with IgnoreSTARTTLS is a configuration error; here RequireTLS wins).
struct ClientPolicy {
    std::string fqdn;         // Fqdn: the EHLO/HELO argument
    std::string remote_host;  // the peer as it is named in texts: "mx1.example.com" or "[192.0.2.1]"
    bool force_helo = false;       // ForceHELO: HELO, never EHLO (so no extension, no STARTTLS)
    bool ignore_starttls = false;  // IgnoreSTARTTLS: never ask for TLS even when offered
    bool require_tls = false;      // RequireTLS: nothing of a message is ever sent in clear
    bool tls_possible = true;      // the driver has a TLS client context to run a handshake
    // Who requires TLS when it is not RequireTLS, for texts ("TlsAuthLevel DomainValidation",
    // "DANE", "Domain Security", "MTA-STS"); those failures are 4.7.5, RequireTLS's 4.7.4.
    std::string tls_required_by;
    // SmartHostAuthMechanism BasicAuth / BasicAuthRequireTLS: AUTH PLAIN (or LOGIN) with
    // these credentials before any message; none when auth_user is empty. A peer that
    // offers neither mechanism, or refuses the credentials, gets no message.
    std::string auth_user, auth_password;
    bool auth_require_tls = false;  // BasicAuthRequireTLS: the credentials only inside TLS
};

struct OutboundRecipient {
    std::size_t index = 0;  // the caller's index; outcomes carry it back
    std::string address;
    std::string orcpt;        // RFC 3461 ORCPT decoded ("rfc822;a@b"); xtext-encoded here. "" = none
    std::uint8_t notify = 0;  // edge::queue::notify bits: Never=1 Success=2 Failure=4 Delay=8; 0 = not given
};

struct OutboundMessage {
    std::string sender;  // "" = the null reverse path <>
    std::vector<OutboundRecipient> recipients;
    // The message as queued (RFC 5322). The driver keeps it alive until the message's
    // result is taken: BDAT actions point into it.
    std::string_view content;
    enum class Ret : std::uint8_t { Unspecified, Full, Headers } ret = Ret::Unspecified;
    std::string envid;  // RFC 3461 ENVID decoded; xtext-encoded here. "" = none
    bool smtputf8 = false;  // received with SMTPUTF8 (RFC 6531 §3.4): its header fields may be UTF-8
};

// What goes to a peer that does not offer SMTPUTF8 (RFC 6531 §3.2), losslessly or not at
// all. An address: as it is when ASCII; with its domain as A-labels when only the domain
// is internationalised (DNS knows the name only so: nothing is lost); nullopt when the
// local part is not ASCII (no lossless form: 5.6.7).
std::optional<std::string> address_without_smtputf8(std::string_view address);
// A message received with SMTPUTF8 whose header fields carry non-ASCII octets (RFC 6532)
// has no lossless form without SMTPUTF8 (RFC 6857's downgrade rewrites the fields): true
// means 5.6.7 toward such a peer. A message received without SMTPUTF8 goes as it came,
// 8-bit header octets and all, as before SMTPUTF8 existed.
bool needs_smtputf8(const OutboundMessage& m);

enum class RecipientResult : std::uint8_t { Delivered, Deferred, Failed };
const char* to_string(RecipientResult);

struct RecipientOutcome {
    std::size_t index = 0;
    RecipientResult result = RecipientResult::Deferred;
    std::string response;  // the peer's reply ("550 5.1.1 User unknown"), or ours when we decided
    std::string status;    // enhanced code to report: the reply's, else its class ("4.0.0")
};

struct ClientAction {
    enum class Kind : std::uint8_t {
        Send,      // write `bytes`, then `content`
        StartTls,  // run the TLS client handshake now, then call on_tls_established()
        Close,     // close the connection (idempotent)
    };
    Kind kind = Kind::Send;
    std::string bytes;         // commands (CRLF included) or DATA content, ready for the wire
    std::string_view content;  // BDAT payload: a view of OutboundMessage::content; else empty
    bool secret = false;       // holds credentials: a log shows "AUTH ****" / "****", never the bytes
};

// When failed(): was a message in flight? Connection = the connection failed before
// any message or between messages (try the next host, or the queue retries with
// failure() as LastError). Message = the message in flight got Deferred outcomes for
// every recipient not yet decided; its result is ready.
enum class FailureScope : std::uint8_t { None, Connection, Message };

enum class ClientState : std::uint8_t {
    Connected,     // waiting for the greeting
    Ehlo,          // EHLO sent
    Helo,          // HELO sent
    StartTls,      // STARTTLS sent
    TlsHandshake,  // 220 to STARTTLS: the driver runs the handshake
    Ready,         // greeted, no transaction: begin_message() or quit()
    Transaction,   // a message in flight (MAIL … the final reply, RSET)
    Authenticating,  // AUTH sent (RFC 4954), before any message
    Quitting,      // QUIT sent
    Closed,        // after QUIT's reply, a failure or on_connection_lost()
};
const char* to_string(ClientState);

// What the next reply answers (the commands in flight are answered in order). The
// driver picks its inactivity timeout by it: RFC 5321 §4.5.3.2 asks for 5 minutes for
// the greeting, MAIL and RCPT, 2 for DATA and 10 for the end of data.
enum class Awaiting : std::uint8_t {
    Nothing, Greeting, Ehlo, Helo, StartTls, Mail, Rcpt, Data,
    EndOfData,       // the content and its final dot
    EmptyEndOfData,  // the lone dot after an unwanted 354 (RFC 2920 §3.1)
    Bdat, Rset, Quit,
    Auth,           // the outcome of AUTH (235 or a refusal)
    AuthLoginUser,  // 334 to AUTH LOGIN: the user name next
    AuthLoginPassword,  // 334 to the user name: the password next
};
const char* to_string(Awaiting);

// Our own texts (responses for what we decided, failure sentences), in one table.
enum class ClientText : std::uint8_t {
    MessageTooBigForPeer,  // 552 5.3.4
    NeedsSmtpUtf8,         // 553 5.6.7 RFC 6531 §3.2
    NeedsSmtpUtf8Headers,  // 554 5.6.7 RFC 6532: UTF-8 header fields, and the peer has no SMTPUTF8
    AddressNotSendable,    // 501 5.1.3 a control character or an angle bracket would split the command
    NotReady,              // 451 4.4.0 begin_message() while the connection could not take it
    ClosedByUs,            // 451 4.4.0 quit() while a message was in flight
    ConnectionLost,        // 451 4.4.2 peer closed, I/O error, timeout, malformed reply
    GreetingRefused,       // 451 4.4.0
    HelloRefused,          // 451 4.4.0
    TlsNotOffered,         // 451 4.7.4 RequireTLS
    TlsRefused,            // 451 4.7.4 RequireTLS
    TlsNotPossible,        // 451 4.7.4 RequireTLS without a TLS client context
    TlsNeedsEhlo,          // 451 4.7.4 RequireTLS with ForceHELO
    ServiceClosing,        // 451 4.4.0 a 421 from the peer
    UnexpectedReply,       // 451 4.5.0 a reply the protocol does not allow here
    ReplyBeforeTls,        // 451 4.7.0 a reply between 220 to STARTTLS and the handshake
    RsetRefused,           // 451 4.5.0
    AuthNotOffered,        // 451 4.7.0 BasicAuth and the peer offers no AUTH PLAIN or LOGIN
    AuthNeedsTls,          // 451 4.7.4 BasicAuthRequireTLS without TLS
    AuthRefused,           // 451 4.7.0 the peer refused our credentials
    TlsPolicyNotOffered,   // 451 4.7.5 a TLS policy (tls_required_by) and no STARTTLS
    TlsPolicyRefused,      // 451 4.7.5 a TLS policy and STARTTLS refused
    TlsFailed,             // 451 4.7.5 the handshake or the peer's authentication failed
};
struct ClientTextEntry {
    ClientText id;
    std::uint16_t code;
    std::string_view enhanced;
    std::string_view text;  // "{}" marks an argument
};
std::span<const ClientTextEntry> client_text_catalogue();

// RFC 5321 §4.5.2 and §2.3.8: the content as it goes after 354. Every line end —
// CRLF, a bare CR, a bare LF — becomes CRLF (so no smuggled end of data ever leaves
// here, CVE-2023-51764), a leading dot is doubled, and the content ends with CRLF
// (added when missing) and ".\r\n". Empty content is just ".\r\n".
std::string encode_for_data(std::string_view content);

// RFC 3461 §4: '+', '=' and bytes outside 33..126 become "+XX".
std::string xtext_encode(std::string_view s);
// The reverse: "+XX" becomes the octet. nullopt when malformed (a '+' without two hex digits).
std::optional<std::string> xtext_decode(std::string_view s);
// ORCPT as a server received it ("rfc822;a+2Bb@x", xtext) in the decoded form the client
// takes ("rfc822;a+b@x"): without this a relayed '+' would leave as "+2B2B". A value that
// is not valid xtext is kept as it is.
std::string orcpt_decoded(std::string_view received);

class ClientSession {
public:
    explicit ClientSession(ClientPolicy policy);

    // Every reply the reader assembles, in order: greeting, EHLO/HELO, STARTTLS,
    // MAIL, RCPT, DATA, end of data, BDAT, RSET, QUIT.
    std::vector<ClientAction> on_reply(const Reply& reply);
    // The handshake asked for by StartTls succeeded: EHLO again, forgetting what the
    // peer offered in clear (RFC 3207 §4.2).
    std::vector<ClientAction> on_tls_established();
    // Greeted (and TLS done when it was to be used) and no transaction in flight.
    bool ready_for_message() const { return state_ == ClientState::Ready; }
    // Sends a message on this connection. When not ready_for_message(), nothing is
    // sent and every recipient is Deferred at once.
    std::vector<ClientAction> begin_message(const OutboundMessage& message);
    // Once, when every recipient of the message has its outcome and the connection is
    // back in step (ready again, or failed). Sorted by index.
    std::optional<std::vector<RecipientOutcome>> take_message_result();
    // QUIT when ready (close after its reply); from any other state QUIT (unless in
    // the TLS handshake) and close at once, a message in flight Deferred.
    std::vector<ClientAction> quit();
    // Peer closed, I/O error, timeout, TLS handshake failure, reader error: `reason`
    // says which. Recipients not yet decided become Deferred. A close after our QUIT
    // or after a failure is not a failure.
    void on_connection_lost(std::string_view reason);
    // The TLS handshake failed, or the peer did not prove what the policy asks:
    // `peer` names it ("mx1.example.com (192.0.2.1:25)"), `reason` says why ("certificate
    // has expired (TlsAuthLevel CertificateValidation)"). The connection is closed.
    void on_tls_failed(std::string_view peer, std::string_view reason);

    ClientState state() const { return state_; }
    // A reply is owed to us (the driver reads; its inactivity timeout runs).
    bool awaiting_reply() const { return !expected_.empty(); }
    Awaiting awaiting() const { return expected_.empty() ? Awaiting::Nothing : expected_.front(); }
    bool failed() const { return scope_ != FailureScope::None; }
    FailureScope failure_scope() const { return scope_; }
    // For LastError: "RequireTLS is set and mx1.example.com does not offer STARTTLS".
    const std::string& failure() const { return failure_; }
    // The same with its code, for LastError: "451 4.7.5 TLS with … failed: …".
    std::string failure_line() const;
    bool tls_active() const { return tls_; }
    const PeerExtensions& extensions() const { return ext_; }
    // Every state change, for the SmtpSend protocol log: (from, to, cause).
    std::function<void(ClientState, ClientState, std::string_view)> on_transition;

private:
    // A recipient of the transaction on the wire.
    struct Slot {
        OutboundRecipient rcpt;
        // Moved: split off by a 452, it goes in the next transaction.
        enum class State : std::uint8_t { Unsent, Waiting, Accepted, Decided, Moved } state = State::Unsent;
    };
    using Actions = std::vector<ClientAction>;

    void transition(ClientState to, std::string_view cause);
    void expect(Awaiting e) { expected_.push_back(e); }

    Actions after_hello();
    Actions start_transaction();
    std::string mail_command() const;
    std::string rcpt_command(const OutboundRecipient& r) const;
    Actions send_next_rcpt();
    Actions after_rcpts();
    // RSET; `prefix` (the lone dot after an unwanted 354) goes before it in the same write.
    Actions send_rset(std::string prefix = {});
    Actions end_transaction();

    Actions on_mail(const Reply& r);
    Actions on_rcpt(const Reply& r);
    Actions on_data(const Reply& r);
    Actions on_final(const Reply& r, bool bdat);

    void decide(const OutboundRecipient& r, RecipientResult result, std::string response, std::string status);
    void decide_by_reply(Slot& s, const Reply& r);
    void defer_undecided(const std::string& response, const std::string& status);
    void finish_message();
    // The connection is done for: records why, defers what is undecided, closes
    // (politely with QUIT when the peer still speaks SMTP in step with us).
    Actions fail(ClientText why, std::initializer_list<std::string_view> args, bool polite,
                 const Reply* peer_reply = nullptr);
    Actions unexpected(const Reply& r, Awaiting answered);
    Actions fail_not_offered();  // STARTTLS missing and TLS required (RequireTLS or a policy)
    Actions start_auth();
    std::string say(ClientText id, std::initializer_list<std::string_view> args) const;

    ClientPolicy policy_;
    ClientState state_ = ClientState::Connected;
    std::deque<Awaiting> expected_;
    PeerExtensions ext_;
    bool tls_ = false;
    bool authenticated_ = false;
    FailureScope scope_ = FailureScope::None;
    std::string failure_;
    ClientText failure_id_ = ClientText::NotReady;

    // The message in flight.
    bool in_message_ = false;
    OutboundMessage msg_;
    bool eight_bit_ = false;
    std::vector<RecipientOutcome> outcomes_;
    std::deque<std::vector<RecipientOutcome>> results_;  // finished, not yet taken
    std::vector<OutboundRecipient> next_batch_;  // split off by 452: the next transaction's
    // The transaction in flight.
    std::vector<Slot> slots_;
    std::size_t next_reply_ = 0;  // the slot the next RCPT reply answers
    std::size_t next_send_ = 0;   // the slot the next RCPT goes for (without PIPELINING)
    std::size_t accepted_ = 0;
    bool mail_ok_ = false;
    bool pipelined_ = false, bdat_ = false;
};

}  // namespace edge::smtp
