// Many producers and one consumer on one QueueDb: no message lost, none delivered twice.
// Runs under ASan+UBSan in make test.
#include "queue_db.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>

using namespace edge::queue;
using edge::test::body_for;
using edge::test::make_message;
using edge::test::TempDir;

TEST_CASE("many producers and one consumer lose and duplicate nothing", "[queue][concurrency]") {
    TempDir dir;
    auto opened = QueueDb::open(dir.path());
    REQUIRE(opened);
    auto& db = **opened;
    constexpr int kProducers = 16;
    constexpr int kPerProducer = 150;
    const QueueId hop = QueueId::next_hop_domain("example.net");

    std::mutex mu;
    std::set<MessageId> acknowledged;
    std::atomic<int> producers_left{kProducers};
    std::atomic<int> errors{0};

    std::vector<std::thread> producers;
    for (int p = 0; p < kProducers; ++p) {
        producers.emplace_back([&, p] {
            for (int i = 0; i < kPerProducer; ++i) {
                auto tag = static_cast<std::uint64_t>(p * kPerProducer + i + 1);
                auto r = db.enqueue(make_message(tag, 512 + static_cast<std::size_t>(i % 7) * 300));
                if (!r) {
                    ++errors;
                    continue;
                }
                std::lock_guard lk(mu);
                acknowledged.insert(*r);
            }
            --producers_left;
        });
    }

    // The consumer leases in batches, checks each body, and reports it delivered.
    std::multiset<MessageId> delivered;
    std::set<std::uint64_t> tags_seen;
    int bad_bodies = 0;
    std::thread consumer([&] {
        for (;;) {
            bool done = producers_left.load() == 0;
            auto lease = db.lease_for_delivery(hop, 64);
            if (!lease) {
                ++errors;
                return;
            }
            for (auto& l : *lease) {
                std::uint64_t tag = std::stoull(l.envelope.sender.substr(6));
                auto body = db.export_message(l.id);
                if (!body || *body != body_for(tag, l.envelope.size)) ++bad_bodies;
                tags_seen.insert(tag);
                delivered.insert(l.id);
                if (!db.record_delivery({l.id, hop, {{0, RecipientOutcome::Kind::Delivered, "250 OK"}}, {}, {}}))
                    ++errors;
            }
            if (done && lease->empty()) return;
            if (lease->empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    });
    for (auto& t : producers) t.join();
    consumer.join();

    CHECK(errors == 0);
    CHECK(bad_bodies == 0);
    CHECK(acknowledged.size() == kProducers * kPerProducer);
    CHECK(delivered.size() == acknowledged.size());  // a multiset: duplicates would show
    CHECK(std::set<MessageId>(delivered.begin(), delivered.end()) == acknowledged);
    CHECK(tags_seen.size() == kProducers * kPerProducer);
    CHECK(db.list_messages({}).empty());
    CHECK(db.check().ok());
}

TEST_CASE("concurrent enqueues share commits (group commit)", "[queue][concurrency]") {
    // With 32 writers each waiting for its sync, far fewer commits than messages must
    // happen; each caller still gets its own id once its batch is durable.
    TempDir dir;
    auto opened = QueueDb::open(dir.path());
    REQUIRE(opened);
    auto& db = **opened;
    std::atomic<std::uint64_t> tag{0};
    std::mutex mu;
    std::set<MessageId> ids;
    std::vector<std::thread> threads;
    for (int t = 0; t < 32; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 20; ++i) {
                auto r = db.enqueue(make_message(++tag, 256));
                std::lock_guard lk(mu);
                if (r) ids.insert(*r);
            }
        });
    for (auto& t : threads) t.join();
    CHECK(ids.size() == 640);
    auto stats = db.commit_stats();
    INFO("commits " << stats.commits << " writes " << stats.writes);
    CHECK(stats.writes == 640);
    CHECK(stats.commits * 2 < stats.writes);
    CHECK(db.list_messages({{}, {}, 10000}).size() == 640);
}

TEST_CASE("asynchronous delivery reports from many connections share commits", "[queue][concurrency]") {
    TempDir dir;
    auto opened = QueueDb::open(dir.path());
    REQUIRE(opened);
    auto& db = **opened;
    const QueueId hop = QueueId::next_hop_domain("example.net");
    for (std::uint64_t i = 1; i <= 200; ++i) REQUIRE(db.enqueue(make_message(i, 300)));
    auto lease = db.lease_for_delivery(hop, 500);
    REQUIRE(lease->size() == 200);
    auto before = db.commit_stats();

    std::mutex mu;
    std::condition_variable cv;
    int left = 200, failed = 0;
    for (auto& l : *lease)
        db.record_delivery_async({l.id, hop, {{0, RecipientOutcome::Kind::Delivered, "250 OK"}}, {}, {}},
                                 [&](std::error_code ec) {
                                     std::lock_guard lk(mu);
                                     if (ec) ++failed;
                                     if (--left == 0) cv.notify_one();
                                 });
    // A report for a message that was never leased fails alone; the others commit.
    std::error_code stray;
    std::promise<void> stray_done;
    db.record_delivery_async({999999, hop, {{0, RecipientOutcome::Kind::Delivered, "250"}}, {}, {}},
                             [&](std::error_code ec) {
                                 stray = ec;
                                 stray_done.set_value();
                             });
    {
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return left == 0; });
    }
    stray_done.get_future().wait();
    CHECK(failed == 0);
    CHECK(stray == QueueError::not_found);
    CHECK(db.list_messages({}).empty());
    auto after = db.commit_stats();
    INFO("commits " << after.commits - before.commits);
    CHECK((after.commits - before.commits) * 4 < 200);
    CHECK(db.check().ok());
}
