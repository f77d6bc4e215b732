// Receive connectors: typed form, selection, rights, connection accounting.
#include "receive_connector.hpp"

#include <algorithm>

namespace edge::receive {

namespace perm = smtp::permission;
using config::PermissionGroup;

namespace {
std::uint32_t clamp32(std::uint64_t v) {
    return v > UINT32_MAX ? UINT32_MAX : static_cast<std::uint32_t>(v);
}
bool has(config::FlagSet<config::PermissionGroup> groups, config::PermissionGroup g) { return groups.has(g); }
// Rights per permission group, reference §1.4.
constexpr std::uint32_t kAnonymousRights =
    perm::Submit | perm::AcceptAnySender | perm::AcceptAuthoritativeDomainSender | perm::AcceptRoutingHeaders;
constexpr std::uint32_t kExchangeServersRights =
    perm::Submit | perm::AcceptAnyRecipient | perm::AcceptAnySender | perm::AcceptAuthoritativeDomainSender |
    perm::AcceptRoutingHeaders | perm::AcceptOrganizationHeaders | perm::BypassAntiSpam |
    perm::BypassMessageSizeLimit | perm::AcceptAuthenticationFlag | perm::HubOrPartner;
// Exchange's Partners group holds Submit and Accept-Headers-Routing and is granted by
// Domain Secure TLS. We grant it by the connector's RemoteIPRanges (a partner range)
// and with Accept-Any-Recipient: the partner may relay through us. See README.md.
constexpr std::uint32_t kPartnersRights = perm::Submit | perm::AcceptRoutingHeaders | perm::AcceptAnyRecipient |
                                          perm::AcceptAnySender | perm::HubOrPartner;
constexpr std::uint32_t kExchangeUsersRights =
    perm::Submit | perm::AcceptAnyRecipient | perm::AcceptRoutingHeaders | perm::BypassAntiSpam;
}  // namespace

ReceiveConnector ReceiveConnector::from_object(const config::ConfigObject& o, const std::string& server_fqdn) {
    using config::AuthMechanism;
    using config::PermissionGroup;
    const config::ReceiveConnectorSettings s = config::receive_connector_settings(o);
    ReceiveConnector c;
    c.name = s.name;
    c.enabled = s.enabled;
    c.bindings = s.bindings;
    c.remote_ip_ranges = s.remote_ip_ranges;
    c.fqdn = s.fqdn.empty() ? server_fqdn : s.fqdn;
    c.banner = s.banner;
    c.max_message_size = s.max_message_size;
    c.max_header_size = s.max_header_size;
    c.max_recipients = clamp32(s.max_recipients_per_message);
    c.max_inbound_connection = s.max_inbound_connection;
    c.max_inbound_connection_per_source = s.max_inbound_connection_per_source;
    c.max_inbound_connection_percentage_per_source = clamp32(s.max_inbound_connection_percentage_per_source);
    c.connection_timeout = s.connection_timeout;
    c.connection_inactivity_timeout = s.connection_inactivity_timeout;
    c.tarpit_interval = s.tarpit_interval;
    c.pre_greet_delay = s.pre_greet_delay;
    c.pre_greet_cache_time = s.pre_greet_cache_time;
    c.max_protocol_errors = clamp32(s.max_protocol_errors);
    c.max_hop_count = clamp32(s.max_hop_count);
    c.require_tls = s.require_tls;
    c.require_ehlo_domain = s.require_ehlo_domain;
    c.protocol_logging = s.protocol_logging_level == config::ProtocolLoggingLevel::Verbose;
    c.offers_tls = s.auth_mechanism.has(AuthMechanism::Tls);
    c.external_authoritative = s.auth_mechanism.has(AuthMechanism::ExternalAuthoritative);
    c.permission_groups = s.permission_groups;
    c.pinned_client_certificates = s.tls_pinned_client_certificates;
    c.domain_secure_enabled = s.domain_secure_enabled;
    c.size_enabled = s.size_enabled;
    c.pipelining = s.pipelining_enabled;
    c.chunking = s.chunking_enabled;
    c.eight_bit_mime = s.eight_bit_mime_enabled;
    c.dsn = s.delivery_status_notification_enabled;
    c.enhanced_status_codes = s.enhanced_status_codes_enabled;
    c.smtputf8 = s.smtp_utf8_enabled;
    return c;
}

void ReceiveConnector::apply_organization_limits(const config::TransportConfigSettings& tc) {
    if (tc.max_receive_size != config::kUnlimited) max_message_size = std::min(max_message_size, tc.max_receive_size);
    if (tc.max_recipient_envelope_limit != config::kUnlimited)
        max_recipients = std::min(max_recipients, clamp32(tc.max_recipient_envelope_limit));
}

std::uint32_t ReceiveConnector::session_permissions() const {
    // ExternalAuthoritative: the connection is secured by other means (the hubs' own
    // range, IPsec): every session holds the externally secured servers' rights.
    if (external_authoritative && has(permission_groups, PermissionGroup::ExchangeServers)) return kExchangeServersRights;
    // Without AnonymousUsers the connector's RemoteIPRanges authenticate the client:
    // its sessions hold the rights of the connector's groups (Partners, ExchangeUsers).
    // ExchangeServers without ExternalAuthoritative would need Exchange Server
    // authentication, which an edge without Active Directory cannot do: no rights.
    if (!has(permission_groups, PermissionGroup::AnonymousUsers)) {
        std::uint32_t p = 0;
        if (has(permission_groups, PermissionGroup::Partners)) p |= kPartnersRights;
        if (has(permission_groups, PermissionGroup::ExchangeUsers)) p |= kExchangeUsersRights;
        return p;
    }
    return kAnonymousRights | perm::Anonymous;
}

std::uint32_t ReceiveConnector::pinned_hub_permissions() const {
    return has(permission_groups, PermissionGroup::ExchangeServers) ? kExchangeServersRights : session_permissions();
}

smtp::SessionSettings ReceiveConnector::session_settings(bool tls_available) const {
    smtp::SessionSettings s;
    s.fqdn = fqdn;
    s.banner = banner;
    s.max_message_size = max_message_size;
    s.max_recipients = max_recipients;
    s.max_protocol_errors = max_protocol_errors;
    s.max_header_size = max_header_size;
    s.require_tls = require_tls;
    s.require_ehlo_domain = require_ehlo_domain;
    s.tls_available = tls_available && offers_tls;
    s.size_enabled = size_enabled != config::SizeEnabled::Disabled;
    s.size_without_value = size_enabled == config::SizeEnabled::EnabledWithoutValue;
    s.pipelining_enabled = pipelining;
    s.chunking_enabled = chunking;
    s.eight_bit_mime_enabled = eight_bit_mime;
    s.dsn_enabled = dsn;
    s.enhanced_status_codes_enabled = enhanced_status_codes;
    s.smtputf8_enabled = smtputf8;
    s.permissions = session_permissions();
    return s;
}

std::string permission_names(std::uint32_t p) {
    static const std::pair<std::uint32_t, const char*> kNames[] = {
        {perm::Submit, "SMTPSubmit"},
        {perm::AcceptAnyRecipient, "SMTPAcceptAnyRecipient"},
        {perm::AcceptAnySender, "SMTPAcceptAnySender"},
        {perm::AcceptAuthoritativeDomainSender, "SMTPAcceptAuthoritativeDomainSender"},
        {perm::AcceptAuthenticationFlag, "SMTPAcceptAuthenticationFlag"},
        {perm::BypassAntiSpam, "BypassAntiSpam"},
        {perm::BypassMessageSizeLimit, "BypassMessageSizeLimit"},
        {perm::AcceptRoutingHeaders, "AcceptRoutingHeaders"},
        {perm::AcceptOrganizationHeaders, "AcceptOrgHeaders"},
    };
    std::string out;
    for (const auto& [bit, name] : kNames)
        if (p & bit) out += (out.empty() ? "" : " ") + std::string(name);
    return out.empty() ? "None" : out;
}

const ReceiveConnector* select_connector(std::span<const ReceiveConnector> connectors, const routing::IpAddress& local,
                                         std::uint16_t local_port, const routing::IpAddress& remote) {
    const ReceiveConnector* best = nullptr;
    const routing::IpRange* best_range = nullptr;
    bool best_specific_binding = false;
    for (const auto& c : connectors) {
        if (!c.enabled) continue;
        bool bound = false, specific = false;
        for (const auto& b : c.bindings)
            if (routing::binding_matches(b, local, local_port)) {
                bound = true;
                specific = specific || !b.is_any();
            }
        if (!bound) continue;
        const routing::IpRange* r = routing::most_specific(c.remote_ip_ranges, remote);
        if (r == nullptr) continue;
        bool better = best == nullptr || r->size() < best_range->size() ||
                      (r->size() == best_range->size() &&
                       (specific > best_specific_binding || (specific == best_specific_binding && c.name < best->name)));
        if (better) {
            best = &c;
            best_range = r;
            best_specific_binding = specific;
        }
    }
    return best;
}

void ConnectionAccounting::Admission::release() {
    if (owner_ == nullptr) return;
    std::lock_guard lock(owner_->mu_);
    auto it = owner_->counts_.find(connector_);
    if (it != owner_->counts_.end()) {
        --it->second.total;
        auto s = it->second.per_source.find(source_);
        if (s != it->second.per_source.end() && --s->second == 0) it->second.per_source.erase(s);
    }
    owner_ = nullptr;
}

ConnectionAccounting::Admission ConnectionAccounting::admit(const ReceiveConnector& c, const routing::IpAddress& source,
                                                            Refusal* why) {
    std::lock_guard lock(mu_);
    PerConnector& pc = counts_[c.name];
    std::uint64_t from_source = 0;
    if (auto it = pc.per_source.find(source); it != pc.per_source.end()) from_source = it->second;
    *why = Refusal::None;
    if (c.max_inbound_connection != config::kUnlimited && pc.total >= c.max_inbound_connection) {
        *why = Refusal::ConnectorLimit;
        return {};
    }
    if (c.max_inbound_connection_per_source != config::kUnlimited && from_source >= c.max_inbound_connection_per_source) {
        *why = Refusal::SourceLimit;
        return {};
    }
    // Exchange: one source may hold this share of the connections still available —
    // those the other sources leave (its own count as available to it).
    if (c.max_inbound_connection != config::kUnlimited && c.max_inbound_connection_percentage_per_source < 100) {
        std::uint64_t available = c.max_inbound_connection - (pc.total - from_source);
        std::uint64_t share = std::max<std::uint64_t>(1, available * c.max_inbound_connection_percentage_per_source / 100);
        if (from_source >= share) {
            *why = Refusal::SourceLimit;
            return {};
        }
    }
    ++pc.total;
    ++pc.per_source[source];
    return Admission(this, c.name, source);
}

std::uint64_t ConnectionAccounting::total(const std::string& connector) const {
    std::lock_guard lock(mu_);
    auto it = counts_.find(connector);
    return it == counts_.end() ? 0 : it->second.total;
}

}  // namespace edge::receive
