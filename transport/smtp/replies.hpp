// The reply catalogue: every SMTP reply the server sends, once, with its code,
// enhanced status code (RFC 3463), text, whether it closes the connection, and its
// class (what the session does about it: count a protocol error, tarpit, …).
// Texts follow Exchange 2007 where they are known (reference §10.2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace edge::smtp {

enum class ReplyId : std::uint16_t {
    ServiceReady,          // 220 a connector's own Banner
    DefaultBanner,         // 220 the banner when the connector sets none
    Closing,               // 221 QUIT
    HelpText,              // 214
    HelloOk,               // 250 EHLO/HELO first line
    EhloKeyword,           // 250 one EHLO extension line ("SIZE 10485760", "PIPELINING", …)
    Ok,                    // 250 NOOP
    Resetting,             // 250 RSET
    SenderOk,              // 250 MAIL
    RecipientOk,           // 250 RCPT
    Queued,                // 250 after DATA / BDAT LAST, once durable
    ChunkReceived,         // 250 BDAT (not last)
    CannotVrfy,            // 252 VRFY answers without revealing anything
    StartMailInput,        // 354 DATA
    ReadyToStartTls,       // 220 STARTTLS
    ServiceNotAvailable,   // 421
    TooManyConnections,    // 421 per-source / total limit
    ConnectionTimedOut,    // 421 ConnectionTimeout / inactivity
    TooManyErrors,         // 421 MaxProtocolErrors
    InsufficientResources, // 452 back pressure
    TooManyRecipients,     // 452 MaxRecipientsPerMessage
    QueueWriteFailed,      // 451 the commit failed
    TlsNotAvailable,       // 454
    CommandUnrecognized,   // 500
    LineTooLong,           // 500
    InvalidArguments,      // 501
    InvalidDomain,         // 501 EHLO/HELO argument
    InvalidRecipient,      // 501 RCPT syntax
    CommandNotImplemented, // 502
    SendHelloFirst,        // 503
    NeedMail,              // 503
    NeedRcpt,              // 503
    SenderAlreadyGiven,    // 503
    BadSequence,           // 503
    StartTlsFirst,         // 530 RequireTLS
    NotAuthenticated,      // 530 no Submit right
    UserUnknown,           // 550 recipient filtering
    UnableToRelay,         // 550 relay control
    InvalidSender,         // 550 MAIL syntax
    BareLineEnding,        // 550 bare CR or LF in DATA (SMTP smuggling)
    MessageTooBig,         // 552 SIZE / streaming
    HeaderTooBig,          // 552 MaxHeaderSize
    Utf8NeedsSmtpUtf8,     // 553 RFC 6531
    HopCountExceeded,      // 554 MaxHopCount
    ParameterUnsupported,  // 555 unknown MAIL/RCPT parameter (names it)
    // Issue 13: addresses and parameters.
    InvalidAddress,    // 501 5.1.3 domain not a domain name / control byte in a path
    InvalidParameter,  // 501 5.5.4 a MAIL/RCPT parameter's value refused (names it)
    // Issue 16: transport agents (transport/agents).
    AgentRejected,          // 550 5.7.1 an agent refused the command or message
    AgentDisconnect,        // 421 4.7.0 an agent ended the session
    AgentTemporaryFailure,  // 451 4.7.0 an agent did not answer in its time (TimeoutAction TempFail)
    // Issue 17: the anti-spam agents at the door.
    IpBlocked,  // 550 5.7.1 <the IP Block list's or the provider's RejectionResponse>
    IpBlockedDisconnect,  // 554 5.7.1 a blocked client's every RCPT was refused: the session ends at DATA
    SenderDenied,           // 554 5.1.0 the Sender Filter Agent (Action Reject)
    TalkedBeforeGreeting,   // 554 5.5.1 the pre-greet test: the client spoke before the banner
    // Issue 18: who really sent it.
    SpfFail,       // 550 5.7.23 <the domain's explanation, or ours> (RFC 7372)
    SpfTempError,  // 451 4.7.24 SPF could not be evaluated now (RFC 7372): the client retries
    DmarcRejected, // 550 5.7.1 the From: domain's DMARC policy is reject and the message failed
    DmarcBadFrom,  // 550 5.7.1 not exactly one From: author domain (RFC 7489 §6.6.1)
    // Issue 19: a milter refused the message. With an AgentReply text, that text is the
    // milter's own whole reply ("554 5.7.1 Gtube pattern", validated 5xx / 4xx).
    MilterRejected,    // 550 5.7.1 a milter's reject (or its DefaultAction Reject)
    MilterTempFailed,  // 451 4.7.1 a milter's tempfail (or its DefaultAction TempFail)
    // Issue 19: the Attachment Filtering Agent.
    AttachmentRejected,  // 550 5.7.1 <RejectResponse> (Action Reject)
    MimeTooComplex,      // 554 5.6.0 more MIME parts or levels than the walk reads (a MIME bomb)
    // Issue 19: the message's content.
    ContentFilterRejected,  // 550 5.7.1 <Set-ContentFilterConfig -RejectionResponse>: the SCL reached SCLRejectThreshold
    // Issue 20: Domain Security (TLSReceiveDomainSecureList on a DomainSecureEnabled connector).
    DomainSecureRequired,  // 450 4.7.1 mail from a Domain Security partner without mutual TLS proving its domain
};
// Whether `id`'s AgentReply text is a whole reply line of its own code class (a milter's).
constexpr bool reply_is_peers_own(ReplyId id) { return id == ReplyId::MilterRejected || id == ReplyId::MilterTempFailed; }

