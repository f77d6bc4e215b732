// SPF (transport/auth/spf*): the record parser, macro expansion and check_host() against
// an in-memory zone (tests/support/spf_zone.hpp), its DNS failures and its limits; and
// ResolverSpfDns against a real NSD on loopback.
#include "dns_server.hpp"
#include "spf.hpp"
#include "spf_dns.hpp"
#include "spf_record.hpp"
#include "spf_zone.hpp"

#include <catch2/catch.hpp>

using namespace edge;
using auth::Result;
using test::MemorySpfDns;
namespace spf = edge::auth::spf;

namespace {

auth::SpfOutcome check(MemorySpfDns& dns, const std::string& client, const std::string& sender) {
    auto task = auth::check_host(dns, auth::SpfRequest{boost::asio::ip::make_address(client), sender, "mail.example.org", "mx.receiver.test"});
    return test::run_now(std::move(task));
}

spf::MacroContext rfc_example(const std::string& client) {
    // RFC 7208 §7.4's example: strong-bad@email.example.com from 192.0.2.3 (or 2001:db8::cb01).
    spf::MacroContext c;
    c.sender = "strong-bad@email.example.com";
    c.local_part = "strong-bad";
    c.sender_domain = c.domain = "email.example.com";
    c.client = boost::asio::ip::make_address(client);
    c.helo = "mx.example.org";
    return c;
}

}  // namespace

// --- the record -----------------------------------------------------------------------

TEST_CASE("SPF records are told from other TXT records by \"v=spf1\" and a space", "[spf][record]") {
    CHECK(spf::is_spf_record("v=spf1"));
    CHECK(spf::is_spf_record("V=SPF1 -all"));
    CHECK_FALSE(spf::is_spf_record("v=spf10"));
    CHECK_FALSE(spf::is_spf_record("v=spf1-all"));
    CHECK_FALSE(spf::is_spf_record(" v=spf1 -all"));
    CHECK_FALSE(spf::is_spf_record("v=DMARC1; p=none"));
}

TEST_CASE("a record's directives and modifiers are read with their qualifiers and lengths", "[spf][record]") {
    auto p = spf::parse_record("v=spf1 ip4:192.0.2.0/24 -ip6:2001:db8::/32 ~a/26//64 ?mx:mail.%{d2} ptr include:_spf.example.com "
                               "exists:%{ir}.x.example.com redirect=_spf.example.net exp=why.%{d} future=%{l} +all");
    REQUIRE(p.record);
    const auto& d = p.record->directives;
    REQUIRE(d.size() == 8);
    CHECK((d[0].kind == spf::MechanismKind::Ip4 && d[0].qualifier == Result::Pass && d[0].cidr4 == 24));
    CHECK(d[0].network.to_string() == "192.0.2.0");
    CHECK((d[1].kind == spf::MechanismKind::Ip6 && d[1].qualifier == Result::Fail && d[1].cidr6 == 32));
    CHECK((d[2].kind == spf::MechanismKind::A && d[2].qualifier == Result::SoftFail && d[2].cidr4 == 26 && d[2].cidr6 == 64));
    CHECK(d[2].domain_spec.empty());
    CHECK((d[3].kind == spf::MechanismKind::Mx && d[3].qualifier == Result::Neutral && d[3].domain_spec == "mail.%{d2}"));
    CHECK(d[4].kind == spf::MechanismKind::Ptr);
    CHECK((d[5].kind == spf::MechanismKind::Include && d[5].domain_spec == "_spf.example.com"));
    CHECK(d[6].kind == spf::MechanismKind::Exists);
    CHECK((d[7].kind == spf::MechanismKind::All && d[7].text == "+all"));
    CHECK(p.record->redirect == "_spf.example.net");
    CHECK(p.record->exp == "why.%{d}");
}

