// SPF record syntax (RFC 7208 §4.6.1, §5, §6, §7.1) and macro expansion (§7.3): pure
// string work, every loop bounded by its input.
#include "spf_record.hpp"

#include "text_helpers.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace edge::auth::spf {

namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
using text::iequals;
constexpr auto lower = text::ascii_lower;

bool is_delimiter(char c) { return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' || c == '_' || c == '='; }

// macro-literal = %x21-24 / %x26-7E; an explain-string also has SP (§7.1).
bool is_literal(char c, MacroUse use) { return (c >= 0x21 && c <= 0x7e && c != '%') || (c == ' ' && use == MacroUse::Explanation); }

// One "%{...}" macro-expand, read from text[at] == '%' and text[at+1] == '{'.
struct Macro {
    char letter = 0;   // lower case
    bool escape = false;  // an upper-case letter: URL-escape the value (§7.3)
    std::size_t keep = 0;  // rightmost parts kept, 0 for all
    bool reverse = false;
    std::string delimiters;  // empty: '.'
    std::size_t end = 0;     // just past '}'
};

std::optional<Macro> read_macro(std::string_view text, std::size_t at, MacroUse use) {
    std::size_t i = at + 2;
    if (i >= text.size()) return std::nullopt;
    Macro m;
    m.letter = lower(text[i]);
    m.escape = text[i] != m.letter;
    static constexpr std::string_view kLetters = "slodiphcrtv";
    if (kLetters.find(m.letter) == std::string_view::npos) return std::nullopt;
    // §7.2: c, r and t are only for explanations.
    if (use == MacroUse::DomainSpec && (m.letter == 'c' || m.letter == 'r' || m.letter == 't')) return std::nullopt;
    ++i;
    bool digits = false;
    while (i < text.size() && is_digit(text[i])) {
        // More parts than a name can have means all of them; saturate, never overflow.
        m.keep = std::min<std::size_t>(m.keep * 10 + static_cast<std::size_t>(text[i] - '0'), 1000);
        digits = true;
        ++i;
    }
    if (digits && m.keep == 0) return std::nullopt;  // §7.3: the number MUST be nonzero
    if (i < text.size() && lower(text[i]) == 'r') {
        m.reverse = true;
        ++i;
    }
    while (i < text.size() && is_delimiter(text[i])) m.delimiters += text[i++];
    if (i >= text.size() || text[i] != '}') return std::nullopt;
    m.end = i + 1;
    return m;
}

// Walks a macro-string: calls on_literal(char) and on_macro(Macro) / on_escape(char) for
// "%%", "%_", "%-"; false at the first thing that is not part of one.
template <class Literal, class Expand, class Escape>
bool walk(std::string_view text, MacroUse use, Literal on_literal, Expand on_macro, Escape on_escape) {
    for (std::size_t i = 0; i < text.size();) {
        const char c = text[i];
        if (c != '%') {
            if (!is_literal(c, use)) return false;
            if (!on_literal(c)) return false;
            ++i;
            continue;
        }
        if (i + 1 >= text.size()) return false;
        const char next = text[i + 1];
        if (next == '{') {
            auto m = read_macro(text, i, use);
            if (!m || !on_macro(*m)) return false;
            i = m->end;
        } else if (next == '%' || next == '_' || next == '-') {
            if (!on_escape(next == '%' ? '%' : next == '_' ? ' ' : '-')) return false;  // §7.3: "%_" is a space, "%-" is "%20"
            i += 2;
        } else {
            return false;
        }
    }
    return true;
}

// toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool is_toplabel(std::string_view label) {
    if (label.empty()) return false;
    if (std::all_of(label.begin(), label.end(), is_alnum)) return std::any_of(label.begin(), label.end(), is_alpha);
    return is_alnum(label.front()) && is_alnum(label.back()) &&
           std::all_of(label.begin(), label.end(), [](char c) { return is_alnum(c) || c == '-'; });
}

