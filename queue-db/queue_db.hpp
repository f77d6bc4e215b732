// QueueDb: the transactional mail queue and config store over LMDB: the main
// environment in the data directory, and body stores (bodies-N/) for large bodies.
//
// The promise this class keeps: when enqueue() reports success, the message is in the
// database and fsync'd; it stays there until every recipient is delivered, failed or
// removed by an administrator. A crash never loses an acknowledged message and never
// shows a partial one.
//
// Threads and processes
//   - Every write goes through one committer thread per environment. Writes that
//     arrive while a commit is running are applied together in the next write
//     transaction and made durable by one sync (group commit); each caller learns its
//     outcome only after that sync. A large body is committed to a body store first
//     and its record to the main environment after it.
//   - Reads run on the caller's thread in short read transactions. Never hold a read
//     (for example while paging CLI output): a long reader pins old pages and the map
//     grows. Copy what you need and return.
//   - Handlers of the *_async calls run on a committer thread: keep them short, post
//     to your own executor, and never call a blocking QueueDb method from one.
//   - Call nothing after close() (the destructor calls it).
//   - The server and edgectl may open the same directory at once (LMDB's one writer,
//     many readers across processes). One process must open a directory only once.
//
// A full volume
//   - A reserve file (QueueDbOptions::reserve_size) is given back when a delivery or
//     recovery write finds the volume full, and that write is tried again; new mail is
//     refused (storage_full) until space returns and the reserve is taken again.
//
// Crash recovery
//   - A lease (message Active in a queue) records the owning process (pid and start
//     time). open() returns every lease whose owner is gone to Ready and raises the
//     message's crash counter; a message that reaches PoisonThreshold crashes moves to
//     the Poison queue, Suspended. A clean close() returns our own leases without
//     counting a crash.
//   - Every read-write open names its process in the environment's writers list and a
//     clean close() takes it out. Only when a process there has died without closing
//     does open() validate every record and sweep orphan bodies (RecoveryReport::
//     full_scan); after clean stops a start reads the leased items and nothing more,
//     however many messages wait.
//
// Errors
//   - QueueError::storage_full (map full, disk full) is distinct: the receive side
//     answers 452 4.3.1 and keeps delivering. A failed write transaction is aborted as
//     a whole; the environment is never left half-written.
#pragma once

#include "errors.hpp"
#include "queue_types.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace edge::queue {

struct QueueDbOptions {
    std::size_t map_size = std::size_t{1} << 34;  // LMDB map: an upper bound, sparse on disk
    std::uint32_t poison_threshold = 2;           // Exchange PoisonThreshold (1–10)
    bool poison_detection_enabled = true;         // Exchange PoisonMessageDetectionEnabled
    // Where the two above live when the config store holds them (Set-TransportServer):
    // called in open()'s recovery transaction with the record of (poison_config_kind,
    // poison_config_name), nullopt when there is none, to overwrite them before recovery
    // runs. The record's format is the caller's, as for every config record.
    std::string poison_config_kind, poison_config_name;
    std::function<void(std::optional<std::string_view> record, std::uint32_t& threshold, bool& enabled)> poison_settings;
    bool recover_leases = true;                   // run crash recovery in open()
    // Bodies of at least this many bytes go to a body store (an environment of its
    // own, bodies-N/ in the data directory) so that the commits of large messages in
    // different stores overlap. Fixed for a data directory when it is created.
    std::uint32_t body_stores = 2;
    std::size_t body_store_threshold = 32 * 1024;
    // The reserve (QueueDatabaseReserveSize): bytes held in <dir>/queue-reserve that only
    // delivery and recovery may have on a full volume. nullopt: this process leaves the
    // file alone (edgectl); 0: no reserve, an existing one is emptied.
    std::optional<std::size_t> reserve_size{};
    // Opens with MDB_RDONLY: nothing is written at open or later (no recovery, no
    // committer; a write fails with QueueError::read_only), so it works on a full volume.
    // The queue must exist.
    bool read_only = false;
};

