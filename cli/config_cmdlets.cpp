// Configuration cmdlets, driven by the one settings table:
//   Get-/New-/Set-/Remove-ReceiveConnector, -SendConnector, -AcceptedDomain;
//   Get-/Set-TransportServer, Get-/Set-RecipientFilterConfig, Get-/Set-IPBlockListConfig,
//   -IPAllowListConfig, -TransportConfig, -IPBlockListProvidersConfig, -IPAllowListProvidersConfig,
//   -SenderFilterConfig (the singletons).
// Every value is checked by the table, every rule between settings by
// validate_object, and the rules between objects here, all before anything is
// written; the write is one config-store transaction guarded by the generation read
// at the start, so a refused command, or one that raced another, changes nothing.
#include "cmdlet.hpp"

#include "edge_state.hpp"

#include "config_store.hpp"
#include "settings.hpp"
#include "typed_settings.hpp"

#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace edge::cli {

// identity_cmdlets.cpp: a receiver's view of a Send connector's source address, "" when fine.
std::string send_connector_identity_warning(Context& ctx, const config::ConfigObject& o);
// auth_cmdlets.cpp: fails unless the key file holds a key of the configuration's algorithm.
void check_dkim_signing_config(const config::ConfigObject& o);
// milter_cmdlets.cpp: a new milter without -Priority is asked last.
void place_milter_last(const Context& ctx, config::ConfigObject& o);
// address_rewrite_cmdlets.cpp: what an administrator should know of an entry ("" when nothing).
std::string address_rewrite_entry_note(Context& ctx, const config::ConfigObject& o);

