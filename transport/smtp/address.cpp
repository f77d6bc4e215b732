// Mailbox syntax and canonical addresses. IDNA2008 by libidn2, Unicode case folding and
// NFC by libunistring (Debian libidn2-dev, libunistring-dev): both pure functions, no I/O.
#include "address.hpp"

#include "text_helpers.hpp"

#include <arpa/inet.h>
#include <idn2.h>
#include <unicase.h>
#include <uninorm.h>

#include <array>
#include <cstdlib>
#include <memory>

namespace edge::smtp {

namespace {

bool is_ascii_alnum(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = ascii_lower(c);
    return out;
}


bool has_control(std::string_view s) { return has_control_byte(s); }

// RFC 5322 atext (RFC 5321 §4.1.2 Atom), plus UTF-8 when SMTPUTF8 is on (RFC 6531 §3.3).
bool is_atext(unsigned char c, bool utf8) {
    if (c >= 0x80) return utf8;
    if (is_ascii_alnum(c)) return true;
    static constexpr std::string_view specials = "!#$%&'*+-/=?^_`{|}~";
    return specials.find(static_cast<char>(c)) != std::string_view::npos;
}

// RFC 5321 §4.1.2 Dot-string: atoms joined by single dots.
bool is_dot_string(std::string_view s, bool utf8) {
    bool dot_ok = false;
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '.') {
            if (!dot_ok) return false;
            dot_ok = false;
        } else if (is_atext(c, utf8)) {
            dot_ok = true;
        } else {
            return false;
        }
    }
    return dot_ok;
}

bool valid_local_part(std::string_view s, bool utf8) {
    if (s.empty() || s.size() > 64) return false;  // RFC 5321 §4.5.3.1.1
    if (s.front() != '"') return is_dot_string(s, utf8);
    // Quoted-string: qtextSMTP is %d32-33 / %d35-91 / %d93-126 (+ UTF-8, RFC 6531);
    // quoted-pairSMTP is "\" %d32-126. No tab, no control byte.
    if (s.size() < 2 || s.back() != '"') return false;
    for (std::size_t i = 1; i + 1 < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '\\') {
            if (i + 2 >= s.size()) return false;
            const auto q = static_cast<unsigned char>(s[++i]);
            if (q < 32 || q > 126) return false;
        } else if (c == '"' || c < 32 || c == 127 || (c >= 0x80 && !utf8)) {
            return false;
        }
    }
    return true;
}

struct MallocFree {
    void operator()(void* p) const { std::free(p); }
};

// Full Unicode case folding with NFC (libunistring u8_casefold), so "Ü", "ü" and the
// decomposed "u\u0308" are one; ASCII needs only lower case.
std::optional<std::string> fold_case(std::string_view s) {
    if (!text::has_non_ascii(s)) return ascii_lower(s);
    std::size_t n = 0;
    std::unique_ptr<uint8_t, MallocFree> folded(
        u8_casefold(reinterpret_cast<const uint8_t*>(s.data()), s.size(), nullptr, UNINORM_NFC, nullptr, &n));
    if (!folded) return std::nullopt;
    return std::string(reinterpret_cast<const char*>(folded.get()), n);
}

std::optional<std::string> canonical_address_literal(std::string_view s) {
    if (s.size() < 3 || s.size() > 64 || s.front() != '[' || s.back() != ']') return std::nullopt;
    std::string inner(s.substr(1, s.size() - 2));
    std::array<unsigned char, 16> buf{};
    std::array<char, INET6_ADDRSTRLEN> text{};
    if (inner.size() > 5 && edge::text::istarts_with(inner, "IPv6:")) {
        if (::inet_pton(AF_INET6, inner.c_str() + 5, buf.data()) != 1) return std::nullopt;
        ::inet_ntop(AF_INET6, buf.data(), text.data(), text.size());
        return "[IPv6:" + std::string(text.data()) + "]";
    }
    // RFC 5321 §4.1.3: no other tag (General-address-literal) is one we can deliver to.
    if (::inet_pton(AF_INET, inner.c_str(), buf.data()) != 1) return std::nullopt;
    ::inet_ntop(AF_INET, buf.data(), text.data(), text.size());
    return "[" + std::string(text.data()) + "]";
}

