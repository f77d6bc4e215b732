// The Sendmail milter protocol, version 6, as Postfix's smtpd_milters speaks it — the
// MTA's side, pure: packet framing (bounded), option negotiation, macros, the
// commands of one message's conversation and every reply and modification a milter
// may give. No sockets and no clocks: milter_client.* drives a Conversation over a
// connection; fuzz_milter feeds it arbitrary replies.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edge::milter {

inline constexpr std::uint32_t kProtocolVersion = 6;
// libmilter's MILTER_CHUNK_SIZE: the largest body chunk sent (and Sendmail's data limit).
inline constexpr std::size_t kBodyChunk = 65535;
// The largest packet accepted from a milter. libmilter's data limit is 64 KB unless
// SMFIP_MDS_256K / _1M were negotiated (we offer neither); a replacement body comes
// in many packets. Anything longer is refused before any byte of it is buffered.
inline constexpr std::uint32_t kMaxPacket = kBodyChunk + 1024;

// Commands (MTA → milter), SMFIC_*.
namespace cmd {
inline constexpr char kAbort = 'A', kBody = 'B', kConnect = 'C', kMacro = 'D', kEndOfBody = 'E', kHelo = 'H',
                      kQuitNc = 'K', kHeader = 'L', kMail = 'M', kEndOfHeaders = 'N', kOptNeg = 'O', kQuit = 'Q',
                      kRcpt = 'R', kData = 'T';
}
// Replies and actions (milter → MTA), SMFIR_*.
namespace reply {
inline constexpr char kAddRcpt = '+', kDelRcpt = '-', kAddRcptPar = '2', kShutdown = '4', kAccept = 'a',
                      kReplaceBody = 'b', kContinue = 'c', kDiscard = 'd', kChangeFrom = 'e', kConnFail = 'f',
                      kAddHeader = 'h', kInsertHeader = 'i', kChangeHeader = 'm', kProgress = 'p', kQuarantine = 'q',
                      kReject = 'r', kSkip = 's', kTempFail = 't', kReplyCode = 'y', kOptNeg = 'O';
}
// Actions a milter may take at end of message (SMFIF_*): what we offer.
namespace action {
inline constexpr std::uint32_t kAddHeaders = 0x01, kChangeBody = 0x02, kAddRcpt = 0x04, kDelRcpt = 0x08,
                               kChangeHeaders = 0x10, kQuarantine = 0x20, kChangeFrom = 0x40, kAddRcptPar = 0x80,
                               kSetSymList = 0x100;
inline constexpr std::uint32_t kAll = 0x1ff;
}  // namespace action
// Protocol flags (SMFIP_*): steps a milter does not want (NO*) or will not answer (NR_*).
namespace proto {
inline constexpr std::uint32_t kNoConnect = 0x1, kNoHelo = 0x2, kNoMail = 0x4, kNoRcpt = 0x8, kNoBody = 0x10,
                               kNoHeaders = 0x20, kNoEndOfHeaders = 0x40, kNoReplyHeader = 0x80, kNoUnknown = 0x100,
                               kNoData = 0x200, kSkip = 0x400, kRcptRejected = 0x800, kNoReplyConnect = 0x1000,
                               kNoReplyHelo = 0x2000, kNoReplyMail = 0x4000, kNoReplyRcpt = 0x8000,
                               kNoReplyData = 0x10000, kNoReplyUnknown = 0x20000, kNoReplyEndOfHeaders = 0x40000,
                               kNoReplyBody = 0x80000, kHeaderLeadingSpace = 0x100000;
// What we offer: every "do not send" and "no reply" bit and SKIP. Not RCPT_REJ (we
// never send refused recipients), not HDR_LEADSPC, not the larger data sizes.
inline constexpr std::uint32_t kOffered = 0x1ff | kNoData | kSkip | kNoReplyConnect | kNoReplyHelo | kNoReplyMail |
                                          kNoReplyRcpt | kNoReplyData | kNoReplyUnknown | kNoReplyEndOfHeaders |
                                          kNoReplyBody;
}  // namespace proto

