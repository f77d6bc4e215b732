// IP Block / Allow List providers against real DNS: Debian's NSD on loopback serves a
// DNSBL (zen.test, RFC 5782 test points and 127.0.0.x clients answering .2/.4/.10), a
// weak second DNSBL, a DNSWL, and a zone no one answers for (a relay that drops its
// queries, dns_drop_relay.hpp). First the lookup itself (the real resolver, no
// server), then edgectl Test-IPBlockListProvider, then — with the Connection Filtering
// agent — the server's sessions from 127.0.0.x sources.
#include "dns_drop_relay.hpp"
#include "dns_server.hpp"
#include "edge_server.hpp"

#include "dns_resolver.hpp"
#include "ip_provider_lookup.hpp"
#include "ip_provider_match.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

using namespace edge::test;
using namespace std::chrono_literals;
namespace agents = edge::agents;
namespace asio = boost::asio;

namespace {

// Who is on which list. Client 127.0.0.N is asked as N.0.0.127.<zone>.
//   .2  zen 127.0.0.2 (RFC 5782's test point)      .3  zen 127.0.0.4
//   .4  zen 127.0.0.10                              .5  zen 127.0.0.2 and weak 127.0.0.2
//   .6  zen 10.0.0.1 (no listing: outside 127/8)    .7  weak 127.0.0.2
//   .9  zen 127.0.0.2 and wl 127.0.0.10             .11 on no list
// slow.test lists everyone (a wildcard), but its queries are dropped.
std::vector<DnsZone> zones() {
    return {{"zen.test", "2.0.0.127 IN A 127.0.0.2\n"
                         "3.0.0.127 IN A 127.0.0.4\n"
                         "4.0.0.127 IN A 127.0.0.10\n"
                         "5.0.0.127 IN A 127.0.0.2\n"
                         "6.0.0.127 IN A 10.0.0.1\n"
                         "9.0.0.127 IN A 127.0.0.2\n"},
            {"weak.test", "5.0.0.127 IN A 127.0.0.2\n7.0.0.127 IN A 127.0.0.2\n"},
            {"wl.test", "9.0.0.127 IN A 127.0.0.10\n"},
            {"slow.test", "* IN A 127.0.0.2\n"}};
}

agents::IpListProvider provider(std::string domain, std::uint64_t weight = 1) {
    agents::IpListProvider p;
    p.name = domain;
    p.lookup_domain = std::move(domain);
    p.weight = weight;
    p.rejection_response = "listed at " + p.lookup_domain;
    return p;
}

struct Checked {
    agents::ProviderDecision decision;
    std::chrono::steady_clock::duration took{};
};

// One check as the agent makes it: every provider at once through the shared
// resolver, then the decision.
Checked check(const std::shared_ptr<edge::dns::DnsResolver>& resolver, asio::io_context& io,
              const agents::IpProviderSet& set, const char* client) {
    std::optional<agents::ProviderReplies> replies;
    const auto start = std::chrono::steady_clock::now();
    asio::co_spawn(io, agents::ask_providers(agents::resolver_lookup(resolver), set, asio::ip::make_address(client)),
                   [&](std::exception_ptr e, agents::ProviderReplies r) {
                       REQUIRE_FALSE(e);
                       replies = std::move(r);
                   });
    io.restart();
    io.run();
    REQUIRE(replies);
    return {agents::decide(set, replies->allow, replies->block), std::chrono::steady_clock::now() - start};
}

}  // namespace

