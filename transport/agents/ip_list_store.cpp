// The IP lists in the config store (see the header): read, add with max + 1, remove,
// sweep what expired.
#include "ip_list_store.hpp"

#include "agent_config.hpp"
#include "config_store.hpp"
#include "connection_filter.hpp"
#include "ip_providers.hpp"
#include "typed_settings.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace edge::agents {

namespace {
config::ObjectKind object_kind(IpListKind k) {
    return k == IpListKind::Block ? config::ObjectKind::IPBlockListEntry : config::ObjectKind::IPAllowListEntry;
}

std::optional<std::uint64_t> parse_identity(std::string_view name) {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), v);
    if (ec != std::errc{} || p != name.data() + name.size() || name.empty() || v == 0) return std::nullopt;
    return v;
}

// A stored object as an entry, or why it is not one.
std::optional<IpListEntry> entry_of(const config::StoredObject& s, std::string& error) {
    IpListEntry e;
    auto id = parse_identity(s.name);
    if (!id) {
        error = fmt::format("'{}' is not an Identity (a whole number from 1)", s.name);
        return std::nullopt;
    }
    e.identity = *id;
    const config::IpListEntrySettings t = config::ip_list_entry_settings(s.object);
    auto r = routing::IpRange::parse(t.ip_range);
    if (!r) {
        error = fmt::format("entry {}: IPRange: {}", s.name, r.error);
        return std::nullopt;
    }
    e.range = *r;
    if (!t.expiration_time.empty()) {
        e.expiration_time = parse_expiration_time(t.expiration_time);
        if (!e.expiration_time) {
            error = fmt::format("entry {}: ExpirationTime '{}' is not a UTC time such as 2026-12-31T00:00:00Z", s.name,
                                t.expiration_time);
            return std::nullopt;
        }
    }
    e.comment = t.comment;
    e.is_machine = t.is_machine;
    return e;
}
}  // namespace

std::string_view ip_list_kind_name(IpListKind kind) { return config::to_string(object_kind(kind)); }

std::vector<IpListEntry> load_ip_list_entries(const queue::QueueDb& db, IpListKind kind, std::vector<std::string>* errors) {
    std::vector<IpListEntry> out;
    for (const auto& s : config::load_objects(db, object_kind(kind), errors)) {
        std::string error;
        if (auto e = entry_of(s, error)) out.push_back(std::move(*e));
        else if (errors) errors->push_back(std::string(ip_list_kind_name(kind)) + " " + error);
    }
    std::sort(out.begin(), out.end(), [](const IpListEntry& a, const IpListEntry& b) { return a.identity < b.identity; });
    return out;
}

std::shared_ptr<const IpList> load_ip_list(const queue::QueueDb& db, IpListKind kind, std::vector<std::string>* errors) {
    return std::make_shared<const IpList>(load_ip_list_entries(db, kind, errors));
}

AddedIpListEntry add_ip_list_entry(queue::QueueDb& db, IpListKind kind, std::string_view range,
                                   std::optional<std::chrono::system_clock::time_point> expiration,
                                   std::string_view comment, bool machine, std::chrono::system_clock::time_point now) {
    AddedIpListEntry out;
    config::ConfigObject o(object_kind(kind));
    auto r = routing::IpRange::parse(range);
    if (!r) {
        out.error = "-IPRange: " + r.error;
        return out;
    }
    out.warning = r.warning;
    if (auto err = o.set("IPRange", r->str()); !err.empty()) {
        out.error = err;
        return out;
    }
    if (expiration) {
        if (*expiration <= now) {
            out.error = fmt::format("-ExpirationTime: {} is in the past; expected a time after now ({})",
                                    format_expiration_time(*expiration), format_expiration_time(now));
            return out;
        }
        if (auto err = o.set("ExpirationTime", format_expiration_time(*expiration)); !err.empty()) {
            out.error = err;
            return out;
        }
    }
    if (auto err = o.set("Comment", std::string(comment)); !err.empty()) {
        out.error = err;
        return out;
    }
    if (auto err = o.set("IsMachine", machine ? "$true" : "$false"); !err.empty()) {
        out.error = err;
        return out;
    }
    const std::string kind_name(ip_list_kind_name(kind));
    // Max + 1 read and written in one generation: a writer in between (edgectl and the
    // server's Sender Reputation) makes the write fail unchanged, and we read again.
    for (int attempt = 0; attempt < 8; ++attempt) {
        const std::uint64_t generation = db.config_generation();
        std::uint64_t max = 0;
        for (const auto& rec : db.config_list(kind_name))
            if (auto id = parse_identity(rec.name)) max = std::max(max, *id);
        const std::uint64_t identity = max + 1;
        auto applied = db.config_apply({{kind_name, std::to_string(identity), o.serialize()}}, generation);
        if (applied) {
            out.identity = identity;
            return out;
        }
        if (applied.error() != make_error_code(queue::QueueError::conflict)) {
            out.error = "the entry could not be written (" + applied.error().message() + "); nothing was changed";
            return out;
        }
    }
    out.error = "the configuration kept changing meanwhile; nothing was changed, try again";
    return out;
}

std::string remove_ip_list_entry(queue::QueueDb& db, IpListKind kind, std::uint64_t identity) {
    const std::string kind_name(ip_list_kind_name(kind));
    const std::uint64_t generation = db.config_generation();
    if (!db.config_get(kind_name, std::to_string(identity)))
        return fmt::format("no {} with Identity {}; 'edgectl Get-{}' lists them", kind_name, identity, kind_name);
    auto r = db.config_apply({{kind_name, std::to_string(identity), std::nullopt}}, generation);
    if (!r) return "the configuration changed meanwhile or could not be written (" + r.error().message() + "); nothing was removed";
    return {};
}

IpListSweep sweep_expired_ip_list_entries(queue::QueueDb& db, std::chrono::system_clock::time_point now) {
    IpListSweep out;
    std::vector<queue::ConfigChange> changes;
    const std::uint64_t generation = db.config_generation();
    for (IpListKind kind : {IpListKind::Block, IpListKind::Allow})
        for (const auto& e : load_ip_list_entries(db, kind)) {
            if (!e.expiration_time) continue;
            if (*e.expiration_time <= now)
                changes.push_back({std::string(ip_list_kind_name(kind)), std::to_string(e.identity), std::nullopt});
            else if (!out.next || *e.expiration_time < *out.next)
                out.next = e.expiration_time;
        }
    if (changes.empty()) return out;
    const std::size_t n = changes.size();
    // A conflict means someone wrote meanwhile: look again soon, the next sweep removes them.
    if (!db.config_apply(std::move(changes), generation)) {
        out.next = now;
        return out;
    }
    out.removed = n;
    return out;
}

std::shared_ptr<const ConnectionFilterConfig> load_connection_filter_config(const queue::QueueDb& db,
                                                                            const AgentServices& services,
                                                                            std::vector<std::string>* errors) {
    auto c = std::make_shared<ConnectionFilterConfig>();
    c->block_list = load_ip_list(db, IpListKind::Block, errors);
    c->allow_list = load_ip_list(db, IpListKind::Allow, errors);
    c->block_list_config =
        config::ip_block_list_config_settings(config::load_singleton(db, config::ObjectKind::IPBlockListConfig));
    c->allow_list_config =
        config::ip_allow_list_config_settings(config::load_singleton(db, config::ObjectKind::IPAllowListConfig));
    c->internal_smtp_servers =
        config::transport_config_settings(config::load_singleton(db, config::ObjectKind::TransportConfig))
            .internal_smtp_servers;
    c->providers = load_ip_providers(db, services);
    return c;
}

}  // namespace edge::agents