// The stages a v6 milter may ask macros for (SMFIM_*), in wire order.
enum class Stage : std::uint8_t { Connect = 0, Helo = 1, Mail = 2, Rcpt = 3, Data = 4, EndOfMessage = 5, EndOfHeaders = 6 };
inline constexpr std::size_t kStageCount = 7;

// ---- framing ------------------------------------------------------------------------

struct Packet {
    char code = 0;
    std::string data;
};
// One packet on the wire: 4-byte big-endian length (code + data), code, data.
std::string encode(char code, std::string_view data = {});

// Splits a milter's byte stream into packets. A length of 0 or above kMaxPacket is a
// protocol error found from the 4 length bytes alone, before anything is allocated.
class PacketReader {
public:
    enum class Status : std::uint8_t { NeedMore, Ready, Malformed };
    // Appends received bytes (at most what the current packet still needs is kept;
    // the rest waits in `rest`).
    void feed(std::string_view bytes);
    // The next packet when one is complete.
    Status next(Packet& out);
    std::string_view error() const { return error_; }
    // Bytes still wanted to complete the packet being read (at least 1): how much the
    // driver may read without buffering beyond one packet.
    std::size_t wanted() const;

private:
    std::string buf_;
    std::string error_;
};

// ---- negotiation --------------------------------------------------------------------

struct Options {
    std::uint32_t version = kProtocolVersion;
    std::uint32_t actions = action::kAll;
    std::uint32_t protocol = proto::kOffered;
    // SMFIR_SETSYMLIST: the macros a milter asked for per stage (empty: our defaults).
    std::array<std::optional<std::vector<std::string>>, kStageCount> macros{};
};
std::string encode_optneg(const Options& offered);
// The milter's answer to what we offered: nullopt and `error` when it is malformed or
// asks for what was not offered (a version below 2, an action or flag we do not have).
std::optional<Options> parse_optneg(const Packet& p, const Options& offered, std::string& error);

// ---- one message's conversation -------------------------------------------------------

// What a milter is told about the session and the message.
struct MessageFacts {
    std::string client_addr;  // "192.0.2.1" or "2001:db8::1"; empty: unknown
    std::uint16_t client_port = 0;
    std::string client_name;  // a verified host name, or "[addr]"
    std::string helo;
    std::string sender;                   // the reverse path without <>; "" is the null path
    std::vector<std::string> recipients;  // without <>
    // The header fields as the message has them: name, the raw value after the colon
    // (folding kept, CRLF line ends).
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;  // after the blank line, CRLF line ends
    // Known macro values by name ("j", "{client_addr}", "i", …): sent at the stages
    // Postfix sends them, or those the milter asked for.
    std::map<std::string, std::string, std::less<>> macros;
    std::uint64_t max_message_size = 0;  // a replaced body may not exceed it (0: no limit)
};

// A header change at end of message, in the order the milter sent it.
struct HeaderChange {
    enum class Kind : std::uint8_t { Add, Insert, Change } kind = Kind::Add;
    std::uint32_t index = 0;  // Insert: position (0 = first); Change: n-th field of that name, from 1
    std::string name, value;  // Change with an empty value deletes the field
};
struct Modifications {
    std::vector<HeaderChange> headers;
    std::optional<std::string> body;  // SMFIR_REPLBODY chunks, joined
    std::vector<std::string> add_recipients, remove_recipients;  // without <>
    std::optional<std::string> sender;                           // SMFIR_CHGFROM, without <>
    bool empty() const {
        return headers.empty() && !body && add_recipients.empty() && remove_recipients.empty() && !sender;
    }
};

// How a milter's conversation ended.
enum class Verdict : std::uint8_t {
    Continue,  // answered to the end (continue at end of message) — the message goes on
    Accept,    // SMFIR_ACCEPT: the message goes on, the milter wants no more of it
    Reject,    // SMFIR_REJECT / a 5xx SMFIR_REPLYCODE
    TempFail,  // SMFIR_TEMPFAIL / a 4xx SMFIR_REPLYCODE
    Discard,   // SMFIR_DISCARD: accept, then drop
    Failed,    // the protocol broke (malformed, unknown reply, wrong step, shutdown): DefaultAction
};
std::string_view to_string(Verdict v);

