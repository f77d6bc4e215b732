// IP Block / Allow List providers (DNSBL, DNSWL): query names, which answers are
// listings, weights and the threshold, priority, allow lists first, failures that never
// block, and the concurrent lookup bounded by LookupTimeout — against fake lookups on
// an io_context the test runs (no sockets; the only timers are the lookups' deadline).
#include "config_store.hpp"
#include "ip_provider_lookup.hpp"
#include "ip_provider_match.hpp"
#include "settings.hpp"
#include "typed_settings.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <string>
#include <vector>

using namespace edge::agents;
using edge::config::ConfigObject;
using edge::config::ObjectKind;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

asio::ip::address ip(const char* text) { return asio::ip::make_address(text); }
std::vector<asio::ip::address> ips(std::initializer_list<const char*> texts) {
    std::vector<asio::ip::address> out;
    for (const char* t : texts) out.push_back(ip(t));
    return out;
}

IpListProvider provider(std::string domain, std::uint64_t weight = 1) {
    IpListProvider p;
    p.name = domain;
    p.lookup_domain = std::move(domain);
    p.weight = weight;
    p.rejection_response = "listed at " + p.lookup_domain;
    return p;
}

ProviderReply answered(std::initializer_list<const char*> texts) {
    ProviderReply r;
    r.status = ProviderReply::Status::Answered;
    r.addresses = ips(texts);
    return r;
}
ProviderReply not_listed() {
    ProviderReply r;
    r.status = ProviderReply::Status::NotListed;
    return r;
}
ProviderReply failed(std::string why) {
    ProviderReply r;
    r.error = std::move(why);
    return r;
}

}  // namespace

TEST_CASE("a provider is asked for the reversed IPv4 octets or IPv6 nibbles under its zone", "[ip providers]") {
    CHECK(provider_query_name(ip("127.0.0.2"), "zen.test") == "2.0.0.127.zen.test");
    CHECK(provider_query_name(ip("192.0.2.99"), "Zen.Spamhaus.ORG.") == "99.2.0.192.zen.spamhaus.org");
    // An IPv4 client seen on an IPv6 socket is asked as the IPv4 address it is.
    CHECK(provider_query_name(ip("::ffff:192.0.2.99"), "zen.test") == "99.2.0.192.zen.test");
    // RFC 5782 §2.4: 32 nibbles, least significant first.
    CHECK(provider_query_name(ip("2001:db8::1"), "v6.test") ==
          "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.v6.test");
}

TEST_CASE("which answers are listings: AnyMatch, BitmaskMatch, IPAddressesMatch, and none set", "[ip providers]") {
    const auto answers = ips({"127.0.0.2", "127.0.0.4", "127.0.0.10"});
    SECTION("no rule set: every 127.0.0.0/8 answer is a listing, as Exchange treats it") {
        auto m = match_answers(provider("zen.test"), answers);
        CHECK(m.matched == std::vector<std::string>{"127.0.0.2", "127.0.0.4", "127.0.0.10"});
    }
    SECTION("BitmaskMatch: the answer's last octet shares a bit with the mask's") {
        auto p = provider("zen.test");
        p.bitmask = 0x7f000004;  // 127.0.0.4: "dial-up"
        CHECK(match_answers(p, answers).matched == std::vector<std::string>{"127.0.0.4"});
        p.bitmask = 0x7f000002;  // 127.0.0.2: 2 and 10 (0b1010) both have bit 1
        CHECK(match_answers(p, answers).matched == std::vector<std::string>{"127.0.0.2", "127.0.0.10"});
        p.bitmask = 0x7f000001;
        CHECK_FALSE(match_answers(p, answers).listed());
        // Exchange's own example mask 127.1.0.1: the low 24 bits, not only the last octet.
        p.bitmask = 0x7f010001;
        CHECK(match_answers(p, ips({"127.1.0.0", "127.0.0.2"})).matched == std::vector<std::string>{"127.1.0.0"});
    }
    SECTION("IPAddressesMatch: exactly those answers") {
        auto p = provider("zen.test");
        p.addresses_match = {0x7f00000a};  // 127.0.0.10
        CHECK(match_answers(p, answers).matched == std::vector<std::string>{"127.0.0.10"});
        p.addresses_match = {0x7f000005};
        CHECK_FALSE(match_answers(p, answers).listed());
    }
    SECTION("BitmaskMatch and IPAddressesMatch together: either one") {
        auto p = provider("zen.test");
        p.bitmask = 0x7f000004;
        p.addresses_match = {0x7f00000a};
        CHECK(match_answers(p, answers).matched == std::vector<std::string>{"127.0.0.4", "127.0.0.10"});
    }
    SECTION("AnyMatch: every listing, whatever the other rules say") {
        auto p = provider("zen.test");
        p.any_match = true;
        p.addresses_match = {0x7f000005};
        CHECK(match_answers(p, answers).matched.size() == 3);
    }
    SECTION("answers outside 127/8 and the lists' error codes 127.255.255.x never are listings") {
        auto p = provider("zen.test");
        p.any_match = true;
        auto m = match_answers(p, ips({"10.0.0.1", "127.255.255.254", "192.0.2.1"}));
        CHECK_FALSE(m.listed());
        CHECK(m.not_listings == std::vector<std::string>{"10.0.0.1", "127.255.255.254", "192.0.2.1"});
    }
}

