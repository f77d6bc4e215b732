// Configured objects in queue-db's config store: one record per object, kind =
// ObjectKind name, name = the object's Name, value = ConfigObject::serialize().
// The server and edgectl read and write them through these functions only.
#pragma once

#include "settings.hpp"

#include "queue_db.hpp"

#include <optional>
#include <string>
#include <vector>

namespace edge::config {

struct StoredObject {
    std::string name;
    ConfigObject object;
};

// Every object of `kind`; a record that does not decode is skipped and named in `errors`.
std::vector<StoredObject> load_objects(const queue::QueueDb& db, ObjectKind kind, std::vector<std::string>* errors = nullptr);
std::optional<ConfigObject> load_object(const queue::QueueDb& db, ObjectKind kind, std::string_view name,
                                        std::string* error = nullptr);

// The TransportServer object is a singleton under this name.
inline constexpr std::string_view kTransportServerName = "TransportServer";
// So is the Recipient Filter agent's configuration (Exchange's identity for it too).
inline constexpr std::string_view kRecipientFilterConfigName = "RecipientFilterConfig";
// And the IP Block / Allow List providers' configurations (issue 17).
inline constexpr std::string_view kIPBlockListProvidersConfigName = "IPBlockListProvidersConfig";
inline constexpr std::string_view kIPAllowListProvidersConfigName = "IPAllowListProvidersConfig";

// The Connection Filtering Agent's lists' configurations and Set-TransportConfig (issue 17).
inline constexpr std::string_view kIPBlockListConfigName = "IPBlockListConfig";
inline constexpr std::string_view kIPAllowListConfigName = "IPAllowListConfig";
inline constexpr std::string_view kTransportConfigName = "TransportConfig";
inline constexpr std::string_view kSenderFilterConfigName = "SenderFilterConfig";
// And the Protocol Analysis agent's (Set-SenderReputationConfig).
inline constexpr std::string_view kSenderReputationConfigName = "SenderReputationConfig";
// And issue 18's agents'.
inline constexpr std::string_view kSenderIdConfigName = "SenderIdConfig";
inline constexpr std::string_view kDkimVerificationConfigName = "DkimVerificationConfig";
inline constexpr std::string_view kDmarcConfigName = "DmarcConfig";
// And issue 19's Attachment Filtering Agent's.
inline constexpr std::string_view kAttachmentFilterListConfigName = "AttachmentFilterListConfig";
// And issue 19's Content Filter's.
inline constexpr std::string_view kContentFilterConfigName = "ContentFilterConfig";

// EdgeSync's state lives in the config store under this kind (edgesync/edge_state.hpp).
inline constexpr std::string_view kEdgeSyncKind = "EdgeSync";

// The name a singleton kind is stored under, or nullopt for kinds with many objects.
inline std::optional<std::string_view> singleton_name(ObjectKind kind) {
    if (kind == ObjectKind::TransportServer) return kTransportServerName;
    if (kind == ObjectKind::RecipientFilterConfig) return kRecipientFilterConfigName;
    if (kind == ObjectKind::IPBlockListConfig) return kIPBlockListConfigName;
    if (kind == ObjectKind::IPAllowListConfig) return kIPAllowListConfigName;
    if (kind == ObjectKind::TransportConfig) return kTransportConfigName;
    if (kind == ObjectKind::IPBlockListProvidersConfig) return kIPBlockListProvidersConfigName;
    if (kind == ObjectKind::IPAllowListProvidersConfig) return kIPAllowListProvidersConfigName;
    if (kind == ObjectKind::SenderFilterConfig) return kSenderFilterConfigName;
    if (kind == ObjectKind::SenderReputationConfig) return kSenderReputationConfigName;
    if (kind == ObjectKind::SenderIdConfig) return kSenderIdConfigName;
    if (kind == ObjectKind::DkimVerificationConfig) return kDkimVerificationConfigName;
    if (kind == ObjectKind::DmarcConfig) return kDmarcConfigName;
    if (kind == ObjectKind::AttachmentFilterListConfig) return kAttachmentFilterListConfigName;
    if (kind == ObjectKind::ContentFilterConfig) return kContentFilterConfigName;
    return std::nullopt;
}
// A singleton as stored, or its defaults when it was never written.
ConfigObject load_singleton(const queue::QueueDb& db, ObjectKind kind);

}  // namespace edge::config
