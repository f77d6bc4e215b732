// The inside of QueueDb, shared by the files that implement it by concern:
// queue_db.cpp (open, close, body stores, enqueue), queue_db_delivery.cpp (leases,
// outcomes, NDRs, the retry index), queue_db_admin.cpp (queue and message
// administration), queue_db_config.cpp (the config store), queue_db_recipients.cpp
// (EdgeSync's recipients), queue_db_check.cpp (crash recovery, check, usage).
// Private to queue-db: nothing outside this folder includes it.
#pragma once

#include "queue_db.hpp"

#include "group_commit.hpp"
#include "lmdb.hpp"
#include "records.hpp"
#include "reserve.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <future>
#include <mutex>

namespace edge::queue {

using records::HopState;
using records::LeaseOwner;
using records::MessageRecord;
using records::QueueCounts;
using records::QueueRecord;

namespace detail {

[[noreturn]] inline void fail(QueueError code, std::string detail = {}) { throw JobError{code, std::move(detail)}; }

// Whether a write may have the queue's reserve when the volume is full: delivery and
// recovery may, new mail and configuration may not (ARCHITECTURE.md, "A full volume").
enum class ReserveUse : bool { no = false, yes = true };

inline constexpr MessageStatus kAllStatuses[] = {MessageStatus::Active, MessageStatus::Ready, MessageStatus::Retry,
                                                 MessageStatus::Suspended, MessageStatus::PendingRemove};

inline bool has_pending_for(const Envelope& e, const QueueId& q) {
    return std::any_of(e.recipients.begin(), e.recipients.end(), [&](const Recipient& r) {
        return r.status == RecipientStatus::Pending && r.next_hop == q;
    });
}

// The queues a message belongs in: one per distinct next hop of a pending recipient.
inline std::vector<HopState> hops_for_pending(const Envelope& e) {
    std::vector<HopState> hops;
    for (const auto& r : e.recipients) {
        if (r.status != RecipientStatus::Pending) continue;
        bool seen = std::any_of(hops.begin(), hops.end(), [&](const HopState& h) { return h.queue == r.next_hop; });
        if (!seen) hops.push_back(HopState{r.next_hop, MessageStatus::Ready, 0, std::nullopt, {}, {}});
    }
    return hops;
}

// The DeliveryType of each hop, from the recipients routed to it.
inline std::vector<DeliveryType> delivery_types(const MessageRecord& m) {
    std::vector<DeliveryType> types;
    for (const auto& h : m.hops) {
        DeliveryType t = DeliveryType::Undefined;
        for (const auto& r : m.envelope.recipients)
            if (r.next_hop == h.queue) t = r.delivery_type;
        types.push_back(t);
    }
    return types;
}

inline Status validate(const NewMessage& m) {
    const Envelope& e = m.envelope;
    if (e.recipients.empty()) return QueueError::invalid_argument;
    for (const auto& r : e.recipients) {
        if (r.address.empty() || !records::valid_queue_id(r.next_hop) || r.status != RecipientStatus::Pending)
            return QueueError::invalid_argument;
    }
    if (e.size != m.body.size()) return QueueError::invalid_argument;
    return Done{};
}

}  // namespace detail
using namespace detail;

struct QueueDb::Impl {
    lmdb::Env env;
    lmdb::Dbi meta = 0, messages = 0, bodies = 0, queues = 0, items = 0, retry = 0, config = 0, quarantine = 0,
              recipients = 0, ndr_hold = 0;
    // Sender reputation (queue_db_reputation.cpp); absent in a data directory of an
    // older version opened read-only.
    lmdb::Dbi reputation = 0, reputation_age = 0;
    bool has_reputation = false;
    // Outbound TLS policy (queue_db_tls.cpp, issue 20): the MTA-STS policy cache and
    // the TLS-RPT counters; absent in an older data directory opened read-only.
    lmdb::Dbi mta_sts = 0, tls_report = 0;
    bool has_tls_policy = false;
    // Per-queue item counts (environment format 2); absent in a format-1 directory
    // opened read-only, where the views count by walking as before.
    lmdb::Dbi queue_counts = 0;
    bool has_counts = false;
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
            add_item(txn, hops[i].queue, hops[i].status, id);
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

