// The Export-EdgeConfig file and Import-EdgeConfig's answer file: a deterministic JSON
// writer of our own (sorted, one setting per line, so two exports compare byte for byte
// and diff well) and Boost.JSON's strict parser (UTF-8 checked, depth bounded) for reading.
// Compiled alone (SKIP_UNITY_BUILD_INCLUSION): it holds Boost.JSON's implementation.
#include "edge_config.hpp"

#include "config_store.hpp"

#include "address.hpp"
#include "text_helpers.hpp"

#include <boost/json/src.hpp>

#include <algorithm>

namespace edge::config {

namespace {

constexpr std::string_view kEdgeConfigFormat = "edge-transport EdgeConfig";
constexpr std::string_view kAnswerFileFormat = "edge-transport EdgeConfig answers";
constexpr std::int64_t kEdgeConfigVersion = 1;
// The readers report this many errors, then "and N more": a broken file of a million
// entries must not make a million lines.
constexpr std::size_t kMaxErrorsShown = 10;

using text::append_json_string;  // UTF-8 checked: Boost.JSON refuses anything else on import

std::optional<ObjectKind> kind_named(std::string_view name) {
    for (ObjectKind k : exported_kinds())
        if (name == to_string(k)) return k;
    return std::nullopt;
}

std::string_view sv(const boost::json::string& s) { return {s.data(), s.size()}; }

boost::json::value parse_json(std::string_view text, std::string* error) {
    if (text.size() > kMaxEdgeConfigFileSize) {
        *error = "the file is larger than " + std::to_string(kMaxEdgeConfigFileSize >> 20) + " MB";
        return nullptr;
    }
    boost::json::parse_options opt;
    opt.max_depth = 8;  // our files are four levels deep
    boost::json::error_code ec;
    boost::json::value v = boost::json::parse(boost::json::string_view(text.data(), text.size()), ec, {}, opt);
    if (ec) {
        *error = "not valid JSON (" + ec.message() + ")";
        return nullptr;
    }
    return v;
}

// The envelope both files share: {"Format": ..., "Version": 1, <body>: ...}.
const boost::json::value* body_of(const boost::json::value& v, std::string_view format, std::string_view body,
                                  std::string* error) {
    const auto* o = v.if_object();
    if (o == nullptr) {
        *error = "expected a JSON object at the top";
        return nullptr;
    }
    const auto* f = o->if_contains("Format");
    if (f == nullptr || !f->is_string() || sv(f->get_string()) != format) {
        *error = "not an " + std::string(format) + " file (\"Format\" is not \"" + std::string(format) + "\")";
        return nullptr;
    }
    const auto* ver = o->if_contains("Version");
    if (ver == nullptr || !ver->is_int64() || ver->get_int64() != kEdgeConfigVersion) {
        *error = "\"Version\" must be " + std::to_string(kEdgeConfigVersion) + " (this edgectl reads that version)";
        return nullptr;
    }
    for (const auto& kv : *o)
        if (kv.key() != "Format" && kv.key() != "Version" && kv.key() != body) {
            *error = "unknown member \"" + std::string(kv.key()) + "\" at the top";
            return nullptr;
        }
    const auto* b = o->if_contains(boost::json::string_view(body.data(), body.size()));
    if (b == nullptr) {
        *error = "no \"" + std::string(body) + "\"";
        return nullptr;
    }
    return b;
}

std::string joined(const std::vector<std::string>& errors) {
    std::string out;
    for (std::size_t i = 0; i < errors.size() && i < kMaxErrorsShown; ++i) out += (i ? "\n" : "") + errors[i];
    if (errors.size() > kMaxErrorsShown) out += "\n(and " + std::to_string(errors.size() - kMaxErrorsShown) + " more)";
    return out;
}

}  // namespace

std::vector<ObjectKind> exported_kinds() {
    std::vector<ObjectKind> out;
    for (unsigned k = 0; k < kObjectKindCount; ++k)
        if (static_cast<ObjectKind>(k) != ObjectKind::Bootstrap) out.push_back(static_cast<ObjectKind>(k));
    return out;
}

std::string write_edge_config(std::vector<ExportedObject> objects, std::string* error) {
    std::stable_sort(objects.begin(), objects.end(), [](const ExportedObject& a, const ExportedObject& b) {
        return a.kind != b.kind ? a.kind < b.kind : a.name < b.name;
    });
    std::string out = "{\n  \"Format\": ";
    append_json_string(out, kEdgeConfigFormat);
    out += ",\n  \"Version\": " + std::to_string(kEdgeConfigVersion) + ",\n  \"Objects\": {";
    auto it = objects.begin();
    bool first_kind = true;
    for (ObjectKind kind : exported_kinds()) {
        out += first_kind ? "\n    " : ",\n    ";
        first_kind = false;
        append_json_string(out, to_string(kind));
        out += ": {";
        bool first_object = true;
        for (; it != objects.end() && it->kind == kind; ++it) {
            out += first_object ? "\n      " : ",\n      ";
            first_object = false;
            if (!smtp::valid_utf8(it->name)) {
                *error = std::string(to_string(kind)) + " '" + it->name + "': its name is not UTF-8; rename it before exporting";
                return {};
            }
            append_json_string(out, it->name);
            out += ": {";
            bool first_setting = true;
            for (const auto* d : settings_of(kind)) {
                const std::string& value = it->object.text(d->name);
                if (!smtp::valid_utf8(value)) {
                    *error = std::string(to_string(kind)) + " '" + it->name + "' -" + std::string(d->name) +
                             ": the value is not UTF-8, which the file cannot carry; set it again before exporting";
                    return {};
                }
                out += first_setting ? "\n        " : ",\n        ";
                first_setting = false;
                append_json_string(out, d->name);
                out += ": ";
                append_json_string(out, value);
            }
            out += first_setting ? "}" : "\n      }";
        }
        out += first_object ? "}" : "\n    }";
    }
    out += "\n  }\n}\n";
    return out;
}

std::optional<EdgeConfigFile> read_edge_config(std::string_view text, std::string* error) {
    boost::json::value root = parse_json(text, error);
    if (root.is_null() && !error->empty()) return std::nullopt;  // a file that is JSON "null" is told below
    const boost::json::value* body = body_of(root, kEdgeConfigFormat, "Objects", error);
    if (body == nullptr) return std::nullopt;
    if (!body->is_object()) {
        *error = "\"Objects\" must be an object of kinds";
        return std::nullopt;
    }
    EdgeConfigFile file;
    std::vector<std::string> errors;
    for (const auto& [kind_key, objects] : body->get_object()) {
        auto kind = kind_named(sv(kind_key));
        if (!kind) {
            errors.push_back("unknown kind \"" + std::string(kind_key) + "\"");
            continue;
        }
        if (std::find(file.kinds_present.begin(), file.kinds_present.end(), *kind) != file.kinds_present.end()) continue;
        file.kinds_present.push_back(*kind);
        if (!objects.is_object()) {
            errors.push_back(std::string(kind_key) + ": expected an object of objects by name");
            continue;
        }
        const auto single = singleton_name(*kind);
        // Objects stored under their Name (an attachment filter entry's Identity is Type:Name).
        const bool named = find_setting(*kind, "Name") != nullptr && *kind != ObjectKind::AttachmentFilterEntry;
        for (const auto& [name_key, settings] : objects.get_object()) {
            const std::string name(name_key);
            const std::string where = std::string(kind_key) + " '" + name + "'";
            if (name.empty() || name.size() > 1024 || smtp::has_control_byte(name)) {
                errors.push_back(std::string(kind_key) + ": an object name must be 1 to 1024 characters without control characters");
                continue;
            }
            if (single && name != *single) {
                errors.push_back(where + ": " + std::string(kind_key) + " is a single object named '" + std::string(*single) + "'");
                continue;
            }
            if (!settings.is_object()) {
                errors.push_back(where + ": expected an object of settings");
                continue;
            }
            ConfigObject o(*kind);
            bool ok = true;
            for (const auto& [setting, value] : settings.get_object()) {
                if (!value.is_string()) {
                    errors.push_back(where + " -" + std::string(setting) + ": expected a string");
                    ok = false;
                    continue;
                }
                if (auto err = o.set(sv(setting), sv(value.get_string())); !err.empty()) {
                    errors.push_back(where + " " + err);
                    ok = false;
                }
            }
            if (!ok) continue;
            for (const auto* d : settings_of(*kind))
                if (d->required && !settings.get_object().contains(boost::json::string_view(d->name.data(), d->name.size()))) {
                    errors.push_back(where + ": -" + std::string(d->name) + " is required");
                    ok = false;
                }
            if (named && ok && o.text("Name") != name) {
                errors.push_back(where + ": its Name is '" + o.text("Name") + "'; an object is listed under its Name");
                ok = false;
            }
            if (*kind == ObjectKind::ExchangeCertificate && ok && o.text("Thumbprint") != name) {
                errors.push_back(where + ": a certificate is listed under its Thumbprint");
                ok = false;
            }
            for (auto& e : validate_object(o)) {
                errors.push_back(where + " " + e);
                ok = false;
            }
            if (ok) file.objects.push_back({*kind, name, std::move(o)});
        }
    }
    if (!errors.empty()) {
        *error = joined(errors);
        return std::nullopt;
    }
    return file;
}

std::vector<ServerSpecificSetting> server_specific_settings() {
    return {{ObjectKind::ReceiveConnector, "Bindings"},  {ObjectKind::ReceiveConnector, "Fqdn"},
            {ObjectKind::TransportServer, "EdgeSyncListenAddress"},
            {ObjectKind::SendConnector, "SourceIPAddress"}, {ObjectKind::SendConnector, "Fqdn"},
            {ObjectKind::DkimSigningConfig, "KeyFile"},    {ObjectKind::ExchangeCertificate, "Thumbprint"}};
}

std::vector<Answer> answers_of(const std::vector<ExportedObject>& objects) {
    std::vector<Answer> out;
    const auto specific = server_specific_settings();
    for (const auto& o : objects)
        for (const auto& s : specific)
            if (s.kind == o.kind) out.push_back({o.kind, o.name, std::string(s.setting), o.object.text(s.setting), {}});
    return out;
}

std::string write_answer_file(const std::vector<Answer>& answers) {
    std::string out = "{\n  \"Format\": ";
    append_json_string(out, kAnswerFileFormat);
    out += ",\n  \"Version\": " + std::to_string(kEdgeConfigVersion) + ",\n  \"Answers\": [";
    bool first = true;
    for (const auto& a : answers) {
        out += first ? "\n    {" : ",\n    {";
        first = false;
        out += "\"Kind\": ";
        append_json_string(out, to_string(a.kind));
        out += ", \"Identity\": ";
        append_json_string(out, a.name);
        out += ", \"Setting\": ";
        append_json_string(out, a.setting);
        out += ",\n     \"Value\": ";
        append_json_string(out, a.value);
        out += ",\n     \"Problem\": ";
        append_json_string(out, a.problem);
        out += "}";
    }
    out += first ? "]\n}\n" : "\n  ]\n}\n";
    return out;
}

std::optional<std::vector<Answer>> read_answer_file(std::string_view text, std::string* error) {
    boost::json::value root = parse_json(text, error);
    if (root.is_null() && !error->empty()) return std::nullopt;  // a file that is JSON "null" is told below
    const boost::json::value* body = body_of(root, kAnswerFileFormat, "Answers", error);
    if (body == nullptr) return std::nullopt;
    if (!body->is_array()) {
        *error = "\"Answers\" must be an array";
        return std::nullopt;
    }
    std::vector<Answer> out;
    std::vector<std::string> errors;
    const auto specific = server_specific_settings();
    std::size_t index = 0;
    for (const auto& item : body->get_array()) {
        const std::string where = "answer " + std::to_string(++index);
        const auto* o = item.if_object();
        auto field = [&](std::string_view name) -> const boost::json::string* {
            const auto* v = o ? o->if_contains(boost::json::string_view(name.data(), name.size())) : nullptr;
            return v ? v->if_string() : nullptr;
        };
        const auto *kind_text = field("Kind"), *identity = field("Identity"), *setting = field("Setting"),
                   *value = field("Value");
        if (o == nullptr || kind_text == nullptr || identity == nullptr || setting == nullptr || value == nullptr) {
            errors.push_back(where + ": expected {\"Kind\", \"Identity\", \"Setting\", \"Value\"} as strings");
            continue;
        }
        auto kind = kind_named(sv(*kind_text));
        if (!kind) {
            errors.push_back(where + ": unknown kind \"" + std::string(sv(*kind_text)) + "\"");
            continue;
        }
        const auto* def = find_setting(*kind, sv(*setting));
        bool is_specific = false;
        for (const auto& s : specific) is_specific = is_specific || (s.kind == *kind && def != nullptr && s.setting == def->name);
        if (!is_specific) {
            errors.push_back(where + ": " + std::string(sv(*kind_text)) + " -" + std::string(sv(*setting)) +
                             " is not a server-specific value an answer file holds");
            continue;
        }
        Canonical c = canonicalize(*def, sv(*value));
        if (!c.ok()) {
            errors.push_back(where + " (" + std::string(sv(*kind_text)) + " '" + std::string(sv(*identity)) + "'): " + c.error);
            continue;
        }
        const auto* problem = field("Problem");
        out.push_back({*kind, std::string(sv(*identity)), std::string(def->name), std::move(c.value),
                       problem ? std::string(sv(*problem)) : std::string()});
    }
    if (!errors.empty()) {
        *error = joined(errors);
        return std::nullopt;
    }
    return out;
}

}  // namespace edge::config
