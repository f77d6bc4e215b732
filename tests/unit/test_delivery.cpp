// Delivery through its seams: the scheduler, next-hop resolution and the outcome
// reporter against a fake queue store, a fake DNS and a fake next hop. No sockets, no
// sleeps: the store runs inline on the I/O thread, the queue clock is a variable, and
// every test runs an io_context until nothing is left to do.
#include "next_hop.hpp"
#include "next_hop_connector.hpp"
#include "outcome_reporter.hpp"
#include "queue_store.hpp"
#include "scheduler.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace edge;
using namespace edge::send;
namespace asio = boost::asio;
using queue::QueueId;

namespace {

// Tuesday 2024-03-05 10:00:00 UTC.
const queue::Timestamp kStart = std::chrono::time_point_cast<std::chrono::microseconds>(
    std::chrono::sys_days{std::chrono::year{2024} / 3 / 5} + std::chrono::hours(10));

asio::ip::address ip(const char* text) { return asio::ip::make_address(text); }

// ---------------------------------------------------------------- the fake queue store
struct FakeStore final : QueueStore {
    struct Deferral {
        std::string queue;
        queue::Timestamp next_retry;
        std::string error;
        std::vector<queue::MessageId> leases;
    };
    std::map<std::string, std::vector<queue::LeasedMessage>> ready;  // by next hop, arrival order
    std::map<queue::MessageId, std::string> contents;
    std::vector<queue::DeliveryReport> reports;
    std::vector<Deferral> deferrals;
    std::vector<queue::MessageId> released;
    std::vector<std::string> connected;  // mark_queue_connected, by next hop
    std::optional<queue::Timestamp> retry_due;
    std::vector<queue::Timestamp> promoted_at;

    queue::MessageId add(const std::string& next_hop, queue::Envelope envelope, std::string content = "Subject: x\r\n\r\nbody\r\n") {
        queue::LeasedMessage m;
        m.id = next_id++;
        m.queue = QueueId::next_hop_domain(next_hop);
        for (std::size_t i = 0; i < envelope.recipients.size(); ++i) m.recipients.push_back(i);
        m.envelope = std::move(envelope);
        ready[next_hop].push_back(m);
        contents[m.id] = std::move(content);
        return m.id;
    }

    std::optional<queue::Timestamp> next_retry_due() const override { return retry_due; }
    queue::Result<std::vector<QueueId>> promote_due(queue::Timestamp now) override {
        promoted_at.push_back(now);
        retry_due.reset();
        return std::vector<QueueId>{};
    }
    std::vector<QueueId> ready_queues() const override {
        std::vector<QueueId> out;
        for (const auto& [hop, msgs] : ready)
            if (!msgs.empty()) out.push_back(QueueId::next_hop_domain(hop));
        return out;
    }
    queue::Result<std::size_t> resubmit(const QueueId&, const queue::QueueDb::Reroute&) override { return std::size_t{0}; }
    queue::Result<std::vector<queue::LeasedMessage>> lease_for_delivery(const QueueId& q, std::size_t max) override {
        auto& list = ready[q.next_hop];
        std::size_t n = std::min(max, list.size());
        std::vector<queue::LeasedMessage> out(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(n));
        list.erase(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(n));
        return out;
    }
    std::optional<std::string> export_message(queue::MessageId id) const override {
        auto it = contents.find(id);
        if (it == contents.end()) return std::nullopt;
        return it->second;
    }
    void record_delivery_async(queue::DeliveryReport report, std::function<void(std::error_code)> done) override {
        reports.push_back(std::move(report));
        done({});
    }
    queue::Status release_lease(queue::MessageId id, const QueueId&) override {
        released.push_back(id);
        return queue::Done{};
    }
    queue::Status defer_queue(const QueueId& q, queue::Timestamp next_retry, std::string error, const queue::NdrBuilder&,
                              const std::vector<queue::MessageId>* only) override {
        deferrals.push_back({q.next_hop, next_retry, std::move(error), only ? *only : std::vector<queue::MessageId>{}});
        return queue::Done{};
    }
    queue::Status mark_queue_connected(const QueueId& q) override {
        connected.push_back(q.next_hop);
        return queue::Done{};
    }
    std::optional<queue::Timestamp> next_ndr_hold_due() const override { return std::nullopt; }
    queue::Result<std::size_t> send_held_ndrs(queue::Timestamp, const queue::NdrBuilder&) override { return std::size_t{0}; }
    std::vector<queue::MessageInfo> pending_ndr_removals() const override { return {}; }
    std::size_t ndr_removals_in_delivery() const override { return 0; }
    queue::Status complete_removal(queue::MessageId, std::optional<queue::NewMessage>) override { return queue::Done{}; }

    queue::MessageId next_id = 1;
};

// ---------------------------------------------------------------- the fake DNS
struct FakeDns final : NextHopDns {
    std::map<std::string, MxResult> mx;
    std::map<std::string, AddressResult> addresses;
    std::vector<std::string> asked;

