// The Connection Filtering Agent's decisions (transport/agents/connection_filter.*),
// through the pipeline as the session runs it: static lists, the providers (a fake
// IpProviders), BypassedRecipients, the disconnect at DATA, the lists' configurations,
// InternalSMTPServers at the end of headers. No sockets; the io_context runs the
// coroutines, and no timer fires (the fake answers at once).
#include "connection_filter.hpp"
#include "pipeline.hpp"
#include "pipeline_async.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

using namespace edge;
using namespace edge::agents;
using edge::smtp::ReplyId;
using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

namespace {
routing::IpRange range(std::string_view s) { return *routing::IpRange::parse(s); }

const Clock::time_point kNow = Clock::time_point(std::chrono::sys_days(std::chrono::year(2026) / 12 / 7));

IpListEntry entry(std::uint64_t id, std::string_view r, bool machine = false,
                  std::optional<Clock::time_point> expires = {}) {
    IpListEntry e;
    e.identity = id;
    e.range = range(r);
    e.is_machine = machine;
    e.expiration_time = expires;
    return e;
}

// Providers that say what they are told and count the questions.
class FakeProviders final : public IpProviders {
public:
    ProviderOutcome outcome;
    std::set<std::string> bypassed;
    mutable int asked = 0;
    mutable std::string last_asked;
    bool empty() const override { return false; }
    std::chrono::milliseconds timeout() const override { return 2s; }
    bool asks_for(bool internal) const override { return !internal; }  // the configurations' defaults
    boost::asio::awaitable<ProviderOutcome> check(boost::asio::ip::address client, bool) const override {
        ++asked;
        last_asked = client.to_string();
        co_return outcome;
    }
    bool bypassed_recipient(std::string_view canonical) const override { return bypassed.count(std::string(canonical)) > 0; }
};

// An anti-spam agent after the filter, to see whether allow-listing bypassed it.
class Later final : public Agent {
public:
    mutable int ran = 0;
    std::string_view name() const override { return "Later Agent"; }
    bool handles(AgentEvent e) const override { return e == AgentEvent::OnRcptCommand; }
    Verdict on_event(AgentEvent, const SessionInfo&, const Envelope&) const override {
        ++ran;
        return Verdict::go_on();
    }
};

struct Sink : VerdictSink {
    struct Line {
        std::string event, action, response, reason, reason_data;
    };
    std::vector<Line> lines;
    void record(const VerdictRecord& r) override {
        lines.push_back({to_string(r.event), std::string(action_name(r.verdict.action, r.event)), r.smtp_response,
                         r.verdict.reason, r.verdict.reason_data});
    }
};

// The agent (and a later anti-spam agent) in a pipeline, and one session of it.
struct Harness {
    std::shared_ptr<ConnectionFilterConfig> config = std::make_shared<ConnectionFilterConfig>();
    std::shared_ptr<FakeProviders> providers;
    std::shared_ptr<Later> later = std::make_shared<Later>();
    std::shared_ptr<const Pipeline> pipeline;
    AgentSession session;
    Sink sink;
    boost::asio::io_context io;

