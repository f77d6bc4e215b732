// The DSN builder: text made safe for 7-bit headers and fields, the three parts of
// the report, and the envelope around them. No I/O.
#include "dsn.hpp"

#include "client_session.hpp"
#include "text_helpers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>

namespace edge::send {

namespace {

constexpr std::size_t kMaxLine = 998;        // RFC 5322 §2.1.1, without the CRLF
constexpr std::size_t kMaxText = 990;        // what a folded line may hold; leaves room
constexpr std::size_t kFoldWidth = 76;       // where folding starts when spaces allow
constexpr std::size_t kMaxPeerText = 1000;   // a remote reply is cut here
constexpr std::size_t kMaxSubject = 900;

bool is_printable(unsigned char c) { return c >= 0x20 && c < 0x7F; }

bool all_printable(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return is_printable(static_cast<unsigned char>(c)); });
}

// Text a remote peer wrote (a reply, a host name), made safe for a 7-bit field: CR,
// LF and TAB become spaces (a multi-line reply becomes one line), every other
// control and 8-bit octet '?', runs of spaces one space; cut at `max` octets.
std::string peer_text(std::string_view in, std::size_t max = kMaxPeerText) {
    std::string out;
    out.reserve(std::min(in.size(), max));
    for (char ch : in) {
        auto c = static_cast<unsigned char>(ch);
        char put = c == '\r' || c == '\n' || c == '\t' ? ' ' : is_printable(c) ? ch : '?';
        if (put == ' ' && (out.empty() || out.back() == ' ')) continue;
        out += put;
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    if (out.size() > max) {
        out.resize(max - 3);
        out += "...";
    }
    return out;
}

// Appends `lead` + `text` as CRLF lines: a new line (starting with `indent`) before a
// word that would pass kFoldWidth, and a word too long for any line cut at kMaxText.
// For a header field, `indent` is " " and unfolding gives the text back (RFC 5322
// §2.2.3); `text` must hold no CR or LF and single spaces only.
void append_folded(std::string& out, std::string_view lead, std::string_view text, std::string_view indent = " ") {
    std::string line(lead);
    bool has_word = false;
    auto end_line = [&] {
        out += line;
        out += "\r\n";
        line.assign(indent);
        has_word = false;
    };
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t space = text.find(' ', pos);
        std::string_view word = text.substr(pos, space == std::string_view::npos ? std::string_view::npos : space - pos);
        pos = space == std::string_view::npos ? text.size() : space + 1;
        if (word.empty()) continue;
        if (has_word && line.size() + 1 + word.size() > kFoldWidth) end_line();
        if (has_word) line += ' ';
        while (line.size() + word.size() > kMaxText) {
            const std::size_t take = kMaxText - line.size();
            line.append(word.substr(0, take));
            word.remove_prefix(take);
            end_line();
        }
        line.append(word);
        has_word = true;
    }
    out += line;
    out += "\r\n";
}

// --- UTF-8, for addresses and subjects that hold 8-bit octets ---

std::vector<char32_t> decode_utf8(std::string_view s) {
    std::vector<char32_t> out;
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        char32_t cp = n == 1 ? c : n == 2 ? (c & 0x1Fu) : n == 3 ? (c & 0x0Fu) : (c & 0x07u);
        bool ok = n != 0 && i + n <= s.size();
        for (std::size_t k = 1; ok && k < n; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            ok = (cc & 0xC0) == 0x80;
            cp = (cp << 6) | (cc & 0x3Fu);
        }
        // Overlong forms, surrogates and values past U+10FFFF are invalid too.
        static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
        if (ok && (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) ok = false;
        if (!ok) {
            out.push_back(0xFFFD);
            ++i;
            continue;
        }
        out.push_back(cp);
        i += n;
    }
    return out;
}

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// RFC 2047 encoded-words (UTF-8, B), each at most 75 characters (45 octets of text,
// never splitting a character), separated by spaces, which decoders drop between
// two encoded-words.
std::string encoded_words(std::string_view text) {
    std::string utf8;
    for (char32_t cp : decode_utf8(text)) append_utf8(utf8, cp);
    std::string out;
    std::size_t i = 0;
    while (i < utf8.size()) {
        std::size_t n = std::min<std::size_t>(45, utf8.size() - i);
        while (i + n < utf8.size() && (static_cast<unsigned char>(utf8[i + n]) & 0xC0) == 0x80) --n;
        if (!out.empty()) out += ' ';
        out += "=?UTF-8?B?" + text::base64(std::string_view(utf8).substr(i, n)) + "?=";
        i += n;
    }
    return out;
}