    asio::awaitable<MxResult> resolve_mx(std::string domain, bool) override {
        asked.push_back("MX " + domain);
        auto it = mx.find(domain);
        if (it == mx.end()) co_return MxResult{DnsStatus::NoSuchDomain, {}, "", false};
        co_return it->second;
    }
    asio::awaitable<AddressResult> resolve_address(std::string host, bool) override {
        asked.push_back("A " + host);
        auto it = addresses.find(host);
        if (it != addresses.end()) co_return it->second;
        boost::system::error_code ec;
        std::string bare = host.size() > 2 && host.front() == '[' ? host.substr(1, host.size() - 2) : host;
        auto a = asio::ip::make_address(bare, ec);
        if (!ec) co_return AddressResult{DnsStatus::Ok, {a}, ""};
        co_return AddressResult{DnsStatus::NoSuchDomain, {}, host + ": no such host"};
    }
};

// ---------------------------------------------------------------- the fake next hop
struct FakeConnector;

struct FakeConnection final : OutboundConnection {
    FakeConnection(FakeConnector& c, std::string host) : c_(c), host_(std::move(host)) {}
    ~FakeConnection() override;
    bool usable() const override { return !closed_; }
    std::uint32_t messages_sent() const override { return sent_; }
    asio::awaitable<std::vector<smtp::RecipientOutcome>> send(const smtp::OutboundMessage& m) override;
    bool peer_takes_dsn() const override;
    const std::string& remote_host() const override { return host_; }
    std::string session_id() const override { return "08D0000000000001"; }
    asio::awaitable<void> quit() override {
        close();
        co_return;
    }
    void close();

    FakeConnector& c_;
    std::string host_;
    std::uint32_t sent_ = 0;
    bool closed_ = false;
};

struct FakeConnector final : NextHopConnector {
    // How the peer answers: refuse this many connections first; then every recipient gets `result`.
    int refuse = 0;
    smtp::RecipientResult result = smtp::RecipientResult::Delivered;
    std::string response = "250 2.0.0 OK queued";
    std::string status = "2.0.0";
    bool dsn = true;
    // What happened.
    std::vector<std::vector<std::string>> connects;  // per connect: the hosts of the target, in order
    std::vector<std::uint32_t> sent_per_connection;  // per closed connection
    int open = 0, max_open = 0;

    asio::awaitable<ConnectResult> connect(const SendConfig&, const Target& t) override {
        std::vector<std::string> hosts;
        for (const auto& a : connection_attempts(t, source_address(*t.connector))) hosts.push_back(a.host->name);
        connects.push_back(hosts);
        // Another worker may run meanwhile, as it would while a real connect waits.
        co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
        if (refuse > 0) {
            --refuse;
            co_return ConnectResult{nullptr, "451 4.4.0 Failed to connect to " + hosts.front() + ": refused"};
        }
        ++open;
        max_open = std::max(max_open, open);
        co_return ConnectResult{std::make_unique<FakeConnection>(*this, hosts.front()), ""};
    }
};

FakeConnection::~FakeConnection() { close(); }
void FakeConnection::close() {
    if (closed_) return;
    closed_ = true;
    --c_.open;
    c_.sent_per_connection.push_back(sent_);
}
bool FakeConnection::peer_takes_dsn() const { return c_.dsn; }
asio::awaitable<std::vector<smtp::RecipientOutcome>> FakeConnection::send(const smtp::OutboundMessage& m) {
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    ++sent_;
    std::vector<smtp::RecipientOutcome> out;
    for (const auto& r : m.recipients) out.push_back({r.index, c_.result, c_.response, c_.status});
    co_return out;
}

// ---------------------------------------------------------------- configuration
SendConnector connector(std::string name, std::vector<std::string> spaces) {
    SendConnector c;
    c.name = std::move(name);
    for (const auto& s : spaces) c.address_spaces.push_back(*routing::AddressSpace::parse(s));
    c.fqdn = "edge.contoso.com";
    return c;
}

std::shared_ptr<SendConfig> make_config(std::vector<SendConnector> connectors, DeliverySettings settings = {}) {
    auto cfg = std::make_shared<SendConfig>();
    cfg->server_fqdn = "edge.contoso.com";
    cfg->connectors = std::move(connectors);
    std::vector<routing::SendConnectorRoute> routes;
    for (const auto& c : cfg->connectors) {
        routing::SendConnectorRoute r;
        r.name = c.name;
        r.enabled = c.enabled;
        r.address_spaces = c.address_spaces;
        r.dns_routing_enabled = c.dns_routing_enabled;
        r.smart_hosts = c.smart_hosts;
        r.max_message_size = c.max_message_size;
        routes.push_back(std::move(r));
    }
    cfg->categorizer = std::make_shared<routing::Categorizer>(routing::AcceptedDomainTable(std::vector<routing::AcceptedDomain>{}), std::move(routes));
    cfg->settings = std::move(settings);
    return cfg;
}

// One Send connector to the internet: DNS routing for every domain.
std::shared_ptr<SendConfig> internet_config(DeliverySettings settings = {}, std::uint32_t per_connection = 20) {
    auto c = connector("ToInternet", {"SMTP:*;1"});
    c.max_messages_per_connection = per_connection;
    return make_config({c}, std::move(settings));
}

queue::Envelope envelope(std::vector<std::string> recipients, queue::Timestamp now = kStart) {
    queue::Envelope e;
    e.sender = "carol@example.org";
    for (auto& r : recipients) {
        queue::Recipient rcpt;
        rcpt.address = std::move(r);
        e.recipients.push_back(std::move(rcpt));
    }
    e.arrival_time = now - std::chrono::minutes(5);
    e.expiration_time = e.arrival_time + std::chrono::hours(48);
    e.internet_message_id = "<orig@example.org>";
    e.subject = "Hello";
    return e;
}

MxResult mx(std::vector<MxHost> hosts) { return MxResult{DnsStatus::Ok, std::move(hosts), "", false}; }

// Delivery wired to the fakes, on a queue clock the test sets.
struct Rig {
    asio::io_context io;
    FakeStore store;
    FakeDns dns;
    FakeConnector peer;
    queue::Timestamp now = kStart;
    std::vector<std::string> said;
    DeliveryContext ctx{io, store, nullptr, [this] { return now; }, [this](const std::string& s) { said.push_back(s); }};
    OutcomeReporter reporter{ctx, nullptr};
    Scheduler scheduler{ctx, dns, peer, reporter};

