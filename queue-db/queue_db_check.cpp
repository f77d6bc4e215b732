// QueueDb's health: crash recovery at open (leases of dead owners, poison,
// quarantine), the consistency check, commit statistics and space usage.
#include "queue_db_impl.hpp"

#include <sys/stat.h>

#include <map>
#include <set>

namespace edge::queue {

void QueueDb::Impl::upgrade_to_counts(lmdb::Txn& txn) {
    std::map<std::string, QueueCounts> counts;
    lmdb::Cursor c(txn, items);
    for (bool ok = c.first(); ok; ok = c.next())
        if (auto k = records::parse_item_key(c.key())) ++counts[records::queue_key(k->queue)].of(k->status);
    for (const auto& q : all_queue_ids(txn)) counts.try_emplace(records::queue_key(q));
    for (const auto& [key, n] : counts) txn.put(queue_counts, key, records::encode(n));
}

void QueueDb::Impl::recover(lmdb::Txn& txn, bool full) {
    recovery = {};
    recovery.full_scan = full;
    if (full) quarantine_invalid(txn);
    std::set<MessageId> leased;
    for (const auto& q : all_queue_ids(txn))
        for (auto st : {MessageStatus::Active, MessageStatus::PendingRemove})
            for (auto id : item_ids(txn, records::item_prefix(q, st), SIZE_MAX)) leased.insert(id);

    std::map<std::pair<std::uint32_t, std::uint64_t>, bool> alive;  // owner -> still running (checked once)
    for (MessageId id : leased) {
        auto m = find_message(txn, id);
        if (!m) continue;
        bool crashed = false;
        for (auto& h : m->hops) {
            if (h.owner.empty() || h.owner == self) continue;
            auto [it, fresh] = alive.try_emplace(std::pair{h.owner.pid, h.owner.start_ticks}, false);
            if (fresh) it->second = h.owner.alive();
            if (it->second) continue;
            crashed = true;
            h.owner = {};
            if (h.status == MessageStatus::Active) {
                set_status(txn, id, h, MessageStatus::Ready);
                ++recovery.leases_returned;
            }
        }
        if (!crashed) continue;
        m->crash_count += 1;
        bool removing = std::any_of(m->hops.begin(), m->hops.end(),
                                    [](const HopState& h) { return h.status == MessageStatus::PendingRemove; });
        if (removing && !m->ndr_requested) {
            delete_message(txn, id, *m);  // the administrator already removed it
            continue;
        }
        if (options.poison_detection_enabled && m->crash_count >= options.poison_threshold && !removing) {
            move_to_poison(txn, id, *m);
            ++recovery.poisoned;
            recovery.poisoned_ids.push_back(id);
        }
        store_message(txn, id, *m);
    }
}

// Records that fail validation are moved aside with their reason, never fatal.
void QueueDb::Impl::quarantine_invalid(lmdb::Txn& txn) {
    std::vector<std::pair<std::string, std::string>> bad;  // key, reason
    {
        lmdb::Cursor c(txn, messages);
        for (bool ok = c.first(); ok; ok = c.next()) {
            std::string why;
            if (!records::decode_message(c.value(), &why)) bad.emplace_back(std::string(c.key()), why);
        }
    }
    if (bad.empty()) return;
    std::set<MessageId> ids;
    for (auto& [key, why] : bad) {
        auto raw = txn.get(messages, key);
        std::string value = why;
        value.push_back('\0');
        value.append(raw ? *raw : std::string_view{});
        txn.put(quarantine, key, value);
        txn.del(messages, key);
        ids.insert(records::parse_id_key(key));
        ++recovery.quarantined;
    }
    // Index entries that pointed at them would name messages that are gone.
    std::vector<std::string> stale;
    lmdb::Cursor c(txn, items);
    for (bool ok = c.first(); ok; ok = c.next()) {
        auto k = records::parse_item_key(c.key());
        if (k && ids.count(k->id)) stale.emplace_back(c.key());
    }
    lmdb::Cursor r(txn, retry);
    for (bool ok = r.first(); ok; ok = r.next()) {
        auto k = records::parse_retry_key(r.key());
        if (k && k->id != 0 && ids.count(k->id)) stale.emplace_back(std::string("R") + std::string(r.key()));
    }
    for (auto& k : stale) {
        if (k[0] == 'R')
            txn.del(retry, std::string_view(k).substr(1));
        else if (auto item = records::parse_item_key(k))
            remove_item(txn, item->queue, item->status, item->id);
    }
}

void QueueDb::Impl::release_own_leases(lmdb::Txn& txn) {
    for (const auto& q : all_queue_ids(txn))
        for (auto st : {MessageStatus::Active, MessageStatus::PendingRemove})
            for (auto id : item_ids(txn, records::item_prefix(q, st), SIZE_MAX)) {
                auto m = find_message(txn, id);
                if (!m) continue;
                auto* h = m->hop(q);
                if (h == nullptr || !(h->owner == self)) continue;
                h->owner = {};
                if (h->status == MessageStatus::Active) set_status(txn, id, *h, MessageStatus::Ready);
                store_message(txn, id, *m);
            }
}

// ---- health -----------------------------------------------------------------------

ConsistencyReport QueueDb::check() const {
    const Impl& d = *impl_;
    ConsistencyReport rep;
    auto problem = [&](std::string s) {
        if (rep.problems.size() < 100) rep.problems.push_back(std::move(s));
    };
    lmdb::Txn txn = lmdb::Txn::begin_read(d.env);
    auto fmt_v = txn.get(d.meta, "format");
    if (!fmt_v || records::parse_u64_value(*fmt_v) != records::kEnvironmentFormat) problem("meta: format missing or unknown");
    auto next_v = txn.get(d.meta, "next_id");
    std::uint64_t next_id = next_v ? records::parse_u64_value(*next_v).value_or(0) : 0;
    if (next_id == 0) problem("meta: next_id missing");
    if (!txn.get(d.meta, "config_generation")) problem("meta: config_generation missing");

    std::map<std::string, QueueRecord> queue_records;
    {
        lmdb::Cursor c(txn, d.queues);
        for (bool ok = c.first(); ok; ok = c.next()) {
            auto q = records::parse_queue_key(c.key());
            std::string why;
            auto r = records::decode_queue(c.value(), &why);
            if (!q || !r) {
                problem("queue record invalid: " + why);
                continue;
            }
            queue_records.emplace(std::string(c.key()), *r);
            if (r->in_retry && r->next_retry && !txn.get(d.retry, records::retry_key(*r->next_retry, *q, 0)))
                problem("queue " + q->name() + ": in Retry without a retry index entry");
        }
    }

    std::set<MessageId> ids;
    std::vector<lmdb::Txn> store_txns;
    std::vector<MessageId> missing_store_bodies;
    {
        lmdb::Cursor c(txn, d.messages);
        for (bool ok = c.first(); ok; ok = c.next()) {
            MessageId id = records::parse_id_key(c.key());
            std::string tag = "message " + std::to_string(id);
            std::string why;
            auto m = records::decode_message(c.value(), &why);
            ++rep.messages;
            if (id == 0 || id >= next_id) problem(tag + ": id outside the allocated range");
            if (!m) {
                problem(tag + ": invalid record: " + why);
                continue;
            }
            ids.insert(id);
            if (m->ndr_hold && !txn.get(d.ndr_hold, records::ndr_hold_key(*m->ndr_hold, id)))
                problem(tag + ": NDR held without an ndr_hold index entry");
            const bool ndr_pending = std::any_of(m->envelope.recipients.begin(), m->envelope.recipients.end(),
                                                 [](const Recipient& r) { return r.ndr_pending; });
            if (m->ndr_hold && !ndr_pending) problem(tag + ": NDR held with no NDR-pending recipient");
            std::optional<std::size_t> body_size;
            if (m->body_store == 0) {
                if (auto body = txn.get(d.bodies, c.key())) body_size = body->size();
            } else if (m->body_store > d.stores.size()) {
                problem(tag + ": names body store " + std::to_string(m->body_store) + ", which does not exist");
                continue;
            } else {
                // Store read transactions begin after this one, so they see every body
                // whose record this one sees — unless it was deleted since: looked at
                // again below.
                if (store_txns.empty())
                    for (const auto& st : d.stores) store_txns.push_back(lmdb::Txn::begin_read(st.env));
                const auto& st = d.stores[m->body_store - 1u];
                if (auto body = store_txns[m->body_store - 1u].get(st.bodies, m->body_key)) body_size = body->size();
            }
            if (!body_size && m->body_store != 0)
                missing_store_bodies.push_back(id);
            else if (!body_size)
                problem(tag + ": no body");
            else if (*body_size != m->envelope.size)
                problem(tag + ": body size " + std::to_string(*body_size) + " != envelope size " +
                        std::to_string(m->envelope.size));
            if (m->hops.empty()) problem(tag + ": in no queue");
            bool poisoned = m->hop(QueueId::poison()) != nullptr;
            for (const auto& h : m->hops) {
                if (!txn.get(d.items, records::item_key(h.queue, h.status, id)))
                    problem(tag + ": no item entry for queue " + h.queue.name());
                if (!queue_records.count(records::queue_key(h.queue))) problem(tag + ": queue " + h.queue.name() + " has no record");
                if (h.status == MessageStatus::Retry && h.next_retry &&
                    !txn.get(d.retry, records::retry_key(*h.next_retry, h.queue, id)))
                    problem(tag + ": Retry without a retry index entry");
                if (h.status == MessageStatus::Active && h.owner.empty()) problem(tag + ": Active without a lease owner");
            }
            if (!poisoned)
                for (const auto& r : m->envelope.recipients)
                    if (r.status == RecipientStatus::Pending && m->hop(r.next_hop) == nullptr)
                        problem(tag + ": pending recipient without its queue " + r.next_hop.name());
        }
    }
    {
        lmdb::Cursor c(txn, d.items);
        for (bool ok = c.first(); ok; ok = c.next()) {
            ++rep.queue_items;
            auto k = records::parse_item_key(c.key());
            if (!k) {
                problem("malformed item key");
                continue;
            }
            auto m = d.find_message(txn, k->id);
            const HopState* h = m ? m->hop(k->queue) : nullptr;
            if (h == nullptr || h->status != k->status)
                problem("item " + k->queue.name() + "/" + std::to_string(k->id) + " (" + to_string(k->status) +
                        ") does not match its message");
        }
    }
    if (d.has_counts) {
        // Each queue's kept counts against a walk of its items, and no count for a queue
        // that is gone.
        for (const auto& [key, record] : queue_records) {
            auto q = records::parse_queue_key(key);
            if (!q) continue;
            if (!(d.counts_of(txn, *q) == d.walk_counts(txn, *q)))
                problem("queue " + q->name() + ": its message counts do not match its items");
        }
        lmdb::Cursor c(txn, d.queue_counts);
        for (bool ok = c.first(); ok; ok = c.next())
            if (!queue_records.count(std::string(c.key())) &&
                records::decode_counts(c.value()).value_or(QueueCounts{}).total() != 0)
                problem("message counts kept for a queue that has no record");
    }
    {
        lmdb::Cursor c(txn, d.retry);
        for (bool ok = c.first(); ok; ok = c.next()) {
            auto k = records::parse_retry_key(c.key());
            if (!k) {
                problem("malformed retry key");
                continue;
            }
            if (k->id == 0) {
                auto it = queue_records.find(records::queue_key(k->queue));
                if (it == queue_records.end() || !it->second.in_retry || it->second.next_retry != k->when)
                    problem("retry entry for queue " + k->queue.name() + " does not match its queue");
                continue;
            }
            auto m = d.find_message(txn, k->id);
            const HopState* h = m ? m->hop(k->queue) : nullptr;
            if (h == nullptr || h->status != MessageStatus::Retry || h->next_retry != k->when)
                problem("retry entry for message " + std::to_string(k->id) + " does not match it");
        }
    }
    {
        lmdb::Cursor c(txn, d.bodies);
        for (bool ok = c.first(); ok; ok = c.next()) {
            if (ids.count(records::parse_id_key(c.key()))) continue;
            if (txn.get(d.quarantine, c.key())) continue;  // kept beside its quarantined record
            problem("body " + std::to_string(records::parse_id_key(c.key())) + " without a message");
        }
    }
    // A store body missing now is a problem only if its record is still there.
    store_txns.clear();
    for (MessageId id : missing_store_bodies) {
        auto m = [&] {
            lmdb::Txn again = lmdb::Txn::begin_read(d.env);
            return d.find_message(again, id);
        }();
        if (m && !d.read_body(id, *m)) problem("message " + std::to_string(id) + ": no body in its body store");
    }
    return rep;
}

QueueDb::CommitStats QueueDb::commit_stats() const {
    auto s = impl_->committer->stats();
    using G = GroupCommitter;
    CommitStats out{s.batches, s.jobs, {G::kBatchSizeBounds.begin(), G::kBatchSizeBounds.end()},
                    {G::kCommitSecondsBounds.begin(), G::kCommitSecondsBounds.end()},
                    {s.batch_size_counts.begin(), s.batch_size_counts.end()},
                    {s.commit_seconds_counts.begin(), s.commit_seconds_counts.end()},
                    static_cast<double>(s.jobs), s.commit_seconds_sum};
    return out;
}

QueueDb::Usage QueueDb::usage() const {
    Usage u;
    auto add = [&](const lmdb::Env& env) {
        MDB_envinfo info{};
        lmdb::check("mdb_env_info", mdb_env_info(env.get(), &info));
        const std::size_t page = env.page_size();
        const std::size_t used = (info.me_last_pgno + 1) * page;
        u.map_size += info.me_mapsize;
        u.used_bytes += used;
        u.free_bytes += lmdb::free_pages(env) * page;
        // A file longer than its last page (a commit that failed after writing) is
        // written again from there.
        const char* dir = nullptr;
        struct stat st {};
        if (mdb_env_get_path(env.get(), &dir) == 0 && dir != nullptr &&
            ::stat((std::string(dir) + "/data.mdb").c_str(), &st) == 0 && static_cast<std::size_t>(st.st_size) > used)
            u.free_bytes += static_cast<std::size_t>(st.st_size) - used;
    };
    add(impl_->env);
    for (const auto& store : impl_->stores) add(store.env);
    return u;
}

}  // namespace edge::queue
