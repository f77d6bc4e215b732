// SPF records without I/O (RFC 7208 §4.5, §4.6, §5, §6, §7): which TXT record is an SPF
// record, its terms read into directives and modifiers, and macro strings checked and
// expanded. The evaluator (spf.*) does the DNS; the spf_record fuzz target feeds this.
#pragma once

#include "auth_result.hpp"

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::auth::spf {

enum class MechanismKind : std::uint8_t { All, Include, A, Mx, Ptr, Ip4, Ip6, Exists };

// One directive: [qualifier] mechanism (RFC 7208 §4.6.1, §5).
struct Directive {
    Result qualifier = Result::Pass;  // '+' Pass, '-' Fail, '~' SoftFail, '?' Neutral
    MechanismKind kind = MechanismKind::All;
    std::string domain_spec;            // include, a, mx, ptr, exists; empty: the current domain
    boost::asio::ip::address network;  // ip4, ip6
    int cidr4 = 32;                     // ip4, a, mx: the prefix compared for an IPv4 client
    int cidr6 = 128;                    // ip6, a, mx: for an IPv6 client
    std::string text;                   // as written ("-ip4:192.0.2.0/24"), for Authentication-Results
};

struct Record {
    std::vector<Directive> directives;
    std::optional<std::string> redirect;  // domain-spec (§6.1)
    std::optional<std::string> exp;       // domain-spec (§6.2)
};

struct ParsedRecord {
    std::optional<Record> record;
    std::string problem;  // why not: the PermError's reason
};

// RFC 7208 §4.5: "v=spf1" (any case) alone or followed by a space.
bool is_spf_record(std::string_view txt);

// RFC 7208 §4.6: the whole record, or a PermError's reason for its first syntax error
// (§4.6: any syntax error anywhere fails the record before anything is evaluated).
// Linear in the record's length.
ParsedRecord parse_record(std::string_view txt);

// Where a macro string is used: c, r and t only in explanations (§7.2); spaces only there.
enum class MacroUse : std::uint8_t { DomainSpec, Explanation };

// What the macros of §7.3 stand for in one evaluation.
struct MacroContext {
    std::string sender;         // s: local-part@domain
    std::string local_part;     // l
    std::string sender_domain;  // o
    std::string domain;         // d: the current domain
    boost::asio::ip::address client;  // i, c, v
    std::string validated;      // p: the validated name of the client, or "unknown"
    std::string helo;           // h
    std::string receiver;       // r: "unknown" when empty
    std::uint64_t timestamp = 0;  // t
};

// Syntax only: a macro-string of §7.1 (and for a DomainSpec, its domain-end).
bool valid_macro_string(std::string_view text, MacroUse use);
bool valid_domain_spec(std::string_view text);
// Whether expanding `text` needs %{p} (the caller then finds the validated name: DNS).
bool uses_validated_name(std::string_view text);

// The expansion of a macro-string checked by valid_macro_string; std::nullopt when it is
// not one, or grows past kMaxExpansion octets.
inline constexpr std::size_t kMaxExpansion = 8192;
std::optional<std::string> expand(std::string_view text, const MacroContext& context, MacroUse use);

// §7.3: an expanded name longer than 253 octets loses labels from the left until it
// fits; a trailing dot goes.
std::string fit_domain(std::string name);

// %{i}: dotted decimal for IPv4, 32 dot-separated nibbles for IPv6 (§7.3); an IPv4-mapped
// IPv6 address is its IPv4 address (§5: such clients are IPv4).
std::string dotted_address(const boost::asio::ip::address& a);
boost::asio::ip::address effective_client(const boost::asio::ip::address& a);

}  // namespace edge::auth::spf