namespace {
using config::ConfigObject;
using config::ObjectKind;
using config::SettingDef;
using config::SettingType;

constexpr ObjectKind kNouns[] = {ObjectKind::ReceiveConnector, ObjectKind::SendConnector, ObjectKind::AcceptedDomain,
                                 ObjectKind::TransportServer, ObjectKind::RecipientFilterConfig,
                                 // The Connection Filtering Agent's lists and Set-TransportConfig (issue 17).
                                 ObjectKind::IPBlockListConfig, ObjectKind::IPAllowListConfig, ObjectKind::TransportConfig,
                                 ObjectKind::IPBlockListProvidersConfig, ObjectKind::IPAllowListProvidersConfig,
                                 ObjectKind::SenderFilterConfig, ObjectKind::SenderReputationConfig,
                                 // Issue 18: who really sent it.
                                 ObjectKind::SenderIdConfig, ObjectKind::DkimVerificationConfig, ObjectKind::DmarcConfig,
                                 ObjectKind::DkimSigningConfig,
                                 // Issue 19: the milters the Milter Agent asks.
                                 ObjectKind::MilterServer,
                                 // Issue 19: address rewriting.
                                 ObjectKind::AddressRewriteEntry,
                                 // Issue 19: the Attachment Filtering Agent (its list: attachment_filter_cmdlets.cpp).
                                 ObjectKind::AttachmentFilterListConfig,
                                 // Issue 19: Set-/Get-ContentFilterConfig.
                                 ObjectKind::ContentFilterConfig};

std::string type_name(const SettingDef& d) {
    using E = config::ElementKind;
    auto element = [&]() -> std::string {
        switch (d.element) {
            case E::Binding: return "IPBinding";
            case E::IpRange: return "IPRange";
            case E::Domain: return "Fqdn";
            case E::DomainPattern: return "SmtpDomainWithSubdomains";
            case E::Path: return "LocalLongFullPath";
            case E::CertificatePin: return "CertificateThumbprint";
            case E::AddressSpace: return "AddressSpace";
            case E::SmartHost: return "SmartHost";
            case E::IpAddress: return "IPAddress";
            case E::DnsServer: return "IPAddress[:port]";
            case E::EmailAddress: return "SmtpAddress";
            case E::Credential: return "PSCredential (user:password)";
            case E::MilterAddress: return "MilterAddress (host:port | unix:/path)";
            case E::None: return "String";
        }
        return "String";
    };
    switch (d.type) {
        case SettingType::Bool: return "Boolean";
        case SettingType::Int: return d.unlimited_allowed ? "Unlimited<Int32>" : "Int32";
        case SettingType::ByteSize: return d.unlimited_allowed ? "Unlimited<ByteQuantifiedSize>" : "ByteQuantifiedSize";
        case SettingType::TimeSpan: return "EnhancedTimeSpan";
        case SettingType::String: return element();
        case SettingType::Enum: return fmt::format("{} ({})", "Enum", fmt::join(config::split_list(d.choices), " | "));
        case SettingType::Flags: return fmt::format("{} ({})", "Flags", fmt::join(config::split_list(d.choices), ", "));
        case SettingType::List: return element() + "[]";
    }
    return "String";
}

ParamDef param_of(const SettingDef& d, bool positional = false) {
    ParamDef p{std::string(d.name), type_name(d), std::string(d.default_value), std::string(d.meaning)};
    p.is_list = d.type == SettingType::List || d.type == SettingType::Flags;
    p.positional = positional;
    p.setting = &d;
    return p;
}

// How a size reads back: the largest unit that divides it, as it may be typed in.
std::string shown_size(std::uint64_t bytes) {
    if (bytes != 0)
        for (auto [unit, shift] : {std::pair{"GB", 30}, {"MB", 20}, {"KB", 10}})
            if (bytes % (1ull << shift) == 0) return fmt::format("{}{}", bytes >> shift, unit);
    return fmt::format("{}B", bytes);
}

Value value_of(const SettingDef& d, const ConfigObject& o) {
    const std::string& t = o.text(d.name);
    switch (d.type) {
        case SettingType::Bool: return Value::of_bool(o.get_bool(d.name));
        case SettingType::Int: {
            if (t == "unlimited") {
                Value v = Value::of_number(0);
                v.unlimited = true;
                v.text = "unlimited";
                return v;
            }
            return Value::of_number(static_cast<double>(o.get_uint(d.name)));
        }
        case SettingType::ByteSize: {
            std::uint64_t b = o.get_uint(d.name);
            return Value::of_size(b, b == config::kUnlimited ? "unlimited" : shown_size(b));
        }
        case SettingType::TimeSpan: return Value::of_duration(o.get_time_span(d.name).count(), t);
        case SettingType::List:
        case SettingType::Flags: return Value::of_list(o.get_list(d.name));
        case SettingType::String:
        case SettingType::Enum:
            if (t.empty()) return Value::null();
            // A credential shows its user only, as Exchange shows a PSCredential.
            if (d.element == config::ElementKind::Credential) return Value::of_text(t.substr(0, t.find(':')) + ":********");
            return Value::of_text(t);
    }
    return Value::of_text(t);
}

// Exchange's identities: the server's name for TransportServer, the fixed name of the
// other singletons, else the object's Name.
std::string identity_of(const Context& ctx, const ConfigObject& o) {
    if (o.kind() == ObjectKind::TransportServer) return ctx.server_name;
    if (auto single = config::singleton_name(o.kind())) return std::string(*single);
    return o.text("Name");
}

// A singleton's Identity may be left out; given, it must be this one.
void check_singleton_identity(const Context& ctx, const Invocation& inv, ObjectKind kind) {
    const std::string* id = inv.get("Identity");
    if (id == nullptr) return;
    if (kind == ObjectKind::TransportServer && !iequals(*id, ctx.server_name))
        fail(fmt::format("no server '{}' here; this is {}", *id, ctx.server_name));
    if (kind != ObjectKind::TransportServer && !iequals(*id, *config::singleton_name(kind)))
        fail(fmt::format("there is one {0}, named {0}; not '{1}'", *config::singleton_name(kind), *id));
}

Record record_of(const Context& ctx, const ConfigObject& o) {
    Record r;
    r.add("Identity", Value::of_text(identity_of(ctx, o)));
    for (const auto* d : config::settings_of(o.kind())) r.add(std::string(d->name), value_of(*d, o));
    return r;
}

std::vector<std::string> property_names(ObjectKind k) {
    std::vector<std::string> names{"Identity"};
    for (const auto* d : config::settings_of(k)) names.emplace_back(d->name);
    return names;
}

// Exchange's default Format-Table columns.
std::vector<std::string> table_columns(ObjectKind k) {
    switch (k) {
        case ObjectKind::ReceiveConnector: return {"Identity", "Bindings", "Enabled"};
        case ObjectKind::SendConnector: return {"Identity", "AddressSpaces", "Enabled"};
        case ObjectKind::AcceptedDomain: return {"Name", "DomainName", "DomainType", "Default"};
        case ObjectKind::DkimSigningConfig: return {"Identity", "DomainName", "Selector", "Algorithm", "Enabled"};
        case ObjectKind::MilterServer: return {"Identity", "Address", "Priority", "DefaultAction", "VerdictHandling", "Enabled"};
        case ObjectKind::AddressRewriteEntry: return {"Identity", "InternalAddress", "ExternalAddress", "OutboundOnly"};
        default: return {"Identity"};
    }
}

}  // namespace