// One recipient's outcome after a delivery attempt.
struct RecipientOutcome {
    enum class Kind : std::uint8_t { Delivered, Deferred, Failed };
    std::size_t recipient = 0;  // index into Envelope::recipients
    Kind kind = Kind::Delivered;
    std::string response;       // remote reply or our error text (LastError)
    bool delay_notified = false; // a delay DSN for this recipient is in this report's dsn
    std::string status{};       // Failed: the RFC 3463 code its NDR reports ("5.1.1")
};

// Builds the one NDR of a message for `recipients` (indexes into envelope.recipients,
// each Failed with its last_response and ndr_status) from the envelope as stored and
// the message as queued; nullopt when none is due (null sender, NOTIFY). QueueDb calls
// it on its committer thread, inside the write transaction that clears those
// recipients' NDR-pending state and enqueues what it returns — so an NDR is neither
// lost nor sent twice across a crash. It must not call QueueDb and should be quick. A
// failed batch is re-run job by job, so it may be called more than once for one
// commit: the last call's result is the one committed.
using NdrBuilder = std::function<std::optional<NewMessage>(MessageId id, const Envelope& envelope,
                                                           const std::vector<std::size_t>& recipients,
                                                           std::string_view original)>;

// What the delivery side reports for one leased message.
struct DeliveryReport {
    MessageId id = 0;
    QueueId queue;
    std::vector<RecipientOutcome> outcomes;
    // When any recipient is deferred (or left unreported), the message waits in Retry
    // until this time; without it, it goes back to Ready.
    std::optional<Timestamp> next_retry_time;
    // DSNs (delay or relay notice, or an NDR) built by the caller, committed in the same
    // transaction as the outcomes so that neither exists without the other.
    std::vector<NewMessage> dsns;
    // One NDR per message (ARCHITECTURE.md): with a builder, Failed recipients become
    // NDR-pending instead of needing an NDR in `dsns`. The message's NDR, for every
    // NDR-pending recipient of any queue, is built in this report's transaction once
    // every pending recipient of the message has had an attempt (a report, or a failed
    // connection to its queue); until then it is held, at most until ndr_hold_until
    // (then send_held_ndrs() sends it). Without a builder, Failed is final at once.
    NdrBuilder ndr{};
    Timestamp ndr_hold_until{};
};

struct LeasedMessage {
    MessageId id = 0;
    QueueId queue;
    Envelope envelope;
    std::vector<std::size_t> recipients;  // indexes of this queue's pending recipients
    std::uint32_t retry_count = 0;
};

struct RecoveryReport {
    std::uint64_t leases_returned = 0;  // Active -> Ready after a crash
    std::uint64_t poisoned = 0;         // moved to the Poison queue
    std::vector<MessageId> poisoned_ids;  // which (the server writes POISONMESSAGE for each)
    std::uint64_t quarantined = 0;      // invalid records moved aside
    std::uint64_t orphan_bodies_removed = 0;  // store bodies no record named (see ARCHITECTURE.md)
    // Whether open() validated every record and swept orphan bodies: only when a process
    // that had the directory open for writing did not close it cleanly (a crash, a kill).
    bool full_scan = false;
};

struct ConsistencyReport {
    std::uint64_t messages = 0;
    std::uint64_t queue_items = 0;
    std::vector<std::string> problems;  // empty when consistent
    bool ok() const { return problems.empty(); }
};

struct ConfigRecord {
    std::string kind;   // "ReceiveConnector", "SendConnector", "AcceptedDomain", ...
    std::string name;   // the object's Name (Identity)
    std::string value;  // the object's serialised settings; format belongs to the caller
};

struct ConfigChange {
    std::string kind;
    std::string name;
    std::optional<std::string> value;  // nullopt removes the record
};

enum class WithNdr : bool { no = false, yes = true };

class QueueDb {
public:
    // Opens (creating when absent) the queue database in `dir`, which must exist.
    static Result<std::unique_ptr<QueueDb>> open(const std::string& dir, const QueueDbOptions& options = {});
    ~QueueDb();
    QueueDb(const QueueDb&) = delete;
    QueueDb& operator=(const QueueDb&) = delete;

