// QueueDb: enqueue, leasing and outcomes, the retry index, crash recovery and
// administration over the schema described in records.hpp.
#include "queue_db.hpp"

#include "group_commit.hpp"
#include "lmdb.hpp"
#include "records.hpp"
#include "reserve.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <future>
#include <map>
#include <set>
#include <filesystem>
#include <mutex>
#include <atomic>

namespace edge::queue {

using records::HopState;
using records::LeaseOwner;
using records::MessageRecord;
using records::QueueRecord;

namespace {

[[noreturn]] void fail(QueueError code, std::string detail = {}) { throw JobError{code, std::move(detail)}; }

// Whether a write may have the queue's reserve when the volume is full: delivery and
// recovery may, new mail and configuration may not (ARCHITECTURE.md, "A full volume").
enum class ReserveUse : bool { no = false, yes = true };

constexpr MessageStatus kAllStatuses[] = {MessageStatus::Active, MessageStatus::Ready, MessageStatus::Retry,
                                          MessageStatus::Suspended, MessageStatus::PendingRemove};

bool has_pending_for(const Envelope& e, const QueueId& q) {
    return std::any_of(e.recipients.begin(), e.recipients.end(), [&](const Recipient& r) {
        return r.status == RecipientStatus::Pending && r.next_hop == q;
    });
}

// The queues a message belongs in: one per distinct next hop of a pending recipient.
std::vector<HopState> hops_for_pending(const Envelope& e) {
    std::vector<HopState> hops;
    for (const auto& r : e.recipients) {
        if (r.status != RecipientStatus::Pending) continue;
        bool seen = std::any_of(hops.begin(), hops.end(), [&](const HopState& h) { return h.queue == r.next_hop; });
        if (!seen) hops.push_back(HopState{r.next_hop, MessageStatus::Ready, 0, std::nullopt, {}, {}});
    }
    return hops;
}

// The DeliveryType of each hop, from the recipients routed to it.
std::vector<DeliveryType> delivery_types(const MessageRecord& m) {
    std::vector<DeliveryType> types;
    for (const auto& h : m.hops) {
        DeliveryType t = DeliveryType::Undefined;
        for (const auto& r : m.envelope.recipients)
            if (r.next_hop == h.queue) t = r.delivery_type;
        types.push_back(t);
    }
    return types;
}

Status validate(const NewMessage& m) {
    const Envelope& e = m.envelope;
    if (e.recipients.empty()) return QueueError::invalid_argument;
    for (const auto& r : e.recipients) {
        if (r.address.empty() || !records::valid_queue_id(r.next_hop) || r.status != RecipientStatus::Pending)
            return QueueError::invalid_argument;
    }
    if (e.size != m.body.size()) return QueueError::invalid_argument;
    return Done{};
}

}  // namespace

struct QueueDb::Impl {
    lmdb::Env env;
    lmdb::Dbi meta = 0, messages = 0, bodies = 0, queues = 0, items = 0, retry = 0, config = 0, quarantine = 0,
              recipients = 0, ndr_hold = 0;
    QueueDbOptions options;
    bool read_only = false;
    LeaseOwner self = LeaseOwner::self();
    RecoveryReport recovery;
    std::unique_ptr<GroupCommitter> committer;
    bool closed = false;

    // Large bodies live in body stores: environments of their own, each with its own
    // committer, so that the sync of one store's batch overlaps the copying of the
    // next batch into another (LMDB syncs inside its one writer's commit).
    struct BodyStore {
        lmdb::Env env;
        lmdb::Dbi bodies = 0;
        std::unique_ptr<GroupCommitter> committer;
    };
    std::vector<BodyStore> stores;
    std::atomic<unsigned> next_store{0};

    // Batch state, touched only on the committer thread: the id counter is read once
    // per batch and written back once; store bodies of deleted messages are removed
    // once the deletion is durable.
    std::optional<std::uint64_t> next_id;
    bool next_id_dirty = false;
    std::vector<std::pair<std::uint8_t, std::string>> doomed_bodies;
    // Store bodies whose removal job found its store closing (see DeleteBodiesJob).
    std::mutex leftover_mu;
    std::vector<std::pair<std::uint8_t, std::string>> leftover_doomed;

    // ---- the reserve (ARCHITECTURE.md, "A full volume") ----------------------------
    // Shared by the main and the store committers; reserve_mu guards the policy's state.
    std::unique_ptr<Reserve> reserve;
    std::mutex reserve_mu;
    std::chrono::steady_clock::time_point reserve_checked{};
    bool new_mail_refused = false;
    std::uint64_t reserve_given_back = 0;

    // Bytes LMDB reuses before it grows a file, over every environment.
    std::size_t free_bytes() const {
        std::size_t bytes = lmdb::free_pages(env) * env.page_size();
        for (const auto& store : stores) bytes += lmdb::free_pages(store.env) * store.env.page_size();
        return bytes;
    }

    bool reserve_short() const { return reserve && reserve->held() < reserve->target(); }

    // While the reserve is short, it is taken again once space returns: the volume has
    // room for the missing part twice over (once for delivery), or delivery has freed
    // pages inside the queue's files that cover it. New mail waits while neither the
    // reserve nor those pages cover the reserve's size: the space it would take is
    // delivery's. At most every 250 ms (a free-list walk) unless `now`.
    void refresh_reserve(bool now = false) {
        if (!reserve_short()) return;
        std::lock_guard lk(reserve_mu);
        auto t = std::chrono::steady_clock::now();
        if (!now && t - reserve_checked < std::chrono::milliseconds(250)) return;
        reserve_checked = t;
        const std::size_t target = reserve->target();
        std::size_t held = reserve->held();
        std::size_t free = 0;
        try {
            free = free_bytes();
        } catch (const lmdb::Error&) {
        }
        if (reserve->volume_free() >= 2 * (target - held) || held + free >= target) held = reserve->top_up();
        new_mail_refused = held < target && held + free < target;
    }

    bool refuse_new_mail() {
        if (!reserve_short()) return false;
        refresh_reserve();
        std::lock_guard lk(reserve_mu);
        return new_mail_refused;
    }

    bool give_back_reserve() {
        if (!reserve || !reserve->give_back()) return false;
        std::lock_guard lk(reserve_mu);
        ++reserve_given_back;
        new_mail_refused = true;
        reserve_checked = std::chrono::steady_clock::now();
        return true;
    }

    GroupCommitter::Hooks reserve_hooks() {
        GroupCommitter::Hooks h;
        h.after_commit = [this] { refresh_reserve(); };
        h.refuse_new_mail = [this] { return refuse_new_mail(); };
        h.give_back_reserve = [this] { return give_back_reserve(); };
        return h;
    }

    // ---- write helpers (committer thread, inside a write transaction) ------------

    MessageId allocate_id(lmdb::Txn& txn) {
        if (!next_id) {
            auto v = txn.get(meta, "next_id");
            next_id = v ? records::parse_u64_value(*v).value_or(1) : 1;
        }
        next_id_dirty = true;
        return (*next_id)++;
    }

    void flush_batch_state(lmdb::Txn& txn) {
        if (next_id && next_id_dirty) txn.put(meta, "next_id", records::u64_value(*next_id));
        next_id.reset();
        next_id_dirty = false;
    }

    // Every administrator operation raises admin_generation by one in its own write
    // transaction, after its last check (a job may only refuse before its first write).
    void bump_admin_generation(lmdb::Txn& txn) {
        auto v = txn.get(meta, "admin_generation");
        std::uint64_t gen = v ? records::parse_u64_value(*v).value_or(0) : 0;
        txn.put(meta, "admin_generation", records::u64_value(gen + 1));
    }

    void ensure_queue(lmdb::Txn& txn, const QueueId& q, DeliveryType type) {
        std::string key = records::queue_key(q);
        if (txn.get(queues, key)) return;
        QueueRecord r;
        r.delivery_type = type;
        txn.put(queues, key, records::encode(r));
    }

