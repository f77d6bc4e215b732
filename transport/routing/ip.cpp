// IP addresses, ranges and bindings: parsing (inet_pton does the address syntax),
// canonical text (our own RFC 5952 printer, so the text is the same on every libc)
// and the containment and size arithmetic on 16-byte big-endian values.
#include "ip.hpp"

#include "text.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>

namespace edge::routing {

namespace {

constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

std::uint64_t load64(const IpAddress::Bytes& b, std::size_t at) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | b[at + i];
    return v;
}

Count128 to_count(const IpAddress& a) { return {load64(a.bytes(), 0), load64(a.bytes(), 8)}; }

Count128 minus(Count128 a, Count128 b) {
    Count128 r;
    r.low = a.low - b.low;
    r.high = a.high - b.high - (a.low < b.low ? 1u : 0u);
    return r;
}

bool parse_decimal(std::string_view s, std::size_t max_digits, unsigned long& out) {
    if (s.empty() || s.size() > max_digits) return false;
    unsigned long v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<unsigned long>(c - '0');
    }
    out = v;
    return true;
}

}  // namespace

// --- IpAddress ---------------------------------------------------------------

IpAddress IpAddress::v4(std::uint32_t host_order) {
    Bytes b{};
    std::copy(std::begin(kMappedPrefix), std::end(kMappedPrefix), b.begin());
    b[12] = static_cast<std::uint8_t>(host_order >> 24);
    b[13] = static_cast<std::uint8_t>(host_order >> 16);
    b[14] = static_cast<std::uint8_t>(host_order >> 8);
    b[15] = static_cast<std::uint8_t>(host_order);
    return IpAddress(b);
}

bool IpAddress::is_v4() const { return std::equal(std::begin(kMappedPrefix), std::end(kMappedPrefix), bytes_.begin()); }

bool IpAddress::is_unspecified() const { return *this == any_v4() || *this == any_v6(); }

std::uint32_t IpAddress::v4_value() const {
    return (std::uint32_t{bytes_[12]} << 24) | (std::uint32_t{bytes_[13]} << 16) | (std::uint32_t{bytes_[14]} << 8) |
           std::uint32_t{bytes_[15]};
}

ParseResult<IpAddress> IpAddress::parse(std::string_view text) {
    const std::string_view original = text;
    auto fail = [&](std::string_view why) {
        return ParseResult<IpAddress>::fail(std::string(why) + ", not " + quote(original));
    };
    if (text.empty()) return ParseResult<IpAddress>::fail("expected an IP address such as 192.0.2.1 or 2001:db8::1, found nothing");
    if (text.front() == '[' || text.back() == ']') {
        if (text.size() < 2 || text.front() != '[' || text.back() != ']') return fail("expected a bracketed address such as [2001:db8::1]");
        text = text.substr(1, text.size() - 2);
    }
    if (text.find('%') != std::string_view::npos) return fail("expected an IP address without a zone id (%eth0)");
    // INET6_ADDRSTRLEN is 46; anything longer is not an address and never reaches inet_pton.
    if (text.empty() || text.size() > 45) return fail("expected an IP address such as 192.0.2.1 or 2001:db8::1");
    const std::string z(text);
    Bytes b{};
    if (z.find(':') != std::string::npos) {
        if (::inet_pton(AF_INET6, z.c_str(), b.data()) != 1) return fail("expected an IPv6 address such as 2001:db8::1");
        return ParseResult<IpAddress>::ok(IpAddress(b));
    }
    std::uint8_t v4bytes[4];
    if (::inet_pton(AF_INET, z.c_str(), v4bytes) != 1)
        return fail("expected an IPv4 address of four decimal parts 0..255 without leading zeros, such as 192.0.2.1");
    return ParseResult<IpAddress>::ok(v4((std::uint32_t{v4bytes[0]} << 24) | (std::uint32_t{v4bytes[1]} << 16) |
                                         (std::uint32_t{v4bytes[2]} << 8) | std::uint32_t{v4bytes[3]}));
}

