// QueueDb for the Protocol Analysis agent: per-IP sender reputation records, bounded
// by least-recently-seen eviction through an age index, written in batches.
// The records' format belongs to transport/agents/sender_reputation.*.
#include "queue_db_impl.hpp"

namespace edge::queue {

namespace {

// Stored value: the last-seen time (big-endian µs since the epoch, 8 bytes), then the
// caller's record. The time is ours: it names the record's age-index entry.
constexpr std::size_t kSeenSize = 8;

void put_be64(std::string& out, std::uint64_t v) {
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
std::uint64_t seen_bits(Timestamp t) {
    const auto us = t.time_since_epoch().count();
    return us < 0 ? 0 : static_cast<std::uint64_t>(us);
}
// The age index's key: last seen first, so a cursor from the start meets the least
// recently seen; the address after it keeps keys unique.
std::string age_key(std::string_view seen8, std::string_view key) {
    std::string k(seen8);
    k.append(key);
    return k;
}
bool valid_key(std::string_view key) { return key.size() == 4 || key.size() == 16; }

}  // namespace

namespace {
QueueDb::ReputationWriteResult apply_reputation_writes(QueueDb::Impl& d, lmdb::Txn& txn,
                                                       const std::vector<QueueDb::ReputationWrite>& writes,
                                                       std::size_t max_records) {
    QueueDb::ReputationWriteResult r;
    for (const auto& w : writes) {
        // The old age entry goes whatever happens next: it names the old time.
        if (auto old = txn.get(d.reputation, w.key); old && old->size() >= kSeenSize)
            txn.del(d.reputation_age, age_key(old->substr(0, kSeenSize), w.key));
        if (!w.value) {
            if (txn.del(d.reputation, w.key)) ++r.deleted;
            continue;
        }
        std::string seen;
        put_be64(seen, seen_bits(w.last_seen));
        std::string value = seen;
        value.append(*w.value);
        txn.put(d.reputation, w.key, value);
        txn.put(d.reputation_age, age_key(seen, w.key), {});
        ++r.written;
    }
    if (max_records == 0) return r;
    MDB_stat st{};
    lmdb::check("mdb_stat", mdb_stat(txn.get(), d.reputation, &st));
    std::size_t count = st.ms_entries;
    if (count <= max_records) return r;
    // Over the bound: the least recently seen go (LRU by the age index).
    lmdb::Cursor c(txn, d.reputation_age);
    // first() again after each deletion: the entry we took was the first.
    for (bool ok = c.first(); ok && count > max_records; ok = c.first()) {
        std::string key(c.key().substr(std::min(kSeenSize, c.key().size())));
        c.del();
        if (txn.del(d.reputation, key)) {
            --count;
            ++r.evicted;
        }
    }
    return r;
}
}  // namespace

void QueueDb::reputation_write_async(std::vector<ReputationWrite> writes, std::size_t max_records,
                                     std::function<void(std::error_code, ReputationWriteResult)> done) {
    Impl& d = *impl_;
    for (const auto& w : writes)
        if (!valid_key(w.key)) {
            done(make_error_code(QueueError::invalid_argument), {});
            return;
        }
    if (!d.has_reputation) {
        done(make_error_code(QueueError::read_only), {});
        return;
    }
    auto result = std::make_shared<ReputationWriteResult>();
    d.write_async(
        [&d, writes = std::move(writes), max_records, result](lmdb::Txn& txn) {
            // A batch re-run alone (after a failed batch) writes afresh.
            *result = apply_reputation_writes(d, txn, writes, max_records);
        },
        [done = std::move(done), result](std::error_code ec) { done(ec, ec ? ReputationWriteResult{} : *result); });
}

Result<QueueDb::ReputationWriteResult> QueueDb::reputation_write(std::vector<ReputationWrite> writes,
                                                                 std::size_t max_records) {
    Impl& d = *impl_;
    for (const auto& w : writes)
        if (!valid_key(w.key)) return make_error_code(QueueError::invalid_argument);
    if (!d.has_reputation) return make_error_code(QueueError::read_only);
    return d.write([&](lmdb::Txn& txn) { return apply_reputation_writes(d, txn, writes, max_records); });
}

std::optional<std::string> QueueDb::reputation_get(std::string_view key) const {
    const Impl& d = *impl_;
    if (!d.has_reputation || !valid_key(key)) return std::nullopt;
    lmdb::Txn txn = lmdb::Txn::begin_read(d.env);
    auto v = txn.get(d.reputation, key);
    if (!v || v->size() < kSeenSize) return std::nullopt;
    return std::string(v->substr(kSeenSize));
}

std::uint64_t QueueDb::reputation_count() const {
    const Impl& d = *impl_;
    if (!d.has_reputation) return 0;
    lmdb::Txn txn = lmdb::Txn::begin_read(d.env);
    MDB_stat st{};
    lmdb::check("mdb_stat", mdb_stat(txn.get(), d.reputation, &st));
    return st.ms_entries;
}

std::vector<std::string> QueueDb::reputation_keys_by_age(std::size_t max) const {
    const Impl& d = *impl_;
    std::vector<std::string> out;
    if (!d.has_reputation) return out;
    lmdb::Txn txn = lmdb::Txn::begin_read(d.env);
    lmdb::Cursor c(txn, d.reputation_age);
    for (bool ok = c.first(); ok && out.size() < max; ok = c.next())
        if (c.key().size() > kSeenSize) out.emplace_back(c.key().substr(kSeenSize));
    return out;
}

}  // namespace edge::queue
