// The send side's DNS resolver against a real NSD on loopback (tests/support/
// dns_server.hpp), plus two small UDP servers of our own for what NSD will not do:
// stay silent, answer SERVFAIL, or send forged answers before the real one.
#include "dns_resolver.hpp"
#include "dns_server.hpp"

#include <ldns/ldns.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

using namespace edge::dns;
using edge::test::DnsZone;
using edge::test::NsdServer;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using udp = asio::ip::udp;

namespace {

// The zone most tests ask. MX targets are loopback addresses; nothing connects to them.
std::string example_zone() {
    std::string z = R"(
order     IN MX 30 mx3
order     IN MX 10 mx1
order     IN MX 20 mx2
equal     IN MX 10 mx1
equal     IN MX 5  mx3
equal     IN MX 10 mx2
mx1       IN A    127.0.0.2
mx2       IN A    127.0.0.3
mx3       IN A    127.0.0.4
mx3       IN AAAA ::1
implicit  IN A    127.0.0.5
implicit  IN AAAA 2001:db8::5
nullmx    IN MX 0 .
nodata    IN TXT "no mail here"
skip      IN MX 10 gone
skip      IN MX 20 mx2
allgone   IN MX 10 gone
alias     IN CNAME order
viacname  IN MX 10 mxalias
mxalias   IN CNAME mx1
far       IN CNAME mail.far.test.
loop1     IN CNAME loop2
loop2     IN CNAME loop1
)";
    // 100 addresses: 1.6 KB of answer, past both 512 bytes and our EDNS 1232.
    for (int i = 1; i <= 100; ++i) z += "big IN A 127.0.1." + std::to_string(i) + "\n";
    return z;
}

DnsOptions options_for(std::vector<std::string> servers, std::chrono::milliseconds timeout = 2000ms) {
    DnsOptions o;
    for (const auto& s : servers) {
        auto e = parse_dns_server(s);
        REQUIRE(e);
        o.servers.push_back(*e);
    }
    o.timeout = timeout;
    return o;
}

std::string endpoint_text(const udp::endpoint& e) { return e.address().to_string() + ":" + std::to_string(e.port()); }

// Runs one lookup on `io` to its end (other work on `io`, such as our small servers,
// stays pending).
template <typename T>
T run(asio::io_context& io, asio::awaitable<T> task) {
    std::optional<T> result;
    std::exception_ptr error;
    bool done = false;
    asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
        error = e;
        result = std::move(value);
        done = true;
    });
    auto until = std::chrono::steady_clock::now() + 60s;
    while (!done) {
        if (io.stopped()) io.restart();
        io.run_one_for(100ms);
        if (std::chrono::steady_clock::now() > until) throw std::runtime_error("lookup did not finish in 60 s");
    }
    if (error) std::rethrow_exception(error);
    return std::move(*result);
}

std::vector<std::string> names(const MxResult& r) {
    std::vector<std::string> out;
    for (const auto& h : r.hosts) out.push_back(h.name);
    return out;
}

std::vector<std::string> texts(const std::vector<asio::ip::address>& addresses) {
    std::vector<std::string> out;
    for (const auto& a : addresses) out.push_back(a.to_string());
    return out;
}

bool contains(const std::string& haystack, std::string_view needle) { return haystack.find(needle) != std::string::npos; }

using Strings = std::vector<std::string>;

// A UDP socket on 127.0.0.1 that takes queries and never answers.
struct SilentServer {
    explicit SilentServer(asio::io_context& io) : socket(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}
    std::string endpoint() const { return endpoint_text(socket.local_endpoint()); }
    udp::socket socket;
};

struct PacketFree {
    void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using Packet = std::unique_ptr<ldns_pkt, PacketFree>;
using Datagrams = std::vector<std::vector<std::uint8_t>>;

// One answer datagram: to `query`, with `rcode`, an optional answer record in
// presentation form, and (for forgeries) another id or question name.
std::vector<std::uint8_t> make_answer(const ldns_pkt* query, ldns_pkt_rcode rcode, const std::string& record = {},
                                      std::optional<std::uint16_t> id = {}, const std::string& question = {}) {
    Packet p(ldns_pkt_new());
    ldns_pkt_set_id(p.get(), id ? *id : ldns_pkt_id(query));
    ldns_pkt_set_qr(p.get(), true);
    ldns_pkt_set_aa(p.get(), true);
    ldns_pkt_set_rcode(p.get(), static_cast<std::uint8_t>(rcode));
    const ldns_rr* asked = ldns_rr_list_rr(ldns_pkt_question(query), 0);
    ldns_rr* q = nullptr;
    if (question.empty()) {
        q = ldns_rr_clone(asked);
    } else {
        std::string text = question + " IN " + (ldns_rr_get_type(asked) == LDNS_RR_TYPE_AAAA ? "AAAA" : "A");
        REQUIRE(ldns_rr_new_question_frm_str(&q, text.c_str(), nullptr, nullptr) == LDNS_STATUS_OK);
    }
    ldns_pkt_push_rr(p.get(), LDNS_SECTION_QUESTION, q);
    if (!record.empty()) {
        ldns_rr* rr = nullptr;
        REQUIRE(ldns_rr_new_frm_str(&rr, record.c_str(), 60, nullptr, nullptr) == LDNS_STATUS_OK);
        ldns_pkt_push_rr(p.get(), LDNS_SECTION_ANSWER, rr);
    }
    std::uint8_t* wire = nullptr;
    std::size_t size = 0;
    REQUIRE(ldns_pkt2wire(&wire, p.get(), &size) == LDNS_STATUS_OK);
    std::vector<std::uint8_t> out(wire, wire + size);
    std::free(wire);
    return out;
}

// A UDP server on 127.0.0.1 that answers each query with the datagrams `script`
// makes of it, in order. Counts the queries it saw.
class ScriptedServer {
public:
    using Script = std::function<std::vector<std::vector<std::uint8_t>>(const ldns_pkt* query)>;
    ScriptedServer(asio::io_context& io, Script script)
        : state_(std::make_shared<State>(io, std::move(script))) {
        asio::co_spawn(io, serve(state_), asio::detached);
    }
    ~ScriptedServer() {
        boost::system::error_code ec;
        state_->socket.close(ec);
    }
    std::string endpoint() const { return endpoint_text(state_->socket.local_endpoint()); }
    int queries() const { return state_->queries; }

private:
    struct State {
        State(asio::io_context& io, Script s)
            : socket(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), script(std::move(s)) {}
        udp::socket socket;
        Script script;
        int queries = 0;
    };
    static asio::awaitable<void> serve(std::shared_ptr<State> s) {
        std::vector<std::uint8_t> buffer(65535);
        for (;;) {
            udp::endpoint from;
            auto [ec, n] = co_await s->socket.async_receive_from(asio::buffer(buffer), from,
                                                                 asio::as_tuple(asio::use_awaitable));
            if (ec) co_return;
            ldns_pkt* raw = nullptr;
            if (ldns_wire2pkt(&raw, buffer.data(), n) != LDNS_STATUS_OK) continue;
            Packet query(raw);
            ++s->queries;
            for (const auto& datagram : s->script(query.get()))
                co_await s->socket.async_send_to(asio::buffer(datagram), from, asio::as_tuple(asio::use_awaitable));
        }
    }
    std::shared_ptr<State> state_;
};

}  // namespace