    std::optional<QueueRecord> load_queue(const lmdb::Txn& txn, const QueueId& q) const {
        auto v = txn.get(queues, records::queue_key(q));
        if (!v) return std::nullopt;
        std::string why;
        auto r = records::decode_queue(*v, &why);
        if (!r) fail(QueueError::corrupt_record, "queue " + q.name() + ": " + why);
        return r;
    }

    std::optional<QueueRecord> find_queue(const lmdb::Txn& txn, const QueueId& q) const {
        auto v = txn.get(queues, records::queue_key(q));
        return v ? records::decode_queue(*v) : std::nullopt;
    }

    void store_queue(lmdb::Txn& txn, const QueueId& q, const QueueRecord& r) {
        txn.put(queues, records::queue_key(q), records::encode(r));
    }

    std::optional<MessageRecord> load_message(const lmdb::Txn& txn, MessageId id) const {
        auto v = txn.get(messages, records::id_key(id));
        if (!v) return std::nullopt;
        std::string why;
        auto m = records::decode_message(*v, &why);
        if (!m) fail(QueueError::corrupt_record, "message " + std::to_string(id) + ": " + why);
        return m;
    }

    // For loops over many messages: a missing or invalid record is skipped (check()
    // reports it; the next open quarantines it) rather than failing the whole job
    // after it has written — a job may only fail before its first write.
    std::optional<MessageRecord> find_message(const lmdb::Txn& txn, MessageId id) const {
        auto v = txn.get(messages, records::id_key(id));
        return v ? records::decode_message(*v) : std::nullopt;
    }

    MessageRecord must_load(const lmdb::Txn& txn, MessageId id) const {
        auto m = load_message(txn, id);
        if (!m) fail(QueueError::not_found);
        return std::move(*m);
    }

    void store_message(lmdb::Txn& txn, MessageId id, const MessageRecord& m) {
        txn.put(messages, records::id_key(id), records::encode(m));
    }

    // Writes a new message: record, body (copied once into its page) unless it is
    // already in a body store (`body` null), queue items. `types[i]` is the
    // DeliveryType of hops[i], for queues created on the way.
    MessageId insert_message(lmdb::Txn& txn, const std::string& record, const MessageBody* body,
                             const std::vector<HopState>& hops, const std::vector<DeliveryType>& types) {
        MessageId id = allocate_id(txn);
        std::string key = records::id_key(id);
        // Ids only grow, so both puts append at the right edge of their B-tree.
        txn.put(messages, key, record, MDB_APPEND);
        if (body != nullptr) copy_body(txn.reserve(bodies, key, body->size(), MDB_APPEND), *body);
        for (std::size_t i = 0; i < hops.size(); ++i) {
            ensure_queue(txn, hops[i].queue, types[i]);
            txn.put(items, records::item_key(hops[i].queue, hops[i].status, id), {});
        }
        return id;
    }

    static void copy_body(std::span<char> dst, const MessageBody& body) {
        std::size_t off = 0;
        for (const auto& chunk : body.chunks) {
            if (!chunk.empty()) std::memcpy(dst.data() + off, chunk.data(), chunk.size());
            off += chunk.size();
        }
    }

    MessageId insert_new(lmdb::Txn& txn, const NewMessage& m) {
        MessageRecord rec;
        rec.envelope = m.envelope;
        rec.hops = hops_for_pending(rec.envelope);
        return insert_message(txn, records::encode(rec), &m.body, rec.hops, delivery_types(rec));
    }

    // Moves one queue item to a new status, keeping the item and retry indexes true.
    void set_status(lmdb::Txn& txn, MessageId id, HopState& h, MessageStatus status,
                    std::optional<Timestamp> next_retry = std::nullopt) {
        txn.del(items, records::item_key(h.queue, h.status, id));
        if (h.status == MessageStatus::Retry && h.next_retry) txn.del(retry, records::retry_key(*h.next_retry, h.queue, id));
        h.status = status;
        h.next_retry = status == MessageStatus::Retry ? next_retry : std::nullopt;
        txn.put(items, records::item_key(h.queue, h.status, id), {});
        if (h.status == MessageStatus::Retry && h.next_retry) txn.put(retry, records::retry_key(*h.next_retry, h.queue, id), {});
    }

    void drop_hop_indexes(lmdb::Txn& txn, MessageId id, const HopState& h) {
        txn.del(items, records::item_key(h.queue, h.status, id));
        if (h.status == MessageStatus::Retry && h.next_retry) txn.del(retry, records::retry_key(*h.next_retry, h.queue, id));
    }

    void delete_message(lmdb::Txn& txn, MessageId id, const MessageRecord& m) {
        for (const auto& h : m.hops) drop_hop_indexes(txn, id, h);
        if (m.ndr_hold) txn.del(ndr_hold, records::ndr_hold_key(*m.ndr_hold, id));
        std::string key = records::id_key(id);
        txn.del(messages, key);
        if (m.body_store == 0)
            txn.del(bodies, key);
        else
            doomed_bodies.emplace_back(m.body_store, m.body_key);  // removed after the commit
    }

    // After a durable commit: remove the store bodies of the messages it deleted. A
    // crash in between leaves orphans, which the sweep at open removes.
    void remove_doomed_bodies();
    void remove_store_bodies_now(std::vector<std::pair<std::uint8_t, std::string>> doomed);
    std::optional<std::string> read_body(MessageId id, const MessageRecord& m) const;
    void sweep_orphan_bodies(const lmdb::Txn& main_txn, Timestamp now);

    // ---- one NDR per message (ARCHITECTURE.md) ---------------------------------------

    // Every recipient still pending has had an attempt: a report of its own, or a failed
    // connection to its queue (the hop's retry count). Postfix's rule, one bounce per
    // message per queue-manager pass, in our terms.
    static bool every_pending_recipient_attempted(const MessageRecord& m) {
        for (const auto& r : m.envelope.recipients) {
            if (r.status != RecipientStatus::Pending || r.attempts > 0) continue;
            const HopState* h = m.hop(r.next_hop);
            if (h == nullptr || h->retry_count == 0) return false;
        }
        return true;
    }

    void set_ndr_hold(lmdb::Txn& txn, MessageId id, MessageRecord& m, std::optional<Timestamp> when) {
        if (m.ndr_hold == when) return;
        if (m.ndr_hold) txn.del(ndr_hold, records::ndr_hold_key(*m.ndr_hold, id));
        m.ndr_hold = when;
        if (when) txn.put(ndr_hold, records::ndr_hold_key(*when, id), {});
    }

    // The message as queued, read inside the write transaction (a small body) or from
    // its body store.
    std::optional<std::string> body_for_ndr(const lmdb::Txn& txn, MessageId id, const MessageRecord& m) const {
        if (m.body_store != 0) return read_body(id, m);
        auto v = txn.get(bodies, records::id_key(id));
        return v ? std::optional<std::string>(std::string(*v)) : std::nullopt;
    }

    // Sends the message's one NDR for its NDR-pending recipients when it is due (every
    // pending recipient attempted, or `hold_over`), else holds it until `hold_until`.
    // Never throws after a write: a job may only refuse before its first write.
    void settle_ndr(lmdb::Txn& txn, MessageId id, MessageRecord& m, const NdrBuilder& build, Timestamp hold_until,
                    bool hold_over = false) {
        std::vector<std::size_t> rcpts;
        for (std::size_t i = 0; i < m.envelope.recipients.size(); ++i)
            if (m.envelope.recipients[i].ndr_pending) rcpts.push_back(i);
        if (rcpts.empty()) {
            set_ndr_hold(txn, id, m, std::nullopt);
            return;
        }
        if (!build || (!hold_over && !every_pending_recipient_attempted(m))) {
            if (!m.ndr_hold) set_ndr_hold(txn, id, m, hold_until);
            return;
        }
        auto original = body_for_ndr(txn, id, m);
        auto ndr = build(id, m.envelope, rcpts, original ? std::string_view(*original) : std::string_view{});
        if (ndr && validate(*ndr)) insert_new(txn, *ndr);
        for (std::size_t i : rcpts) {
            m.envelope.recipients[i].ndr_pending = false;
            m.envelope.recipients[i].ndr_status.clear();
        }
        set_ndr_hold(txn, id, m, std::nullopt);
    }

