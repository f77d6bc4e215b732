// Asking the IP Block / Allow List providers: every enabled provider of both kinds at
// once, through one shared DNS resolver, the whole check bounded by LookupTimeout. A
// provider that has not answered by then counts as a failure and never blocks mail.
// The rules that judge the answers are ip_provider_match.* (pure).
#pragma once

#include "ip_provider_match.hpp"

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace edge::dns {
class DnsResolver;
struct DnsOptions;
}  // namespace edge::dns

namespace edge::agents {

// One A lookup of a query name. The real one is the resolver's resolve_a; tests give
// one that answers at once, fails, or never answers. It must honour per-operation
// cancellation (the resolver's lookups do): the check cancels it at the deadline.
using AddressLookup = std::function<boost::asio::awaitable<ProviderReply>(std::string query_name)>;
// Through `resolver` (kept alive by the returned function): Ok → Answered,
// NXDOMAIN / no A record → NotListed, SERVFAIL / REFUSED / timeout → Failed.
AddressLookup resolver_lookup(std::shared_ptr<dns::DnsResolver> resolver);

struct ProviderReplies {
    std::vector<ProviderReply> allow;  // one per set.allow, same order
    std::vector<ProviderReply> block;  // one per set.block
};
// Asks every provider of `set` about `client` concurrently on the caller's executor,
// and returns by `set.timeout` at the latest: a lookup still running then is
// cancelled (and awaited: nothing outlives the call) and reported Failed.
boost::asio::awaitable<ProviderReplies> ask_providers(AddressLookup lookup, const IpProviderSet& set,
                                                      boost::asio::ip::address client);

// The DNS servers the receive side asks (TransportServer InternalDNSServers, else
// /etc/resolv.conf), as edgectl's Test-IPBlockListProvider uses them.
dns::DnsOptions receive_dns_options(const config::TransportServerSettings& s);

}  // namespace edge::agents
