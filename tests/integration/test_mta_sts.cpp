// MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) end to end: the real edge-transport delivers
// through NSD on loopback to TLS peers (smtp_peer.py with certificates of the tests' own
// CA); the policies come from an HTTPS server on loopback (sts_policy_server.py) whose
// host names mta-sts.<domain> NSD resolves; the reports go by mail to the hub sink.
#include "dns_server.hpp"
#include "edge_server.hpp"
#include "smtp_peer.hpp"
#include "test_ca.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>

#include <ctime>

using namespace edge::test;
using namespace std::chrono_literals;

namespace {

// sts_policy_server.py: publish(domain, text) serves https://mta-sts.<domain>/.well-known/mta-sts.txt.
class PolicyServer {
public:
    PolicyServer(std::string ip, TestCertificate cert) : ip_(std::move(ip)), cert_(std::move(cert)) {
        std::filesystem::create_directories(root());
        start();
    }
    ~PolicyServer() { stop_child(pid_, std::chrono::seconds(5)); }
    PolicyServer(const PolicyServer&) = delete;
    PolicyServer& operator=(const PolicyServer&) = delete;

    std::string root() const { return tmp_.sub("root"); }
    std::uint16_t port() const { return port_; }
    void publish(const std::string& domain, const std::string& text) const {
        std::ofstream(root() + "/" + domain + ".txt", std::ios::binary) << text;
    }
    std::size_t requests(const std::string& domain) const {
        std::ifstream in(root() + "/requests.log");
        std::size_t n = 0;
        for (std::string line; std::getline(in, line);)
            if (line.starts_with("mta-sts." + domain + " ")) ++n;
        return n;
    }
    void stop() { stop_child(pid_, std::chrono::seconds(5)); }
    void start() {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
        std::vector<std::string> argv = {"/usr/bin/python3", STS_POLICY_SERVER_SCRIPT, "--listen",
                                         ip_ + ":" + std::to_string(port_), "--cert", cert_.chain, "--key", cert_.key,
                                         "--root", root()};
        std::vector<char*> cargv;
        for (auto& a : argv) cargv.push_back(a.data());
        cargv.push_back(nullptr);
        const std::string log = tmp_.sub("server.log");
        pid_ = ::fork();
        if (pid_ == 0) {
            int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            ::dup2(fds[1], 1);
            if (fd >= 0) ::dup2(fd, 2);
            ::execv(cargv[0], cargv.data());
            ::_exit(127);
        }
        ::close(fds[1]);
        std::string out;
        while (out.find('\n') == std::string::npos) {
            pollfd p{fds[0], POLLIN, 0};
            char buf[256];
            long n = ::poll(&p, 1, 30000) > 0 ? ::read(fds[0], buf, sizeof buf) : -1;
            if (n <= 0) break;
            out.append(buf, static_cast<std::size_t>(n));
        }
        ::close(fds[0]);
        auto colon = out.rfind(':');
        if (!out.starts_with("READY ") || colon == std::string::npos) {
            std::ifstream in(log);
            std::stringstream ss;
            ss << in.rdbuf();
            throw std::runtime_error("sts_policy_server did not start: " + out + ss.str());
        }
        port_ = static_cast<std::uint16_t>(std::stoul(out.substr(colon + 1)));
    }

private:
    TempDir tmp_;
    std::string ip_;
    TestCertificate cert_;
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
};

std::string zone(const std::string& mx_records, const std::string& sts_id, const std::string& extra = "") {
    std::string z = mx_records + "mta-sts IN A 127.0.0.20\n";
    if (!sts_id.empty()) z += "_mta-sts IN TXT \"v=STSv1; id=" + sts_id + ";\"\n";
    return z + extra;
}

std::string policy(const std::string& mode, const std::string& mx) {
    return "version: STSv1\r\nmode: " + mode + "\r\nmx: " + mx + "\r\nmax_age: 86400\r\n";
}

std::string today_utc() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[16];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
    return buf;
}

void send(const EdgeServer& s, const std::string& to, const std::string& tag) {
    SmtpClient c(s.port());
    REQUIRE(c.reply().starts_with("220"));
    REQUIRE(c.command("EHLO client.test").starts_with("250"));
    auto r = c.send_mail("sender@back.test", {to},
                         "From: sender@back.test\r\nTo: " + to + "\r\nSubject: " + tag + "\r\nMessage-ID: <" + tag +
                             "@client.test>\r\n\r\nHello " + tag + ".\r\n");
    REQUIRE(r.starts_with("250"));
    c.command("QUIT");
}