struct Outcome {
    Verdict verdict = Verdict::Continue;
    Stage stage = Stage::Connect;  // where the verdict was given
    std::string reply;             // SMFIR_REPLYCODE, validated: "554 5.7.1 text" (one line)
    std::vector<std::string> rejected_recipients;  // refused at RCPT (without <>)
    std::vector<std::string> tempfailed_recipients;
    std::string quarantine;  // SMFIR_QUARANTINE's reason (the message goes on)
    Modifications modifications;
    std::string error;  // Failed: why
};

// One message, connect to end of message, replayed: optneg, connect, helo, mail,
// rcpt…, data, header…, eoh, body…, eom. Steps the milter said not to send are left
// out; steps it said it will not answer are pipelined with the next. The driver
// writes take_output(), and while awaiting_reply() reads one packet and gives it to
// on_reply(), until done().
class Conversation {
public:
    explicit Conversation(MessageFacts facts, Options offered = {});
    // Bytes to write now (then empty until the next reply).
    std::string take_output();
    bool awaiting_reply() const { return !done_ && awaiting_; }
    bool done() const { return done_; }
    // One packet from the milter.
    void on_reply(const Packet& p);
    // The driver's failure (a timeout, a closed connection): the conversation ends Failed.
    void fail(std::string why);
    const Outcome& outcome() const { return outcome_; }
    const Options& negotiated() const { return negotiated_; }

private:
    enum class Step : std::uint8_t { OptNeg, Connect, Helo, Mail, Rcpt, Data, Header, EndOfHeaders, Body, EndOfBody, Done };
    void advance();                      // emits commands until one needs a reply
    void emit(Step s);                   // the command(s) of step_ (and its macros)
    bool skipped(Step s) const;          // SMFIP_NO*
    bool no_reply(Step s) const;         // SMFIP_NR_*
    void send_macros(Stage stage, char for_cmd);
    void finish(Verdict v);
    void fail_protocol(std::string why);
    bool on_modification(const Packet& p);
    Stage stage_of(Step s) const;

    MessageFacts facts_;
    Options offered_, negotiated_;
    std::string out_;
    Outcome outcome_;
    Step step_ = Step::OptNeg;
    std::size_t index_ = 0;  // recipient, header or body offset within the step
    bool awaiting_ = false, done_ = false;
    bool skip_body_ = false;
    bool recipients_checked_ = false;  // whether every recipient was refused, asked once after RCPT
    std::size_t change_bytes_ = 0;     // what the modifications (but a replaced body) hold
};

// SMFIR_REPLYCODE's text as one reply line "ddd x.y.z text": the code must be 4xx or
// 5xx; a multi-line reply's lines are joined; CR, LF and control bytes removed.
// nullopt when it is not a reply.
std::optional<std::string> validate_reply_code(std::string_view text);

// The header and body after a milter's modifications. `fields` are the message's header
// fields (name, raw value after the colon). Returns the new fields; the body is
// `mods.body` when set.
std::vector<std::pair<std::string, std::string>> apply_header_changes(
    std::vector<std::pair<std::string, std::string>> fields, const std::vector<HeaderChange>& changes);
// Splits a message (header, blank line, body) into raw fields and the body. A message
// without a blank line is all header.
std::pair<std::vector<std::pair<std::string, std::string>>, std::string> split_message(std::string_view message);
// The message again: "Name:value\r\n"… "\r\n" body. A value a milter gave (no leading
// space, LF folding) is written as " value" with CRLF folding.
std::string join_message(const std::vector<std::pair<std::string, std::string>>& fields, std::string_view body);
// A value as the milter sends or gives it → a raw value as the message holds it.
std::string raw_value_of(std::string_view milter_value);
// A raw value → unfolded (what agents see in Envelope::headers).
std::string unfolded_value(std::string_view raw);

}  // namespace edge::milter