// Exchange requires a SourceIPAddress bound to one of the edge's interfaces. The test
// is the one that matters: can this host bind a socket to it (EADDRNOTAVAIL if not).
bool is_local_address(const std::string& ip) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    int family = AF_INET;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (::inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        len = sizeof *v4;
    } else if (::inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        family = AF_INET6;
        len = sizeof *v6;
    } else {
        return false;
    }
    int fd = ::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0;
    ::close(fd);
    return ok;
}

namespace {

// Rules between objects, checked before any write.
// "an AcceptedDomain", "a SendConnector".
std::string with_article(std::string_view noun) {
    const bool vowel = !noun.empty() && std::string_view("AEIOU").find(noun.front()) != std::string_view::npos;
    return (vowel ? "an " : "a ") + std::string(noun);
}

// Two Receive connectors that serve the same clients on the same bindings: which one
// a client gets would be a coin toss.
bool same_bindings_and_ranges(const config::ReceiveConnectorSettings& a, const config::ReceiveConnectorSettings& b) {
    return a.bindings == b.bindings && a.remote_ip_ranges == b.remote_ip_ranges;
}

void check_against_others(const queue::QueueDb& db, const ConfigObject& o, const std::string& old_name) {
    const std::string& name = o.text("Name");
    for (const auto& other : config::load_objects(db, o.kind())) {
        if (iequals(other.name, old_name)) continue;
        if (iequals(other.name, name))
            fail(fmt::format("-Name: {} named '{}' already exists", with_article(config::to_string(o.kind())), other.name));
        if (o.kind() == ObjectKind::ReceiveConnector &&
            same_bindings_and_ranges(config::receive_connector_settings(other.object), config::receive_connector_settings(o)))
            fail(fmt::format("-Bindings/-RemoteIPRanges: the Receive connector '{}' already has the same Bindings and "
                             "RemoteIPRanges",
                             other.name));
        if (o.kind() == ObjectKind::AcceptedDomain) {
            const std::string domain = config::accepted_domain_settings(o).domain_name;
            if (iequals(config::accepted_domain_settings(other.object).domain_name, domain))
                fail(fmt::format("-DomainName: the accepted domain '{}' already has DomainName {}", other.name, domain));
        }
    }
    if (o.kind() == ObjectKind::SendConnector) {
        const std::string ip = config::send_connector_settings(o).source_ip_address;
        if (ip != "0.0.0.0" && ip != "::" && !is_local_address(ip))
            fail(fmt::format("-SourceIPAddress: {} is not an address of this host; expected 0.0.0.0 (any) or an "
                             "address configured on one of its interfaces",
                             ip));
    }
}

// Writes `o` (and removes `old_name` on a rename) in one transaction, if the
// configuration is still the one read at `generation`.
void write_object(Context& ctx, const ConfigObject& o, const std::string& old_name, std::uint64_t generation) {
    auto errors = config::validate_object(o);
    if (!errors.empty()) fail(errors.front());
    if (o.kind() == ObjectKind::DkimSigningConfig) check_dkim_signing_config(o);
    // ExceptionConnectors name Receive connectors: a misspelt one would filter the mail it
    // was meant to spare.
    if (o.kind() == ObjectKind::AttachmentFilterListConfig)
        for (const auto& name : config::attachment_filter_list_config_settings(o).exception_connectors) {
            bool known = false;
            for (const auto& rc : config::load_objects(*ctx.db, ObjectKind::ReceiveConnector)) known = known || iequals(rc.name, name);
            if (!known)
                fail(fmt::format("-ExceptionConnectors: no Receive connector named '{}'; 'edgectl Get-ReceiveConnector' lists them",
                                 name));
        }
    std::string kind = config::to_string(o.kind());
    std::vector<queue::ConfigChange> changes;
    if (auto single = config::singleton_name(o.kind())) {
        changes.push_back({kind, std::string(*single), o.serialize()});
    } else {
        check_against_others(*ctx.db, o, old_name);
        if (!old_name.empty() && old_name != o.text("Name")) changes.push_back({kind, old_name, std::nullopt});
        changes.push_back({kind, o.text("Name"), o.serialize()});
        // One default accepted domain: making one the default unsets the others, as
        // Set-AcceptedDomain -MakeDefault does.
        if (o.kind() == ObjectKind::AcceptedDomain && config::accepted_domain_settings(o).default_domain)
            for (auto other : config::load_objects(*ctx.db, ObjectKind::AcceptedDomain))
                if (!iequals(other.name, old_name) && config::accepted_domain_settings(other.object).default_domain) {
                    other.object.set("Default", "$false");
                    changes.push_back({kind, other.name, other.object.serialize()});
                }
    }
    auto r = ctx.db->config_apply(std::move(changes), generation);
    if (!r) fail("the configuration changed meanwhile or could not be written (" + r.error().message() + "); nothing was changed");
}

// On a subscribed edge accepted domains and Send connectors come from EdgeSync and
// are read-only here, as Exchange disables their cmdlets on a subscribed Edge.
void refuse_if_replicated(const Context& ctx, ObjectKind kind) {
    if (kind != ObjectKind::AcceptedDomain && kind != ObjectKind::SendConnector) return;
    auto s = edgesync::load_subscription(*ctx.db);
    if (!s) return;
    fail(fmt::format("this edge is subscribed{}: its {} objects are replicated by EdgeSync from the internal side and "
                     "are read-only here; change them there (or Remove-EdgeSubscription to manage them on the edge)",
                     s->site.empty() ? "" : " to site '" + s->site + "'", config::to_string(kind)));
}

// -Param value pairs onto `o`, in the order given; the first error wins.
void apply_params(ConfigObject& o, const Invocation& inv) {
    for (const auto& [name, value] : inv.params) {
        if (iequals(name, "Identity") || iequals(name, "Confirm")) continue;
        if (auto err = o.set(name, value); !err.empty()) fail(err, 1);
    }
}

ConfigObject must_load(const Context& ctx, ObjectKind kind, const std::string& identity) {
    std::string err;
    for (const auto& s : config::load_objects(*ctx.db, kind))
        if (iequals(s.name, identity)) return s.object;
    fail(err.empty() ? fmt::format("no {} named '{}'; 'edgectl Get-{}' lists them", config::to_string(kind), identity,
                                   config::to_string(kind))
                     : err);
}

const std::string& identity_param(const Invocation& inv, ObjectKind kind) {
    const std::string* id = inv.get("Identity");
    if (id == nullptr || id->empty()) fail(fmt::format("which {}? give its Identity (Name)", config::to_string(kind)), 2);
    return *id;
}

Output get_objects(Context& ctx, const Invocation& inv, ObjectKind kind) {
    std::vector<Record> records;
    if (config::singleton_name(kind)) {
        check_singleton_identity(ctx, inv, kind);
        records.push_back(record_of(ctx, config::load_singleton(*ctx.db, kind)));
    } else {
        const std::string* id = inv.get("Identity");
        for (const auto& s : config::load_objects(*ctx.db, kind))
            if (id == nullptr || iequals(s.name, *id)) records.push_back(record_of(ctx, s.object));
        if (id != nullptr && records.empty())
            fail(fmt::format("no {} named '{}'; 'edgectl Get-{}' lists them", config::to_string(kind), *id,
                             config::to_string(kind)));
    }
    Output out;
    out.records = select_records(std::move(records), inv, property_names(kind));
    out.columns = table_columns(kind);
    out.list_by_default = config::singleton_name(kind).has_value();
    return out;
}

Output new_object(Context& ctx, const Invocation& inv, ObjectKind kind) {
    std::uint64_t generation = ctx.db->config_generation();
    refuse_if_replicated(ctx, kind);
    ConfigObject o(kind);
    apply_params(o, inv);
    // A DKIM signing configuration is named by its domain unless told otherwise.
    if (kind == ObjectKind::DkimSigningConfig && !inv.has("Name") && inv.has("DomainName"))
        if (auto err = o.set("Name", o.text("DomainName")); !err.empty()) fail(err, 1);
    if (kind == ObjectKind::MilterServer && !inv.has("Priority")) place_milter_last(ctx, o);
    for (const auto* d : config::settings_of(kind))
        if (d->required && !inv.has(d->name)) fail(fmt::format("-{} is required ({})", d->name, d->meaning), 2);
    write_object(ctx, o, {}, generation);
    Output out;
    if (kind == ObjectKind::AddressRewriteEntry) out.note = address_rewrite_entry_note(ctx, o);
    return out;
}

Output set_object(Context& ctx, const Invocation& inv, ObjectKind kind) {
    std::uint64_t generation = ctx.db->config_generation();
    if (config::singleton_name(kind)) {
        check_singleton_identity(ctx, inv, kind);
        ConfigObject o = config::load_singleton(*ctx.db, kind);
        apply_params(o, inv);
        write_object(ctx, o, {}, generation);
        return {};
    }
    ConfigObject o = must_load(ctx, kind, identity_param(inv, kind));
    refuse_if_replicated(ctx, kind);
    std::string old_name = o.text("Name");
    apply_params(o, inv);
    write_object(ctx, o, old_name, generation);
    Output out;
    // A new source address or EHLO name: say now if receivers would refuse us (issue 17).
    if (kind == ObjectKind::SendConnector && (inv.has("SourceIPAddress") || inv.has("Fqdn")))
        out.note = send_connector_identity_warning(ctx, o);
    if (kind == ObjectKind::AddressRewriteEntry) out.note = address_rewrite_entry_note(ctx, o);
    return out;
}

Output remove_object(Context& ctx, const Invocation& inv, ObjectKind kind) {
    std::uint64_t generation = ctx.db->config_generation();
    ConfigObject o = must_load(ctx, kind, identity_param(inv, kind));
    refuse_if_replicated(ctx, kind);
    auto r = ctx.db->config_apply({{config::to_string(kind), o.text("Name"), std::nullopt}}, generation);
    if (!r) fail("the configuration changed meanwhile (" + r.error().message() + "); nothing was removed");
    return {};
}

}  // namespace

