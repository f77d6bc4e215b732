// MTA-STS and TLS-RPT (transport/sts/): the records and the policy file by their RFCs'
// grammars, MX matching, the cache's expiry and refresh, a policy applied to a next hop,
// the policy chosen with a fake DNS and a real LMDB cache (the HTTPS server down), the
// counts of TLS attempts, and the report's JSON, gzip and mail.
#include "mta_sts.hpp"
#include "queue_db.hpp"
#include "sts_records.hpp"
#include "test_support.hpp"
#include "tls_report.hpp"
#include "tls_report_service.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <map>

using namespace edge;
using namespace edge::sts;
using edge::test::TempDir;
namespace asio = boost::asio;
using std::chrono::seconds;

namespace {

const char* kPolicy = "version: STSv1\r\nmode: enforce\r\nmx: mx1.contoso.test\r\nmx: *.backup.contoso.test\r\nmax_age: 86400\r\n";

std::chrono::system_clock::time_point at(std::int64_t s) { return std::chrono::system_clock::time_point(seconds(s)); }

// DNS answers by name; a name not listed is NoSuchDomain.
struct FakeDns final : StsDns {
    std::map<std::string, std::vector<std::string>> txt;
    std::map<std::string, std::vector<asio::ip::address>> hosts;
    int txt_queries = 0;
    asio::awaitable<dns::TextResult> resolve_txt(std::string name, bool) override {
        ++txt_queries;
        dns::TextResult r;
        auto it = txt.find(name);
        r.status = it == txt.end() ? dns::DnsStatus::NoSuchDomain : dns::DnsStatus::Ok;
        if (it != txt.end()) r.texts = it->second;
        co_return r;
    }
    asio::awaitable<dns::AddressResult> resolve_address(std::string host, bool) override {
        dns::AddressResult r;
        auto it = hosts.find(host);
        r.status = it == hosts.end() ? dns::DnsStatus::NoSuchDomain : dns::DnsStatus::Ok;
        if (it != hosts.end()) r.addresses = it->second;
        co_return r;
    }
};

template <class T>
T run(asio::io_context& io, asio::awaitable<T> work) {
    std::optional<T> out;
    asio::co_spawn(io, std::move(work), [&](std::exception_ptr e, T v) {
        if (e) std::rethrow_exception(e);
        out = std::move(v);
    });
    io.restart();
    io.run();
    REQUIRE(out);
    return std::move(*out);
}

send::Target target_of(std::initializer_list<const char*> names) {
    send::Target t;
    t.kind = send::Target::Kind::Hosts;
    for (const char* n : names) t.hosts.push_back({n, {asio::ip::make_address("192.0.2.1")}, {}});
    return t;
}

}  // namespace

TEST_CASE("the _mta-sts record: exactly one v=STSv1 record with an id, by RFC 8461 §3.1", "[sts][records]") {
    CHECK(parse_sts_record("v=STSv1; id=20160831085700Z;")->id == "20160831085700Z");
    CHECK(parse_sts_record("v=STSv1;id=abc")->id == "abc");
    CHECK(parse_sts_record("v=STSv1 ; id=abc ; ext=val; ")->id == "abc");
    std::string why;
    CHECK_FALSE(parse_sts_record("v=STSv1;", &why));
    CHECK(why == "the record has no id");
    CHECK_FALSE(parse_sts_record("v=STSv1; id=has-dash"));
    CHECK_FALSE(parse_sts_record("v=STSv1; id=" + std::string(33, 'a')));
    CHECK_FALSE(parse_sts_record("v=STSv1;; id=a"));
    CHECK_FALSE(parse_sts_record("v=STSv2; id=a"));
    CHECK_FALSE(parse_sts_record("v=STSv1; id"));
    // Other TXT records are discarded; two STSv1 records mean none.
    CHECK(select_sts_record({"v=spf1 -all", "v=STSv1; id=x1;"})->id == "x1");
    CHECK_FALSE(select_sts_record({"v=STSv1; id=a;", "v=STSv1; id=b;"}, &why));
    CHECK(why.find("2 v=STSv1") != std::string::npos);
    CHECK_FALSE(select_sts_record({"v=spf1 -all"}));
    CHECK_FALSE(select_sts_record({"v=STSv1; id=bad!"}));
    CHECK_FALSE(select_sts_record({"v=STSv10; id=a"}));
}

