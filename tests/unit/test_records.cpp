// The stored record and key formats: round trips, validation of damaged records,
// and key orders the scans depend on.
#include "records.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>
#include <lmdb.h>

#include <cerrno>
#include <random>

using namespace edge::queue;
using namespace edge::queue::records;

namespace {
MessageRecord sample_record() {
    MessageRecord m;
    m.envelope = edge::test::make_message(7, 300, {"a.example", "b.example"}).envelope;
    m.envelope.dsn_ret = DsnRet::Headers;
    m.envelope.recipients[1].orcpt = "rfc822;x@b.example";
    m.envelope.recipients[1].status = RecipientStatus::Failed;
    m.envelope.recipients[0].delay_notified = true;
    m.crash_count = 1;
    m.ndr_requested = true;
    HopState h;
    h.queue = QueueId::next_hop_domain("a.example");
    h.status = MessageStatus::Retry;
    h.retry_count = 3;
    h.next_retry = Timestamp(std::chrono::microseconds(1'700'000'000'000'000));
    h.last_error = "451 4.4.0 try later";
    h.owner = LeaseOwner{1234, 99};
    m.hops.push_back(h);
    return m;
}
}  // namespace

// Format 4 is format 5 without the SCL and the original recipients at the end (none
// here: two zero bytes); format 3 is format 4 without the Authentication-Results string
// (empty here: one length byte). The older tests start from them.
// Format 5 is format 6 without the SMTPUTF8 flag at the end (one byte).
std::string as_format5(std::string v6) {
    REQUIRE(v6[0] == 6);
    REQUIRE(v6.back() == '\0');
    v6.pop_back();
    v6[0] = 5;
    return v6;
}
std::string as_format4(std::string v5) {
    if (v5[0] == 6) v5 = as_format5(std::move(v5));
    REQUIRE(v5[0] == 5);
    REQUIRE(v5.size() > 3);
    REQUIRE(v5.substr(v5.size() - 2) == std::string(2, '\0'));
    v5.resize(v5.size() - 2);
    v5[0] = 4;
    return v5;
}
std::string as_format3(std::string v5) {
    std::string v4 = as_format4(std::move(v5));
    REQUIRE(v4.back() == '\0');
    v4.pop_back();
    v4[0] = 3;
    return v4;
}

TEST_CASE("a message record survives encode and decode unchanged", "[records]") {
    MessageRecord m = sample_record();
    auto back = decode_message(encode(m));
    REQUIRE(back);
    CHECK(back->envelope == m.envelope);
    CHECK(back->crash_count == 1);
    CHECK(back->ndr_requested);
    REQUIRE(back->hops.size() == 1);
    CHECK(back->hops[0].queue == m.hops[0].queue);
    CHECK(back->hops[0].status == MessageStatus::Retry);
    CHECK(back->hops[0].next_retry == m.hops[0].next_retry);
    CHECK(back->hops[0].owner == m.hops[0].owner);
}

TEST_CASE("a format 1 record (before the delay-notified flag) is still read", "[records]") {
    MessageRecord m = sample_record();
    for (auto& r : m.envelope.recipients) r.delay_notified = false;
    // Format 1 is format 3 without the three bytes after each recipient's attempts
    // (delay flag, NDR-pending flag, empty NDR status) and without the NDR hold at the end.
    m.envelope.recipients.resize(1);
    std::string v3 = as_format3(encode(m));
    MessageRecord probe = m;
    probe.envelope.recipients[0].attempts = 0x55;  // a one-byte varint we can find
    std::string marked = encode(probe);
    auto at = marked.find(std::string(1, '\x55') + std::string(3, '\0'));
    REQUIRE(at != std::string::npos);
    std::string v1 = v3;
    v1.erase(at + 1, 3);  // (attempts of m is 0, same length)
    v1.pop_back();        // no NDR hold
    v1[0] = 1;
    auto back = decode_message(v1);
    REQUIRE(back);
    CHECK(back->envelope == m.envelope);
}

TEST_CASE("a format 3 record keeps the NDR-pending state and the NDR hold", "[records]") {
    MessageRecord m = sample_record();
    m.envelope.recipients[1].ndr_pending = true;
    m.envelope.recipients[1].ndr_status = "5.1.1";
    m.ndr_hold = Timestamp(std::chrono::microseconds(1'700'000'000'123'456));
    std::string bytes = as_format3(encode(m));
    auto back = decode_message(bytes);
    REQUIRE(back);
    CHECK(back->envelope == m.envelope);
    CHECK(back->ndr_hold == m.ndr_hold);
    // NDR-pending is a state of a failed recipient only.
    m.envelope.recipients[1].status = RecipientStatus::Pending;
    std::string why;
    CHECK_FALSE(decode_message(encode(m), &why));
    CHECK(why == "NDR pending for a recipient that did not fail");
}

TEST_CASE("a format 4 record keeps the message's Authentication-Results", "[records]") {
    MessageRecord m = sample_record();
    m.envelope.authentication_results = "mx.contoso.test; spf=pass smtp.mailfrom=a@fabrikam.test; dmarc=pass header.from=fabrikam.test";
    std::string bytes = as_format4(encode(m));
    CHECK(bytes[0] == 4);
    auto back = decode_message(bytes);
    REQUIRE(back);
    CHECK(back->envelope.authentication_results == m.envelope.authentication_results);
    CHECK(back->envelope.scl == -1);
    CHECK(back->envelope.original_recipients.empty());
    // Read as format 3, the same bytes have a string left over: refused, not misread.
    bytes[0] = 3;
    std::string why;
    CHECK_FALSE(decode_message(bytes, &why));
}

TEST_CASE("a format 5 record keeps the SCL and a quarantined message's original recipients", "[records]") {
    MessageRecord m = sample_record();
    m.envelope.scl = 7;
    m.envelope.original_recipients = {"alice@contoso.test", "bob@contoso.test"};
    std::string bytes = as_format5(encode(m));
    CHECK(bytes[0] == 5);
    auto back = decode_message(bytes);
    REQUIRE(back);
    CHECK(back->envelope == m.envelope);
    CHECK(back->envelope.scl == 7);
    // SCL 0 is a verdict, not "none".
    m.envelope.scl = 0;
    m.envelope.original_recipients.clear();
    back = decode_message(as_format5(encode(m)));
    REQUIRE(back);
    CHECK(back->envelope.scl == 0);
    // An SCL byte past 9 + 1 is refused, not misread.
    std::string bad = as_format5(encode(m));
    bad[bad.size() - 2] = 11;
    std::string why;
    CHECK_FALSE(decode_message(bad, &why));
    CHECK(why == "bad SCL");
}

TEST_CASE("a format 6 record keeps the SMTPUTF8 flag, and a format 5 one reads as without it", "[records]") {
    MessageRecord m = sample_record();
    m.envelope.smtputf8 = true;
    std::string bytes = encode(m);
    CHECK(bytes[0] == 6);
    auto back = decode_message(bytes);
    REQUIRE(back);
    CHECK(back->envelope.smtputf8);
    CHECK(back->envelope == m.envelope);
    m.envelope.smtputf8 = false;
    back = decode_message(as_format5(encode(m)));
    REQUIRE(back);
    CHECK_FALSE(back->envelope.smtputf8);
    std::string bad = encode(m);
    bad.back() = 2;
    std::string why;
    CHECK_FALSE(decode_message(bad, &why));
    CHECK(why == "bad SMTPUTF8 flag");
}

TEST_CASE("a format 2 record (before the NDR-pending state) is still read", "[records]") {
    MessageRecord m = sample_record();
    m.envelope.recipients.resize(1);
    std::string v3 = as_format3(encode(m));
    MessageRecord probe = m;
    probe.envelope.recipients[0].attempts = 0x55;
    std::string marked = encode(probe);
    // After attempts: delay flag (1), NDR-pending flag (0), NDR status (empty: length 0).
    auto at = marked.find(std::string(1, '\x55') + std::string(1, '\x01') + std::string(2, '\0'));
    REQUIRE(at != std::string::npos);
    std::string v2 = v3;
    v2.erase(at + 2, 2);
    REQUIRE(v2.back() == '\0');  // no NDR hold
    v2.pop_back();
    v2[0] = 2;
    auto back = decode_message(v2);
    REQUIRE(back);
    CHECK(back->envelope == m.envelope);
    CHECK_FALSE(back->ndr_hold);
}

TEST_CASE("every truncation of a message record is refused, never half-read", "[records]") {
    std::string bytes = encode(sample_record());
    for (std::size_t n = 0; n < bytes.size(); ++n) {
        std::string why;
        INFO("truncated to " << n << " bytes");
        CHECK_FALSE(decode_message(std::string_view(bytes).substr(0, n), &why));
        CHECK_FALSE(why.empty());
    }
}

TEST_CASE("a record with an unknown format, status or trailing bytes is refused with a reason", "[records]") {
    std::string bytes = encode(sample_record());
    std::string why;

    std::string bad_format = bytes;
    bad_format[0] = 9;
    CHECK_FALSE(decode_message(bad_format, &why));
    CHECK(why == "unknown message record format");

    CHECK_FALSE(decode_message(bytes + "x", &why));
    CHECK(why == "trailing bytes after record");

    // A huge string length must not make the decoder allocate or read past the end.
    std::string lying = bytes.substr(0, 1) + "\xff\xff\xff\xff\x0f";
    CHECK_FALSE(decode_message(lying, &why));
    CHECK(why == "string length past end of record");
}

TEST_CASE("a message without recipients is not a valid record", "[records]") {
    MessageRecord m = sample_record();
    m.envelope.recipients.clear();
    std::string why;
    CHECK_FALSE(decode_message(encode(m), &why));
    CHECK(why == "message without recipients");
}

TEST_CASE("a queue record survives encode and decode", "[records]") {
    QueueRecord q;
    q.delivery_type = DeliveryType::SmartHostConnectorDelivery;
    q.suspended = true;
    q.in_retry = true;
    q.next_retry = Timestamp(std::chrono::microseconds(5));
    q.last_error = "421 4.4.2 Connection dropped";
    auto back = decode_queue(encode(q));
    REQUIRE(back);
    CHECK(back->delivery_type == q.delivery_type);
    CHECK(back->suspended);
    CHECK(back->in_retry);
    CHECK(back->next_retry == q.next_retry);
    CHECK_FALSE(back->last_retry);
    CHECK(back->last_error == q.last_error);
}

TEST_CASE("retry keys sort by time, before and after the epoch", "[records]") {
    auto q = QueueId::next_hop_domain("x.example");
    auto t = [](std::int64_t us) { return Timestamp(std::chrono::microseconds(us)); };
    std::vector<std::int64_t> times = {-5'000'000, -1, 0, 1, 1'700'000'000'000'000};
    for (std::size_t i = 1; i < times.size(); ++i)
        CHECK(retry_key(t(times[i - 1]), q, 99) < retry_key(t(times[i]), q, 1));
    auto parsed = parse_retry_key(retry_key(t(-42), q, 77));
    REQUIRE(parsed);
    CHECK(parsed->when == t(-42));
    CHECK(parsed->queue == q);
    CHECK(parsed->id == 77);
}

TEST_CASE("item keys group a queue's messages by status in arrival order", "[records]") {
    auto q = QueueId::next_hop_domain("x.example");
    CHECK(item_key(q, MessageStatus::Ready, 2) < item_key(q, MessageStatus::Ready, 10));
    CHECK(item_key(q, MessageStatus::Ready, 300).starts_with(item_prefix(q, MessageStatus::Ready)));
    CHECK_FALSE(item_key(q, MessageStatus::Retry, 1).starts_with(item_prefix(q, MessageStatus::Ready)));
    // A queue whose name extends another's does not fall into the other's prefix.
    auto longer = QueueId::next_hop_domain("x.example.org");
    CHECK_FALSE(item_key(longer, MessageStatus::Ready, 1).starts_with(item_prefix(q)));
    auto k = parse_item_key(item_key(q, MessageStatus::Suspended, 123456789));
    REQUIRE(k);
    CHECK(k->queue == q);
    CHECK(k->status == MessageStatus::Suspended);
    CHECK(k->id == 123456789);
}

TEST_CASE("queue identities parse as Exchange writes them", "[records]") {
    CHECK(QueueId::parse("Submission") == QueueId::submission());
    CHECK(QueueId::parse("poison message") == QueueId::poison());
    CHECK(QueueId::parse("Unreachable") == QueueId::unreachable());
    CHECK(QueueId::parse("contoso.com") == QueueId::next_hop_domain("contoso.com"));
    CHECK_FALSE(QueueId::parse(""));
    CHECK_FALSE(valid_queue_id(QueueId{QueueKind::NextHop, ""}));
    CHECK_FALSE(valid_queue_id(QueueId{QueueKind::NextHop, std::string("a\0b", 3)}));
    CHECK_FALSE(valid_queue_id(QueueId{QueueKind::Poison, "x"}));
}

TEST_CASE("LMDB failures that mean a full disk are told apart from other failures", "[records]") {
    CHECK(classify_lmdb_error(MDB_MAP_FULL) == QueueError::storage_full);
    CHECK(classify_lmdb_error(ENOSPC) == QueueError::storage_full);
    CHECK(classify_lmdb_error(EDQUOT) == QueueError::storage_full);
    CHECK(classify_lmdb_error(EIO) == QueueError::io_error);
    CHECK(classify_lmdb_error(MDB_CORRUPTED) == QueueError::corrupt_record);
    CHECK(is_storage_full(make_error_code(QueueError::storage_full)));
    CHECK_FALSE(is_storage_full(make_error_code(QueueError::io_error)));
}

TEST_CASE("random damage to stored records is refused or decoded, never read out of bounds", "[records][fuzz]") {
    // A poor man's fuzzer that runs in make test under ASan/UBSan: flip, drop and
    // insert bytes in valid records. Every outcome is allowed except a crash, a
    // sanitizer report or a record whose recipients vanished.
    std::mt19937_64 rng(20261122);
    const std::string message = encode(sample_record());
    QueueRecord q;
    q.in_retry = true;
    q.next_retry = Timestamp(std::chrono::microseconds(77));
    q.last_error = "451 4.4.0 later";
    const std::string queue = encode(q);
    std::size_t decoded = 0;
    for (int round = 0; round < 20000; ++round) {
        std::string bytes = round % 2 ? message : queue;
        int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits && !bytes.empty(); ++e) {
            std::size_t at = rng() % bytes.size();
            switch (rng() % 3) {
                case 0: bytes[at] = static_cast<char>(rng()); break;
                case 1: bytes.erase(at, 1); break;
                default: bytes.insert(at, 1, static_cast<char>(rng())); break;
            }
        }
        if (round % 2) {
            if (auto m = decode_message(bytes)) {
                ++decoded;
                CHECK_FALSE(m->envelope.recipients.empty());
            }
        } else if (decode_queue(bytes)) {
            ++decoded;
        }
    }
    CHECK(decoded < 20000);  // damage is noticed far more often than not
}