    Rig() { dns.mx["fabrikam.example"] = mx({{"mx1.fabrikam.example", 10, {ip("198.51.100.1")}, false}}); }

    // One look of the scheduler, and everything it started, to the end.
    void look() {
        asio::co_spawn(io, scheduler.look(), asio::detached);
        io.run();
        io.restart();
    }
    void apply(std::shared_ptr<const SendConfig> cfg) {
        scheduler.apply(std::move(cfg));
        io.run();  // the Unreachable queue's resubmit
        io.restart();
    }
};

template <class T>
T run_awaitable(asio::io_context& io, asio::awaitable<T> a) {
    std::optional<T> out;
    asio::co_spawn(io, std::move(a), [&](std::exception_ptr e, T v) {
        if (e) std::rethrow_exception(e);
        out = std::move(v);
    });
    io.run();
    io.restart();
    REQUIRE(out.has_value());
    return std::move(*out);
}

}  // namespace

// ================================================================ the retry schedule
TEST_CASE("the connection retry schedule is QueueGlitchRetryCount glitches, then TransientFailureRetryCount, then OutboundConnectionFailureRetryInterval",
          "[delivery][retry]") {
    DeliverySettings s;  // Exchange 2007's defaults: 4 × 1 min, 6 × 10 min, then 30 min
    std::vector<std::chrono::seconds> got;
    for (std::uint32_t n = 1; n <= 12; ++n) got.push_back(s.connection_retry_interval(n));
    using std::chrono::seconds;
    std::vector<seconds> want{seconds(60),  seconds(60),  seconds(60),  seconds(60),  seconds(600),  seconds(600),
                              seconds(600), seconds(600), seconds(600), seconds(600), seconds(1800), seconds(1800)};
    CHECK(got == want);

    s.glitch_retry_count = 1;
    s.glitch_retry_interval = seconds(15);
    s.transient_retry_count = 2;
    s.transient_retry_interval = seconds(300);
    s.connection_failure_retry_interval = seconds(3600);
    CHECK(s.connection_retry_interval(1) == seconds(15));
    CHECK(s.connection_retry_interval(2) == seconds(300));
    CHECK(s.connection_retry_interval(3) == seconds(300));
    CHECK(s.connection_retry_interval(4) == seconds(3600));
}

TEST_CASE("a next hop that refuses every connection is deferred on the glitch, transient and outbound-failure intervals in turn",
          "[delivery][retry]") {
    Rig rig;
    DeliverySettings s;
    s.glitch_retry_count = 2;
    s.glitch_retry_interval = std::chrono::seconds(60);
    s.transient_retry_count = 1;
    s.transient_retry_interval = std::chrono::seconds(600);
    s.connection_failure_retry_interval = std::chrono::seconds(1800);
    rig.apply(internet_config(s));
    rig.peer.refuse = 1000;
    auto id = rig.store.add("fabrikam.example", envelope({"bob@fabrikam.example"}));

    std::vector<std::chrono::seconds> waits;
    for (int attempt = 0; attempt < 5; ++attempt) {
        rig.look();
        REQUIRE(rig.store.deferrals.size() == static_cast<std::size_t>(attempt + 1));
        const auto& d = rig.store.deferrals.back();
        CHECK(d.queue == "fabrikam.example");
        CHECK(d.error.starts_with("451 4.4.0 Failed to connect to mx1.fabrikam.example"));
        CHECK(d.leases == std::vector<queue::MessageId>{id});  // only this connection's lease returns
        waits.push_back(std::chrono::duration_cast<std::chrono::seconds>(d.next_retry - rig.now));
        // The retry comes: the message is Ready again.
        rig.now = d.next_retry;
        rig.store.add("fabrikam.example", envelope({"bob@fabrikam.example"}));
        rig.store.ready["fabrikam.example"].back().id = id;
    }
    using std::chrono::seconds;
    CHECK(waits == std::vector<seconds>{seconds(60), seconds(60), seconds(600), seconds(1800), seconds(1800)});
    CHECK(rig.scheduler.failures_of("fabrikam.example") == 5);
    CHECK(rig.store.reports.empty());  // nothing was attempted, nothing reported

    // A connection that works ends the run of failures: the next failure is a glitch again.
    rig.peer.refuse = 0;
    rig.look();
    CHECK(rig.store.reports.size() == 1);
    CHECK(rig.scheduler.failures_of("fabrikam.example") == 0);
    CHECK(rig.store.connected == std::vector<std::string>{"fabrikam.example"});  // LastError cleared
}