bool has_a_label(std::string_view d) {
    for (std::size_t start = 0; start < d.size();) {
        const auto dot = d.find('.', start);
        const std::string_view label = d.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (text::istarts_with(label, "xn--")) return true;
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    return false;
}

}  // namespace

const char* to_string(AddressError e) {
    switch (e) {
        case AddressError::None: return "ok";
        case AddressError::Syntax: return "no '@' outside quotes";
        case AddressError::LocalPart: return "invalid local part";
        case AddressError::Domain: return "invalid domain";
        case AddressError::ControlByte: return "control byte";
        case AddressError::Utf8: return "invalid UTF-8";
    }
    return "?";
}

bool has_control_byte(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7f) return true;
        if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9f &&
            static_cast<unsigned char>(s[i + 1]) >= 0x80)
            return true;
    }
    return false;
}

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

bool valid_domain(std::string_view d) {
    if (d.empty() || d.size() > 255) return false;
    std::size_t label = 0;
    char prev = '.';
    for (char ch : d) {
        auto c = static_cast<unsigned char>(ch);
        if (c == '.') {
            if (label == 0 || prev == '-') return false;
            label = 0;
        } else if (is_ascii_alnum(c) || (c == '-' && label > 0)) {
            if (++label > 63) return false;
        } else {
            return false;
        }
        prev = ch;
    }
    return label > 0 && prev != '-';
}

bool valid_address_literal(std::string_view literal) { return canonical_address_literal(literal).has_value(); }

std::optional<Mailbox> split_mailbox(std::string_view s) {
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
    if (quoted || at == std::string_view::npos) return std::nullopt;
    return Mailbox{std::string(s.substr(0, at)), std::string(s.substr(at + 1))};
}

bool is_idn(std::string_view d) { return text::has_non_ascii(d) || has_a_label(d); }

std::optional<std::string> canonical_domain(std::string_view d) { return canonical_domain(d, nullptr); }

std::optional<std::string> canonical_domain(std::string_view d, std::string* why) {
    auto no = [why](const char* reason) -> std::optional<std::string> {
        if (why != nullptr) *why = reason;
        return std::nullopt;
    };
    if (d.empty()) return no("empty");
    if (d.size() > 255) return no("longer than 255 octets");
    if (has_control(d)) return no("a control character");
    if (d.front() == '[') {
        if (auto literal = canonical_address_literal(d)) return literal;
        return no("not an address literal");
    }
    if (d.size() > 1 && d.back() == '.') d.remove_suffix(1);  // RFC 1034 §3.1: the root's dot
    // Only LDH and dots in ASCII, before libidn2 sees it: with STD3 rules it silently
    // drops ',', ';' or '"' ("a,b;c" -> "abc"), which must be refused instead.
    for (char ch : d) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x80 && !is_ascii_alnum(c) && c != '-' && c != '.') return no("a character other than letters, digits, '-' and '.'");
    }
    std::string out;
    if (is_idn(d)) {
        if (!valid_utf8(d)) return no("not UTF-8");
        // IDNA2008 lookup (RFC 5891 §5) with UTS #46 non-transitional mapping: case folds
        // U-labels, checks A-labels, keeps ß and ς (what browsers and registries do).
        const std::string z(d);
        char* ascii = nullptr;
        const int rc = ::idn2_lookup_u8(reinterpret_cast<const uint8_t*>(z.c_str()), reinterpret_cast<uint8_t**>(&ascii),
                                        IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
        if (rc != IDN2_OK) return no(::idn2_strerror(rc));
        std::unique_ptr<char, MallocFree> owned(ascii);
        out = ascii_lower(ascii);
    } else {
        out = ascii_lower(d);
    }
    // Whatever came back must be a host name: mappings may produce punctuation.
    if (!valid_domain(out)) return no("not a host name (letters, digits and inner hyphens, labels of 1 to 63 octets)");
    return out;
}

