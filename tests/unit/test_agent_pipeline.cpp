// The transport agent pipeline: order and priority, each verdict, the anti-spam
// bypass, disabled agents, External/InternalMailEnabled, relay control that cannot be
// disabled, and agents with I/O that do not answer in time. No sockets; the only timer
// is an async agent's own timeout (1 ms) on an io_context run by the test.
#include "agent_config.hpp"
#include "pipeline.hpp"
#include "pipeline_async.hpp"
#include "receive_agents.hpp"
#include "session.hpp"
#include "verdict_counters.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

using namespace edge::agents;
using edge::smtp::ReplyId;
using namespace std::chrono_literals;

namespace {

// An agent that says what it was built to say and remembers that it ran.
class Scripted final : public Agent {
public:
    Scripted(std::string name, Verdict v, std::vector<std::string>* ran, bool anti_spam = true)
        : name_(std::move(name)), verdict_(std::move(v)), ran_(ran), anti_spam_(anti_spam) {}
    std::string_view name() const override { return name_; }
    bool handles(AgentEvent e) const override { return e == AgentEvent::OnRcptCommand || e == AgentEvent::OnEndOfData; }
    bool anti_spam() const override { return anti_spam_; }
    Verdict on_event(AgentEvent, const SessionInfo&, const Envelope&) const override {
        if (ran_) ran_->push_back(name_);
        return verdict_;
    }

private:
    std::string name_;
    Verdict verdict_;
    std::vector<std::string>* ran_;
    bool anti_spam_;
};

struct FakeSink : VerdictSink {
    struct Line {
        std::string agent, event, action, response, reason;
        bool timed_out;
    };
    std::vector<Line> lines;
    void record(const VerdictRecord& r) override {
        lines.push_back({std::string(r.agent), to_string(r.event), std::string(action_name(r.verdict.action, r.event)),
                         r.smtp_response, r.verdict.reason, r.verdict.timed_out});
    }
};

Pipeline::Entry entry(std::shared_ptr<const Agent> a, int priority, bool enabled = true) {
    Pipeline::Entry e;
    e.agent = std::move(a);
    e.settings.priority = priority;
    e.settings.enabled = enabled;
    return e;
}

Envelope rcpt(std::string address) {
    Envelope env;
    env.sender = "sender@example.org";
    env.recipient = std::move(address);
    env.recipient_domain = env.recipient.substr(env.recipient.find('@') + 1);
    return env;
}

}  // namespace

TEST_CASE("agents run in priority order, equal priorities in the order given", "[agents][pipeline]") {
    std::vector<std::string> ran;
    Pipeline p({entry(std::make_shared<Scripted>("C", Verdict::go_on(), &ran), 3),
                entry(std::make_shared<Scripted>("A", Verdict::go_on(), &ran), 1),
                entry(std::make_shared<Scripted>("B1", Verdict::go_on(), &ran), 2),
                entry(std::make_shared<Scripted>("B2", Verdict::go_on(), &ran), 2)});
    AgentSession s;
    FakeSink sink;
    auto d = p.run(AgentEvent::OnRcptCommand, s, rcpt("a@b.test"), &sink);
    CHECK_FALSE(d.reply);
    CHECK(ran == std::vector<std::string>{"A", "B1", "B2", "C"});
    CHECK(sink.lines.empty());  // Continue is not logged
    // An agent is only asked at its own events.
    ran.clear();
    p.run(AgentEvent::OnMailCommand, s, {}, &sink);
    CHECK(ran.empty());
}

TEST_CASE("the first Reject ends the run with its catalogue reply and is logged", "[agents][pipeline]") {
    std::vector<std::string> ran;
    Pipeline p({entry(std::make_shared<Scripted>("first", Verdict::reject(ReplyId::UserUnknown, "BlockedRecipient"), &ran), 1),
                entry(std::make_shared<Scripted>("second", Verdict::go_on(), &ran), 2)});
    AgentSession s;
    FakeSink sink;
    auto d = p.run(AgentEvent::OnRcptCommand, s, rcpt("a@b.test"), &sink);
    REQUIRE(d.reply);
    CHECK(*d.reply == ReplyId::UserUnknown);
    CHECK(d.agent == "first");
    CHECK(ran == std::vector<std::string>{"first"});
    REQUIRE(sink.lines.size() == 1);
    CHECK(sink.lines[0].action == "RejectCommand");
    CHECK(sink.lines[0].event == "OnRcptCommand");
    CHECK(sink.lines[0].response == "550 5.1.1 User unknown");
    CHECK(sink.lines[0].reason == "BlockedRecipient");
    // At the end of data a refusal refuses the message.
    sink.lines.clear();
    p.run(AgentEvent::OnEndOfData, s, {}, &sink);
    REQUIRE(sink.lines.size() == 1);
    CHECK(sink.lines[0].action == "RejectMessage");
}