TEST_CASE("what is due in the retry index is promoted before the scheduler looks for ready queues", "[delivery][retry]") {
    Rig rig;
    rig.apply(internet_config());
    rig.store.retry_due = rig.now - std::chrono::seconds(1);
    rig.look();
    CHECK(rig.store.promoted_at == std::vector<queue::Timestamp>{kStart});
    rig.store.retry_due = rig.now + std::chrono::seconds(1);  // not yet
    rig.look();
    CHECK(rig.store.promoted_at.size() == 1);
}

TEST_CASE("a message past MessageExpirationTimeout fails with 4.4.7 and no connection is made", "[delivery][retry]") {
    Rig rig;
    rig.apply(internet_config());
    auto e = envelope({"bob@fabrikam.example"});
    e.expiration_time = rig.now;  // expires now
    rig.store.add("fabrikam.example", e);
    rig.look();
    CHECK(rig.peer.connects.empty());
    REQUIRE(rig.store.reports.size() == 1);
    const auto& o = rig.store.reports[0].outcomes.at(0);
    CHECK(o.kind == queue::RecipientOutcome::Kind::Failed);
    CHECK(o.status == "4.4.7");
    CHECK(o.response == "550 4.4.7 QUEUE.Expired; message expired");
    CHECK(rig.store.reports[0].ndr);  // queue-db makes the message's one NDR
}

TEST_CASE("decide_locally: expiry, the winning connector's MaxMessageSize, a permanent target", "[delivery]") {
    auto cfg = internet_config();
    Target t;
    t.kind = Target::Kind::Hosts;
    t.connector = &cfg->connectors[0];
    queue::LeasedMessage m;
    m.envelope = envelope({"bob@fabrikam.example"});
    CHECK_FALSE(decide_locally(t, m, 1000, kStart));
    CHECK(decide_locally(t, m, 1000, m.envelope.expiration_time)->status == "4.4.7");

    SendConnector small = cfg->connectors[0];
    small.max_message_size = 999;
    t.connector = &small;
    auto big = decide_locally(t, m, 1000, kStart);
    REQUIRE(big);
    CHECK(big->status == "5.3.4");
    CHECK(big->text == "552 5.3.4 Message size 1000 exceeds the MaxMessageSize 999 of Send connector ToInternet");
    CHECK_FALSE(decide_locally(t, m, 999, kStart));

    t.kind = Target::Kind::Permanent;
    t.status = "5.1.10";
    t.error = "556 5.1.10 fabrikam.example does not accept mail (null MX, RFC 7505)";
    CHECK(decide_locally(t, m, 10, kStart)->status == "5.1.10");
}

TEST_CASE("decide_locally: Set-TransportConfig -MaxSendSize refuses a larger message with 5.3.4 before any connector",
          "[delivery]") {
    auto cfg = internet_config();
    Target t;
    t.kind = Target::Kind::Hosts;
    t.connector = &cfg->connectors[0];
    queue::LeasedMessage m;
    m.envelope = envelope({"bob@fabrikam.example"});
    CHECK_FALSE(decide_locally(t, m, 1000, kStart, 1000));
    auto big = decide_locally(t, m, 1001, kStart, 1000);
    REQUIRE(big);
    CHECK(big->status == "5.3.4");
    CHECK(big->text == "552 5.3.4 Message size 1001 exceeds the organization's MaxSendSize 1000 (Set-TransportConfig)");
    CHECK_FALSE(decide_locally(t, m, 1u << 30, kStart, 0));  // 0: unlimited
}

TEST_CASE("GenerateCopyOfDSNFor: an NDR with a listed status is copied to ExternalPostmasterAddress, when set",
          "[delivery][dsn]") {
    DeliverySettings s;
    s.postmaster = "postmaster@contoso.example";
    s.copy_dsn_codes = {"5.4.4", "5.3.4"};
    auto cfg = internet_config(s);
    const auto e = envelope({"bob@fabrikam.example"});
    auto copied_to = [&](const SendConfig& c, std::string status) {
        auto ndr = make_dsn(c, DsnKind::Failure, e, "Subject: hi\r\n\r\nbody\r\n", {{0, std::move(status), "", ""}}, kStart);
        REQUIRE(ndr);
        std::vector<std::string> to;
        for (const auto& r : ndr->envelope.recipients) to.push_back(r.address);
        return to;
    };
    // Without an ExternalPostmasterAddress nothing is copied (the sender alone gets it).
    CHECK(copied_to(*cfg, "5.4.4") == std::vector<std::string>{"carol@example.org"});
    cfg->settings.external_postmaster = "postmaster@contoso.example";
    CHECK(copied_to(*cfg, "5.4.4") == std::vector<std::string>{"carol@example.org", "postmaster@contoso.example"});
    CHECK(copied_to(*cfg, "5.1.1") == std::vector<std::string>{"carol@example.org"});
    // SendCopyOfNdrTo copies every NDR, to its own address.
    cfg->settings.ndr_copy_to = "audit@contoso.example";
    CHECK(copied_to(*cfg, "5.1.1") == std::vector<std::string>{"carol@example.org", "audit@contoso.example"});
}

