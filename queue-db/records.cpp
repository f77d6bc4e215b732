// Record and key codec for queue-db. Every load is validated: lengths are bounded by
// the bytes present, enums must be known values, and the format byte must match.
#include "records.hpp"

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>

namespace edge::queue::records {

namespace {

class Writer {
public:
    void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
    void varint(std::uint64_t v) {
        while (v >= 0x80) {
            out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
            v >>= 7;
        }
        out_.push_back(static_cast<char>(v));
    }
    void i64(std::int64_t v) {  // zig-zag, so small negatives stay small
        varint((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
    }
    void str(std::string_view s) {
        varint(s.size());
        out_.append(s);
    }
    void time(const std::optional<Timestamp>& t) {
        u8(t ? 1 : 0);
        if (t) i64(t->time_since_epoch().count());
    }
    void time(Timestamp t) { i64(t.time_since_epoch().count()); }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

class Reader {
public:
    explicit Reader(std::string_view in) : in_(in) {}
    bool ok() const { return ok_; }
    bool at_end() const { return pos_ == in_.size(); }
    const std::string& why() const { return why_; }
    void fail(std::string why) {
        if (ok_) why_ = std::move(why);
        ok_ = false;
    }

    std::uint8_t u8() {
        if (pos_ >= in_.size()) {
            fail("truncated");
            return 0;
        }
        return static_cast<std::uint8_t>(in_[pos_++]);
    }
    std::uint64_t varint() {
        std::uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            std::uint8_t b = u8();
            if (!ok_) return 0;
            v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
            if ((b & 0x80) == 0) return v;
        }
        fail("varint too long");
        return 0;
    }
    std::int64_t i64() {
        std::uint64_t z = varint();
        return static_cast<std::int64_t>((z >> 1) ^ (~(z & 1) + 1));
    }
    std::string str() {
        std::uint64_t n = varint();
        if (!ok_) return {};
        if (n > in_.size() - pos_) {
            fail("string length past end of record");
            return {};
        }
        std::string s(in_.substr(pos_, n));
        pos_ += n;
        return s;
    }
    Timestamp time() { return Timestamp(std::chrono::microseconds(i64())); }
    std::optional<Timestamp> opt_time() {
        std::uint8_t has = u8();
        if (has > 1) fail("bad optional flag");
        if (has == 0) return std::nullopt;
        return time();
    }
    // Bounded count: each element takes at least one byte, so a count larger than the
    // bytes left is a lie and would make us allocate for nothing.
    std::size_t count() {
        std::uint64_t n = varint();
        if (n > in_.size() - pos_) {
            fail("element count past end of record");
            return 0;
        }
        return static_cast<std::size_t>(n);
    }

private:
    std::string_view in_;
    std::size_t pos_ = 0;
    bool ok_ = true;
    std::string why_;
};

void put_queue(Writer& w, const QueueId& q) {
    w.u8(static_cast<std::uint8_t>(q.kind));
    w.str(q.next_hop);
}

QueueId get_queue(Reader& r) {
    QueueId q;
    std::uint8_t kind = r.u8();
    if (kind < 1 || kind > 4) r.fail("unknown queue kind");
    q.kind = static_cast<QueueKind>(kind);
    q.next_hop = r.str();
    if (r.ok() && !valid_queue_id(q)) r.fail("invalid queue id");
    return q;
}

template <class E>
E get_enum(Reader& r, std::uint8_t max, const char* what) {
    std::uint8_t v = r.u8();
    if (v > max) r.fail(std::string("unknown ") + what);
    return static_cast<E>(v);
}

void put_owner(Writer& w, const LeaseOwner& o) {
    w.varint(o.pid);
    w.varint(o.start_ticks);
}

LeaseOwner get_owner(Reader& r) {
    LeaseOwner o;
    std::uint64_t pid = r.varint();
    if (pid > 0xffffffffu) r.fail("bad pid");
    o.pid = static_cast<std::uint32_t>(pid);
    o.start_ticks = r.varint();
    return o;
}

void put_be64(std::string& out, std::uint64_t v) {
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}

std::uint64_t get_be64(std::string_view in) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<std::uint8_t>(in[i]);
    return v;
}

// Timestamps are signed; flipping the sign bit makes their big-endian bytes sort in
// time order.
std::uint64_t time_bits(Timestamp t) {
    return static_cast<std::uint64_t>(t.time_since_epoch().count()) ^ (std::uint64_t{1} << 63);
}
Timestamp from_time_bits(std::uint64_t v) {
    return Timestamp(std::chrono::microseconds(static_cast<std::int64_t>(v ^ (std::uint64_t{1} << 63))));
}

}  // namespace

// --- lease owner -------------------------------------------------------------------

namespace {
// Field 22 (starttime) of /proc/<pid>/stat, and whether the process is a zombie.
bool read_proc_stat(std::uint32_t pid, std::uint64_t& start_ticks, bool& zombie) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(in, line)) return false;
    // The command name (field 2) may hold spaces and parentheses: skip to the last ')'.
    auto close = line.rfind(')');
    if (close == std::string::npos) return false;
    std::istringstream rest(line.substr(close + 1));
    std::string field;
    rest >> field;  // field 3: state
    zombie = field == "Z" || field == "X";
    for (int i = 4; i <= 22; ++i) rest >> field;
    if (!rest) return false;
    start_ticks = std::stoull(field);
    return true;
}
}  // namespace