    void set_queue_retry(lmdb::Txn& txn, const QueueId& q, QueueRecord& r, std::optional<Timestamp> next) {
        if (r.in_retry && r.next_retry) txn.del(retry, records::retry_key(*r.next_retry, q, 0));
        r.in_retry = next.has_value();
        r.next_retry = next;
        if (next) txn.put(retry, records::retry_key(*next, q, 0), {});
    }

    void move_to_poison(lmdb::Txn& txn, MessageId id, MessageRecord& m) {
        for (const auto& h : m.hops) drop_hop_indexes(txn, id, h);
        m.hops.clear();
        HopState p;
        p.queue = QueueId::poison();
        p.status = MessageStatus::Suspended;  // Exchange: poison messages stay suspended
        ensure_queue(txn, p.queue, DeliveryType::Undefined);
        txn.put(items, records::item_key(p.queue, p.status, id), {});
        m.hops.push_back(std::move(p));
    }

    std::vector<MessageId> item_ids(const lmdb::Txn& txn, const std::string& prefix, std::size_t max) const {
        std::vector<MessageId> ids;
        lmdb::for_each_prefix(txn, items, prefix, [&](std::string_view key, std::string_view) {
            if (auto k = records::parse_item_key(key)) ids.push_back(k->id);
            return ids.size() < max;
        });
        return ids;
    }

    std::vector<QueueId> all_queue_ids(const lmdb::Txn& txn) const {
        std::vector<QueueId> out;
        lmdb::Cursor c(txn, queues);
        for (bool ok = c.first(); ok; ok = c.next())
            if (auto q = records::parse_queue_key(c.key())) out.push_back(std::move(*q));
        return out;
    }

    // ---- crash recovery -----------------------------------------------------------

    void recover(lmdb::Txn& txn) {
        recovery = {};
        quarantine_invalid(txn);
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
            }
            store_message(txn, id, *m);
        }
    }

    // Records that fail validation are moved aside with their reason, never fatal.
    void quarantine_invalid(lmdb::Txn& txn) {
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
            else
                txn.del(items, k);
        }
    }

    void release_own_leases(lmdb::Txn& txn) {
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

    // One delivery report: recipient outcomes, the lease ended, the message moved on.
    void apply_delivery(lmdb::Txn& txn, const DeliveryReport& report) {
        MessageRecord m = must_load(txn, report.id);
        HopState* h = m.hop(report.queue);
        if (h == nullptr || (h->status != MessageStatus::Active && h->status != MessageStatus::PendingRemove))
            fail(QueueError::invalid_state, "no lease");
        std::string last_error;
        for (const auto& o : report.outcomes) {
            if (o.recipient >= m.envelope.recipients.size()) fail(QueueError::invalid_argument);
            Recipient& r = m.envelope.recipients[o.recipient];
            if (r.next_hop != report.queue || r.status != RecipientStatus::Pending) fail(QueueError::invalid_argument);
            r.attempts += 1;
            r.last_response = o.response;
            if (o.delay_notified) r.delay_notified = true;
            if (o.kind == RecipientOutcome::Kind::Delivered) r.status = RecipientStatus::Delivered;
            if (o.kind == RecipientOutcome::Kind::Failed) {
                r.status = RecipientStatus::Failed;
                if (report.ndr) {
                    r.ndr_pending = true;
                    r.ndr_status = o.status;
                }
            }
            if (o.kind == RecipientOutcome::Kind::Deferred && last_error.empty()) last_error = o.response;
        }
        for (const auto& dsn : report.dsns) insert_new(txn, dsn);
        h->owner = {};
        h->retry_count += 1;
        if (!last_error.empty()) h->last_error = last_error;
        if (h->status == MessageStatus::PendingRemove) {
            if (!m.ndr_requested) {
                delete_message(txn, report.id, m);
                return;
            }
            store_message(txn, report.id, m);  // waits for its NDR (complete_removal)
            return;
        }
        if (!has_pending_for(m.envelope, report.queue)) {
            drop_hop_indexes(txn, report.id, *h);
            std::erase_if(m.hops, [&](const HopState& x) { return x.queue == report.queue; });
        } else if (report.next_retry_time) {
            set_status(txn, report.id, *h, MessageStatus::Retry, report.next_retry_time);
        } else {
            set_status(txn, report.id, *h, MessageStatus::Ready);
        }
        settle_ndr(txn, report.id, m, report.ndr, report.ndr_hold_until);
        if (m.hops.empty())
            delete_message(txn, report.id, m);
        else
            store_message(txn, report.id, m);
    }

    // ---- views --------------------------------------------------------------------

    MessageInfo info_of(MessageId id, const MessageRecord& m, const HopState& h) const {
        MessageInfo i;
        i.id = id;
        i.queue = h.queue;
        i.status = h.status;
        i.envelope = m.envelope;
        i.retry_count = h.retry_count;
        i.next_retry_time = h.next_retry;
        i.last_error = h.last_error;
        i.crash_count = m.crash_count;
        i.ndr_requested = m.ndr_requested;
        return i;
    }

    QueueInfo queue_info(const lmdb::Txn& txn, const QueueId& q, const QueueRecord& r) const {
        QueueInfo i;
        i.id = q;
        i.delivery_type = r.delivery_type;
        i.last_error = r.last_error;
        i.last_retry_time = r.last_retry;
        i.next_retry_time = r.in_retry ? r.next_retry : std::nullopt;
        lmdb::for_each_prefix(txn, items, records::item_prefix(q), [&](std::string_view key, std::string_view) {
            auto k = records::parse_item_key(key);
            if (!k) return true;
            ++i.message_count;
            switch (k->status) {
                case MessageStatus::Active: ++i.active_count; break;
                case MessageStatus::Ready: ++i.ready_count; break;
                case MessageStatus::Retry: ++i.retry_count; break;
                case MessageStatus::Suspended: ++i.suspended_count; break;
                case MessageStatus::PendingRemove: ++i.pending_remove_count; break;
            }
            return true;
        });
        if (r.suspended)
            i.status = QueueStatus::Suspended;
        else if (r.in_retry)
            i.status = QueueStatus::Retry;
        else if (i.active_count > 0)
            i.status = QueueStatus::Active;
        else
            i.status = QueueStatus::Ready;
        return i;
    }

    // ---- running jobs ---------------------------------------------------------------

    // Runs f(txn) as one job of the next batch; done(ec) runs on the committer thread
    // after the durable commit (or the failure).
    template <class F>
    void write_async(F f, std::function<void(std::error_code)> done, ReserveUse use = ReserveUse::no) {
        struct AsyncJob final : GroupCommitter::Job {
            AsyncJob(F fn, std::function<void(std::error_code)> d, ReserveUse u)
                : f(std::move(fn)), done(std::move(d)), use(u) {}
            void apply(lmdb::Txn& txn) override { f(txn); }
            void finish(std::error_code ec) override { done(ec); }
            bool may_use_reserve() const override { return use == ReserveUse::yes; }
            F f;
            std::function<void(std::error_code)> done;
            ReserveUse use;
        };
        if (!committer) {
            done(make_error_code(QueueError::read_only));
            return;
        }
        committer->submit(std::make_unique<AsyncJob>(std::move(f), std::move(done), use));
    }

    // Runs f(txn) as one job of the next batch and waits for the durable commit.
    template <class F>
    auto write(F&& f, ReserveUse use = ReserveUse::no) -> Result<std::conditional_t<std::is_void_v<std::invoke_result_t<F&, lmdb::Txn&>>, Done,
                                                   std::invoke_result_t<F&, lmdb::Txn&>>> {
        using R = std::invoke_result_t<F&, lmdb::Txn&>;
        using V = std::conditional_t<std::is_void_v<R>, Done, R>;
        // The result lives on this (blocked) caller's stack, not in the job: the
        // committer destroys the job right after finish(), possibly before we wake.
        struct FnJob final : GroupCommitter::Job {
            FnJob(F& fn, std::optional<V>& out, ReserveUse u) : f(fn), value(out), use(u) {}
            void apply(lmdb::Txn& txn) override {
                if constexpr (std::is_void_v<R>) {
                    f(txn);
                    value = Done{};
                } else {
                    value = f(txn);
                }
            }
            void finish(std::error_code ec) override { done.set_value(ec); }
            bool may_use_reserve() const override { return use == ReserveUse::yes; }
            F& f;
            std::optional<V>& value;
            ReserveUse use;
            std::promise<std::error_code> done;
        };
        if (!committer) return make_error_code(QueueError::read_only);
        std::optional<V> value;
        auto job = std::make_unique<FnJob>(f, value, use);
        auto fut = job->done.get_future();
        committer->submit(std::move(job));
        std::error_code ec = fut.get();
        if (ec) return ec;
        return std::move(*value);
    }
};

