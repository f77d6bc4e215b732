// QueueDb: opening and closing the environments, the body stores, the reserve, and
// enqueue. The other concerns are in queue_db_*.cpp (see queue_db_impl.hpp).
#include "queue_db_impl.hpp"

#include <filesystem>
#include <set>

namespace edge::queue {

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
            // Added with sender reputation (issue 17), without a format change: created at
            // a read-write open; read-only, an older directory simply has none.
            try {
                d.reputation = txn.open_dbi("reputation", create);
                d.reputation_age = txn.open_dbi("reputation_age", create);
                d.has_reputation = true;
            } catch (const lmdb::Error& e) {
                if (!options.read_only || e.rc() != MDB_NOTFOUND) throw;
            }
            // Added with MTA-STS and TLS-RPT (issue 20), the same way.
            try {
                d.mta_sts = txn.open_dbi("mta_sts", create);
                d.tls_report = txn.open_dbi("tls_report", create);
                d.has_tls_policy = true;
            } catch (const lmdb::Error& e) {
                if (!options.read_only || e.rc() != MDB_NOTFOUND) throw;
            }
            // Environment format 2 (issue 21); read-only, a format-1 directory has none.
            try {
                d.queue_counts = txn.open_dbi("queue_counts", create);
                d.has_counts = true;
            } catch (const lmdb::Error& e) {
                if (!options.read_only || e.rc() != MDB_NOTFOUND) throw;
            }
            auto format_v = txn.get(d.meta, "format");
            auto format = format_v ? records::parse_u64_value(*format_v) : std::nullopt;
            if (!format_v && !options.read_only) {
                txn.put(d.meta, "format", records::u64_value(records::kEnvironmentFormat));
                txn.put(d.meta, "next_id", records::u64_value(1));
                txn.put(d.meta, "config_generation", records::u64_value(0));
                txn.put(d.meta, "writers", "");  // nobody has had it open: nothing to recover
                // Fixed at creation: records name their store by number.
                txn.put(d.meta, "body_stores", records::u64_value(std::min<std::uint32_t>(options.body_stores, 16)));
                d.ensure_queue(txn, QueueId::submission(), DeliveryType::Undefined);
            } else if (!format || *format < records::kOldestEnvironmentFormat || *format > records::kEnvironmentFormat) {
                return QueueError::corrupt_record;  // a format we do not know: refuse to touch it
            } else if (*format < records::kEnvironmentFormat) {
                if (!options.read_only) {
                    d.upgrade_to_counts(txn);
                    txn.put(d.meta, "format", records::u64_value(records::kEnvironmentFormat));
                } else {
                    d.has_counts = false;  // a format-1 directory read-only: views walk
                }
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
        if (options.poison_settings) {
            auto record = txn.get(d.config, records::config_key(options.poison_config_kind, options.poison_config_name));
            options.poison_settings(record ? std::optional<std::string_view>(*record) : std::nullopt,
                                    d.options.poison_threshold, d.options.poison_detection_enabled);
        }
        // The full scan (every record validated, orphan bodies swept) only when a
        // process that wrote here did not close cleanly (see records.hpp, "writers").
        auto writers_v = txn.get(d.meta, "writers");
        std::vector<LeaseOwner> writers = writers_v ? records::decode_writers(*writers_v) : std::vector<LeaseOwner>{};
        std::vector<LeaseOwner> alive;
        for (const auto& w : writers)
            if (w.alive()) alive.push_back(w);
        const bool scan = !writers_v || alive.size() != writers.size();
        if (options.recover_leases) {
            d.recover(txn, scan);
            if (scan) d.sweep_orphan_bodies(txn, now_timestamp());
            writers = std::move(alive);  // their trouble is dealt with
        }
        if (std::find(writers.begin(), writers.end(), d.self) == writers.end()) writers.push_back(d.self);
        // Until the full scan has run, the list stays without "clean" evidence.
        if (writers_v || options.recover_leases) txn.put(d.meta, "writers", records::encode_writers(writers));
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
        bool leftovers_removed = false;
        try {
            std::lock_guard lk(d.leftover_mu);
            d.remove_store_bodies_now(std::exchange(d.leftover_doomed, {}));
            leftovers_removed = true;
        } catch (...) {
            // They are orphans now: we stay in the writers list, so the next open sweeps.
        }
        for (bool again = true; again;) {
            again = false;
            try {
                lmdb::Txn txn = lmdb::Txn::begin_write(d.env);
                d.release_own_leases(txn);
                if (leftovers_removed) d.leave_writers(txn);  // a clean close: no scan at the next open
                txn.commit();
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

}  // namespace edge::queue