std::string canonical_domain_of(std::string_view address) {
    const auto at = address.rfind('@');
    if (at == std::string_view::npos) return {};
    return canonical_domain(address.substr(at + 1)).value_or("");
}

std::optional<std::string> canonical_local_part(std::string_view local) {
    if (has_control(local)) return std::nullopt;
    const bool utf8 = text::has_non_ascii(local);
    if (utf8 && !valid_utf8(local)) return std::nullopt;
    if (!valid_local_part(local, utf8)) return std::nullopt;
    std::string content;
    if (local.front() == '"') {
        for (std::size_t i = 1; i + 1 < local.size(); ++i) {
            if (local[i] == '\\') ++i;  // quoted-pair: the next character as itself
            content.push_back(local[i]);
        }
    } else {
        content = std::string(local);
    }
    auto folded = fold_case(content);
    if (!folded) return std::nullopt;
    // RFC 5321 §4.1.2: a Quoted-string that is also a Dot-string is the same local part.
    std::string out;
    if (is_dot_string(*folded, utf8)) {
        out = std::move(*folded);
    } else {
        out = "\"";
        for (char c : *folded) {
            if (c == '"' || c == '\\') out.push_back('\\');
            out.push_back(c);
        }
        out += "\"";
    }
    // Unicode case folding may lengthen a local part (U+023A, 2 octets, folds to U+2C65,
    // 3): the canonical form must itself be a local part MAIL/RCPT accept (64 octets,
    // RFC 5321 §4.5.3.1.1), so canonicalising it again changes nothing (found by the
    // address fuzz target). check_mailbox refuses such an address at RCPT.
    if (!valid_local_part(out, utf8)) return std::nullopt;
    return out;
}

AddressError check_mailbox(const Mailbox& m, bool utf8) {
    if (has_control(m.local) || has_control(m.domain)) return AddressError::ControlByte;
    if (utf8 ? !(valid_utf8(m.local) && valid_utf8(m.domain)) : (text::has_non_ascii(m.local) || text::has_non_ascii(m.domain)))
        return AddressError::Utf8;
    if (!valid_local_part(m.local, utf8)) return AddressError::LocalPart;
    // Case folding of ASCII never changes the length; of UTF-8 it may (see above).
    if (text::has_non_ascii(m.local) && !canonical_local_part(m.local)) return AddressError::LocalPart;
    if (!canonical_domain(m.domain)) return AddressError::Domain;
    return AddressError::None;
}

CanonicalAddress canonical_address(const Mailbox& m) {
    CanonicalAddress r;
    if (m.null()) {
        r.error = AddressError::Syntax;
        return r;
    }
    const bool utf8 = text::has_non_ascii(m.local) || text::has_non_ascii(m.domain);
    r.error = check_mailbox(m, utf8);
    if (r.error != AddressError::None) return r;
    auto local = canonical_local_part(m.local);
    auto domain = canonical_domain(m.domain);
    if (!local) {
        r.error = AddressError::LocalPart;
    } else if (!domain) {
        r.error = AddressError::Domain;
    } else {
        r.local = std::move(*local);
        r.domain = std::move(*domain);
    }
    return r;
}

CanonicalAddress canonical_address(std::string_view address) {
    CanonicalAddress r;
    if (has_control(address)) {
        r.error = AddressError::ControlByte;
        return r;
    }
    if (text::has_non_ascii(address) && !valid_utf8(address)) {
        r.error = AddressError::Utf8;
        return r;
    }
    auto m = split_mailbox(address);
    if (!m) {
        r.error = AddressError::Syntax;
        return r;
    }
    return canonical_address(*m);
}

}  // namespace edge::smtp