bool is_unreserved(char c) { return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~'; }

std::string value_of(const Macro& m, const MacroContext& x) {
    switch (m.letter) {
        case 's': return x.sender;
        case 'l': return x.local_part;
        case 'o': return x.sender_domain;
        case 'd': return x.domain;
        case 'i': return dotted_address(x.client);
        case 'p': return x.validated.empty() ? "unknown" : x.validated;
        case 'h': return x.helo;
        case 'v': return effective_client(x.client).is_v4() ? "in-addr" : "ip6";
        case 'c': return effective_client(x.client).to_string();
        case 'r': return x.receiver.empty() ? "unknown" : x.receiver;
        case 't': return std::to_string(x.timestamp);
        default: return {};
    }
}

// §7.3: split on the delimiters, reverse when asked, keep the rightmost parts, join with '.'.
std::string transform(const std::string& value, const Macro& m) {
    const std::string_view delimiters = m.delimiters.empty() ? std::string_view(".") : std::string_view(m.delimiters);
    if (m.keep == 0 && !m.reverse && delimiters == ".") return value;
    std::vector<std::string_view> parts;
    std::string_view rest(value);
    for (;;) {
        auto at = rest.find_first_of(delimiters);
        parts.push_back(rest.substr(0, at));
        if (at == std::string_view::npos) break;
        rest.remove_prefix(at + 1);
    }
    if (m.reverse) std::reverse(parts.begin(), parts.end());
    std::size_t first = (m.keep != 0 && m.keep < parts.size()) ? parts.size() - m.keep : 0;
    std::string out;
    for (std::size_t i = first; i < parts.size(); ++i) {
        if (i > first) out += '.';
        out += parts[i];
    }
    return out;
}

struct Cidr {
    std::optional<int> v4, v6;
};

// "/" ("0" / %x31-39 0*1DIGIT) and its IPv6 twin: no leading zeros, at most `max`.
std::optional<int> read_length(std::string_view digits, int max) {
    if (digits.empty() || digits.size() > 3 || !std::all_of(digits.begin(), digits.end(), is_digit)) return std::nullopt;
    if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
    int v = 0;
    for (char c : digits) v = v * 10 + (c - '0');
    if (v > max) return std::nullopt;
    return v;
}

bool all_digits(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_digit); }

// dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ], taken from the end of
// `arg` (a domain-end never holds '/', so a trailing "/digits" is always a length).
// false when a length is there but out of range.
bool split_dual_cidr(std::string_view& arg, Cidr& cidr) {
    if (auto at = arg.rfind("//"); at != std::string_view::npos && all_digits(arg.substr(at + 2))) {
        cidr.v6 = read_length(arg.substr(at + 2), 128);
        if (!cidr.v6) return false;
        arg = arg.substr(0, at);
    }
    if (auto at = arg.rfind('/'); at != std::string_view::npos && all_digits(arg.substr(at + 1))) {
        cidr.v4 = read_length(arg.substr(at + 1), 32);
        if (!cidr.v4) return false;
        arg = arg.substr(0, at);
    }
    return true;
}