TEST_CASE("weights add up: two weak lists block together, one alone does not", "[ip providers]") {
    IpProviderSet set;
    set.block = {provider("weak1.test", 1), provider("weak2.test", 1)};
    set.threshold = 2;
    SECTION("both list the client") {
        auto d = decide(set, {}, {answered({"127.0.0.2"}), answered({"127.0.0.4"})});
        CHECK(d.kind == ProviderDecision::Kind::Blocked);
        CHECK(d.provider == "weak1.test");
        CHECK(d.rejection_response == "listed at weak1.test");
        CHECK(d.reason_data == "weak1.test (127.0.0.2, weight 1); weak2.test (127.0.0.4, weight 1); score 2, threshold 2");
    }
    SECTION("one lists it: under the threshold, the listing is still reported") {
        auto d = decide(set, {}, {not_listed(), answered({"127.0.0.2"})});
        CHECK(d.kind == ProviderDecision::Kind::NotListed);
        CHECK(d.reason_data == "weak2.test (127.0.0.2, weight 1); score 1, threshold 2");
    }
    SECTION("a heavy list blocks alone") {
        set.block.push_back(provider("strong.test", 2));
        auto d = decide(set, {}, {not_listed(), not_listed(), answered({"127.0.0.2"})});
        CHECK(d.kind == ProviderDecision::Kind::Blocked);
        CHECK(d.provider == "strong.test");
    }
}

TEST_CASE("priority: the first listing provider by priority is the one who blocks and is named", "[ip providers]") {
    IpProviderSet set;
    auto first = provider("first.test");
    first.rejection_response = "first says no";
    set.block = {first, provider("second.test")};
    auto d = decide(set, {}, {answered({"127.0.0.2"}), answered({"127.0.0.2"})});
    CHECK(d.provider == "first.test");
    CHECK(d.rejection_response == "first says no");
    d = decide(set, {}, {not_listed(), answered({"127.0.0.2"})});
    CHECK(d.provider == "second.test");
    CHECK(d.rejection_response == "listed at second.test");
}

TEST_CASE("an allow-list provider's listing wins over every block list", "[ip providers]") {
    IpProviderSet set;
    set.allow = {provider("wl1.test"), provider("wl2.test")};
    set.block = {provider("zen.test")};
    auto d = decide(set, {not_listed(), answered({"127.0.0.10"})}, {answered({"127.0.0.2"})});
    CHECK(d.kind == ProviderDecision::Kind::AllowListed);
    CHECK(d.provider == "wl2.test");
    CHECK(d.reason_data == "wl2.test (127.0.0.10)");
    // Not on the allow list: the block list decides.
    d = decide(set, {not_listed(), not_listed()}, {answered({"127.0.0.2"})});
    CHECK(d.kind == ProviderDecision::Kind::Blocked);
}