    Harness() { config->now = [] { return kNow; }; }
    void with_providers() {
        providers = std::make_shared<FakeProviders>();
        config->providers = providers;
    }
    void start(std::string remote_ip, bool internal = false) {
        auto agent = std::make_shared<ConnectionFilterAgent>(config);
        Pipeline::Entry f;
        f.agent = agent;
        f.settings.priority = 1;
        f.settings.external_mail_enabled = agent->external_mail_enabled();
        f.settings.internal_mail_enabled = agent->internal_mail_enabled();
        Pipeline::Entry l;
        l.agent = later;
        l.settings.priority = 2;
        pipeline = std::make_shared<const Pipeline>(std::vector<Pipeline::Entry>{f, l});
        session.info.remote_ip = std::move(remote_ip);
        session.info.internal = internal;
    }
    Decision run(AgentEvent e, const Envelope& env = {}) {
        std::optional<Decision> out;
        boost::asio::co_spawn(
            io, [&]() -> boost::asio::awaitable<void> { out = co_await run_async(*pipeline, e, session, env, &sink); },
            boost::asio::detached);
        io.restart();
        io.run();
        REQUIRE(out);
        return *out;
    }
    Decision rcpt(std::string to, std::vector<std::string> accepted = {}) {
        Envelope env;
        env.sender = "s@example.org";
        env.recipient = std::move(to);
        env.recipients = std::move(accepted);
        return run(AgentEvent::OnRcptCommand, env);
    }
    Decision data(std::vector<std::string> accepted) {
        Envelope env;
        env.sender = "s@example.org";
        env.recipients = std::move(accepted);
        return run(AgentEvent::OnDataCommand, env);
    }
};
}  // namespace

TEST_CASE("a client on the IP Block List is refused 550 5.7.1 at every RCPT, then disconnected at DATA",
          "[agents][connection filter]") {
    Harness h;
    h.config->block_list = std::make_shared<IpList>(std::vector{entry(4, "192.0.2.0/24")});
    h.start("192.0.2.77");
    auto d = h.run(AgentEvent::OnConnect);
    CHECK_FALSE(d.reply);  // not at connect: Exchange waits for the recipients
    CHECK(h.session.info.properties.count(std::string(kBlockedResponseProperty)) == 1);

    d = h.rcpt("a@contoso.com");
    REQUIRE(d.reply);
    CHECK(d.reply->id == ReplyId::IpBlocked);
    CHECK(d.agent == kConnectionFilterAgent);
    CHECK(smtp::render(*d.reply) ==
          "550 5.7.1 External client with IP address 192.0.2.77 does not have permissions to submit to this server");
    CHECK(h.later->ran == 0);  // the refusal ends the event
    REQUIRE(h.sink.lines.size() == 1);  // the refusal (at connect the session only remembered)
    CHECK(h.sink.lines[0].action == "RejectCommand");
    CHECK(h.sink.lines[0].reason == "LocalBlockList");
    CHECK(h.sink.lines[0].reason_data == "IPBlockListEntry 4: 192.0.2.0/24");
    CHECK(h.sink.lines[0].response.starts_with("550 5.7.1 External client"));

    d = h.data({});
    REQUIRE(d.reply);
    CHECK(d.reply->id == ReplyId::IpBlockedDisconnect);
    CHECK(smtp::reply_entry(d.reply->id).closes);
    CHECK(h.sink.lines.back().action == "Disconnect");
}

TEST_CASE("the configured responses answer static and machine entries, and a disabled list blocks nobody",
          "[agents][connection filter]") {
    Harness h;
    h.config->block_list = std::make_shared<IpList>(std::vector{entry(1, "192.0.2.1"), entry(2, "192.0.2.2", true)});
    h.config->block_list_config.static_entry_rejection_response = "Go away";
    h.config->block_list_config.machine_entry_rejection_response = "Bad reputation";
    SECTION("static") {
        h.start("192.0.2.1");
        h.run(AgentEvent::OnConnect);
        CHECK(smtp::render(*h.rcpt("a@contoso.com").reply) == "550 5.7.1 Go away");
    }
    SECTION("machine") {
        h.start("192.0.2.2");
        h.run(AgentEvent::OnConnect);
        CHECK(smtp::render(*h.rcpt("a@contoso.com").reply) == "550 5.7.1 Bad reputation");
        CHECK(h.sink.lines.back().reason == "MachineBlockList");
    }
    SECTION("Set-IPBlockListConfig -Enabled $false") {
        h.config->block_list_config.enabled = false;
        h.start("192.0.2.1");
        h.run(AgentEvent::OnConnect);
        CHECK_FALSE(h.rcpt("a@contoso.com").reply);
        CHECK(h.later->ran == 1);
    }
    SECTION("an expired entry") {
        h.config->block_list = std::make_shared<IpList>(std::vector{entry(1, "192.0.2.1", false, kNow)});
        h.start("192.0.2.1");
        h.run(AgentEvent::OnConnect);
        CHECK_FALSE(h.rcpt("a@contoso.com").reply);
    }
}