TEST_CASE("Disconnect always answers with a reply that closes the session", "[agents][pipeline]") {
    // An agent that names a reply that does not close still ends the session.
    Verdict v = Verdict::disconnect("TooManyErrors", ReplyId::UserUnknown);
    Pipeline p({entry(std::make_shared<Scripted>("d", v, nullptr), 1)});
    AgentSession s;
    FakeSink sink;
    auto d = p.run(AgentEvent::OnRcptCommand, s, rcpt("a@b.test"), &sink);
    REQUIRE(d.reply);
    CHECK(edge::smtp::reply_entry(d.reply->id).closes);
    REQUIRE(sink.lines.size() == 1);
    CHECK(sink.lines[0].action == "Disconnect");
    CHECK(sink.lines[0].response.starts_with("421 4.7.0"));
}

TEST_CASE("Tarpit delays add up and go on, Stamp sets headers and properties and goes on", "[agents][pipeline]") {
    std::vector<std::string> ran;
    Verdict props = Verdict::set_property("SCL", "5");
    Pipeline p({entry(std::make_shared<Scripted>("slow1", Verdict::tarpit(2s, "Suspicious"), &ran), 1),
                entry(std::make_shared<Scripted>("stamp", Verdict::stamp_header("X-Agent", "seen"), &ran), 2),
                entry(std::make_shared<Scripted>("prop", props, &ran), 3),
                entry(std::make_shared<Scripted>("slow2", Verdict::tarpit(3s, "Suspicious"), &ran), 4)});
    AgentSession s;
    FakeSink sink;
    auto d = p.run(AgentEvent::OnRcptCommand, s, rcpt("a@b.test"), &sink);
    CHECK_FALSE(d.reply);
    CHECK(d.delay == 5s);
    CHECK(s.pending_delay == 5s);
    CHECK(ran.size() == 4);
    REQUIRE(s.stamped_headers.size() == 1);
    CHECK(s.stamped_headers[0] == HeaderField{"X-Agent", "seen"});
    CHECK(s.info.properties.at("SCL") == "5");
    CHECK(sink.lines.size() == 4);
    // A new message forgets the stamps, not the session's properties.
    s.new_message();
    CHECK(s.stamped_headers.empty());
    CHECK(s.info.properties.count("SCL") == 1);
}

TEST_CASE("SkipOtherAgents bypasses the anti-spam agents for the rest of the message only", "[agents][pipeline]") {
    std::vector<std::string> ran;
    Pipeline p({entry(std::make_shared<Scripted>("bypass", Verdict::skip_other_agents("TrustedSender"), &ran, false), 1),
                entry(std::make_shared<Scripted>("spam", Verdict::reject(ReplyId::AgentRejected, "Spam"), &ran), 2),
                entry(std::make_shared<Scripted>("guard", Verdict::go_on(), &ran, false), 3)});
    AgentSession s;
    auto d = p.run(AgentEvent::OnRcptCommand, s, rcpt("a@b.test"), nullptr);
    CHECK_FALSE(d.reply);
    CHECK(ran == std::vector<std::string>{"bypass", "guard"});  // an agent that is not anti-spam still runs
    ran.clear();
    p.run(AgentEvent::OnEndOfData, s, {}, nullptr);
    CHECK(ran == std::vector<std::string>{"bypass", "guard"});
    // The next message is filtered again.
    s.new_message();
    ran.clear();
    Pipeline only_spam({entry(std::make_shared<Scripted>("spam", Verdict::reject(ReplyId::AgentRejected, "Spam"), &ran), 1)});
    CHECK(only_spam.run(AgentEvent::OnRcptCommand, s, rcpt("a@b.test"), nullptr).reply == ReplyId::AgentRejected);
}

