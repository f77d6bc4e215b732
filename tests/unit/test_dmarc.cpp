// DMARC (RFC 7489): Organizational Domains from Debian's Public Suffix List, record
// parsing, discovery, alignment, sp= and pct=, and the author domains of §6.6.1.
#include "dmarc.hpp"

#include <catch2/catch.hpp>

using namespace edge::auth;
using Status = DmarcTxtLookup::Status;

namespace {

DmarcTxtLookup answered(std::vector<std::string> texts) { return {Status::Answered, std::move(texts)}; }
DmarcTxtLookup nothing() { return {Status::NoRecords, {}}; }
DmarcTxtLookup temp_error() { return {Status::TempError, {}}; }

DmarcInput input(std::string from, std::vector<DmarcTxtLookup> lookups) {
    DmarcInput in;
    in.from_domain = std::move(from);
    in.lookups = std::move(lookups);
    return in;
}

}  // namespace

TEST_CASE("the Organizational Domain is one label below the public suffix") {
    CHECK(organizational_domain("mail.example.co.uk") == "example.co.uk");
    CHECK(organizational_domain("a.b.example.com") == "example.com");
    CHECK(organizational_domain("example.com") == "example.com");
    CHECK(organizational_domain("Mail.Example.COM.") == "example.com");
    CHECK(organizational_domain("x.y.example.com.au") == "example.com.au");
    // A public suffix stands for itself.
    CHECK(organizational_domain("co.uk") == "co.uk");
    CHECK(organizational_domain("com") == "com");
    // A top-level domain the list does not know falls under its implicit "*" rule.
    CHECK(organizational_domain("a.b.example.invalidtld") == "example.invalidtld");
    // A-labels are looked up as written (.рф is xn--p1ai).
    CHECK(organizational_domain("mail.xn--80ak6aa92e.xn--p1ai") == "xn--80ak6aa92e.xn--p1ai");
    CHECK(organizational_domain("").empty());
}

TEST_CASE("the discovery plan asks the author domain, then its Organizational Domain") {
    CHECK(dmarc_query_names("mail.example.co.uk") ==
          std::vector<std::string>{"_dmarc.mail.example.co.uk", "_dmarc.example.co.uk"});
    CHECK(dmarc_query_names("example.com") == std::vector<std::string>{"_dmarc.example.com"});
}

