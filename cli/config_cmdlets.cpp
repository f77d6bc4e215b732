// edgectl's configuration cmdlets, driven by the one settings table:
//   New-/Set-/Get-/Remove-ReceiveConnector, New-/Set-/Get-/Remove-AcceptedDomain,
//   Get-/Set-TransportServer.
// Parameters are the table's names (case-insensitive), values are checked by the
// table before anything is written, and a refused command changes nothing. The
// full grammar (prefixes, -Filter, -Format, -Json) is the edgectl issue's.
#include "config_cmdlets.hpp"

#include "config_store.hpp"
#include "settings.hpp"

#include <fmt/format.h>

#include <strings.h>

namespace edge::cli {

namespace {
using config::ConfigObject;
using config::ObjectKind;

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

struct Parsed {
    std::string identity;
    std::vector<std::pair<std::string, std::string>> params;  // name (as given) -> value
    std::string error;
};

// "Identity -A 1 -B:2 -C x" -> identity and pairs. A switch without a value means $true.
Parsed parse_args(const std::vector<std::string>& args) {
    Parsed p;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a.size() > 1 && a[0] == '-' && !std::isdigit(static_cast<unsigned char>(a[1]))) {
            std::string name = a.substr(1), value;
            if (auto colon = name.find(':'); colon != std::string::npos) {
                value = name.substr(colon + 1);
                name = name.substr(0, colon);
            } else if (i + 1 < args.size() && !(args[i + 1].size() > 1 && args[i + 1][0] == '-' &&
                                                 std::isalpha(static_cast<unsigned char>(args[i + 1][1])))) {
                value = args[++i];
            } else {
                value = "$true";
            }
            p.params.emplace_back(name, value);
        } else if (p.identity.empty()) {
            p.identity = a;
        } else {
            p.error = "unexpected argument '" + a + "'";
        }
    }
    return p;
}

std::optional<ObjectKind> noun_kind(std::string_view noun) {
    for (auto k : {ObjectKind::ReceiveConnector, ObjectKind::SendConnector, ObjectKind::AcceptedDomain,
                   ObjectKind::TransportServer})
        if (iequals(noun, config::to_string(k))) return k;
    return std::nullopt;
}

int fail(std::string_view cmdlet, const std::string& message) {
    fmt::print(stderr, "edgectl: {}: {}\n", cmdlet, message);
    return 1;
}

// What Get-* shows of a value: secrets masked, as Exchange shows a PSCredential.
std::string shown(const config::SettingDef& d, const std::string& value) {
    if (d.element != config::ElementKind::Credential || value.empty()) return value;
    return value.substr(0, value.find(':')) + ":********";
}

void print_list(const std::string& identity_prefix, const ConfigObject& o) {
    std::size_t width = 8;
    for (const auto& [k, v] : o.values()) width = std::max(width, k.size());
    fmt::print("{:<{}} : {}\n", "Identity", width, identity_prefix + o.text(o.kind() == ObjectKind::TransportServer ? "ReceiveProtocolLogPath" : "Name"));
    for (const auto* d : config::settings_of(o.kind())) fmt::print("{:<{}} : {}\n", d->name, width, shown(*d, o.text(d->name)));
    fmt::print("\n");
}

// The columns Get-* prints in a table, Exchange's defaults.
std::vector<std::string_view> table_columns(ObjectKind k) {
    if (k == ObjectKind::ReceiveConnector) return {"Name", "Bindings", "Enabled"};
    if (k == ObjectKind::SendConnector) return {"Name", "AddressSpaces", "Enabled"};
    return {"Name", "DomainName", "DomainType", "Default"};
}

// Applies -Param value pairs to `o`; returns the first error.
std::string apply_params(ConfigObject& o, const std::vector<std::pair<std::string, std::string>>& params,
                         bool allow_name) {
    for (const auto& [name, value] : params) {
        if (iequals(name, "Identity")) continue;
        if (!allow_name && iequals(name, "Name")) return "-Name: rename is not supported; remove and create";
        if (auto err = o.set(name, value); !err.empty()) return err;
    }
    return {};
}

// Rules across objects of a kind: names are unique (checked by the caller), and two
// Receive connectors may not share identical Bindings and RemoteIPRanges.
std::string check_against_others(const queue::QueueDb& db, const ConfigObject& o) {
    if (o.kind() != ObjectKind::ReceiveConnector) return {};
    for (const auto& other : config::load_objects(db, ObjectKind::ReceiveConnector)) {
        if (other.name == o.text("Name")) continue;
        if (other.object.text("Bindings") == o.text("Bindings") &&
            other.object.text("RemoteIPRanges") == o.text("RemoteIPRanges"))
            return "-Bindings/-RemoteIPRanges: the Receive connector '" + other.name +
                   "' already has the same Bindings and RemoteIPRanges";
    }
    return {};
}