// ================================================================ next-hop resolution
TEST_CASE("MX hosts are tried by preference as DNS gave them, every address of each, then the next MX", "[delivery][next hop]") {
    asio::io_context io;
    FakeDns dns;
    auto cfg = internet_config();
    dns.mx["fabrikam.example"] =
        mx({{"mx1.fabrikam.example", 10, {ip("198.51.100.1"), ip("2001:db8::1")}, false},
            {"mx2.fabrikam.example", 20, {ip("198.51.100.2")}, false}});
    Target t = run_awaitable(io, resolve_target(*cfg, "fabrikam.example", dns, {}));
    REQUIRE(t.kind == Target::Kind::Hosts);
    CHECK(t.connector == &cfg->connectors[0]);

    std::vector<std::string> order;
    for (const auto& a : connection_attempts(t, std::nullopt)) order.push_back(a.host->name + " " + a.address.to_string());
    CHECK(order == std::vector<std::string>{"mx1.fabrikam.example 198.51.100.1", "mx1.fabrikam.example 2001:db8::1",
                                            "mx2.fabrikam.example 198.51.100.2"});
    // A SourceIPAddress binds the connection to one family: the other family's addresses are skipped.
    order.clear();
    for (const auto& a : connection_attempts(t, ip("192.0.2.5"))) order.push_back(a.address.to_string());
    CHECK(order == std::vector<std::string>{"198.51.100.1", "198.51.100.2"});
    order.clear();
    for (const auto& a : connection_attempts(t, ip("2001:db8::5"))) order.push_back(a.address.to_string());
    CHECK(order == std::vector<std::string>{"2001:db8::1"});
}

TEST_CASE("SourceIPAddress 0.0.0.0 lets the system choose, and an address binds", "[delivery][next hop]") {
    auto c = connector("ToInternet", {"SMTP:*;1"});
    CHECK_FALSE(source_address(c));
    c.source_ip = "192.0.2.5";
    CHECK(source_address(c) == ip("192.0.2.5"));
}

TEST_CASE("a domain without MX is the implicit A/AAAA host, and null MX, NXDOMAIN and a DNS failure decide the target",
          "[delivery][next hop]") {
    asio::io_context io;
    FakeDns dns;
    auto cfg = internet_config();
    dns.mx["implicit.example"] = mx({{"implicit.example", 0, {ip("198.51.100.7")}, true}});
    dns.mx["nullmx.example"] = MxResult{DnsStatus::NullMx, {}, "", false};
    dns.mx["broken.example"] = MxResult{DnsStatus::Transient, {}, "DNS query for MX broken.example timed out (127.0.0.1:53)", false};

    Target t = run_awaitable(io, resolve_target(*cfg, "implicit.example", dns, {}));
    REQUIRE(t.kind == Target::Kind::Hosts);
    REQUIRE(t.hosts.size() == 1);
    CHECK(t.hosts[0].name == "implicit.example");

    t = run_awaitable(io, resolve_target(*cfg, "nullmx.example", dns, {}));
    CHECK(t.kind == Target::Kind::Permanent);
    CHECK(t.status == "5.1.10");

    t = run_awaitable(io, resolve_target(*cfg, "nosuch.example", dns, {}));
    CHECK(t.kind == Target::Kind::Permanent);
    CHECK(t.status == "5.4.4");
    CHECK(t.error == "550 5.4.4 SMTPSEND.DNS.NonExistentDomain; nonexistent domain nosuch.example");

    t = run_awaitable(io, resolve_target(*cfg, "broken.example", dns, {}));
    CHECK(t.kind == Target::Kind::Transient);
    CHECK(t.error == "451 4.4.0 DNS query failed: DNS query for MX broken.example timed out (127.0.0.1:53)");
}

TEST_CASE("an internet-bound connector skips MX hosts at internal and private addresses and keeps the rest in order",
          "[delivery][next hop]") {
    asio::io_context io;
    FakeDns dns;
    auto cfg = internet_config();
    dns.mx["fabrikam.example"] = mx({{"mx1.fabrikam.example", 10, {ip("127.0.0.1")}, false},
                                     {"mx2.fabrikam.example", 20, {ip("10.0.0.5"), ip("198.51.100.2")}, false},
                                     {"mx3.fabrikam.example", 30, {ip("198.51.100.3")}, false}});
    std::vector<std::string> said;
    Target t = run_awaitable(io, resolve_target(*cfg, "fabrikam.example", dns, [&](const std::string& s) { said.push_back(s); }));
    REQUIRE(t.kind == Target::Kind::Hosts);
    std::vector<std::string> order;
    for (const auto& a : connection_attempts(t, std::nullopt)) order.push_back(a.host->name + " " + a.address.to_string());
    CHECK(order == std::vector<std::string>{"mx2.fabrikam.example 198.51.100.2", "mx3.fabrikam.example 198.51.100.3"});
    REQUIRE(said.size() == 1);
    CHECK_THAT(said[0], Catch::Contains("AllowPrivateTargetAddresses is $false"));

    // Nothing usable left: the queue waits (Transient), never an NDR a setting could have saved.
    dns.mx["fabrikam.example"] = mx({{"mx1.fabrikam.example", 10, {ip("127.0.0.1")}, false}});
    t = run_awaitable(io, resolve_target(*cfg, "fabrikam.example", dns, {}));
    CHECK(t.kind == Target::Kind::Transient);
    CHECK_THAT(t.error, Catch::StartsWith("451 4.4.0 not connecting to mx1.fabrikam.example"));
}