std::optional<Directive> read_directive(std::string_view term, std::string& problem) {
    Directive d;
    d.text = std::string(term);
    switch (term.front()) {
        case '+': d.qualifier = Result::Pass; term.remove_prefix(1); break;
        case '-': d.qualifier = Result::Fail; term.remove_prefix(1); break;
        case '~': d.qualifier = Result::SoftFail; term.remove_prefix(1); break;
        case '?': d.qualifier = Result::Neutral; term.remove_prefix(1); break;
        default: break;
    }
    const auto name_end = std::min(term.find_first_of(":/"), term.size());
    const std::string_view name = term.substr(0, name_end);
    std::string_view arg = term.substr(name_end);
    auto fail = [&](std::string_view why) -> std::optional<Directive> {
        problem = fmt::format("{} in \"{}\"", why, d.text);
        return std::nullopt;
    };
    // ":" domain-spec, required or not.
    auto read_domain = [&](bool required) {
        if (arg.empty()) return !required;
        if (arg.front() != ':') return false;
        d.domain_spec = std::string(arg.substr(1));
        return valid_domain_spec(d.domain_spec);
    };
    if (iequals(name, "all")) {
        d.kind = MechanismKind::All;
        if (!arg.empty()) return fail("\"all\" takes no argument");
    } else if (iequals(name, "include") || iequals(name, "exists")) {
        d.kind = iequals(name, "include") ? MechanismKind::Include : MechanismKind::Exists;
        if (!read_domain(true)) return fail("a missing or invalid domain-spec");
    } else if (iequals(name, "a") || iequals(name, "mx")) {
        d.kind = iequals(name, "a") ? MechanismKind::A : MechanismKind::Mx;
        Cidr cidr;
        if (!split_dual_cidr(arg, cidr)) return fail("an invalid CIDR length");
        d.cidr4 = cidr.v4.value_or(32);
        d.cidr6 = cidr.v6.value_or(128);
        if (!read_domain(false)) return fail("an invalid domain-spec");
    } else if (iequals(name, "ptr")) {
        d.kind = MechanismKind::Ptr;
        if (!read_domain(false)) return fail("an invalid domain-spec");
    } else if (iequals(name, "ip4") || iequals(name, "ip6")) {
        const bool v4 = iequals(name, "ip4");
        d.kind = v4 ? MechanismKind::Ip4 : MechanismKind::Ip6;
        if (arg.empty() || arg.front() != ':') return fail("a missing network");
        arg.remove_prefix(1);
        const auto slash = arg.find('/');
        const std::string network(arg.substr(0, slash));
        boost::system::error_code ec;
        // No zone ids, no IPv4 in an ip6 (§5.6: ip6-network is an IPv6 address).
        if (network.find('%') != std::string::npos) return fail("an invalid network");
        if (v4) d.network = boost::asio::ip::make_address_v4(network, ec);
        else d.network = boost::asio::ip::make_address_v6(network, ec);
        if (ec) return fail("an invalid network");
        if (slash != std::string_view::npos) {
            auto length = read_length(arg.substr(slash + 1), v4 ? 32 : 128);
            if (!length) return fail("an invalid CIDR length");
            (v4 ? d.cidr4 : d.cidr6) = *length;
        }
    } else {
        return fail("an unknown mechanism");
    }
    return d;
}

}  // namespace

bool is_spf_record(std::string_view txt) {
    return text::istarts_with(txt, "v=spf1") && (txt.size() == 6 || txt[6] == ' ');
}

ParsedRecord parse_record(std::string_view txt) {
    ParsedRecord out;
    if (!is_spf_record(txt)) {
        out.problem = "not an SPF record (no \"v=spf1\")";
        return out;
    }
    // §3.1, §4.6.1: US-ASCII, terms separated by spaces only (no tabs, no control bytes).
    for (char c : txt)
        if (c != ' ' && (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e)) {
            out.problem = "the record holds a character that is not printable US-ASCII";
            return out;
        }
    Record record;
    std::string_view rest = txt.substr(6);
    while (!rest.empty()) {
        const auto start = rest.find_first_not_of(' ');
        if (start == std::string_view::npos) break;
        rest.remove_prefix(start);
        const auto end = std::min(rest.find(' '), rest.size());
        const std::string_view term = rest.substr(0, end);
        rest.remove_prefix(end);
        // modifier = name "=" macro-string; name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
        std::size_t n = 0;
        if (is_alpha(term[0]))
            while (n < term.size() && (is_alnum(term[n]) || term[n] == '-' || term[n] == '_' || term[n] == '.')) ++n;
        if (n > 0 && n < term.size() && term[n] == '=') {
            const std::string_view name = term.substr(0, n);
            const std::string value(term.substr(n + 1));
            const bool redirect = iequals(name, "redirect"), exp = iequals(name, "exp");
            if (redirect || exp) {
                auto& slot = redirect ? record.redirect : record.exp;
                // §6: each at most once.
                if (slot) {
                    out.problem = fmt::format("more than one \"{}\" modifier", redirect ? "redirect" : "exp");
                    return out;
                }
                if (!valid_domain_spec(value)) {
                    out.problem = fmt::format("an invalid domain-spec in \"{}\"", term);
                    return out;
                }
                slot = value;
            } else if (!valid_macro_string(value, MacroUse::Explanation)) {
                // §6: unknown modifiers are ignored, but must still be well formed.
                out.problem = fmt::format("an invalid macro-string in \"{}\"", term);
                return out;
            }
            continue;
        }
        auto d = read_directive(term, out.problem);
        if (!d) return out;
        record.directives.push_back(std::move(*d));
    }
    out.record = std::move(record);
    return out;
}