TEST_CASE("an allow-listed session bypasses the anti-spam agents, never relay control", "[agents][pipeline]") {
    std::vector<std::string> ran;
    Verdict allow;
    allow.allow_list_session = true;  // what the IP Allow list will do at OnConnect
    Pipeline p({entry(std::make_shared<Scripted>("allow", allow, &ran, false), 1),
                entry(std::make_shared<Scripted>("spam", Verdict::reject(ReplyId::AgentRejected, "Spam"), &ran), 2)});
    AgentSession s;
    CHECK_FALSE(p.run(AgentEvent::OnRcptCommand, s, rcpt("a@b.test"), nullptr).reply);
    CHECK(s.info.allow_listed);
    CHECK(ran == std::vector<std::string>{"allow"});

    // Relay control is no anti-spam agent: an allow-listed session still cannot relay.
    auto categorizer = std::make_shared<edge::routing::Categorizer>(edge::routing::AcceptedDomainTable{}, std::vector<edge::routing::SendConnectorRoute>{});
    Pipeline relay({entry(std::make_shared<RelayControlAgent>(categorizer), 0)});
    AgentSession listed;
    listed.info.allow_listed = true;
    CHECK(relay.run(AgentEvent::OnRcptCommand, listed, rcpt("x@elsewhere.test"), nullptr).reply == ReplyId::UnableToRelay);
    listed.info.permissions = edge::smtp::permission::AcceptAnyRecipient;
    CHECK_FALSE(relay.run(AgentEvent::OnRcptCommand, listed, rcpt("x@elsewhere.test"), nullptr).reply);
}

TEST_CASE("a disabled agent does not run, relay control runs even when its settings say disabled", "[agents][pipeline]") {
    std::vector<std::string> ran;
    Pipeline p({entry(std::make_shared<Scripted>("off", Verdict::reject(ReplyId::AgentRejected, "x"), &ran), 1, false)});
    AgentSession s;
    CHECK_FALSE(p.run(AgentEvent::OnRcptCommand, s, rcpt("a@b.test"), nullptr).reply);
    CHECK(ran.empty());

    auto categorizer = std::make_shared<edge::routing::Categorizer>(edge::routing::AcceptedDomainTable{}, std::vector<edge::routing::SendConnectorRoute>{});
    Pipeline relay({entry(std::make_shared<RelayControlAgent>(categorizer), 0, false)});
    CHECK(relay.run(AgentEvent::OnRcptCommand, s, rcpt("x@elsewhere.test"), nullptr).reply == ReplyId::UnableToRelay);
}

TEST_CASE("ExternalMailEnabled and InternalMailEnabled choose the sessions an agent sees", "[agents][pipeline]") {
    std::vector<std::string> ran;
    auto agent = std::make_shared<Scripted>("a", Verdict::go_on(), &ran);
    auto e = entry(agent, 1);
    e.settings.external_mail_enabled = true;
    e.settings.internal_mail_enabled = false;  // Exchange's default
    Pipeline p({e});
    AgentSession external, internal;
    internal.info.internal = true;
    p.run(AgentEvent::OnRcptCommand, external, rcpt("a@b.test"), nullptr);
    p.run(AgentEvent::OnRcptCommand, internal, rcpt("a@b.test"), nullptr);
    CHECK(ran.size() == 1);
    e.settings.external_mail_enabled = false;
    e.settings.internal_mail_enabled = true;
    Pipeline q({e});
    ran.clear();
    q.run(AgentEvent::OnRcptCommand, external, rcpt("a@b.test"), nullptr);
    CHECK(ran.empty());
    q.run(AgentEvent::OnRcptCommand, internal, rcpt("a@b.test"), nullptr);
    CHECK(ran.size() == 1);
}