TEST_CASE("MX hosts at or above our own preference are dropped, and being the best MX is a 5.4.6 loop (RFC 5321 5.1)",
          "[delivery][next hop][mx loop]") {
    asio::io_context io;
    FakeDns dns;
    auto cfg = internet_config();
    cfg->local.names = {"edge.contoso.com", "mail.contoso.com"};
    dns.mx["fabrikam.example"] = mx({{"mx1.fabrikam.example", 10, {ip("198.51.100.1")}, false},
                                     {"MAIL.contoso.com", 20, {ip("198.51.100.2")}, false},
                                     {"mx3.fabrikam.example", 20, {ip("198.51.100.3")}, false},
                                     {"mx4.fabrikam.example", 30, {ip("198.51.100.4")}, false}});
    std::vector<std::string> said;
    Target t = run_awaitable(io, resolve_target(*cfg, "fabrikam.example", dns, [&](const std::string& s) { said.push_back(s); }));
    REQUIRE(t.kind == Target::Kind::Hosts);
    REQUIRE(t.hosts.size() == 1);  // an equal preference goes too: only better hosts are left
    CHECK(t.hosts[0].name == "mx1.fabrikam.example");
    REQUIRE(said.size() == 1);
    CHECK_THAT(said[0], Catch::Contains("MAIL.contoso.com is this server"));

    // We are the best MX: nothing is left, a permanent failure, not a retry storm into ourselves.
    dns.mx["loop.example"] = mx({{"edge.contoso.com", 10, {ip("198.51.100.9")}, false},
                                 {"backup.loop.example", 20, {ip("198.51.100.10")}, false}});
    t = run_awaitable(io, resolve_target(*cfg, "loop.example", dns, {}));
    CHECK(t.kind == Target::Kind::Permanent);
    CHECK(t.status == "5.4.6");
    CHECK_THAT(t.error, Catch::StartsWith("554 5.4.6 SMTPSEND.DNS.MxLoopback; DNS records for loop.example are configured in a loop"));
    // The implicit MX (no MX records: the domain's own address) counts as preference 0.
    dns.mx["edge.contoso.com"] = mx({{"edge.contoso.com", 0, {ip("198.51.100.9")}, true}});
    t = run_awaitable(io, resolve_target(*cfg, "edge.contoso.com", dns, {}));
    CHECK(t.status == "5.4.6");
}

TEST_CASE("an MX address is us when one of our bindings listens on it at the Send connector's Port", "[delivery][next hop][mx loop]") {
    asio::io_context io;
    FakeDns dns;
    auto c = connector("ToInternet", {"SMTP:*;1"});
    c.allow_private_target_addresses = true;  // loopback peers, as the integration tests have
    c.port = 2626;
    auto cfg = make_config({c});
    cfg->local.bindings = {*routing::Binding::parse("127.0.0.1:2525"), *routing::Binding::parse("0.0.0.0:25")};
    cfg->local.interface_addresses = {ip("192.0.2.77")};
    dns.mx["peer.example"] = mx({{"mx.peer.example", 10, {ip("127.0.0.1")}, false}});
    // 127.0.0.1 at the connector's port 2626: a peer on loopback, not our 127.0.0.1:2525.
    Target t = run_awaitable(io, resolve_target(*cfg, "peer.example", dns, {}));
    CHECK(t.kind == Target::Kind::Hosts);

    cfg->connectors[0].port = 2525;  // now the MX is where we listen
    t = run_awaitable(io, resolve_target(*cfg, "peer.example", dns, {}));
    CHECK(t.kind == Target::Kind::Permanent);
    CHECK(t.status == "5.4.6");

    // A wildcard binding (0.0.0.0:25) listens on this host's addresses and loopback, not on others.
    cfg->connectors[0].port = 25;
    for (const char* a : {"192.0.2.77", "127.0.0.5", "::ffff:192.0.2.77"}) {
        INFO(a);
        dns.mx["wild.example"] = mx({{"mx.wild.example", 10, {ip(a)}, false}});
        t = run_awaitable(io, resolve_target(*cfg, "wild.example", dns, {}));
        CHECK(t.status == "5.4.6");
    }
    dns.mx["wild.example"] = mx({{"mx.wild.example", 10, {ip("198.51.100.20")}, false}});
    t = run_awaitable(io, resolve_target(*cfg, "wild.example", dns, {}));
    CHECK(t.kind == Target::Kind::Hosts);
    // The rule itself, without DNS.
    const MxHost ours{"x.example", 5, {ip("192.0.2.77")}, false};
    CHECK(cfg->local.is_us(ours, 25));
    CHECK_FALSE(cfg->local.is_us(ours, 587));
    CHECK_FALSE(local_interface_addresses().empty());  // at least loopback
}