// --- MX ------------------------------------------------------------------------------

TEST_CASE("MX hosts come by preference, lowest first, each with its addresses", "[dns][mx]") {
    NsdServer dns({{"example.test", example_zone()}});
    asio::io_context io;
    DnsResolver resolver(io.get_executor(), options_for({dns.endpoint()}));
    auto r = run(io, resolver.resolve_mx("order.example.test"));
    INFO(r.error);
    REQUIRE(r.status == DnsStatus::Ok);
    CHECK(names(r) == Strings{"mx1.example.test", "mx2.example.test", "mx3.example.test"});
    REQUIRE(r.hosts.size() == 3);
    CHECK(r.hosts[0].preference == 10);
    CHECK(r.hosts[1].preference == 20);
    CHECK(r.hosts[2].preference == 30);
    CHECK(texts(r.hosts[0].addresses) == Strings{"127.0.0.2"});
    CHECK(texts(r.hosts[1].addresses) == Strings{"127.0.0.3"});
    CHECK(texts(r.hosts[2].addresses) == Strings{"127.0.0.4", "::1"});  // IPv4 first
    CHECK_FALSE(r.hosts[0].implicit);
    CHECK(r.error.empty());
}

TEST_CASE("a domain is matched in any case and with a trailing dot, and hosts come in lower case", "[dns][mx]") {
    NsdServer dns({{"example.test", example_zone()}});
    asio::io_context io;
    DnsResolver resolver(io.get_executor(), options_for({dns.endpoint()}));
    auto r = run(io, resolver.resolve_mx("ORDER.Example.TEST."));
    REQUIRE(r.status == DnsStatus::Ok);
    CHECK(names(r) == Strings{"mx1.example.test", "mx2.example.test", "mx3.example.test"});
}

TEST_CASE("a domain in U-labels is asked as its A-labels, for MX and for addresses", "[dns][mx][idn]") {
    // The zone holds the A-label form only, as DNS does.
    NsdServer dns({{"example.test", example_zone() + "xn--bcher-kva IN MX 10 mx1\nxn--mnchen-3ya IN A 127.0.0.9\n"}});
    asio::io_context io;
    DnsResolver resolver(io.get_executor(), options_for({dns.endpoint()}));
    auto r = run(io, resolver.resolve_mx("B\xc3\xbc" "cher.example.test"));
    INFO(r.error);
    REQUIRE(r.status == DnsStatus::Ok);
    CHECK(names(r) == Strings{"mx1.example.test"});
    auto a = run(io, resolver.resolve_address("m\xc3\xbc" "nchen.example.test"));
    INFO(a.error);
    REQUIRE(a.status == DnsStatus::Ok);
    CHECK(texts(a.addresses) == Strings{"127.0.0.9"});
    // What IDNA2008 refuses is not a name, as before: no query is made.
    auto bad = run(io, resolver.resolve_mx("\xe2\x98\x83.example.test"));
    CHECK(bad.status == DnsStatus::NoSuchDomain);
    CHECK(contains(bad.error, "not a valid domain name"));
}

TEST_CASE("equal preferences come in random order, after the lower preference, even from the cache", "[dns][mx]") {
    NsdServer dns({{"example.test", example_zone()}});
    asio::io_context io;
    DnsResolver resolver(io.get_executor(), options_for({dns.endpoint()}));
    std::set<Strings> orders;
    for (int i = 0; i < 40; ++i) {
        auto r = run(io, resolver.resolve_mx("equal.example.test"));
        REQUIRE(r.status == DnsStatus::Ok);
        REQUIRE(r.hosts.size() == 3);
        CHECK(r.hosts[0].name == "mx3.example.test");
        CHECK(r.hosts[0].preference == 5);
        orders.insert(names(r));
    }
    CHECK(resolver.cache_size() > 0);  // the later lookups were answered by the cache
    // Both orders of the two preference-10 hosts; a fixed order shows up 40 times in a row
    // with a chance of 2^-39.
    CHECK(orders == std::set<Strings>{{"mx3.example.test", "mx1.example.test", "mx2.example.test"},
                                      {"mx3.example.test", "mx2.example.test", "mx1.example.test"}});
}