namespace {

// Removes bodies from one body store; what it cannot remove (the store is closing)
// is handed back to be removed synchronously at close or swept at the next open.
class DeleteBodiesJob final : public GroupCommitter::Job {
public:
    DeleteBodiesJob(QueueDb::Impl& db, std::uint8_t store, std::vector<std::string> keys)
        : db_(db), store_(store), keys_(std::move(keys)) {}
    void apply(lmdb::Txn& txn) override {
        for (const auto& k : keys_) txn.del(db_.stores[store_ - 1].bodies, k);
    }
    bool may_use_reserve() const override { return true; }  // deleting frees space
    void finish(std::error_code ec) override {
        if (!ec) return;
        std::lock_guard lk(db_.leftover_mu);
        for (auto& k : keys_) db_.leftover_doomed.emplace_back(store_, std::move(k));
    }

private:
    QueueDb::Impl& db_;
    std::uint8_t store_;
    std::vector<std::string> keys_;
};

// An enqueue. Its record is encoded, and its envelope freed, on the caller's thread.
// A small body is copied into the main environment in the same transaction as the
// record. A large one was committed to a body store first (StoreBodyJob), so the
// record, committed here, never names a body that is not on disk.
class EnqueueJob final : public GroupCommitter::Job {
public:
    EnqueueJob(QueueDb::Impl& db, std::string record, std::vector<HopState> hops, std::vector<DeliveryType> types,
               MessageBody body, std::uint8_t store, std::string body_key, QueueDb::EnqueueHandler done)
        : db_(db), record_(std::move(record)), hops_(std::move(hops)), types_(std::move(types)),
          body_(std::move(body)), store_(store), body_key_(std::move(body_key)), done_(std::move(done)) {}
    void apply(lmdb::Txn& txn) override {
        id_ = db_.insert_message(txn, record_, store_ == 0 ? &body_ : nullptr, hops_, types_);
    }
    bool new_mail() const override { return true; }
    void finish(std::error_code ec) override {
        if (ec && store_ != 0)  // the record did not make it: its body is an orphan now
            db_.stores[store_ - 1].committer->submit(
                std::make_unique<DeleteBodiesJob>(db_, store_, std::vector<std::string>{body_key_}));
        done_(ec, ec ? 0 : id_);
    }
    // The body never reached its store: the enqueue fails without a record.
    void abandon(std::error_code ec) { done_(ec, 0); }

private:
    QueueDb::Impl& db_;
    std::string record_;
    std::vector<HopState> hops_;
    std::vector<DeliveryType> types_;
    MessageBody body_;
    std::uint8_t store_;
    std::string body_key_;
    QueueDb::EnqueueHandler done_;
    MessageId id_ = 0;
};

// The first half of a large enqueue: the body, durably, in its body store. Its
// completion hands the record to the main environment's committer.
class StoreBodyJob final : public GroupCommitter::Job {
public:
    StoreBodyJob(QueueDb::Impl& db, std::unique_ptr<EnqueueJob> then, MessageBody body, std::uint8_t store,
                 std::string key)
        : db_(db), then_(std::move(then)), body_(std::move(body)), store_(store), key_(std::move(key)) {}
    void apply(lmdb::Txn& txn) override {
        QueueDb::Impl::copy_body(txn.reserve(db_.stores[store_ - 1].bodies, key_, body_.size(), MDB_NOOVERWRITE), body_);
    }
    bool new_mail() const override { return true; }
    void finish(std::error_code ec) override {
        body_.chunks.clear();  // on disk now; free it before the record's commit
        if (ec) {
            then_->abandon(ec);
            return;
        }
        db_.committer->submit(std::move(then_));
    }

private:
    QueueDb::Impl& db_;
    std::unique_ptr<EnqueueJob> then_;
    MessageBody body_;
    std::uint8_t store_;
    std::string key_;
};
}  // namespace

void QueueDb::Impl::remove_doomed_bodies() {
    if (doomed_bodies.empty()) return;
    std::vector<std::vector<std::string>> per_store(stores.size());
    for (auto& [store, key] : doomed_bodies) per_store[store - 1u].push_back(std::move(key));
    doomed_bodies.clear();
    for (std::size_t i = 0; i < per_store.size(); ++i)
        if (!per_store[i].empty())
            stores[i].committer->submit(
                std::make_unique<DeleteBodiesJob>(*this, static_cast<std::uint8_t>(i + 1), std::move(per_store[i])));
}

void QueueDb::Impl::remove_store_bodies_now(std::vector<std::pair<std::uint8_t, std::string>> doomed) {
    for (std::size_t i = 0; i < stores.size(); ++i) {
        bool any = std::any_of(doomed.begin(), doomed.end(), [&](const auto& x) { return x.first == i + 1; });
        if (!any) continue;
        lmdb::Txn txn = lmdb::Txn::begin_write(stores[i].env);
        for (const auto& [store, key] : doomed)
            if (store == i + 1) txn.del(stores[i].bodies, key);
        txn.commit();
    }
}

std::optional<std::string> QueueDb::Impl::read_body(MessageId id, const MessageRecord& m) const {
    if (m.body_store == 0) {
        lmdb::Txn txn = lmdb::Txn::begin_read(env);
        auto v = txn.get(bodies, records::id_key(id));
        return v ? std::optional<std::string>(std::string(*v)) : std::nullopt;
    }
    if (m.body_store > stores.size()) return std::nullopt;
    const BodyStore& store = stores[m.body_store - 1u];
    lmdb::Txn txn = lmdb::Txn::begin_read(store.env);
    auto v = txn.get(store.bodies, m.body_key);
    return v ? std::optional<std::string>(std::string(*v)) : std::nullopt;
}

// Store bodies no record names: left by a crash between a body's commit and its
// record's, or between a deletion and the body's removal. Only bodies older than
// an hour go, so a body whose record another process is committing right now stays.
// While records sit in quarantine their bodies are kept: we cannot tell which they are.
void QueueDb::Impl::sweep_orphan_bodies(const lmdb::Txn& main_txn, Timestamp now) {
    if (stores.empty()) return;
    {
        lmdb::Cursor q(main_txn, quarantine);
        if (q.first()) return;
    }
    std::vector<std::set<std::string>> named(stores.size());
    {
        lmdb::Cursor c(main_txn, messages);
        for (bool ok = c.first(); ok; ok = c.next()) {
            auto m = records::decode_message(c.value());
            if (m && m->body_store > 0 && m->body_store <= stores.size()) named[m->body_store - 1u].insert(m->body_key);
        }
    }
    const Timestamp cutoff = now - std::chrono::hours(1);
    for (std::size_t i = 0; i < stores.size(); ++i) {
        lmdb::Txn txn = lmdb::Txn::begin_read(stores[i].env);
        lmdb::Cursor c(txn, stores[i].bodies);
        for (bool ok = c.first(); ok; ok = c.next()) {
            auto t = records::body_key_time(c.key());
            if (named[i].count(std::string(c.key())) || (t && *t > cutoff)) continue;
            doomed_bodies.emplace_back(static_cast<std::uint8_t>(i + 1), std::string(c.key()));
            ++recovery.orphan_bodies_removed;
        }
    }
}

// ---------------------------------------------------------------------------------