TEST_CASE("a session with ExchangeServers or Partners rights is not filtered unless InternalMailEnabled",
          "[agents][connection filter]") {
    Harness h;
    h.config->block_list = std::make_shared<IpList>(std::vector{entry(1, "192.0.2.1")});
    SECTION("default") {
        h.start("192.0.2.1", /*internal=*/true);
        h.run(AgentEvent::OnConnect);
        CHECK_FALSE(h.rcpt("a@contoso.com").reply);
    }
    SECTION("Set-IPBlockListConfig -InternalMailEnabled $true") {
        h.config->block_list_config.internal_mail_enabled = true;
        h.start("192.0.2.1", true);
        h.run(AgentEvent::OnConnect);
        CHECK(h.rcpt("a@contoso.com").reply);
    }
}

TEST_CASE("the IP Allow List wins over the block list and bypasses the other anti-spam agents",
          "[agents][connection filter]") {
    Harness h;
    h.with_providers();
    h.providers->outcome.kind = ProviderOutcome::Kind::Blocked;
    h.config->block_list = std::make_shared<IpList>(std::vector{entry(1, "192.0.2.0/24")});
    h.config->allow_list = std::make_shared<IpList>(std::vector{entry(3, "192.0.2.5")});
    h.start("192.0.2.5");
    h.run(AgentEvent::OnConnect);
    CHECK(h.session.info.allow_listed);
    CHECK(h.providers->asked == 0);  // a static answer asks no provider
    CHECK(h.sink.lines.at(0).reason == "LocalAllowList");
    CHECK(h.sink.lines.at(0).reason_data == "IPAllowListEntry 3: 192.0.2.5");
    CHECK_FALSE(h.rcpt("a@contoso.com").reply);
    CHECK(h.later->ran == 0);
}

TEST_CASE("the providers: a block answers with the provider's response, an allow allow-lists, none goes on",
          "[agents][connection filter]") {
    Harness h;
    h.with_providers();
    SECTION("blocked") {
        h.providers->outcome.kind = ProviderOutcome::Kind::Blocked;
        h.providers->outcome.provider = "Spamhaus";
        h.providers->outcome.rejection_response = "Listed by Spamhaus";
        h.providers->outcome.reason_data = "127.0.0.2";
        h.start("::ffff:198.51.100.9");
        h.run(AgentEvent::OnConnect);
        CHECK(h.providers->last_asked == "198.51.100.9");  // IPv4 asked as IPv4
        auto d = h.rcpt("a@contoso.com");
        REQUIRE(d.reply);
        CHECK(smtp::render(*d.reply) == "550 5.7.1 Listed by Spamhaus");
        CHECK(h.sink.lines.back().reason == "BlockListProvider");
        CHECK(h.sink.lines.back().reason_data == "Spamhaus: 127.0.0.2");
    }
    SECTION("allow-listed") {
        h.providers->outcome.kind = ProviderOutcome::Kind::AllowListed;
        h.providers->outcome.provider = "dnswl";
        h.start("198.51.100.9");
        h.run(AgentEvent::OnConnect);
        CHECK(h.session.info.allow_listed);
        CHECK(h.sink.lines.at(0).reason == "AllowListProvider");
    }
    SECTION("not listed, a provider failed: logged, the session goes on") {
        h.providers->outcome.failures = {"zen.example: timed out"};
        h.start("198.51.100.9");
        h.run(AgentEvent::OnConnect);
        CHECK_FALSE(h.rcpt("a@contoso.com").reply);
        REQUIRE_FALSE(h.sink.lines.empty());
        CHECK(h.sink.lines.at(0).reason == "ProviderFailed");
    }
}

