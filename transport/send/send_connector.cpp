// Typed Send connectors and delivery settings, read from the one settings table.
#include "send_connector.hpp"

#include "routing_config.hpp"

#include "accepted_domains.hpp"
#include "address.hpp"
#include "config_store.hpp"
#include "text.hpp"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>

namespace edge::send {

namespace {
std::uint32_t count_or_zero(std::uint64_t v) {  // "unlimited" -> 0
    return v == config::kUnlimited ? 0 : static_cast<std::uint32_t>(v);
}
}  // namespace

SendConnector SendConnector::from_object(const config::ConfigObject& o, const std::string& server_fqdn) {
    const config::SendConnectorSettings s = config::send_connector_settings(o);
    SendConnector c;
    c.name = s.name;
    c.enabled = s.enabled;
    c.address_spaces = s.address_spaces;
    c.dns_routing_enabled = s.dns_routing_enabled;
    c.smart_hosts = s.smart_hosts;
    c.smart_host_auth = s.smart_host_auth_mechanism;
    c.auth_user = s.authentication_credential.user;
    c.auth_password = s.authentication_credential.password;
    c.port = static_cast<std::uint16_t>(s.port);
    c.source_ip = s.source_ip_address;
    c.fqdn = s.fqdn.empty() ? server_fqdn : s.fqdn;
    c.max_message_size = s.max_message_size == config::kUnlimited ? 0 : s.max_message_size;
    c.require_tls = s.require_tls;
    c.ignore_starttls = s.ignore_starttls;
    c.force_helo = s.force_helo;
    c.inactivity_timeout = s.connection_inactivity_timeout;
    c.use_external_dns = s.use_external_dns_servers_enabled;
    c.protocol_logging = s.protocol_logging_level == config::ProtocolLoggingLevel::Verbose;
    c.max_messages_per_connection = static_cast<std::uint32_t>(s.smtp_max_messages_per_connection);
    c.allow_private_target_addresses = s.allow_private_target_addresses;
    c.tls_auth_level = s.tls_auth_level;
    c.tls_domain = s.tls_domain;
    c.tls_certificate_name = s.tls_certificate_name;
    c.domain_secure = s.domain_secure_enabled;
    return c;
}

bool SendConnector::internet_bound() const {
    return dns_routing_enabled && std::any_of(address_spaces.begin(), address_spaces.end(),
                                              [](const routing::AddressSpace& a) { return a.is_everything(); });
}

DeliverySettings DeliverySettings::from_object(const config::ConfigObject& o, const std::string& data_directory,
                                               const std::string& server_fqdn, const std::string& default_domain) {
    const config::TransportServerSettings ts = config::transport_server_settings(o);
    DeliverySettings s;
    s.max_outbound_connections = count_or_zero(ts.max_outbound_connections);
    s.max_per_domain_connections = count_or_zero(ts.max_per_domain_outbound_connections);
    s.glitch_retry_count = static_cast<std::uint32_t>(ts.queue_glitch_retry_count);
    s.glitch_retry_interval = ts.queue_glitch_retry_interval;
    s.transient_retry_count = static_cast<std::uint32_t>(ts.transient_failure_retry_count);
    s.transient_retry_interval = ts.transient_failure_retry_interval;
    s.connection_failure_retry_interval = ts.outbound_connection_failure_retry_interval;
    s.message_retry_interval = ts.message_retry_interval;
    s.delay_notification_timeout = ts.delay_notification_timeout;
    s.delay_dsn_enabled = ts.external_delay_dsn_enabled;
    s.postmaster = !ts.external_postmaster_address.empty() ? ts.external_postmaster_address
                   : !default_domain.empty()                ? "postmaster@" + default_domain
                                                            : "postmaster@" + server_fqdn;
    s.dsn_max_attach_size = ts.external_dsn_max_message_attach_size;
    s.ndr_copy_to = ts.send_copy_of_ndr_to;
    s.external_postmaster = ts.external_postmaster_address;
    s.external_dns_servers = ts.external_dns_servers;
    s.internal_dns_servers = ts.internal_dns_servers;
    s.ca_file = ts.tls_certificate_authority_file;
    s.dnssec_resolver = ts.dnssec_validating_resolver;
    s.send_log_limits.directory =
        ts.send_protocol_log_path.empty() ? data_directory + "/Logs/ProtocolLog/SmtpSend" : ts.send_protocol_log_path;
    auto limit = [](std::uint64_t v) { return v == config::kUnlimited ? 0 : v; };
    s.send_log_limits.max_file_size = limit(ts.send_protocol_log_max_file_size);
    s.send_log_limits.max_directory_size = limit(ts.send_protocol_log_max_directory_size);
    s.send_log_limits.max_age = ts.send_protocol_log_max_age;
    // Issue 21: the connectivity log, beside the SmtpSend protocol log.
    s.connectivity_log.enabled = ts.connectivity_log_enabled;
    s.connectivity_log.limits.directory =
        ts.connectivity_log_path.empty() ? data_directory + "/Logs/Connectivity" : ts.connectivity_log_path;
    s.connectivity_log.limits.max_file_size = limit(ts.connectivity_log_max_file_size);
    s.connectivity_log.limits.max_directory_size = limit(ts.connectivity_log_max_directory_size);
    s.connectivity_log.limits.max_age = ts.connectivity_log_max_age;
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

bool SendConfig::domain_secure(std::string_view domain) const {
    const std::string d = routing::to_lower(domain);
    return std::find(domain_secure_domains.begin(), domain_secure_domains.end(), d) != domain_secure_domains.end();
}

namespace {
// "CN=x, O=y" in Exchange's order (most specific first), compared without case and
// without the spaces after commas.
std::string name_text(X509_NAME* name) {
    BIO* bio = BIO_new(BIO_s_mem());
    X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string s(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return s;
}
std::string comparable(std::string_view dn) {
    std::string out;
    bool after_comma = false;
    for (char ch : dn) {
        if (after_comma && ch == ' ') continue;
        after_comma = ch == ',';
        out += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    return out;
}
}  // namespace

void resolve_client_certificate(SendConnector& c, const std::string& directory) {
    const std::string& want = c.tls_certificate_name;
    if (want.empty()) return;
    std::error_code ec;
    if (want.size() == 40 && !want.starts_with("<I>")) {
        std::string thumb = want;
        for (auto& ch : thumb) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        const std::string pem = directory + "/" + thumb + ".pem", key = directory + "/" + thumb + ".key";
        if (std::filesystem::exists(pem, ec) && std::filesystem::exists(key, ec)) {
            c.client_certificate_file = pem;
            c.client_key_file = key;
        } else {
            c.client_certificate_error = "TlsCertificateName " + want + ": no such certificate in " + directory;
        }
        return;
    }
    const auto s = want.find("<S>");
    const std::string issuer = comparable(want.substr(3, s - 3)), subject = comparable(want.substr(s + 3));
    for (const auto& entry : std::filesystem::directory_iterator(directory, ec)) {
        if (entry.path().extension() != ".pem") continue;
        FILE* f = std::fopen(entry.path().c_str(), "r");
        if (f == nullptr) continue;
        X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
        std::fclose(f);
        if (x == nullptr) continue;
        const bool match = comparable(name_text(X509_get_issuer_name(x))) == issuer &&
                           comparable(name_text(X509_get_subject_name(x))) == subject;
        X509_free(x);
        auto key = entry.path();
        key.replace_extension(".key");
        if (match && std::filesystem::exists(key, ec)) {
            c.client_certificate_file = entry.path().string();
            c.client_key_file = key.string();
            return;
        }
    }
    c.client_certificate_error = "TlsCertificateName " + want + ": no such certificate in " + directory;
}

std::pair<queue::QueueId, queue::DeliveryType> SendConfig::queue_for(std::string_view address) const {
    return config::queue_for(*categorizer, address);
}

std::shared_ptr<SendConfig> load_send_config(const queue::QueueDb& db, const std::string& server_fqdn,
                                             const std::string& data_directory, std::vector<std::string>* errors) {
    std::vector<routing::AcceptedDomain> domains = config::load_accepted_domains(db, errors);
    // Exchange: an empty ExternalPostmasterAddress means postmaster@<the default
    // accepted domain> (AcceptedDomain -Default).
    const std::string default_domain = config::default_domain(domains);
    auto send = std::make_shared<SendConfig>();
    send->server_fqdn = server_fqdn;
    std::vector<routing::SendConnectorRoute> routes;
    for (auto& o : config::load_objects(db, config::ObjectKind::SendConnector, errors)) {
        send->connectors.push_back(SendConnector::from_object(o.object, server_fqdn));
        resolve_client_certificate(send->connectors.back(), data_directory + "/certificates");
        routes.push_back(config::send_connector_route(config::send_connector_settings(o.object)));
    }
    send->categorizer =
        std::make_shared<routing::Categorizer>(routing::AcceptedDomainTable(std::move(domains)), std::move(routes));
    config::ConfigObject ts = config::load_singleton(db, config::ObjectKind::TransportServer);
    send->settings = DeliverySettings::from_object(ts, data_directory, server_fqdn, default_domain);
    const config::TransportConfigSettings tc =
        config::transport_config_settings(config::load_singleton(db, config::ObjectKind::TransportConfig));
    for (const auto& d : tc.tls_send_domain_secure_list) send->domain_secure_domains.push_back(routing::to_lower(d));
    send->settings.max_send_size = tc.max_send_size == config::kUnlimited ? 0 : tc.max_send_size;
    send->settings.copy_dsn_codes = tc.generate_copy_of_dsn_for;
    // Domain Security presents the certificate STARTTLS offers by default: the one enabled
    // for SMTP with the latest NotBefore (receive/tls.hpp ServerCertificates), so an
    // Enable-ExchangeCertificate reaches partners too, from the next generation.
    std::string newest;
    for (const auto& o : config::load_objects(db, config::ObjectKind::ExchangeCertificate, errors)) {
        const config::ExchangeCertificateSettings c = config::exchange_certificate_settings(o.object);
        if (!c.services.has(config::CertificateService::SMTP) || c.not_before < newest) continue;
        newest = c.not_before;  // ISO 8601 UTC: text order is time order
        send->smtp_certificate_file = data_directory + "/certificates/" + c.thumbprint + ".pem";
        send->smtp_key_file = data_directory + "/certificates/" + c.thumbprint + ".key";
    }
    // Our names and where we listen, for the MX-loop rule (mx_self.hpp).
    send->local.names.push_back(routing::normalize_domain(server_fqdn));
    for (auto& o : config::load_objects(db, config::ObjectKind::ReceiveConnector, errors)) {
        const config::ReceiveConnectorSettings r = config::receive_connector_settings(o.object);
        if (!r.enabled) continue;
        if (!r.fqdn.empty()) send->local.names.push_back(routing::normalize_domain(r.fqdn));
        send->local.bindings.insert(send->local.bindings.end(), r.bindings.begin(), r.bindings.end());
    }
    send->local.interface_addresses = local_interface_addresses();
    return send;
}

}  // namespace edge::send
