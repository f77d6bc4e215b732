// Typed Send connectors and delivery settings, read from the one settings table.
#include "send_connector.hpp"

#include "accepted_domains.hpp"
#include "address.hpp"
#include "config_store.hpp"
#include "text.hpp"

#include <algorithm>

namespace edge::send {

namespace {
std::uint32_t count_or_zero(std::uint64_t v) {  // "unlimited" -> 0
    return v == config::kUnlimited ? 0 : static_cast<std::uint32_t>(v);
}
}  // namespace

SendConnector SendConnector::from_object(const config::ConfigObject& o, const std::string& server_fqdn) {
    SendConnector c;
    c.name = o.text("Name");
    c.enabled = o.get_bool("Enabled");
    for (const auto& s : o.get_list("AddressSpaces"))
        if (auto a = routing::AddressSpace::parse(s)) c.address_spaces.push_back(*a.value);
    c.dns_routing_enabled = o.get_bool("DNSRoutingEnabled");
    c.smart_hosts = o.get_list("SmartHosts");
    c.smart_host_auth = o.text("SmartHostAuthMechanism");
    const std::string& cred = o.text("AuthenticationCredential");
    if (auto colon = cred.find(':'); colon != std::string::npos) {
        c.auth_user = cred.substr(0, colon);
        c.auth_password = cred.substr(colon + 1);
    }
    c.port = static_cast<std::uint16_t>(o.get_uint("Port"));
    c.source_ip = o.text("SourceIPAddress");
    c.fqdn = o.text("Fqdn").empty() ? server_fqdn : o.text("Fqdn");
    std::uint64_t max = o.get_uint("MaxMessageSize");
    c.max_message_size = max == config::kUnlimited ? 0 : max;
    c.require_tls = o.get_bool("RequireTLS");
    c.ignore_starttls = o.get_bool("IgnoreSTARTTLS");
    c.force_helo = o.get_bool("ForceHELO");
    c.inactivity_timeout = o.get_time_span("ConnectionInactivityTimeOut");
    c.use_external_dns = o.get_bool("UseExternalDNSServersEnabled");
    c.protocol_logging = o.text("ProtocolLoggingLevel") == "Verbose";
    c.max_messages_per_connection = static_cast<std::uint32_t>(o.get_uint("SmtpMaxMessagesPerConnection"));
    c.allow_private_target_addresses = o.get_bool("AllowPrivateTargetAddresses");
    return c;
}

bool SendConnector::internet_bound() const {
    return dns_routing_enabled && std::any_of(address_spaces.begin(), address_spaces.end(),
                                              [](const routing::AddressSpace& a) { return a.is_everything(); });
}

routing::SendConnectorRoute SendConnector::route() const {
    routing::SendConnectorRoute r;
    r.name = name;
    r.address_spaces = address_spaces;
    r.enabled = enabled;
    r.dns_routing_enabled = dns_routing_enabled;
    r.smart_hosts = smart_hosts;
    r.max_message_size = max_message_size;
    return r;
}

DeliverySettings DeliverySettings::from_object(const config::ConfigObject& ts, const std::string& data_directory,
                                               const std::string& server_fqdn) {
    DeliverySettings s;
    s.max_outbound_connections = count_or_zero(ts.get_uint("MaxOutboundConnections"));
    s.max_per_domain_connections = count_or_zero(ts.get_uint("MaxPerDomainOutboundConnections"));
    s.glitch_retry_count = static_cast<std::uint32_t>(ts.get_uint("QueueGlitchRetryCount"));
    s.glitch_retry_interval = ts.get_time_span("QueueGlitchRetryInterval");
    s.transient_retry_count = static_cast<std::uint32_t>(ts.get_uint("TransientFailureRetryCount"));
    s.transient_retry_interval = ts.get_time_span("TransientFailureRetryInterval");
    s.connection_failure_retry_interval = ts.get_time_span("OutboundConnectionFailureRetryInterval");
    s.message_retry_interval = ts.get_time_span("MessageRetryInterval");
    s.delay_notification_timeout = ts.get_time_span("DelayNotificationTimeout");
    s.delay_dsn_enabled = ts.get_bool("ExternalDelayDsnEnabled");
    s.postmaster = ts.text("ExternalPostmasterAddress").empty() ? "postmaster@" + server_fqdn
                                                                : ts.text("ExternalPostmasterAddress");
    s.ndr_copy_to = ts.text("SendCopyOfNdrTo");
    s.external_dns_servers = ts.get_list("ExternalDNSServers");
    s.internal_dns_servers = ts.get_list("InternalDNSServers");
    const std::string& dir = ts.text("SendProtocolLogPath");
    s.send_log_limits.directory = dir.empty() ? data_directory + "/Logs/ProtocolLog/SmtpSend" : dir;
    auto limit = [](std::uint64_t v) { return v == config::kUnlimited ? 0 : v; };
    s.send_log_limits.max_file_size = limit(ts.get_uint("SendProtocolLogMaxFileSize"));
    s.send_log_limits.max_directory_size = limit(ts.get_uint("SendProtocolLogMaxDirectorySize"));
    s.send_log_limits.max_age = ts.get_time_span("SendProtocolLogMaxAge");
    return s;
}

std::chrono::seconds DeliverySettings::connection_retry_interval(std::uint32_t failures) const {
    if (failures <= glitch_retry_count) return glitch_retry_interval;
    if (failures <= glitch_retry_count + transient_retry_count) return transient_retry_interval;
    return connection_failure_retry_interval;
}

const SendConnector* SendConfig::connector(std::string_view name) const {
    for (const auto& c : connectors)
        if (routing::to_lower(c.name) == routing::to_lower(name)) return &c;
    return nullptr;
}

std::pair<queue::QueueId, queue::DeliveryType> SendConfig::queue_for(std::string_view address) const {
    // The one canonical form (transport/smtp/address.hpp): the quoting-aware split, the
    // domain as A-labels; what is not an address has no domain and is Unreachable.
    const smtp::CanonicalAddress canonical = smtp::canonical_address(address);
    routing::Route r = categorizer->route(canonical.domain);
    if (r.kind == routing::RouteKind::Unreachable) return {queue::QueueId::unreachable(), queue::DeliveryType::Unreachable};
    return {queue::QueueId::next_hop_domain(r.next_hop_domain),
            r.delivery == routing::DeliveryKind::Dns ? queue::DeliveryType::DnsConnectorDelivery
                                                     : queue::DeliveryType::SmartHostConnectorDelivery};
}

std::shared_ptr<SendConfig> load_send_config(const queue::QueueDb& db, const std::string& server_fqdn,
                                             const std::string& data_directory, std::vector<std::string>* errors) {
    std::vector<routing::AcceptedDomain> domains;
    for (auto& o : config::load_objects(db, config::ObjectKind::AcceptedDomain, errors)) {
        routing::AcceptedDomain d;
        d.name = o.object.text("Name");
        d.domain_name = o.object.text("DomainName");
        d.domain_type = routing::parse_accepted_domain_type(o.object.text("DomainType"))
                            .value_or(routing::AcceptedDomainType::Authoritative);
        d.default_domain = o.object.get_bool("Default");
        domains.push_back(std::move(d));
    }
    auto send = std::make_shared<SendConfig>();
    send->server_fqdn = server_fqdn;
    std::vector<routing::SendConnectorRoute> routes;
    for (auto& o : config::load_objects(db, config::ObjectKind::SendConnector, errors)) {
        send->connectors.push_back(SendConnector::from_object(o.object, server_fqdn));
        routes.push_back(send->connectors.back().route());
    }
    send->categorizer =
        std::make_shared<routing::Categorizer>(routing::AcceptedDomainTable(std::move(domains)), std::move(routes));
    config::ConfigObject ts = config::load_singleton(db, config::ObjectKind::TransportServer);
    send->settings = DeliverySettings::from_object(ts, data_directory, server_fqdn);
    return send;
}

}  // namespace edge::send