    // Stops the committer after the writes already submitted, returns our own leases
    // to Ready (a clean shutdown is not a crash). Called by the destructor.
    void close();

    const RecoveryReport& recovery_report() const;

    // --- enqueue ------------------------------------------------------------------
    // Validates, then commits the message; `done` runs on the committer thread after
    // the sync, with the new id or an error. Keep it short: post to your own executor.
    using EnqueueHandler = std::function<void(std::error_code, MessageId)>;
    void enqueue_async(NewMessage message, EnqueueHandler done);
    Result<MessageId> enqueue(NewMessage message);  // blocks until durable

    // --- delivery -----------------------------------------------------------------
    // Takes up to `max` Ready messages of a next-hop queue in arrival order and marks
    // them Active for this process. Nothing is taken from a Suspended queue or from a
    // queue in Retry whose NextRetryTime has not come.
    Result<std::vector<LeasedMessage>> lease_for_delivery(const QueueId& queue, std::size_t max);
    // Records per-recipient outcomes and ends the lease. A message with no pending
    // recipient left is deleted; a PendingRemove message is deleted now.
    Status record_delivery(DeliveryReport report);
    // The same without blocking: `done` runs on the committer thread after the sync.
    // Many connections reporting at once share one commit.
    void record_delivery_async(DeliveryReport report, std::function<void(std::error_code)> done);
    // Retry-Queue -Resubmit, and the Unreachable queue after a config change: every
    // pending recipient of `queue` whose message is not Active, Suspended or
    // PendingRemove is routed again by `route` and its message moves to the queues it
    // names (the same queue is allowed). Returns how many messages moved.
    using Reroute = std::function<std::pair<QueueId, DeliveryType>(const Recipient&)>;
    Result<std::size_t> resubmit(const QueueId& queue, const Reroute& route);
    // Ends a lease without an attempt (shutdown, connection never made).
    Status release_lease(MessageId id, const QueueId& queue);
    // The next hop could not be reached: the queue goes to Retry until `next_retry`
    // with `error` as LastError; its leased messages return to Ready. Our leases of
    // messages removed meanwhile end as well: deleted, or (with an NDR requested) left
    // PendingRemove for pending_ndr_removals().
    // A failed connection counts as an attempt of the recipients it held: with `ndr`,
    // a message whose held NDR was waiting only for them gets it in this transaction.
    // With `only`, just those of our leases end: another connection to the same queue
    // may hold leases whose outcome it is still writing (issue 14), and ending them
    // would send those messages twice.
    Status defer_queue(const QueueId& queue, Timestamp next_retry, std::string error, const NdrBuilder& ndr = {},
                       const std::vector<MessageId>* only = nullptr);
    // NDRs held past their time (a recipient in a suspended queue, a queue that was not
    // reached, a long retry): each is built by `ndr` and enqueued in the transaction that
    // clears its recipients' NDR-pending state. Returns the messages it did this for.
    Result<std::size_t> send_held_ndrs(Timestamp now, const NdrBuilder& ndr);
    // The earliest hold time, so the scheduler can wake for it.
    std::optional<Timestamp> next_ndr_hold_due() const;
    // The next hop took a connection: clears the queue's Retry state and LastError.
    Status mark_queue_connected(const QueueId& queue);

    // --- the retry index ----------------------------------------------------------
    // The earliest NextRetryTime of any message or queue in Retry: the scheduler sleeps
    // until then (or until new mail arrives).
    std::optional<Timestamp> next_retry_due() const;
    // Moves every message and queue whose NextRetryTime <= now from Retry to Ready and
    // returns the queues that now have Ready messages.
    Result<std::vector<QueueId>> promote_due(Timestamp now);
    // Queues with Ready messages and not Suspended or waiting in Retry.
    std::vector<QueueId> ready_queues() const;