std::optional<edge::queue::QueueInfo> queue_of(const EdgeServer& s, const std::string& next_hop) {
    edge::queue::QueueDbOptions o;
    o.read_only = true;
    auto db = edge::queue::QueueDb::open(s.data(), o);
    if (!db) return std::nullopt;
    for (auto& q : (*db)->list_queues())
        if (q.id.next_hop == next_hop) return q;
    return std::nullopt;
}

// The parts every case shares: a CA, the web server for the policies, an edge whose
// Internet connector delivers by MX (through NSD) to TLS peers on one port.
struct Stage {
    TempDir dir;
    TestCa ca{dir.sub("ca")};
    TestCertificate web = ca.issue("web", {"mta-sts.enforce.test", "mta-sts.testing.test", "mta-sts.cached.test"});
    TestCertificate mx = ca.issue("mx", {"mx.enforce.test", "mx.testing.test", "mx.cached.test", "rogue.cached.test"});
    PolicyServer https{"127.0.0.20", web};
    std::uint16_t smtp_port = free_port();
    SmtpPeer back;
    EdgeServer s;

    SmtpPeer peer(const std::string& ip) { return SmtpPeer({"--starttls", mx.chain + "," + mx.key}, ip, smtp_port); }

    void configure(const NsdServer& dns) {
        s.must_edgectl("New-AcceptedDomain -Name Tests -DomainName *.test -DomainType ExternalRelay");
        s.must_edgectl("New-SendConnector Back -AddressSpaces back.test -DNSRoutingEnabled '$false' -SmartHosts " +
                       back.ip() + " -Port " + std::to_string(back.port()));
        s.must_edgectl("New-SendConnector Internet -AddressSpaces '*' -AllowPrivateTargetAddresses '$true' -Port " +
                       std::to_string(smtp_port));
        s.must_edgectl("Set-TransportServer -InternalDNSServers " + dns.endpoint() + " -MtaStsPolicyPort " +
                       std::to_string(https.port()) + " -MtaStsFetchTimeout 00:00:05 -TlsCertificateAuthorityFile " +
                       shell_quote(ca.cert()) + " -QueueGlitchRetryInterval 00:00:01");
    }
};

}  // namespace

TEST_CASE("MTA-STS enforce: an MX outside the policy is never used and the mail waits in Retry saying why", "[sts][mta-sts]") {
    Stage st;
    SmtpPeer mx = st.peer("127.0.0.21");
    NsdServer dns({{"enforce.test", zone("@ IN MX 10 mx\nmx IN A 127.0.0.21\n", "e1")}});
    st.https.publish("enforce.test", policy("enforce", "other.enforce.test"));
    st.configure(dns);
    st.s.start();
    send(st.s, "a@enforce.test", "enforced");
    std::optional<edge::queue::QueueInfo> q;
    REQUIRE(wait_until([&] {
        q = queue_of(st.s, "enforce.test");
        return q && q->status == edge::queue::QueueStatus::Retry;
    }));
    INFO(q->last_error);
    CHECK(q->last_error.find("4.7.5") != std::string::npos);
    CHECK(q->last_error.find("not in the MTA-STS policy of enforce.test") != std::string::npos);
    CHECK(q->message_count == 1);
    CHECK(mx.events("connect").empty());  // never contacted, not even for a look
    CHECK(st.https.requests("enforce.test") >= 1);
    // The policy is cached, and edgectl shows it.
    std::string out;
    REQUIRE(st.s.edgectl("Get-MtaStsPolicy -Domain enforce.test -Format List", &out) == 0);
    CHECK(out.find("enforce") != std::string::npos);
    CHECK(out.find("other.enforce.test") != std::string::npos);
}

