// The command parser. Every refusal is a catalogue reply; nothing here throws.
#include "command.hpp"

#include <arpa/inet.h>
#include <strings.h>

#include <array>
#include <cctype>

namespace edge::smtp {

namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool is_let_dig(unsigned char c) { return std::isalnum(c) != 0; }

// RFC 5322 atext (RFC 5321 §4.1.2 Atom), plus UTF-8 when SMTPUTF8 is on.
bool is_atext(unsigned char c, bool utf8) {
    if (c >= 0x80) return utf8;
    if (std::isalnum(c)) return true;
    static constexpr std::string_view specials = "!#$%&'*+-/=?^_`{|}~";
    return specials.find(static_cast<char>(c)) != std::string_view::npos;
}

// Well-formed UTF-8 (no overlongs, no surrogates), RFC 3629.
bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        std::uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1Fu) : n == 3 ? (c & 0x0Fu) : (c & 0x07u);
        for (std::size_t k = 1; k < n; ++k) {
            auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc >> 6) != 0x2) return false;
            cp = (cp << 6) | (cc & 0x3Fu);
        }
        static constexpr std::array<std::uint32_t, 5> min_for = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_for[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n;
    }
    return true;
}

bool valid_local_part(std::string_view s, bool utf8) {
    if (s.empty() || s.size() > 64) return false;  // RFC 5321 §4.5.3.1.1
    if (s.front() == '"') {                       // Quoted-string
        if (s.size() < 2 || s.back() != '"') return false;
        for (std::size_t i = 1; i + 1 < s.size(); ++i) {
            auto c = static_cast<unsigned char>(s[i]);
            if (c == '\\') {
                if (i + 2 >= s.size()) return false;
                auto q = static_cast<unsigned char>(s[++i]);
                if (q < 32 || q > 126) return false;
            } else if (c == '"' || (c < 32 && c != '\t') || c == 127 || (c >= 0x80 && !utf8)) {
                return false;
            }
        }
        return !utf8 || valid_utf8(s);
    }
    bool dot_ok = false;  // Dot-string: no leading, trailing or double dot
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c == '.') {
            if (!dot_ok) return false;
            dot_ok = false;
        } else if (is_atext(c, utf8)) {
            dot_ok = true;
        } else {
            return false;
        }
    }
    return dot_ok && (!utf8 || valid_utf8(s));
}

// Splits "local@domain" at the last '@' outside a quoted local part.
bool parse_mailbox(std::string_view s, bool utf8, Mailbox& out) {
    std::size_t at = std::string_view::npos;
    bool quoted = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && quoted) {
            ++i;
            continue;
        }
        if (s[i] == '"') quoted = !quoted;
        if (s[i] == '@' && !quoted) at = i;
    }
    if (at == std::string_view::npos) return false;
    std::string_view local = s.substr(0, at), domain = s.substr(at + 1);
    if (!valid_local_part(local, utf8)) return false;
    bool domain_ok = domain.starts_with('[') ? valid_address_literal(domain)
                                             : (utf8 ? valid_utf8(domain) && !domain.empty() : valid_domain(domain));
    if (!domain_ok) return false;
    out.local = std::string(local);
    out.domain = std::string(domain);
    return true;
}

// "<path>" or a bare path; source routes (@a,@b:) are accepted and ignored
// (RFC 5321 §4.1.2 and Appendix C). Returns the rest of the line (parameters).
std::optional<std::string_view> take_path(std::string_view arg, std::string_view& path) {
    arg = trim(arg);
    if (arg.starts_with('<')) {
        auto close = arg.find('>');
        if (close == std::string_view::npos) return std::nullopt;
        path = arg.substr(1, close - 1);
        arg.remove_prefix(close + 1);
        if (!arg.empty() && arg.front() != ' ') return std::nullopt;
    } else {
        auto sp = arg.find(' ');
        path = arg.substr(0, sp);
        arg.remove_prefix(sp == std::string_view::npos ? arg.size() : sp);
    }
    if (path.starts_with('@')) {  // source route
        auto colon = path.find(':');
        if (colon == std::string_view::npos) return std::nullopt;
        path.remove_prefix(colon + 1);
    }
    return trim(arg);
}

// RFC 3461 §4: xtext is printable ASCII except '+' and '=', which are "+XX".
bool valid_xtext(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c == '+') {
            if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
                !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
                return false;
            i += 2;
        } else if (c < 33 || c > 126 || c == '=') {
            return false;
        }
    }
    return true;
}

