// The Attachment Filtering Agent (issue 19, reference §9.7): at the end of data, every
// MIME part of the message (transport/mime's walk) is compared with the attachment filter
// list — file names (BadFile.exe, *.exe) and content types — and a message that carries
// one is rejected, stripped of it, or silently deleted, as Set-AttachmentFilterListConfig
// says. The list and its configuration are read once per config generation.
#pragma once

#include "pipeline_async.hpp"
#include "typed_settings.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::queue {
class QueueDb;
struct ConfigChange;
}  // namespace edge::queue
namespace edge::mime {
struct Part;
}

namespace edge::agents {

inline constexpr std::string_view kAttachmentFilterAgent = "Attachment Filtering Agent";

// One entry of the list; its Identity is "FileName:*.exe", "ContentType:text/javascript".
struct AttachmentFilterEntry {
    config::AttachmentType type = config::AttachmentType::FileName;
    std::string name;
    std::string identity() const;
    friend bool operator==(const AttachmentFilterEntry&, const AttachmentFilterEntry&) = default;
};

// The list a fresh Exchange Edge ships (Get-AttachmentFilterEntry on a new server; see
// attachment_filter.cpp for the source): 10 content types and 60 file name patterns.
const std::vector<AttachmentFilterEntry>& default_attachment_filter_entries();

// "FileName:*.exe" → the entry; nullopt when it is not "<Type>:<Name>".
std::optional<AttachmentFilterEntry> parse_attachment_filter_identity(std::string_view identity);
// Why `e` cannot be an entry ("" when it can): a file name holds no path, control byte or
// wildcard but a leading "*."; a content type is type/subtype in RFC 2045 tokens.
// Names are kept as written; they are compared case-insensitively.
std::string check_attachment_filter_entry(const AttachmentFilterEntry& e);

// The list in the config store: the defaults until an administrator first changes it,
// then the stored entries (all of them, defaults included, written with that change and a
// marker that the list is the administrator's).
inline constexpr std::string_view kAttachmentFilterListKind = "AttachmentFilterList";
inline constexpr std::string_view kAttachmentFilterListCustomized = "Customized";
std::vector<AttachmentFilterEntry> load_attachment_filter_entries(const queue::QueueDb& db);
// The config-store changes that add `add` or remove `remove` (one of them), or the error
// (a duplicate, an entry that is not there). Applied by the caller in one transaction.
std::vector<queue::ConfigChange> attachment_filter_entry_changes(const queue::QueueDb& db,
                                                                const std::optional<AttachmentFilterEntry>& add,
                                                                const std::optional<AttachmentFilterEntry>& remove,
                                                                std::string& error);

// The agent's configuration of a generation.
struct AttachmentFilterConfig {
    config::AttachmentFilterListConfigSettings settings;
    std::vector<AttachmentFilterEntry> entries = default_attachment_filter_entries();
};
std::shared_ptr<const AttachmentFilterConfig> load_attachment_filter_config(const queue::QueueDb& db);

// The list as a matcher. A file name is compared without any path before it and without
// trailing dots and white space (Windows drops them: "setup.exe." runs as setup.exe).
class AttachmentMatcher {
public:
    explicit AttachmentMatcher(const std::vector<AttachmentFilterEntry>& entries);
    // The Identity of the first entry `part` matches (its content type, its file name or
    // its Content-Type name), or nullopt.
    std::optional<std::string> match(const mime::Part& part) const;

private:
    std::vector<std::pair<std::string, std::string>> content_types_, names_, extensions_;  // lower case → identity
};

class AttachmentFilterAgent final : public AsyncAgent {
public:
    // `cpu`: where the walk runs (the server's pool); null: here.
    AttachmentFilterAgent(std::shared_ptr<const AttachmentFilterConfig> config, boost::asio::thread_pool* cpu = nullptr);
    std::string_view name() const override { return kAttachmentFilterAgent; }
    bool handles(AgentEvent e) const override { return e == AgentEvent::OnEndOfData; }
    // Not an anti-spam agent: an allow-listed sender's attachments are filtered too.
    bool anti_spam() const override { return false; }
    // A walk is bounded (MaxMimeParts, MaxMimeDepth); this only covers a CPU pool that
    // is busy. Silence refuses for now (451): an executable never passes unread.
    std::chrono::milliseconds timeout() const override { return std::chrono::seconds(30); }
    boost::asio::awaitable<Verdict> on_event_async(AgentEvent e, const SessionInfo& session,
                                                   const Envelope& envelope) const override;
    // The decision itself, pure (the unit tests call it).
    Verdict decide(const SessionInfo& session, const Envelope& envelope) const;
    const AttachmentFilterConfig& config() const { return *config_; }

private:
    std::shared_ptr<const AttachmentFilterConfig> config_;
    AttachmentMatcher matcher_;
    boost::asio::thread_pool* cpu_;
};

}  // namespace edge::agents