LeaseOwner LeaseOwner::self() {
    LeaseOwner o;
    o.pid = static_cast<std::uint32_t>(::getpid());
    bool zombie = false;
    if (!read_proc_stat(o.pid, o.start_ticks, zombie)) o.start_ticks = 0;
    return o;
}

bool LeaseOwner::alive() const {
    if (pid == 0) return false;
    std::uint64_t ticks = 0;
    bool zombie = false;
    if (!read_proc_stat(pid, ticks, zombie)) return false;
    return !zombie && ticks == start_ticks;
}

// --- records -----------------------------------------------------------------------

HopState* MessageRecord::hop(const QueueId& q) {
    for (auto& h : hops)
        if (h.queue == q) return &h;
    return nullptr;
}
const HopState* MessageRecord::hop(const QueueId& q) const {
    for (const auto& h : hops)
        if (h.queue == q) return &h;
    return nullptr;
}

std::string encode(const MessageRecord& m) {
    Writer w;
    w.u8(kMessageFormat);
    const Envelope& e = m.envelope;
    w.str(e.sender);
    w.u8(static_cast<std::uint8_t>(e.dsn_ret));
    w.str(e.dsn_envid);
    w.time(e.arrival_time);
    w.str(e.receive_connector);
    w.str(e.client_address);
    w.str(e.client_hostname);
    w.varint(e.size);
    w.varint(e.hop_count);
    w.str(e.internet_message_id);
    w.str(e.subject);
    w.time(e.expiration_time);
    w.varint(e.recipients.size());
    for (const auto& r : e.recipients) {
        w.str(r.address);
        w.str(r.orcpt);
        w.u8(r.notify);
        put_queue(w, r.next_hop);
        w.u8(static_cast<std::uint8_t>(r.delivery_type));
        w.u8(static_cast<std::uint8_t>(r.status));
        w.str(r.last_response);
        w.varint(r.attempts);
        w.u8(r.delay_notified ? 1 : 0);
        w.u8(r.ndr_pending ? 1 : 0);
        w.str(r.ndr_status);
    }
    w.varint(m.crash_count);
    w.u8(m.ndr_requested ? 1 : 0);
    w.u8(m.body_store);
    w.str(m.body_key);
    w.varint(m.hops.size());
    for (const auto& h : m.hops) {
        put_queue(w, h.queue);
        w.u8(static_cast<std::uint8_t>(h.status));
        w.varint(h.retry_count);
        w.time(h.next_retry);
        w.str(h.last_error);
        put_owner(w, h.owner);
    }
    w.time(m.ndr_hold);
    w.str(e.authentication_results);
    // SCL stored as scl + 1: 0 = none (-1), 1..10 = SCL 0..9.
    w.u8(static_cast<std::uint8_t>(e.scl + 1));
    w.varint(e.original_recipients.size());
    for (const auto& a : e.original_recipients) w.str(a);
    w.u8(e.smtputf8 ? 1 : 0);
    return w.take();
}

