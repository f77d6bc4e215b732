// Sender reputation's service and the Protocol Analysis Agent, against a real LMDB
// store in a temp directory and no sockets: blocking and the profile's deletion, other
// agents' refusals through the verdict tee, early talkers, batched writes and the bound.
#include "reputation_service.hpp"

#include "queue_db.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <string>
#include <vector>

using namespace edge::agents;
using edge::test::TempDir;
namespace asio = boost::asio;

namespace {

Seconds at(std::int64_t s) { return Seconds(std::chrono::seconds(s)); }

struct Blocked {
    asio::ip::address address;
    std::chrono::system_clock::time_point until;
    std::string why;
};

struct Fixture {
    TempDir dir;
    asio::io_context io;  // before the store: closing it posts the last completions here
    std::unique_ptr<edge::queue::QueueDb> db = edge::test::open_queue(dir);
    std::shared_ptr<SenderReputationService> service =
        std::make_shared<SenderReputationService>(io.get_executor(), db.get(), nullptr);
    std::vector<Blocked> blocked;
    Seconds now = at(1'800'000'000);
    Fixture() {
        service->clock = [this] { return now; };
        service->set_ours("edge.contoso.com", nullptr);
        service->on_block = [this](const asio::ip::address& a, std::chrono::system_clock::time_point until,
                                   std::string why) { blocked.push_back({a, until, std::move(why)}); };
    }
    // One session of a spam bot: connect, a HELO that is an IP literal not its own, a message.
    void bot_message(const std::string& ip, int n) {
        service->on_connect(ip);
        service->on_helo(ip, "192.0.2.25", "[10.0.0." + std::to_string(n % 250) + "]");
        service->on_end_of_data(ip);
    }
};

}  // namespace

TEST_CASE("20 messages with bad HELOs and no PTR block the sender once, and its profile is deleted",
          "[agents][reputation]") {
    Fixture f;
    f.service->apply_reverse_dns(std::string("\x7f\x00\x00\x05", 4), ReverseDnsFinding::NoPtr, "");
    for (int i = 0; i < 19; ++i) f.bot_message("127.0.0.5", i);
    CHECK(f.blocked.empty());  // Exchange: no level before 20 messages
    CHECK(f.service->profile("127.0.0.5")->srl == 0);
    f.bot_message("127.0.0.5", 19);
    REQUIRE(f.blocked.size() == 1);
    CHECK(f.blocked[0].address == asio::ip::make_address("127.0.0.5"));
    CHECK(f.blocked[0].until == std::chrono::system_clock::time_point(f.now.time_since_epoch() + std::chrono::hours(24)));
    CHECK(f.blocked[0].why.find("NoPtr") == std::string::npos);  // the administrator's words, not the codes
    CHECK(f.blocked[0].why.find("no PTR record") != std::string::npos);
    auto p = f.service->profile("127.0.0.5");
    REQUIRE(p);
    CHECK(p->srl > 7);
    CHECK(p->messages == 0);  // the evidence is deleted, as Exchange deletes the profile
    CHECK(p->helo_names.empty());
    CHECK(p->reverse_dns == ReverseDnsFinding::NotChecked);
    CHECK(p->blocked_until == f.now + std::chrono::hours(24));
    CHECK(p->block_reason.find("over the threshold 7") != std::string::npos);
    // While the block lasts, more messages do not block again.
    for (int i = 0; i < 25; ++i) f.bot_message("127.0.0.5", i);
    CHECK(f.blocked.size() == 1);
    CHECK(f.service->blocks() == 1);
}

TEST_CASE("SenderBlockingEnabled $false, a threshold of 9 or a period of 0 blocks nobody", "[agents][reputation]") {
    for (int variant = 0; variant < 3; ++variant) {
        Fixture f;
        edge::config::SenderReputationConfigSettings s;
        if (variant == 0) s.sender_blocking_enabled = false;
        if (variant == 1) s.srl_block_threshold = 9;
        if (variant == 2) s.sender_blocking_period = 0;
        f.service->configure(s);
        f.service->apply_reverse_dns(std::string("\x7f\x00\x00\x05", 4), ReverseDnsFinding::NoPtr, "");
        for (int i = 0; i < 30; ++i) f.bot_message("127.0.0.5", i);
        CHECK(f.blocked.empty());
        CHECK(f.service->profile("127.0.0.5")->messages == 30);
    }
}

TEST_CASE("other agents' refusals reach the profile through the verdict tee, which passes every verdict on",
          "[agents][reputation]") {
    Fixture f;
    struct Counting : VerdictSink {
        int n = 0;
        void record(const VerdictRecord&) override { ++n; }
    } log;
    ReputationVerdictTee tee(&log, f.service);
    SessionInfo session;
    session.remote_ip = "198.51.100.7";
    Envelope env;
    const Verdict reject = Verdict::reject(edge::smtp::ReplyId::AgentRejected, "RecipientDoesNotExist");
    const Verdict tarpit = Verdict::tarpit(std::chrono::milliseconds(5), "slow");
    tee.record({AgentEvent::OnRcptCommand, "Recipient Filter Agent", reject, session, env, "550 5.1.1"});
    tee.record({AgentEvent::OnRcptCommand, "Recipient Filter Agent", reject, session, env, "550 5.1.1"});
    tee.record({AgentEvent::OnRcptCommand, "Recipient Filter Agent", tarpit, session, env, ""});
    CHECK(log.n == 3);
    auto p = f.service->profile("198.51.100.7");
    REQUIRE(p);
    CHECK(p->rejections_last_day(f.now) == 2);
}

TEST_CASE("the pre-greet test's early talkers are counted, IPv4-mapped or not", "[agents][reputation]") {
    Fixture f;
    f.service->record_early_talker(asio::ip::make_address("203.0.113.9"));
    f.service->record_early_talker(asio::ip::make_address("::ffff:203.0.113.9"));
    auto p = f.service->profile("203.0.113.9");
    REQUIRE(p);
    CHECK(p->early_talker == 2);
}

TEST_CASE("the agent gathers evidence at connect, HELO and end of data, and never refuses", "[agents][reputation]") {
    Fixture f;
    ProtocolAnalysisAgent agent(f.service);
    CHECK(agent.name() == "Protocol Analysis Agent");
    CHECK_FALSE(agent.is_async());
    CHECK(agent.handles(AgentEvent::OnConnect));
    CHECK(agent.handles(AgentEvent::OnEhloCommand));
    CHECK(agent.handles(AgentEvent::OnEndOfData));
    CHECK_FALSE(agent.handles(AgentEvent::OnRcptCommand));
    SessionInfo s;
    s.remote_ip = "198.51.100.7";
    s.local_ip = "192.0.2.25";
    s.helo = "contoso.com";
    Envelope env;
    CHECK(agent.on_event(AgentEvent::OnConnect, s, env).action == AgentAction::Continue);
    CHECK(agent.on_event(AgentEvent::OnEhloCommand, s, env).action == AgentAction::Continue);
    s.helo = "edge.contoso.com";
    CHECK(agent.on_event(AgentEvent::OnHeloCommand, s, env).action == AgentAction::Continue);
    CHECK(agent.on_event(AgentEvent::OnEndOfData, s, env).action == AgentAction::Continue);
    auto p = f.service->profile("198.51.100.7");
    REQUIRE(p);
    CHECK(p->helos == 2);
    CHECK(p->helo_claims_ours == 1);  // our name (no categorizer here: accepted domains unknown)
    CHECK(p->messages == 1);
    CHECK(p->last_helo == "edge.contoso.com");
}

TEST_CASE("profiles are written in batches, read back by a new service, and the store stays bounded",
          "[agents][reputation]") {
    Fixture f;
    edge::config::SenderReputationConfigSettings s;
    s.max_tracked_addresses = 50;
    f.service->configure(s);
    for (int i = 0; i < 200; ++i) {
        f.now = at(1'800'000'000 + i);  // later addresses are the more recently seen
        f.service->on_end_of_data("10.1.0." + std::to_string(i));
    }
    CHECK(f.service->pending() == 200);
    CHECK(f.db->reputation_count() == 0);  // nothing written until a flush
    bool done = false;
    std::error_code result;
    f.service->flush([&](std::error_code ec) {
        done = true;
        result = ec;
    });
    CHECK(f.service->pending() == 0);
    // Still readable while the batch is in flight.
    CHECK(f.service->profile("10.1.0.199")->messages == 1);
    // The commit finishes on the committer's thread and posts its end here: the guard
    // keeps run_for waiting for it (at most 10 s) instead of returning for want of work.
    {
        auto guard = asio::make_work_guard(f.io);
        for (int i = 0; i < 1000 && !done; ++i) f.io.run_for(std::chrono::milliseconds(10));
    }
    REQUIRE(done);
    CHECK_FALSE(result);
    CHECK(f.db->reputation_count() == 50);  // the least recently seen went
    auto again = std::make_shared<SenderReputationService>(f.io.get_executor(), f.db.get(), nullptr);
    CHECK(again->profile("10.1.0.199")->messages == 1);
    CHECK_FALSE(again->profile("10.1.0.0"));
    // At shutdown what is pending is written at once.
    f.service->on_end_of_data("10.1.0.199");
    f.service->flush_now();
    CHECK(again->profile("10.1.0.199")->messages == 2);
}

TEST_CASE("pending profiles are bounded: a flood of addresses never holds more than kMaxPending",
          "[agents][reputation]") {
    Fixture f;
    // No I/O runs: the batches never finish, so past the bound updates are dropped.
    for (std::uint32_t i = 0; i < 3 * SenderReputationService::kMaxPending; ++i)
        f.service->note_rejection(fmt::format("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255));
    CHECK(f.service->pending() <= SenderReputationService::kMaxPending);
    CHECK(f.service->dropped_updates() > 0);
}