TEST_CASE("any syntax error anywhere makes the record a PermError (RFC 7208 4.6)", "[spf][record]") {
    for (const char* bad : {
             "v=spf1 foo",                        // unknown mechanism
             "v=spf1 all:x.example.com",          // all takes nothing
             "v=spf1 include",                    // include needs a domain
             "v=spf1 ip4:192.0.2.0/33",           // length over 32
             "v=spf1 ip4:192.0.2.0/024",          // leading zero
             "v=spf1 ip6:2001:db8::/129",
             "v=spf1 ip4:2001:db8::1",            // wrong family
             "v=spf1 ip6:192.0.2.1",
             "v=spf1 a:example.com/24//129",
             "v=spf1 a:museum",                   // one label: no "." toplabel
             "v=spf1 a:example.123",              // numeric top label
             "v=spf1 a:%{x}.example.com",         // unknown macro letter
             "v=spf1 a:%{d0}.example.com",        // zero parts
             "v=spf1 exists:%{t}.example.com",    // t only in exp (7.2)
             "v=spf1 a:%.example.com",            // a lone '%'
             "v=spf1 redirect=a.example.com redirect=b.example.com",
             "v=spf1 exp=a.example.com exp=b.example.com",
             "v=spf1 -all\tip4:192.0.2.1",        // a tab is not a separator
             "v=spf1 a:caf\xc3\xa9.example.com",  // not ASCII
             "v=spf1 future=%{q}",                // unknown modifiers must still be macro-strings
         }) {
        INFO(bad);
        auto p = spf::parse_record(bad);
        CHECK_FALSE(p.record);
        CHECK_FALSE(p.problem.empty());
    }
}

// --- macros --------------------------------------------------------------------------