QueueDb::QueueDb(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

QueueDb::~QueueDb() { close(); }

namespace {

// Every LMDB call open() makes: the environments, their databases, and (read-write)
// crash recovery with the sweep of orphan bodies — the writes a start needs.
std::error_code open_environments(QueueDb::Impl& d, const std::string& dir, const QueueDbOptions& options) {
    const unsigned create = options.read_only ? 0 : MDB_CREATE;
    auto begin = [&](const lmdb::Env& env) {
        return options.read_only ? lmdb::Txn::begin_read(env) : lmdb::Txn::begin_write(env);
    };
    try {
        lmdb::EnvOptions eo;
        eo.map_size = options.map_size;
        if (options.read_only) eo.flags |= MDB_RDONLY;  // opening writes nothing to the data files
        d.env = lmdb::Env::open(dir, eo);
        std::uint64_t store_count = 0;
        {
            lmdb::Txn txn = begin(d.env);
            d.meta = txn.open_dbi("meta", create);
            d.messages = txn.open_dbi("messages", create);
            d.bodies = txn.open_dbi("bodies", create);
            d.queues = txn.open_dbi("queues", create);
            d.items = txn.open_dbi("items", create);
            d.retry = txn.open_dbi("retry", create);
            d.config = txn.open_dbi("config", create);
            d.quarantine = txn.open_dbi("quarantine", create);
            d.recipients = txn.open_dbi("recipients", create);
            d.ndr_hold = txn.open_dbi("ndr_hold", create);  // added with record format 3
            auto format = txn.get(d.meta, "format");
            if (!format && !options.read_only) {
                txn.put(d.meta, "format", records::u64_value(records::kEnvironmentFormat));
                txn.put(d.meta, "next_id", records::u64_value(1));
                txn.put(d.meta, "config_generation", records::u64_value(0));
                // Fixed at creation: records name their store by number.
                txn.put(d.meta, "body_stores", records::u64_value(std::min<std::uint32_t>(options.body_stores, 16)));
                d.ensure_queue(txn, QueueId::submission(), DeliveryType::Undefined);
            } else if (!format || records::parse_u64_value(*format) != records::kEnvironmentFormat) {
                return QueueError::corrupt_record;  // a format we do not know: refuse to touch it
            }
            auto stores_v = txn.get(d.meta, "body_stores");
            store_count = stores_v ? records::parse_u64_value(*stores_v).value_or(0) : 0;
            txn.commit();  // a read transaction's commit keeps its database handles
        }
        for (std::uint64_t n = 0; n < store_count; ++n) {
            std::string sdir = dir + "/bodies-" + std::to_string(n);
            if (!options.read_only) std::filesystem::create_directories(sdir);
            QueueDb::Impl::BodyStore store;
            lmdb::EnvOptions so = eo;
            so.max_dbs = 2;
            store.env = lmdb::Env::open(sdir, so);
            lmdb::Txn txn = begin(store.env);
            store.bodies = txn.open_dbi("bodies", create);
            txn.commit();
            d.stores.push_back(std::move(store));
        }
        if (options.read_only) return {};
        lmdb::Txn txn = lmdb::Txn::begin_write(d.env);
        if (options.recover_leases) d.recover(txn);
        d.sweep_orphan_bodies(txn, now_timestamp());
        txn.commit();
        d.remove_store_bodies_now(std::exchange(d.doomed_bodies, {}));
    } catch (const lmdb::Error& e) {
        // A short write at open is a full volume as it is at a commit, never "I/O error".
        return make_error_code(classify_write_failure(e.rc(), d.env));
    } catch (const JobError& e) {
        return make_error_code(e.code);
    } catch (const std::filesystem::filesystem_error& e) {
        return e.code() == std::errc::no_space_on_device ? QueueError::storage_full : QueueError::io_error;
    }
    return {};
}

}  // namespace

Result<std::unique_ptr<QueueDb>> QueueDb::open(const std::string& dir, const QueueDbOptions& options) {
    std::unique_ptr<Reserve> reserve;
    if (!options.read_only && options.reserve_size) reserve = std::make_unique<Reserve>(dir, *options.reserve_size);
    bool given_back = false;
    for (;;) {
        auto impl = std::make_unique<Impl>();
        impl->options = options;
        impl->read_only = options.read_only;
        impl->reserve = std::move(reserve);
        if (std::error_code ec = open_environments(*impl, dir, options)) {
            reserve = std::move(impl->reserve);
            impl.reset();  // closes the environments before they are opened again
            // Starting after a crash on a full volume: recovery may have the reserve.
            if (!given_back && is_storage_full(ec) && reserve && reserve->give_back()) {
                given_back = true;
                continue;
            }
            return ec;
        }
        Impl& d = *impl;
        if (options.read_only) return std::unique_ptr<QueueDb>(new QueueDb(std::move(impl)));
        if (given_back) {
            d.reserve_given_back = 1;
            d.new_mail_refused = true;
        }
        d.refresh_reserve(/*now=*/true);
        for (auto& store : d.stores) store.committer = std::make_unique<GroupCommitter>(store.env, d.reserve_hooks());
        Impl* raw = impl.get();
        GroupCommitter::Hooks hooks = d.reserve_hooks();
        hooks.after_batch = [raw](lmdb::Txn& txn) { raw->flush_batch_state(txn); };
        hooks.after_commit = [raw] {
            raw->remove_doomed_bodies();
            raw->refresh_reserve();
        };
        hooks.after_abort = [raw] {
            raw->next_id.reset();
            raw->next_id_dirty = false;
            raw->doomed_bodies.clear();
        };
        d.committer = std::make_unique<GroupCommitter>(d.env, std::move(hooks));
        return std::unique_ptr<QueueDb>(new QueueDb(std::move(impl)));
    }
}

void QueueDb::close() {
    if (!impl_ || impl_->closed) return;
    Impl& d = *impl_;
    d.closed = true;
    if (!d.read_only) {
        // Stores first: a body they commit now hands its record to the main committer,
        // which is still running and commits it while it stops.
        for (auto& store : d.stores) store.committer->stop();
        d.committer->stop();
        for (bool again = true; again;) {
            again = false;
            try {
                lmdb::Txn txn = lmdb::Txn::begin_write(d.env);
                d.release_own_leases(txn);
                txn.commit();
                std::lock_guard lk(d.leftover_mu);
                d.remove_store_bodies_now(std::exchange(d.leftover_doomed, {}));
            } catch (const lmdb::Error& e) {
                // Returning leases is recovery: on a full volume it may have the reserve.
                again = classify_write_failure(e.rc(), d.env) == QueueError::storage_full && d.give_back_reserve();
            } catch (...) {
                // Leases we could not return are recovered at the next open as a crash
                // would be; bodies we could not remove are swept as orphans.
            }
        }
    }
    for (auto& store : d.stores) store.env.close();
    d.env.close();
}

QueueDb::ReserveState QueueDb::reserve_state() const {
    Impl& d = *impl_;
    ReserveState r;
    if (!d.reserve) return r;
    d.refresh_reserve();
    r.target = d.reserve->target();
    r.held = d.reserve->held();
    std::lock_guard lk(d.reserve_mu);
    r.given_back = d.reserve_given_back;
    r.new_mail_refused = r.held < r.target && d.new_mail_refused;
    return r;
}

const RecoveryReport& QueueDb::recovery_report() const { return impl_->recovery; }

// ---- enqueue ----------------------------------------------------------------------

void QueueDb::enqueue_async(NewMessage message, EnqueueHandler done) {
    if (auto st = validate(message); !st) {
        done(st.error(), 0);
        return;
    }
    Impl& d = *impl_;
    if (d.read_only) {
        done(make_error_code(QueueError::read_only), 0);
        return;
    }
    MessageRecord rec;
    rec.envelope = std::move(message.envelope);
    rec.hops = hops_for_pending(rec.envelope);
    bool large = !d.stores.empty() && message.body.size() >= d.options.body_store_threshold;
    if (large) {
        rec.body_store = static_cast<std::uint8_t>(d.next_store++ % d.stores.size() + 1);
        rec.body_key = records::new_body_key(now_timestamp());
    }
    std::string record = records::encode(rec);
    auto types = delivery_types(rec);
    if (!large) {
        d.committer->submit(std::make_unique<EnqueueJob>(d, std::move(record), std::move(rec.hops), std::move(types),
                                                         std::move(message.body), 0, std::string{}, std::move(done)));
        return;
    }
    auto then = std::make_unique<EnqueueJob>(d, std::move(record), std::move(rec.hops), std::move(types), MessageBody{},
                                             rec.body_store, rec.body_key, std::move(done));
    d.stores[rec.body_store - 1u].committer->submit(std::make_unique<StoreBodyJob>(
        d, std::move(then), std::move(message.body), rec.body_store, std::move(rec.body_key)));
}

Result<MessageId> QueueDb::enqueue(NewMessage message) {
    // The promise is shared with the handler so that it outlives set_value() even when
    // this thread wakes and returns first.
    auto p = std::make_shared<std::promise<std::pair<std::error_code, MessageId>>>();
    auto f = p->get_future();
    enqueue_async(std::move(message), [p](std::error_code ec, MessageId id) { p->set_value({ec, id}); });
    auto [ec, id] = f.get();
    if (ec) return ec;
    return id;
}

// ---- delivery ---------------------------------------------------------------------

Result<std::vector<LeasedMessage>> QueueDb::lease_for_delivery(const QueueId& queue, std::size_t max) {
    Impl& d = *impl_;
    auto now = now_timestamp();
    auto job = [&](lmdb::Txn& txn) {
        std::vector<LeasedMessage> out;
        auto qr = d.load_queue(txn, queue);
        if (!qr || qr->suspended || (qr->in_retry && qr->next_retry && *qr->next_retry > now)) return out;
        for (MessageId id : d.item_ids(txn, records::item_prefix(queue, MessageStatus::Ready), max)) {
            auto m = d.find_message(txn, id);
            if (!m) continue;
            HopState* h = m->hop(queue);
            if (h == nullptr) continue;
            d.set_status(txn, id, *h, MessageStatus::Active);
            h->owner = d.self;
            d.store_message(txn, id, *m);
            LeasedMessage l;
            l.id = id;
            l.queue = queue;
            l.retry_count = h->retry_count;
            for (std::size_t i = 0; i < m->envelope.recipients.size(); ++i) {
                const auto& r = m->envelope.recipients[i];
                if (r.status == RecipientStatus::Pending && r.next_hop == queue) l.recipients.push_back(i);
            }
            l.envelope = std::move(m->envelope);
            out.push_back(std::move(l));
        }
        return out;
    };
    return d.write(job, ReserveUse::yes);
}

Status QueueDb::record_delivery(DeliveryReport report) {
    Impl& d = *impl_;
    auto job = [&](lmdb::Txn& txn) { d.apply_delivery(txn, report); };
    return d.write(job, ReserveUse::yes);
}

void QueueDb::record_delivery_async(DeliveryReport report, std::function<void(std::error_code)> done) {
    Impl& d = *impl_;
    d.write_async([&d, report = std::move(report)](lmdb::Txn& txn) { d.apply_delivery(txn, report); },
                  std::move(done), ReserveUse::yes);
}

Result<std::size_t> QueueDb::resubmit(const QueueId& queue, const Reroute& route) {
    Impl& d = *impl_;
    auto job = [&](lmdb::Txn& txn) {
        std::size_t moved = 0;
        for (MessageStatus st : {MessageStatus::Ready, MessageStatus::Retry}) {
            for (MessageId id : d.item_ids(txn, records::item_prefix(queue, st), SIZE_MAX)) {
                auto m = d.find_message(txn, id);
                HopState* h = m ? m->hop(queue) : nullptr;
                if (h == nullptr) continue;
                std::vector<DeliveryType> types;
                for (auto& r : m->envelope.recipients) {
                    if (r.status != RecipientStatus::Pending || !(r.next_hop == queue)) continue;
                    auto [q, type] = route(r);
                    r.next_hop = std::move(q);
                    r.delivery_type = type;
                }
                // Drop the old hop, then add a Ready hop for each queue now named.
                d.drop_hop_indexes(txn, id, *h);
                std::erase_if(m->hops, [&](const HopState& x) { return x.queue == queue; });
                for (auto& fresh : hops_for_pending(m->envelope)) {
                    if (m->hop(fresh.queue) != nullptr) continue;
                    DeliveryType type = DeliveryType::Undefined;
                    for (const auto& r : m->envelope.recipients)
                        if (r.next_hop == fresh.queue) type = r.delivery_type;
                    d.ensure_queue(txn, fresh.queue, type);
                    txn.put(d.items, records::item_key(fresh.queue, fresh.status, id), {});
                    m->hops.push_back(std::move(fresh));
                }
                d.store_message(txn, id, *m);
                ++moved;
            }
        }
        d.bump_admin_generation(txn);
        return moved;
    };
    return d.write(job, ReserveUse::yes);
}

Status QueueDb::release_lease(MessageId id, const QueueId& queue) {
    Impl& d = *impl_;
    auto job = [&](lmdb::Txn& txn) {
        MessageRecord m = d.must_load(txn, id);
        HopState* h = m.hop(queue);
        if (h == nullptr || h->owner.empty()) fail(QueueError::invalid_state, "no lease");
        h->owner = {};
        if (h->status == MessageStatus::PendingRemove && !m.ndr_requested) {
            d.delete_message(txn, id, m);
            return;
        }
        if (h->status == MessageStatus::Active) d.set_status(txn, id, *h, MessageStatus::Ready);
        d.store_message(txn, id, m);
    };
    return d.write(job, ReserveUse::yes);
}

Status QueueDb::defer_queue(const QueueId& queue, Timestamp next_retry, std::string error, const NdrBuilder& ndr,
                            const std::vector<MessageId>* only) {
    Impl& d = *impl_;
    auto now = now_timestamp();
    auto ours = [&](MessageId id) { return only == nullptr || std::find(only->begin(), only->end(), id) != only->end(); };
    auto job = [&](lmdb::Txn& txn) {
        auto qr = d.load_queue(txn, queue);
        if (!qr) fail(QueueError::not_found);
        d.set_queue_retry(txn, queue, *qr, next_retry);
        qr->last_retry = now;
        qr->last_error = error;
        d.store_queue(txn, queue, *qr);
        for (MessageId id : d.item_ids(txn, records::item_prefix(queue, MessageStatus::Active), SIZE_MAX)) {
            auto m = d.find_message(txn, id);
            HopState* h = m ? m->hop(queue) : nullptr;
            if (h == nullptr || !(h->owner == d.self) || !ours(id)) continue;
            h->owner = {};
            h->retry_count += 1;
            h->last_error = error;
            d.set_status(txn, id, *h, MessageStatus::Ready);
            d.settle_ndr(txn, id, *m, ndr, now);
            d.store_message(txn, id, *m);
        }
        // Leases of messages an administrator removed meanwhile end too: without an
        // NDR the message goes now; with one it waits for complete_removal().
        for (MessageId id : d.item_ids(txn, records::item_prefix(queue, MessageStatus::PendingRemove), SIZE_MAX)) {
            auto m = d.find_message(txn, id);
            HopState* h = m ? m->hop(queue) : nullptr;
            if (h == nullptr || !(h->owner == d.self) || !ours(id)) continue;
            h->owner = {};
            if (!m->ndr_requested) {
                d.delete_message(txn, id, *m);
                continue;
            }
            h->last_error = error;
            d.store_message(txn, id, *m);
        }
    };
    return d.write(job, ReserveUse::yes);
}

Status QueueDb::mark_queue_connected(const QueueId& queue) {
    Impl& d = *impl_;
    auto now = now_timestamp();
    auto job = [&](lmdb::Txn& txn) {
        auto qr = d.load_queue(txn, queue);
        if (!qr) fail(QueueError::not_found);
        if (!qr->in_retry && qr->last_error.empty()) return;
        d.set_queue_retry(txn, queue, *qr, std::nullopt);
        qr->last_retry = now;
        qr->last_error.clear();
        d.store_queue(txn, queue, *qr);
    };
    return d.write(job, ReserveUse::yes);
}

Result<std::size_t> QueueDb::send_held_ndrs(Timestamp now, const NdrBuilder& ndr) {
    Impl& d = *impl_;
    auto job = [&](lmdb::Txn& txn) {
        std::vector<std::pair<std::string, MessageId>> due;
        {
            lmdb::Cursor c(txn, d.ndr_hold);
            for (bool ok = c.first(); ok; ok = c.next()) {
                auto k = records::parse_ndr_hold_key(c.key());
                if (k && k->when > now) break;
                due.emplace_back(std::string(c.key()), k ? k->id : 0);
            }
        }
        std::size_t sent = 0;
        for (const auto& [key, id] : due) {
            auto m = id != 0 ? d.find_message(txn, id) : std::nullopt;
            if (!m || !m->ndr_hold || records::ndr_hold_key(*m->ndr_hold, id) != key) {
                txn.del(d.ndr_hold, key);  // stale: names no message holding an NDR then
                continue;
            }
            d.settle_ndr(txn, id, *m, ndr, now, /*hold_over=*/true);
            if (m->hops.empty())
                d.delete_message(txn, id, *m);
            else
                d.store_message(txn, id, *m);
            ++sent;
        }
        return sent;
    };
    return d.write(job, ReserveUse::yes);
}

std::optional<Timestamp> QueueDb::next_ndr_hold_due() const {
    lmdb::Txn txn = lmdb::Txn::begin_read(impl_->env);
    lmdb::Cursor c(txn, impl_->ndr_hold);
    if (!c.first()) return std::nullopt;
    auto k = records::parse_ndr_hold_key(c.key());
    if (!k) return std::nullopt;
    return k->when;
}

// ---- retry index ------------------------------------------------------------------

std::optional<Timestamp> QueueDb::next_retry_due() const {
    lmdb::Txn txn = lmdb::Txn::begin_read(impl_->env);
    lmdb::Cursor c(txn, impl_->retry);
    if (!c.first()) return std::nullopt;
    auto k = records::parse_retry_key(c.key());
    if (!k) return std::nullopt;
    return k->when;
}

Result<std::vector<QueueId>> QueueDb::promote_due(Timestamp now) {
    Impl& d = *impl_;
    auto job = [&](lmdb::Txn& txn) {
        std::vector<std::string> due;
        {
            lmdb::Cursor c(txn, d.retry);
            for (bool ok = c.first(); ok; ok = c.next()) {
                auto k = records::parse_retry_key(c.key());
                if (k && k->when > now) break;
                due.emplace_back(c.key());
            }
        }
        std::vector<QueueId> touched;
        for (const auto& key : due) {
            auto k = records::parse_retry_key(key);
            txn.del(d.retry, key);
            if (!k) continue;
            if (std::find(touched.begin(), touched.end(), k->queue) == touched.end()) touched.push_back(k->queue);
            if (k->id == 0) {
                if (auto qr = d.find_queue(txn, k->queue)) {
                    qr->in_retry = false;
                    qr->next_retry.reset();
                    d.store_queue(txn, k->queue, *qr);
                }
                continue;
            }
            auto m = d.find_message(txn, k->id);
            HopState* h = m ? m->hop(k->queue) : nullptr;
            if (h == nullptr || h->status != MessageStatus::Retry) continue;
            h->next_retry.reset();  // its retry key is already gone
            d.set_status(txn, k->id, *h, MessageStatus::Ready);
            d.store_message(txn, k->id, *m);
        }
        std::vector<QueueId> ready;
        for (auto& q : touched) {
            auto qr = d.find_queue(txn, q);
            if (!qr || qr->suspended || qr->in_retry) continue;
            if (!d.item_ids(txn, records::item_prefix(q, MessageStatus::Ready), 1).empty()) ready.push_back(q);
        }
        return ready;
    };
    return d.write(job, ReserveUse::yes);
}

std::vector<QueueId> QueueDb::ready_queues() const {
    const Impl& d = *impl_;
    auto now = now_timestamp();
    lmdb::Txn txn = lmdb::Txn::begin_read(d.env);
    std::vector<QueueId> out;
    for (auto& q : d.all_queue_ids(txn)) {
        auto v = txn.get(d.queues, records::queue_key(q));
        auto qr = v ? records::decode_queue(*v) : std::nullopt;
        if (!qr || qr->suspended || (qr->in_retry && qr->next_retry && *qr->next_retry > now)) continue;
        if (!d.item_ids(txn, records::item_prefix(q, MessageStatus::Ready), 1).empty()) out.push_back(q);
    }
    return out;
}

// ---- administration ---------------------------------------------------------------

std::vector<QueueInfo> QueueDb::list_queues() const {
    const Impl& d = *impl_;
    lmdb::Txn txn = lmdb::Txn::begin_read(d.env);
    std::vector<QueueInfo> out;
    lmdb::Cursor c(txn, d.queues);
    for (bool ok = c.first(); ok; ok = c.next()) {
        auto q = records::parse_queue_key(c.key());
        auto r = records::decode_queue(c.value());
        if (!q || !r) continue;  // check() reports it
        QueueInfo i = d.queue_info(txn, *q, *r);
        // Exchange hides the Unreachable and Poison queues while they are empty.
        bool hidden_when_empty = q->kind == QueueKind::Unreachable || q->kind == QueueKind::Poison;
        if (hidden_when_empty && i.message_count == 0) continue;
        out.push_back(std::move(i));
    }
    return out;
}

std::optional<QueueInfo> QueueDb::get_queue(const QueueId& queue) const {
    const Impl& d = *impl_;
    lmdb::Txn txn = lmdb::Txn::begin_read(d.env);
    auto v = txn.get(d.queues, records::queue_key(queue));
    if (!v) return std::nullopt;
    auto r = records::decode_queue(*v);
    if (!r) return std::nullopt;
    return d.queue_info(txn, queue, *r);
}

std::vector<MessageInfo> QueueDb::list_messages(const MessageFilter& filter,
                                                const std::function<bool(const MessageInfo&)>& predicate) const {
    const Impl& d = *impl_;
    lmdb::Txn txn = lmdb::Txn::begin_read(d.env);
    std::vector<MessageInfo> out;
    std::string prefix;
    if (filter.queue) prefix = filter.status ? records::item_prefix(*filter.queue, *filter.status)
                                             : records::item_prefix(*filter.queue);
    lmdb::for_each_prefix(txn, d.items, prefix, [&](std::string_view key, std::string_view) {
        auto k = records::parse_item_key(key);
        if (!k || (filter.status && k->status != *filter.status)) return true;
        auto m = d.find_message(txn, k->id);
        const HopState* h = m ? m->hop(k->queue) : nullptr;
        if (h == nullptr) return true;
        MessageInfo i = d.info_of(k->id, *m, *h);
        if (!predicate || predicate(i)) out.push_back(std::move(i));
        return out.size() < filter.limit;
    });
    return out;
}

std::optional<MessageInfo> QueueDb::get_message(MessageId id, const std::optional<QueueId>& queue) const {
    const Impl& d = *impl_;
    lmdb::Txn txn = lmdb::Txn::begin_read(d.env);
    auto m = d.find_message(txn, id);
    if (!m || m->hops.empty()) return std::nullopt;
    const HopState* h = queue ? m->hop(*queue) : &m->hops.front();
    if (h == nullptr) return std::nullopt;
    return d.info_of(id, *m, *h);
}

std::optional<std::string> QueueDb::export_message(MessageId id) const {
    std::optional<MessageRecord> m;
    {
        lmdb::Txn txn = lmdb::Txn::begin_read(impl_->env);
        m = impl_->find_message(txn, id);
    }
    if (!m) return std::nullopt;
    return impl_->read_body(id, *m);
}

Status QueueDb::suspend_queue(const QueueId& queue) {
    Impl& d = *impl_;
    auto job = [&](lmdb::Txn& txn) {
        auto qr = d.load_queue(txn, queue);
        if (!qr) fail(QueueError::not_found);
        qr->suspended = true;
        d.store_queue(txn, queue, *qr);
        d.bump_admin_generation(txn);
    };
    return d.write(job);
}

Status QueueDb::resume_queue(const QueueId& queue) {
    Impl& d = *impl_;
    auto job = [&](lmdb::Txn& txn) {
        auto qr = d.load_queue(txn, queue);
        if (!qr) fail(QueueError::not_found);
        qr->suspended = false;
        d.store_queue(txn, queue, *qr);
        d.bump_admin_generation(txn);
    };
    return d.write(job);
}

Status QueueDb::retry_queue(const QueueId& queue) {
    Impl& d = *impl_;
    auto job = [&](lmdb::Txn& txn) {
        auto qr = d.load_queue(txn, queue);
        if (!qr) fail(QueueError::not_found);
        d.set_queue_retry(txn, queue, *qr, std::nullopt);
        d.store_queue(txn, queue, *qr);
        for (MessageId id : d.item_ids(txn, records::item_prefix(queue, MessageStatus::Retry), SIZE_MAX)) {
            auto m = d.find_message(txn, id);
            HopState* h = m ? m->hop(queue) : nullptr;
            if (h == nullptr) continue;
            d.set_status(txn, id, *h, MessageStatus::Ready);
            d.store_message(txn, id, *m);
        }
        d.bump_admin_generation(txn);
    };
    return d.write(job);
}

namespace {
// Applies `change` to each of the message's hops that `queue` selects; fails with
// not_found when no hop matches and with invalid_state when change() refused them all.
template <class Change>
void for_selected_hops(QueueDb::Impl& d, lmdb::Txn& txn, MessageId id, const std::optional<QueueId>& queue,
                       Change change) {
    MessageRecord m = d.must_load(txn, id);
    bool matched = false, changed = false;
    for (auto& h : m.hops) {
        if (queue && !(h.queue == *queue)) continue;
        matched = true;
        changed |= change(m, h);
    }
    if (!matched) fail(QueueError::not_found);
    if (!changed) fail(QueueError::invalid_state);
    d.store_message(txn, id, m);
    d.bump_admin_generation(txn);
}
}  // namespace

Status QueueDb::suspend_message(MessageId id, const std::optional<QueueId>& queue) {
    Impl& d = *impl_;
    auto job = [&](lmdb::Txn& txn) {
        for_selected_hops(d, txn, id, queue, [&](MessageRecord&, HopState& h) {
            if (h.status == MessageStatus::Suspended) return true;
            if (h.status != MessageStatus::Ready && h.status != MessageStatus::Retry) return false;
            d.set_status(txn, id, h, MessageStatus::Suspended);
            return true;
        });
    };
    return d.write(job);
}

Status QueueDb::resume_message(MessageId id, const std::optional<QueueId>& queue) {
    Impl& d = *impl_;
    auto job = [&](lmdb::Txn& txn) {
        MessageRecord m = d.must_load(txn, id);
        const HopState* poison = m.hop(QueueId::poison());
        if (poison != nullptr && (!queue || *queue == QueueId::poison())) {
            // Resume-Message on a poison message releases it to its recipients' queues.
            d.drop_hop_indexes(txn, id, *poison);
            m.hops = hops_for_pending(m.envelope);
            m.crash_count = 0;
            for (const auto& h : m.hops) {
                d.ensure_queue(txn, h.queue, DeliveryType::Undefined);
                txn.put(d.items, records::item_key(h.queue, h.status, id), {});
            }
            d.store_message(txn, id, m);
            d.bump_admin_generation(txn);
            return;
        }
        for_selected_hops(d, txn, id, queue, [&](MessageRecord&, HopState& h) {
            if (h.status == MessageStatus::Ready) return true;
            if (h.status != MessageStatus::Suspended) return false;
            d.set_status(txn, id, h, MessageStatus::Ready);
            return true;
        });
    };
    return d.write(job);
}

Status QueueDb::retry_message(MessageId id, const std::optional<QueueId>& queue) {
    Impl& d = *impl_;
    auto job = [&](lmdb::Txn& txn) {
        for_selected_hops(d, txn, id, queue, [&](MessageRecord&, HopState& h) {
            if (h.status == MessageStatus::Ready) return true;
            if (h.status != MessageStatus::Retry) return false;
            d.set_status(txn, id, h, MessageStatus::Ready);
            return true;
        });
    };
    return d.write(job);
}

Status QueueDb::remove_message(MessageId id, WithNdr with_ndr) {
    Impl& d = *impl_;
    auto job = [&](lmdb::Txn& txn) {
        MessageRecord m = d.must_load(txn, id);
        bool in_delivery = std::any_of(m.hops.begin(), m.hops.end(), [](const HopState& h) { return !h.owner.empty(); });
        d.bump_admin_generation(txn);
        if (with_ndr == WithNdr::no && !in_delivery) {
            d.delete_message(txn, id, m);
            return;
        }
        m.ndr_requested = with_ndr == WithNdr::yes;
        for (auto& h : m.hops)
            if (h.status != MessageStatus::PendingRemove) d.set_status(txn, id, h, MessageStatus::PendingRemove);
        d.store_message(txn, id, m);
    };
    return d.write(job, ReserveUse::yes);
}

namespace {
// Walks the PendingRemove items of every queue once per message: `each` gets the
// messages an administrator asked an NDR for, and whether a delivery still holds them.
template <class Each>
void for_each_ndr_removal(const QueueDb::Impl& d, const lmdb::Txn& txn, Each each) {
    std::set<MessageId> seen;
    for (const auto& q : d.all_queue_ids(txn)) {
        for (MessageId id : d.item_ids(txn, records::item_prefix(q, MessageStatus::PendingRemove), SIZE_MAX)) {
            if (!seen.insert(id).second) continue;
            auto m = d.find_message(txn, id);
            if (!m || !m->ndr_requested) continue;
            bool in_delivery = std::any_of(m->hops.begin(), m->hops.end(), [](const HopState& h) { return !h.owner.empty(); });
            each(id, *m, in_delivery);
        }
    }
}
}  // namespace

std::vector<MessageInfo> QueueDb::pending_ndr_removals() const {
    const Impl& d = *impl_;
    lmdb::Txn txn = lmdb::Txn::begin_read(d.env);
    std::vector<MessageInfo> out;
    for_each_ndr_removal(d, txn, [&](MessageId id, const MessageRecord& m, bool in_delivery) {
        if (!in_delivery) out.push_back(d.info_of(id, m, m.hops.front()));
    });
    return out;
}

std::size_t QueueDb::ndr_removals_in_delivery() const {
    const Impl& d = *impl_;
    lmdb::Txn txn = lmdb::Txn::begin_read(d.env);
    std::size_t n = 0;
    for_each_ndr_removal(d, txn, [&](MessageId, const MessageRecord&, bool in_delivery) { n += in_delivery ? 1 : 0; });
    return n;
}

Status QueueDb::complete_removal(MessageId id, std::optional<NewMessage> ndr) {
    Impl& d = *impl_;
    if (ndr)
        if (auto st = validate(*ndr); !st) return st;
    auto job = [&](lmdb::Txn& txn) {
        MessageRecord m = d.must_load(txn, id);
        bool removing = std::all_of(m.hops.begin(), m.hops.end(),
                                    [](const HopState& h) { return h.status == MessageStatus::PendingRemove && h.owner.empty(); });
        if (!removing) fail(QueueError::invalid_state);
        if (ndr) d.insert_new(txn, *ndr);
        d.delete_message(txn, id, m);
    };
    return d.write(job, ReserveUse::yes);
}

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

namespace {
bool valid_config_changes(const std::vector<ConfigChange>& changes) {
    return std::all_of(changes.begin(), changes.end(), [](const ConfigChange& c) {
        return !c.kind.empty() && !c.name.empty() && c.kind.find('\0') == std::string::npos;
    });
}

// Inside a write transaction: refuses (conflict) when the config generation is not
// `expected`; writes `changes` and raises the generation by one when there are any or
// `raise_always`. Returns the generation now.
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
}  // namespace

Result<std::uint64_t> QueueDb::config_apply(std::vector<ConfigChange> changes,
                                            std::optional<std::uint64_t> expected_generation) {
    if (!valid_config_changes(changes)) return QueueError::invalid_argument;
    Impl& d = *impl_;
    auto job = [&](lmdb::Txn& txn) { return write_config(d, txn, changes, expected_generation, true); };
    return d.write(job);
}

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
    return {s.batches, s.jobs};
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