TEST_CASE("a domain without MX records is its own mail host (implicit MX, RFC 5321 5.1)", "[dns][mx]") {
    NsdServer dns({{"example.test", example_zone()}});
    asio::io_context io;
    DnsResolver resolver(io.get_executor(), options_for({dns.endpoint()}));
    auto r = run(io, resolver.resolve_mx("implicit.example.test"));
    INFO(r.error);
    REQUIRE(r.status == DnsStatus::Ok);
    REQUIRE(r.hosts.size() == 1);
    CHECK(r.hosts[0].name == "implicit.example.test");
    CHECK(r.hosts[0].preference == 0);
    CHECK(r.hosts[0].implicit);
    CHECK(texts(r.hosts[0].addresses) == Strings{"127.0.0.5", "2001:db8::5"});
}

TEST_CASE("a null MX says the domain takes no mail (RFC 7505)", "[dns][mx]") {
    NsdServer dns({{"example.test", example_zone()}});
    asio::io_context io;
    DnsResolver resolver(io.get_executor(), options_for({dns.endpoint()}));
    auto r = run(io, resolver.resolve_mx("nullmx.example.test"));
    CHECK(r.status == DnsStatus::NullMx);
    CHECK(r.hosts.empty());
    CHECK(contains(r.error, "null MX"));
}

TEST_CASE("a domain that does not exist is NoSuchDomain, for MX and for addresses", "[dns][mx]") {
    NsdServer dns({{"example.test", example_zone()}});
    asio::io_context io;
    DnsResolver resolver(io.get_executor(), options_for({dns.endpoint()}));
    auto r = run(io, resolver.resolve_mx("nosuch.example.test"));
    CHECK(r.status == DnsStatus::NoSuchDomain);
    CHECK(r.hosts.empty());
    CHECK(r.error == "nosuch.example.test does not exist (NXDOMAIN)");
    auto a = run(io, resolver.resolve_address("nosuch.example.test"));
    CHECK(a.status == DnsStatus::NoSuchDomain);
    CHECK(a.addresses.empty());
}

TEST_CASE("a name with neither MX nor address records is NoData", "[dns][mx]") {
    NsdServer dns({{"example.test", example_zone()}});
    asio::io_context io;
    DnsResolver resolver(io.get_executor(), options_for({dns.endpoint()}));
    auto r = run(io, resolver.resolve_mx("nodata.example.test"));
    CHECK(r.status == DnsStatus::NoData);
    CHECK(r.error == "nodata.example.test has no MX, A or AAAA record");
    auto a = run(io, resolver.resolve_address("nodata.example.test"));
    CHECK(a.status == DnsStatus::NoData);
}

TEST_CASE("an MX host without addresses is left out, the others kept, and the error says which", "[dns][mx]") {
    NsdServer dns({{"example.test", example_zone()}});
    asio::io_context io;
    DnsResolver resolver(io.get_executor(), options_for({dns.endpoint()}));
    auto r = run(io, resolver.resolve_mx("skip.example.test"));
    REQUIRE(r.status == DnsStatus::Ok);
    CHECK(names(r) == Strings{"mx2.example.test"});
    CHECK(contains(r.error, "MX host gone.example.test left out: gone.example.test does not exist (NXDOMAIN)"));

    SECTION("when no host is left, the domain is NoData, not NoSuchDomain: the domain exists") {
        auto all = run(io, resolver.resolve_mx("allgone.example.test"));
        CHECK(all.status == DnsStatus::NoData);
        CHECK(all.hosts.empty());
        CHECK(contains(all.error, "gone.example.test"));
    }
}

// --- CNAME -----------------------------------------------------------------------------

TEST_CASE("CNAMEs are followed: of the domain, of an MX host, and into another server's zone", "[dns][cname]") {
    NsdServer dns({{"example.test", example_zone()}});
    NsdServer far({DnsZone{"far.test", "mail IN MX 10 mx\nmx IN A 127.0.0.9\n"}});
    asio::io_context io;

    SECTION("the domain is an alias (the server gives the whole chain in its answer)") {
        DnsResolver resolver(io.get_executor(), options_for({dns.endpoint()}));
        auto r = run(io, resolver.resolve_mx("alias.example.test"));
        REQUIRE(r.status == DnsStatus::Ok);
        CHECK(names(r) == Strings{"mx1.example.test", "mx2.example.test", "mx3.example.test"});
    }
    SECTION("an MX host is an alias") {
        DnsResolver resolver(io.get_executor(), options_for({dns.endpoint()}));
        auto r = run(io, resolver.resolve_mx("viacname.example.test"));
        REQUIRE(r.status == DnsStatus::Ok);
        CHECK(names(r) == Strings{"mxalias.example.test"});
        CHECK(texts(r.hosts[0].addresses) == Strings{"127.0.0.2"});
    }
    SECTION("the alias leads into a zone the first server does not hold: the target is asked again") {
        // The first server answers the CNAME alone, then REFUSED for far.test; the
        // second answers the target.
        DnsResolver resolver(io.get_executor(), options_for({dns.endpoint(), far.endpoint()}));
        auto r = run(io, resolver.resolve_mx("far.example.test"));
        INFO(r.error);
        REQUIRE(r.status == DnsStatus::Ok);
        CHECK(names(r) == Strings{"mx.far.test"});
        CHECK(texts(r.hosts[0].addresses) == Strings{"127.0.0.9"});
        // Without the second server the target cannot be had: proof it was asked for.
        DnsResolver alone(io.get_executor(), options_for({dns.endpoint()}));
        CHECK(run(io, alone.resolve_mx("far.example.test")).status == DnsStatus::Transient);
    }
}

TEST_CASE("a CNAME loop ends as Transient, not in an endless chase", "[dns][cname]") {
    NsdServer dns({{"example.test", example_zone()}});
    asio::io_context io;
    DnsResolver resolver(io.get_executor(), options_for({dns.endpoint()}));
    auto r = run(io, resolver.resolve_mx("loop1.example.test"));
    CHECK(r.status == DnsStatus::Transient);
    CHECK(contains(r.error, "CNAME chain longer than 8"));
}

// --- transport -----------------------------------------------------------------------