TEST_CASE("a smart-host connector serves the queue named after it: addresses as given, names looked up", "[delivery][next hop]") {
    asio::io_context io;
    FakeDns dns;
    auto hub = connector("ToHub", {"SMTP:contoso.com;1"});
    hub.dns_routing_enabled = false;
    hub.smart_hosts = {"[192.0.2.10]", "hub2.contoso.com"};
    auto cfg = make_config({hub});
    dns.addresses["hub2.contoso.com"] = AddressResult{DnsStatus::Ok, {ip("10.1.1.2")}, ""};  // private: an internal relay
    Target t = run_awaitable(io, resolve_target(*cfg, "tohub", dns, {}));
    REQUIRE(t.kind == Target::Kind::Hosts);
    CHECK(t.connector == &cfg->connectors[0]);
    REQUIRE(t.hosts.size() == 2);
    CHECK(t.hosts[0].name == "[192.0.2.10]");
    CHECK(t.hosts[1].name == "hub2.contoso.com");
    CHECK(t.hosts[1].addresses == std::vector<asio::ip::address>{ip("10.1.1.2")});
}

TEST_CASE("a next-hop queue the configuration no longer routes there is Moved", "[delivery][next hop]") {
    asio::io_context io;
    FakeDns dns;
    auto hub = connector("ToHub", {"SMTP:contoso.com;1"});
    hub.dns_routing_enabled = false;
    hub.smart_hosts = {"[192.0.2.10]"};
    auto cfg = make_config({hub});
    // fabrikam.example has no connector at all now.
    Target t = run_awaitable(io, resolve_target(*cfg, "fabrikam.example", dns, {}));
    CHECK(t.kind == Target::Kind::Moved);
    CHECK(dns.asked.empty());
}

// ================================================================ connections
TEST_CASE("SmtpMaxMessagesPerConnection: a connection sends at most that many messages, then a new one opens",
          "[delivery][connections]") {
    Rig rig;
    DeliverySettings s;
    s.max_per_domain_connections = 1;
    rig.apply(internet_config(s, 2));
    for (int i = 0; i < 5; ++i) rig.store.add("fabrikam.example", envelope({"bob@fabrikam.example"}));
    rig.look();
    CHECK(rig.store.reports.size() == 5);
    CHECK(rig.peer.connects.size() == 3);
    CHECK(rig.peer.sent_per_connection == std::vector<std::uint32_t>{2, 2, 1});
    CHECK(rig.scheduler.active_connections() == 0);
}

TEST_CASE("MaxPerDomainOutboundConnections bounds the connections to one next hop", "[delivery][connections]") {
    for (std::uint32_t limit : {1u, 2u, 3u}) {
        Rig rig;
        DeliverySettings s;
        s.max_per_domain_connections = limit;
        rig.apply(internet_config(s));
        // Enough for five full lease batches: each full batch asks for one more connection.
        for (int i = 0; i < 100; ++i) rig.store.add("fabrikam.example", envelope({"bob@fabrikam.example"}));
        rig.look();
        INFO("MaxPerDomainOutboundConnections " << limit);
        CHECK(rig.store.reports.size() == 100);
        CHECK(rig.peer.max_open == static_cast<int>(limit));
        CHECK(rig.scheduler.connections_to("fabrikam.example") == 0);
    }
}

TEST_CASE("MaxOutboundConnections bounds the connections to all next hops together", "[delivery][connections]") {
    Rig rig;
    DeliverySettings s;
    s.max_per_domain_connections = 0;  // unlimited per domain
    s.max_outbound_connections = 2;
    rig.apply(internet_config(s));
    for (const char* d : {"a.example", "b.example", "c.example", "d.example"}) {
        rig.dns.mx[d] = mx({{std::string("mx.") + d, 10, {ip("198.51.100.9")}, false}});
        for (int i = 0; i < 3; ++i) rig.store.add(d, envelope({std::string("u@") + d}));
    }
    rig.look();
    CHECK(rig.peer.max_open == 2);
    // The queues that found no room wait for the next look.
    CHECK(rig.store.reports.size() == 6);
    rig.look();
    CHECK(rig.store.reports.size() == 12);
    CHECK(rig.peer.max_open == 2);
}

TEST_CASE("a peer's per-recipient answers become the report's outcomes", "[delivery][connections]") {
    Rig rig;
    rig.apply(internet_config());
    rig.peer.result = smtp::RecipientResult::Deferred;
    rig.peer.response = "451 4.3.0 try later";
    rig.peer.status = "4.3.0";
    rig.store.add("fabrikam.example", envelope({"bob@fabrikam.example", "eve@fabrikam.example"}));
    rig.look();
    REQUIRE(rig.store.reports.size() == 1);
    const auto& r = rig.store.reports[0];
    REQUIRE(r.outcomes.size() == 2);
    CHECK(r.outcomes[0].kind == queue::RecipientOutcome::Kind::Deferred);
    CHECK(r.outcomes[1].response == "451 4.3.0 try later");
    // Deferred recipients wait MessageRetryInterval (5 min by default).
    CHECK(r.next_retry_time == rig.now + std::chrono::minutes(5));
    CHECK(r.dsns.empty());  // 5 minutes old: no delay notice yet
}