std::optional<MessageRecord> decode_message(std::string_view bytes, std::string* why) {
    Reader r(bytes);
    MessageRecord m;
    const std::uint8_t format = r.u8();
    if (format < 1 || format > kMessageFormat) r.fail("unknown message record format");
    Envelope& e = m.envelope;
    e.sender = r.str();
    e.dsn_ret = get_enum<DsnRet>(r, 2, "DSN RET");
    e.dsn_envid = r.str();
    e.arrival_time = r.time();
    e.receive_connector = r.str();
    e.client_address = r.str();
    e.client_hostname = r.str();
    e.size = r.varint();
    std::uint64_t hops = r.varint();
    if (hops > 0xffffffffu) r.fail("bad hop count");
    e.hop_count = static_cast<std::uint32_t>(hops);
    e.internet_message_id = r.str();
    e.subject = r.str();
    e.expiration_time = r.time();
    std::size_t n = r.count();
    e.recipients.reserve(n);
    for (std::size_t i = 0; i < n && r.ok(); ++i) {
        Recipient rc;
        rc.address = r.str();
        rc.orcpt = r.str();
        rc.notify = r.u8();
        if (rc.notify > 15) r.fail("bad NOTIFY bits");
        rc.next_hop = get_queue(r);
        rc.delivery_type = get_enum<DeliveryType>(r, 3, "delivery type");
        rc.status = get_enum<RecipientStatus>(r, 2, "recipient status");
        rc.last_response = r.str();
        rc.attempts = static_cast<std::uint32_t>(r.varint());
        if (format >= 2) {
            std::uint8_t flag = r.u8();
            if (flag > 1) r.fail("bad delay-notified flag");
            rc.delay_notified = flag == 1;
        }
        if (format >= 3) {
            std::uint8_t flag = r.u8();
            if (flag > 1) r.fail("bad NDR-pending flag");
            rc.ndr_pending = flag == 1;
            rc.ndr_status = r.str();
            if (rc.ndr_pending && rc.status != RecipientStatus::Failed) r.fail("NDR pending for a recipient that did not fail");
        }
        e.recipients.push_back(std::move(rc));
    }
    m.crash_count = static_cast<std::uint32_t>(r.varint());
    std::uint8_t ndr = r.u8();
    if (ndr > 1) r.fail("bad NDR flag");
    m.ndr_requested = ndr == 1;
    m.body_store = r.u8();
    m.body_key = r.str();
    if (r.ok() && (m.body_store == 0) != m.body_key.empty()) r.fail("bad body location");
    std::size_t nh = r.count();
    m.hops.reserve(nh);
    for (std::size_t i = 0; i < nh && r.ok(); ++i) {
        HopState h;
        h.queue = get_queue(r);
        std::uint8_t st = r.u8();
        if (!valid_status(st)) r.fail("unknown message status");
        h.status = static_cast<MessageStatus>(st);
        h.retry_count = static_cast<std::uint32_t>(r.varint());
        h.next_retry = r.opt_time();
        h.last_error = r.str();
        h.owner = get_owner(r);
        m.hops.push_back(std::move(h));
    }
    if (format >= 3) m.ndr_hold = r.opt_time();
    if (format >= 4) e.authentication_results = r.str();
    if (format >= 5) {
        const std::uint8_t scl = r.u8();
        if (scl > 10) r.fail("bad SCL");
        e.scl = static_cast<int>(scl) - 1;
        std::size_t no = r.count();
        e.original_recipients.reserve(no);
        for (std::size_t i = 0; i < no && r.ok(); ++i) e.original_recipients.push_back(r.str());
    }
    if (format >= 6) {
        const std::uint8_t flag = r.u8();
        if (flag > 1) r.fail("bad SMTPUTF8 flag");
        e.smtputf8 = flag == 1;
    }
    if (r.ok() && !r.at_end()) r.fail("trailing bytes after record");
    if (r.ok() && e.recipients.empty()) r.fail("message without recipients");
    if (!r.ok()) {
        if (why != nullptr) *why = r.why();
        return std::nullopt;
    }
    return m;
}

