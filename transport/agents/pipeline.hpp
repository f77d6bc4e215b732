// The transport agent pipeline (Exchange 2007's SmtpReceiveAgent and RoutingAgent
// events): which agents run at an event, in which order, and what their verdicts add
// up to. Pure — no sockets, no clocks: agents with I/O are answered beforehand by
// pipeline_async.hpp, and a timeout is a decision made here (timeout_verdict).
#pragma once

#include "replies.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edge::agents {

// Exchange's events, in the order a message meets them. The routing events are for
// agents that rewrite (Address Rewriting); none exists yet.
enum class AgentEvent : std::uint8_t {
    OnConnect,
    OnHeloCommand,
    OnEhloCommand,
    OnMailCommand,
    OnRcptCommand,
    OnDataCommand,  // DATA or the first BDAT, after MAIL (with or without an accepted recipient)
    OnEndOfHeaders,
    OnEndOfData,
    OnSubmittedMessage,
    OnResolvedMessage,
    OnRoutedMessage,
};
// Exchange's names as the agent log writes them ("OnRcptCommand").
const char* to_string(AgentEvent e);

using PropertyBag = std::map<std::string, std::string, std::less<>>;
// Properties named with this prefix belong to the current message: a new message
// (MAIL, RSET, EHLO) forgets them, so no verdict on one message (an SPF pass, a DKIM
// domain) is ever read for the next one in the same session.
inline constexpr std::string_view kMessagePropertyPrefix = "Message.";
// What an agent that authenticates the message (SPF, DKIM, DMARC: issue 18) concluded,
// as RFC 8601 resinfo text ("spf=pass smtp.mailfrom=a@b.example"; several separated by
// LF), under this prefix and the method's name. Acceptance stamps them in one
// Authentication-Results field with the edge's authserv-id, in this order.
inline constexpr std::string_view kAuthResultsPropertyPrefix = "Message.AuthResults.";
inline constexpr std::string_view kAuthResultsMethods[] = {"spf", "dkim", "dmarc"};
using HeaderField = std::pair<std::string, std::string>;  // name, value

// What an agent sees of the session. Agents get it const; the pipeline alone changes
// it (a verdict's properties, allow-listing).
struct SessionInfo {
    std::string session_id;  // the protocol log's session id
    std::string remote_ip, local_ip;
    std::string connector;  // the Receive connector's name
    std::string helo;       // the HELO/EHLO argument, once given
    bool tls = false;
    // The session holds ExchangeServers or Partners rights (a hub, a partner over
    // TLS): Exchange's "internal / authenticated" mail for InternalMailEnabled.
    bool internal = false;
    std::uint32_t permissions = 0;  // smtp::permission bits, as the session holds them now
    // An earlier agent (or, later, the IP Allow list) vouched for this session: the
    // anti-spam agents do not run for it (Exchange's anti-spam bypass).
    bool allow_listed = false;
    PropertyBag properties;  // per session; agents set them through verdicts
};

// What an agent sees of the message so far.
struct Envelope {
    std::string sender;                   // P1: MAIL FROM
    std::vector<std::string> recipients;  // P1: RCPT TO accepted so far
    std::string recipient;                // OnRcptCommand: the recipient asked for now
    std::string recipient_domain;         // OnRcptCommand: its domain as sent
    std::string message_id;               // from OnEndOfHeaders
    std::vector<std::string> header_from;  // P2: the From: addresses, from OnEndOfHeaders
    std::vector<HeaderField> headers;      // OnEndOfHeaders / OnEndOfData: the header as received
    std::uint64_t size = 0;                // OnEndOfData: the body's size
    // OnEndOfHeaders / OnEndOfData: the message as received (header, blank line, body),
    // in the reader's chunks; valid during the event only. Null when not kept.
    const std::vector<std::string>* message = nullptr;
};

// An agent's change to the message itself (issue 19: a milter's modifications,
// Attachment Filtering's Strip, the Content Filter's quarantine, Address Rewriting's
// RCPT rewrite): applied by the pipeline to the session's current message, so the agents
// after it see the changed message, and by acceptance before the commit. It rides on a
// Continue or Stamp verdict (a Reject or Delete makes it moot). Applying the same edit
// twice changes nothing more (gather_async applies an async agent's edit for the agents
// asked after it; Pipeline::run applies it again).
struct MessageEdit {
    // The whole message (header, blank line, body) replaced, with its header fields as
    // the agents see them (Envelope::headers: name, unfolded value). Null: unchanged.
    std::shared_ptr<const std::vector<std::string>> message;
    std::vector<HeaderField> headers;  // with `message`
    std::optional<std::string> sender;  // MAIL FROM replaced ("" is the null path)
    std::vector<std::string> add_recipients;     // each added once
    std::vector<std::string> remove_recipients;  // removed (compared case-insensitively)
    // Every recipient replaced by this one (the Content Filter's quarantine, Exchange's
    // QuarantineMailbox); the original recipients are kept with the message.
    std::string redirect_to;
    // OnRcptCommand: the recipient asked for is recorded as this address instead (the
    // Address Rewriting Inbound Agent); the driver applies it to the RCPT being accepted.
    std::string rewrite_recipient;
    bool empty() const {
        return !message && !sender && add_recipients.empty() && remove_recipients.empty() && redirect_to.empty() &&
               rewrite_recipient.empty();
    }
};

