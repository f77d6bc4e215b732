// QueueDb as the config store: connectors, accepted domains and settings as
// (kind, name) -> record, with the config generation that tells readers to reload.
#include "queue_db_impl.hpp"

namespace edge::queue {

// ---- config store -----------------------------------------------------------------

std::uint64_t QueueDb::config_generation() const {
    lmdb::Txn txn = lmdb::Txn::begin_read(impl_->env);
    auto v = txn.get(impl_->meta, "config_generation");
    return v ? records::parse_u64_value(*v).value_or(0) : 0;
}

std::uint64_t QueueDb::admin_generation() const {
    lmdb::Txn txn = lmdb::Txn::begin_read(impl_->env);
    auto v = txn.get(impl_->meta, "admin_generation");
    return v ? records::parse_u64_value(*v).value_or(0) : 0;
}

std::uint64_t QueueDb::message_count() const {
    lmdb::Txn txn = lmdb::Txn::begin_read(impl_->env);
    MDB_stat st{};
    lmdb::check("mdb_stat", mdb_stat(txn.get(), impl_->messages, &st));
    return st.ms_entries;
}

std::optional<std::string> QueueDb::config_get(std::string_view kind, std::string_view name) const {
    lmdb::Txn txn = lmdb::Txn::begin_read(impl_->env);
    auto v = txn.get(impl_->config, records::config_key(kind, name));
    if (!v) return std::nullopt;
    return std::string(*v);
}

std::vector<ConfigRecord> QueueDb::config_list(std::string_view kind) const {
    lmdb::Txn txn = lmdb::Txn::begin_read(impl_->env);
    std::vector<ConfigRecord> out;
    std::string prefix = records::config_key(kind, "");
    lmdb::for_each_prefix(txn, impl_->config, prefix, [&](std::string_view key, std::string_view value) {
        out.push_back({std::string(kind), std::string(key.substr(prefix.size())), std::string(value)});
        return true;
    });
    return out;
}

namespace detail {
bool valid_config_changes(const std::vector<ConfigChange>& changes) {
    return std::all_of(changes.begin(), changes.end(), [](const ConfigChange& c) {
        return !c.kind.empty() && !c.name.empty() && c.kind.find('\0') == std::string::npos;
    });
}

std::uint64_t write_config(const QueueDb::Impl& d, lmdb::Txn& txn, const std::vector<ConfigChange>& changes,
                           std::optional<std::uint64_t> expected, bool raise_always) {
    auto v = txn.get(d.meta, "config_generation");
    const std::uint64_t gen = v ? records::parse_u64_value(*v).value_or(0) : 0;
    if (expected && *expected != gen) fail(QueueError::conflict);
    if (changes.empty() && !raise_always) return gen;
    for (const auto& c : changes) {
        std::string key = records::config_key(c.kind, c.name);
        if (c.value)
            txn.put(d.config, key, *c.value);
        else
            txn.del(d.config, key);
    }
    txn.put(d.meta, "config_generation", records::u64_value(gen + 1));
    return gen + 1;
}
}  // namespace detail

Result<std::uint64_t> QueueDb::config_apply(std::vector<ConfigChange> changes,
                                            std::optional<std::uint64_t> expected_generation) {
    if (!valid_config_changes(changes)) return QueueError::invalid_argument;
    Impl& d = *impl_;
    auto job = [&](lmdb::Txn& txn) { return write_config(d, txn, changes, expected_generation, true); };
    return d.write(job);
}

}  // namespace edge::queue