TEST_CASE("an answer too big for UDP comes again over TCP, whole", "[dns][tcp]") {
    NsdServer dns({{"example.test", example_zone()}});
    asio::io_context io;
    auto options = options_for({dns.endpoint()});
    SECTION("with EDNS, 1232 bytes") {}
    SECTION("without EDNS, 512 bytes") { options.edns_udp_size = 0; }
    SECTION("TCP only") { options.tcp_only = true; }
    DnsResolver resolver(io.get_executor(), options);
    auto r = run(io, resolver.resolve_address("big.example.test"));
    INFO(r.error);
    REQUIRE(r.status == DnsStatus::Ok);
    std::set<std::string> got;
    for (const auto& a : r.addresses) got.insert(a.to_string());
    CHECK(r.addresses.size() == 100);
    CHECK(got.size() == 100);
    CHECK(got.count("127.0.1.1") == 1);
    CHECK(got.count("127.0.1.100") == 1);
}

TEST_CASE("a server that never answers is Transient after the timeout, each attempt", "[dns][failure]") {
    asio::io_context io;
    SilentServer silent(io);
    DnsResolver resolver(io.get_executor(), options_for({silent.endpoint()}, 200ms));  // attempts = 2
    auto start = std::chrono::steady_clock::now();
    auto r = run(io, resolver.resolve_mx("example.test"));
    auto took = std::chrono::steady_clock::now() - start;
    CHECK(r.status == DnsStatus::Transient);
    CHECK(r.error == "DNS query for MX example.test timed out (" + silent.endpoint() + ")");
    CHECK(took >= 400ms);
    CHECK(took < 3s);
    CHECK(resolver.cache_size() == 0);  // failures are not kept
}

TEST_CASE("the servers are asked in order: a silent first server costs its timeout, the next answers", "[dns][failure]") {
    NsdServer dns({{"example.test", example_zone()}});
    asio::io_context io;
    SilentServer silent(io);
    DnsResolver resolver(io.get_executor(), options_for({silent.endpoint(), dns.endpoint()}, 300ms));
    auto start = std::chrono::steady_clock::now();
    auto r = run(io, resolver.resolve_mx("order.example.test"));
    auto took = std::chrono::steady_clock::now() - start;
    REQUIRE(r.status == DnsStatus::Ok);
    CHECK(names(r).size() == 3);
    CHECK(took >= 300ms);
}

TEST_CASE("SERVFAIL is Transient, and the next server is asked", "[dns][failure]") {
    NsdServer dns({{"example.test", example_zone()}});
    asio::io_context io;
    ScriptedServer servfail(io, [](const ldns_pkt* q) { return Datagrams{make_answer(q, LDNS_RCODE_SERVFAIL)}; });
    {
        DnsResolver resolver(io.get_executor(), options_for({servfail.endpoint()}));
        auto r = run(io, resolver.resolve_mx("example.test"));
        CHECK(r.status == DnsStatus::Transient);
        CHECK(r.error == "DNS query for MX example.test answered SERVFAIL (" + servfail.endpoint() + ")");
        CHECK(servfail.queries() == 2);  // two attempts
    }
    DnsResolver resolver(io.get_executor(), options_for({servfail.endpoint(), dns.endpoint()}));
    auto r = run(io, resolver.resolve_mx("order.example.test"));
    CHECK(r.status == DnsStatus::Ok);
}

TEST_CASE("REFUSED (a zone the server does not serve) is Transient", "[dns][failure]") {
    NsdServer dns({{"example.test", example_zone()}});
    asio::io_context io;
    DnsResolver resolver(io.get_executor(), options_for({dns.endpoint()}));
    auto r = run(io, resolver.resolve_mx("example.invalid"));
    CHECK(r.status == DnsStatus::Transient);
    CHECK(r.error == "DNS query for MX example.invalid answered REFUSED (" + dns.endpoint() + ")");
}

TEST_CASE("every failing server is named once in the error, grouped by what it did", "[dns][failure]") {
    NsdServer dns({{"example.test", example_zone()}});
    asio::io_context io;
    SilentServer silent(io);
    ScriptedServer servfail(io, [](const ldns_pkt* q) { return Datagrams{make_answer(q, LDNS_RCODE_SERVFAIL)}; });
    DnsResolver resolver(io.get_executor(), options_for({silent.endpoint(), dns.endpoint(), servfail.endpoint()}, 200ms));
    auto r = run(io, resolver.resolve_mx("example.invalid"));
    CHECK(r.status == DnsStatus::Transient);
    CHECK(r.error == "DNS query for MX example.invalid timed out (" + silent.endpoint() + "), answered REFUSED (" +
                         dns.endpoint() + "), answered SERVFAIL (" + servfail.endpoint() + ")");
}

TEST_CASE("answers with another id or another question are not believed (RFC 5452)", "[dns][failure]") {
    asio::io_context io;
    auto forged = [](const ldns_pkt* q) {
        std::string name = "host.example.test.";
        return Datagrams{
            make_answer(q, LDNS_RCODE_NOERROR, name + " 60 IN A 192.0.2.66", static_cast<std::uint16_t>(ldns_pkt_id(q) + 1)),
            make_answer(q, LDNS_RCODE_NOERROR, "other.example.test. 60 IN A 192.0.2.66", {}, "other.example.test."),
            make_answer(q, LDNS_RCODE_NXDOMAIN, "", static_cast<std::uint16_t>(ldns_pkt_id(q) ^ 0x8000)),
        };
    };
    SECTION("the real answer behind the forgeries is the one used") {
        ScriptedServer server(io, [&](const ldns_pkt* q) {
            auto datagrams = forged(q);
            bool a = ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_question(q), 0)) == LDNS_RR_TYPE_A;
            datagrams.push_back(make_answer(q, LDNS_RCODE_NOERROR, a ? "host.example.test. 60 IN A 192.0.2.77" : ""));
            return datagrams;
        });
        DnsResolver resolver(io.get_executor(), options_for({server.endpoint()}, 500ms));
        auto r = run(io, resolver.resolve_address("host.example.test"));
        INFO(r.error);
        CHECK(r.status == DnsStatus::Ok);
        CHECK(texts(r.addresses) == Strings{"192.0.2.77"});
    }
    SECTION("forgeries alone are a timeout") {
        ScriptedServer server(io, forged);
        DnsResolver resolver(io.get_executor(), options_for({server.endpoint()}, 200ms));
        auto r = run(io, resolver.resolve_address("host.example.test"));
        CHECK(r.status == DnsStatus::Transient);
        CHECK(contains(r.error, "timed out"));
        CHECK(r.addresses.empty());
    }
}