bool valid_macro_string(std::string_view text, MacroUse use) {
    auto yes = [](auto&&) { return true; };
    return walk(text, use, yes, yes, yes);
}

bool valid_domain_spec(std::string_view text) {
    // domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand
    if (text.empty()) return false;
    std::size_t literal_start = 0;  // where the literal text after the last macro-expand begins
    std::size_t at = 0;
    auto literal = [&](char) {
        ++at;
        return true;
    };
    auto macro = [&](const Macro& m) {
        at = m.end;
        literal_start = at;
        return true;
    };
    auto escape = [&](char) {
        at += 2;
        literal_start = at;
        return true;
    };
    if (!walk(text, MacroUse::DomainSpec, literal, macro, escape)) return false;
    std::string_view tail = text.substr(literal_start);
    if (tail.empty()) return true;  // ends with a macro-expand
    if (tail.back() == '.') tail.remove_suffix(1);
    const auto dot = tail.rfind('.');
    if (dot == std::string_view::npos) return false;
    return is_toplabel(tail.substr(dot + 1));
}

bool uses_validated_name(std::string_view text) {
    bool found = false;
    auto yes = [](auto&&) { return true; };
    auto macro = [&](const Macro& m) {
        found = found || m.letter == 'p';
        return true;
    };
    walk(text, MacroUse::Explanation, yes, macro, yes);
    return found;
}

std::optional<std::string> expand(std::string_view text, const MacroContext& context, MacroUse use) {
    std::string out;
    auto literal = [&](char c) {
        out += c;
        return out.size() <= kMaxExpansion;
    };
    auto macro = [&](const Macro& m) {
        std::string value = transform(value_of(m, context), m);
        if (m.escape) {
            for (char c : value) {
                if (is_unreserved(c)) out += c;
                else out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
            }
        } else {
            out += value;
        }
        return out.size() <= kMaxExpansion;
    };
    auto escape = [&](char c) {
        if (c == '-') out += "%20";
        else out += c;
        return out.size() <= kMaxExpansion;
    };
    if (!walk(text, use, literal, macro, escape)) return std::nullopt;
    return out;
}

std::string fit_domain(std::string name) {
    if (!name.empty() && name.back() == '.') name.pop_back();
    while (name.size() > 253) {
        auto dot = name.find('.');
        if (dot == std::string::npos) break;
        name.erase(0, dot + 1);
    }
    return name;
}

boost::asio::ip::address effective_client(const boost::asio::ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
    return a;
}

std::string dotted_address(const boost::asio::ip::address& address) {
    const auto a = effective_client(address);
    if (a.is_v4()) return a.to_string();
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char byte : a.to_v6().to_bytes()) {
        if (!out.empty()) out += '.';
        out += kHex[byte >> 4];
        out += '.';
        out += kHex[byte & 0xF];
    }
    return out;
}

}  // namespace edge::auth::spf