bool parse_u64(std::string_view s, std::uint64_t& out) {
    if (s.empty() || s.size() > 19) return false;
    out = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        out = out * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return true;
}

// Parses "KEY=VALUE KEY …" for MAIL or RCPT into `cmd`.
std::optional<ReplyId> parse_parameters(std::string_view params, bool mail, Command& cmd) {
    while (!params.empty()) {
        auto sp = params.find(' ');
        std::string_view p = params.substr(0, sp);
        params = sp == std::string_view::npos ? std::string_view{} : trim(params.substr(sp + 1));
        auto eq = p.find('=');
        std::string_view key = p.substr(0, eq);
        std::string_view value = eq == std::string_view::npos ? std::string_view{} : p.substr(eq + 1);
        bool has_value = eq != std::string_view::npos;
        if (mail && iequals(key, "SIZE")) {
            std::uint64_t n = 0;
            if (!has_value || !parse_u64(value, n)) return ReplyId::InvalidArguments;
            cmd.size = n;
        } else if (mail && iequals(key, "BODY")) {
            if (iequals(value, "7BIT"))
                cmd.body = BodyType::SevenBit;
            else if (iequals(value, "8BITMIME"))
                cmd.body = BodyType::EightBitMime;
            else if (iequals(value, "BINARYMIME"))
                cmd.body = BodyType::BinaryMime;
            else
                return ReplyId::InvalidArguments;
        } else if (mail && iequals(key, "SMTPUTF8")) {
            if (has_value) return ReplyId::InvalidArguments;
            cmd.smtputf8 = true;
        } else if (mail && iequals(key, "RET")) {
            if (iequals(value, "FULL"))
                cmd.ret = Ret::Full;
            else if (iequals(value, "HDRS"))
                cmd.ret = Ret::Headers;
            else
                return ReplyId::InvalidArguments;
        } else if (mail && iequals(key, "ENVID")) {
            if (!has_value || value.empty() || value.size() > 100 || !valid_xtext(value)) return ReplyId::InvalidArguments;
            cmd.envid = std::string(value);
        } else if (mail && iequals(key, "AUTH")) {
            // RFC 4954 §5: the submitter's identity; we have no AUTH, so it is ignored.
        } else if (!mail && iequals(key, "NOTIFY")) {
            std::uint8_t bits = 0;
            std::string_view v = value;
            while (!v.empty()) {
                auto comma = v.find(',');
                std::string_view item = v.substr(0, comma);
                v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
                if (iequals(item, "NEVER"))
                    bits |= notify_bits::Never;
                else if (iequals(item, "SUCCESS"))
                    bits |= notify_bits::Success;
                else if (iequals(item, "FAILURE"))
                    bits |= notify_bits::Failure;
                else if (iequals(item, "DELAY"))
                    bits |= notify_bits::Delay;
                else
                    return ReplyId::InvalidArguments;
            }
            // RFC 3461 §4.1: NEVER stands alone.
            if (bits == 0 || ((bits & notify_bits::Never) && bits != notify_bits::Never)) return ReplyId::InvalidArguments;
            cmd.notify = bits;
        } else if (!mail && iequals(key, "ORCPT")) {
            auto semi = value.find(';');
            if (semi == std::string_view::npos || semi == 0 || value.size() > 500 ||
                !valid_xtext(value.substr(semi + 1)))
                return ReplyId::InvalidArguments;
            cmd.orcpt = std::string(value);
        } else {
            return ReplyId::ParameterUnsupported;
        }
    }
    return std::nullopt;
}

struct VerbName {
    std::string_view name;
    Verb verb;
};
constexpr VerbName kVerbs[] = {
    {"HELO", Verb::Helo}, {"EHLO", Verb::Ehlo}, {"MAIL", Verb::Mail},         {"RCPT", Verb::Rcpt},
    {"DATA", Verb::Data}, {"BDAT", Verb::Bdat}, {"RSET", Verb::Rset},         {"NOOP", Verb::Noop},
    {"QUIT", Verb::Quit}, {"VRFY", Verb::Vrfy}, {"EXPN", Verb::Expn},         {"HELP", Verb::Help},
    {"AUTH", Verb::Auth}, {"STARTTLS", Verb::StartTls},
};

}  // namespace