    // The only ways an item enters or leaves the items index: each keeps its queue's
    // count in the same transaction, so the count is the walk's answer at every commit.
    void add_item(lmdb::Txn& txn, const QueueId& q, MessageStatus status, MessageId id) {
        if (txn.insert(items, records::item_key(q, status, id), {})) count_item(txn, q, status, +1);
    }
    void remove_item(lmdb::Txn& txn, const QueueId& q, MessageStatus status, MessageId id) {
        if (txn.del(items, records::item_key(q, status, id))) count_item(txn, q, status, -1);
    }
    void count_item(lmdb::Txn& txn, const QueueId& q, MessageStatus status, int delta) {
        std::string key = records::queue_key(q);
        auto v = txn.get(queue_counts, key);
        QueueCounts c = v ? records::decode_counts(*v).value_or(QueueCounts{}) : QueueCounts{};
        std::uint64_t& n = c.of(status);
        n = delta > 0 ? n + 1 : (n > 0 ? n - 1 : 0);
        txn.put(queue_counts, key, records::encode(c));
    }
    // The counts of one queue, by walking its items: a format-1 directory read-only,
    // the upgrade, and check().
    QueueCounts walk_counts(const lmdb::Txn& txn, const QueueId& q) const {
        QueueCounts c;
        lmdb::for_each_prefix(txn, items, records::item_prefix(q), [&](std::string_view key, std::string_view) {
            if (auto k = records::parse_item_key(key)) ++c.of(k->status);
            return true;
        });
        return c;
    }
    QueueCounts counts_of(const lmdb::Txn& txn, const QueueId& q) const {
        if (!has_counts) return walk_counts(txn, q);
        auto v = txn.get(queue_counts, records::queue_key(q));
        return v ? records::decode_counts(*v).value_or(QueueCounts{}) : QueueCounts{};
    }

    // Moves one queue item to a new status, keeping the item and retry indexes true.
    void set_status(lmdb::Txn& txn, MessageId id, HopState& h, MessageStatus status,
                    std::optional<Timestamp> next_retry = std::nullopt) {
        remove_item(txn, h.queue, h.status, id);
        if (h.status == MessageStatus::Retry && h.next_retry) txn.del(retry, records::retry_key(*h.next_retry, h.queue, id));
        h.status = status;
        h.next_retry = status == MessageStatus::Retry ? next_retry : std::nullopt;
        add_item(txn, h.queue, h.status, id);
        if (h.status == MessageStatus::Retry && h.next_retry) txn.put(retry, records::retry_key(*h.next_retry, h.queue, id), {});
    }

    void drop_hop_indexes(lmdb::Txn& txn, MessageId id, const HopState& h) {
        remove_item(txn, h.queue, h.status, id);
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
                    bool hold_over = false);

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
        add_item(txn, p.queue, p.status, id);
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

    // `full`: validate every record first (quarantine_invalid); only after a writer
    // did not close cleanly. Returning dead owners' leases walks only leased items.
    void recover(lmdb::Txn& txn, bool full);

    // Format 1 -> 2: every queue's counts from one walk of the items.
    void upgrade_to_counts(lmdb::Txn& txn);

    // Removes this process from meta "writers" (its clean close).
    void leave_writers(lmdb::Txn& txn) {
        auto v = txn.get(meta, "writers");
        if (!v) return;
        auto writers = records::decode_writers(*v);
        std::erase(writers, self);
        txn.put(meta, "writers", records::encode_writers(writers));
    }

    // Records that fail validation are moved aside with their reason, never fatal.
    void quarantine_invalid(lmdb::Txn& txn);

    void release_own_leases(lmdb::Txn& txn);

    // One delivery report: recipient outcomes, the lease ended, the message moved on.
    void apply_delivery(lmdb::Txn& txn, const DeliveryReport& report);

    // ---- views --------------------------------------------------------------------

    MessageInfo info_of(MessageId id, const MessageRecord& m, const HopState& h) const;

    QueueInfo queue_info(const lmdb::Txn& txn, const QueueId& q, const QueueRecord& r) const;

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

namespace detail {
// The config store's writes (queue_db_config.cpp), shared with apply_sync_batch, which
// applies replicated configuration and recipients in one transaction.
bool valid_config_changes(const std::vector<ConfigChange>& changes);
// Inside a write transaction: refuses (conflict) when the config generation is not
// `expected`; writes `changes` and raises the generation by one when there are any or
// `raise_always`. Returns the generation now.
std::uint64_t write_config(const QueueDb::Impl& d, lmdb::Txn& txn, const std::vector<ConfigChange>& changes,
                           std::optional<std::uint64_t> expected, bool raise_always);
}  // namespace detail

}  // namespace edge::queue
