// The stored form of queue-db: record layouts with a format version, key layouts,
// and the codec that validates every record it loads. Internal to queue-db.
//
// Databases in the environment (all keys compare as bytes):
//   meta      "format" → u32, "next_id" → u64, "config_generation" → u64,
//             "admin_generation" → u64 (absent = 0)
//   messages  id(BE64) → MessageRecord        (envelope + per-queue state)
//   bodies    id(BE64) → raw message bytes     (written once with MDB_RESERVE)
//   queues    queue key → QueueRecord
//   items     queue key 0x00 status id(BE64) → ""   (one per message per queue;
//             the status byte in the key makes "Ready messages of Q in arrival
//             order" one range scan)
//   retry     time(BE64) queue key 0x00 id(BE64) → ""  (id 0 = the queue itself)
//   config    kind 0x00 name → value
//   quarantine id(BE64) → reason 0x00 raw record   (records that failed validation)
//   ndr_hold  time(BE64) id(BE64) → ""   (messages whose failed recipients' NDR waits
//             for other recipients, at most until that time; see MessageRecord::ndr_hold)
//   queue_counts queue key → QueueCounts (environment format 2: the items of each queue
//             counted per status, changed in the transaction that changes the items, so
//             Get-Queue and the metrics never walk a queue)
//   meta "writers" → the processes that have the environment open for writing (12 bytes
//             each: pid BE32, start ticks BE64); a dead one there means it did not close
//             cleanly, and the next open runs the full recovery scan
//
// Body stores (bodies-0/, bodies-1/ …, one LMDB environment each) hold large bodies:
//   bodies    body key → raw message bytes, body key = time µs (BE64) + random (BE64)
#pragma once

#include "queue_types.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::queue::records {

// 2 added the per-recipient delay-notified flag; 3 the per-recipient NDR-pending
// state (flag and status code) and the message's NDR hold; 4 the message's
// Authentication-Results (issue 18); 5 the Content Filter's SCL and the original
// recipients of a quarantined message (issue 19); 6 the SMTPUTF8 flag (issue 20).
// Formats 1 to 5 are still read.
inline constexpr std::uint8_t kMessageFormat = 6;
inline constexpr std::uint8_t kQueueFormat = 1;
// 2 added queue_counts and meta "writers" (issue 21). A format-1 directory is upgraded
// at its first read-write open (the counts built by one walk of the items); an older
// binary refuses a format-2 directory rather than leave its counts wrong.
inline constexpr std::uint32_t kEnvironmentFormat = 2;
inline constexpr std::uint32_t kOldestEnvironmentFormat = 1;

// Who holds a lease: a process, told apart from a later one with the same pid by its
// start time (field 22 of /proc/<pid>/stat).
struct LeaseOwner {
    std::uint32_t pid = 0;
    std::uint64_t start_ticks = 0;
    bool empty() const { return pid == 0; }
    friend bool operator==(const LeaseOwner&, const LeaseOwner&) = default;
    static LeaseOwner self();
    // True while that very process runs (a zombie counts as gone).
    bool alive() const;
};

// A message's membership of one queue.
struct HopState {
    QueueId queue;
    MessageStatus status = MessageStatus::Ready;
    std::uint32_t retry_count = 0;
    std::optional<Timestamp> next_retry;
    std::string last_error;
    LeaseOwner owner;  // set while Active (and PendingRemove during a delivery)
};

struct MessageRecord {
    Envelope envelope;
    std::uint32_t crash_count = 0;
    bool ndr_requested = false;
    std::vector<HopState> hops;
    // Where the body is: 0 = the main environment's `bodies` under the message id;
    // n > 0 = body store n-1 (its own environment) under `body_key`.
    std::uint8_t body_store = 0;
    std::string body_key;
    // Set while recipients are NDR-pending and others of the message still wait for
    // their first attempt: the NDR goes at this time at the latest (the ndr_hold index).
    std::optional<Timestamp> ndr_hold;

    HopState* hop(const QueueId& q);
    const HopState* hop(const QueueId& q) const;
};

// How many items a queue holds in each status.
struct QueueCounts {
    std::uint64_t active = 0, pending_remove = 0, ready = 0, suspended = 0, retry = 0;
    std::uint64_t& of(MessageStatus s);
    std::uint64_t total() const { return active + pending_remove + ready + suspended + retry; }
    friend bool operator==(const QueueCounts&, const QueueCounts&) = default;
};

struct QueueRecord {
    DeliveryType delivery_type = DeliveryType::Undefined;
    bool suspended = false;
    bool in_retry = false;
    std::optional<Timestamp> next_retry;
    std::optional<Timestamp> last_retry;
    std::string last_error;
};

std::string encode(const MessageRecord& r);
std::string encode(const QueueRecord& r);
std::string encode(const QueueCounts& c);
std::optional<QueueCounts> decode_counts(std::string_view bytes);
// The writers list of meta "writers".
std::string encode_writers(const std::vector<LeaseOwner>& writers);
std::vector<LeaseOwner> decode_writers(std::string_view bytes);
// nullopt when the bytes are not a valid record of the current format; `why` says what.
std::optional<MessageRecord> decode_message(std::string_view bytes, std::string* why = nullptr);
std::optional<QueueRecord> decode_queue(std::string_view bytes, std::string* why = nullptr);

// --- keys -----------------------------------------------------------------------
std::string id_key(MessageId id);
MessageId parse_id_key(std::string_view key);  // 0 if malformed
std::string u64_value(std::uint64_t v);
std::optional<std::uint64_t> parse_u64_value(std::string_view v);

std::string queue_key(const QueueId& q);
std::optional<QueueId> parse_queue_key(std::string_view key);
std::string item_prefix(const QueueId& q);
std::string item_prefix(const QueueId& q, MessageStatus status);
std::string item_key(const QueueId& q, MessageStatus status, MessageId id);
struct ItemKey {
    QueueId queue;
    MessageStatus status;
    MessageId id;
};
std::optional<ItemKey> parse_item_key(std::string_view key);

std::string retry_key(Timestamp when, const QueueId& q, MessageId id);
struct RetryKey {
    Timestamp when;
    QueueId queue;
    MessageId id;  // 0 for the queue's own retry
};
std::optional<RetryKey> parse_retry_key(std::string_view key);

std::string config_key(std::string_view kind, std::string_view name);

std::string ndr_hold_key(Timestamp when, MessageId id);
struct NdrHoldKey {
    Timestamp when;
    MessageId id;
};
std::optional<NdrHoldKey> parse_ndr_hold_key(std::string_view key);

// A new body-store key: creation time first (so a sweep can tell old orphans from
// bodies whose envelope is being committed right now), then 64 random bits.
std::string new_body_key(Timestamp now);
std::optional<Timestamp> body_key_time(std::string_view key);

// Validation of caller data before it is stored.
bool valid_queue_id(const QueueId& q);
bool valid_status(std::uint8_t status_byte);

}  // namespace edge::queue::records