TEST_CASE("the policy file: version, mode, max_age and mx by RFC 8461 §3.2, CRLF or LF, unknown fields ignored", "[sts][records]") {
    auto p = parse_sts_policy(kPolicy);
    REQUIRE(p);
    CHECK(p->mode == StsMode::Enforce);
    CHECK(p->max_age == seconds(86400));
    CHECK(p->mx == std::vector<std::string>{"mx1.contoso.test", "*.backup.contoso.test"});
    CHECK(p->lines.size() == 5);
    CHECK(p->lines[0] == "version: STSv1");
    auto lf = parse_sts_policy("version: STSv1\nmode: testing\nmx: MX.Example.COM\nmax_age: 604800\nfuture: x\n\n");
    REQUIRE(lf);
    CHECK(lf->mode == StsMode::Testing);
    CHECK(lf->mx == std::vector<std::string>{"mx.example.com"});
    CHECK(parse_sts_policy("version: STSv1\nmode: none\nmax_age: 1")->mx.empty());
    std::string why;
    CHECK_FALSE(parse_sts_policy("version: STSv1\nmode: enforce\nmax_age: 86400\n", &why));
    CHECK(why == "the policy names no mx");
    CHECK_FALSE(parse_sts_policy("version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 31557601\n", &why));
    CHECK(why.find("31557601") != std::string::npos);
    CHECK(parse_sts_policy("version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 31557600\n"));
    CHECK_FALSE(parse_sts_policy("version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1\n"));
    CHECK_FALSE(parse_sts_policy("version: STSv1\nmode: Enforce\nmx: a.test\nmax_age: 1\n"));  // values are case-sensitive
    CHECK_FALSE(parse_sts_policy("mode: enforce\nmx: a.test\nmax_age: 1\n", &why));
    CHECK(why == "the policy has no \"version: STSv1\"");
    CHECK_FALSE(parse_sts_policy("version: STSv1\nmode: enforce\nmx: *.*.a.test\nmax_age: 1\n"));
    CHECK_FALSE(parse_sts_policy("version: STSv1\nmode: enforce\nmx: a.test\nmax_age: -1\n"));
    CHECK_FALSE(parse_sts_policy("<html>not found</html>"));
    // A field other than mx given twice keeps its first value.
    CHECK(parse_sts_policy("version: STSv1\nmode: testing\nmode: enforce\nmx: a.test\nmax_age: 1\n")->mode == StsMode::Testing);
    // 64 KiB at most.
    std::string big = std::string(kPolicy) + "pad: " + std::string(kMaxPolicySize, 'x') + "\n";
    CHECK_FALSE(parse_sts_policy(big, &why));
    CHECK(why.find("65536") != std::string::npos);
}

TEST_CASE("an mx pattern matches the host itself, or one label under a wildcard (RFC 8461 §4.1)", "[sts][mx]") {
    CHECK(mx_matches("mx1.contoso.test", "mx1.contoso.test"));
    CHECK(mx_matches("mx1.contoso.test", "MX1.Contoso.Test."));
    CHECK_FALSE(mx_matches("mx1.contoso.test", "mx2.contoso.test"));
    CHECK(mx_matches("*.contoso.test", "mx.contoso.test"));
    CHECK_FALSE(mx_matches("*.contoso.test", "contoso.test"));
    CHECK_FALSE(mx_matches("*.contoso.test", "a.b.contoso.test"));
    CHECK_FALSE(mx_matches("*.contoso.test", "xcontoso.test"));
    CHECK_FALSE(mx_matches("*.contoso.test", ".contoso.test"));
    auto p = parse_sts_policy(kPolicy);
    CHECK(mx_allowed(*p, "mx1.contoso.test"));
    CHECK(mx_allowed(*p, "b1.backup.contoso.test"));
    CHECK_FALSE(mx_allowed(*p, "evil.test"));
}