TEST_CASE("no servers configured: every lookup is Transient and says so", "[dns][failure]") {
    asio::io_context io;
    DnsResolver resolver(io.get_executor(), DnsOptions{});
    auto r = run(io, resolver.resolve_mx("example.test"));
    CHECK(r.status == DnsStatus::Transient);
    CHECK(r.error == "DNS query for MX example.test failed (no DNS servers configured)");
}

// --- literals and names ------------------------------------------------------------------

TEST_CASE("address literals and IP addresses are answered without asking anyone", "[dns][literal]") {
    asio::io_context io;
    DnsResolver resolver(io.get_executor(), DnsOptions{});  // no servers: a query would fail
    auto v4 = run(io, resolver.resolve_mx("[192.0.2.1]"));
    REQUIRE(v4.status == DnsStatus::Ok);
    REQUIRE(v4.hosts.size() == 1);
    CHECK(v4.hosts[0].name == "[192.0.2.1]");
    CHECK(v4.hosts[0].implicit);
    CHECK(texts(v4.hosts[0].addresses) == Strings{"192.0.2.1"});
    auto v6 = run(io, resolver.resolve_mx("[IPv6:2001:db8::1]"));
    REQUIRE(v6.status == DnsStatus::Ok);
    CHECK(texts(v6.hosts.at(0).addresses) == Strings{"2001:db8::1"});

    for (std::string host : {"192.0.2.9", "2001:db8::9", "[2001:db8::9]", "[192.0.2.9]"}) {
        auto a = run(io, resolver.resolve_address(host));
        INFO(host);
        CHECK(a.status == DnsStatus::Ok);
        CHECK(a.addresses.size() == 1);
    }
}

TEST_CASE("a name that is not a domain name is refused before any query", "[dns][literal]") {
    asio::io_context io;
    DnsResolver resolver(io.get_executor(), DnsOptions{});
    for (const std::string& bad : std::vector<std::string>{"", ".", "a..example", "exa mple.com", "under\\dot.com", "[192.0.2.1", "[IPv6:192.0.2.1]",
                            std::string(64, 'a') + ".com"}) {
        INFO(bad);
        auto r = run(io, resolver.resolve_mx(bad));
        CHECK(r.status == DnsStatus::NoSuchDomain);
        CHECK(contains(r.error, "not a valid domain name"));
    }
}

// --- cache -------------------------------------------------------------------------------

TEST_CASE("a second lookup is answered by the cache, positive and negative", "[dns][cache]") {
    NsdServer dns({{"example.test", example_zone()}});
    asio::io_context io;
    DnsResolver resolver(io.get_executor(), options_for({dns.endpoint()}, 300ms));
    auto first = run(io, resolver.resolve_mx("order.example.test"));
    REQUIRE(first.status == DnsStatus::Ok);
    REQUIRE(run(io, resolver.resolve_mx("nosuch.example.test")).status == DnsStatus::NoSuchDomain);
    auto held = resolver.cache_size();
    CHECK(held == 8);  // MX order, A+AAAA of mx1..mx3, MX nosuch

    dns.stop();
    // Proof the server is gone: a resolver without a cache fails.
    DnsResolver fresh(io.get_executor(), options_for({dns.endpoint()}, 300ms));
    REQUIRE(run(io, fresh.resolve_mx("order.example.test")).status == DnsStatus::Transient);

    auto again = run(io, resolver.resolve_mx("order.example.test"));
    CHECK(again.status == DnsStatus::Ok);
    CHECK(names(again) == names(first));
    CHECK(run(io, resolver.resolve_mx("nosuch.example.test")).status == DnsStatus::NoSuchDomain);
    CHECK(resolver.cache_size() == held);

    resolver.set_options(options_for({dns.endpoint()}, 300ms));
    CHECK(resolver.cache_size() == 0);
    CHECK(run(io, resolver.resolve_mx("order.example.test")).status == DnsStatus::Transient);
}

TEST_CASE("an answer is kept for its TTL, a negative one for the SOA minimum, then asked again", "[dns][cache]") {
    const std::string soa = "$TTL 2\n@ IN SOA ns hostmaster 1 3600 600 86400 2\n@ IN NS ns\nns IN A 127.0.0.1\n";
    NsdServer dns({{"ttl.test", soa + "host IN A 127.0.0.10\n"}});
    asio::io_context io;
    DnsResolver resolver(io.get_executor(), options_for({dns.endpoint()}, 300ms));
    auto start = std::chrono::steady_clock::now();
    CHECK(texts(run(io, resolver.resolve_address("host.ttl.test")).addresses) == Strings{"127.0.0.10"});
    CHECK(run(io, resolver.resolve_address("new.ttl.test")).status == DnsStatus::NoSuchDomain);

    dns.stop();
    REQUIRE(std::chrono::steady_clock::now() - start < 2s);  // still within the TTL
    CHECK(texts(run(io, resolver.resolve_address("host.ttl.test")).addresses) == Strings{"127.0.0.10"});
    CHECK(run(io, resolver.resolve_address("new.ttl.test")).status == DnsStatus::NoSuchDomain);

    std::this_thread::sleep_until(start + 3s);
    dns.set_zone("ttl.test", soa + "host IN A 127.0.0.11\nnew IN A 127.0.0.12\n");
    CHECK(texts(run(io, resolver.resolve_address("host.ttl.test")).addresses) == Strings{"127.0.0.11"});
    CHECK(texts(run(io, resolver.resolve_address("new.ttl.test")).addresses) == Strings{"127.0.0.12"});
}

