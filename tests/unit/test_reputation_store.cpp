// queue-db's sender reputation store: records by address, the age index, and the
// bound that a flood of distinct source addresses cannot grow past.
#include "queue_db.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <future>
#include <set>

using namespace edge::queue;
using edge::test::TempDir;

namespace {

std::string v4_key(std::uint32_t a) {
    return std::string{static_cast<char>(a >> 24), static_cast<char>(a >> 16), static_cast<char>(a >> 8),
                       static_cast<char>(a)};
}
Timestamp at(std::int64_t seconds) { return Timestamp(std::chrono::seconds(seconds)); }

QueueDb::ReputationWrite put(const std::string& key, std::string value, std::int64_t seen) {
    return QueueDb::ReputationWrite{key, std::move(value), at(seen)};
}

}  // namespace

TEST_CASE("a reputation record is stored by address, replaced, and deleted", "[queue][reputation]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    CHECK(db->reputation_get(v4_key(1)) == std::nullopt);
    REQUIRE(db->reputation_write({put(v4_key(1), "first", 10)}, 0));
    CHECK(db->reputation_get(v4_key(1)) == std::optional<std::string>("first"));
    REQUIRE(db->reputation_write({put(v4_key(1), "second", 20)}, 0));
    CHECK(db->reputation_get(v4_key(1)) == std::optional<std::string>("second"));
    CHECK(db->reputation_count() == 1);
    CHECK(db->reputation_keys_by_age(10) == std::vector<std::string>{v4_key(1)});  // one age entry, not two
    auto r = db->reputation_write({QueueDb::ReputationWrite{v4_key(1), std::nullopt, {}}}, 0);
    REQUIRE(r);
    CHECK(r->deleted == 1);
    CHECK(db->reputation_get(v4_key(1)) == std::nullopt);
    CHECK(db->reputation_keys_by_age(10).empty());
}

TEST_CASE("a key that is not 4 or 16 bytes is refused and nothing of the batch is written", "[queue][reputation]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    auto r = db->reputation_write({put(v4_key(1), "ok", 1), put("abc", "bad", 1)}, 0);
    REQUIRE_FALSE(r);
    CHECK(r.error() == make_error_code(QueueError::invalid_argument));
    CHECK(db->reputation_count() == 0);
}

TEST_CASE("past the bound the least recently seen addresses go, not the oldest written", "[queue][reputation]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    REQUIRE(db->reputation_write({put(v4_key(1), "a", 100), put(v4_key(2), "b", 200), put(v4_key(3), "c", 300)}, 3));
    // Address 1 is seen again: now 2 is the least recently seen.
    REQUIRE(db->reputation_write({put(v4_key(1), "a2", 400)}, 3));
    auto r = db->reputation_write({put(v4_key(4), "d", 500)}, 3);
    REQUIRE(r);
    CHECK(r->evicted == 1);
    CHECK(db->reputation_get(v4_key(2)) == std::nullopt);
    CHECK(db->reputation_get(v4_key(1)) == std::optional<std::string>("a2"));
    CHECK(db->reputation_count() == 3);
    CHECK(db->reputation_keys_by_age(10) == std::vector<std::string>{v4_key(3), v4_key(1), v4_key(4)});
}

TEST_CASE("a flood of 100,000 distinct source addresses stays within the store's bound", "[queue][reputation]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    constexpr std::size_t kBound = 10000;
    constexpr std::uint32_t kFlood = 100000, kBatch = 5000;
    // A regular sender seen throughout the flood keeps its record: the bound drops the
    // least recently seen, and it is seen in every batch.
    const std::string regular = v4_key(0x0a000001);
    std::size_t evicted = 0;
    for (std::uint32_t first = 0; first < kFlood; first += kBatch) {
        std::vector<QueueDb::ReputationWrite> batch;
        for (std::uint32_t i = first; i < first + kBatch; ++i)
            batch.push_back(put(v4_key(0xc6120000u + i), std::string(200, 'x'), 1000 + i));  // 198.18.0.0/15
        batch.push_back(put(regular, "regular", 1000 + first + kBatch));
        // The asynchronous path the server uses.
        std::promise<std::pair<std::error_code, QueueDb::ReputationWriteResult>> done;
        db->reputation_write_async(std::move(batch), kBound, [&](std::error_code ec, QueueDb::ReputationWriteResult r) {
            done.set_value({ec, r});
        });
        auto [ec, r] = done.get_future().get();
        REQUIRE_FALSE(ec);
        evicted += r.evicted;
        REQUIRE(db->reputation_count() <= kBound);
    }
    CHECK(db->reputation_count() == kBound);
    CHECK(evicted == kFlood + 1 - kBound);
    CHECK(db->reputation_get(regular) == std::optional<std::string>("regular"));
    // The newest addresses are there, the first ones are gone.
    CHECK(db->reputation_get(v4_key(0xc6120000u + kFlood - 1)).has_value());
    CHECK_FALSE(db->reputation_get(v4_key(0xc6120000u)).has_value());
    // The age index agrees with the records, one entry each.
    auto keys = db->reputation_keys_by_age(kBound + 10);
    CHECK(keys.size() == kBound);
    CHECK(std::set<std::string>(keys.begin(), keys.end()).size() == kBound);
    CHECK(db->check().ok());
}

TEST_CASE("a queue opened read-only reads reputation records and refuses to write them", "[queue][reputation]") {
    TempDir dir;
    {
        auto db = edge::test::open_queue(dir);
        REQUIRE(db->reputation_write({put(v4_key(7), "seven", 7)}, 0));
    }
    QueueDbOptions ro;
    ro.read_only = true;
    auto db = QueueDb::open(dir.path(), ro);
    REQUIRE(db);
    CHECK((*db)->reputation_get(v4_key(7)) == std::optional<std::string>("seven"));
    auto r = (*db)->reputation_write({put(v4_key(8), "eight", 8)}, 0);
    REQUIRE_FALSE(r);
    CHECK(r.error() == make_error_code(QueueError::read_only));
}