TEST_CASE("a provider that fails or answers nonsense never blocks, and is reported", "[ip providers]") {
    IpProviderSet set;
    set.block = {provider("slow.test"), provider("parked.test"), provider("zen.test")};
    auto d = decide(set, {}, {failed("no answer within 1000 ms (LookupTimeout)"), answered({"192.0.2.1"}), not_listed()});
    CHECK(d.kind == ProviderDecision::Kind::NotListed);
    REQUIRE(d.failures.size() == 2);
    CHECK(d.failures[0] == "slow.test: no answer within 1000 ms (LookupTimeout)");
    CHECK_THAT(d.failures[1], Catch::Contains("parked.test: answered 192.0.2.1, not a listing"));
    // A failed allow list does not allow-list either.
    set.allow = {provider("wl.test")};
    d = decide(set, {failed("SERVFAIL")}, {not_listed(), not_listed(), answered({"127.0.0.2"})});
    CHECK(d.kind == ProviderDecision::Kind::Blocked);
    CHECK(d.provider == "zen.test");
}

TEST_CASE("provider settings: 127/8 masks and answers, weights, an ASCII one-line response", "[ip providers][settings]") {
    ConfigObject o(ObjectKind::IPBlockListProvider);
    REQUIRE(o.set("Name", "Zen") == "");
    REQUIRE(o.set("LookupDomain", "zen.test") == "");
    CHECK(edge::config::validate_object(o).empty());
    REQUIRE(o.set("BitmaskMatch", "10.0.0.4") == "");  // an address: the table takes it, the rule does not
    CHECK(edge::config::validate_object(o) ==
          std::vector<std::string>{"-BitmaskMatch: '10.0.0.4' is not valid; expected an IPv4 address in 127.0.0.0/8 such as 127.0.0.4"});
    REQUIRE(o.set("BitmaskMatch", "::1") == "");
    CHECK(edge::config::validate_object(o).size() == 1);
    REQUIRE(o.set("BitmaskMatch", "127.0.0.4") == "");
    REQUIRE(o.set("IPAddressesMatch", "127.0.0.2,192.0.2.2") == "");
    CHECK(edge::config::validate_object(o) ==
          std::vector<std::string>{"-IPAddressesMatch: '192.0.2.2' is not valid; expected IPv4 addresses in 127.0.0.0/8 such as 127.0.0.2"});
    REQUIRE(o.set("IPAddressesMatch", "127.0.0.2, 127.0.0.10") == "");
    CHECK(edge::config::validate_object(o).empty());
    CHECK(o.set("Weight", "0") != "");
    CHECK(o.set("Weight", "101") != "");
    CHECK(o.set("LookupDomain", "not a domain") != "");
    CHECK(o.set("RejectionResponse", std::string(241, 'x')) != "");
    REQUIRE(o.set("RejectionResponse", "caf\xc3\xa9") == "");
    CHECK(edge::config::validate_object(o) ==
          std::vector<std::string>{"-RejectionResponse: expected printable ASCII text on one line (it is sent in the 550 reply)"});

    REQUIRE(o.set("RejectionResponse", "") == "");
    auto p = block_list_provider(edge::config::ip_block_list_provider_settings(o));
    CHECK(p.rejection_response == kDefaultProviderRejectionResponse);
    CHECK(p.bitmask == 0x7f000004u);
    CHECK(p.addresses_match == std::vector<std::uint32_t>{0x7f000002, 0x7f00000a});

    ConfigObject c(ObjectKind::IPBlockListProvidersConfig);
    CHECK(c.set("Threshold", "0") != "");
    CHECK(c.set("LookupTimeout", "00:00:00") != "");
    CHECK(c.set("LookupTimeout", "00:02:00") != "");
    CHECK(edge::config::singleton_name(ObjectKind::IPBlockListProvidersConfig) == "IPBlockListProvidersConfig");
    CHECK(edge::config::singleton_name(ObjectKind::IPAllowListProvidersConfig) == "IPAllowListProvidersConfig");
    CHECK_FALSE(edge::config::singleton_name(ObjectKind::IPBlockListProvider).has_value());
}

