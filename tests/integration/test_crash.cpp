// Crash tests: real processes share one data directory and are killed with SIGKILL
// at random moments. What they check is the queue's promise: an acknowledged message
// survives byte for byte, nothing partial is ever visible, leases of a dead process
// come back, and a message that keeps crashing the process ends in the Poison queue.
#include "queue_db.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

using namespace edge::queue;
using edge::test::body_for;
using edge::test::make_message;
using edge::test::TempDir;

namespace {

const QueueId kNet = QueueId::next_hop_domain("example.net");

// Sizes from a few hundred bytes to ~80 KiB, so bodies land both in leaf pages and in
// LMDB overflow pages.
std::size_t size_for(std::uint64_t tag) {
    static const std::size_t sizes[] = {300, 1024, 2500, 4096, 9000, 80 * 1024};
    return sizes[tag % 6];
}

std::uint64_t tag_of(const Envelope& e) { return std::stoull(e.sender.substr(6)); }

struct Child {
    pid_t pid = -1;
    int out = -1;  // read end of the child's report pipe
};

// Runs body(write_fd) in a forked child that never returns into the test runner.
template <class F>
Child spawn(F body) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        int rc = body(fds[1]);
        ::_exit(rc);
    }
    ::close(fds[1]);
    return {pid, fds[0]};
}

void report(int fd, const std::string& line) {
    // One write below PIPE_BUF is atomic: lines from several threads never interleave.
    std::string s = line + "\n";
    [[maybe_unused]] auto n = ::write(fd, s.data(), s.size());
}

// Reads whatever the child writes until `deadline` or until it closes the pipe; with
// `first_only`, returns after the first read that brought something.
void read_until(int fd, std::string& into, std::chrono::steady_clock::time_point deadline, bool first_only = false) {
    char buf[4096];
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return;
        pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, static_cast<int>(left.count()));
        if (r <= 0) return;
        auto n = ::read(fd, buf, sizeof buf);
        if (n <= 0) return;
        into.append(buf, static_cast<std::size_t>(n));
        if (first_only) return;
    }
}

void kill_and_reap(Child& c, std::string& output) {
    ::kill(c.pid, SIGKILL);
    int status = 0;
    ::waitpid(c.pid, &status, 0);
    read_until(c.out, output, std::chrono::steady_clock::now() + std::chrono::seconds(5));
    ::close(c.out);
}