// What a reply means to the session.
enum class ReplyClass : std::uint8_t {
    Positive,  // 2xx/3xx
    Protocol,  // the client broke the protocol: counts toward MaxProtocolErrors
    Policy,    // refused by policy: tarpitted for anonymous sessions
    Limit,     // a configured limit was reached
    Resource,  // our resources: try again later
    Fatal,     // the session ends
};

struct ReplyEntry {
    ReplyId id;
    std::uint16_t code;
    std::string_view enhanced;  // empty where Exchange sends none (220, 354)
    std::string_view text;      // "{}" marks an argument
    bool closes;                // the server closes the connection after sending it
    ReplyClass kind;
};

std::span<const ReplyEntry> reply_catalogue();
const ReplyEntry& reply_entry(ReplyId id);

// One reply line without CRLF: "<code> <enhanced> <text>", the "{}" in the text
// replaced by `args` in order. `enhanced` false drops the enhanced code (a connector
// with EnhancedStatusCodesEnabled $false). `more` makes it a continuation line
// ("250-…") of a multi-line reply. Every argument goes through
// append_reply_argument(), and the line is cut at kMaxSentReplyLine.
std::string render(ReplyId id, std::initializer_list<std::string_view> args = {}, bool enhanced = true,
                   bool more = false);

// A reply an agent chose: a catalogue entry and, for an entry whose text is "{}", the
// text an administrator configured (an IP Block list's RejectionResponse). Empty
// `text`: the entry as catalogued.
struct AgentReply {
    ReplyId id{};
    std::string text;
    // Which reply it is (the text aside): what tests and callers compare.
    friend bool operator==(const AgentReply& r, ReplyId id) { return r.id == id; }
};
std::string render(const AgentReply& r, bool enhanced = true);

// Longest argument echoed into a reply; longer ones end in "...". Room for any real
// Message-ID (RFC 5322 §2.1.1 lines of 78) or domain name (255), not for a flood.
inline constexpr std::size_t kMaxReplyArgument = 255;
// RFC 5321 §4.5.3.1.5: 512 octets with the CRLF (what we send; reply_reader.hpp's
// kMaxReplyLine is the longer line we accept from a peer).
inline constexpr std::size_t kMaxSentReplyLine = 510;

// Appends `arg` to a reply: CR and LF dropped, other control bytes (C0, DEL) and
// bytes >= 0x80 written as '?', at most kMaxReplyArgument characters (then "...").
void append_reply_argument(std::string& out, std::string_view arg);

}  // namespace edge::smtp