TEST_CASE("MTA-STS testing: mail is delivered, what the policy would refuse is counted, and the TLS-RPT report reaches the rua",
          "[sts][mta-sts][tlsrpt]") {
    Stage st;
    SmtpPeer mx = st.peer("127.0.0.22");
    NsdServer dns({{"testing.test", zone("@ IN MX 10 mx\nmx IN A 127.0.0.22\n", "t1",
                                         "_smtp._tls IN TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@back.test\"\n")}});
    st.https.publish("testing.test", policy("testing", "nomatch.testing.test"));
    st.configure(dns);
    st.s.start();
    send(st.s, "b@testing.test", "testing-mode");
    auto got = mx.wait_for_messages(1, 30s);
    REQUIRE(got.size() == 1);
    CHECK(got[0].rcpt_to.at(0) == "b@testing.test");
    CHECK(got[0].tls);
    // The count reaches the store within the flush interval (2 s).
    std::string out;
    REQUIRE(wait_until([&] {
        return st.s.edgectl("Get-TlsReport -Domain testing.test -Json", &out) == 0 &&
               out.find("validation-failure") != std::string::npos;
    }));
    CHECK(out.find("\"PolicyType\": \"sts\"") != std::string::npos);
    CHECK(out.find("mx.testing.test") != std::string::npos);
    // Today's report, now: queued to the rua address, which the hub sink receives.
    REQUIRE(st.s.edgectl("Send-TlsReport -Domain testing.test -Date " + today_utc(), &out) == 0);
    INFO(out);
    CHECK(out.find("Queued") != std::string::npos);
    std::vector<PeerMessage> reports;
    REQUIRE(wait_until([&] {
        reports.clear();
        for (auto& m : st.back.messages())
            if (!m.rcpt_to.empty() && m.rcpt_to[0] == "tlsrpt@back.test") reports.push_back(m);
        return !reports.empty();
    }, 40s));
    CHECK(reports[0].mail_from.empty());
    const std::string eml = st.dir.sub("report.eml");
    std::ofstream(eml, std::ios::binary) << reports[0].data;
    const std::string check = st.dir.sub("check.py");
    std::ofstream(check) << "import email,gzip,json,sys\n"
                            "m=email.message_from_binary_file(open(sys.argv[1],'rb'))\n"
                            "assert m.get_content_type()=='multipart/report', m.get_content_type()\n"
                            "assert m.get_param('report-type')=='tlsrpt'\n"
                            "assert m['TLS-Report-Domain']=='testing.test'\n"
                            "assert m['Subject'].startswith('Report Domain: testing.test Submitter: ')\n"
                            "a=[p for p in m.walk() if p.get_content_type()=='application/tlsrpt+gzip'][0]\n"
                            "assert a.get_filename().endswith('.json.gz') and '!testing.test!' in a.get_filename()\n"
                            "r=json.loads(gzip.decompress(a.get_payload(decode=True)))\n"
                            "for k in ('organization-name','date-range','contact-info','report-id','policies'):\n"
                            "    assert k in r, k\n"
                            "assert r['date-range']['start-datetime'].endswith('T00:00:00Z')\n"
                            "p=r['policies'][0]\n"
                            "assert p['policy']['policy-type']=='sts'\n"
                            "assert p['policy']['policy-domain']=='testing.test'\n"
                            "assert 'mode: testing' in p['policy']['policy-string']\n"
                            "assert p['policy']['mx-host']==['nomatch.testing.test']\n"
                            "assert p['summary']['total-failure-session-count']>=1\n"
                            "f=[d for d in p['failure-details'] if d['result-type']=='validation-failure'][0]\n"
                            "assert f['receiving-mx-hostname']=='mx.testing.test' and f['failed-session-count']>=1\n";
    CHECK(run_command("/usr/bin/python3 " + check + " " + eml, &out) == 0);
    INFO(out);
}

TEST_CASE("MTA-STS: a cached policy is enforced while the policy server is down and after the TXT record changes or goes",
          "[sts][mta-sts][cache]") {
    Stage st;
    SmtpPeer rogue = st.peer("127.0.0.23");  // the better MX, outside the policy
    SmtpPeer good = st.peer("127.0.0.24");
    const std::string mxes = "@ IN MX 10 rogue\n@ IN MX 20 mx\nrogue IN A 127.0.0.23\nmx IN A 127.0.0.24\n";
    NsdServer dns({{"cached.test", zone(mxes, "c1")}});
    st.https.publish("cached.test", policy("enforce", "mx.cached.test"));
    st.configure(dns);
    st.s.start();
    send(st.s, "c1@cached.test", "fetched");
    REQUIRE(good.wait_for_messages(1, 30s).size() == 1);
    CHECK(st.https.requests("cached.test") == 1);
    // The policy server goes away, the domain publishes a new id (a fetch that fails),
    // and the edge restarts (nothing in memory): the cached policy still rules.
    st.https.stop();
    dns.set_zone("cached.test", zone(mxes, "c2"));
    st.s.stop();
    st.s.start();
    send(st.s, "c2@cached.test", "server-down");
    REQUIRE(good.wait_for_messages(2, 30s).size() == 2);
    // The TXT record removed (RFC 8461 §5.1: no downgrade while the cached policy lives).
    dns.set_zone("cached.test", zone(mxes, ""));
    st.s.stop();
    st.s.start();
    send(st.s, "c3@cached.test", "no-txt");
    REQUIRE(good.wait_for_messages(3, 30s).size() == 3);
    CHECK(rogue.messages().empty());
    CHECK(rogue.events("connect").empty());
}
