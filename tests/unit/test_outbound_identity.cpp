// Our outbound identity (Test-SendConnector, issue 17): the judgement of what DNS says
// about a source address — PTR, forward confirmation, the EHLO name — and its hints.
#include "outbound_identity.hpp"

#include <catch2/catch.hpp>

using namespace edge;
using boost::asio::ip::make_address;

namespace {
send::IdentityFacts facts(const char* address, const char* fqdn) {
    send::IdentityFacts f;
    f.address = make_address(address);
    f.expected_fqdn = fqdn;
    return f;
}
dns::NameResult names(std::vector<std::string> n) {
    dns::NameResult r;
    r.status = dns::DnsStatus::Ok;
    r.names = std::move(n);
    return r;
}
dns::AddressResult addresses(std::vector<const char*> a) {
    dns::AddressResult r;
    r.status = dns::DnsStatus::Ok;
    for (auto* s : a) r.addresses.push_back(make_address(s));
    return r;
}
}  // namespace

TEST_CASE("a PTR that forward-confirms and is the Fqdn passes, in any case and with a trailing dot",
          "[send][identity]") {
    auto f = facts("192.0.2.10", "Mail.Contoso.test.");
    f.ptr = names({"mail.contoso.test"});
    f.forward = {{"mail.contoso.test", addresses({"192.0.2.9", "192.0.2.10"})}};
    auto r = send::judge_identity(f);
    CHECK(r.ok());
    CHECK(r.has_ptr);
    CHECK(r.forward_confirmed);
    CHECK(r.matches_fqdn);
    CHECK(r.ptr_name == "mail.contoso.test");
}

TEST_CASE("a PTR name other than the Fqdn is a problem with a hint naming both", "[send][identity]") {
    auto f = facts("192.0.2.11", "mail.contoso.test");
    f.ptr = names({"host-11.isp.test"});
    f.forward = {{"host-11.isp.test", addresses({"192.0.2.11"})}};
    auto r = send::judge_identity(f);
    CHECK(r.forward_confirmed);
    CHECK_FALSE(r.matches_fqdn);
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].find("host-11.isp.test is not the name we say in EHLO (mail.contoso.test)") != std::string::npos);
    CHECK(r.problems[0].find("-Fqdn host-11.isp.test") != std::string::npos);
}

TEST_CASE("no PTR, a PTR that does not lead back, and a failed lookup are each told apart", "[send][identity]") {
    auto none = facts("192.0.2.12", "mail.contoso.test");
    none.ptr.status = dns::DnsStatus::NoSuchDomain;
    auto r = send::judge_identity(none);
    CHECK_FALSE(r.has_ptr);
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].find("has no PTR record") != std::string::npos);
    CHECK(r.problems[0].find("12.2.0.192.in-addr.arpa -> mail.contoso.test") != std::string::npos);

    auto stray = facts("192.0.2.13", "mail.contoso.test");
    stray.ptr = names({"mail.contoso.test"});
    stray.forward = {{"mail.contoso.test", addresses({"192.0.2.99"})}};
    r = send::judge_identity(stray);
    CHECK(r.matches_fqdn);
    CHECK_FALSE(r.forward_confirmed);
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].find("does not lead back to 192.0.2.13") != std::string::npos);

    auto failed = facts("192.0.2.14", "mail.contoso.test");
    failed.ptr.status = dns::DnsStatus::Transient;
    failed.ptr.error = "timed out";
    r = send::judge_identity(failed);
    CHECK(r.dns_failed);
    CHECK_FALSE(r.ok());
}

TEST_CASE("of several PTR names the one that confirms counts, and an IPv4-mapped address is its IPv4 address",
          "[send][identity]") {
    auto f = facts("::ffff:192.0.2.15", "mail.contoso.test");
    f.ptr = names({"other.test", "mail.contoso.test"});
    f.forward = {{"other.test", addresses({"192.0.2.1"})}, {"mail.contoso.test", addresses({"192.0.2.15"})}};
    auto r = send::judge_identity(f);
    CHECK(r.ok());
    CHECK(r.ptr_name == "mail.contoso.test");
}