TEST_CASE("a cached policy is used until max_age, and refreshed after half of it or a day", "[sts][cache]") {
    CachedPolicy c{"id1", at(1'000'000), kPolicy};
    auto back = decode_cached_policy(encode_cached_policy(c));
    REQUIRE(back);
    CHECK(back->id == "id1");
    CHECK(back->fetched == c.fetched);
    CHECK(back->text == kPolicy);
    CHECK_FALSE(decode_cached_policy("garbage"));
    CHECK_FALSE(decode_cached_policy("sts1\nid\nnot-a-number\ntext"));
    auto p = parse_sts_policy(kPolicy);  // max_age one day
    CHECK(policy_fresh(c, *p, at(1'000'000 + 86399)));
    CHECK_FALSE(policy_fresh(c, *p, at(1'000'000 + 86400)));
    CHECK_FALSE(refresh_due(c, *p, at(1'000'000 + 43199)));
    CHECK(refresh_due(c, *p, at(1'000'000 + 43200)));
    auto week = parse_sts_policy("version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 604800\n");
    CHECK_FALSE(refresh_due(c, *week, at(1'000'000 + 86399)));
    CHECK(refresh_due(c, *week, at(1'000'000 + 86400)));  // a day at most
}

TEST_CASE("enforce removes the MX hosts outside the policy and requires verified TLS of the rest", "[sts][apply]") {
    auto p = parse_sts_policy(kPolicy);
    auto t = target_of({"mx1.contoso.test", "evil.test", "b.backup.contoso.test"});
    auto outside = apply_sts_policy(*p, "contoso.test", t);
    CHECK(outside == std::vector<std::string>{"evil.test"});
    REQUIRE(t.hosts.size() == 2);
    CHECK(t.kind == send::Target::Kind::Hosts);
    for (const auto& h : t.hosts) {
        CHECK(h.tls.source == send::PeerTlsPolicy::Source::MtaSts);
        CHECK(h.tls.require_tls);
        CHECK(h.tls.verify_chain);
        CHECK_FALSE(h.tls.report_only);
        CHECK(h.tls.names == std::vector<std::string>{h.name});
        CHECK(h.tls.policy_domain == "contoso.test");
        CHECK(h.tls.policy_text.find("mode: enforce") != std::string::npos);
    }
    auto none_left = target_of({"evil.test"});
    apply_sts_policy(*p, "contoso.test", none_left);
    CHECK(none_left.kind == send::Target::Kind::Transient);
    CHECK(none_left.hosts.empty());
    CHECK(none_left.error ==
          "451 4.7.5 the MX hosts of contoso.test (evil.test) are not in the MTA-STS policy of contoso.test (mode enforce)");
}

TEST_CASE("testing checks and reports but removes no host and refuses nothing, and none does nothing", "[sts][apply]") {
    auto p = parse_sts_policy("version: STSv1\nmode: testing\nmx: mx1.contoso.test\nmax_age: 86400\n");
    auto t = target_of({"evil.test"});
    CHECK(apply_sts_policy(*p, "contoso.test", t) == std::vector<std::string>{"evil.test"});
    REQUIRE(t.hosts.size() == 1);
    CHECK(t.kind == send::Target::Kind::Hosts);
    CHECK(t.hosts[0].tls.report_only);
    CHECK_FALSE(t.hosts[0].tls.require_tls);
    CHECK(t.hosts[0].tls.verify_chain);
    auto none = parse_sts_policy("version: STSv1\nmode: none\nmax_age: 86400\n");
    auto u = target_of({"evil.test"});
    CHECK(apply_sts_policy(*none, "contoso.test", u).empty());
    CHECK(u.hosts[0].tls.source == send::PeerTlsPolicy::Source::Opportunistic);
}

