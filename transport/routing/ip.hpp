// IP addresses, Exchange RemoteIPRanges entries and Receive connector Bindings
// (reference §1.2). One representation for both families: 16 bytes, IPv4 held as
// IPv4-mapped IPv6 (RFC 4291 §2.5.5.2), so a client seen on a dual-stack socket as
// ::ffff:192.0.2.1 is the same address as 192.0.2.1 and one comparison serves both.
#pragma once

#include "parse_result.hpp"

#include <array>
#include <compare>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace edge::routing {

class IpAddress {
public:
    using Bytes = std::array<std::uint8_t, 16>;

    IpAddress() = default;  // :: (the IPv6 unspecified address)
    explicit IpAddress(const Bytes& bytes) : bytes_(bytes) {}
    static IpAddress v4(std::uint32_t host_order);
    static IpAddress any_v4() { return v4(0); }  // 0.0.0.0
    static IpAddress any_v6() { return IpAddress(); }  // ::

    // "192.0.2.1", "::1", "2001:db8::1", "[::1]", "[192.0.2.1]", "::ffff:192.0.2.1" (is_v4).
    // Strict: no leading zeros in IPv4 parts, no zone ids ("%eth0"), no surrounding space.
    static ParseResult<IpAddress> parse(std::string_view text);

    bool is_v4() const;          // IPv4, however it was written
    bool is_unspecified() const;  // 0.0.0.0 or ::
    std::uint32_t v4_value() const;  // host order; meaningful when is_v4()
    const Bytes& bytes() const { return bytes_; }

    // IPv4 in dotted quad; IPv6 in RFC 5952 form (lower case, longest zero run as ::).
    std::string str() const;

    friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
    friend bool operator==(const IpAddress&, const IpAddress&) = default;

private:
    Bytes bytes_{};
};

// An unsigned 128-bit count, for range sizes ("most specific" = smallest).
struct Count128 {
    std::uint64_t high = 0;
    std::uint64_t low = 0;
    friend auto operator<=>(const Count128&, const Count128&) = default;
    friend bool operator==(const Count128&, const Count128&) = default;
};

// One RemoteIPRanges entry: a single address, a range "first-last" (same family,
// first <= last), or a CIDR block "network/length" (IPv4 0..32, IPv6 0..128).
// A range holds addresses of its own family only: 0.0.0.0-255.255.255.255 is every
// IPv4 client and no IPv6 one; ::/0 is every IPv6 client and no IPv4 one.
class IpRange {
public:
    enum class Form : std::uint8_t { Single, Range, Cidr };

    // Accepts the three forms with optional spaces around '-' and '/'. A CIDR block
    // with host bits set ("192.0.2.77/24") is accepted, stored as its network
    // (192.0.2.0/24), and the result's warning says so. IPv4-mapped IPv6 text counts
    // as IPv4 ("::ffff:192.0.2.0/120" is 192.0.2.0/24).
    static ParseResult<IpRange> parse(std::string_view text);

    static IpRange single(IpAddress a);
    static IpRange whole_v4();  // 0.0.0.0/0
    static IpRange whole_v6();  // ::/0

    Form form() const { return form_; }
    const IpAddress& first() const { return first_; }
    const IpAddress& last() const { return last_; }
    bool is_v4() const { return first_.is_v4(); }
    // The prefix length as written for Form::Cidr (IPv4 0..32, IPv6 0..128).
    unsigned prefix_length() const { return prefix_; }

    bool contains(const IpAddress& a) const;
    // last - first: the number of addresses minus one. Exact for every range (::/0 too).
    Count128 span() const;
    // The number of addresses; ::/0 (2^128) saturates to 2^128 - 1.
    Count128 size() const;

    // The canonical text of the form it was written in: "192.0.2.1",
    // "192.0.2.1-192.0.2.9", "192.0.2.0/24", "2001:db8::/32". parse(str()) == *this.
    std::string str() const;

    // Equal when they hold the same addresses, whatever form they were written in
    // (192.0.2.0/24 == 192.0.2.0-192.0.2.255).
    friend bool operator==(const IpRange& a, const IpRange& b) { return a.first_ == b.first_ && a.last_ == b.last_; }

private:
    IpRange(Form f, IpAddress first, IpAddress last, unsigned prefix) : form_(f), first_(first), last_(last), prefix_(prefix) {}
    Form form_ = Form::Single;
    IpAddress first_, last_;
    unsigned prefix_ = 0;
};

// The smallest range that contains the address (a Receive connector is chosen by the
// most specific RemoteIPRanges match, reference §1.2); the earliest of equal sizes.
// nullptr when none contains it.
const IpRange* most_specific(std::span<const IpRange> ranges, const IpAddress& a);

// A Receive connector binding: the local address and TCP port it listens on.
struct Binding {
    IpAddress address;
    std::uint16_t port = 25;

    // "0.0.0.0:25", "192.0.2.1:2525", "[::]:25", "[2001:db8::1]:25"; port 1..65535.
    // IPv6 addresses need the brackets (the last ':' would be ambiguous without them).
    static ParseResult<Binding> parse(std::string_view text);

    bool is_any() const { return address.is_unspecified(); }  // 0.0.0.0 or ::
    std::string str() const;  // "0.0.0.0:25", "[::]:25"

    friend bool operator==(const Binding&, const Binding&) = default;
};

// Whether a connection accepted on local:port belongs to this binding: same port, and
// the same address, or the binding is 0.0.0.0 and the local address IPv4, or the
// binding is [::] (a dual-stack socket takes IPv4 clients too, as v4-mapped).
bool binding_matches(const Binding& b, const IpAddress& local, std::uint16_t port);

// The best binding for a connection among several: an exact address beats 0.0.0.0,
// which beats [::] for an IPv4 local address. nullptr when none matches.
const Binding* best_binding(std::span<const Binding> bindings, const IpAddress& local, std::uint16_t port);

}  // namespace edge::routing
