// Routing read from the config store: the categorizer and a recipient's next-hop queue.
#include "routing_config.hpp"

#include "accepted_domains.hpp"
#include "address.hpp"
#include "address_space.hpp"
#include "typed_settings.hpp"

namespace edge::config {

routing::SendConnectorRoute send_connector_route(const SendConnectorSettings& s) {
    routing::SendConnectorRoute r;
    r.name = s.name;
    r.enabled = s.enabled;
    r.address_spaces = s.address_spaces;
    r.dns_routing_enabled = s.dns_routing_enabled;
    r.smart_hosts = s.smart_hosts;
    r.max_message_size = s.max_message_size == kUnlimited ? 0 : s.max_message_size;
    return r;
}

std::vector<routing::AcceptedDomain> load_accepted_domains(const queue::QueueDb& db, std::vector<std::string>* errors) {
    std::vector<routing::AcceptedDomain> domains;
    for (auto& o : load_objects(db, ObjectKind::AcceptedDomain, errors)) {
        const AcceptedDomainSettings a = accepted_domain_settings(o.object);
        domains.push_back(routing::AcceptedDomain{a.name, a.domain_name, a.domain_type, a.default_domain});
    }
    return domains;
}

std::string default_domain(const std::vector<routing::AcceptedDomain>& domains) {
    for (const auto& d : domains)
        if (d.default_domain && !d.domain_name.starts_with("*.")) return d.domain_name;
    return {};
}

std::shared_ptr<routing::Categorizer> load_categorizer(const queue::QueueDb& db, std::vector<std::string>* errors) {
    std::vector<routing::SendConnectorRoute> routes;
    for (auto& o : load_objects(db, ObjectKind::SendConnector, errors))
        routes.push_back(send_connector_route(send_connector_settings(o.object)));
    return std::make_shared<routing::Categorizer>(routing::AcceptedDomainTable(load_accepted_domains(db, errors)),
                                                  std::move(routes));
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