Record config_record(const Context& ctx, const config::ConfigObject& o) { return record_of(ctx, o); }
ParamDef config_param(const config::SettingDef& d, bool positional) { return param_of(d, positional); }

void add_config_cmdlets(std::vector<Cmdlet>& table) {
    const ParamDef identity{"Identity", "String", "", "The object's Name", false, false, true};
    const ParamDef confirm{"Confirm", "Switch", "", "Accepted for Exchange scripts; edgectl never prompts", true};
    for (ObjectKind kind : kNouns) {
        std::string noun = config::to_string(kind);
        std::vector<ParamDef> settings, settings_but_name;
        for (const auto* d : config::settings_of(kind)) {
            settings.push_back(param_of(*d, d->name == "Name"));
            if (d->name != "Name") settings_but_name.push_back(param_of(*d));
        }
        const bool singleton = config::singleton_name(kind).has_value();
        const bool server = kind == ObjectKind::TransportServer;
        const std::string what = server ? "the transport server's settings" : "the " + noun;
        ParamDef single_identity{"Identity", "String", "",
                                 server ? "This server's name (optional: there is one)" : noun + " (optional: there is one)",
                                 false, false, true};

        Cmdlet get{"Get-" + noun, singleton ? "Show " + what : "List " + noun + " objects, or one",
                   {singleton ? single_identity : identity}, true,
                   [kind](Context& c, const Invocation& i) { return get_objects(c, i, kind); }};
        for (auto& p : output_params()) get.params.push_back(std::move(p));
        table.push_back(std::move(get));

        Cmdlet set{"Set-" + noun, "Change " + (singleton ? what : "settings of a " + noun),
                   {singleton ? single_identity : identity}, true,
                   [kind](Context& c, const Invocation& i) { return set_object(c, i, kind); }};
        for (const auto& p : singleton ? settings_but_name : settings) {
            if (p.name == "Name") {
                ParamDef rename = p;
                rename.positional = false;
                rename.meaning = "A new name (rename)";
                set.params.push_back(rename);
            } else {
                set.params.push_back(p);
            }
        }
        table.push_back(std::move(set));
        if (singleton) continue;

        Cmdlet create{"New-" + noun, "Create a " + noun, settings, true,
                      [kind](Context& c, const Invocation& i) { return new_object(c, i, kind); }};
        table.push_back(std::move(create));
        table.push_back(Cmdlet{"Remove-" + noun, "Delete a " + noun, {identity, confirm}, true,
                               [kind](Context& c, const Invocation& i) { return remove_object(c, i, kind); }});
    }
}

}  // namespace edge::cli