TEST_CASE("a DMARC record is read per RFC 7489 section 6.3") {
    auto r = parse_dmarc_record("v=DMARC1; p=reject; sp=quarantine; pct=25; adkim=s; aspf=r; "
                                "rua=mailto:agg@example.com,mailto:b@example.net!10m; ruf=mailto:f@example.com; "
                                "fo=1; rf=afrf; ri=86400; future=whatever");
    REQUIRE(r.record);
    CHECK(r.record->policy == DmarcPolicy::Reject);
    CHECK(r.record->subdomain_policy == DmarcPolicy::Quarantine);
    CHECK(r.record->percent == 25);
    CHECK(r.record->dkim_alignment == AlignmentMode::Strict);
    CHECK(r.record->spf_alignment == AlignmentMode::Relaxed);
    CHECK(r.record->aggregate_report_uris ==
          std::vector<std::string>{"mailto:agg@example.com", "mailto:b@example.net!10m"});
    CHECK(r.record->failure_report_uris == std::vector<std::string>{"mailto:f@example.com"});
    CHECK(r.record->ignored_tags.empty());

    SECTION("defaults") {
        auto d = parse_dmarc_record("v=DMARC1;p=none");
        REQUIRE(d.record);
        CHECK(d.record->percent == 100);
        CHECK(d.record->policy_for_subdomains() == DmarcPolicy::None);
        CHECK_FALSE(d.record->subdomain_policy);
        CHECK(d.record->dkim_alignment == AlignmentMode::Relaxed);
    }
    SECTION("white space, case and a trailing separator") {
        auto d = parse_dmarc_record("v = DMARC1 ;\tP = Quarantine ; ");
        REQUIRE(d.record);
        CHECK(d.record->policy == DmarcPolicy::Quarantine);
    }
    SECTION("v=DMARC1 must come first and match exactly") {
        CHECK_FALSE(parse_dmarc_record("p=reject; v=DMARC1").record);
        CHECK_FALSE(parse_dmarc_record("v=dmarc1; p=reject").record);
        CHECK_FALSE(parse_dmarc_record("v=DMARC10; p=reject").record);
        CHECK_FALSE(parse_dmarc_record("v=spf1 -all").record);
        CHECK_FALSE(parse_dmarc_record("").record);
    }
    SECTION("no or an invalid p= is no record, unless rua= names a valid URI (6.6.3)") {
        CHECK(parse_dmarc_record("v=DMARC1; rua=mailto:a@example.com").record);
        auto bad = parse_dmarc_record("v=DMARC1; p=bounce");
        CHECK_FALSE(bad.record);
        CHECK(bad.error == "p= is not none, quarantine or reject");
        CHECK(parse_dmarc_record("v=DMARC1").error == "no p= tag");
        CHECK_FALSE(parse_dmarc_record("v=DMARC1; p=bounce; rua=not a uri").record);
        auto with_rua = parse_dmarc_record("v=DMARC1; p=bounce; rua=mailto:a@example.com");
        REQUIRE(with_rua.record);
        CHECK(with_rua.record->policy == DmarcPolicy::None);
        CHECK(with_rua.record->policy_defaulted);
        auto bad_sp = parse_dmarc_record("v=DMARC1; p=reject; sp=maybe; rua=mailto:a@example.com");
        REQUIRE(bad_sp.record);
        CHECK(bad_sp.record->policy == DmarcPolicy::None);
        CHECK_FALSE(parse_dmarc_record("v=DMARC1; p=reject; sp=maybe").record);
    }
    SECTION("a p= given twice counts as invalid") {
        CHECK_FALSE(parse_dmarc_record("v=DMARC1; p=none; p=reject").record);
        // A rua= given twice is no rua=, so it cannot stand in for the broken p=.
        CHECK_FALSE(parse_dmarc_record("v=DMARC1; p=none; p=reject; rua=mailto:a@example.com; "
                                       "rua=mailto:b@example.com").record);
        auto twice = parse_dmarc_record("v=DMARC1; p=reject; rua=mailto:a@example.com; rua=mailto:b@example.com");
        REQUIRE(twice.record);
        CHECK(twice.record->aggregate_report_uris.empty());
    }
    SECTION("an invalid pct=, adkim= or aspf= falls back to its default") {
        auto d = parse_dmarc_record("v=DMARC1; p=reject; pct=101; adkim=x; aspf=");
        REQUIRE(d.record);
        CHECK(d.record->percent == 100);
        CHECK(d.record->dkim_alignment == AlignmentMode::Relaxed);
        CHECK(d.record->ignored_tags == std::vector<std::string>{"pct", "adkim", "aspf"});
        auto zero = parse_dmarc_record("v=DMARC1; p=reject; pct=0");
        REQUIRE(zero.record);
        CHECK(zero.record->percent == 0);
        CHECK(parse_dmarc_record("v=DMARC1; p=reject; pct=-5").record->percent == 100);
    }
    SECTION("a record over 4096 octets is refused") {
        CHECK_FALSE(parse_dmarc_record("v=DMARC1; p=reject; x=" + std::string(5000, 'a')).record);
    }
}