std::string encode(const QueueRecord& q) {
    Writer w;
    w.u8(kQueueFormat);
    w.u8(static_cast<std::uint8_t>(q.delivery_type));
    w.u8(q.suspended ? 1 : 0);
    w.u8(q.in_retry ? 1 : 0);
    w.time(q.next_retry);
    w.time(q.last_retry);
    w.str(q.last_error);
    return w.take();
}

std::optional<QueueRecord> decode_queue(std::string_view bytes, std::string* why) {
    Reader r(bytes);
    QueueRecord q;
    if (r.u8() != kQueueFormat) r.fail("unknown queue record format");
    q.delivery_type = get_enum<DeliveryType>(r, 3, "delivery type");
    std::uint8_t s = r.u8(), t = r.u8();
    if (s > 1 || t > 1) r.fail("bad flag");
    q.suspended = s == 1;
    q.in_retry = t == 1;
    q.next_retry = r.opt_time();
    q.last_retry = r.opt_time();
    q.last_error = r.str();
    if (r.ok() && !r.at_end()) r.fail("trailing bytes after record");
    if (!r.ok()) {
        if (why != nullptr) *why = r.why();
        return std::nullopt;
    }
    return q;
}

std::uint64_t& QueueCounts::of(MessageStatus s) {
    switch (s) {
        case MessageStatus::Active: return active;
        case MessageStatus::PendingRemove: return pending_remove;
        case MessageStatus::Ready: return ready;
        case MessageStatus::Suspended: return suspended;
        case MessageStatus::Retry: break;
    }
    return retry;
}

// Fixed width (5 x BE64): rewritten on every status change, decoded on every Get-Queue.
std::string encode(const QueueCounts& c) {
    std::string out;
    out.reserve(40);
    for (std::uint64_t v : {c.active, c.pending_remove, c.ready, c.suspended, c.retry}) put_be64(out, v);
    return out;
}

std::optional<QueueCounts> decode_counts(std::string_view bytes) {
    if (bytes.size() != 40) return std::nullopt;
    QueueCounts c;
    std::uint64_t* fields[] = {&c.active, &c.pending_remove, &c.ready, &c.suspended, &c.retry};
    for (std::size_t i = 0; i < 5; ++i) *fields[i] = get_be64(bytes.substr(i * 8));
    return c;
}

std::string encode_writers(const std::vector<LeaseOwner>& writers) {
    std::string out;
    for (const auto& w : writers) {
        for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((w.pid >> (i * 8)) & 0xff));
        put_be64(out, w.start_ticks);
    }
    return out;
}

std::vector<LeaseOwner> decode_writers(std::string_view bytes) {
    std::vector<LeaseOwner> out;
    for (std::size_t off = 0; off + 12 <= bytes.size(); off += 12) {
        LeaseOwner w;
        for (std::size_t i = 0; i < 4; ++i) w.pid = (w.pid << 8) | static_cast<std::uint8_t>(bytes[off + i]);
        w.start_ticks = get_be64(bytes.substr(off + 4));
        out.push_back(w);
    }
    return out;
}

// --- keys --------------------------------------------------------------------------

std::string id_key(MessageId id) {
    std::string k;
    put_be64(k, id);
    return k;
}

MessageId parse_id_key(std::string_view key) { return key.size() == 8 ? get_be64(key) : 0; }

std::string u64_value(std::uint64_t v) { return id_key(v); }