namespace {

// An agent with I/O: answers `verdict`, or never (waits on a timer that does not expire).
class Remote final : public AsyncAgent {
public:
    Remote(std::string name, std::optional<Verdict> verdict, TimeoutAction on_timeout)
        : name_(std::move(name)), verdict_(std::move(verdict)), on_timeout_(on_timeout) {}
    std::string_view name() const override { return name_; }
    bool handles(AgentEvent e) const override { return e == AgentEvent::OnConnect || e == AgentEvent::OnMailCommand; }
    std::chrono::milliseconds timeout() const override { return 1ms; }
    TimeoutAction timeout_action() const override { return on_timeout_; }
    boost::asio::awaitable<Verdict> on_event_async(AgentEvent, const SessionInfo&, const Envelope&) const override {
        if (verdict_) co_return *verdict_;
        boost::asio::steady_timer never(co_await boost::asio::this_coro::executor,
                                        std::chrono::steady_clock::time_point::max());
        co_await never.async_wait(boost::asio::use_awaitable);  // cancelled by the timeout
        co_return Verdict::go_on();
    }

private:
    std::string name_;
    std::optional<Verdict> verdict_;
    TimeoutAction on_timeout_;
};

Decision run_on_io(const Pipeline& p, AgentEvent e, AgentSession& s, VerdictSink* sink) {
    boost::asio::io_context io;
    Decision out;
    bool done = false;
    boost::asio::co_spawn(io, run_async(p, e, s, {}, sink), [&](std::exception_ptr ex, Decision d) {
        if (ex) std::rethrow_exception(ex);
        out = std::move(d);
        done = true;
    });
    io.run();  // returns only when nothing is left waiting: a stuck agent would hang here
    REQUIRE(done);
    return out;
}

}  // namespace

TEST_CASE("an agent that does not answer in its time does not block the session: TempFail by default",
          "[agents][pipeline][timeout]") {
    std::vector<std::string> ran;
    Pipeline p({entry(std::make_shared<Remote>("dnsbl", std::nullopt, TimeoutAction::TempFail), 1),
                entry(std::make_shared<Scripted>("after", Verdict::go_on(), &ran), 2)});
    AgentSession s;
    FakeSink sink;
    auto d = run_on_io(p, AgentEvent::OnMailCommand, s, &sink);
    REQUIRE(d.reply);
    CHECK(*d.reply == ReplyId::AgentTemporaryFailure);
    CHECK(edge::smtp::reply_entry(d.reply->id).code == 451);
    REQUIRE(sink.lines.size() == 1);
    CHECK(sink.lines[0].timed_out);
    CHECK(sink.lines[0].reason == "AgentTimeout");
    CHECK(sink.lines[0].response == "451 4.7.0 Temporary server error, please try again later");
}

TEST_CASE("an agent that fails open lets the session go on after its timeout, and says so in the log",
          "[agents][pipeline][timeout]") {
    Pipeline p({entry(std::make_shared<Remote>("reputation", std::nullopt, TimeoutAction::Accept), 1)});
    AgentSession s;
    FakeSink sink;
    auto d = run_on_io(p, AgentEvent::OnConnect, s, &sink);
    CHECK_FALSE(d.reply);
    REQUIRE(sink.lines.size() == 1);
    CHECK(sink.lines[0].timed_out);
    CHECK(sink.lines[0].action == "Continue");
}

TEST_CASE("an agent with I/O that answers in time is heard, in its place in the order", "[agents][pipeline][timeout]") {
    Pipeline p({entry(std::make_shared<Remote>("blocklist", Verdict::reject(ReplyId::AgentRejected, "IPBlocked"),
                                               TimeoutAction::TempFail),
                      1)});
    AgentSession s;
    FakeSink sink;
    auto d = run_on_io(p, AgentEvent::OnConnect, s, &sink);
    REQUIRE(d.reply);
    CHECK(*d.reply == ReplyId::AgentRejected);
    REQUIRE(sink.lines.size() == 1);
    CHECK(sink.lines[0].action == "RejectConnection");
    CHECK_FALSE(sink.lines[0].timed_out);
    // The pure decision alone: an answer never gathered counts as a timeout.
    AgentSession fresh;
    CHECK(p.run(AgentEvent::OnConnect, fresh, {}, nullptr).reply == ReplyId::AgentTemporaryFailure);
}