TEST_CASE("BypassedRecipients: a blocked client still reaches postmaster, and its message goes on",
          "[agents][connection filter]") {
    Harness h;
    h.with_providers();
    h.providers->bypassed = {"postmaster@contoso.com"};
    h.config->block_list = std::make_shared<IpList>(std::vector{entry(1, "192.0.2.1")});
    h.start("192.0.2.1");
    h.run(AgentEvent::OnConnect);
    CHECK_FALSE(h.rcpt("PostMaster@Contoso.com").reply);  // compared canonically
    CHECK(h.rcpt("a@contoso.com", {"PostMaster@Contoso.com"}).reply);
    CHECK_FALSE(h.data({"PostMaster@Contoso.com"}).reply);  // a bypassed recipient was accepted
}

TEST_CASE("behind InternalSMTPServers the first external Received: address is judged at the end of headers",
          "[agents][connection filter]") {
    Harness h;
    h.config->internal_smtp_servers = {range("127.0.0.2"), range("10.0.0.0/8")};
    h.config->block_list = std::make_shared<IpList>(std::vector{entry(1, "198.51.100.23"), entry(2, "127.0.0.2")});
    h.start("127.0.0.2");
    // The internal server's own address is never judged (it is on the block list here).
    CHECK_FALSE(h.run(AgentEvent::OnConnect).reply);
    CHECK_FALSE(h.rcpt("a@contoso.com").reply);
    Envelope env;
    env.recipients = {"a@contoso.com"};
    env.headers = {
        {"Received", "from relay.contoso.com (relay.contoso.com [10.1.2.3]) by edge with ESMTP"},
        {"Received", "from spam.example (spam.example [198.51.100.23]) by relay.contoso.com with ESMTP"},
    };
    auto d = h.run(AgentEvent::OnEndOfHeaders, env);
    REQUIRE(d.reply);
    CHECK(d.reply->id == ReplyId::IpBlocked);
    CHECK(h.sink.lines.back().action == "RejectMessage");
    CHECK(h.sink.lines.back().reason_data == "198.51.100.23 (IPBlockListEntry 1: 198.51.100.23)");

    // A clean origin goes on.
    env.headers[1].second = "from good.example (good.example [203.0.113.4]) by relay.contoso.com";
    CHECK_FALSE(h.run(AgentEvent::OnEndOfHeaders, env).reply);

    // A client that is not an internal server: its Received: fields are its own words, not judged.
    Harness other;
    other.config = h.config;
    other.start("203.0.113.50");
    other.run(AgentEvent::OnConnect);
    env.headers[1].second = "from spam.example (spam.example [198.51.100.23]) by relay.contoso.com with ESMTP";
    CHECK_FALSE(other.run(AgentEvent::OnEndOfHeaders, env).reply);
}

TEST_CASE("with nothing configured the agent handles no event (no timer per command, no header copy)",
          "[agents][connection filter]") {
    auto config = std::make_shared<ConnectionFilterConfig>();
    ConnectionFilterAgent idle(config);
    for (auto e : {AgentEvent::OnConnect, AgentEvent::OnRcptCommand, AgentEvent::OnDataCommand, AgentEvent::OnEndOfHeaders})
        CHECK_FALSE(idle.handles(e));
    config->block_list = std::make_shared<IpList>(std::vector{entry(1, "192.0.2.1")});
    ConnectionFilterAgent lists(config);
    CHECK(lists.handles(AgentEvent::OnConnect));
    CHECK(lists.handles(AgentEvent::OnDataCommand));
    CHECK_FALSE(lists.handles(AgentEvent::OnEndOfHeaders));
    config->internal_smtp_servers = {range("10.0.0.0/8")};
    CHECK(ConnectionFilterAgent(config).handles(AgentEvent::OnEndOfHeaders));
}