std::string IpAddress::str() const {
    char buf[48];
    if (is_v4()) {
        std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", bytes_[12], bytes_[13], bytes_[14], bytes_[15]);
        return buf;
    }
    unsigned words[8];
    for (std::size_t i = 0; i < 8; ++i) words[i] = (unsigned{bytes_[2 * i]} << 8) | bytes_[2 * i + 1];
    // RFC 5952 §4.2: the longest run of two or more zero words becomes "::", the first on a tie.
    std::size_t best_at = 8, best_len = 0;
    for (std::size_t i = 0; i < 8;) {
        if (words[i] != 0) {
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < 8 && words[j] == 0) ++j;
        if (j - i > best_len) best_at = i, best_len = j - i;
        i = j;
    }
    if (best_len < 2) best_at = 8;
    std::string out;
    for (std::size_t i = 0; i < 8;) {
        if (i == best_at) {
            out += "::";
            i += best_len;
            continue;
        }
        if (!out.empty() && out.back() != ':') out += ':';
        std::snprintf(buf, sizeof buf, "%x", words[i]);  // RFC 5952 §4.3: lower case, no leading zeros
        out += buf;
        ++i;
    }
    return out;
}

// --- IpRange -----------------------------------------------------------------

IpRange IpRange::single(IpAddress a) { return IpRange(Form::Single, a, a, a.is_v4() ? 32u : 128u); }

IpRange IpRange::whole_v4() { return IpRange(Form::Cidr, IpAddress::v4(0), IpAddress::v4(0xffffffffu), 0); }

IpRange IpRange::whole_v6() {
    IpAddress::Bytes ones;
    ones.fill(0xff);
    return IpRange(Form::Cidr, IpAddress::any_v6(), IpAddress(ones), 0);
}

ParseResult<IpRange> IpRange::parse(std::string_view text) {
    using R = ParseResult<IpRange>;
    const std::string_view original = text;
    text = trim(text);
    if (text.empty())
        return R::fail("expected an IP address, a range such as 192.0.2.1-192.0.2.9 or a CIDR block such as 192.0.2.0/24, found nothing");

    if (auto slash = text.find('/'); slash != std::string_view::npos) {
        auto base = IpAddress::parse(trim(text.substr(0, slash)));
        if (!base) return R::fail("in the CIDR block " + quote(original) + ": " + base.error);
        const bool written_v6 = text.substr(0, slash).find(':') != std::string_view::npos;
        const unsigned long max_len = written_v6 ? 128 : 32;
        unsigned long len = 0;
        if (!parse_decimal(trim(text.substr(slash + 1)), 3, len) || len > max_len)
            return R::fail("expected a prefix length from 0 to " + std::to_string(max_len) + " after '/', not " + quote(original));
        // The length in the 128-bit space: IPv4 sits behind the 96-bit v4-mapped prefix.
        unsigned long bits = written_v6 ? len : len + 96;
        if (base->is_v4() && bits < 96)
            return R::fail("an IPv4-mapped prefix must be /96 or longer (it would mix IPv4 and IPv6), not " + quote(original));
        IpAddress::Bytes lo = base->bytes(), hi = base->bytes();
        for (std::size_t i = 0; i < 16; ++i) {
            const unsigned long byte_start = i * 8;
            std::uint8_t mask = 0;
            if (bits >= byte_start + 8)
                mask = 0xff;
            else if (bits > byte_start)
                mask = static_cast<std::uint8_t>(0xff << (8 - (bits - byte_start)));
            lo[i] = static_cast<std::uint8_t>(lo[i] & mask);
            hi[i] = static_cast<std::uint8_t>(hi[i] | static_cast<std::uint8_t>(~mask));
        }
        const unsigned prefix = static_cast<unsigned>(base->is_v4() ? bits - 96 : bits);
        IpRange r(Form::Cidr, IpAddress(lo), IpAddress(hi), prefix);
        std::string warning;
        if (IpAddress(lo) != *base)
            warning = "host bits of " + std::string(trim(original)) + " are ignored: stored as " + r.str();
        return R::ok(r, std::move(warning));
    }

    if (auto dash = text.find('-'); dash != std::string_view::npos) {
        auto a = IpAddress::parse(trim(text.substr(0, dash)));
        if (!a) return R::fail("in the range " + quote(original) + ", the first address: " + a.error);
        auto b = IpAddress::parse(trim(text.substr(dash + 1)));
        if (!b) return R::fail("in the range " + quote(original) + ", the last address: " + b.error);
        if (a->is_v4() != b->is_v4())
            return R::fail("expected both ends of a range in the same family (IPv4 or IPv6), not " + quote(original));
        if (*b < *a) return R::fail("expected the first address of a range not to exceed the last, not " + quote(original));
        return R::ok(IpRange(Form::Range, *a, *b, 0));
    }

    auto a = IpAddress::parse(text);
    if (!a)
        return R::fail("expected an IP address, a range such as 192.0.2.1-192.0.2.9 or a CIDR block such as 192.0.2.0/24: " +
                       a.error);
    return R::ok(single(*a));
}