namespace {
// An async agent that reads a message property an earlier agent set at the same event
// (DMARC reading DKIM's results) and answers with what it saw.
class Reader final : public AsyncAgent {
public:
    std::string_view name() const override { return "reader"; }
    bool handles(AgentEvent e) const override { return e == AgentEvent::OnMailCommand; }
    std::chrono::milliseconds timeout() const override { return 1000ms; }
    boost::asio::awaitable<Verdict> on_event_async(AgentEvent, const SessionInfo& s, const Envelope&) const override {
        auto it = s.properties.find("Message.First");
        co_return Verdict::set_property("Message.Seen", it == s.properties.end() ? "nothing" : it->second);
    }
};
}  // namespace

TEST_CASE("issue 18: an async agent sees what the one asked before it found, Delete ends the run, a new message "
          "forgets Message.* properties",
          "[agents][pipeline]") {
    std::vector<std::string> ran;
    Pipeline p({entry(std::make_shared<Remote>("first", Verdict::set_property("Message.First", "pass:a.example"),
                                               TimeoutAction::Accept),
                      1),
                entry(std::make_shared<Reader>(), 2)});
    AgentSession s;
    s.info.properties["Session.Kept"] = "yes";
    FakeSink sink;
    auto d = run_on_io(p, AgentEvent::OnMailCommand, s, &sink);
    CHECK_FALSE(d.reply);
    CHECK(s.info.properties["Message.Seen"] == "pass:a.example");
    s.new_message();
    CHECK_FALSE(s.info.properties.contains("Message.Seen"));
    CHECK_FALSE(s.info.properties.contains("Message.First"));
    CHECK(s.info.properties["Session.Kept"] == "yes");

    Pipeline q({entry(std::make_shared<Scripted>("spf", Verdict::delete_message("SpfFail", "spoofed.example"), &ran), 1),
                entry(std::make_shared<Scripted>("after", Verdict::go_on(), &ran), 2)});
    AgentSession t;
    FakeSink sink2;
    auto del = q.run(AgentEvent::OnEndOfData, t, {}, &sink2);
    CHECK(del.delete_message);
    CHECK_FALSE(del.reply);
    CHECK(del.agent == "spf");
    CHECK(ran == std::vector<std::string>{"spf"});
    REQUIRE(sink2.lines.size() == 1);
    CHECK(sink2.lines[0].action == "DeleteMessage");
}

TEST_CASE("Get-TransportAgent's order: relay control 0 and fixed, the others 1..N, stored priorities first",
          "[agents][config]") {
    auto agents = order_agents({});
    REQUIRE(agents.size() == 10);
    CHECK(agents[0].identity == "Relay Control");
    CHECK(agents[0].priority == 0);
    CHECK_FALSE(agents[0].can_disable);
    // Exchange's order of the agents we have (Connection Filtering 1, Sender Id 5, Sender
    // Filter 6, Recipient Filter 7, Protocol Analysis 8), ours — DKIM verification, then
    // DMARC, which reads it — right after Sender Id; the Milter Agent and the Content Filter
    // Agent (issue 19), which reads the milters' verdicts, after them.
    const std::vector<std::string> expected{"Connection Filtering Agent", "Sender Id Agent",      "DKIM Verification Agent",
                                            "DMARC Agent",                "Milter Agent",         "Content Filter Agent",
                                            "Sender Filter Agent",        "Recipient Filter Agent", "Protocol Analysis Agent"};
    for (std::size_t i = 0; i < expected.size(); ++i) {
        CHECK(agents[i + 1].identity == expected[i]);
        CHECK(agents[i + 1].priority == static_cast<int>(i + 1));
        CHECK(agents[i + 1].enabled);
    }

    edge::config::ConfigObject off(edge::config::ObjectKind::TransportAgent);
    REQUIRE(off.set("Enabled", "$false").empty());
    edge::config::ConfigObject relay_off = off;
    auto stored = order_agents({{"recipient filter agent", off}, {"Relay Control", relay_off}});
    auto named = [&stored](std::string_view name) {
        for (const auto& a : stored)
            if (a.identity == name) return a;
        FAIL("no agent " << name);
        return stored[0];
    };
    CHECK_FALSE(named("Recipient Filter Agent").enabled);
    CHECK(named("Connection Filtering Agent").enabled);
    CHECK(named("Sender Filter Agent").enabled);
    CHECK(named("Protocol Analysis Agent").enabled);
    CHECK(named("Relay Control").enabled);  // a stored "disabled" for relay control is not obeyed

    CHECK(move_agent(agents, "Recipient Filter Agent", 1).empty());
    CHECK(agents[1].identity == "Recipient Filter Agent");
    CHECK(agents[2].identity == "Connection Filtering Agent");
    CHECK(move_agent(agents, "Recipient Filter Agent", 0).find("out of range; expected 1 to 9") != std::string::npos);
    CHECK(move_agent(agents, "Recipient Filter Agent", 99).find("out of range") != std::string::npos);
    CHECK(move_agent(agents, "Relay Control", 1).find("cannot be changed") != std::string::npos);
    CHECK(move_agent(agents, "Nope Agent", 1).find("no transport agent named 'Nope Agent'") != std::string::npos);
}