// An address as a DSN address field value (RFC 3464 §2.3.2): "rfc822; addr" when it
// is printable ASCII, otherwise RFC 6533's "utf-8; " with every character that is
// not a QCHAR written \x{HEX}, which keeps the field 7-bit.
std::string address_field(std::string_view address) {
    if (all_printable(address)) return fmt::format("rfc822; {}", address);
    std::string out = "utf-8; ";
    for (char32_t cp : decode_utf8(address)) {
        const bool qchar = cp >= 0x21 && cp <= 0x7E && cp != '+' && cp != '=' && cp != '\\';
        if (qchar) {
            out += static_cast<char>(cp);
        } else {
            out += fmt::format("\\x{{{:X}}}", static_cast<std::uint32_t>(cp));
        }
    }
    return out;
}

// The same address for the human-readable part (7-bit).
std::string address_text(std::string_view address) {
    if (all_printable(address)) return std::string(address);
    return address_field(address).substr(7);  // without "utf-8; "
}

// The address for the To: header: as it is when it is printable ASCII or valid UTF-8
// without controls (an SMTPUTF8 sender, RFC 6532: the notice then needs SMTPUTF8 on
// its way back, as the original did); otherwise the 7-bit form.
std::string header_address(std::string_view address) {
    std::string utf8;
    bool controls = false;
    for (char32_t cp : decode_utf8(address)) {
        controls = controls || cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0);
        append_utf8(utf8, cp);
    }
    if (!controls && utf8 == address) return utf8;
    return address_text(address);
}

// RFC 3461 §6.3 wants ENVID and ORCPT back xtext-decoded; when the decoded text would
// not be printable ASCII (a "+0D+0A" in it), the xtext itself is kept, and when even
// that is not printable the field is left out.
std::optional<std::string> printable_xtext(std::string_view xtext) {
    if (auto decoded = smtp::xtext_decode(xtext); decoded && !decoded->empty() && all_printable(*decoded)) return *decoded;
    if (!xtext.empty() && all_printable(xtext)) return std::string(xtext);
    return std::nullopt;
}

// "rfc822;a+2Bb@x" (as MAIL/RCPT gave it) → "rfc822; a+b@x".
std::optional<std::string> original_recipient(std::string_view orcpt) {
    const auto semi = orcpt.find(';');
    if (semi == std::string_view::npos || semi == 0) return std::nullopt;
    std::string_view type = orcpt.substr(0, semi), value = orcpt.substr(semi + 1);
    while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (type.empty() || type.find(' ') != std::string_view::npos || !all_printable(type)) return std::nullopt;
    auto v = printable_xtext(value);
    if (!v) return std::nullopt;
    return fmt::format("{}; {}", type, *v);
}

// RFC 3463: class "." subject "." detail, 1-3 digits each, class 2, 4 or 5.
bool valid_status(std::string_view s) {
    if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return false;
    std::size_t i = 2;
    for (int part = 0; part < 2; ++part) {
        std::size_t digits = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            ++i;
            ++digits;
        }
        if (digits == 0 || digits > 3) return false;
        if (part == 0) {
            if (i >= s.size() || s[i] != '.') return false;
            ++i;
        }
    }
    return i == s.size();
}