TEST_CASE("the cache holds at most cache_entries answers, the oldest leaving first", "[dns][cache]") {
    NsdServer dns({{"example.test", example_zone()}});
    asio::io_context io;
    auto options = options_for({dns.endpoint()}, 300ms);
    options.cache_entries = 3;
    DnsResolver resolver(io.get_executor(), options);
    for (std::string host : {"mx1.example.test", "mx2.example.test", "mx3.example.test"})
        REQUIRE(run(io, resolver.resolve_address(host)).status == DnsStatus::Ok);  // two answers each: A, AAAA
    CHECK(resolver.cache_size() == 3);
    dns.stop();
    CHECK(texts(run(io, resolver.resolve_address("mx3.example.test")).addresses) == Strings{"127.0.0.4", "::1"});
    CHECK(run(io, resolver.resolve_address("mx1.example.test")).status == DnsStatus::Transient);
}

TEST_CASE("many lookups at once on one resolver each get their own answer", "[dns][concurrency]") {
    NsdServer dns({{"example.test", example_zone()}});
    asio::io_context io;
    auto options = options_for({dns.endpoint()});
    options.cache_entries = 0;  // every lookup goes to the server
    DnsResolver resolver(io.get_executor(), options);
    struct Case {
        std::string domain;
        DnsStatus status;
        std::size_t hosts;
    };
    const std::vector<Case> cases = {{"order.example.test", DnsStatus::Ok, 3},     {"equal.example.test", DnsStatus::Ok, 3},
                                     {"implicit.example.test", DnsStatus::Ok, 1},  {"nosuch.example.test", DnsStatus::NoSuchDomain, 0},
                                     {"nullmx.example.test", DnsStatus::NullMx, 0}, {"skip.example.test", DnsStatus::Ok, 1}};
    std::vector<std::optional<MxResult>> results(60);
    for (std::size_t i = 0; i < results.size(); ++i)
        asio::co_spawn(io, resolver.resolve_mx(cases[i % cases.size()].domain), [&results, i](std::exception_ptr e, MxResult r) {
            if (!e) results[i] = std::move(r);
        });
    io.run_for(30s);
    for (std::size_t i = 0; i < results.size(); ++i) {
        const auto& c = cases[i % cases.size()];
        INFO(c.domain);
        REQUIRE(results[i]);
        CHECK(results[i]->status == c.status);
        CHECK(results[i]->hosts.size() == c.hosts);
    }
    CHECK(resolver.cache_size() == 0);
}

// --- TXT and MX names (SPF, DKIM, DMARC) -------------------------------------------

namespace {
// TXT records as SPF and DKIM publish them: one string, several strings, a 300-octet
// record (over one string's 255), and more records than we keep.
std::string txt_zone() {
    std::string z = R"(
spf       IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
spf       IN MX 10 mx1
split     IN TXT "v=spf1 " "ip4:192.0.2.1" " -all"
empty     IN TXT ""
aliased   IN CNAME spf
mx1       IN A 127.0.0.2
mxorder   IN MX 30 c.example.test.
mxorder   IN MX 10 a.example.test.
mxorder   IN MX 20 b.example.test.
nullmx    IN MX 0 .
addronly  IN A 127.0.0.5
_dmarc    IN TXT "v=DMARC1; p=none"
)";
    z += "long IN TXT \"" + std::string(255, 'a') + "\" \"" + std::string(45, 'b') + "\"\n";
    for (int i = 0; i < 70; ++i) z += "many IN TXT \"record " + std::to_string(i) + "\"\n";
    // 40 records of 250 octets: 10 KB, past what the cache keeps of a TXT answer.
    for (int i = 0; i < 40; ++i) z += "huge IN TXT \"" + std::to_string(100 + i) + std::string(247, 'h') + "\"\n";
    return z;
}
}  // namespace

TEST_CASE("a TXT record's strings come joined without separator, one string per record", "[dns][txt]") {
    NsdServer dns({{"example.test", txt_zone()}});
    asio::io_context io;
    DnsResolver resolver(io.get_executor(), options_for({dns.endpoint()}));
    auto one = run(io, resolver.resolve_txt("spf.example.test"));
    REQUIRE(one.status == DnsStatus::Ok);
    CHECK(one.texts == Strings{"v=spf1 ip4:192.0.2.0/24 -all"});
    auto split = run(io, resolver.resolve_txt("Split.Example.Test."));
    REQUIRE(split.status == DnsStatus::Ok);
    CHECK(split.texts == Strings{"v=spf1 ip4:192.0.2.1 -all"});
    auto longer = run(io, resolver.resolve_txt("long.example.test"));
    REQUIRE(longer.status == DnsStatus::Ok);
    CHECK(longer.texts == Strings{std::string(255, 'a') + std::string(45, 'b')});
    auto empty = run(io, resolver.resolve_txt("empty.example.test"));
    CHECK(empty.status == DnsStatus::Ok);
    CHECK(empty.texts == Strings{""});
    auto underscore = run(io, resolver.resolve_txt("_dmarc.example.test"));
    CHECK(underscore.texts == Strings{"v=DMARC1; p=none"});
    auto alias = run(io, resolver.resolve_txt("aliased.example.test"));
    CHECK(alias.texts == Strings{"v=spf1 ip4:192.0.2.0/24 -all"});
}