TEST_CASE("Set-TransportAgent -Priority moves an agent and closes up the others", "[agents][config]") {
    std::vector<TransportAgentConfig> a{{"Relay Control", true, 0, false},
                                        {"A", true, 1, true},
                                        {"B", true, 2, true},
                                        {"C", true, 3, true}};
    REQUIRE(move_agent(a, "c", 1).empty());
    REQUIRE(a.size() == 4);
    CHECK(a[0].identity == "Relay Control");
    CHECK(a[0].priority == 0);
    CHECK((a[1].identity == "C" && a[1].priority == 1));
    CHECK((a[2].identity == "A" && a[2].priority == 2));
    CHECK((a[3].identity == "B" && a[3].priority == 3));
    REQUIRE(move_agent(a, "C", 3).empty());
    CHECK(a[3].identity == "C");
    CHECK(a[1].identity == "A");
}

TEST_CASE("the Recipient Filter Agent refuses as the filter does, after relay control, in the built pipeline",
          "[agents][config]") {
    edge::routing::AcceptedDomain d;
    d.name = "contoso";
    d.domain_name = "contoso.com";
    d.domain_type = edge::routing::AcceptedDomainType::Authoritative;
    auto categorizer = std::make_shared<edge::routing::Categorizer>(edge::routing::AcceptedDomainTable({d}),
                                                                    std::vector<edge::routing::SendConnectorRoute>{});
    RecipientFilterSettings fs;
    fs.block_list_enabled = true;
    fs.blocked_recipients = {"ceo@contoso.com"};
    auto filter = std::make_shared<RecipientFilter>(fs, "", nullptr);
    auto agents = order_agents({});
    // The Connection Filtering Agent answers asynchronously (run_async); this test runs
    // the pure pipeline, so it is off here.
    REQUIRE(agents[1].identity == "Connection Filtering Agent");
    agents[1].enabled = false;
    auto p = build_pipeline(agents, categorizer, filter);
    AgentSession s;
    FakeSink sink;
    CHECK(p->run(AgentEvent::OnRcptCommand, s, rcpt("CEO@contoso.com"), &sink).reply == ReplyId::UserUnknown);
    CHECK(p->run(AgentEvent::OnRcptCommand, s, rcpt("cfo@contoso.com"), &sink).reply == std::nullopt);
    CHECK(p->run(AgentEvent::OnRcptCommand, s, rcpt("ceo@elsewhere.test"), &sink).reply == ReplyId::UnableToRelay);
    REQUIRE(sink.lines.size() == 2);
    CHECK(sink.lines[0].agent == "Recipient Filter Agent");
    CHECK(sink.lines[0].reason == "BlockedRecipient");
    CHECK(sink.lines[1].agent == "Relay Control");
    CHECK(sink.lines[1].reason == "RelayDenied");
    // Disabled: the blocked recipient passes; relay control still guards.
    auto rf = std::find_if(agents.begin(), agents.end(), [](const auto& a) { return a.identity == "Recipient Filter Agent"; });
    REQUIRE(rf != agents.end());
    rf->enabled = false;
    auto off = build_pipeline(agents, categorizer, filter);
    CHECK(off->run(AgentEvent::OnRcptCommand, s, rcpt("ceo@contoso.com"), nullptr).reply == std::nullopt);
    CHECK(off->run(AgentEvent::OnRcptCommand, s, rcpt("ceo@elsewhere.test"), nullptr).reply == ReplyId::UnableToRelay);
}