TEST_CASE("DMARC passes on an aligned SPF or DKIM pass, relaxed or strict") {
    auto in = input("example.com", {answered({"v=DMARC1; p=reject"})});

    SECTION("relaxed SPF: a subdomain of the same Organizational Domain aligns") {
        in.spf_result = Result::Pass;
        in.spf_domain = "bounces.example.com";
        auto o = evaluate_dmarc(in);
        CHECK(o.result == Result::Pass);
        CHECK(o.spf_aligned);
        CHECK_FALSE(o.dkim_aligned);
        CHECK(o.applied_policy == DmarcPolicy::None);
        CHECK(o.header_from == "example.com");
        CHECK(o.policy_domain == "example.com");
    }
    SECTION("strict SPF: only the same domain aligns") {
        in.lookups = {answered({"v=DMARC1; p=reject; aspf=s"})};
        in.spf_result = Result::Pass;
        in.spf_domain = "bounces.example.com";
        auto o = evaluate_dmarc(in);
        CHECK(o.result == Result::Fail);
        CHECK(o.spf_mode == AlignmentMode::Strict);
        CHECK(o.applied_policy == DmarcPolicy::Reject);
        in.spf_domain = "EXAMPLE.com";
        CHECK(evaluate_dmarc(in).result == Result::Pass);
    }
    SECTION("SPF that did not pass never aligns") {
        in.spf_result = Result::SoftFail;
        in.spf_domain = "example.com";
        CHECK(evaluate_dmarc(in).result == Result::Fail);
    }
    SECTION("relaxed DKIM: any passing signature of the Organizational Domain") {
        in.dkim = {{Result::Fail, "example.com"}, {Result::Pass, "other.example"}, {Result::Pass, "mail.example.com"}};
        auto o = evaluate_dmarc(in);
        CHECK(o.result == Result::Pass);
        CHECK(o.dkim_aligned);
        CHECK(o.aligned_dkim_domain == "mail.example.com");
    }
    SECTION("strict DKIM: a subdomain's signature does not align") {
        in.lookups = {answered({"v=DMARC1; p=quarantine; adkim=s"})};
        in.dkim = {{Result::Pass, "mail.example.com"}};
        auto o = evaluate_dmarc(in);
        CHECK(o.result == Result::Fail);
        CHECK(o.applied_policy == DmarcPolicy::Quarantine);
        in.dkim.push_back({Result::Pass, "example.com"});
        CHECK(evaluate_dmarc(in).result == Result::Pass);
    }
    SECTION("a different Organizational Domain never aligns, even under co.uk") {
        in.from_domain = "a.example.co.uk";
        in.lookups = {answered({"v=DMARC1; p=reject"})};
        in.dkim = {{Result::Pass, "other.co.uk"}, {Result::Pass, "co.uk"}};
        CHECK(evaluate_dmarc(in).result == Result::Fail);
        in.dkim = {{Result::Pass, "b.example.co.uk"}};
        CHECK(evaluate_dmarc(in).result == Result::Pass);
    }
}

TEST_CASE("p= applies to the author domain, sp= to a subdomain through the Organizational Domain") {
    SECTION("mail.example.co.uk takes sp= of example.co.uk's record") {
        auto in = input("mail.example.co.uk", {nothing(), answered({"v=DMARC1; p=none; sp=reject"})});
        auto o = evaluate_dmarc(in);
        CHECK(o.result == Result::Fail);
        CHECK(o.policy_domain == "example.co.uk");
        CHECK(o.requested_policy == DmarcPolicy::None);
        CHECK(o.requested_subdomain_policy == DmarcPolicy::Reject);
        CHECK(o.applied_policy == DmarcPolicy::Reject);
    }
    SECTION("without sp= the subdomain gets p=") {
        auto o = evaluate_dmarc(input("mail.example.co.uk", {nothing(), answered({"v=DMARC1; p=quarantine"})}));
        CHECK(o.applied_policy == DmarcPolicy::Quarantine);
    }
    SECTION("a subdomain's own record uses its p=, not sp=") {
        auto o = evaluate_dmarc(input("mail.example.co.uk", {answered({"v=DMARC1; p=none; sp=reject"})}));
        CHECK(o.policy_domain == "mail.example.co.uk");
        CHECK(o.applied_policy == DmarcPolicy::None);
        CHECK(o.result == Result::Fail);
    }
    SECTION("TXT records that are not DMARC are discarded before counting") {
        auto o = evaluate_dmarc(
            input("mail.example.co.uk", {answered({"v=spf1 -all", "hello"}), answered({"v=DMARC1; p=reject"})}));
        CHECK(o.policy_domain == "example.co.uk");
        CHECK(o.applied_policy == DmarcPolicy::Reject);
    }
}