TEST_CASE("a cached policy stays in force when the policy server is down or the TXT record is gone, until max_age", "[sts][cache]") {
    TempDir dir;
    auto opened = queue::QueueDb::open(dir.path(), {});
    REQUIRE(opened);
    auto& db = **opened;
    asio::io_context io;
    FakeDns dns;
    MtaStsPolicySource source(io.get_executor(), &db, dns);
    source.configure(MtaStsSettings{});
    // No record, nothing cached: no policy.
    CHECK_FALSE(run(io, source.policy_for("contoso.test", false)));
    // A record, but mta-sts.contoso.test does not resolve (the server is down): no policy.
    dns.txt["_mta-sts.contoso.test"] = {"v=STSv1; id=one;"};
    CHECK_FALSE(run(io, source.policy_for("contoso.test", false)));
    // A policy cached under id "one" an hour ago (as a fetch stores it).
    const auto now = std::chrono::system_clock::now();
    REQUIRE(db.mta_sts_put("contoso.test", encode_cached_policy({"one", now - std::chrono::hours(1), kPolicy})).ok());
    auto a = run(io, source.policy_for("contoso.test", false));
    REQUIRE(a);
    CHECK(a->from_cache);
    CHECK(a->policy.mode == StsMode::Enforce);
    // A new id whose fetch fails: the cached policy still applies (§5.1).
    dns.txt["_mta-sts.contoso.test"] = {"v=STSv1; id=two;"};
    a = run(io, source.policy_for("contoso.test", false));
    REQUIRE(a);
    CHECK(a->id == "one");
    // The TXT record removed: still the cached policy, so enforcement holds.
    dns.txt.clear();
    a = run(io, source.policy_for("contoso.test", false));
    REQUIRE(a);
    auto t = target_of({"evil.test"});
    // (apply() asks about internet-bound connectors only; the policy itself:)
    apply_sts_policy(a->policy, "contoso.test", t);
    CHECK(t.kind == send::Target::Kind::Transient);
    // Past its max_age the cached policy is gone.
    REQUIRE(db.mta_sts_put("contoso.test", encode_cached_policy({"one", now - std::chrono::hours(25), kPolicy})).ok());
    CHECK_FALSE(run(io, source.policy_for("contoso.test", false)));
}