TEST_CASE("a recipient the lookup refused is named in the agent log by its keyed hash, never in clear",
          "[agents][recipient-filter][security]") {
    edge::routing::AcceptedDomain d;
    d.name = "contoso";
    d.domain_name = "contoso.com";
    d.domain_type = edge::routing::AcceptedDomainType::Authoritative;
    auto categorizer = std::make_shared<edge::routing::Categorizer>(edge::routing::AcceptedDomainTable({d}),
                                                                    std::vector<edge::routing::SendConnectorRoute>{});
    RecipientFilterSettings fs;
    fs.recipient_validation_enabled = true;
    const std::string key = "0123456789abcdef";
    const std::string alice = recipient_hash(key, "alice@contoso.com");
    auto filter = std::make_shared<RecipientFilter>(
        fs, key, [alice](std::string_view h) -> std::optional<bool> { return std::string(h) == alice; });
    RecipientFilterAgent agent(filter, categorizer);
    SessionInfo session;
    Verdict v = agent.on_event(AgentEvent::OnRcptCommand, session, rcpt("bob@contoso.com"));
    CHECK(v.action == AgentAction::Reject);
    CHECK(v.reason == "RecipientDoesNotExist");
    CHECK(v.reason_data == "contoso.com");
    CHECK(v.logged_recipient.starts_with("HMAC-SHA256:"));
    CHECK(v.logged_recipient.size() == 12 + 64);
    CHECK(v.logged_recipient.find("bob") == std::string::npos);
    CHECK(v.logged_recipient == filter->hashed_for_log("BOB@Contoso.com"));  // the canonical address's hash
    CHECK(agent.on_event(AgentEvent::OnRcptCommand, session, rcpt("alice@contoso.com")).action == AgentAction::Continue);
}

TEST_CASE("verdict counters count by agent and action, in a stable order, across threads", "[agents][counters]") {
    VerdictCounters c;
    CHECK(c.total() == 0);
    CHECK(counters_text(c.rows()) == "none");
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&c] {
            for (int i = 0; i < 1000; ++i) {
                c.count("Sender Filter Agent", "RejectCommand");
                if (i % 10 == 0) c.count("Connection Filtering Agent", "RejectCommand");
            }
        });
    for (auto& t : threads) t.join();
    c.count("Connection Filtering Agent", "Disconnect");
    auto rows = c.rows();
    REQUIRE(rows.size() == 3);
    CHECK(rows[0].agent == "Connection Filtering Agent");
    CHECK(rows[0].action == "Disconnect");
    CHECK(rows[0].count == 1);
    CHECK(rows[1].action == "RejectCommand");
    CHECK(rows[1].count == 400);
    CHECK(rows[2].agent == "Sender Filter Agent");
    CHECK(rows[2].count == 4000);
    CHECK(c.total() == 4401);
    CHECK(counters_text(rows) ==
          "Connection Filtering Agent Disconnect=1, Connection Filtering Agent RejectCommand=400, Sender Filter Agent RejectCommand=4000");
}

TEST_CASE("the built pipeline runs the Sender Filter Agent from AgentServices with its own Enabled and "
          "ExternalMailEnabled",
          "[agents][config][sender-filter]") {
    auto categorizer = std::make_shared<edge::routing::Categorizer>(edge::routing::AcceptedDomainTable(std::vector<edge::routing::AcceptedDomain>{}),
                                                                    std::vector<edge::routing::SendConnectorRoute>{});
    edge::config::SenderFilterConfigSettings fs;
    fs.blocked_senders = {"bad@spam.test"};
    AgentServices services;
    services.sender_filter = std::make_shared<SenderFilter>(fs);
    Envelope mail;
    mail.sender = "Bad@Spam.Test";
    AgentSession s;
    FakeSink sink;
    auto p = build_pipeline(order_agents({}), categorizer, nullptr, services);
    CHECK(p->run(AgentEvent::OnMailCommand, s, mail, &sink).reply == ReplyId::SenderDenied);
    REQUIRE(sink.lines.size() == 1);
    CHECK(sink.lines[0].agent == "Sender Filter Agent");
    CHECK(sink.lines[0].reason == "BlockedSender");
    // Set-SenderFilterConfig -Enabled $false, or -ExternalMailEnabled $false for an anonymous session.
    for (auto change : {+[](edge::config::SenderFilterConfigSettings& c) { c.enabled = false; },
                        +[](edge::config::SenderFilterConfigSettings& c) { c.external_mail_enabled = false; }}) {
        auto off = fs;
        change(off);
        services.sender_filter = std::make_shared<SenderFilter>(off);
        auto q = build_pipeline(order_agents({}), categorizer, nullptr, services);
        CHECK_FALSE(q->run(AgentEvent::OnMailCommand, s, mail, nullptr).reply.has_value());
    }
}

