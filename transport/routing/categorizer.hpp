// The categorizer's routing decision (reference §2.2): a recipient domain in, the
// next-hop queue it goes to out, or Unreachable with the reason. Pure: no DNS, no
// queue; the Send connectors and accepted domains come in as values.
#pragma once

#include "accepted_domains.hpp"
#include "address_space.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace edge::routing {

enum class RouteKind : std::uint8_t { NextHop, Unreachable };
// Exchange's DeliveryType: DnsConnectorDelivery / SmartHostConnectorDelivery.
enum class DeliveryKind : std::uint8_t { Dns, SmartHost };

const char* to_string(RouteKind);
const char* to_string(DeliveryKind);  // "DnsConnectorDelivery", "SmartHostConnectorDelivery"

// What routing needs to know of a Send connector.
struct SendConnectorRoute {
    std::string name;
    std::vector<AddressSpace> address_spaces;
    bool enabled = true;
    bool dns_routing_enabled = true;   // DNSRoutingEnabled
    std::vector<std::string> smart_hosts;  // SmartHosts, used when DNS routing is off
    std::uint64_t max_message_size = 0;    // MaxMessageSize; 0 = unlimited
};

struct Route {
    RouteKind kind = RouteKind::Unreachable;
    // The NextHopDomain, the name of the queue: the recipient domain for DNS routing
    // (one queue per domain); the connector's name in lower case for smart hosts
    // (one queue per connector). Empty when Unreachable.
    std::string next_hop_domain;
    DeliveryKind delivery = DeliveryKind::Dns;  // meaningless when Unreachable
    std::string connector;                      // the winning Send connector's name
    std::uint64_t max_message_size = 0;         // the winning connector's; 0 = unlimited
    std::string reason;                         // why Unreachable; empty otherwise
};

class Categorizer {
public:
    Categorizer(AcceptedDomainTable domains, std::vector<SendConnectorRoute> connectors);

    // The recipient's domain (any case, a trailing dot ignored) -> its next hop. Among
    // enabled connectors whose address spaces match, the most specific match wins
    // (exact > longer wildcard > shorter wildcard > "*"; "--" as its accepted domain),
    // then the lowest cost, then the connector name (ASCII case-insensitive, then
    // byte order). A message larger than the winner's MaxMessageSize does not fall
    // through to another connector: the send side enforces route.max_message_size.
    // The winner is a connector with DNS routing off and no smart hosts ⇒ Unreachable
    // (falling through would send inward mail to the internet).
    Route route(std::string_view recipient_domain) const;

    // May RCPT accept this domain without the relay right? The accepted domain of any
    // type that governs it, or nullptr.
    const AcceptedDomain* accepted(std::string_view domain) const { return domains_.find(domain); }

    const AcceptedDomainTable& accepted_domains() const { return domains_; }
    const std::vector<SendConnectorRoute>& connectors() const { return connectors_; }

private:
    AcceptedDomainTable domains_;
    std::vector<SendConnectorRoute> connectors_;
};

}  // namespace edge::routing