TEST_CASE("TLS attempts are counted per day, domain, policy, result, MX and addresses", "[tlsrpt][counts]") {
    send::TlsAttemptResult ok;
    ok.policy_domain = "Contoso.Test";
    ok.policy_type = "sts";
    ok.mx_host = "mx1.contoso.test";
    ok.receiving_ip = "192.0.2.1";
    ok.sending_ip = "198.51.100.1";
    ok.success = true;
    ok.policy_text = {"version: STSv1", "mode: testing", "mx: mx1.contoso.test", "max_age: 86400"};
    auto c = count_of(ok, at(1'765'065'600));  // 2025-12-07
    REQUIRE(c);
    CHECK(c->date == "2025-12-07");
    CHECK(c->policy_domain == "contoso.test");
    CHECK(c->mx_patterns == std::vector<std::string>{"mx1.contoso.test"});
    CHECK(c->result_type.empty());
    auto bad = ok;
    bad.success = false;
    bad.result_type = "certificate-expired";
    bad.reason = "certificate has expired";
    auto b = count_of(bad, at(1'765'065'600));
    CHECK(count_key(*c) != count_key(*b));
    CHECK(count_key(*c).size() <= 511);
    auto back = decode_count(encode_count_detail(*b), 7);
    REQUIRE(back);
    CHECK(back->identity() == b->identity());
    CHECK(back->reason == "certificate has expired");
    CHECK(back->count == 7);
    send::TlsAttemptResult smart;  // no policy domain (a smart host): not counted
    CHECK_FALSE(count_of(smart, at(0)));
    // A long policy makes no long key.
    auto big = ok;
    big.policy_text.assign(200, std::string(200, 'x'));
    CHECK(count_key(*count_of(big, at(0))).size() <= 511);
}

TEST_CASE("the _smtp._tls record: one v=TLSRPTv1 record with rua mailto: and https: (RFC 8460 §3)", "[tlsrpt][records]") {
    auto r = parse_tlsrpt_record("v=TLSRPTv1; rua=mailto:tls%2Breports@contoso.test?subject=x, https://r.contoso.test/v1");
    REQUIRE(r);
    CHECK(r->mailto == std::vector<std::string>{"tls+reports@contoso.test"});
    CHECK(r->https == std::vector<std::string>{"https://r.contoso.test/v1"});
    CHECK(parse_tlsrpt_record("v=TLSRPTv1;rua=mailto:a@b.test;")->mailto.size() == 1);
    std::string why;
    CHECK_FALSE(parse_tlsrpt_record("v=TLSRPTv1;", &why));
    CHECK(why == "the record has no rua");
    CHECK_FALSE(parse_tlsrpt_record("v=TLSRPTv1; rua=ftp://x"));
    CHECK_FALSE(parse_tlsrpt_record("v=TLSRPTv1; rua=mailto:nobody"));
    CHECK_FALSE(parse_tlsrpt_record("v=TLSRPTv1; rua=mailto:a@b.test%zz"));
    CHECK_FALSE(parse_tlsrpt_record("v=TLSRPTv1; rua=mailto:a@b.test%0"));
    CHECK_FALSE(parse_tlsrpt_record("v=TLSRPTv1; rua=mailto:a%0d%0aBcc:x@b.test"));
    // The address must be a mailbox RCPT TO takes (found by libFuzzer): no '@' or ';' in a
    // bare local part, no empty or broken local part.
    CHECK_FALSE(parse_tlsrpt_record("v=TLSRPTv1; rua=mailto:@a%3Bb@example.test"));
    CHECK_FALSE(parse_tlsrpt_record("v=TLSRPTv1; rua=mailto:a..b@example.test"));
    CHECK_FALSE(parse_tlsrpt_record("v=TLSRPTv1; rua=mailto:a;b@example.test"));
    CHECK(parse_tlsrpt_record("v=TLSRPTv1; rua=mailto:%22a%3Bb%22@example.test"));  // quoted: a valid mailbox
    CHECK_FALSE(select_tlsrpt_record({"v=TLSRPTv1; rua=mailto:a@b.test", "v=TLSRPTv1; rua=mailto:c@b.test"}));
    CHECK(select_tlsrpt_record({"v=spf1", "v=TLSRPTv1; rua=mailto:a@b.test"}));
}

TEST_CASE("a day's report is RFC 8460 JSON with its fields, gzip'd into a multipart/report mail", "[tlsrpt][report]") {
    ReportSubmitter who{"contoso.com", "edge.contoso.com", "postmaster@contoso.com"};
    std::vector<TlsCount> counts;
    TlsCount ok;
    ok.date = "2026-12-06";
    ok.policy_domain = "fabrikam.test";
    ok.policy_type = "sts";
    ok.policy_string = {"version: STSv1", "mode: testing", "mx: mx.fabrikam.test", "max_age: 86400"};
    ok.mx_patterns = {"mx.fabrikam.test"};
    ok.mx_host = "mx.fabrikam.test";
    ok.receiving_ip = "192.0.2.7";
    ok.sending_ip = "198.51.100.1";
    ok.count = 5;
    counts.push_back(ok);
    TlsCount bad = ok;
    bad.result_type = "certificate-host-mismatch";
    bad.reason = "hostname mismatch";
    bad.count = 2;
    counts.push_back(bad);
    TlsCount other = ok;
    other.policy_domain = "other.test";  // another domain: not in this report
    counts.push_back(other);
    const std::string json = report_json(who, "2026-12-06", "fabrikam.test", counts);
    // Read back by an independent JSON parser.
    TempDir dir;
    {
        std::ofstream f(dir.sub("r.json"));
        f << json;
    }
    const std::string check = dir.sub("check.py");
    {
        std::ofstream f(check);
        f << "import json,sys\n"
             "r=json.load(open(sys.argv[1]))\n"
             "assert r['organization-name']=='contoso.com'\n"
             "assert r['date-range']=={'start-datetime':'2026-12-06T00:00:00Z','end-datetime':'2026-12-06T23:59:59Z'}\n"
             "assert r['contact-info']=='postmaster@contoso.com'\n"
             "assert r['report-id']=='2026-12-06.fabrikam.test@edge.contoso.com'\n"
             "assert len(r['policies'])==1\n"
             "p=r['policies'][0]\n"
             "assert p['policy']=={'policy-type':'sts','policy-string':['version: STSv1','mode: testing','mx: mx.fabrikam.test','max_age: 86400'],'policy-domain':'fabrikam.test','mx-host':['mx.fabrikam.test']}\n"
             "assert p['summary']=={'total-successful-session-count':5,'total-failure-session-count':2}\n"
             "assert p['failure-details']==[{'result-type':'certificate-host-mismatch','sending-mta-ip':'198.51.100.1','receiving-mx-hostname':'mx.fabrikam.test','receiving-ip':'192.0.2.7','failed-session-count':2,'failure-reason-code':'hostname mismatch'}]\n";
    }
    CHECK(std::system(("/usr/bin/python3 " + check + " " + dir.sub("r.json")).c_str()) == 0);
    CHECK(gunzip(gzip(json)) == json);
    CHECK_FALSE(gunzip("not gzip"));
    CHECK(report_file_name(who, "2026-12-06", "fabrikam.test") ==
          "edge.contoso.com!fabrikam.test!1796515200!1796601599.json.gz");
    ReportMail mail{who, "2026-12-06", "fabrikam.test", json, {"tlsrpt@fabrikam.test"}, "postmaster@contoso.com",
                    at(1796601600 + 300), seconds(86400), {}};
    auto m = report_message(mail);
    REQUIRE(m.body.chunks.size() == 1);
    const std::string& text = m.body.chunks[0];
    CHECK(text.find("Subject: Report Domain: fabrikam.test Submitter: edge.contoso.com Report-ID: "
                    "<2026-12-06.fabrikam.test@edge.contoso.com>\r\n") != std::string::npos);
    CHECK(text.find("TLS-Report-Domain: fabrikam.test\r\n") != std::string::npos);
    CHECK(text.find("TLS-Report-Submitter: edge.contoso.com\r\n") != std::string::npos);
    CHECK(text.find("multipart/report; report-type=\"tlsrpt\"") != std::string::npos);
    CHECK(text.find("Content-Type: application/tlsrpt+gzip") != std::string::npos);
    CHECK(m.envelope.sender.empty());
    REQUIRE(m.envelope.recipients.size() == 1);
    CHECK(m.envelope.recipients[0].address == "tlsrpt@fabrikam.test");
    CHECK(m.envelope.recipients[0].notify == queue::notify::Never);
    CHECK(m.envelope.size == text.size());
    // The report in the mail, read back by Python's email package and gzip.
    {
        std::ofstream f(dir.sub("m.eml"), std::ios::binary);
        f << text;
    }
    {
        std::ofstream f(check);
        f << "import email,gzip,json,sys\n"
             "m=email.message_from_binary_file(open(sys.argv[1],'rb'))\n"
             "assert m.get_content_type()=='multipart/report' and m.get_param('report-type')=='tlsrpt'\n"
             "a=[p for p in m.walk() if p.get_content_type()=='application/tlsrpt+gzip'][0]\n"
             "assert a.get_filename()=='edge.contoso.com!fabrikam.test!1796515200!1796601599.json.gz'\n"
             "r=json.loads(gzip.decompress(a.get_payload(decode=True)))\n"
             "assert r['policies'][0]['summary']['total-failure-session-count']==2\n";
    }
    CHECK(std::system(("/usr/bin/python3 " + check + " " + dir.sub("m.eml")).c_str()) == 0);
}

TEST_CASE("TLS attempts are counted in memory and written in one batch, never one commit per session", "[tlsrpt][counts]") {
    TempDir dir;
    auto opened = queue::QueueDb::open(dir.path(), {});
    REQUIRE(opened);
    auto& db = **opened;
    asio::io_context io;
    FakeDns dns;
    TlsReportService service(io.get_executor(), &db, dns);
    send::TlsAttemptResult r;
    r.policy_domain = "contoso.test";
    r.policy_type = "sts";
    r.mx_host = "mx1.contoso.test";
    r.success = true;
    const auto commits = db.commit_stats().commits;
    service.record(r);
    service.record(r);
    r.success = false;
    r.result_type = "certificate-expired";
    service.record(r);
    CHECK(db.tls_report_scan(kCountPrefix, 100).empty());  // nothing written per session
    service.flush_now();
    CHECK(db.commit_stats().commits == commits + 1);
    auto stored = db.tls_report_scan(kCountPrefix, 100);
    REQUIRE(stored.size() == 2);
    std::uint64_t ok = 0, failed = 0;
    for (const auto& s : stored) {
        auto c = decode_count(s.detail, s.count);
        REQUIRE(c);
        (c->result_type.empty() ? ok : failed) += c->count;
    }
    CHECK(ok == 2);
    CHECK(failed == 1);
    // The next batch adds to the same keys.
    service.record(r);
    service.flush_now();
    std::uint64_t total = 0;
    for (const auto& s : db.tls_report_scan(kCountPrefix, 100)) total += s.count;
    CHECK(total == 4);
    // Switched off: nothing is counted.
    service.configure(false, nullptr);
    service.record(r);
    service.flush_now();
    total = 0;
    for (const auto& s : db.tls_report_scan(kCountPrefix, 100)) total += s.count;
    CHECK(total == 4);
}