    // --- administration (Get-Queue, Get-Message, Suspend-/Resume-/Retry-Queue, ...) --
    //
    // Every operation below that changes the queue (suspend_queue, resume_queue,
    // retry_queue, suspend_message, resume_message, retry_message, remove_message and
    // resubmit) raises admin_generation() by one in its own write transaction; one that
    // fails leaves it as it was.
    std::vector<QueueInfo> list_queues() const;
    std::optional<QueueInfo> get_queue(const QueueId& queue) const;
    // MessageFilter narrows by queue and status; `predicate`, when given, filters
    // further (edgectl's -Filter).
    std::vector<MessageInfo> list_messages(const MessageFilter& filter,
                                           const std::function<bool(const MessageInfo&)>& predicate = {}) const;
    std::optional<MessageInfo> get_message(MessageId id, const std::optional<QueueId>& queue = {}) const;
    // The message as it stands in each queue that holds it (Get-Message <number>).
    std::vector<MessageInfo> message_in_queues(MessageId id) const;
    // Get-Message's pages (issue 21): visits the messages `filter` selects in item order
    // (queue, then status, then arrival) from `from` — the first item, or the one after
    // it without `include_from` — forwards or backwards, until `each` returns false.
    // Reads in short transactions of a few hundred items each, so a walk over a million
    // messages pins no old pages and holds no more than one chunk.
    struct Position {
        QueueId queue;
        MessageStatus status = MessageStatus::Ready;
        MessageId id = 0;
    };
    // `skip` items are passed over by their keys alone, no record read (-BookmarkIndex
    // without -Filter); returns how many were (fewer when the items end first).
    std::uint64_t visit_messages(const MessageFilter& filter, const std::optional<Position>& from, bool include_from,
                        bool forward, const std::function<bool(const MessageInfo&)>& each,
                        std::uint64_t skip = 0) const;
    // The raw message as queued, byte for byte (Export-Message).
    std::optional<std::string> export_message(MessageId id) const;

    // QueueMaxIdleTime: removes a next-hop queue that holds no message and is not
    // Suspended (an administrator's Suspend-Queue stays). True when it was removed; false
    // when it is not there, not empty, suspended, or not a next-hop queue. Does not raise
    // admin_generation (nothing an administrator did).
    Result<bool> remove_queue_if_empty(const QueueId& queue);

    Status suspend_queue(const QueueId& queue);
    Status resume_queue(const QueueId& queue);
    // Retry-Queue: a queue in Retry and its deferred messages become Ready now.
    Status retry_queue(const QueueId& queue);
    // Message-level operations; without `queue` they apply to every queue holding it.
    Status suspend_message(MessageId id, const std::optional<QueueId>& queue = {});
    // Resume-Message. For a Poison message: back to its recipients' queues, crash
    // counter cleared.
    Status resume_message(MessageId id, const std::optional<QueueId>& queue = {});
    Status retry_message(MessageId id, const std::optional<QueueId>& queue = {});
    // Remove-Message. Without an NDR the message is deleted now, or marked
    // PendingRemove while a delivery is in flight and deleted when it reports. With an
    // NDR it is marked PendingRemove with ndr_requested until complete_removal().
    Status remove_message(MessageId id, WithNdr with_ndr);
    // Messages waiting for an NDR after Remove-Message -WithNDR $true.
    std::vector<MessageInfo> pending_ndr_removals() const;
    // How many messages waiting for their NDR a delivery attempt still holds: they
    // join pending_ndr_removals() when the attempt reports or its lease ends.
    std::size_t ndr_removals_in_delivery() const;
    // Deletes a PendingRemove message, enqueueing its NDR in the same transaction.
    // Refused (invalid_state) while a delivery attempt still holds it. The NDR covers
    // the NDR-pending recipients as well (their failure is reported once, in it).
    Status complete_removal(MessageId id, std::optional<NewMessage> ndr);

    // The administrator's change counter: 0 in a new database, raised by one by every
    // administration operation above. Another process — the server, while edgectl
    // changes the queue — polls it (one short read) to learn that an administrator
    // acted, and looks at its queues again without waiting for its retry timer.
    // It says that something changed, not what: read the queue for that.
    std::uint64_t admin_generation() const;
    // The messages in the queue database, every queue and status together: one
    // mdb_stat, no walk (systemd's STATUS= line reads it every second).
    std::uint64_t message_count() const;