TEST_CASE("DNSBL and DNSWL providers through the real resolver and NSD: match rules, priority, weights, a provider "
          "that never answers, an allow list that wins, answers cached",
          "[ip providers][dns]") {
    NsdServer nsd(zones());
    DnsDropRelay relay(nsd.port(), {"slow.test"});
    asio::io_context io;
    edge::dns::DnsOptions options;
    options.servers.push_back(*edge::dns::parse_dns_server(relay.endpoint()));
    auto resolver = std::make_shared<edge::dns::DnsResolver>(io.get_executor(), options);
    using Kind = agents::ProviderDecision::Kind;

    agents::IpProviderSet set;
    set.timeout = 1s;

    SECTION("BitmaskMatch: 127.0.0.4 matches the .4 answer only; 127.0.0.2 matches .2 and .10") {
        auto zen = provider("zen.test");
        zen.bitmask = 0x7f000004;
        set.block = {zen};
        CHECK(check(resolver, io, set, "127.0.0.3").decision.kind == Kind::Blocked);
        CHECK(check(resolver, io, set, "127.0.0.2").decision.kind == Kind::NotListed);
        CHECK(check(resolver, io, set, "127.0.0.4").decision.kind == Kind::NotListed);
        set.block[0].bitmask = 0x7f000002;
        CHECK(check(resolver, io, set, "127.0.0.2").decision.kind == Kind::Blocked);
        CHECK(check(resolver, io, set, "127.0.0.4").decision.kind == Kind::Blocked);
        CHECK(check(resolver, io, set, "127.0.0.3").decision.kind == Kind::NotListed);
    }
    SECTION("IPAddressesMatch: only the answers listed; no rule: any 127/8 answer; 10.0.0.1 never") {
        auto zen = provider("zen.test");
        zen.addresses_match = {0x7f00000a};
        set.block = {zen};
        CHECK(check(resolver, io, set, "127.0.0.4").decision.kind == Kind::Blocked);
        CHECK(check(resolver, io, set, "127.0.0.2").decision.kind == Kind::NotListed);
        set.block = {provider("zen.test")};
        CHECK(check(resolver, io, set, "127.0.0.2").decision.kind == Kind::Blocked);
        CHECK(check(resolver, io, set, "127.0.0.3").decision.kind == Kind::Blocked);
        CHECK(check(resolver, io, set, "127.0.0.11").decision.kind == Kind::NotListed);  // NXDOMAIN
        auto odd = check(resolver, io, set, "127.0.0.6").decision;
        CHECK(odd.kind == Kind::NotListed);
        REQUIRE(odd.failures.size() == 1);
        CHECK_THAT(odd.failures[0], Catch::StartsWith("zen.test: answered 10.0.0.1, not a listing"));
    }
    SECTION("Priority: the first listing provider by priority names the rejection") {
        set.block = {provider("zen.test"), provider("weak.test")};
        auto d = check(resolver, io, set, "127.0.0.5").decision;
        CHECK(d.kind == Kind::Blocked);
        CHECK(d.provider == "zen.test");
        CHECK(d.rejection_response == "listed at zen.test");
        std::swap(set.block[0], set.block[1]);
        d = check(resolver, io, set, "127.0.0.5").decision;
        CHECK(d.provider == "weak.test");
        CHECK(d.reason_data == "weak.test (127.0.0.2, weight 1); zen.test (127.0.0.2, weight 1); score 2, threshold 1");
    }
    SECTION("weights 1 and 1 with threshold 2: both lists block, either alone does not") {
        set.block = {provider("zen.test"), provider("weak.test")};
        set.threshold = 2;
        CHECK(check(resolver, io, set, "127.0.0.5").decision.kind == Kind::Blocked);
        auto d = check(resolver, io, set, "127.0.0.2").decision;
        CHECK(d.kind == Kind::NotListed);
        CHECK(d.reason_data == "zen.test (127.0.0.2, weight 1); score 1, threshold 2");
        CHECK(check(resolver, io, set, "127.0.0.7").decision.kind == Kind::NotListed);
    }
    SECTION("a provider that never answers costs LookupTimeout at most and never blocks") {
        set.block = {provider("slow.test"), provider("zen.test")};
        auto c = check(resolver, io, set, "127.0.0.2");
        CHECK(c.took >= 1s);
        CHECK(c.took < 2500ms);
        CHECK(c.decision.kind == Kind::Blocked);  // zen.test still counts
        CHECK(c.decision.provider == "zen.test");
        REQUIRE(c.decision.failures.size() == 1);
        CHECK(c.decision.failures[0] == "slow.test: no answer within 1000 ms (LookupTimeout)");
        set.block = {provider("slow.test")};
        c = check(resolver, io, set, "127.0.0.11");
        CHECK(c.decision.kind == Kind::NotListed);
        CHECK(c.took < 2500ms);
        CHECK(relay.dropped() >= 2);
    }
    SECTION("an allow-list provider's listing bypasses the block lists") {
        set.allow = {provider("wl.test")};
        set.block = {provider("zen.test")};
        auto d = check(resolver, io, set, "127.0.0.9").decision;
        CHECK(d.kind == Kind::AllowListed);
        CHECK(d.provider == "wl.test");
        CHECK(d.reason_data == "wl.test (127.0.0.10)");
        CHECK(check(resolver, io, set, "127.0.0.2").decision.kind == Kind::Blocked);
    }
    SECTION("answers are cached by their TTL: the same client again asks no server") {
        set.allow = {provider("wl.test")};
        set.block = {provider("zen.test"), provider("weak.test")};
        check(resolver, io, set, "127.0.0.5");
        const int asked = relay.forwarded();
        CHECK(asked >= 3);
        check(resolver, io, set, "127.0.0.5");
        CHECK(relay.forwarded() == asked);
        check(resolver, io, set, "127.0.0.7");  // another client is another name
        CHECK(relay.forwarded() > asked);
    }
}