TEST_CASE("pct= samples failing messages, stepping the policy down one level outside the sample") {
    auto in = input("example.com", {answered({"v=DMARC1; p=reject; pct=30"})});
    in.percent_draw = 29;
    auto sampled = evaluate_dmarc(in);
    CHECK_FALSE(sampled.sampled_out);
    CHECK(sampled.applied_policy == DmarcPolicy::Reject);
    in.percent_draw = 30;
    auto out = evaluate_dmarc(in);
    CHECK(out.sampled_out);
    CHECK(out.applied_policy == DmarcPolicy::Quarantine);
    CHECK(out.result == Result::Fail);

    in.lookups = {answered({"v=DMARC1; p=quarantine; pct=0"})};
    in.percent_draw = 0;
    CHECK(evaluate_dmarc(in).applied_policy == DmarcPolicy::None);
    in.lookups = {answered({"v=DMARC1; p=quarantine"})};
    in.percent_draw = 99;
    CHECK(evaluate_dmarc(in).applied_policy == DmarcPolicy::Quarantine);
    in.lookups = {answered({"v=DMARC1; p=none; pct=0"})};
    CHECK_FALSE(evaluate_dmarc(in).sampled_out);
}

TEST_CASE("discovery ends in none, temperror or permerror") {
    SECTION("no record anywhere") {
        auto o = evaluate_dmarc(input("mail.example.com", {nothing(), answered({"v=spf1 -all"})}));
        CHECK(o.result == Result::None);
        CHECK(o.applied_policy == DmarcPolicy::None);
    }
    SECTION("several records at one name: DMARC does not apply, no fallback") {
        auto o = evaluate_dmarc(input("mail.example.com", {answered({"v=DMARC1; p=none", "v=DMARC1; p=reject"}),
                                                           answered({"v=DMARC1; p=reject"})}));
        CHECK(o.result == Result::None);
        CHECK(o.reason == "several DMARC records at _dmarc.mail.example.com");
    }
    SECTION("a transient failure for either name") {
        CHECK(evaluate_dmarc(input("mail.example.com", {temp_error(), answered({"v=DMARC1; p=reject"})})).result ==
              Result::TempError);
        CHECK(evaluate_dmarc(input("mail.example.com", {nothing(), temp_error()})).result == Result::TempError);
        // The second name was needed but not asked.
        CHECK(evaluate_dmarc(input("mail.example.com", {nothing()})).result == Result::TempError);
        // Not needed: the first holds the record.
        CHECK(evaluate_dmarc(input("mail.example.com", {answered({"v=DMARC1; p=reject"})})).result == Result::Fail);
    }
    SECTION("a broken record is a permerror with no policy") {
        auto o = evaluate_dmarc(input("example.com", {answered({"v=DMARC1; p=maybe"})}));
        CHECK(o.result == Result::PermError);
        CHECK(o.applied_policy == DmarcPolicy::None);
        CHECK(o.reason == "DMARC record at example.com: p= is not none, quarantine or reject");
    }
    SECTION("no author domain") { CHECK(evaluate_dmarc(input("", {})).result == Result::None); }
}