    // --- config store ---------------------------------------------------------------
    // Every change raises the generation counter by one, in the same transaction, so
    // another process sees that config changed by reading one number.
    std::uint64_t config_generation() const;
    std::optional<std::string> config_get(std::string_view kind, std::string_view name) const;
    std::vector<ConfigRecord> config_list(std::string_view kind) const;
    // Applies all changes atomically. With `expected_generation`, fails with
    // QueueError::conflict (changing nothing) if the generation moved.
    Result<std::uint64_t> config_apply(std::vector<ConfigChange> changes,
                                       std::optional<std::uint64_t> expected_generation = {});

    // --- replicated directory data (EdgeSync) ------------------------------------------
    //
    // What EdgeSync brings from the internal side is applied in one write transaction,
    // so the edge never acts on half a sync: configuration objects (accepted domains,
    // the EdgeSync Send connectors, subscription state — through the config store, so
    // the config generation moves) and recipients. Recipients are kept only as keyed
    // hashes (kRecipientHashSize bytes, HMAC-SHA-256 of the lower-cased address with the
    // subscription's key): the data directory never holds an address in clear.
    //
    // A batch with full_recipient_set replaces every recipient (the first sync, a
    // forced full sync); otherwise it adds and removes. Invalid hashes or config keys
    // refuse the whole batch (invalid_argument) and nothing is written.
    static constexpr std::size_t kRecipientHashSize = 32;
    struct SyncBatch {
        // With it, the batch fails with QueueError::conflict (writing nothing) when the
        // config generation moved since the caller read its state.
        std::optional<std::uint64_t> expected_generation;
        std::vector<ConfigChange> config;
        // Config-store records no server's configuration reads (EdgeSync's lease and sync
        // times): written in the same transaction without raising the generation, so a
        // sync that changed nothing makes no server reload.
        std::vector<ConfigChange> bookkeeping;
        bool full_recipient_set = false;
        // Forget every recipient and that a set was ever replicated (a new or removed
        // subscription): recipient validation stops until the next full set.
        bool forget_recipients = false;
        std::vector<std::string> recipients_added;
        std::vector<std::string> recipients_removed;
    };
    Status apply_sync_batch(const SyncBatch& batch);
    // One short read (RCPT TO lookups): whether this hash is a replicated recipient, or
    // nullopt when no full recipient set was ever applied — then recipient validation
    // has nothing to validate against and must not refuse anyone.
    std::optional<bool> recipient_known(std::string_view hash) const;
    std::uint64_t recipient_count() const;

    // --- sender reputation (transport/agents/sender_reputation.*) --------------------
    //
    // One record per client IP address for the Protocol Analysis agent, in the
    // `reputation` database, and an age index (`reputation_age`: last seen, then the
    // address) so the least recently seen go first when the store is over its bound.
    // The record's format belongs to the caller (as the config store's values do);
    // queue-db keeps only the last-seen time beside it. The server writes in batches
    // (reputation_write_async, every few seconds and at shutdown): the I/O thread never
    // waits for a commit. These writes never take the reserve and are not new mail.
    struct ReputationWrite {
        std::string key;                   // the address's bytes: 4 (IPv4) or 16 (IPv6)
        std::optional<std::string> value;  // the record; nullopt deletes it
        Timestamp last_seen{};             // the age index's order (with a value)
    };
    struct ReputationWriteResult {
        std::size_t written = 0, deleted = 0;
        std::size_t evicted = 0;  // least recently seen records dropped to keep the bound
    };
    // Applies `writes` in order, then drops least recently seen records until at most
    // `max_records` remain (0 = no bound), all in one transaction. Keys of another
    // size are refused (invalid_argument) before anything is written.
    void reputation_write_async(std::vector<ReputationWrite> writes, std::size_t max_records,
                                std::function<void(std::error_code, ReputationWriteResult)> done);
    Result<ReputationWriteResult> reputation_write(std::vector<ReputationWrite> writes, std::size_t max_records);
    // One short read: the record of `key`, or nullopt (also in a data directory that a
    // version without reputation created and that is opened read-only).
    std::optional<std::string> reputation_get(std::string_view key) const;
    std::uint64_t reputation_count() const;
    // Every key in the age index, least recently seen first (tests, Test-QueueDatabase).
    std::vector<std::string> reputation_keys_by_age(std::size_t max) const;

