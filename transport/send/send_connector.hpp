// The send side's view of the configuration: typed Send connectors, the transport
// server's delivery settings, and the retry schedule they imply. Built from the
// config store once per generation; deliveries keep the one they started with.
#pragma once

#include "categorizer.hpp"
#include "mx_self.hpp"
#include "connectivity_log.hpp"
#include "protocol_log.hpp"
#include "queue_db.hpp"
#include "queue_types.hpp"
#include "typed_settings.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace edge::send {

// One Send connector (reference §2.1), its settings typed.
struct SendConnector {
    std::string name;
    bool enabled = true;
    std::vector<routing::AddressSpace> address_spaces;
    bool dns_routing_enabled = true;
    std::vector<std::string> smart_hosts;  // "[192.0.2.1]" or host names, canonical
    config::SmartHostAuthMechanism smart_host_auth = config::SmartHostAuthMechanism::None;
    std::string auth_user, auth_password;  // AuthenticationCredential
    std::uint16_t port = 25;
    std::string source_ip = "0.0.0.0";     // SourceIPAddress; 0.0.0.0 = the OS chooses
    std::string fqdn;                      // EHLO name; never empty (server FQDN by default)
    std::uint64_t max_message_size = 0;    // 0 = unlimited
    bool require_tls = false, ignore_starttls = false, force_helo = false;
    std::chrono::seconds inactivity_timeout{600};
    bool use_external_dns = false;
    bool protocol_logging = false;         // ProtocolLoggingLevel Verbose
    std::uint32_t max_messages_per_connection = 20;
    // AllowPrivateTargetAddresses: MX hosts and smart-host names may lead to internal
    // and private addresses (dns_resolver.hpp AddressScope). Off: internal ones are never
    // used, private ones not by an internet-bound connector.
    bool allow_private_target_addresses = false;
    // Issue 20: outbound TLS authentication (tls_policy.hpp says what each level demands).
    config::TlsAuthLevel tls_auth_level = config::TlsAuthLevel::None;
    std::string tls_domain;            // TlsDomain; empty = the host's own name
    std::string tls_certificate_name;  // TlsCertificateName as configured
    bool domain_secure = false;        // DomainSecureEnabled
    // TlsCertificateName resolved against <DataDirectory>/certificates when loaded:
    // the chain and key files, or (not found) why, for LastError where one is required.
    std::string client_certificate_file, client_key_file, client_certificate_error;

    // DNS routing for every domain (address space "*"): where its MX records point is
    // chosen by whoever owns the recipient's (or a forged sender's) domain.
    bool internet_bound() const;

    static SendConnector from_object(const config::ConfigObject& o, const std::string& server_fqdn);
};

// Set-TransportServer settings the send side reads (reference §3.1, §3.4).
struct DeliverySettings {
    std::uint32_t max_outbound_connections = 1000;    // 0 = unlimited
    std::uint32_t max_per_domain_connections = 20;    // 0 = unlimited
    std::uint32_t glitch_retry_count = 4;
    std::chrono::seconds glitch_retry_interval{60};
    std::uint32_t transient_retry_count = 6;
    std::chrono::seconds transient_retry_interval{600};
    std::chrono::seconds connection_failure_retry_interval{1800};
    std::chrono::seconds message_retry_interval{300};
    std::chrono::seconds delay_notification_timeout{4 * 3600};
    bool delay_dsn_enabled = true;
    std::string postmaster;                 // From of DSNs: ExternalPostmasterAddress, else postmaster@<Default domain / FQDN>
    std::uint64_t dsn_max_attach_size = 10u << 20;  // ExternalDsnMaxMessageAttachSize
    std::string ndr_copy_to;                // SendCopyOfNdrTo; empty = none
    // Set-TransportConfig (issue 21): MaxSendSize (0 = unlimited) and GenerateCopyOfDSNFor,
    // whose NDRs are copied to ExternalPostmasterAddress when it is set (external_postmaster).
    std::uint64_t max_send_size = 0;
    std::vector<std::string> copy_dsn_codes;
    std::string external_postmaster;
    std::vector<std::string> external_dns_servers, internal_dns_servers;
    logging::ProtocolLogLimits send_log_limits;
    logging::ConnectivityLogSettings connectivity_log;  // ConnectivityLog* (issue 21)
    std::string ca_file;              // TlsCertificateAuthorityFile: trusted with the system store
    std::string dnssec_resolver;      // DnssecValidatingResolver: "" = no DANE

    // `default_domain`: the Default accepted domain's name ("" = none), for the DSN From
    // when ExternalPostmasterAddress is empty.
    static DeliverySettings from_object(const config::ConfigObject& transport_server, const std::string& data_directory,
                                        const std::string& server_fqdn, const std::string& default_domain = {});

    // The retry schedule of a next hop that cannot be reached (reference §3.4): after
    // the n-th consecutive failure (n >= 1), QueueGlitchRetryCount tries at
    // QueueGlitchRetryInterval, then TransientFailureRetryCount at
    // TransientFailureRetryInterval, then OutboundConnectionFailureRetryInterval.
    std::chrono::seconds connection_retry_interval(std::uint32_t consecutive_failures) const;
};

// Everything a delivery needs, for one config generation.
struct SendConfig {
    std::uint64_t generation = 0;
    std::string server_fqdn;
    std::vector<SendConnector> connectors;
    std::shared_ptr<const routing::Categorizer> categorizer;
    DeliverySettings settings;
    std::vector<std::string> domain_secure_domains;  // TLSSendDomainSecureList, lower case
    // The certificate enabled for SMTP that STARTTLS offers by default (Enable-ExchangeCertificate),
    // "" when none: Domain Security's client certificate when a connector names none.
    std::string smtp_certificate_file, smtp_key_file;

    // A domain of TLSSendDomainSecureList (ASCII case-insensitive).
    bool domain_secure(std::string_view domain) const;
    LocalHost local;  // what "us" is for RFC 5321 §5.1 (mx_self.hpp)

    const SendConnector* connector(std::string_view name) const;
    // The queue a recipient goes to now, for enqueueing and Resubmit.
    std::pair<queue::QueueId, queue::DeliveryType> queue_for(std::string_view address) const;
};

// Reads the send side's configuration from the config store: accepted domains, Send
// connectors and the transport server's settings. The server builds one per config
// generation; edgectl builds one for Retry-Queue -Resubmit. Records that do not
// decode are skipped and named in `errors`.
// TlsCertificateName against the certificates of `directory` (<THUMBPRINT>.pem with
// <THUMBPRINT>.key): a thumbprint names the file; "<I>issuer<S>subject" is compared with
// each certificate's issuer and subject, written as Exchange writes them ("CN=x, O=y",
// most specific first; case and spaces after commas do not matter). Sets the connector's
// client_certificate_file/key_file, or client_certificate_error.
void resolve_client_certificate(SendConnector& c, const std::string& directory);

std::shared_ptr<SendConfig> load_send_config(const queue::QueueDb& db, const std::string& server_fqdn,
                                             const std::string& data_directory,
                                             std::vector<std::string>* errors = nullptr);

}  // namespace edge::send
