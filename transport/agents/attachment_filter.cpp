// The Attachment Filtering Agent, its list and its configuration (attachment_filter.hpp).
#include "attachment_filter.hpp"

#include "config_store.hpp"
#include "mime_walk.hpp"
#include "run_blocking.hpp"
#include "text_helpers.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace edge::agents {

namespace {
using config::AttachmentType;

// RFC 2045 §5.1 token characters.
bool token_char(char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f && std::string_view("()<>@,;:\\\"/[]?=").find(c) == std::string_view::npos;
}

// What Windows would open: the last path element, without trailing dots and white space.
std::string effective_file_name(std::string_view name) {
    if (auto slash = name.find_last_of("/\\"); slash != std::string_view::npos) name.remove_prefix(slash + 1);
    while (!name.empty() && (name.back() == '.' || name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    return text::to_lower(name);
}
}  // namespace

std::string AttachmentFilterEntry::identity() const { return std::string(config::to_name(type)) + ":" + name; }

const std::vector<AttachmentFilterEntry>& default_attachment_filter_entries() {
    // The list Get-AttachmentFilterEntry shows on a fresh Exchange Edge Transport server, as
    // Sophos PureMessage's Exchange appendix reproduces it ("the default list of attachment
    // content types and file names", docs.sophos.com …/appendix_exchange2007.html); Microsoft's
    // own pages only say to run Get-AttachmentFilterEntry. Microsoft's spellings are kept
    // (*.ps11, *.ps11xml). Exchange 2007 RTM shipped fewer PowerShell patterns.
    static const std::vector<AttachmentFilterEntry> list = [] {
        std::vector<AttachmentFilterEntry> l;
        for (const char* t : {"application/x-msdownload", "message/partial", "text/scriptlet", "application/prg",
                              "application/msaccess", "text/javascript", "application/x-javascript",
                              "application/javascript", "x-internet-signup", "application/hta"})
            l.push_back({AttachmentType::ContentType, t});
        for (const char* ext : {"xnk", "wsh",  "wsf",  "wsc",     "vbs", "vbe", "vb",     "url", "shs", "shb",
                                "sct", "scr",  "scf",  "reg",     "prg", "prf", "pif",    "pcd", "ops", "mst",
                                "msp", "msi",  "psc2", "psc1",    "ps2", "ps11", "mdb",   "ps11xml", "ps1", "msc",
                                "mdz", "ps1xml", "mdw", "mdt",    "mde", "ps2xml", "mda", "lnk", "ksh", "jse",
                                "js",  "isp",  "ins",  "inf",     "hta", "hlp", "fxp",    "exe", "csh", "crt",
                                "cpl", "com",  "cmd",  "chm",     "bat", "bas", "asx",    "app", "adp", "ade"})
            l.push_back({AttachmentType::FileName, std::string("*.") + ext});
        return l;
    }();
    return list;
}

std::optional<AttachmentFilterEntry> parse_attachment_filter_identity(std::string_view identity) {
    auto colon = identity.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string_view type = identity.substr(0, colon);
    AttachmentFilterEntry e;
    if (text::iequals(type, "FileName")) e.type = AttachmentType::FileName;
    else if (text::iequals(type, "ContentType")) e.type = AttachmentType::ContentType;
    else return std::nullopt;
    e.name = std::string(identity.substr(colon + 1));
    if (e.name.empty()) return std::nullopt;
    return e;
}

std::string check_attachment_filter_entry(const AttachmentFilterEntry& e) {
    const std::string& n = e.name;
    if (n.empty()) return "-Name: give a file name, *.extension or content type";
    if (n.size() > 255) return "-Name: at most 255 characters";
    if (std::any_of(n.begin(), n.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
        return "-Name: control characters are not allowed";
    if (e.type == AttachmentType::ContentType) {
        auto slash = n.find('/');
        // Exchange's own default list has "x-internet-signup" without a subtype: a bare
        // token is allowed, type/subtype otherwise.
        std::string_view type = std::string_view(n).substr(0, slash);
        std::string_view sub = slash == std::string::npos ? std::string_view("x") : std::string_view(n).substr(slash + 1);
        if (type.empty() || sub.empty() || !std::all_of(type.begin(), type.end(), token_char) ||
            !std::all_of(sub.begin(), sub.end(), token_char))
            return fmt::format("-Name: '{}' is not a MIME content type; expected type/subtype, such as image/jpeg", n);
        return {};
    }
    if (n.find_first_of("/\\") != std::string::npos)
        return fmt::format("-Name: '{}' holds a path; expected a file name (BadFile.exe) or *.extension", n);
    const std::size_t star = n.find('*');
    if (star != std::string::npos && (star != 0 || n.size() < 3 || n[1] != '.' || n.find('*', 1) != std::string::npos))
        return fmt::format("-Name: '{}': a wildcard is allowed only as *.extension (*.exe)", n);
    if (n.find_first_not_of(". ") == std::string::npos) return fmt::format("-Name: '{}' is not a file name", n);
    return {};
}

std::vector<AttachmentFilterEntry> load_attachment_filter_entries(const queue::QueueDb& db) {
    if (!db.config_get(kAttachmentFilterListKind, kAttachmentFilterListCustomized)) return default_attachment_filter_entries();
    std::vector<AttachmentFilterEntry> out;
    for (const auto& s : config::load_objects(db, config::ObjectKind::AttachmentFilterEntry)) {
        const auto t = config::attachment_filter_entry_settings(s.object);
        out.push_back({t.type, t.name});
    }
    return out;
}

std::vector<queue::ConfigChange> attachment_filter_entry_changes(const queue::QueueDb& db,
                                                                const std::optional<AttachmentFilterEntry>& add,
                                                                const std::optional<AttachmentFilterEntry>& remove,
                                                                std::string& error) {
    const bool customized = db.config_get(kAttachmentFilterListKind, kAttachmentFilterListCustomized).has_value();
    const std::vector<AttachmentFilterEntry> current = load_attachment_filter_entries(db);
    auto same = [](const AttachmentFilterEntry& a, const AttachmentFilterEntry& b) {
        return a.type == b.type && text::iequals(a.name, b.name);
    };
    auto find = [&](const AttachmentFilterEntry& e) {
        return std::find_if(current.begin(), current.end(), [&](const auto& c) { return same(c, e); });
    };
    const std::string kind = config::to_string(config::ObjectKind::AttachmentFilterEntry);
    auto record = [&](const AttachmentFilterEntry& e) {
        config::ConfigObject o(config::ObjectKind::AttachmentFilterEntry);
        o.set("Name", e.name);
        o.set("Type", config::to_name(e.type));
        return queue::ConfigChange{kind, e.identity(), o.serialize()};
    };
    std::vector<queue::ConfigChange> changes;
    if (add) {
        if (find(*add) != current.end()) {
            error = fmt::format("the attachment filter entry '{}' already exists", find(*add)->identity());
            return {};
        }
    }
    if (remove && find(*remove) == current.end()) {
        error = fmt::format("no attachment filter entry '{}'; 'edgectl Get-AttachmentFilterEntry' lists them",
                            remove->identity());
        return {};
    }
    // The first change makes the list the administrator's: the defaults become records.
    if (!customized) {
        for (const auto& e : current)
            if (!remove || !same(e, *remove)) changes.push_back(record(e));
        changes.push_back({std::string(kAttachmentFilterListKind), std::string(kAttachmentFilterListCustomized), "1"});
    } else if (remove) {
        changes.push_back({kind, find(*remove)->identity(), std::nullopt});
    }
    if (add) changes.push_back(record(*add));
    return changes;
}

std::shared_ptr<const AttachmentFilterConfig> load_attachment_filter_config(const queue::QueueDb& db) {
    auto c = std::make_shared<AttachmentFilterConfig>();
    c->settings = config::attachment_filter_list_config_settings(
        config::load_singleton(db, config::ObjectKind::AttachmentFilterListConfig));
    c->entries = load_attachment_filter_entries(db);
    return c;
}

// ---------------------------------------------------------------- the matcher

AttachmentMatcher::AttachmentMatcher(const std::vector<AttachmentFilterEntry>& entries) {
    for (const auto& e : entries) {
        if (e.type == AttachmentType::ContentType) content_types_.emplace_back(text::to_lower(e.name), e.identity());
        else if (e.name.starts_with("*.")) extensions_.emplace_back(text::to_lower(e.name.substr(1)), e.identity());
        else names_.emplace_back(effective_file_name(e.name), e.identity());
    }
}

std::optional<std::string> AttachmentMatcher::match(const mime::Part& part) const {
    for (const auto& [type, id] : content_types_)
        if (part.media_type == type) return id;
    for (const std::string* raw : {&part.filename, &part.type_name}) {
        if (raw->empty()) continue;
        const std::string name = effective_file_name(*raw);
        for (const auto& [n, id] : names_)
            if (name == n) return id;
        for (const auto& [ext, id] : extensions_)
            if (name.size() > ext.size() && name.ends_with(ext)) return id;
    }
    return std::nullopt;
}

// ---------------------------------------------------------------- the agent

AttachmentFilterAgent::AttachmentFilterAgent(std::shared_ptr<const AttachmentFilterConfig> config,
                                             boost::asio::thread_pool* cpu)
    : config_(config ? std::move(config) : std::make_shared<const AttachmentFilterConfig>()),
      matcher_(config_->entries),
      cpu_(cpu) {}

boost::asio::awaitable<Verdict> AttachmentFilterAgent::on_event_async(AgentEvent, const SessionInfo& session,
                                                                      const Envelope& envelope) const {
    // The walk is CPU work on a message of up to MaxMessageSize: off the I/O thread.
    co_return co_await async::run_on(cpu_, [this, &session, &envelope] { return decide(session, envelope); });
}

namespace {
// The header fields of a message whose own body was replaced: its Content-* fields are
// now the text part's (mime::strip_parts wrote them).
std::vector<HeaderField> stripped_root_headers(const std::vector<HeaderField>& received, const std::string& stripped) {
    std::vector<HeaderField> out;
    for (const auto& h : received)
        if (!text::iequals(h.first, "Content-Type") && !text::iequals(h.first, "Content-Transfer-Encoding") &&
            !text::iequals(h.first, "Content-Disposition"))
            out.push_back(h);
    const std::string header = "\r\n" + stripped.substr(0, stripped.find("\r\n\r\n"));
    for (std::string_view name : {"Content-Type", "Content-Transfer-Encoding", "Content-Disposition"}) {
        std::string prefix = "\r\n" + std::string(name) + ": ";
        auto at = header.rfind(prefix);
        if (at == std::string::npos) continue;
        at += prefix.size();
        out.emplace_back(std::string(name), header.substr(at, header.find("\r\n", at) - at));
    }
    return out;
}
}  // namespace

Verdict AttachmentFilterAgent::decide(const SessionInfo& session, const Envelope& envelope) const {
    const auto& s = config_->settings;
    if (envelope.message == nullptr) return Verdict::go_on();
    for (const auto& c : s.exception_connectors)
        if (text::iequals(c, session.connector)) return Verdict::go_on();

    std::string message;
    message.reserve(envelope.size);
    for (const auto& chunk : *envelope.message) message += chunk;
    mime::WalkLimits limits;
    limits.max_depth = static_cast<std::size_t>(s.max_mime_depth);
    limits.max_parts = static_cast<std::size_t>(s.max_mime_parts);
    const mime::Walk walk = mime::walk(message, limits);
    if (walk.status == mime::WalkStatus::TooDeep)
        return Verdict::reject(smtp::ReplyId::MimeTooComplex, "MimeLimit", fmt::format("MaxMimeDepth {}", limits.max_depth));
    if (walk.status == mime::WalkStatus::TooManyParts)
        return Verdict::reject(smtp::ReplyId::MimeTooComplex, "MimeLimit", fmt::format("MaxMimeParts {}", limits.max_parts));

    std::vector<std::size_t> matched;
    std::string found;  // ReasonData: what matched, entry and name, for the agent log
    for (std::size_t i = 0; i < walk.parts.size(); ++i) {
        auto id = matcher_.match(walk.parts[i]);
        if (!id) continue;
        matched.push_back(i);
        if (!found.empty()) found += ", ";
        const auto& p = walk.parts[i];
        found += fmt::format("{} ({})", *id, p.filename.empty() ? p.media_type : p.filename);
        if (found.size() > 512) found.resize(512);  // a message of a thousand matches says enough in 512
    }
    if (matched.empty()) return Verdict::go_on();

    switch (s.action) {
        case config::AttachmentFilterAction::Reject:
            return Verdict::reject_with(smtp::ReplyId::AttachmentRejected, s.reject_response, "AttachmentRejected", found);
        case config::AttachmentFilterAction::SilentDelete:
            return Verdict::delete_message("AttachmentDeleted", found);
        case config::AttachmentFilterAction::Strip: break;
    }
    auto stripped = std::make_shared<std::vector<std::string>>();
    stripped->push_back(mime::strip_parts(message, walk, matched, s.admin_message));
    Verdict v;
    v.reason = "AttachmentStripped";
    v.reason_data = std::move(found);
    MessageEdit edit;
    const bool root = std::find(matched.begin(), matched.end(), 0) != matched.end() ||
                      (walk.parts[0].message && std::find(matched.begin(), matched.end(), 1) != matched.end());
    edit.headers = root ? stripped_root_headers(envelope.headers, stripped->front()) : envelope.headers;
    edit.message = std::move(stripped);
    v.edit = std::move(edit);
    return v;
}

}  // namespace edge::agents