// An agent's answer.
enum class AgentAction : std::uint8_t {
    Continue,         // nothing to say
    Reject,           // refuse the command (or the message) with `reply`
    Disconnect,       // end the session with `reply` (a catalogue reply that closes)
    Tarpit,           // delay the reply by `delay`, then go on
    Stamp,            // add `headers` to the message and/or set `properties`, then go on
    SkipOtherAgents,  // the other agents do not run for this message (Exchange's anti-spam bypass)
    // End of headers / data: the client is told 250 and the message is discarded, not
    // queued (Exchange's Delete: SpoofedDomainAction, the Content Filter's SCL delete).
    Delete,
};
// The agent log's Action for a verdict at an event (Exchange's words: RejectCommand,
// RejectMessage, RejectConnection, Disconnect, …).
std::string_view action_name(AgentAction a, AgentEvent e);

struct Verdict {
    AgentAction action = AgentAction::Continue;
    smtp::ReplyId reply = smtp::ReplyId::AgentRejected;  // Reject, Disconnect
    std::string reply_text;  // the "{}" of `reply` (a configured rejection response); empty: none
    std::chrono::milliseconds delay{0};                   // Tarpit
    std::vector<HeaderField> headers;                     // Stamp: header fields for the message
    PropertyBag properties;                               // Stamp: session properties to set
    bool allow_list_session = false;  // with any action: the session bypasses anti-spam agents from now on
    bool timed_out = false;           // the agent did not answer in its time (logged even when it goes on)
    // When set, the agent log writes this in place of the recipient asked for: an
    // address the agent must not put in clear (the Recipient Filter's lookup).
    std::string logged_recipient;
    // The agent log's Reason, ReasonData and Diagnostics.
    std::string reason, reason_data, diagnostics;
    // Continue / Stamp: a change to the message (MessageEdit). The agent log records a
    // verdict that carries one even when its action is Continue.
    std::optional<MessageEdit> edit;

    static Verdict go_on() { return {}; }
    static Verdict reject(smtp::ReplyId reply, std::string reason, std::string reason_data = {});
    // A reply whose catalogue text is "{}" (ReplyId::IpBlocked), with the administrator's text.
    static Verdict reject_with(smtp::ReplyId reply, std::string text, std::string reason, std::string reason_data = {});
    static Verdict disconnect(std::string reason, smtp::ReplyId reply = smtp::ReplyId::AgentDisconnect);
    static Verdict tarpit(std::chrono::milliseconds delay, std::string reason);
    static Verdict stamp_header(std::string name, std::string value);
    static Verdict set_property(std::string name, std::string value);
    static Verdict skip_other_agents(std::string reason);
    static Verdict delete_message(std::string reason, std::string reason_data = {});
};

// What a time-bounded agent's silence means. Chosen per agent; the default is
// TempFail, as Postfix's milter_default_action=tempfail: the client is told 451 4.7.0
// and retries, so no mail is lost and no check is skipped because a peer (a DNS
// zone an attacker runs, a stuck scanner) was slow. Accept is for agents whose
// answer only adds evidence (a reputation lookup), where Exchange fails open.
enum class TimeoutAction : std::uint8_t { TempFail, Accept };

// One agent. Agents are stateless between calls (their state is the session's
// property bag) and must not touch sockets, the queue or the disk.
class Agent {
public:
    virtual ~Agent() = default;
    // Exchange's Identity ("Recipient Filter Agent"): Get-TransportAgent, the agent log.
    virtual std::string_view name() const = 0;
    virtual bool handles(AgentEvent e) const = 0;
    // An anti-spam agent is skipped for allow-listed sessions and after SkipOtherAgents.
    virtual bool anti_spam() const { return true; }
    // False for relay control: Disable-TransportAgent refuses it (an open relay is
    // never one command away).
    virtual bool can_disable() const { return true; }
    // An agent with I/O answers through pipeline_async.hpp (AsyncAgent), within timeout().
    virtual bool is_async() const { return false; }
    // Whether its answer at `e` needs I/O (asked beforehand by pipeline_async.hpp); an
    // async agent whose answer at some event is pure answers there through on_event,
    // so those commands cost no timer and no coroutine.
    virtual bool is_async_at(AgentEvent) const { return is_async(); }
    virtual std::chrono::milliseconds timeout() const { return std::chrono::seconds(0); }
    virtual TimeoutAction timeout_action() const { return TimeoutAction::TempFail; }
    // A synchronous agent's answer. Not called for async agents.
    virtual Verdict on_event(AgentEvent e, const SessionInfo& session, const Envelope& envelope) const = 0;
};