namespace {

// A fake DNS: a name's reply, at once; names it does not know never answer (until
// cancelled: the wait is a timer far in the future).
struct FakeDns {
    std::map<std::string, ProviderReply> replies;
    std::vector<std::string> asked;
    int in_flight = 0, max_in_flight = 0;
    AddressLookup lookup() {
        return [this](std::string name) -> asio::awaitable<ProviderReply> {
            asked.push_back(name);
            ++in_flight;
            max_in_flight = std::max(max_in_flight, in_flight);
            struct Leave {
                int& n;
                ~Leave() { --n; }
            } leave{in_flight};
            auto ex = co_await asio::this_coro::executor;
            asio::steady_timer t(ex);
            if (auto it = replies.find(name); it != replies.end()) {
                t.expires_after(1ms);  // every lookup in flight at once before any returns
                co_await t.async_wait(asio::use_awaitable);
                co_return it->second;
            }
            t.expires_after(1h);
            co_await t.async_wait(asio::use_awaitable);  // cancelled at the deadline: throws
            co_return ProviderReply{};
        };
    }
};

ProviderReplies run(AddressLookup lookup, const IpProviderSet& set, const char* client) {
    asio::io_context io;
    ProviderReplies out;
    bool done = false;
    asio::co_spawn(io, ask_providers(std::move(lookup), set, ip(client)), [&](std::exception_ptr e, ProviderReplies r) {
        REQUIRE_FALSE(e);
        out = std::move(r);
        done = true;
    });
    io.run();
    REQUIRE(done);
    return out;
}

}  // namespace

TEST_CASE("every provider is asked at once, and the check ends at LookupTimeout", "[ip providers][lookup]") {
    FakeDns dns;
    dns.replies["2.0.0.127.zen.test"] = answered({"127.0.0.2"});
    dns.replies["2.0.0.127.wl.test"] = not_listed();
    dns.replies["2.0.0.127.broken.test"] = failed("DNS query for A 2.0.0.127.broken.test answered SERVFAIL");
    IpProviderSet set;
    set.allow = {provider("wl.test")};
    set.block = {provider("zen.test"), provider("slow.test"), provider("broken.test")};
    set.timeout = 50ms;

    const auto start = std::chrono::steady_clock::now();
    auto r = run(dns.lookup(), set, "127.0.0.2");
    const auto took = std::chrono::steady_clock::now() - start;

    CHECK(dns.max_in_flight == 4);  // concurrently, not one after the other
    CHECK(took >= 50ms);            // the slow one was waited for, up to the timeout ...
    CHECK(took < 1s);               // ... and no longer (it never answers)
    REQUIRE(r.allow.size() == 1);
    REQUIRE(r.block.size() == 3);
    CHECK(r.allow[0].status == ProviderReply::Status::NotListed);
    CHECK(r.block[0].status == ProviderReply::Status::Answered);
    CHECK(r.block[1].status == ProviderReply::Status::Failed);
    CHECK(r.block[1].error == "no answer within 50 ms (LookupTimeout)");
    CHECK(r.block[2].status == ProviderReply::Status::Failed);
    CHECK(dns.in_flight == 0);  // nothing outlives the check

    auto d = decide(set, r.allow, r.block);
    CHECK(d.kind == ProviderDecision::Kind::Blocked);
    CHECK(d.provider == "zen.test");
    CHECK(d.failures.size() == 2);
}

TEST_CASE("when every provider answers, the check does not wait for the timeout", "[ip providers][lookup]") {
    FakeDns dns;
    dns.replies["1.2.0.192.zen.test"] = not_listed();
    IpProviderSet set;
    set.block = {provider("zen.test")};
    set.timeout = 10s;
    const auto start = std::chrono::steady_clock::now();
    auto r = run(dns.lookup(), set, "192.0.2.1");
    CHECK(std::chrono::steady_clock::now() - start < 5s);
    CHECK(r.block[0].status == ProviderReply::Status::NotListed);
    CHECK(dns.asked == std::vector<std::string>{"1.2.0.192.zen.test"});
}