// "550 5.1.1 …", "451-…", "421": an SMTP reply, so Diagnostic-Code type smtp.
bool starts_with_reply_code(std::string_view s) {
    if (s.size() < 3 || s[0] < '2' || s[0] > '5') return false;
    if (s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9') return false;
    return s.size() == 3 || s[3] == ' ' || s[3] == '-';
}

bool is_set(queue::Timestamp t) { return t.time_since_epoch().count() != 0; }

// A host name or domain of ours (configuration) or a peer's, for a field: printable,
// no spaces.
std::string host_text(std::string_view s) {
    std::string out = peer_text(s, 255);
    std::replace(out.begin(), out.end(), ' ', '?');
    return out;
}

std::uint64_t mix(std::uint64_t x) {  // splitmix64's finaliser
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

std::uint64_t fnv1a(std::uint64_t h, std::string_view s) {
    for (char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001B3ull;
    }
    return h;
}

// RFC 5322 §2.1: the header block ends at the first empty line. Returned with its
// last line end, without the empty line; the whole text when there is no body.
std::string_view header_block(std::string_view message) {
    std::size_t pos = 0;
    while (pos < message.size()) {
        if (message[pos] == '\n' || (message[pos] == '\r' && pos + 1 < message.size() && message[pos + 1] == '\n'))
            return message.substr(0, pos);
        const std::size_t nl = message.find('\n', pos);
        if (nl == std::string_view::npos) return message;
        pos = nl + 1;
    }
    return message;
}

std::size_t longest_line(std::string_view text) {
    std::size_t longest = 0, pos = 0;
    while (pos < text.size()) {
        std::size_t nl = text.find('\n', pos);
        std::size_t end = nl == std::string_view::npos ? text.size() : nl;
        std::size_t len = end - pos;
        if (len > 0 && text[end - 1] == '\r') --len;
        longest = std::max(longest, len);
        pos = end + 1;
    }
    return longest;
}

// Appends the original's text with CRLF line ends (RFC 2045 §2.10: no bare CR or LF
// in 7bit or 8bit data): a bare LF ends a line, a bare CR becomes a space, a line
// longer than kMaxLine is cut there, and a last line without an end gets one.
void append_as_crlf_lines(std::string& out, std::string_view text) {
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t nl = text.find('\n', pos);
        std::size_t end = nl == std::string_view::npos ? text.size() : nl;
        std::string_view line = text.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        line = line.substr(0, kMaxLine);
        const std::size_t at = out.size();
        out.append(line);
        std::replace(out.begin() + static_cast<std::ptrdiff_t>(at), out.end(), '\r', ' ');
        out += "\r\n";
        pos = end + 1;
    }
}

bool has_8bit(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

// The original's Message-ID, when it is one plain <…> token worth repeating.
std::optional<std::string> plain_message_id(std::string_view id) {
    if (id.size() < 3 || id.size() > 250 || id.front() != '<' || id.back() != '>') return std::nullopt;
    std::string_view inner = id.substr(1, id.size() - 2);
    if (inner.find_first_of("<> ") != std::string_view::npos || !all_printable(inner)) return std::nullopt;
    return std::string(id);
}

const char* action_of(DsnKind kind) {
    switch (kind) {
        case DsnKind::Failure: return "failed";
        case DsnKind::Delay: return "delayed";
        case DsnKind::Success: return "relayed";
    }
    return "failed";
}

const char* default_status(DsnKind kind) {
    switch (kind) {
        case DsnKind::Failure: return "5.0.0";
        case DsnKind::Delay: return "4.0.0";
        case DsnKind::Success: return "2.0.0";
    }
    return "5.0.0";
}

struct Reported {
    const queue::Recipient* recipient;
    std::string status, diagnostic, remote_mta;  // made safe
};

std::string human_part(const DsnRequest& req, const std::vector<Reported>& reported, const std::string& mta) {
    std::string out;
    append_folded(out, "", fmt::format("This is an automatically generated Delivery Status Notification from {}.", mta));
    out += "\r\n";
    switch (req.kind) {
        case DsnKind::Failure: out += "Delivery has failed to these recipients:\r\n"; break;
        case DsnKind::Delay: out += "Delivery is delayed to these recipients:\r\n"; break;
        case DsnKind::Success: out += "Your message was relayed to these recipients:\r\n"; break;
    }
    for (const auto& r : reported) {
        out += "\r\n";
        append_folded(out, "  ", address_text(r.recipient->address), "  ");
        if (!r.diagnostic.empty()) append_folded(out, "    ", r.diagnostic, "    ");
        if (!r.remote_mta.empty()) append_folded(out, "    ", "Remote server: " + r.remote_mta, "    ");
    }
    out += "\r\n";
    switch (req.kind) {
        case DsnKind::Failure:
            append_folded(out, "", "Your message was not delivered to them and will not be retried.");
            break;
        case DsnKind::Delay:
            if (is_set(req.envelope.expiration_time)) {
                append_folded(out, "",
                              fmt::format("This is a warning only: you do not need to resend your message. {} will "
                                          "keep trying to deliver it until {} and will tell you if it cannot.",
                                          mta, text::rfc5322_date_utc(req.envelope.expiration_time)));
            } else {
                append_folded(out, "",
                              fmt::format("This is a warning only: you do not need to resend your message. {} will "
                                          "keep trying to deliver it and will tell you if it cannot.",
                                          mta));
            }
            break;
        case DsnKind::Success:
            append_folded(out, "",
                          "The next server does not offer delivery status notifications, so this is the last notice "
                          "you will receive about these recipients.");
            break;
    }
    out += "\r\nYour message:\r\n";
    if (!req.envelope.subject.empty()) {
        std::string ascii;  // one '?' per character that is not ASCII, not per octet
        for (char32_t cp : decode_utf8(req.envelope.subject)) ascii += cp < 0x80 ? static_cast<char>(cp) : '?';
        append_folded(out, "  Subject: ", peer_text(ascii), "    ");
    }
    if (!req.envelope.internet_message_id.empty())
        append_folded(out, "  Message-ID: ", peer_text(req.envelope.internet_message_id), "    ");
    if (is_set(req.envelope.arrival_time))
        append_folded(out, "  Received: ", text::rfc5322_date_utc(req.envelope.arrival_time), "    ");
    return out;
}

std::string report_part(const DsnRequest& req, const std::vector<Reported>& reported, const std::string& mta) {
    std::string out;
    append_folded(out, "Reporting-MTA: ", "dns; " + mta);
    if (!req.envelope.dsn_envid.empty()) {
        if (auto envid = printable_xtext(req.envelope.dsn_envid))
            append_folded(out, "Original-Envelope-Id: ", peer_text(*envid));
    }
    if (is_set(req.envelope.arrival_time)) out += "Arrival-Date: " + text::rfc5322_date_utc(req.envelope.arrival_time) + "\r\n";
    for (const auto& r : reported) {
        out += "\r\n";
        if (!r.recipient->orcpt.empty()) {
            if (auto orcpt = original_recipient(r.recipient->orcpt))
                append_folded(out, "Original-Recipient: ", peer_text(*orcpt));
        }
        append_folded(out, "Final-Recipient: ", address_field(r.recipient->address));
        out += fmt::format("Action: {}\r\n", action_of(req.kind));
        out += fmt::format("Status: {}\r\n", r.status);
        if (!r.remote_mta.empty()) append_folded(out, "Remote-MTA: ", "dns; " + r.remote_mta);
        if (!r.diagnostic.empty()) {
            // RFC 3464 §2.3.6: "smtp" for an SMTP reply; an X- type for our own words.
            const char* type = starts_with_reply_code(r.diagnostic) ? "smtp" : "X-edge-transport";
            append_folded(out, "Diagnostic-Code: ", fmt::format("{}; {}", type, r.diagnostic));
        }
        if (req.kind == DsnKind::Delay && is_set(req.envelope.expiration_time))
            out += "Will-Retry-Until: " + text::rfc5322_date_utc(req.envelope.expiration_time) + "\r\n";
    }
    return out;
}

std::atomic<std::uint64_t> g_message_counter{0};

const char* subject_prefix(DsnKind kind) {
    switch (kind) {
        case DsnKind::Failure: return "Undeliverable: ";
        case DsnKind::Delay: return "Delivery delayed: ";
        case DsnKind::Success: return "Relayed: ";
    }
    return "Undeliverable: ";
}

}  // namespace

bool wants_notice(const queue::Recipient& recipient, DsnKind kind) {
    namespace notify = queue::notify;
    if (recipient.notify & notify::Never) return false;
    if (recipient.notify == 0) return kind != DsnKind::Success;  // RFC 3461 §4.1: FAILURE,DELAY
    switch (kind) {
        case DsnKind::Failure: return (recipient.notify & notify::Failure) != 0;
        case DsnKind::Delay: return (recipient.notify & notify::Delay) != 0;
        case DsnKind::Success: return (recipient.notify & notify::Success) != 0;
    }
    return false;
}

std::string dsn_subject(DsnKind kind, std::string_view original_subject) {
    std::string subject(original_subject);
    for (char& c : subject) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
    }
    while (!subject.empty() && subject.front() == ' ') subject.erase(0, 1);
    while (!subject.empty() && subject.back() == ' ') subject.pop_back();
    if (subject.empty()) {
        switch (kind) {
            case DsnKind::Failure: return "Delivery Status Notification (Failure)";
            case DsnKind::Delay: return "Delivery Status Notification (Delay)";
            case DsnKind::Success: return "Delivery Status Notification (Relay)";
        }
    }
    std::string out = subject_prefix(kind) + subject;
    if (out.size() > kMaxSubject) {
        std::size_t n = kMaxSubject;
        while (n > 0 && (static_cast<unsigned char>(out[n]) & 0xC0) == 0x80) --n;  // not inside a character
        out.resize(n);
    }
    return out;
}