TEST_CASE("TXT lookups tell NXDOMAIN, no TXT and a failing server apart", "[dns][txt]") {
    NsdServer dns({{"example.test", txt_zone()}});
    asio::io_context io;
    DnsResolver resolver(io.get_executor(), options_for({dns.endpoint()}));
    auto gone = run(io, resolver.resolve_txt("nosuch.example.test"));
    CHECK(gone.status == DnsStatus::NoSuchDomain);
    CHECK(gone.error == "nosuch.example.test does not exist (NXDOMAIN)");
    auto nodata = run(io, resolver.resolve_txt("mx1.example.test"));
    CHECK(nodata.status == DnsStatus::NoData);
    CHECK(nodata.error == "mx1.example.test has no TXT record");
    CHECK(nodata.texts.empty());
    auto bad = run(io, resolver.resolve_txt("not a name"));
    CHECK(bad.status == DnsStatus::NoSuchDomain);

    ScriptedServer servfail(io, [](const ldns_pkt* q) { return Datagrams{make_answer(q, LDNS_RCODE_SERVFAIL)}; });
    DnsResolver failing(io.get_executor(), options_for({servfail.endpoint()}));
    auto t = run(io, failing.resolve_txt("spf.example.test"));
    CHECK(t.status == DnsStatus::Transient);
    CHECK(t.error == "DNS query for TXT spf.example.test answered SERVFAIL (" + servfail.endpoint() + ")");
}

TEST_CASE("a name with more TXT records than we keep gives the first 64 only", "[dns][txt]") {
    NsdServer dns({{"example.test", txt_zone()}});
    asio::io_context io;
    DnsResolver resolver(io.get_executor(), options_for({dns.endpoint()}));
    auto r = run(io, resolver.resolve_txt("many.example.test"));
    REQUIRE(r.status == DnsStatus::Ok);
    CHECK(r.texts.size() == 64);
    for (const auto& t : r.texts) CHECK(t.rfind("record ", 0) == 0);
}

TEST_CASE("TXT answers are cached by TTL like the other types", "[dns][txt][cache]") {
    NsdServer dns({{"example.test", txt_zone()}});
    asio::io_context io;
    DnsResolver resolver(io.get_executor(), options_for({dns.endpoint()}));
    CHECK(run(io, resolver.resolve_txt("spf.example.test")).status == DnsStatus::Ok);
    CHECK(run(io, resolver.resolve_txt("nosuch.example.test")).status == DnsStatus::NoSuchDomain);
    CHECK(resolver.cache_size() == 2);
    dns.stop();
    auto again = run(io, resolver.resolve_txt("spf.example.test"));
    CHECK(again.texts == Strings{"v=spf1 ip4:192.0.2.0/24 -all"});
    CHECK(run(io, resolver.resolve_txt("nosuch.example.test")).status == DnsStatus::NoSuchDomain);
}

TEST_CASE("a TXT answer over 8 KiB is answered but not cached", "[dns][txt][cache]") {
    NsdServer dns({{"example.test", txt_zone()}});
    asio::io_context io;
    DnsResolver resolver(io.get_executor(), options_for({dns.endpoint()}));
    auto r = run(io, resolver.resolve_txt("huge.example.test"));
    REQUIRE(r.status == DnsStatus::Ok);
    CHECK(r.texts.size() == 40);
    CHECK(resolver.cache_size() == 0);
}

TEST_CASE("MX names come by preference without addresses or an implicit MX", "[dns][mx][txt]") {
    NsdServer dns({{"example.test", txt_zone()}});
    asio::io_context io;
    DnsResolver resolver(io.get_executor(), options_for({dns.endpoint()}));
    auto r = run(io, resolver.resolve_mx_names("mxorder.example.test"));
    REQUIRE(r.status == DnsStatus::Ok);
    CHECK(r.names == Strings{"a.example.test", "b.example.test", "c.example.test"});  // none of them exists
    // RFC 7208 §5.4: a domain with only an A record has no MX names (no fallback).
    auto own = run(io, resolver.resolve_mx_names("addronly.example.test"));
    CHECK(own.status == DnsStatus::NoData);
    CHECK(own.names.empty());
    // A null MX is an MX RRset that names no host: Ok and empty, so not a void lookup.
    auto null = run(io, resolver.resolve_mx_names("nullmx.example.test"));
    CHECK(null.status == DnsStatus::Ok);
    CHECK(null.names.empty());
    CHECK(null.error == "nullmx.example.test accepts no mail (null MX, RFC 7505)");
    CHECK(run(io, resolver.resolve_mx_names("nosuch.example.test")).status == DnsStatus::NoSuchDomain);
}

// --- server lists ---------------------------------------------------------------------------

TEST_CASE("parse_dns_server reads addresses with and without a port", "[dns][servers]") {
    struct Row {
        const char* text;
        const char* address;  // nullptr: refused
        unsigned short port;
    };
    const Row rows[] = {
        {"192.0.2.1", "192.0.2.1", 53},
        {"127.0.0.1:5353", "127.0.0.1", 5353},
        {"2001:db8::1", "2001:db8::1", 53},
        {"[2001:db8::1]", "2001:db8::1", 53},
        {"[::1]:5353", "::1", 5353},
        {"[192.0.2.1]", "192.0.2.1", 53},
        {"127.0.0.1:65535", "127.0.0.1", 65535},
        {"", nullptr, 0},
        {"dns.example.com", nullptr, 0},
        {"192.0.2", nullptr, 0},
        {"192.0.2.256", nullptr, 0},
        {"127.0.0.1:", nullptr, 0},
        {"127.0.0.1:0", nullptr, 0},
        {"127.0.0.1:65536", nullptr, 0},
        {"127.0.0.1:53x", nullptr, 0},
        {"[::1", nullptr, 0},
        {"[::1]53", nullptr, 0},
        {"[::1]:", nullptr, 0},
        {"[]:53", nullptr, 0},
        {" 192.0.2.1", nullptr, 0},
        {"192.0.2.1 ", nullptr, 0},
    };
    for (const auto& row : rows) {
        INFO(row.text);
        auto e = parse_dns_server(row.text);
        if (row.address == nullptr) {
            CHECK_FALSE(e);
            continue;
        }
        REQUIRE(e);
        CHECK(e->address().to_string() == row.address);
        CHECK(e->port() == row.port);
    }
}