int write_object(queue::QueueDb& db, std::string_view cmdlet, const ConfigObject& o, std::uint64_t generation) {
    auto errors = config::validate_object(o);
    if (!errors.empty()) return fail(cmdlet, errors.front());
    if (auto err = check_against_others(db, o); !err.empty()) return fail(cmdlet, err);
    std::string name = o.kind() == ObjectKind::TransportServer ? std::string(config::kTransportServerName) : o.text("Name");
    auto r = db.config_apply({{config::to_string(o.kind()), name, o.serialize()}}, generation);
    if (!r) return fail(cmdlet, "the configuration changed meanwhile or could not be written: " + r.error().message());
    return 0;
}
}  // namespace

bool is_config_cmdlet(std::string_view cmdlet) {
    auto dash = cmdlet.find('-');
    if (dash == std::string_view::npos) return false;
    auto verb = cmdlet.substr(0, dash);
    auto kind = noun_kind(cmdlet.substr(dash + 1));
    if (!kind) return false;
    if (*kind == ObjectKind::TransportServer) return iequals(verb, "Get") || iequals(verb, "Set");
    return iequals(verb, "Get") || iequals(verb, "Set") || iequals(verb, "New") || iequals(verb, "Remove");
}

int run_config_cmdlet(queue::QueueDb& db, std::string_view cmdlet, const std::vector<std::string>& args) {
    auto dash = cmdlet.find('-');
    std::string_view verb = cmdlet.substr(0, dash);
    ObjectKind kind = *noun_kind(cmdlet.substr(dash + 1));
    std::string noun = config::to_string(kind);
    Parsed p = parse_args(args);
    if (!p.error.empty()) return fail(cmdlet, p.error);
    for (const auto& [name, value] : p.params)
        if (iequals(name, "Identity")) p.identity = value;
    std::uint64_t generation = db.config_generation();

    if (kind == ObjectKind::TransportServer) {
        ConfigObject o(kind);
        if (auto stored = config::load_object(db, kind, config::kTransportServerName)) o = *stored;
        if (iequals(verb, "Get")) {
            print_list("", o);
            return 0;
        }
        if (auto err = apply_params(o, p.params, true); !err.empty()) return fail(cmdlet, err);
        return write_object(db, cmdlet, o, generation);
    }

    if (iequals(verb, "New")) {
        ConfigObject o(kind);
        if (!p.identity.empty()) o.set("Name", p.identity);
        if (auto err = apply_params(o, p.params, true); !err.empty()) return fail(cmdlet, err);
        if (o.text("Name").empty()) return fail(cmdlet, "-Name is required");
        if (db.config_get(noun, o.text("Name"))) return fail(cmdlet, "-Name: a " + noun + " named '" + o.text("Name") + "' already exists");
        return write_object(db, cmdlet, o, generation);
    }
    if (iequals(verb, "Get")) {
        auto all = config::load_objects(db, kind);
        if (!p.identity.empty()) {
            std::erase_if(all, [&](const config::StoredObject& s) { return !iequals(s.name, p.identity); });
            if (all.empty()) return fail(cmdlet, "no " + noun + " named '" + p.identity + "'");
            for (const auto& s : all) print_list("", s.object);
            return 0;
        }
        auto cols = table_columns(kind);
        std::vector<std::size_t> w(cols.size());
        for (std::size_t i = 0; i < cols.size(); ++i) w[i] = cols[i].size();
        for (const auto& s : all)
            for (std::size_t i = 0; i < cols.size(); ++i) w[i] = std::max(w[i], s.object.text(cols[i]).size());
        auto row = [&](auto get) {
            std::string line;
            for (std::size_t i = 0; i < cols.size(); ++i) line += fmt::format("{:<{}} ", get(i), w[i]);
            while (!line.empty() && line.back() == ' ') line.pop_back();
            fmt::print("{}\n", line);
        };
        row([&](std::size_t i) { return std::string(cols[i]); });
        row([&](std::size_t i) { return std::string(cols[i].size(), '-'); });
        for (const auto& s : all) row([&](std::size_t i) { return s.object.text(cols[i]); });
        return 0;
    }
    if (p.identity.empty()) return fail(cmdlet, "which " + noun + "? give its Identity (Name)");
    std::string err;
    auto stored = config::load_object(db, kind, p.identity, &err);
    if (!stored) return fail(cmdlet, err.empty() ? "no " + noun + " named '" + p.identity + "'" : err);
    if (iequals(verb, "Remove")) {
        auto r = db.config_apply({{noun, stored->text("Name"), std::nullopt}}, generation);
        if (!r) return fail(cmdlet, "the configuration changed meanwhile: " + r.error().message());
        return 0;
    }
    // Set-
    if (auto e = apply_params(*stored, p.params, false); !e.empty()) return fail(cmdlet, e);
    return write_object(db, cmdlet, *stored, generation);
}

}  // namespace edge::cli