namespace {

// The Subject: header's value: dsn_subject() as it is when printable ASCII, else its
// prefix and the original subject as RFC 2047 encoded-words.
std::string subject_header_value(DsnKind kind, std::string_view original_subject) {
    std::string subject = dsn_subject(kind, original_subject);
    if (all_printable(subject)) return subject;
    const std::string_view prefix = subject_prefix(kind);  // 8-bit text comes only with the original
    return std::string(prefix) + encoded_words(std::string_view(subject).substr(prefix.size()));
}

}  // namespace

std::optional<queue::NewMessage> build_dsn(const DsnRequest& req) {
    const queue::Envelope& original = req.envelope;
    if (original.sender.empty()) return std::nullopt;  // never a DSN to <>

    std::vector<Reported> reported;
    for (const auto& r : req.recipients) {
        if (r.index >= original.recipients.size())
            throw std::out_of_range(fmt::format("build_dsn: recipient index {} of a message with {} recipients",
                                                r.index, original.recipients.size()));
        const queue::Recipient& rcpt = original.recipients[r.index];
        if (!wants_notice(rcpt, req.kind)) continue;
        reported.push_back({&rcpt, valid_status(r.status) ? r.status : default_status(req.kind),
                            peer_text(r.diagnostic), host_text(r.remote_mta)});
    }
    if (reported.empty()) return std::nullopt;

    const std::string mta = req.reporting_mta.empty() ? "localhost" : host_text(req.reporting_mta);
    const std::string id_domain = req.message_id_domain.empty() ? mta : host_text(req.message_id_domain);

    // Part 3. RFC 3461 §4.3: the whole message only in a "failed" DSN, and only with
    // RET=FULL; message/rfc822 cannot be re-encoded (RFC 2046 §5.2.1), so an original
    // with a line over 998 octets is returned as headers, which are cut instead.
    const bool full = req.kind == DsnKind::Failure && original.dsn_ret == queue::DsnRet::Full &&
                      req.original_message.size() <= req.max_full_return_size &&
                      longest_line(req.original_message) <= kMaxLine;
    std::string returned;
    append_as_crlf_lines(returned, full ? req.original_message : header_block(req.original_message));
    const bool returned_8bit = has_8bit(returned);

    const std::string human = human_part(req, reported, mta);
    const std::string report = report_part(req, reported, mta);

    std::uint64_t seed = fnv1a(0xCBF29CE484222325ull, original.internet_message_id);
    seed = fnv1a(seed, original.sender);
    seed = mix(seed ^ static_cast<std::uint64_t>(req.now.time_since_epoch().count()) ^
               static_cast<std::uint64_t>(req.kind));
    // RFC 2046 §5.1.1: the boundary must not occur in what it encloses; checked
    // against the whole original too, whatever part of it is returned.
    std::string boundary;
    for (std::uint64_t h = seed;; h = mix(h)) {
        boundary = fmt::format("=_edge-dsn-{:016x}", h);
        if (req.original_message.find(boundary) == std::string_view::npos &&
            returned.find(boundary) == std::string::npos && human.find(boundary) == std::string::npos &&
            report.find(boundary) == std::string::npos)
            break;
    }

    const std::string subject_value = subject_header_value(req.kind, original.subject);
    const std::uint64_t count = ++g_message_counter;
    const std::string message_id =
        fmt::format("<{:016x}{:016x}@{}>", static_cast<std::uint64_t>(req.now.time_since_epoch().count()),
                    mix(seed + count), id_domain);

    std::string head;
    // Exchange: the DSN's From is ExternalPostmasterAddress when set (reference §3.1).
    append_folded(head, "From: ", req.from.empty() ? "postmaster@" + mta : req.from);
    append_folded(head, "To: ", "<" + header_address(original.sender) + ">");
    append_folded(head, "Subject: ", subject_value);
    head += "Date: " + text::rfc5322_date_utc(req.now) + "\r\n";
    head += "Message-ID: " + message_id + "\r\n";
    if (auto orig_id = plain_message_id(original.internet_message_id)) {
        head += "In-Reply-To: " + *orig_id + "\r\n";
        head += "References: " + *orig_id + "\r\n";
    }
    head += "Auto-Submitted: auto-replied\r\n";  // RFC 3834 §5
    head += "MIME-Version: 1.0\r\n";
    head += "Content-Type: multipart/report; report-type=delivery-status;\r\n";
    head += "\tboundary=\"" + boundary + "\"\r\n";
    // RFC 2045 §6.4: a multipart is labelled with the widest encoding inside it.
    head += returned_8bit ? "Content-Transfer-Encoding: 8bit\r\n" : "Content-Transfer-Encoding: 7bit\r\n";
    head += "\r\n";
    head += "This is a MIME-formatted delivery status notification.\r\n";

    head += "\r\n--" + boundary + "\r\n";
    head += "Content-Type: text/plain; charset=us-ascii\r\n";
    head += "Content-Transfer-Encoding: 7bit\r\n";
    head += "Content-Description: Notification\r\n\r\n";
    head += human;

    head += "\r\n--" + boundary + "\r\n";
    head += "Content-Type: message/delivery-status\r\n";
    head += "Content-Description: Delivery report\r\n\r\n";
    head += report;

    head += "\r\n--" + boundary + "\r\n";
    head += full ? "Content-Type: message/rfc822\r\n" : "Content-Type: text/rfc822-headers\r\n";
    head += returned_8bit ? "Content-Transfer-Encoding: 8bit\r\n" : "Content-Transfer-Encoding: 7bit\r\n";
    head += full ? "Content-Description: Undelivered message\r\n\r\n" : "Content-Description: Message headers\r\n\r\n";

    std::string tail = "\r\n--" + boundary + "--\r\n";

    queue::NewMessage msg;
    msg.body.chunks.push_back(std::move(head));
    msg.body.chunks.push_back(std::move(returned));
    msg.body.chunks.push_back(std::move(tail));

    queue::Envelope& env = msg.envelope;
    env.sender.clear();
    env.dsn_ret = queue::DsnRet::Unspecified;
    auto add_recipient = [&](const std::string& address) {
        queue::Recipient r;
        r.address = address;
        r.notify = queue::notify::Never;
        env.recipients.push_back(std::move(r));
    };
    add_recipient(original.sender);
    if (req.kind == DsnKind::Failure && !req.copy_to.empty() && req.copy_to != original.sender)
        add_recipient(req.copy_to);
    env.arrival_time = req.now;
    env.subject = subject_value;
    env.internet_message_id = message_id;
    env.size = msg.body.size();
    return msg;
}

}  // namespace edge::send
