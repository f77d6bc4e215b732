// Routing read from the config store: the categorizer and a recipient's next-hop queue.
#include "routing_config.hpp"

#include "accepted_domains.hpp"
#include "address.hpp"
#include "address_space.hpp"

namespace edge::config {

routing::SendConnectorRoute send_connector_route(const ConfigObject& o) {
    routing::SendConnectorRoute r;
    r.name = o.text("Name");
    r.enabled = o.get_bool("Enabled");
    for (const auto& s : o.get_list("AddressSpaces"))
        if (auto a = routing::AddressSpace::parse(s)) r.address_spaces.push_back(*a.value);
    r.dns_routing_enabled = o.get_bool("DNSRoutingEnabled");
    r.smart_hosts = o.get_list("SmartHosts");
    std::uint64_t max = o.get_uint("MaxMessageSize");
    r.max_message_size = max == kUnlimited ? 0 : max;
    return r;
}

std::shared_ptr<routing::Categorizer> load_categorizer(const queue::QueueDb& db, std::vector<std::string>* errors) {
    std::vector<routing::AcceptedDomain> domains;
    for (auto& o : load_objects(db, ObjectKind::AcceptedDomain, errors)) {
        routing::AcceptedDomain d;
        d.name = o.object.text("Name");
        d.domain_name = o.object.text("DomainName");
        d.domain_type = routing::parse_accepted_domain_type(o.object.text("DomainType"))
                            .value_or(routing::AcceptedDomainType::Authoritative);
        d.default_domain = o.object.get_bool("Default");
        domains.push_back(std::move(d));
    }
    std::vector<routing::SendConnectorRoute> routes;
    for (auto& o : load_objects(db, ObjectKind::SendConnector, errors)) routes.push_back(send_connector_route(o.object));
    return std::make_shared<routing::Categorizer>(routing::AcceptedDomainTable(std::move(domains)), std::move(routes));
}

std::pair<queue::QueueId, queue::DeliveryType> queue_for(const routing::Categorizer& categorizer, std::string_view address) {
    // The one canonical form: the quoting-aware split, the domain as A-labels; what is
    // not an address has no domain and is Unreachable.
    const smtp::CanonicalAddress canonical = smtp::canonical_address(address);
    routing::Route r = categorizer.route(canonical.domain);
    if (r.kind == routing::RouteKind::Unreachable) return {queue::QueueId::unreachable(), queue::DeliveryType::Unreachable};
    return {queue::QueueId::next_hop_domain(r.next_hop_domain),
            r.delivery == routing::DeliveryKind::Dns ? queue::DeliveryType::DnsConnectorDelivery
                                                     : queue::DeliveryType::SmartHostConnectorDelivery};
}

}  // namespace edge::config
