// The edge's side of EdgeSync, apart from the network: the subscription record in the
// config store, the subscription file handed to the internal side, and how a
// replicated batch becomes config-store changes (accepted domains and the two EdgeSync
// Send connectors, which replace the edge's own).
#pragma once

#include "sync_protocol.hpp"

#include "queue_db.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace edge::edgesync {

// Where it lives: config store kind "EdgeSync" (config::kEdgeSyncKind), this name.
inline constexpr std::string_view kSubscriptionName = "Subscription";
// Exchange: the bootstrap account expires 1,440 minutes after the file is made.
inline constexpr std::chrono::minutes kEnrollmentLifetime{1440};
// Exchange's schedule: configuration every 3 minutes, recipients every 5.
inline constexpr std::chrono::minutes kConfigSyncInterval{3}, kRecipientSyncInterval{5};

struct Subscription {
    std::string edge_name;             // the edge's short name (EdgeServerName)
    std::string edge_fqdn;             // EdgeServerFQDN
    // Where the listener binds is not here: TransportServer EdgeSyncListenAddress.
    std::uint16_t port = kDefaultSyncPort;
    std::string secret_sha256;         // hex SHA-256 of the enrollment secret; "" once used
    std::int64_t secret_expires = 0;   // Unix seconds
    std::string agent_certificate;     // SHA-256 of the enrolled agent's certificate (hex, upper case); "" until then
    std::string hash_key;              // hex: the recipient hash key (agents::recipient_hash)
    std::int64_t created = 0;
    std::string site;                  // from the first CONFIG batch
    std::vector<std::string> replicated;  // "AcceptedDomain/<name>", "SendConnector/<name>": read-only here
    std::int64_t last_config_sync = 0, last_recipient_sync = 0;
    std::uint64_t recipient_version = 0;  // raised by every RECIPIENTS batch; DELTA must name it
    // The sync lease: one agent process at a time per subscription (issue 15: by name
    // alone, two agents of one name interleaved). lease_holder is the agent's name, for
    // the administrator; lease_holder_id the process's random id, which decides.
    std::string lease_holder, lease_holder_id;
    std::int64_t lease_until = 0;
    // LEASE requests refused because another agent held it: an agent that spins shows here.
    std::uint64_t lease_refusals = 0;
    std::int64_t last_lease_refusal = 0;

    std::string serialize() const;
    static std::optional<Subscription> parse(std::string_view text);
};

std::optional<Subscription> load_subscription(const queue::QueueDb& db);
// How the edge keeps the enrollment secret: its SHA-256 in hex (the secret itself is in
// the subscription file only).
std::string enrollment_secret_hash(std::string_view secret);
// Subscription times are Unix seconds.
std::int64_t unix_now();
queue::ConfigChange subscription_change(const Subscription& s);

// The subscription file (Exchange's EdgeSubscriptionData, our fields): what the
// `edgesync` agent needs to find and trust the edge and to enroll once.
struct SubscriptionFile {
    std::string edge_name, edge_fqdn;
    std::uint16_t port = kDefaultSyncPort;
    std::string certificate_pem;  // the edge's sync certificate, pinned by the agent
    std::string enrollment_secret;
    std::int64_t effective = 0;   // Unix seconds
    std::int64_t duration = 0;    // seconds the secret is valid
    std::string write() const;    // XML, <EdgeSubscriptionData>
    static std::optional<SubscriptionFile> read(std::string_view xml, std::string* error);
};

// The config-store changes a CONFIG batch makes: every AcceptedDomain and
// SendConnector the edge has is removed (as Exchange does when an edge subscribes),
// the replicated domains are written, and the two EdgeSync connectors
// "EdgeSync - <Site> to Internet" (SMTP:*;100, DNS) and "EdgeSync - Inbound to <Site>"
// (SMTP:--;1, smart hosts = the hubs). `replicated` gets their "<Kind>/<Name>".
std::vector<queue::ConfigChange> replicated_config_changes(const queue::QueueDb& db, const ReplicatedConfig& config,
                                                           std::vector<std::string>* replicated);

}  // namespace edge::edgesync