namespace {
// An agent that records what it saw of the message (its recipients and first chunk).
class Observer final : public Agent {
public:
    explicit Observer(std::vector<std::string>* seen) : seen_(seen) {}
    std::string_view name() const override { return "observer"; }
    bool handles(AgentEvent e) const override { return e == AgentEvent::OnEndOfData; }
    Verdict on_event(AgentEvent, const SessionInfo&, const Envelope& env) const override {
        std::string line = env.sender + " ->";
        for (const auto& r : env.recipients) line += " " + r;
        if (env.message != nullptr && !env.message->empty()) line += " | " + env.message->front();
        seen_->push_back(line);
        return Verdict::go_on();
    }

private:
    std::vector<std::string>* seen_;
};
}  // namespace

TEST_CASE("a MessageEdit changes what the agents after it see and what the session commits", "[agents][pipeline]") {
    Verdict edit;
    edit.edit.emplace();
    edit.edit->message = std::make_shared<const std::vector<std::string>>(
        std::vector<std::string>{"X-Scanned: yes\r\nSubject: hi\r\n\r\nbody\r\n"});
    edit.edit->headers = {{"X-Scanned", "yes"}, {"Subject", "hi"}};
    edit.edit->sender = "new@example.org";
    edit.edit->add_recipients = {"added@b.test", "A@B.TEST"};  // the second one is there already
    edit.edit->remove_recipients = {"gone@b.test"};
    std::vector<std::string> seen;
    Pipeline p({entry(std::make_shared<Scripted>("editor", edit, nullptr), 1),
                entry(std::make_shared<Observer>(&seen), 2)});
    AgentSession s;
    FakeSink sink;
    Envelope env;
    env.sender = "old@example.org";
    env.recipients = {"a@b.test", "gone@b.test"};
    const std::vector<std::string> original{"Subject: hi\r\n\r\nbody\r\n"};
    env.message = &original;
    auto d = p.run(AgentEvent::OnEndOfData, s, env, &sink);
    CHECK_FALSE(d.reply);
    REQUIRE(seen.size() == 1);
    CHECK(seen[0] == "new@example.org -> a@b.test added@b.test | X-Scanned: yes\r\nSubject: hi\r\n\r\nbody\r\n");
    REQUIRE(s.changes.any());
    REQUIRE(s.changes.recipients);
    CHECK(*s.changes.recipients == std::vector<std::string>{"a@b.test", "added@b.test"});
    CHECK(s.changes.sender == std::optional<std::string>("new@example.org"));
    REQUIRE(sink.lines.size() == 1);  // a Continue that changes the message is logged
    CHECK(sink.lines[0].agent == "editor");

    // Applied again (gather_async, then run): nothing more changes.
    Envelope view = env;
    apply_edit(s.changes, *edit.edit, view);
    CHECK(*s.changes.recipients == std::vector<std::string>{"a@b.test", "added@b.test"});

    // A redirect keeps whom the message was for; later additions go nowhere else.
    MessageEdit quarantine;
    quarantine.redirect_to = "quarantine@corp.test";
    apply_edit(s.changes, quarantine, view);
    CHECK(*s.changes.recipients == std::vector<std::string>{"quarantine@corp.test"});
    CHECK(s.changes.original_recipients == std::vector<std::string>{"a@b.test", "added@b.test"});
    CHECK(view.recipients == std::vector<std::string>{"quarantine@corp.test"});

    s.new_message();
    CHECK_FALSE(s.changes.any());
}
