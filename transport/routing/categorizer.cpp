// Connector selection for one recipient domain: score every enabled connector by its
// best-matching address space, keep the best by (specificity, cost, name).
#include "categorizer.hpp"

#include "text.hpp"

#include <optional>

namespace edge::routing {

const char* to_string(RouteKind k) { return k == RouteKind::NextHop ? "NextHop" : "Unreachable"; }

const char* to_string(DeliveryKind k) {
    return k == DeliveryKind::Dns ? "DnsConnectorDelivery" : "SmartHostConnectorDelivery";
}

Categorizer::Categorizer(AcceptedDomainTable domains, std::vector<SendConnectorRoute> connectors)
    : domains_(std::move(domains)), connectors_(std::move(connectors)) {}

namespace {

struct Candidate {
    const SendConnectorRoute* connector = nullptr;
    Specificity specificity = 0;
    std::uint32_t cost = 0;
};

// Whether a is the better choice: more specific, then cheaper, then the lower name.
bool better(const Candidate& a, const Candidate& b) {
    if (a.specificity != b.specificity) return a.specificity > b.specificity;
    if (a.cost != b.cost) return a.cost < b.cost;
    const std::string an = to_lower(a.connector->name), bn = to_lower(b.connector->name);
    if (an != bn) return an < bn;
    return a.connector->name < b.connector->name;
}

}  // namespace

Route Categorizer::route(std::string_view recipient_domain) const {
    const std::string domain = normalize_domain(recipient_domain);
    Route r;
    if (domain.empty()) {
        r.reason = "the recipient has no domain";
        return r;
    }
    std::optional<Candidate> best;
    for (const auto& c : connectors_) {
        if (!c.enabled) continue;
        for (const auto& space : c.address_spaces) {
            auto s = match_address_space(space, domain, domains_);
            if (!s) continue;
            Candidate cand{&c, *s, space.cost};
            if (!best || better(cand, *best)) best = cand;
        }
    }
    if (!best) {
        r.reason = "no enabled Send connector has an address space matching " + domain;
        return r;
    }
    const SendConnectorRoute& c = *best->connector;
    if (!c.dns_routing_enabled && c.smart_hosts.empty()) {
        r.connector = c.name;
        r.reason = "Send connector " + c.name + " matches " + domain + " but has DNS routing off and no smart hosts";
        return r;
    }
    r.kind = RouteKind::NextHop;
    r.connector = c.name;
    r.max_message_size = c.max_message_size;
    if (c.dns_routing_enabled) {
        r.delivery = DeliveryKind::Dns;
        r.next_hop_domain = domain;
    } else {
        r.delivery = DeliveryKind::SmartHost;
        r.next_hop_domain = to_lower(c.name);
    }
    return r;
}

}  // namespace edge::routing