bool IpRange::contains(const IpAddress& a) const { return a.is_v4() == is_v4() && first_ <= a && a <= last_; }

Count128 IpRange::span() const { return minus(to_count(last_), to_count(first_)); }

Count128 IpRange::size() const {
    Count128 s = span();
    if (s.low != ~std::uint64_t{0}) {
        ++s.low;
    } else if (s.high != ~std::uint64_t{0}) {
        s.low = 0;
        ++s.high;
    }  // else 2^128: saturate
    return s;
}

std::string IpRange::str() const {
    switch (form_) {
    case Form::Single: return first_.str();
    case Form::Range: return first_.str() + "-" + last_.str();
    case Form::Cidr: return first_.str() + "/" + std::to_string(prefix_);
    }
    return first_.str();
}

const IpRange* most_specific(std::span<const IpRange> ranges, const IpAddress& a) {
    const IpRange* best = nullptr;
    for (const auto& r : ranges) {
        if (r.contains(a) && (best == nullptr || r.span() < best->span())) best = &r;
    }
    return best;
}

// --- Binding -----------------------------------------------------------------

ParseResult<Binding> Binding::parse(std::string_view text) {
    using R = ParseResult<Binding>;
    const std::string_view original = text;
    text = trim(text);
    std::string_view addr, port_text;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return R::fail("expected [IPv6]:port such as [::]:25 or [2001:db8::1]:25, not " + quote(original));
        addr = text.substr(1, close - 1);
        port_text = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos)
            return R::fail("expected IP:port such as 0.0.0.0:25, 192.0.2.1:2525 or [::]:25, not " + quote(original));
        addr = text.substr(0, colon);
        port_text = text.substr(colon + 1);
        if (addr.find(':') != std::string_view::npos)
            return R::fail("expected an IPv6 address in brackets, such as [::]:25 or [2001:db8::1]:25, not " + quote(original));
    }
    auto ip = IpAddress::parse(addr);
    if (!ip) return R::fail("in the binding " + quote(original) + ": " + ip.error);
    unsigned long port = 0;
    if (!parse_decimal(port_text, 5, port) || port < 1 || port > 65535)
        return R::fail("expected a TCP port from 1 to 65535 after the address, not " + quote(original));
    return R::ok(Binding{*ip, static_cast<std::uint16_t>(port)});
}

std::string Binding::str() const {
    const std::string a = address.str();
    return (address.is_v4() ? a : "[" + a + "]") + ":" + std::to_string(port);
}

namespace {
// 3 exact address, 2 the wildcard of the local address's family, 1 [::] for an IPv4
// local address (a dual-stack socket), 0 no match.
int binding_rank(const Binding& b, const IpAddress& local, std::uint16_t port) {
    if (b.port != port) return 0;
    if (b.address == local) return 3;
    if (b.address == IpAddress::any_v4()) return local.is_v4() ? 2 : 0;
    if (b.address == IpAddress::any_v6()) return local.is_v4() ? 1 : 2;
    return 0;
}
}  // namespace

bool binding_matches(const Binding& b, const IpAddress& local, std::uint16_t port) { return binding_rank(b, local, port) > 0; }

const Binding* best_binding(std::span<const Binding> bindings, const IpAddress& local, std::uint16_t port) {
    const Binding* best = nullptr;
    int best_rank = 0;
    for (const auto& b : bindings) {
        const int r = binding_rank(b, local, port);
        if (r > best_rank) best = &b, best_rank = r;
    }
    return best;
}

}  // namespace edge::routing
