// A Receive connector as the server uses it: the typed, immutable form of one
// ReceiveConnector object, how a connection picks its connector (most specific
// RemoteIPRanges), what rights its sessions get (PermissionGroups + AuthMechanism,
// reference §1.4/§1.5) and the per-connector connection accounting.
#pragma once

#include "typed_settings.hpp"

#include "categorizer.hpp"
#include "ip.hpp"
#include "session.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace edge::receive {

struct ReceiveConnector {
    std::string name;
    bool enabled = true;
    std::vector<routing::Binding> bindings;
    std::vector<routing::IpRange> remote_ip_ranges;
    std::string fqdn;
    std::string banner;
    std::uint64_t max_message_size = 0, max_header_size = 0;
    std::uint32_t max_recipients = 0;
    std::uint64_t max_inbound_connection = 0, max_inbound_connection_per_source = 0;  // config::kUnlimited = no limit
    std::uint32_t max_inbound_connection_percentage_per_source = 0;
    std::chrono::seconds connection_timeout{}, connection_inactivity_timeout{}, tarpit_interval{};
    std::uint32_t max_protocol_errors = 0;
    std::uint32_t max_hop_count = 0;
    bool require_tls = false, require_ehlo_domain = false, protocol_logging = false;
    bool offers_tls = false;             // AuthMechanism has Tls
    bool external_authoritative = false; // AuthMechanism has ExternalAuthoritative
    config::FlagSet<config::PermissionGroup> permission_groups;
    std::vector<std::string> pinned_client_certificates;  // SHA-256, upper-case hex
    bool domain_secure_enabled = false;  // Domain Security with Set-TransportConfig -TLSReceiveDomainSecureList
    config::SizeEnabled size_enabled = config::SizeEnabled::Enabled;
    bool pipelining = true, chunking = true, eight_bit_mime = true, dsn = true, enhanced_status_codes = true, smtputf8 = true;
    // The pre-greet test (issue 17, pre_greet.hpp): wait this long before the banner
    // (0 = off); a client that waited is not delayed again for pre_greet_cache_time.
    std::chrono::seconds pre_greet_delay{}, pre_greet_cache_time{};

    // From a stored object; `server_fqdn` fills an empty Fqdn.
    static ReceiveConnector from_object(const config::ConfigObject& o, const std::string& server_fqdn);
    // Set-TransportConfig's organisation limits (issue 21): the connector takes the smaller
    // of its MaxMessageSize and MaxReceiveSize, of its MaxRecipientsPerMessage and
    // MaxRecipientEnvelopeLimit, so EHLO's SIZE, 552 5.3.4 and 452 4.5.3 say the limit in force.
    void apply_organization_limits(const config::TransportConfigSettings& tc);

    // The rights of a session on this connector (see README.md: how an edge without
    // Active Directory tells hubs and partners from the internet).
    std::uint32_t session_permissions() const;
    // A session whose TLS client certificate is pinned here holds these (ExchangeServers).
    std::uint32_t pinned_hub_permissions() const;
    smtp::SessionSettings session_settings(bool tls_available) const;
};

// Exchange's names of the rights a session holds, for the protocol log's
// "Set Session Permissions" line ("SMTPSubmit SMTPAcceptAnySender …").
std::string permission_names(std::uint32_t permissions);

// The enabled connector that serves a client: one of its Bindings matches the local
// endpoint and one of its RemoteIPRanges holds the client; the smallest such range
// wins; then a specific binding over a wildcard; then the name. nullptr: none.
const ReceiveConnector* select_connector(std::span<const ReceiveConnector> connectors, const routing::IpAddress& local,
                                         std::uint16_t local_port, const routing::IpAddress& remote);

// Concurrent connections per connector and per source address, shared by every
// listener. Admission answers whether one more may come in, by MaxInboundConnection,
// MaxInboundConnectionPerSource and MaxInboundConnectionPercentagePerSource (a share
// of the connections still available, as Exchange computes it).
class ConnectionAccounting {
public:
    class Admission {
    public:
        Admission() = default;
        Admission(ConnectionAccounting* owner, std::string connector, routing::IpAddress source)
            : owner_(owner), connector_(std::move(connector)), source_(source) {}
        Admission(Admission&& o) noexcept { *this = std::move(o); }
        Admission& operator=(Admission&& o) noexcept {
            release();
            owner_ = std::exchange(o.owner_, nullptr);
            connector_ = std::move(o.connector_);
            source_ = o.source_;
            return *this;
        }
        ~Admission() { release(); }
        explicit operator bool() const { return owner_ != nullptr; }

    private:
        void release();
        ConnectionAccounting* owner_ = nullptr;
        std::string connector_;
        routing::IpAddress source_{};
    };

    enum class Refusal : std::uint8_t { None, ConnectorLimit, SourceLimit };
    // An Admission (released when destroyed), or the limit that refused.
    Admission admit(const ReceiveConnector& c, const routing::IpAddress& source, Refusal* why);
    std::uint64_t total(const std::string& connector) const;

private:
    struct PerConnector {
        std::uint64_t total = 0;
        std::map<routing::IpAddress, std::uint64_t> per_source;
    };
    mutable std::mutex mu_;
    std::map<std::string, PerConnector, std::less<>> counts_;
};

}  // namespace edge::receive