TEST_CASE("servers_from_resolv_conf reads the nameserver lines in order", "[dns][servers]") {
    edge::test::TempDir dir;
    std::ofstream(dir.sub("resolv.conf")) << "# written by a test\n"
                                          << "search example.test\n"
                                          << "nameserver 192.0.2.1\n"
                                          << "; nameserver 192.0.2.99\n"
                                          << "nameserver\tnot-an-address\n"
                                          << "nameserver 2001:db8::53\n"
                                          << "options timeout:1\n";
    auto servers = servers_from_resolv_conf(dir.sub("resolv.conf"));
    REQUIRE(servers.size() == 2);
    CHECK(endpoint_text(servers[0]) == "192.0.2.1:53");
    CHECK(endpoint_text(servers[1]) == "2001:db8::53:53");

    SECTION("no file, or no nameserver line: the local host, as the C library does") {
        CHECK(texts({servers_from_resolv_conf(dir.sub("missing")).at(0).address()}) == Strings{"127.0.0.1"});
        std::ofstream(dir.sub("empty.conf")) << "search example.test\n";
        auto local = servers_from_resolv_conf(dir.sub("empty.conf"));
        REQUIRE(local.size() == 1);
        CHECK(endpoint_text(local[0]) == "127.0.0.1:53");
    }
}

TEST_CASE("DnsStatus values have names for logs", "[dns]") {
    CHECK(to_string(DnsStatus::Ok) == "Ok");
    CHECK(to_string(DnsStatus::NoSuchDomain) == "NoSuchDomain");
    CHECK(to_string(DnsStatus::NoData) == "NoData");
    CHECK(to_string(DnsStatus::NullMx) == "NullMx");
    CHECK(to_string(DnsStatus::Transient) == "Transient");
}

// ---- AllowPrivateTargetAddresses (issue 13, weakness 11b) -----------------------------

TEST_CASE("addresses are sorted into public, private and internal scopes", "[dns][scope]") {
    const std::vector<std::pair<std::string, AddressScope>> table = {
        {"192.0.2.1", AddressScope::Public},       {"8.8.8.8", AddressScope::Public},
        {"172.15.255.255", AddressScope::Public},  {"172.32.0.1", AddressScope::Public},
        {"100.63.255.255", AddressScope::Public},  {"100.128.0.1", AddressScope::Public},
        {"2001:db8::1", AddressScope::Public},     {"2a00:1450::1", AddressScope::Public},
        {"10.0.0.1", AddressScope::Private},       {"172.16.0.1", AddressScope::Private},
        {"172.31.255.254", AddressScope::Private}, {"192.168.1.1", AddressScope::Private},
        {"100.64.0.1", AddressScope::Private},     {"100.127.255.254", AddressScope::Private},
        {"fc00::1", AddressScope::Private},        {"fd12:3456::1", AddressScope::Private},
        {"fec0::1", AddressScope::Private},        {"0.0.0.0", AddressScope::Internal},
        {"0.1.2.3", AddressScope::Internal},       {"127.0.0.1", AddressScope::Internal},
        {"127.255.0.13", AddressScope::Internal},  {"169.254.169.254", AddressScope::Internal},
        {"224.0.0.1", AddressScope::Internal},     {"239.255.255.250", AddressScope::Internal},
        {"240.0.0.1", AddressScope::Internal},     {"255.255.255.255", AddressScope::Internal},
        {"::", AddressScope::Internal},            {"::1", AddressScope::Internal},
        {"fe80::1", AddressScope::Internal},       {"febf::1", AddressScope::Internal},
        {"ff02::1", AddressScope::Internal},       {"::ffff:127.0.0.1", AddressScope::Internal},
        {"::ffff:10.1.2.3", AddressScope::Private}, {"::ffff:192.0.2.1", AddressScope::Public},
        {"::127.0.0.1", AddressScope::Internal},   {"64:ff9b::127.0.0.1", AddressScope::Internal},
        {"64:ff9b::a00:1", AddressScope::Private}, {"64:ff9b::c000:201", AddressScope::Public},
    };
    for (const auto& [text, scope] : table) {
        INFO(text);
        CHECK(address_scope(asio::ip::make_address(text)) == scope);
    }
}

TEST_CASE("target filtering drops refused addresses, then hosts left with none, and names them", "[dns][scope]") {
    auto host = [](std::string name, std::vector<std::string> addrs) {
        MxHost h;
        h.name = std::move(name);
        for (auto& a : addrs) h.addresses.push_back(asio::ip::make_address(a));
        return h;
    };
    const std::vector<MxHost> hosts = {host("loop.evil.test", {"127.0.0.1", "::1"}),
                                       host("lan.evil.test", {"10.1.2.3"}),
                                       host("mixed.evil.test", {"169.254.0.1", "192.0.2.7"})};
    SECTION("an internet-bound connector: internal and private refused") {
        auto h = hosts;
        auto why = filter_target_addresses(h, TargetAddressPolicy{false, false});
        REQUIRE(h.size() == 1);
        CHECK(h[0].name == "mixed.evil.test");
        CHECK(h[0].addresses == std::vector<asio::ip::address>{asio::ip::make_address("192.0.2.7")});
        CHECK(why ==
              "loop.evil.test [127.0.0.1 (internal), ::1 (internal)]; lan.evil.test [10.1.2.3 (private)]; "
              "mixed.evil.test [169.254.0.1 (internal)]");
    }
    SECTION("a connector for named domains: private allowed, internal refused") {
        auto h = hosts;
        auto why = filter_target_addresses(h, TargetAddressPolicy{false, true});
        REQUIRE(h.size() == 2);
        CHECK(h[0].name == "lan.evil.test");
        CHECK(why.find("10.1.2.3") == std::string::npos);
        CHECK(why.find("127.0.0.1 (internal)") != std::string::npos);
    }
    SECTION("AllowPrivateTargetAddresses: everything kept") {
        auto h = hosts;
        CHECK(filter_target_addresses(h, TargetAddressPolicy{true, true}).empty());
        CHECK(h.size() == 3);
    }
}