// ================================================================ DSN decisions
namespace {

queue::LeasedMessage leased(queue::Envelope e) {
    queue::LeasedMessage m;
    m.id = 7;
    m.queue = QueueId::next_hop_domain("fabrikam.example");
    for (std::size_t i = 0; i < e.recipients.size(); ++i) m.recipients.push_back(i);
    m.envelope = std::move(e);
    return m;
}

using Kind = queue::RecipientOutcome::Kind;
const std::string kContent = "From: carol@example.org\r\nSubject: Hello\r\n\r\nbody\r\n";

}  // namespace

TEST_CASE("a recipient deferred past DelayNotificationTimeout gets one delay notice, and only once", "[delivery][dsn]") {
    auto cfg = internet_config();
    auto e = envelope({"bob@fabrikam.example"});
    const auto now = e.arrival_time + std::chrono::hours(4);  // DelayNotificationTimeout 4:00:00
    auto plan = plan_report(*cfg, cfg, leased(e), kContent, {{0, Kind::Deferred, "451 4.4.1 timed out", "4.4.1"}}, true,
                            now, [] { return kStart; });
    REQUIRE(plan.report.dsns.size() == 1);
    CHECK(plan.report.dsns[0].envelope.sender.empty());  // DSNs come from the null sender
    CHECK(plan.report.dsns[0].envelope.recipients.at(0).address == "carol@example.org");
    CHECK(plan.report.outcomes[0].delay_notified);
    CHECK(plan.dsn_ids.size() == 1);
    CHECK(plan.any_deferred);

    // A minute earlier: none.
    plan = plan_report(*cfg, cfg, leased(e), kContent, {{0, Kind::Deferred, "451", "4.4.1"}}, true,
                       now - std::chrono::minutes(1), [] { return kStart; });
    CHECK(plan.report.dsns.empty());

    // Already notified: none again.
    e.recipients[0].delay_notified = true;
    plan = plan_report(*cfg, cfg, leased(e), kContent, {{0, Kind::Deferred, "451", "4.4.1"}}, true, now,
                       [] { return kStart; });
    CHECK(plan.report.dsns.empty());

    // ExternalDelayDsnEnabled $false: none.
    auto quiet = *cfg;
    quiet.settings.delay_dsn_enabled = false;
    e.recipients[0].delay_notified = false;
    plan = plan_report(quiet, cfg, leased(e), kContent, {{0, Kind::Deferred, "451", "4.4.1"}}, true, now,
                       [] { return kStart; });
    CHECK(plan.report.dsns.empty());
}

TEST_CASE("NOTIFY=SUCCESS makes a relay notice only when the peer does not take DSN", "[delivery][dsn]") {
    auto cfg = internet_config();
    auto e = envelope({"bob@fabrikam.example", "eve@fabrikam.example"});
    e.recipients[0].notify = queue::notify::Success;
    std::vector<Decided> both{{0, Kind::Delivered, "250 2.0.0 OK", "2.0.0"}, {1, Kind::Delivered, "250 2.0.0 OK", "2.0.0"}};
    auto plan = plan_report(*cfg, cfg, leased(e), kContent, both, false, kStart, [] { return kStart; });
    REQUIRE(plan.report.dsns.size() == 1);  // one notice, for bob only
    CHECK_FALSE(plan.any_deferred);
    CHECK_FALSE(plan.report.next_retry_time);

    plan = plan_report(*cfg, cfg, leased(e), kContent, both, true, kStart, [] { return kStart; });
    CHECK(plan.report.dsns.empty());  // the peer announced DSN: it reports success itself
}

TEST_CASE("a failed recipient makes no DSN in its report: the NdrBuilder makes the message's one NDR", "[delivery][dsn]") {
    auto cfg = internet_config();
    auto e = envelope({"bob@fabrikam.example"});
    auto plan = plan_report(*cfg, cfg, leased(e), kContent, {{0, Kind::Failed, "550 5.1.1 User unknown", "5.1.1"}}, true,
                            kStart, [] { return kStart; });
    CHECK(plan.report.dsns.empty());
    REQUIRE(plan.report.ndr);
    CHECK(plan.report.ndr_hold_until == kStart + std::chrono::minutes(10));

    // What queue-db does when the NDR is due: the builder makes it, and it is counted for tracking.
    e.recipients[0].status = queue::RecipientStatus::Failed;
    e.recipients[0].ndr_status = "5.1.1";
    e.recipients[0].last_response = "550 5.1.1 User unknown";
    auto ndr = plan.report.ndr(7, e, {0}, kContent);
    REQUIRE(ndr);
    CHECK(ndr->envelope.sender.empty());
    CHECK(ndr->envelope.recipients.at(0).address == "carol@example.org");
    CHECK(ndr->envelope.recipients.at(0).next_hop == QueueId::next_hop_domain("example.org"));
    CHECK(plan.ndrs->by_message.count(7) == 1);

    // Never a DSN to the null sender.
    e.sender.clear();
    CHECK_FALSE(plan.report.ndr(8, e, {0}, kContent));
    CHECK(plan.ndrs->by_message.count(8) == 0);
}