std::optional<std::uint64_t> parse_u64_value(std::string_view v) {
    if (v.size() != 8) return std::nullopt;
    return get_be64(v);
}

std::string queue_key(const QueueId& q) {
    std::string k;
    k.push_back(static_cast<char>(q.kind));
    k.append(q.next_hop);
    return k;
}

std::optional<QueueId> parse_queue_key(std::string_view key) {
    if (key.empty()) return std::nullopt;
    auto kind = static_cast<std::uint8_t>(key[0]);
    if (kind < 1 || kind > 4) return std::nullopt;
    QueueId q{static_cast<QueueKind>(kind), std::string(key.substr(1))};
    if (!valid_queue_id(q)) return std::nullopt;
    return q;
}

std::string item_prefix(const QueueId& q) {
    std::string k = queue_key(q);
    k.push_back('\0');
    return k;
}

std::string item_prefix(const QueueId& q, MessageStatus status) {
    std::string k = item_prefix(q);
    k.push_back(static_cast<char>(status));
    return k;
}

std::string item_key(const QueueId& q, MessageStatus status, MessageId id) {
    std::string k = item_prefix(q, status);
    put_be64(k, id);
    return k;
}

std::optional<ItemKey> parse_item_key(std::string_view key) {
    // queue key (>= 1 byte), 0x00, status, 8 bytes id
    if (key.size() < 11 || key[key.size() - 10] != '\0') return std::nullopt;
    auto q = parse_queue_key(key.substr(0, key.size() - 10));
    auto st = static_cast<std::uint8_t>(key[key.size() - 9]);
    if (!q || !valid_status(st)) return std::nullopt;
    return ItemKey{std::move(*q), static_cast<MessageStatus>(st), get_be64(key.substr(key.size() - 8))};
}

std::string retry_key(Timestamp when, const QueueId& q, MessageId id) {
    std::string k;
    put_be64(k, time_bits(when));
    k.append(queue_key(q));
    k.push_back('\0');
    put_be64(k, id);
    return k;
}

std::optional<RetryKey> parse_retry_key(std::string_view key) {
    if (key.size() < 18 || key[key.size() - 9] != '\0') return std::nullopt;
    auto q = parse_queue_key(key.substr(8, key.size() - 17));
    if (!q) return std::nullopt;
    return RetryKey{from_time_bits(get_be64(key.substr(0, 8))), std::move(*q), get_be64(key.substr(key.size() - 8))};
}

std::string new_body_key(Timestamp now) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::string k;
    put_be64(k, time_bits(now));
    put_be64(k, rng());
    return k;
}

std::optional<Timestamp> body_key_time(std::string_view key) {
    if (key.size() != 16) return std::nullopt;
    return from_time_bits(get_be64(key.substr(0, 8)));
}

std::string config_key(std::string_view kind, std::string_view name) {
    std::string k(kind);
    k.push_back('\0');
    k.append(name);
    return k;
}

std::string ndr_hold_key(Timestamp when, MessageId id) {
    std::string k;
    put_be64(k, time_bits(when));
    put_be64(k, id);
    return k;
}

std::optional<NdrHoldKey> parse_ndr_hold_key(std::string_view key) {
    if (key.size() != 16) return std::nullopt;
    return NdrHoldKey{from_time_bits(get_be64(key.substr(0, 8))), get_be64(key.substr(8))};
}

bool valid_queue_id(const QueueId& q) {
    if (q.next_hop.find('\0') != std::string::npos || q.next_hop.size() > 255) return false;
    // Next-hop queues have a name; the server-wide queues have none.
    return (q.kind == QueueKind::NextHop) == !q.next_hop.empty();
}

bool valid_status(std::uint8_t b) {
    switch (static_cast<MessageStatus>(b)) {
        case MessageStatus::Active:
        case MessageStatus::Ready:
        case MessageStatus::Retry:
        case MessageStatus::Suspended:
        case MessageStatus::PendingRemove: return true;
    }
    return false;
}

}  // namespace edge::queue::records