TEST_CASE("macros expand as the examples of RFC 7208 7.4", "[spf][macro]") {
    const auto c = rfc_example("192.0.2.3");
    const std::pair<const char*, const char*> table[] = {
        {"%{s}", "strong-bad@email.example.com"},
        {"%{o}", "email.example.com"},
        {"%{d}", "email.example.com"},
        {"%{d4}", "email.example.com"},
        {"%{d3}", "email.example.com"},
        {"%{d2}", "example.com"},
        {"%{d1}", "com"},
        {"%{dr}", "com.example.email"},
        {"%{d2r}", "example.email"},
        {"%{l}", "strong-bad"},
        {"%{l-}", "strong.bad"},
        {"%{lr}", "strong-bad"},
        {"%{lr-}", "bad.strong"},
        {"%{l1r-}", "strong"},
        {"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
        {"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
        {"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
        {"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
        {"%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
        {"%%%_%-", "% %20"},
    };
    for (const auto& [macro, wanted] : table) {
        INFO(macro);
        CHECK(spf::expand(macro, c, spf::MacroUse::DomainSpec) == wanted);
    }
    CHECK(spf::expand("%{ir}.%{v}._spf.%{d2}", rfc_example("2001:db8::cb01"), spf::MacroUse::DomainSpec) ==
          "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
}

TEST_CASE("explanations may use c, r and t, and upper-case macros are URL-escaped", "[spf][macro]") {
    auto c = rfc_example("2001:db8::cb01");
    c.timestamp = 1234;
    CHECK(spf::expand("%{c} via %{r} at %{t}", c, spf::MacroUse::Explanation) == "2001:db8::cb01 via unknown at 1234");
    CHECK_FALSE(spf::expand("%{c}", c, spf::MacroUse::DomainSpec));
    c.local_part = "~jack&jill=up";
    CHECK(spf::expand("%{L}", c, spf::MacroUse::Explanation) == "~jack%26jill%3Dup");
    // An IPv4-mapped client is IPv4 (RFC 7208 5).
    c.client = boost::asio::ip::make_address("::ffff:192.0.2.3");
    CHECK(spf::expand("%{i} %{v} %{c}", c, spf::MacroUse::Explanation) == "192.0.2.3 in-addr 192.0.2.3");
}

TEST_CASE("an expanded name over 253 octets loses labels from the left", "[spf][macro]") {
    std::string name;
    for (int i = 0; i < 30; ++i) name += "label" + std::to_string(i) + ".";
    name += "example.com";
    const std::string fitted = spf::fit_domain(name);
    CHECK(fitted.size() <= 253);
    CHECK(fitted.ends_with(".example.com"));
    CHECK(name.ends_with(fitted));
    CHECK(spf::fit_domain("example.com.") == "example.com");
}

// --- check_host --------------------------------------------------------------------

TEST_CASE("the first matching mechanism's qualifier is the result, and it is named", "[spf][check]") {
    MemorySpfDns dns;
    dns.txt("example.com", "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a:mail.example.com/31 ~all")
        .txt("example.com", "some other TXT")
        .a("mail.example.com", "198.51.100.10");
    auto pass = check(dns, "192.0.2.77", "alice@example.com");
    CHECK(pass.result == Result::Pass);
    CHECK(pass.mechanism == "ip4:192.0.2.0/24");
    CHECK(pass.domain == "example.com");
    CHECK(check(dns, "2001:db8:1::1", "alice@example.com").result == Result::Pass);
    CHECK(check(dns, "::ffff:192.0.2.1", "alice@example.com").result == Result::Pass);
    auto a = check(dns, "198.51.100.11", "alice@Example.COM");
    CHECK(a.result == Result::Pass);
    CHECK(a.mechanism == "a:mail.example.com/31");
    auto soft = check(dns, "203.0.113.1", "alice@example.com");
    CHECK(soft.result == Result::SoftFail);
    CHECK(soft.mechanism == "~all");
}

TEST_CASE("no record, a missing domain and a non-domain are None, two records are PermError", "[spf][check]") {
    MemorySpfDns dns;
    dns.txt("plain.example", "just text").txt("two.example", "v=spf1 -all").txt("two.example", "v=spf1 +all");
    CHECK(check(dns, "192.0.2.1", "a@plain.example").result == Result::None);
    CHECK(check(dns, "192.0.2.1", "a@nosuch.example").result == Result::None);
    CHECK(check(dns, "192.0.2.1", "a@localhost").result == Result::None);
    CHECK(check(dns, "192.0.2.1", "a@[192.0.2.1]").result == Result::None);
    auto two = check(dns, "192.0.2.1", "a@two.example");
    CHECK(two.result == Result::PermError);
    CHECK(two.problem == "two.example publishes more than one SPF record");
}

TEST_CASE("a timeout or SERVFAIL is TempError, and says so", "[spf][check][failure]") {
    MemorySpfDns dns;
    dns.timeout("slow.example").servfail("broken.example");
    dns.txt("inc.example", "v=spf1 include:slow.example -all");
    dns.txt("a.example", "v=spf1 a:broken.example -all");
    auto slow = check(dns, "192.0.2.1", "a@slow.example");
    CHECK(slow.result == Result::TempError);
    CHECK(slow.problem == "DNS query for TXT slow.example timed out (memory)");
    CHECK(check(dns, "192.0.2.1", "a@inc.example").result == Result::TempError);
    CHECK(check(dns, "192.0.2.1", "a@a.example").result == Result::TempError);
}

TEST_CASE("include matches only on Pass, and a target without a record is PermError", "[spf][check]") {
    MemorySpfDns dns;
    dns.txt("example.com", "v=spf1 include:_spf.example.net -all").txt("_spf.example.net", "v=spf1 ip4:192.0.2.1 ~all");
    dns.txt("none.example", "v=spf1 include:nothing.example +all");
    CHECK(check(dns, "192.0.2.1", "a@example.com").result == Result::Pass);
    CHECK(check(dns, "192.0.2.2", "a@example.com").result == Result::Fail);  // the include's ~all is no match
    CHECK(check(dns, "192.0.2.2", "a@none.example").result == Result::PermError);
}

TEST_CASE("mx uses the MX names only, never the domain's own address (RFC 7208 5.4)", "[spf][check]") {
    MemorySpfDns dns;
    dns.txt("example.com", "v=spf1 mx -all").a("example.com", "192.0.2.1");
    CHECK(check(dns, "192.0.2.1", "a@example.com").result == Result::Fail);
    dns.mx("example.com", 10, "mx.example.com").a("mx.example.com", "192.0.2.9");
    CHECK(check(dns, "192.0.2.9", "a@example.com").result == Result::Pass);
}

TEST_CASE("more than 10 MX names is PermError", "[spf][check][limits]") {
    MemorySpfDns dns;
    dns.txt("example.com", "v=spf1 mx -all");
    for (int i = 0; i < 11; ++i) dns.mx("example.com", i, "mx" + std::to_string(i) + ".example.com").a("mx" + std::to_string(i) + ".example.com", "192.0.2.9");
    CHECK(check(dns, "192.0.2.9", "a@example.com").result == Result::PermError);
}

TEST_CASE("more than 10 DNS mechanisms is PermError, counted across includes", "[spf][check][limits]") {
    MemorySpfDns dns;
    std::string record = "v=spf1";
    for (int i = 0; i < 6; ++i) record += " a:h" + std::to_string(i) + ".example.com";
    dns.txt("example.com", record + " include:inc.example.com -all");
    dns.txt("inc.example.com", "v=spf1 a:h6.example.com a:h7.example.com a:h8.example.com a:h9.example.com ip4:192.0.2.1 -all");
    for (int i = 0; i < 10; ++i) dns.a("h" + std::to_string(i) + ".example.com", "198.51.100.1");
    // 6 + include + 3 = 10 lookups: still allowed.
    CHECK(check(dns, "198.51.100.1", "a@example.com").result == Result::Pass);
    // The 10th of the include's: 11 in all.
    auto over = check(dns, "192.0.2.1", "a@example.com");
    CHECK(over.result == Result::PermError);
    CHECK(over.problem == "more than 10 DNS lookups (at \"a:h9.example.com\")");
    CHECK(dns.queries() < 40);
}

TEST_CASE("a third lookup that finds nothing is PermError (void lookups)", "[spf][check][limits]") {
    MemorySpfDns dns;
    dns.txt("example.com", "v=spf1 a:n1.example.com exists:n2.example.com ip4:192.0.2.1 a:n3.example.com -all");
    dns.txt("two.example", "v=spf1 a:n1.example.com exists:n2.example.com -all");
    CHECK(check(dns, "192.0.2.1", "a@example.com").result == Result::Pass);  // two voids, then a match
    CHECK(check(dns, "192.0.2.2", "a@example.com").result == Result::PermError);
    CHECK(check(dns, "192.0.2.2", "a@two.example").result == Result::Fail);
}

TEST_CASE("ptr validates at most 10 names, and a PTR failure is no match", "[spf][check][limits]") {
    MemorySpfDns dns;
    dns.txt("example.com", "v=spf1 ptr -all");
    for (int i = 0; i < 10; ++i) dns.ptr("192.0.2.1", "other" + std::to_string(i) + ".example.net").a("other" + std::to_string(i) + ".example.net", "192.0.2.1");
    dns.ptr("192.0.2.1", "mail.example.com").a("mail.example.com", "192.0.2.1");
    CHECK(check(dns, "192.0.2.1", "a@example.com").result == Result::Fail);  // the 11th name is never looked at
    CHECK(dns.asked().count("A mail.example.com") == 0);
    MemorySpfDns ok;
    ok.txt("example.com", "v=spf1 ptr -all").ptr("192.0.2.1", "mail.example.com").a("mail.example.com", "192.0.2.1");
    CHECK(check(ok, "192.0.2.1", "a@example.com").result == Result::Pass);
    MemorySpfDns failing;
    failing.txt("example.com", "v=spf1 ptr ?all").servfail(MemorySpfDns::reverse_zone_name(boost::asio::ip::make_address("192.0.2.1")));
    CHECK(check(failing, "192.0.2.1", "a@example.com").result == Result::Neutral);
}

TEST_CASE("redirect takes the target's result, and no record there is PermError", "[spf][check]") {
    MemorySpfDns dns;
    dns.txt("example.com", "v=spf1 redirect=_spf.example.net").txt("_spf.example.net", "v=spf1 ip4:192.0.2.1 -all");
    dns.txt("lost.example", "v=spf1 redirect=nothing.example");
    dns.txt("neutral.example", "v=spf1 ip4:192.0.2.9");
    auto r = check(dns, "192.0.2.1", "a@example.com");
    CHECK(r.result == Result::Pass);
    CHECK(r.domain == "example.com");
    CHECK(check(dns, "192.0.2.2", "a@example.com").result == Result::Fail);
    CHECK(check(dns, "192.0.2.2", "a@lost.example").result == Result::PermError);
    CHECK(check(dns, "192.0.2.2", "a@neutral.example").result == Result::Neutral);
}

TEST_CASE("exp= explains a Fail, and a failing exp is no explanation, not an error (RFC 7208 6.2)", "[spf][check][exp]") {
    MemorySpfDns dns;
    dns.txt("example.com", "v=spf1 -ip4:192.0.2.1 ~all exp=why.example.com").txt("why.example.com", "%{i} may not send for %{d} (%{l})");
    dns.txt("bad.example", "v=spf1 -all exp=why.bad.example").txt("why.bad.example", "%{x}");
    dns.txt("two.example", "v=spf1 -all exp=why.two.example").txt("why.two.example", "one").txt("why.two.example", "two");
    dns.txt("slow.example", "v=spf1 -all exp=why.slow.example").timeout("why.slow.example");
    auto fail = check(dns, "192.0.2.1", "@example.com");
    CHECK(fail.result == Result::Fail);
    CHECK(fail.explanation == "192.0.2.1 may not send for example.com (postmaster)");
    CHECK(check(dns, "192.0.2.2", "a@example.com").explanation.empty());  // SoftFail: no explanation
    CHECK(check(dns, "192.0.2.1", "j\xc3\xb6rg@example.com").explanation.empty());  // not ASCII once expanded
    for (const char* domain : {"bad.example", "two.example", "slow.example"}) {
        auto r = check(dns, "192.0.2.1", std::string("a@") + domain);
        CHECK(r.result == Result::Fail);
        CHECK(r.explanation.empty());
    }
}

TEST_CASE("check_spf checks MAIL FROM, or postmaster@HELO for the null reverse path", "[spf][check]") {
    MemorySpfDns dns;
    dns.txt("example.com", "v=spf1 ip4:192.0.2.1 -all").txt("mail.example.org", "v=spf1 -all");
    const auto client = boost::asio::ip::make_address("192.0.2.1");
    auto from = test::run_now(auth::check_spf(dns, client, "alice@example.com", "mail.example.org", ""));
    CHECK(from.identity == "smtp.mailfrom");
    CHECK(from.outcome.result == Result::Pass);
    auto helo = test::run_now(auth::check_spf(dns, client, "", "mail.example.org", ""));
    CHECK(helo.identity == "smtp.helo");
    CHECK(helo.outcome.result == Result::Fail);
    CHECK(helo.outcome.domain == "mail.example.org");
}

// --- the resolver adapter ----------------------------------------------------------

TEST_CASE("ResolverSpfDns evaluates a policy through the real resolver (NSD on loopback)", "[spf][dns]") {
    test::NsdServer nsd(std::vector<test::DnsZone>{{"example.test", R"(
@         IN TXT "v=spf1 mx:example.test/30 include:_spf.example.test " "-all"
@         IN MX 10 mx
mx        IN A 192.0.2.8
_spf      IN TXT "v=spf1 ip6:2001:db8::/64 a:v6host.example.test ?all"
v6host    IN AAAA 2001:db8:1::5
)"}});
    boost::asio::io_context io;
    dns::DnsOptions options;
    options.servers.push_back(*dns::parse_dns_server(nsd.endpoint()));
    dns::DnsResolver resolver(io.get_executor(), options);
    auth::ResolverSpfDns adapter(resolver);
    auto run = [&](const char* client) {
        std::optional<auth::SpfOutcome> out;
        boost::asio::co_spawn(io, auth::check_host(adapter, {boost::asio::ip::make_address(client), "a@example.test", "h.example.test", ""}),
                              [&](std::exception_ptr e, auth::SpfOutcome o) {
                                  if (e) std::rethrow_exception(e);
                                  out = std::move(o);
                              });
        io.restart();
        io.run();
        REQUIRE(out);
        return *out;
    };
    auto mx = run("192.0.2.10");
    CHECK(mx.result == Result::Pass);
    CHECK(mx.mechanism == "mx:example.test/30");
    CHECK(run("2001:db8::1").result == Result::Pass);
    CHECK(run("2001:db8:1::5").result == Result::Pass);  // a: asks AAAA for an IPv6 client
    auto fail = run("192.0.2.100");
    CHECK(fail.result == Result::Fail);
    CHECK(fail.mechanism == "-all");
}