TEST_CASE("the author domains of the From field (RFC 7489 section 6.6.1)") {
    using V = std::vector<std::string>;
    SECTION("one address, with display names, comments and quoted strings") {
        CHECK(author_domains({"Alice <alice@Example.COM>"}).domains == V{"example.com"});
        CHECK(author_domains({"alice@example.com"}).domains == V{"example.com"});
        CHECK(author_domains({"alice@example.com (Alice)"}).domains == V{"example.com"});
        CHECK(author_domains({"\"Bob <bob@evil.example>, x\" <bob@good.example>"}).domains == V{"good.example"});
        CHECK(author_domains({"\"a@b\"@quoted.example"}).domains == V{"quoted.example"});
        CHECK(author_domains({"(c <x@evil.example>) <bob@good.example>"}).domains == V{"good.example"});
        CHECK(author_domains({"<@route.example:bob@good.example>"}).domains == V{"good.example"});
        CHECK(author_domains({"Bob <bob@b\xC3\xBC" "cher.example>"}).domains == V{"xn--bcher-kva.example"});
        CHECK(author_domains({"Alice <alice@example.com>"}).problem == AuthorProblem::None);
    }
    SECTION("several addresses in one domain are that domain") {
        auto a = author_domains({"a@example.com, B <b@EXAMPLE.com>"});
        CHECK(a.domains == V{"example.com"});
        CHECK(a.problem == AuthorProblem::None);
    }
    SECTION("several domains are each evaluated") {
        auto a = author_domains({"a@one.example, Friends: b@two.example, c@one.example;"});
        CHECK(a.domains == V{"one.example", "two.example"});
        CHECK(a.problem == AuthorProblem::None);
    }
    SECTION("several From fields: every domain, flagged") {
        auto a = author_domains({"a@one.example", "b@two.example"});
        CHECK(a.domains == V{"one.example", "two.example"});
        CHECK(a.problem == AuthorProblem::SeveralFromFields);
    }
    SECTION("no From field or an unreadable one gives no domain and a reason") {
        CHECK(author_domains({}).problem == AuthorProblem::NoFrom);
        for (const char* bad : {"", "Undisclosed:;", "Alice", "Alice alice@example.com", "<alice@example.com",
                                "alice@[192.0.2.1]", "\"unterminated@example.com", "(open <a@example.com>",
                                "<a@example.com> trailing", "<>", "a@example.com; b@example.net", "a@-bad-.example"}) {
            auto a = author_domains({bad});
            INFO(bad);
            CHECK(a.domains.empty());
            CHECK(a.problem == AuthorProblem::Unparseable);
            CHECK_FALSE(a.reason.empty());
        }
        auto partly = author_domains({"good@example.com", "Alice"});
        CHECK(partly.domains.empty());
        CHECK(partly.problem == AuthorProblem::Unparseable);
    }
    SECTION("more than eight domains is refused") {
        std::string many;
        for (int i = 0; i < 9; ++i) many += "a@d" + std::to_string(i) + ".example,";
        CHECK(author_domains({many}).problem == AuthorProblem::TooManyDomains);
        std::string deep(100, '(');
        CHECK(author_domains({deep + "a@example.com"}).problem == AuthorProblem::Unparseable);
    }
}

TEST_CASE("with several author domains the strictest outcome applies") {
    auto pass = evaluate_dmarc(input("one.example", {answered({"v=DMARC1; p=reject"})}));
    pass.result = Result::Pass;
    auto quarantine = evaluate_dmarc(input("two.example", {answered({"v=DMARC1; p=quarantine"})}));
    auto reject = evaluate_dmarc(input("three.example", {answered({"v=DMARC1; p=reject"})}));
    auto none = evaluate_dmarc(input("four.example", {nothing()}));
    auto temp = evaluate_dmarc(input("five.example", {temp_error()}));
    CHECK(strictest_outcome({pass, quarantine, reject, none}).header_from == "three.example");
    CHECK(strictest_outcome({quarantine, pass}).applied_policy == DmarcPolicy::Quarantine);
    CHECK(strictest_outcome({pass, none, temp}).result == Result::TempError);
    CHECK(strictest_outcome({none, pass}).result == Result::Pass);
    CHECK(strictest_outcome({}).result == Result::None);
}
