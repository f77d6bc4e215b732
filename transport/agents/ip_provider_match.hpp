// IP Block List providers (DNSBL) and IP Allow List providers (DNSWL), the pure core:
// what is asked (RFC 5782 §2.1 query names), which answers are listings (AnyMatch,
// BitmaskMatch, IPAddressesMatch) and what all providers' answers add up to (allow
// lists first; block-list weights against the threshold; priority names the one who
// blocks). No sockets and no clock: ip_providers.cpp asks DNS and hands the answers here.
#pragma once

#include "typed_settings.hpp"

// <utility> before Asio: Boost's awaitable.hpp needs std::exchange (see receive/asio.hpp).
#include <utility>

#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::agents {

// Exchange's text when a provider has no RejectionResponse (the one seen from Exchange
// Edge servers in the wild; reference §9.1 marks it unconfirmed for 2007).
inline constexpr std::string_view kDefaultProviderRejectionResponse =
    "Recipient not authorized, your IP has been found on a block list";

// One provider, as the check uses it.
struct IpListProvider {
    std::string name;
    std::string lookup_domain;  // lower case, without a trailing dot
    bool any_match = false;
    std::optional<std::uint32_t> bitmask;          // BitmaskMatch, host order (127.x.y.z)
    std::vector<std::uint32_t> addresses_match;    // IPAddressesMatch, host order
    std::uint64_t priority = 1;
    std::uint64_t weight = 1;         // block lists; allow lists need no score
    std::string rejection_response;   // block lists: never empty (the default filled in)
};
IpListProvider block_list_provider(const config::IPBlockListProviderSettings& s);
IpListProvider allow_list_provider(const config::IPAllowListProviderSettings& s);

// The name asked for `client` under `lookup_domain` (RFC 5782 §2.1, §2.4): reversed
// octets for IPv4 ("2.0.0.127.zen.test"), reversed nibbles for IPv6; an IPv4-mapped
// IPv6 client (::ffff:192.0.2.1) is asked as the IPv4 address it is.
std::string provider_query_name(const boost::asio::ip::address& client, std::string_view lookup_domain);
// The address as the lists know it: IPv4-mapped IPv6 unwrapped.
boost::asio::ip::address listed_form(const boost::asio::ip::address& client);

// Which of a provider's answers are listings. Only 127.0.0.0/8 answers can be
// (RFC 5782 §2.1), and not 127.255.255.0/24 either: Spamhaus and others answer there
// for "you queried through a public resolver / over quota / misspelt zone", which
// would otherwise list every client. Those, and answers outside 127/8 (a parked,
// wildcarded list domain), are `not_listings`, for the log.
// Of the listings: AnyMatch, or neither BitmaskMatch nor IPAddressesMatch set → every
// one matches (Exchange's behaviour without a rule); else an answer matches when it
// shares a bit with BitmaskMatch in its low 24 bits (127.0.0.x masks: the last octet)
// or is one of IPAddressesMatch.
struct AnswerMatch {
    std::vector<std::string> matched;       // the answers that matched, as text
    std::vector<std::string> not_listings;  // answers that cannot be listings
    bool listed() const { return !matched.empty(); }
};
AnswerMatch match_answers(const IpListProvider& p, const std::vector<boost::asio::ip::address>& answers);

// What one provider said to one query.
struct ProviderReply {
    enum class Status : std::uint8_t {
        Answered,   // A records (maybe none of them a listing)
        NotListed,  // NXDOMAIN or no A record: the client is not on the list
        Failed,     // timed out, SERVFAIL, REFUSED, no server: never counts (fail open)
    };
    Status status = Status::Failed;
    std::vector<boost::asio::ip::address> addresses;  // Answered
    std::string error;                                // Failed: why
};

// The providers of one config generation, in priority order, and how they combine.
struct IpProviderSet {
    std::vector<IpListProvider> allow;  // by Priority
    std::vector<IpListProvider> block;  // by Priority
    std::uint64_t threshold = 1;
    std::chrono::milliseconds timeout{5000};
    std::vector<std::string> bypassed_recipients;  // canonical form
};

// The verdict of all answers (`allow_replies[i]` is `set.allow[i]`'s, likewise block).
struct ProviderDecision {
    enum class Kind : std::uint8_t { NotListed, Blocked, AllowListed };
    Kind kind = Kind::NotListed;
    std::string provider;            // AllowListed / Blocked: the first provider (by priority) that decided
    std::string rejection_response;  // Blocked: that provider's
    // AllowListed: "list.dnswl.test (127.0.0.10)". Blocked: every matched block-list
    // provider in priority order with its answers and weight, and the score:
    // "zen.test (127.0.0.2, weight 1); weak.test (127.0.0.4, weight 1); score 2, threshold 2".
    // NotListed: the listings that stayed under the threshold, or empty.
    std::string reason_data;
    // Providers that did not answer in time or failed, and answers that are not
    // listings: one line each, naming the provider ("slow.test: no answer within 1000 ms").
    std::vector<std::string> failures;
};
ProviderDecision decide(const IpProviderSet& set, const std::vector<ProviderReply>& allow_replies,
                        const std::vector<ProviderReply>& block_replies);

}  // namespace edge::agents
