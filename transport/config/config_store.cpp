// Reading configured objects from the config store.
#include "config_store.hpp"

namespace edge::config {

std::vector<StoredObject> load_objects(const queue::QueueDb& db, ObjectKind kind, std::vector<std::string>* errors) {
    std::vector<StoredObject> out;
    for (auto& rec : db.config_list(to_string(kind))) {
        std::string err;
        auto obj = ConfigObject::deserialize(kind, rec.value, &err);
        if (!obj) {
            if (errors) errors->push_back(rec.name + ": " + err);
            continue;
        }
        out.push_back({rec.name, std::move(*obj)});
    }
    return out;
}

std::optional<ConfigObject> load_object(const queue::QueueDb& db, ObjectKind kind, std::string_view name,
                                        std::string* error) {
    auto v = db.config_get(to_string(kind), name);
    if (!v) return std::nullopt;
    return ConfigObject::deserialize(kind, *v, error);
}

ConfigObject load_singleton(const queue::QueueDb& db, ObjectKind kind) {
    if (auto o = load_object(db, kind, singleton_name(kind).value())) return *o;
    return ConfigObject(kind);
}

}  // namespace edge::config