TEST_CASE("Test-IPBlockListProvider asks DNS from edgectl and shows the query, the answers and the verdict",
          "[ip providers][dns][edgectl]") {
    NsdServer nsd(zones());
    DnsDropRelay relay(nsd.port(), {"slow.test"});
    EdgeServer s;  // edgectl only: it works with the server down
    s.must_edgectl("Set-TransportServer -InternalDNSServers " + relay.endpoint());
    s.must_edgectl("Set-IPBlockListProvidersConfig -LookupTimeout 00:00:01");
    s.must_edgectl("Add-IPBlockListProvider Zen -LookupDomain zen.test -IPAddressesMatch 127.0.0.2,127.0.0.10");
    s.must_edgectl("Add-IPBlockListProvider Slow -LookupDomain slow.test");
    s.must_edgectl("Add-IPAllowListProvider WL -LookupDomain wl.test -BitmaskMatch 127.0.0.8");

    std::string out;
    REQUIRE(s.edgectl("Test-IPBlockListProvider Zen -IPAddress 127.0.0.2", &out) == 0);
    INFO(out);
    CHECK_THAT(out, Catch::Contains("QueryName : 2.0.0.127.zen.test"));
    CHECK_THAT(out, Catch::Contains("Answers   : 127.0.0.2"));
    CHECK_THAT(out, Catch::Contains("Matched   : 127.0.0.2"));
    CHECK_THAT(out, Catch::Contains("Result    : Listed"));

    REQUIRE(s.edgectl("Test-IPBlockListProvider zen -IPAddress 127.0.0.3 -Json", &out) == 0);
    CHECK_THAT(out, Catch::Contains("\"Answers\": [\"127.0.0.4\"]"));
    CHECK_THAT(out, Catch::Contains("\"Matched\": []"));
    CHECK_THAT(out, Catch::Contains("\"Result\": \"NotListed\""));

    REQUIRE(s.edgectl("Test-IPBlockListProvider Zen -IPAddress 127.0.0.11", &out) == 0);
    CHECK_THAT(out, Catch::Contains("Result    : NotListed"));
    CHECK_THAT(out, Catch::Contains("no A record: not on the list"));

    // IPv6: 32 nibbles under the zone (not listed there).
    REQUIRE(s.edgectl("Test-IPBlockListProvider Zen -IPAddress 2001:db8::1", &out) == 0);
    CHECK_THAT(out, Catch::Contains("QueryName : 1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.test"));

    // The provider that never answers: within LookupTimeout, Failed, exit 1.
    const auto start = std::chrono::steady_clock::now();
    CHECK(s.edgectl("Test-IPBlockListProvider Slow -IPAddress 127.0.0.2", &out) == 1);
    CHECK(std::chrono::steady_clock::now() - start < 4s);
    CHECK_THAT(out, Catch::Contains("Result    : Failed"));
    CHECK_THAT(out, Catch::Contains("no answer within 1000 ms"));

    // The allow-list side: 127.0.0.10 & 127.0.0.8 share bit 3.
    REQUIRE(s.edgectl("Test-IPAllowListProvider WL -IPAddress 127.0.0.9", &out) == 0);
    CHECK_THAT(out, Catch::Contains("Result    : Listed"));
}

