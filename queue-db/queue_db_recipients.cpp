// QueueDb for EdgeSync: replicated recipients (HMAC hashes, never addresses)
// applied in batches, and the RCPT lookup.
#include "queue_db_impl.hpp"

namespace edge::queue {

// ---- replicated directory data (EdgeSync) --------------------------------------------

Status QueueDb::apply_sync_batch(const SyncBatch& batch) {
    if (!valid_config_changes(batch.config) || !valid_config_changes(batch.bookkeeping))
        return QueueError::invalid_argument;
    for (const auto* list : {&batch.recipients_added, &batch.recipients_removed})
        for (const auto& h : *list)
            if (h.size() != kRecipientHashSize) return QueueError::invalid_argument;
    Impl& d = *impl_;
    auto job = [&](lmdb::Txn& txn) {
        write_config(d, txn, batch.config, batch.expected_generation, false);
        for (const auto& c : batch.bookkeeping) {
            if (c.value) txn.put(d.config, records::config_key(c.kind, c.name), *c.value);
            else txn.del(d.config, records::config_key(c.kind, c.name));
        }
        if (batch.full_recipient_set || batch.forget_recipients) txn.drop(d.recipients);
        if (batch.forget_recipients) txn.del(d.meta, "recipient_set");
        for (const auto& h : batch.recipients_removed) txn.del(d.recipients, h);
        for (const auto& h : batch.recipients_added) txn.put(d.recipients, h, "");
        if (batch.full_recipient_set) txn.put(d.meta, "recipient_set", records::u64_value(1));
    };
    return d.write(job);
}

std::optional<bool> QueueDb::recipient_known(std::string_view hash) const {
    lmdb::Txn txn = lmdb::Txn::begin_read(impl_->env);
    if (!txn.get(impl_->meta, "recipient_set")) return std::nullopt;
    return txn.get(impl_->recipients, hash).has_value();
}

std::uint64_t QueueDb::recipient_count() const {
    lmdb::Txn txn = lmdb::Txn::begin_read(impl_->env);
    MDB_stat st{};
    lmdb::check("mdb_stat", mdb_stat(txn.get(), impl_->recipients, &st));
    return st.ms_entries;
}

}  // namespace edge::queue