// Set-TransportAgent / Enable- / Disable-TransportAgent, and the agent's own
// configuration's ExternalMailEnabled / InternalMailEnabled.
struct AgentSettings {
    bool enabled = true;
    int priority = 1;                    // 1 runs first; relay control is 0, before every other
    bool external_mail_enabled = true;   // anonymous (internet) sessions
    bool internal_mail_enabled = false;  // hubs and partners (Exchange's default for anti-spam agents)
};

// What the agents changed of the current message so far (every MessageEdit applied in
// order): acceptance commits this in place of what the client sent.
struct MessageChanges {
    std::shared_ptr<const std::vector<std::string>> message;  // null: the message as received
    std::vector<HeaderField> headers;                         // with `message`
    std::optional<std::string> sender;
    std::optional<std::vector<std::string>> recipients;  // the whole recipient list, once changed
    std::string redirected_to;                           // the quarantine mailbox, once redirected
    std::vector<std::string> original_recipients;        // with `redirected_to`: whom the message was for
    std::string rewritten_recipient;                     // OnRcptCommand: the current RCPT's new address
    bool any() const { return message || sender || recipients || !redirected_to.empty(); }
};

// Applies `edit` to `changes` and to `view`, what the agents after it see (its message,
// headers, sender and recipients). Idempotent.
void apply_edit(MessageChanges& changes, const MessageEdit& edit, Envelope& view);

// A session's agent state: what agents see, plus what the pipeline keeps for the
// current message. Owned by the SMTP driver, one per connection.
struct AgentSession {
    SessionInfo info;
    bool message_bypassed = false;               // SkipOtherAgents for the current message
    std::vector<HeaderField> stamped_headers;    // Stamp verdicts for the current message: acceptance adds them
    std::map<std::string, Verdict, std::less<>> async_answers;  // async agents' answers for the coming event
    std::chrono::milliseconds pending_delay{0};  // Tarpit verdicts not yet waited (the driver takes it)
    MessageChanges changes;                      // MessageEdit verdicts for the current message
    // MAIL (and RSET, EHLO) start a new message: its bypass, stamps and changes end.
    void new_message() {
        message_bypassed = false;
        stamped_headers.clear();
        changes = {};
        std::erase_if(info.properties, [](const auto& p) { return p.first.starts_with(kMessagePropertyPrefix); });
    }
};

// Where verdicts that are not Continue are told (the agent log; a fake in tests).
struct VerdictRecord {
    AgentEvent event;
    std::string_view agent;
    const Verdict& verdict;
    const SessionInfo& session;
    const Envelope& envelope;
    std::string smtp_response;  // the reply line for Reject / Disconnect / TempFail, else empty
};
class VerdictSink {
public:
    virtual ~VerdictSink() = default;
    virtual void record(const VerdictRecord& r) = 0;
};

// What the verdicts of one event add up to.
struct Decision {
    std::optional<smtp::AgentReply> reply;  // refuse (or, when the reply closes, disconnect) with this
    std::string agent;                   // who decided `reply`
    std::chrono::milliseconds delay{0};  // Tarpit verdicts, summed
    bool delete_message = false;         // a Delete verdict: 250, then discard (`agent` says whose)
};

// The verdict of an async agent that did not answer in its time (or failed): its
// TimeoutAction as a verdict, marked timed_out, so the agent log says so.
Verdict timeout_verdict(const Agent& agent);

class Pipeline {
public:
    struct Entry {
        std::shared_ptr<const Agent> agent;
        AgentSettings settings;
    };
    // Ordered by priority; equal priorities keep the order given (Exchange's default order).
    explicit Pipeline(std::vector<Entry> entries);
    const std::vector<Entry>& entries() const { return entries_; }
    const Entry* find(std::string_view name) const;  // case-insensitive

    // Whether `entry` runs at `e` for this session and message, now: enabled, the
    // event is its, external/internal mail enabled, and — for anti-spam agents — the
    // session is not allow-listed and the message not bypassed.
    static bool runs(const Entry& entry, AgentEvent e, const AgentSession& s);
    // Any async agent that would run at `e` (the driver gathers their answers first).
    bool has_async(AgentEvent e, const AgentSession& s) const;
    bool any_async() const { return any_async_; }
    // Any agent that would run at `e` now: what a caller need not prepare for otherwise.
    bool any_runs(AgentEvent e, const AgentSession& s) const {
        for (const auto& en : entries_)
            if (runs(en, e, s)) return true;
        return false;
    }

    // Runs the event: each agent that runs, in order; an async agent's answer is taken
    // from s.async_answers (consumed; missing = timeout_verdict). Verdicts that are not
    // Continue go to `sink`. Stamps and properties are applied to `s`; delays are summed
    // into the decision and s.pending_delay; the first Reject or Disconnect ends the run;
    // SkipOtherAgents bypasses the anti-spam agents for the rest of the message (this
    // event's included: only agents that are not anti-spam, relay control, still run).
    Decision run(AgentEvent e, AgentSession& s, const Envelope& envelope, VerdictSink* sink) const;

private:
    std::vector<Entry> entries_;
    bool any_async_ = false;
};

}  // namespace edge::agents