bool valid_domain(std::string_view d) {
    if (d.empty() || d.size() > 255) return false;
    std::size_t label = 0;
    char prev = '.';
    for (char ch : d) {
        auto c = static_cast<unsigned char>(ch);
        if (c == '.') {
            if (label == 0 || prev == '-') return false;
            label = 0;
        } else if (is_let_dig(c) || (c == '-' && label > 0)) {
            if (++label > 63) return false;
        } else {
            return false;
        }
        prev = ch;
    }
    return label > 0 && prev != '-';
}

bool valid_address_literal(std::string_view s) {
    if (s.size() < 3 || s.front() != '[' || s.back() != ']') return false;
    std::string inner(s.substr(1, s.size() - 2));
    unsigned char buf[16];
    if (istarts_with(inner, "IPv6:")) return ::inet_pton(AF_INET6, inner.c_str() + 5, buf) == 1;
    return ::inet_pton(AF_INET, inner.c_str(), buf) == 1;
}

Parsed parse_command(std::string_view line) {
    Parsed r;
    Command& cmd = r.command;
    if (line.size() + 2 > kMaxCommandLine) {
        r.error = ReplyId::LineTooLong;
        return r;
    }
    for (char c : line)
        if (c == '\0' || c == '\r' || c == '\n') {  // control characters that split lines elsewhere
            r.error = ReplyId::CommandUnrecognized;
            return r;
        }
    auto sp = line.find(' ');
    std::string_view verb = line.substr(0, sp);
    std::string_view arg = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
    for (const auto& v : kVerbs)
        if (iequals(verb, v.name)) cmd.verb = v.verb;
    cmd.argument = std::string(trim(arg));

    switch (cmd.verb) {
        case Verb::Unknown: r.error = ReplyId::CommandUnrecognized; break;
        case Verb::Helo:
        case Verb::Ehlo: {
            std::string_view d = trim(arg);
            // A client may put more after the domain (RFC 5321 §4.1.1.1 says it must
            // not, but many do); the first word is the domain.
            d = d.substr(0, d.find(' '));
            if (!(valid_domain(d) || valid_address_literal(d))) r.error = ReplyId::InvalidDomain;
            cmd.argument = std::string(d);
            break;
        }
        case Verb::Mail:
        case Verb::Rcpt: {
            bool mail = cmd.verb == Verb::Mail;
            std::string_view rest = arg;
            if (!istarts_with(rest, mail ? "FROM:" : "TO:")) {
                r.error = mail ? ReplyId::InvalidArguments : ReplyId::InvalidRecipient;
                break;
            }
            rest.remove_prefix(mail ? 5 : 3);
            std::string_view path;
            auto params = take_path(rest, path);
            if (!params || path.size() > 254) {  // RFC 5321 §4.5.3.1.3: path <= 256 with <>
                r.error = mail ? ReplyId::InvalidSender : ReplyId::InvalidRecipient;
                break;
            }
            if (auto e = parse_parameters(*params, mail, cmd)) {
                r.error = *e;
                break;
            }
            if (path.empty()) {
                if (!mail) r.error = ReplyId::InvalidRecipient;  // <> only as a sender
                break;
            }
            // RFC 6531: non-ASCII only with SMTPUTF8 (given on MAIL; the session
            // checks RCPT against the transaction's MAIL).
            bool non_ascii = false;
            for (char c : path) non_ascii |= static_cast<unsigned char>(c) >= 0x80;
            bool utf8_allowed = mail ? cmd.smtputf8 : true;
            if (non_ascii && !utf8_allowed) {
                r.error = ReplyId::Utf8NeedsSmtpUtf8;
                break;
            }
            if (!parse_mailbox(path, non_ascii, cmd.path)) r.error = mail ? ReplyId::InvalidSender : ReplyId::InvalidRecipient;
            break;
        }
        case Verb::Bdat: {
            std::string_view a = trim(arg);
            auto space = a.find(' ');
            std::string_view n = a.substr(0, space);
            std::string_view last = space == std::string_view::npos ? std::string_view{} : trim(a.substr(space + 1));
            if (!parse_u64(n, cmd.chunk_size) || !(last.empty() || iequals(last, "LAST"))) {
                r.error = ReplyId::InvalidArguments;
                break;
            }
            cmd.last_chunk = !last.empty();
            break;
        }
        case Verb::Data:
        case Verb::Rset:
        case Verb::Quit:
        case Verb::StartTls:
            if (!trim(arg).empty()) r.error = ReplyId::InvalidArguments;
            break;
        case Verb::Noop:
        case Verb::Help:
        case Verb::Vrfy:
        case Verb::Expn:
        case Verb::Auth: break;
    }
    return r;
}

}  // namespace edge::smtp
