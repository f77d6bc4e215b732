// The one table of reply strings. No other file holds an SMTP reply literal.
#include "replies.hpp"

#include <array>
#include <cstdlib>

namespace edge::smtp {

namespace {
using C = ReplyClass;
// clang-format off
constexpr std::array kCatalogue = {
    ReplyEntry{ReplyId::ServiceReady,          220, "",      "{}",                                                   false, C::Positive},
    ReplyEntry{ReplyId::DefaultBanner,         220, "",      "{} edge-transport ESMTP service ready",               false, C::Positive},
    ReplyEntry{ReplyId::Closing,               221, "2.0.0", "Service closing transmission channel",                 true,  C::Positive},
    ReplyEntry{ReplyId::HelpText,              214, "2.0.0", "This server supports the following commands: HELO EHLO STARTTLS RCPT DATA RSET MAIL QUIT HELP BDAT NOOP VRFY", false, C::Positive},
    ReplyEntry{ReplyId::HelloOk,               250, "",      "{} Hello [{}]",                                        false, C::Positive},
    ReplyEntry{ReplyId::EhloKeyword,           250, "",      "{}",                                                   false, C::Positive},
    ReplyEntry{ReplyId::Ok,                    250, "2.0.0", "OK",                                                   false, C::Positive},
    ReplyEntry{ReplyId::Resetting,             250, "2.0.0", "Resetting",                                            false, C::Positive},
    ReplyEntry{ReplyId::SenderOk,              250, "2.1.0", "Sender OK",                                            false, C::Positive},
    ReplyEntry{ReplyId::RecipientOk,           250, "2.1.5", "Recipient OK",                                         false, C::Positive},
    ReplyEntry{ReplyId::Queued,                250, "2.6.0", "{} Queued mail for delivery",                          false, C::Positive},
    ReplyEntry{ReplyId::ChunkReceived,         250, "2.0.0", "{} octets received",                                   false, C::Positive},
    ReplyEntry{ReplyId::CannotVrfy,            252, "2.1.5", "Cannot VRFY user, but will accept message for delivery", false, C::Positive},
    ReplyEntry{ReplyId::StartMailInput,        354, "",      "Start mail input; end with <CRLF>.<CRLF>",             false, C::Positive},
    ReplyEntry{ReplyId::ReadyToStartTls,       220, "2.0.0", "SMTP server ready",                                    false, C::Positive},
    ReplyEntry{ReplyId::ServiceNotAvailable,   421, "4.3.2", "Service not available, closing transmission channel",  true,  C::Fatal},
    ReplyEntry{ReplyId::TooManyConnections,    421, "4.3.2", "The maximum number of concurrent connections has exceeded a limit, closing transmission channel", true, C::Fatal},
    ReplyEntry{ReplyId::ConnectionTimedOut,    421, "4.4.1", "Connection timed out",                                 true,  C::Fatal},
    ReplyEntry{ReplyId::TooManyErrors,         421, "4.7.0", "Too many errors on this connection, closing transmission channel", true, C::Fatal},
    ReplyEntry{ReplyId::InsufficientResources, 452, "4.3.1", "Insufficient system resources",                        false, C::Resource},
    ReplyEntry{ReplyId::TooManyRecipients,     452, "4.5.3", "Too many recipients",                                  false, C::Limit},
    ReplyEntry{ReplyId::QueueWriteFailed,      451, "4.3.0", "Unable to queue the message; try again later",         false, C::Resource},
    ReplyEntry{ReplyId::TlsNotAvailable,       454, "4.7.0", "TLS not available due to temporary reason",            false, C::Resource},
    ReplyEntry{ReplyId::CommandUnrecognized,   500, "5.3.3", "Unrecognized command",                                 false, C::Protocol},
    ReplyEntry{ReplyId::LineTooLong,           500, "5.5.2", "Line too long",                                        false, C::Protocol},
    ReplyEntry{ReplyId::InvalidArguments,      501, "5.5.4", "Invalid arguments",                                    false, C::Protocol},
    ReplyEntry{ReplyId::InvalidDomain,         501, "5.5.4", "Invalid domain name",                                  false, C::Protocol},
    ReplyEntry{ReplyId::InvalidRecipient,      501, "5.1.3", "Invalid recipient address",                            false, C::Protocol},
    ReplyEntry{ReplyId::CommandNotImplemented, 502, "5.5.1", "Command not implemented",                              false, C::Protocol},
    ReplyEntry{ReplyId::SendHelloFirst,        503, "5.5.2", "Send hello first",                                     false, C::Protocol},
    ReplyEntry{ReplyId::NeedMail,              503, "5.5.2", "Need mail command",                                    false, C::Protocol},
    ReplyEntry{ReplyId::NeedRcpt,              503, "5.5.2", "Need rcpt command",                                    false, C::Protocol},
    ReplyEntry{ReplyId::SenderAlreadyGiven,    503, "5.5.2", "Sender already specified",                             false, C::Protocol},
    ReplyEntry{ReplyId::BadSequence,           503, "5.5.1", "Bad sequence of commands",                             false, C::Protocol},
    ReplyEntry{ReplyId::StartTlsFirst,         530, "5.7.0", "Must issue a STARTTLS command first",                  false, C::Policy},
    ReplyEntry{ReplyId::NotAuthenticated,      530, "5.7.1", "Client was not authenticated",                         false, C::Policy},
    ReplyEntry{ReplyId::UserUnknown,           550, "5.1.1", "User unknown",                                         false, C::Policy},
    ReplyEntry{ReplyId::UnableToRelay,         550, "5.7.1", "Unable to relay",                                      false, C::Policy},
    ReplyEntry{ReplyId::InvalidSender,         550, "5.1.7", "Invalid address",                                      false, C::Protocol},
    // RFC 5321 §2.3.8, CVE-2023-51764: only CRLF ends a line, only CRLF.CRLF ends DATA.
    ReplyEntry{ReplyId::BareLineEnding,        550, "5.6.0", "Message contains a bare CR or LF; lines must end with CRLF", false, C::Protocol},
    ReplyEntry{ReplyId::MessageTooBig,         552, "5.3.4", "Message size exceeds fixed maximum message size",     false, C::Limit},
    ReplyEntry{ReplyId::HeaderTooBig,          552, "5.3.4", "Header size exceeds fixed maximum size",              false, C::Limit},
    ReplyEntry{ReplyId::Utf8NeedsSmtpUtf8,     553, "5.6.7", "Non-ASCII addresses require the SMTPUTF8 parameter",   false, C::Protocol},
    ReplyEntry{ReplyId::HopCountExceeded,      554, "5.4.6", "Hop count exceeded - possible mail loop",             false, C::Limit},
    ReplyEntry{ReplyId::ParameterUnsupported,  555, "5.5.4", "Unsupported parameter {}",                             false, C::Protocol},
    // Issue 13 (addresses compared as addresses, parameters named): a domain that is not
    // a domain name or address literal, or a path with a control byte; a refused
    // MAIL/RCPT parameter names itself ("Invalid ORCPT parameter").
    ReplyEntry{ReplyId::InvalidAddress,        501, "5.1.3", "Invalid address",                                      false, C::Protocol},
    ReplyEntry{ReplyId::InvalidParameter,      501, "5.5.4", "Invalid {} parameter",                                 false, C::Protocol},
    // Issue 16: what transport agents answer with when no more specific entry fits.
    ReplyEntry{ReplyId::AgentRejected,         550, "5.7.1", "Rejected by policy",                                   false, C::Policy},
    ReplyEntry{ReplyId::AgentDisconnect,       421, "4.7.0", "Connection closed by policy",                          true,  C::Fatal},
    ReplyEntry{ReplyId::AgentTemporaryFailure, 451, "4.7.0", "Temporary server error, please try again later",      false, C::Resource},
    // The text is the administrator's (StaticEntryRejectionResponse, a provider's RejectionResponse).
    ReplyEntry{ReplyId::IpBlocked,             550, "5.7.1", "{}",                                                   false, C::Policy},
    // The Connection Filtering Agent ends a blocked client's session once its RCPTs are
    // all refused (Exchange: "after all RCPT TO commands are processed"); 5xx, as
    // retrying from the same address would meet the same list.
    ReplyEntry{ReplyId::IpBlockedDisconnect,   554, "5.7.1", "Client IP address is blocked, closing connection",    true,  C::Fatal},
    // Issue 17. Exchange's Sender Filter text; the session closes after it (reference §9.4).
    ReplyEntry{ReplyId::SenderDenied,          554, "5.1.0", "Sender Denied",                                        true,  C::Policy},
    // The pre-greet test (postscreen's pregreet): said in place of the banner, RFC 5321
    // §3.1's 554 "no SMTP service here" opening; the client broke §4.3.1 by not waiting.
    ReplyEntry{ReplyId::TalkedBeforeGreeting,  554, "5.5.1", "Protocol error: talked before the greeting",           true,  C::Policy},
    // Issue 18. RFC 7372's codes for SPF: 5.7.23 a failed check (the text is the domain's
    // exp= explanation or ours), 4.7.24 an evaluation error (TempErrorAction Reject).
    ReplyEntry{ReplyId::SpfFail,               550, "5.7.23", "{}",                                                  false, C::Policy},
    ReplyEntry{ReplyId::SpfTempError,          451, "4.7.24", "SPF validation error, please try again later",       false, C::Resource},
    // RFC 7489 §6.7 / §10.3: a DMARC reject is a 5xx at the end of data.
    ReplyEntry{ReplyId::DmarcRejected,         550, "5.7.1", "Email rejected per DMARC policy for {}",               false, C::Policy},
    ReplyEntry{ReplyId::DmarcBadFrom,          550, "5.7.1", "Message must have exactly one From: author domain (RFC 7489 6.6.1)", false, C::Policy},
    // Issue 19, Postfix's words for a milter's reject and tempfail without a reply of its
    // own (and for DefaultAction Reject / TempFail).
    ReplyEntry{ReplyId::MilterRejected,        550, "5.7.1", "Command rejected",                                     false, C::Policy},
    ReplyEntry{ReplyId::MilterTempFailed,      451, "4.7.1", "Service unavailable - try again later",               false, C::Resource},
    // Issue 19. Exchange's default RejectResponse is "Message rejected due to unacceptable
    // attachments" (Set-AttachmentFilterListConfig); the text is the administrator's.
    ReplyEntry{ReplyId::AttachmentRejected,    550, "5.7.1", "{}",                                                   false, C::Policy},
    // RFC 3463 5.6.0 (other media error): the structure itself is refused, so 5xx — sending
    // it again meets the same limits.
    ReplyEntry{ReplyId::MimeTooComplex,        554, "5.6.0", "Message has more MIME parts or nesting levels than this server reads", false, C::Policy},
    // Issue 19, reference §9.2: Exchange 2007 answered "550 5.7.1 Message rejected as spam by
    // Content Filtering" (the RejectionResponse default) at the end of data.
    ReplyEntry{ReplyId::ContentFilterRejected, 550, "5.7.1", "{}",                                                   false, C::Policy},
    // Issue 20, Domain Security: temporary (4.7.1, RFC 3463 "delivery not authorized"), so a
    // partner whose certificate lapsed or whose TLS broke keeps its mail queued and retries
    // once it is fixed, as Exchange's own Domain Security queues rather than bounces; a forger
    // gains nothing by retrying. The argument says what was missing.
    ReplyEntry{ReplyId::DomainSecureRequired,  450, "4.7.1", "Domain Security: {}",                                 false, C::Policy},
};
// clang-format on

// The table is indexed by ReplyId: a test checks that entry i has id i.
static_assert(kCatalogue.size() == static_cast<std::size_t>(ReplyId::DomainSecureRequired) + 1);
}  // namespace

std::span<const ReplyEntry> reply_catalogue() { return kCatalogue; }

const ReplyEntry& reply_entry(ReplyId id) { return kCatalogue.at(static_cast<std::size_t>(id)); }

std::string render(ReplyId id, std::initializer_list<std::string_view> args, bool enhanced, bool more) {
    const ReplyEntry& e = reply_entry(id);
    std::string out = std::to_string(e.code);
    out.push_back(more ? '-' : ' ');
    if (enhanced && !e.enhanced.empty()) {
        out.append(e.enhanced);
        out.push_back(' ');
    }
    const std::string_view* arg = args.begin();
    for (std::size_t i = 0; i < e.text.size(); ++i) {
        if (e.text[i] == '{' && i + 1 < e.text.size() && e.text[i + 1] == '}') {
            if (arg != args.end()) {
                append_reply_argument(out, *arg);
                ++arg;
            }
            ++i;
            continue;
        }
        out.push_back(e.text[i]);
    }
    // RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets with its CRLF.
    if (out.size() > kMaxSentReplyLine) out.resize(kMaxSentReplyLine);
    return out;
}

std::string render(const AgentReply& r, bool enhanced) {
    // A milter's own reply, already one line "ddd[ x.y.z] text": kept when its code is of
    // the entry's class (a 5xx for a reject, a 4xx for a tempfail), through the argument filter.
    if (reply_is_peers_own(r.id) && r.text.size() >= 3 && r.text[0] == '0' + reply_entry(r.id).code / 100) {
        std::string out;
        append_reply_argument(out, r.text);
        if (!enhanced && out.size() > 4 && out[3] == ' ' && (out[4] == '4' || out[4] == '5') && out.find(' ', 4) != std::string::npos)
            out.erase(4, out.find(' ', 4) - 3);
        return out;
    }
    if (reply_is_peers_own(r.id)) return render(r.id, {}, enhanced);
    // An entry that is all argument never goes out empty.
    if (r.text.empty() && reply_entry(r.id).text == "{}") return render(r.id, {reply_entry(ReplyId::AgentRejected).text}, enhanced);
    return render(r.id, {r.text}, enhanced);
}

// Everything an argument may carry (a client's Message-ID, a HELO name, an
// administrator's Banner) goes through here, so no caller can forget it: CR and LF
// are dropped (nothing splits a reply), other control bytes and non-ASCII bytes
// become '?' (a reply is ASCII, RFC 5321 §4.2, and a terminal reading a transcript
// must not see ESC sequences), and the argument is cut at kMaxReplyArgument with
// "..." (a 3,000-character Message-ID is not echoed whole).
void append_reply_argument(std::string& out, std::string_view arg) {
    std::size_t kept = 0;
    for (char ch : arg) {
        auto c = static_cast<unsigned char>(ch);
        if (c == '\r' || c == '\n') continue;
        if (kept == kMaxReplyArgument) {
            out.append("...");
            return;
        }
        out.push_back(c < 0x20 || c >= 0x7f ? '?' : ch);
        ++kept;
    }
}

}  // namespace edge::smtp