int wait_exit(Child& c) {
    int status = 0;
    ::waitpid(c.pid, &status, 0);
    ::close(c.out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A delivery process: leases what example.net has, reports how many, and waits
// (mid-delivery) until it is killed. `reported` receives its report.
Child start_delivery_process(const TempDir& dir, std::string& reported) {
    Child c = spawn([&](int fd) {
        auto db = QueueDb::open(dir.path());
        if (!db) return 3;
        auto lease = (*db)->lease_for_delivery(kNet, 10);
        report(fd, lease ? std::to_string(lease->size()) : "error");
        ::pause();
        return 0;
    });
    read_until(c.out, reported, std::chrono::steady_clock::now() + std::chrono::seconds(10), true);
    return c;
}


}  // namespace

TEST_CASE("every acknowledged message survives SIGKILL at random moments, byte for byte", "[crash][durability]") {
    TempDir dir;
    std::random_device rd;
    auto seed = rd();
    INFO("seed " << seed);
    std::mt19937 rng(seed);
    std::map<std::uint64_t, MessageId> acked;  // tag -> id, across all rounds
    constexpr int kRounds = 24;
    constexpr int kWriters = 8;
    std::uint64_t torn_visible = 0;
    // Expected bodies, built once per tag (generating them is the slow part under ASan).
    std::map<std::uint64_t, std::string> expected;
    auto expected_body = [&](std::uint64_t tag) -> const std::string& {
        auto it = expected.find(tag);
        if (it == expected.end()) it = expected.emplace(tag, body_for(tag, size_for(tag))).first;
        return it->second;
    };

    for (int round = 0; round < kRounds; ++round) {
        Child c = spawn([&](int fd) {
            auto db = QueueDb::open(dir.path());
            if (!db) return 3;
            report(fd, "ready");
            std::vector<std::thread> writers;
            for (int w = 0; w < kWriters; ++w)
                writers.emplace_back([&, w] {
                    for (std::uint64_t i = 0;; ++i) {
                        std::uint64_t tag = (static_cast<std::uint64_t>(round) << 32) |
                                            (static_cast<std::uint64_t>(w) << 24) | i;
                        auto r = (*db)->enqueue(make_message(tag, size_for(tag)));
                        if (r) report(fd, std::to_string(tag) + " " + std::to_string(*r));
                    }
                });
            for (auto& t : writers) t.join();
            return 0;
        });
        std::string out;
        // Let it start, then kill it somewhere between 20 and 250 ms into its writing.
        read_until(c.out, out, std::chrono::steady_clock::now() + std::chrono::seconds(10), true);
        auto start = std::chrono::steady_clock::now();
        read_until(c.out, out, start + std::chrono::milliseconds(std::uniform_int_distribution<int>(20, 250)(rng)));
        kill_and_reap(c, out);

        std::istringstream lines(out);
        std::string line;
        std::size_t this_round = 0;
        while (std::getline(lines, line)) {
            if (line == "ready" || line.empty()) continue;
            std::istringstream ls(line);
            std::uint64_t tag = 0;
            MessageId id = 0;
            if (ls >> tag >> id) {
                acked[tag] = id;
                ++this_round;
            }
        }
        INFO("round " << round << " acknowledged " << this_round);

        auto db = edge::test::open_queue(dir);
        // Every round: the whole database is consistent (each record valid, each body
        // as long as its envelope says) and this round's acknowledged messages are
        // there byte for byte. Every sixth round and the last: every message ever
        // acknowledged, and every unacknowledged one that is visible, byte for byte.
        auto rep = db->check();
        INFO((rep.problems.empty() ? std::string() : rep.problems.front()));
        REQUIRE(rep.ok());
        bool full = round % 6 == 5 || round == kRounds - 1;
        for (const auto& [tag, id] : acked) {
            if (!full && (tag >> 32) != static_cast<std::uint64_t>(round)) continue;
            auto info = db->get_message(id);
            REQUIRE(info);
            REQUIRE(tag_of(info->envelope) == tag);
            REQUIRE(info->envelope.size == size_for(tag));
            REQUIRE(db->export_message(id) == expected_body(tag));
        }
        if (!full) continue;
        for (const auto& m : db->list_messages({{}, {}, SIZE_MAX})) {
            std::uint64_t tag = tag_of(m.envelope);
            if (acked.count(tag)) continue;  // checked above
            if (db->export_message(m.id) != expected_body(tag)) ++torn_visible;
        }
        REQUIRE(torn_visible == 0);
    }
    CHECK(acked.size() > kRounds);  // the writers really ran
}

TEST_CASE("leases of a killed process come back Ready, and two crashes make a message poison", "[crash][poison]") {
    TempDir dir;
    std::vector<MessageId> ids;
    {
        auto db = edge::test::open_queue(dir);
        for (std::uint64_t i = 1; i <= 3; ++i) ids.push_back(*db->enqueue(make_message(i)));
        db->enqueue(make_message(9, 1024, {"example.org"}));  // never leased: must stay as it is
    }
    // A delivery process leases everything for example.net, then dies mid-delivery.
    auto crash_while_delivering = [&] {
        std::string out;
        Child c = start_delivery_process(dir, out);
        kill_and_reap(c, out);
        return out;
    };

    CHECK(crash_while_delivering() == "3\n");
    {
        auto db = edge::test::open_queue(dir);
        CHECK(db->recovery_report().leases_returned == 3);
        CHECK(db->recovery_report().poisoned == 0);
        for (auto id : ids) {
            auto m = db->get_message(id);
            REQUIRE(m);
            CHECK(m->status == MessageStatus::Ready);
            CHECK(m->crash_count == 1);
        }
        CHECK(db->check().ok());
    }

    CHECK(crash_while_delivering() == "3\n");
    auto db = edge::test::open_queue(dir);
    CHECK(db->recovery_report().poisoned == 3);
    for (auto id : ids) {
        auto m = db->get_message(id);
        REQUIRE(m);
        CHECK(m->queue == QueueId::poison());
        CHECK(m->status == MessageStatus::Suspended);
        CHECK(m->crash_count == 2);
    }
    auto poison = db->get_queue(QueueId::poison());
    REQUIRE(poison);
    CHECK(poison->message_count == 3);
    CHECK(db->lease_for_delivery(kNet, 10)->empty());
    CHECK(db->get_queue(QueueId::next_hop_domain("example.org"))->ready_count == 1);
    CHECK(db->check().ok());

    // Resume-Message releases a poison message back to its queue with a clean slate.
    REQUIRE(db->resume_message(ids[0]));
    auto back = db->get_message(ids[0]);
    CHECK(back->queue == kNet);
    CHECK(back->status == MessageStatus::Ready);
    CHECK(back->crash_count == 0);
    CHECK(db->lease_for_delivery(kNet, 10)->size() == 1);
    CHECK(db->check().ok());
}

TEST_CASE("opening the queue while another live process holds leases leaves them alone", "[crash][multiprocess]") {
    TempDir dir;
    MessageId id = 0;
    {
        auto db = edge::test::open_queue(dir);
        id = *db->enqueue(make_message(1));
    }
    std::string out;
    Child c = start_delivery_process(dir, out);
    REQUIRE(out == "1\n");
    {
        auto db = edge::test::open_queue(dir);  // like edgectl opening beside a running server
        CHECK(db->recovery_report().leases_returned == 0);
        CHECK(db->get_message(id)->status == MessageStatus::Active);
        CHECK(db->get_queue(kNet)->status == QueueStatus::Active);
    }
    kill_and_reap(c, out);
    auto db = edge::test::open_queue(dir);
    CHECK(db->recovery_report().leases_returned == 1);
    CHECK(db->get_message(id)->status == MessageStatus::Ready);
}

TEST_CASE("two processes writing at once get distinct ids and lose nothing", "[crash][multiprocess]") {
    TempDir dir;
    { edge::test::open_queue(dir); }
    auto writer = [&](std::uint64_t base) {
        return spawn([&, base](int) {
            auto db = QueueDb::open(dir.path());
            if (!db) return 3;
            for (std::uint64_t i = 0; i < 150; ++i)
                if (!(*db)->enqueue(make_message(base + i, size_for(i)))) return 4;
            (*db)->config_apply({{"ServerSetting", "writer" + std::to_string(base), "x"}});
            return 0;
        });
    };
    Child a = writer(1'000'000);
    Child b = writer(2'000'000);
    CHECK(wait_exit(a) == 0);
    CHECK(wait_exit(b) == 0);
    auto db = edge::test::open_queue(dir);
    auto all = db->list_messages({{}, {}, SIZE_MAX});
    CHECK(all.size() == 300);
    std::set<MessageId> ids;
    for (const auto& m : all) {
        ids.insert(m.id);
        CHECK(db->export_message(m.id) == body_for(tag_of(m.envelope), size_for(tag_of(m.envelope) % 1'000'000)));
    }
    CHECK(ids.size() == 300);
    CHECK(db->config_generation() == 2);
    CHECK(db->check().ok());
}