TEST_CASE("the server's sessions: a DNSBL listing refuses RCPT with the provider's response, postmaster@ is "
          "bypassed, a DNSWL listing wins, and a provider that never answers costs at most LookupTimeout",
          "[ip providers][dns][live]") {
    NsdServer nsd(zones());
    DnsDropRelay relay(nsd.port(), {"slow.test"});
    EdgeServer s;
    s.must_edgectl("Set-TransportServer -InternalDNSServers " + relay.endpoint());
    s.must_edgectl("Set-IPBlockListProvidersConfig -LookupTimeout 00:00:01 -BypassedRecipients postmaster@contoso.test");
    s.must_edgectl("Add-IPBlockListProvider Zen -LookupDomain zen.test -IPAddressesMatch 127.0.0.2 "
                   "-RejectionResponse 'Listed at Zen, see https://zen.test/lookup'");
    s.must_edgectl("Add-IPBlockListProvider Slow -LookupDomain slow.test");
    s.must_edgectl("Add-IPAllowListProvider WL -LookupDomain wl.test");
    basic_setup(s);

    // From `source`: the time to the RCPT reply, and the replies.
    struct Session {
        std::string rcpt, postmaster;
        std::chrono::steady_clock::duration took{};
    };
    auto session = [&](const char* source) {
        Session r;
        const auto start = std::chrono::steady_clock::now();
        SmtpClient c(s.port(), source);
        c.reply();
        c.command("EHLO client.example");
        REQUIRE(c.command("MAIL FROM:<someone@example.org>").starts_with("250"));
        r.rcpt = c.command("RCPT TO:<user@contoso.test>");
        r.took = std::chrono::steady_clock::now() - start;
        r.postmaster = c.command("RCPT TO:<postmaster@contoso.test>");
        c.command("QUIT");
        return r;
    };

    // 127.0.0.2: zen.test lists it (127.0.0.2); slow.test never answers and is cut at 1 s.
    Session listed = session("127.0.0.2");
    CHECK(listed.rcpt == "550 5.7.1 Listed at Zen, see https://zen.test/lookup");
    CHECK(listed.postmaster == "250 2.1.5 Recipient OK");
    CHECK(listed.took < 2500ms);
    // 127.0.0.3: zen answers 127.0.0.4, not in IPAddressesMatch: accepted, within the timeout.
    Session other_code = session("127.0.0.3");
    CHECK(other_code.rcpt == "250 2.1.5 Recipient OK");
    CHECK(other_code.took < 2500ms);
    // 127.0.0.9: on zen.test and on the allow list wl.test: the allow list wins.
    CHECK(session("127.0.0.9").rcpt == "250 2.1.5 Recipient OK");
    // 127.0.0.11: on no list.
    CHECK(session("127.0.0.11").rcpt == "250 2.1.5 Recipient OK");
    CHECK(relay.dropped() >= 1);

    // The agent log names the provider, its answer and the failure of the silent one.
    std::string out;
    for (int i = 0; i < 50; ++i) {
        REQUIRE(s.edgectl("Get-AgentLog -Json -Agent 'Connection Filtering Agent'", &out) == 0);
        if (out.find("BlockListProvider") != std::string::npos && out.find("AllowListProvider") != std::string::npos) break;
        std::this_thread::sleep_for(200ms);
    }
    INFO(out);
    CHECK_THAT(out, Catch::Contains("\"Reason\": \"BlockListProvider\""));
    CHECK_THAT(out, Catch::Contains("zen.test (127.0.0.2, weight 1)"));
    CHECK_THAT(out, Catch::Contains("\"Reason\": \"AllowListProvider\""));
    CHECK_THAT(out, Catch::Contains("slow.test: no answer within 1000 ms"));
}
