// The command parser. Every refusal is a catalogue reply; nothing here throws.
#include "command.hpp"

#include "text_helpers.hpp"

#include <arpa/inet.h>

#include <array>
#include <cctype>

namespace edge::smtp {

namespace {

using text::iequals;
using text::istarts_with;
using text::trim;

// The name of a refused parameter for the reply: ours in capitals when we know it, else
// the client's, bounded and printable (a reply must not carry its control bytes).
std::string parameter_name(std::string_view key) {
    std::string out;
    for (char ch : key.substr(0, 32)) {
        const auto c = static_cast<unsigned char>(ch);
        out.push_back(c > 0x20 && c < 0x7f ? static_cast<char>(std::toupper(c)) : '?');
    }
    if (key.size() > 32) out += "...";
    return out;
}

// "<path>" or a bare path; source routes (@a,@b:) are accepted and ignored
// (RFC 5321 §4.1.2 and Appendix C). Returns the rest of the line (parameters); `whole`
// is the path with its source route.
std::optional<std::string_view> take_path(std::string_view arg, std::string_view& path, std::string_view& whole) {
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
    whole = path;
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

// Parses "KEY=VALUE KEY …" for MAIL or RCPT into `cmd`; a refusal names the parameter
// in `name`.
std::optional<ReplyId> parse_parameters(std::string_view params, bool mail, Command& cmd, std::string& name) {
    const auto invalid = [&](std::string_view key) {
        name = parameter_name(key);
        return ReplyId::InvalidParameter;
    };
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
            if (!has_value || !parse_u64(value, n)) return invalid(key);
            cmd.size = n;
        } else if (mail && iequals(key, "BODY")) {
            if (iequals(value, "7BIT"))
                cmd.body = BodyType::SevenBit;
            else if (iequals(value, "8BITMIME"))
                cmd.body = BodyType::EightBitMime;
            else if (iequals(value, "BINARYMIME"))
                cmd.body = BodyType::BinaryMime;
            else
                return invalid(key);
        } else if (mail && iequals(key, "SMTPUTF8")) {
            if (has_value) return invalid(key);
            cmd.smtputf8 = true;
        } else if (mail && iequals(key, "RET")) {
            if (iequals(value, "FULL"))
                cmd.ret = Ret::Full;
            else if (iequals(value, "HDRS"))
                cmd.ret = Ret::Headers;
            else
                return invalid(key);
        } else if (mail && iequals(key, "ENVID")) {
            if (!has_value || value.empty() || value.size() > 100 || !valid_xtext(value)) return invalid(key);
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
                    return invalid(key);
            }
            // RFC 3461 §4.1: NEVER stands alone.
            if (bits == 0 || ((bits & notify_bits::Never) && bits != notify_bits::Never)) return invalid(key);
            cmd.notify = bits;
        } else if (!mail && iequals(key, "ORCPT")) {
            auto semi = value.find(';');
            if (semi == std::string_view::npos || semi == 0 || value.size() > 500 ||
                !valid_xtext(value.substr(semi + 1)))
                return invalid(key);
            cmd.orcpt = std::string(value);
        } else {
            name = parameter_name(key);
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
            std::string_view path, whole_path;
            auto params = take_path(rest, path, whole_path);
            if (!params || path.size() > 254) {  // RFC 5321 §4.5.3.1.3: path <= 256 with <>
                r.error = mail ? ReplyId::InvalidSender : ReplyId::InvalidRecipient;
                break;
            }
            if (has_control_byte(whole_path)) {  // source route included: nothing may carry ESC or NUL
                r.error = ReplyId::InvalidAddress;
                break;
            }
            if (auto e = parse_parameters(*params, mail, cmd, r.error_argument)) {
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
            // The parsed mailbox travels from here on: nobody splits the string again.
            auto mailbox = split_mailbox(path);
            AddressError e = mailbox ? check_mailbox(*mailbox, non_ascii) : AddressError::Syntax;
            if (e == AddressError::Domain || e == AddressError::ControlByte)
                r.error = ReplyId::InvalidAddress;  // 501 5.1.3: not a domain, or bytes no address holds
            else if (e != AddressError::None)
                r.error = mail ? ReplyId::InvalidSender : ReplyId::InvalidRecipient;
            else
                cmd.path = std::move(*mailbox);
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