    // --- outbound TLS policy (transport/sts/: MTA-STS and TLS-RPT, issue 20) ----------
    //
    // The MTA-STS policy cache (`mta_sts`): one record per policy domain, its format
    // the caller's. Reads are one short transaction; writes go through the committer.
    // Absent (nullopt, read_only) in an older data directory opened read-only.
    std::optional<std::string> mta_sts_get(std::string_view domain) const;
    void mta_sts_put_async(std::string domain, std::optional<std::string> value, std::function<void(std::error_code)> done);
    Status mta_sts_put(std::string domain, std::optional<std::string> value);  // nullopt deletes
    std::vector<std::pair<std::string, std::string>> mta_sts_list(std::size_t max) const;
    // The TLS-RPT counters (`tls_report`): key → count and a detail that the first write
    // of the key stores (later adds only add their count). Keys are at most 511 bytes.
    // The server adds in batches (tls_report_add_async, every few seconds and at
    // shutdown): never one commit per message.
    struct TlsReportCount {
        std::string key;
        std::uint64_t count = 0;
        std::string detail;
    };
    void tls_report_add_async(std::vector<TlsReportCount> adds, std::function<void(std::error_code)> done);
    Status tls_report_add(std::vector<TlsReportCount> adds);
    // Every entry whose key starts with `prefix`, in key order, at most `max`.
    std::vector<TlsReportCount> tls_report_scan(std::string_view prefix, std::size_t max) const;
    // Writes `key` (count 0, `value` as its detail) and deletes `erase`, in one
    // transaction that also raises admin_generation(): a report was enqueued, perhaps
    // by edgectl, and the server's scheduler should look now.
    Status tls_report_mark(std::string key, std::string value, std::vector<std::string> erase);
    void tls_report_mark_async(std::string key, std::string value, std::vector<std::string> erase,
                               std::function<void(std::error_code)> done);

    // --- health ---------------------------------------------------------------------
    // Walks every record and index and reports what does not agree.
    ConsistencyReport check() const;
    struct Usage {
        std::size_t map_size = 0;    // summed over the main environment and the body stores
        std::size_t used_bytes = 0;  // pages in use (last page number × page size), summed
        // Space inside the environments' files that LMDB will write again before it
        // grows a file: the pages on its free list (free DB, dbi 0) plus any file tail
        // beyond the last page, summed. A drained queue keeps its files' size, so back
        // pressure counts this as available (issue 14). Pages freed by a transaction a
        // reader still sees are counted too: readers here are short.
        std::size_t free_bytes = 0;
    };
    // Cheap: mdb_env_info, one short read transaction per environment walking the
    // free DB's records (one per write transaction that freed pages; each record's
    // first word is its page count), and a stat of each data.mdb.
    Usage usage() const;
    // Write transactions committed and writes they carried: writes / commits is the
    // group-commit factor.
    struct CommitStats {
        std::uint64_t commits = 0;
        std::uint64_t writes = 0;
        // Issue 21 (metrics): writes per commit and a commit's duration (begin to the
        // fsync'd meta page), counted per bucket (not cumulative); the last bucket holds
        // what is past every bound. The bounds are GroupCommitter's.
        std::vector<double> batch_size_bounds, commit_seconds_bounds;
        std::vector<std::uint64_t> batch_size_counts, commit_seconds_counts;
        double writes_sum = 0, commit_seconds_sum = 0;
    };
    CommitStats commit_stats() const;
    // The reserve (see QueueDbOptions::reserve_size and ARCHITECTURE.md, "A full volume").
    struct ReserveState {
        std::size_t target = 0;          // bytes it should hold
        std::size_t held = 0;            // bytes it holds now
        std::uint64_t given_back = 0;    // times it was given to delivery or recovery
        bool new_mail_refused = false;   // enqueue fails storage_full until space returns
    };
    ReserveState reserve_state() const;

    struct Impl;

private:
    explicit QueueDb(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace edge::queue
