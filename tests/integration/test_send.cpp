// The send side end to end: the real edge-transport binary relays what our client
// sends to real SMTP peers (smtp_peer.py on python3-aiosmtpd) found through smart
// hosts or through a real DNS server (NSD) on loopback; the queue, the SmtpSend log
// and the message tracking log are read back.
#include "dns_server.hpp"
#include "edge_server.hpp"
#include "message_tracking.hpp"
#include "protocol_log.hpp"
#include "smtp_peer.hpp"

#include <catch2/catch.hpp>

#include <dirent.h>

#include <map>
#include <set>

using namespace edge::test;
using namespace std::chrono_literals;

namespace {

// Every test domain (*.test) is an ExternalRelay accepted domain: anonymous clients
// may send to it and a Send connector takes it on. A connector "Back" carries mail for
// back.test (the senders' domain, so NDRs have somewhere to go) to `back`.
void relay_setup(EdgeServer& s, const SmtpPeer& back, const std::string& transport_settings = "") {
    s.must_edgectl("New-AcceptedDomain -Name Tests -DomainName *.test -DomainType ExternalRelay");
    s.must_edgectl("New-SendConnector Back -AddressSpaces back.test -DNSRoutingEnabled '$false' -SmartHosts " +
                   back.ip() + " -Port " + std::to_string(back.port()));
    if (!transport_settings.empty()) s.must_edgectl("Set-TransportServer " + transport_settings);
}

std::string body(const std::string& tag, std::size_t pad = 0) {
    return "From: sender@back.test\r\nTo: someone@example.test\r\nSubject: " + tag + "\r\nMessage-ID: <" + tag +
           "@client.test>\r\n\r\nHello " + tag + ".\r\n" + std::string(pad, 'x') + (pad ? "\r\n" : "");
}

void send(const EdgeServer& s, const std::string& from, const std::vector<std::string>& to, const std::string& tag,
          std::size_t pad = 0) {
    SmtpClient c(s.port());
    REQUIRE(c.reply().starts_with("220"));
    REQUIRE(c.command("EHLO client.test").starts_with("250"));
    auto r = c.send_mail(from, to, body(tag, pad));
    REQUIRE(r.starts_with("250"));
    c.command("QUIT");
}

// One message with RET=FULL (RFC 3461 §4.3): an NDR returns the whole original.
void send_ret_full(const EdgeServer& s, const std::string& from, const std::vector<std::string>& to,
                   const std::string& tag, std::size_t pad) {
    SmtpClient c(s.port());
    REQUIRE(c.reply().starts_with("220"));
    REQUIRE(c.command("EHLO client.test").starts_with("250"));
    REQUIRE(c.command("MAIL FROM:<" + from + "> RET=FULL").starts_with("250"));
    for (const auto& t : to) REQUIRE(c.command("RCPT TO:<" + t + ">").starts_with("250"));
    REQUIRE(c.command("DATA").starts_with("354"));
    // The padding in lines of 76: a line over 998 octets would return headers only.
    std::string text = body(tag);
    for (std::size_t i = 0; i < pad / 78; ++i) text += std::string(76, 'x') + "\r\n";
    c.send_raw(text);
    c.send_raw(".\r\n");
    REQUIRE(c.reply().starts_with("250"));
    c.command("QUIT");
}

std::size_t count_of(const std::string& haystack, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
    return n;
}

std::vector<edge::queue::QueueInfo> queues(const EdgeServer& s) {
    edge::queue::QueueDbOptions o;
    o.recover_leases = false;
    auto db = edge::queue::QueueDb::open(s.data(), o);
    if (!db) throw std::runtime_error("open queue: " + db.error().message());
    return (*db)->list_queues();
}

std::size_t messages_in_queue(const EdgeServer& s) {
    std::size_t n = 0;
    for (const auto& q : queues(s)) n += q.message_count;
    return n;
}

// The report of a DSN as Python's email package reads it (tests/support/parse_dsn.py).
std::string parse_dsn(const TempDir& dir, const std::string& message) {
    std::string path = dir.path() + "/dsn.eml";
    std::ofstream(path, std::ios::binary) << message;
    std::string out;
    int rc = run_command(std::string("/usr/bin/python3 ") + PARSE_DSN_SCRIPT + " " + shell_quote(path), &out);
    REQUIRE(rc == 0);
    return out;
}

std::vector<std::string> files_in(const std::string& dir, const std::string& prefix) {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (auto* e = ::readdir(d))
            if (std::string(e->d_name).starts_with(prefix)) out.push_back(dir + "/" + e->d_name);
        ::closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TEST_CASE("a message goes out through a smart host with the connector's Fqdn in EHLO", "[send]") {
    SmtpPeer back, hub;
    EdgeServer s;
    relay_setup(s, back);
    s.must_edgectl("New-SendConnector Hub -AddressSpaces contoso.test -DNSRoutingEnabled '$false' -SmartHosts " + hub.ip() +
                   " -Port " + std::to_string(hub.port()) + " -Fqdn out.edge.test -ProtocolLoggingLevel Verbose");
    s.start();
    send(s, "sender@back.test", {"user@contoso.test"}, "smart");
    auto got = hub.wait_for_messages(1, 20s);
    REQUIRE(got.size() == 1);
    CHECK(got[0].helo == "out.edge.test");
    CHECK(got[0].mail_from == "sender@back.test");
    CHECK(got[0].rcpt_to == std::vector<std::string>{"user@contoso.test"});
    CHECK(got[0].data.find("Subject: smart\r\n") != std::string::npos);
    CHECK(got[0].data.find("Received: from client.test") != std::string::npos);
    CHECK(wait_until([&] { return messages_in_queue(s) == 0; }));

    SECTION("the SmtpSend protocol log and the message tracking log tell the story") {
        s.stop();
        auto logs = files_in(s.data() + "/Logs/ProtocolLog/SmtpSend", "SEND");
        REQUIRE(!logs.empty());
        std::ifstream in(logs.front());
        std::string line, seen;
        bool ehlo = false, quit = false, connect = false;
        while (std::getline(in, line)) {
            auto f = edge::logging::parse_protocol_log_line(line);
            if (!f) continue;
            CHECK((*f)[1] == "Hub");
            if ((*f)[6] == "+") connect = true;
            if ((*f)[6] == ">" && (*f)[7] == "EHLO out.edge.test") ehlo = true;
            if ((*f)[6] == ">" && (*f)[7] == "QUIT") quit = true;
            CHECK((*f)[7].find("Hello smart") == std::string::npos);  // content is never logged
        }
        CHECK(connect);
        CHECK(ehlo);
        CHECK(quit);
        auto events = edge::logging::read_tracking_logs(s.data() + "/Logs/MessageTracking");
        std::vector<std::string> ids;
        for (const auto& e : events)
            if (e.message_id == "<smart@client.test>") ids.push_back(e.event_id);
        CHECK(ids == std::vector<std::string>{"RECEIVE", "SEND"});
        for (const auto& e : events)
            if (e.event_id == "SEND") {
                CHECK(e.connector_id == "Hub");
                REQUIRE(e.recipient_status.size() == 1);
                CHECK(e.recipient_status[0].starts_with("250"));
            }
    }
}

TEST_CASE("each connector's mail leaves from its own SourceIPAddress", "[send][source-ip]") {
    SmtpPeer back, peer;
    EdgeServer s;
    relay_setup(s, back);
    const std::string to = " -DNSRoutingEnabled '$false' -SmartHosts " + peer.ip() + " -Port " + std::to_string(peer.port());
    s.must_edgectl("New-SendConnector A -AddressSpaces a.test -SourceIPAddress 127.0.0.2 -Fqdn a.edge.test" + to);
    s.must_edgectl("New-SendConnector B -AddressSpaces b.test -SourceIPAddress 127.0.0.3 -Fqdn b.edge.test" + to);
    s.start();
    send(s, "sender@back.test", {"x@a.test"}, "via-a");
    send(s, "sender@back.test", {"y@b.test"}, "via-b");
    auto got = peer.wait_for_messages(2, 20s);
    REQUIRE(got.size() == 2);
    std::map<std::string, std::pair<std::string, std::string>> by_rcpt;
    for (const auto& m : got) by_rcpt[m.rcpt_to.at(0)] = {m.peer_ip, m.helo};
    CHECK(by_rcpt["x@a.test"] == std::pair<std::string, std::string>{"127.0.0.2", "a.edge.test"});
    CHECK(by_rcpt["y@b.test"] == std::pair<std::string, std::string>{"127.0.0.3", "b.edge.test"});
}

TEST_CASE("MX records: preference order, the next MX when the first refuses, implicit MX, null MX", "[send][dns]") {
    const std::uint16_t port = free_port();
    SmtpPeer back;
    SmtpPeer mx1({"--greeting-reply", "554 5.7.1 go away"}, "127.0.0.10", port);
    SmtpPeer mx2({}, "127.0.0.11", port);
    SmtpPeer good({}, "127.0.0.12", port);
    NsdServer dns({{"refuse.test", "@ IN MX 10 mx1\n@ IN MX 20 mx2\nmx1 IN A 127.0.0.10\nmx2 IN A 127.0.0.11\n"},
                   {"order.test", "@ IN MX 10 first\n@ IN MX 20 second\nfirst IN A 127.0.0.12\nsecond IN A 127.0.0.11\n"},
                   {"implicit.test", "@ IN A 127.0.0.12\n"},
                   {"nullmx.test", "@ IN MX 0 .\n"}});
    EdgeServer s;
    relay_setup(s, back, "-InternalDNSServers " + dns.endpoint());
    // The MX hosts are on loopback: the connector must be told it may go there.
    s.must_edgectl("New-SendConnector Internet -AddressSpaces '*' -AllowPrivateTargetAddresses '$true' -Port " +
                   std::to_string(port));
    s.start();
    send(s, "sender@back.test", {"a@refuse.test"}, "refused-first");
    send(s, "sender@back.test", {"b@order.test"}, "preference");
    send(s, "sender@back.test", {"c@implicit.test"}, "implicit");
    send(s, "sender@back.test", {"d@nullmx.test"}, "nullmx");

    auto at_mx2 = mx2.wait_for_messages(1, 20s);
    REQUIRE(at_mx2.size() == 1);
    CHECK(at_mx2[0].rcpt_to.at(0) == "a@refuse.test");
    CHECK(mx1.messages().empty());
    CHECK(!mx1.events("connect").empty());  // it was tried first
    auto at_good = good.wait_for_messages(2, 20s);
    REQUIRE(at_good.size() == 2);
    std::set<std::string> rcpts;
    for (const auto& m : at_good) rcpts.insert(m.rcpt_to.at(0));
    CHECK(rcpts == std::set<std::string>{"b@order.test", "c@implicit.test"});

    auto ndr = back.wait_for_messages(1, 20s);
    REQUIRE(ndr.size() == 1);
    CHECK(ndr[0].mail_from.empty());
    CHECK(ndr[0].rcpt_to.at(0) == "sender@back.test");
    TempDir tmp;
    auto report = parse_dsn(tmp, ndr[0].data);
    CHECK(report.find("Action\tfailed") != std::string::npos);
    CHECK(report.find("5.1.10") != std::string::npos);
    CHECK(report.find("d@nullmx.test") != std::string::npos);
}

TEST_CASE("connector selection: most specific wins, cost breaks ties, an oversize message never falls through", "[send][selection]") {
    SmtpPeer back, star, specific, cheap, dear;
    EdgeServer s;
    relay_setup(s, back);
    auto via = [](const SmtpPeer& p) {
        return " -DNSRoutingEnabled '$false' -SmartHosts " + p.ip() + " -Port " + std::to_string(p.port());
    };
    s.must_edgectl("New-SendConnector Star -AddressSpaces '*' " + via(star));
    s.must_edgectl("New-SendConnector Specific -AddressSpaces *.sel.test -MaxMessageSize 64KB -RequireTLS '$false'" + via(specific));
    s.must_edgectl("New-SendConnector Cheap -AddressSpaces 'SMTP:tie.test;1' " + via(cheap));
    s.must_edgectl("New-SendConnector Dear -AddressSpaces 'SMTP:tie.test;5' " + via(dear));
    s.start();
    send(s, "sender@back.test", {"x@www.sel.test"}, "specific");
    send(s, "sender@back.test", {"y@tie.test"}, "tie");
    send(s, "sender@back.test", {"z@big.sel.test"}, "oversize", 100 * 1024);
    send(s, "sender@back.test", {"w@other.test"}, "star");

    REQUIRE(specific.wait_for_messages(1, 20s).size() == 1);
    REQUIRE(cheap.wait_for_messages(1, 20s).size() == 1);
    REQUIRE(star.wait_for_messages(1, 20s).size() == 1);
    auto ndr = back.wait_for_messages(1, 20s);
    REQUIRE(ndr.size() == 1);
    TempDir tmp;
    auto report = parse_dsn(tmp, ndr[0].data);
    CHECK(report.find("5.3.4") != std::string::npos);
    CHECK(report.find("z@big.sel.test") != std::string::npos);
    std::this_thread::sleep_for(1s);
    CHECK(dear.messages().empty());
    REQUIRE(star.messages().size() == 1);  // only "star": the oversize one did not fall through
    CHECK(star.messages()[0].rcpt_to.at(0) == "w@other.test");
    CHECK(specific.messages().size() == 1);
}

TEST_CASE("4xx from the peer: Retry with LastError and NextRetryTime, then delivered once the peer is fixed", "[send][retry]") {
    SmtpPeer back, flaky;
    EdgeServer s;
    relay_setup(s, back, "-MessageRetryInterval 00:00:02");
    s.must_edgectl("New-SendConnector Flaky -AddressSpaces flaky.test -DNSRoutingEnabled '$false' -SmartHosts " +
                   flaky.ip() + " -Port " + std::to_string(flaky.port()));
    std::ofstream(flaky.dir() + "/mode") << "451 4.3.0 Try again later";
    s.start();
    send(s, "sender@back.test", {"x@flaky.test"}, "later");
    REQUIRE(wait_until([&] { return !flaky.events("data").empty(); }));
    edge::queue::QueueDbOptions o;
    o.recover_leases = false;
    REQUIRE(wait_until([&] {
        auto db = edge::queue::QueueDb::open(s.data(), o);
        edge::queue::MessageFilter f;
        for (const auto& m : (*db)->list_messages(f))
            if (m.status == edge::queue::MessageStatus::Retry && m.next_retry_time &&
                m.last_error.find("451 4.3.0 Try again later") != std::string::npos)
                return true;
        return false;
    }));
    std::filesystem::remove(flaky.dir() + "/mode");
    auto got = flaky.wait_for_messages(1, 20s);
    INFO(s.server_log());
    REQUIRE(got.size() == 1);
    CHECK(wait_until([&] { return messages_in_queue(s) == 0; }));
    CHECK(back.messages().empty());  // a deferral is no failure: no NDR
}

TEST_CASE("SmartHostAuthMechanism BasicAuth: AUTH before MAIL, credentials never in the log, a refusal waits in Retry",
          "[send][auth]") {
    SmtpPeer back, hub({"--auth", "edge:s3cret"});
    EdgeServer s;
    relay_setup(s, back, "-MessageRetryInterval 00:10:00");
    const std::string to_hub = " -DNSRoutingEnabled '$false' -SmartHosts " + hub.ip() + " -Port " + std::to_string(hub.port()) +
                               " -SmartHostAuthMechanism BasicAuth -ProtocolLoggingLevel Verbose";
    s.must_edgectl("New-SendConnector Hub -AddressSpaces contoso.test -AuthenticationCredential 'edge:s3cret'" + to_hub);
    s.must_edgectl("New-SendConnector Wrong -AddressSpaces wrong.test -AuthenticationCredential 'edge:nope'" + to_hub);
    s.start();
    send(s, "sender@back.test", {"user@contoso.test"}, "authenticated");
    auto got = hub.wait_for_messages(1, 20s);
    REQUIRE(got.size() == 1);  // the peer refuses MAIL before a successful AUTH (530)
    CHECK(got[0].rcpt_to == std::vector<std::string>{"user@contoso.test"});

    // Refused credentials: nothing is sent, the queue waits in Retry saying why.
    send(s, "sender@back.test", {"user@wrong.test"}, "refused");
    edge::queue::QueueDbOptions o;
    o.recover_leases = false;
    REQUIRE(wait_until([&] {
        auto db = edge::queue::QueueDb::open(s.data(), o);
        auto q = (*db)->get_queue(edge::queue::QueueId::next_hop_domain("wrong"));
        return q && q->last_error.find("refused our credentials: 535") != std::string::npos;
    }));
    CHECK(hub.messages().size() == 1);
    CHECK(hub.events("mail").size() == 1);  // the refused connection never got to MAIL

    s.stop();
    std::string log;
    for (const auto& f : files_in(s.data() + "/Logs/ProtocolLog/SmtpSend", "SEND")) {
        std::ifstream in(f);
        std::stringstream ss;
        ss << in.rdbuf();
        log += ss.str();
    }
    CHECK(log.find("AUTH ****") != std::string::npos);
    CHECK(log.find("235 2.7.0") != std::string::npos);
    CHECK(log.find("s3cret") == std::string::npos);
    CHECK(log.find("AGVkZ2UAczNjcmV0") == std::string::npos);  // base64 of the credentials
}

TEST_CASE("a peer that cannot be reached puts the next hop in Retry with LastError and NextRetryTime", "[send][retry]") {
    SmtpPeer back;
    EdgeServer s;
    relay_setup(s, back, "-QueueGlitchRetryInterval 00:00:30");
    const std::uint16_t dead = free_port();
    s.must_edgectl("New-SendConnector Dead -AddressSpaces dead.test -DNSRoutingEnabled '$false' -SmartHosts 127.0.0.1 -Port " +
                   std::to_string(dead));
    s.start();
    send(s, "sender@back.test", {"x@dead.test"}, "dead");
    REQUIRE(wait_until([&] {
        for (const auto& q : queues(s))
            if (q.id.next_hop == "dead" && q.status == edge::queue::QueueStatus::Retry && q.next_retry_time &&
                q.last_error.find("127.0.0.1:" + std::to_string(dead)) != std::string::npos)
                return true;
        return false;
    }));
}

TEST_CASE("5xx from the peer: one NDR whose report a MIME parser reads back, and never an NDR to the null sender", "[send][dsn]") {
    SmtpPeer back, strict({"--rcpt-reply", "bad@*=550 5.1.1 User unknown"});
    EdgeServer s;
    relay_setup(s, back);
    s.must_edgectl("New-SendConnector Strict -AddressSpaces strict.test -DNSRoutingEnabled '$false' -SmartHosts " +
                   strict.ip() + " -Port " + std::to_string(strict.port()));
    s.start();
    send(s, "sender@back.test", {"bad@strict.test", "good@strict.test"}, "mixed");
    send(s, "", {"bad@strict.test"}, "from-null");
    auto ok = strict.wait_for_messages(1, 20s);
    REQUIRE(ok.size() == 1);
    CHECK(ok[0].rcpt_to == std::vector<std::string>{"good@strict.test"});
    auto ndr = back.wait_for_messages(1, 20s);
    REQUIRE(ndr.size() == 1);
    TempDir tmp;
    auto report = parse_dsn(tmp, ndr[0].data);
    CHECK(report.find("multipart/report") != std::string::npos);
    CHECK(report.find("Status\t5.1.1") != std::string::npos);
    CHECK(report.find("550 5.1.1 User unknown") != std::string::npos);
    CHECK(report.find("bad@strict.test") != std::string::npos);
    CHECK(report.find("good@strict.test") == std::string::npos);
    CHECK(report.find("<mixed@client.test>") != std::string::npos);  // the original headers
    CHECK(wait_until([&] { return messages_in_queue(s) == 0; }));
    std::this_thread::sleep_for(1s);
    CHECK(back.messages().size() == 1);  // the null sender's failure made no NDR
}

TEST_CASE("an NDR comes from ExternalPostmasterAddress and returns the original only up to ExternalDsnMaxMessageAttachSize",
          "[send][dsn][settings]") {
    SmtpPeer back, strict({"--rcpt-reply", "*=550 5.1.1 User unknown"});
    EdgeServer s;
    relay_setup(s, back, "-ExternalPostmasterAddress ndr-desk@back.test -ExternalDsnMaxMessageAttachSize 4KB");
    s.must_edgectl("New-SendConnector Strict -AddressSpaces strict.test -DNSRoutingEnabled '$false' -SmartHosts " +
                   strict.ip() + " -Port " + std::to_string(strict.port()));
    s.start();
    send_ret_full(s, "sender@back.test", {"a@strict.test"}, "small", 0);
    REQUIRE(back.wait_for_messages(1, 20s).size() == 1);
    send_ret_full(s, "sender@back.test", {"b@strict.test"}, "large", 8 * 1024);
    auto ndrs = back.wait_for_messages(2, 20s);
    REQUIRE(ndrs.size() == 2);
    for (const auto& n : ndrs) {
        CHECK(n.mail_from.empty());  // the envelope sender stays null
        CHECK(("\r\n" + n.data).find("\r\nFrom: ndr-desk@back.test\r\n") != std::string::npos);  // a header line
        CHECK(n.data.find("postmaster@") == std::string::npos);
    }
    TempDir tmp;
    const auto& small = ndrs[0].data.find("<small@client.test>") != std::string::npos ? ndrs[0] : ndrs[1];
    const auto& large = &small == &ndrs[0] ? ndrs[1] : ndrs[0];
    CHECK(parse_dsn(tmp, small.data).find("message/rfc822") != std::string::npos);  // under 4 KB: attached
    CHECK(count_of(small.data, "Hello small.") == 1);
    CHECK(parse_dsn(tmp, large.data).find("text/rfc822-headers") != std::string::npos);  // over: headers only
    CHECK(large.data.find("<large@client.test>") != std::string::npos);
    CHECK(count_of(large.data, "Hello large.") == 0);
}

TEST_CASE("delay notification once, then expiry with NDR 4.4.7, on shortened timeouts", "[send][dsn]") {
    SmtpPeer back, slow;
    EdgeServer s;
    relay_setup(s, back, "-MessageRetryInterval 00:00:01 -DelayNotificationTimeout 00:00:02 -MessageExpirationTimeout 00:00:06");
    s.must_edgectl("New-SendConnector Slow -AddressSpaces slow.test -DNSRoutingEnabled '$false' -SmartHosts " + slow.ip() +
                   " -Port " + std::to_string(slow.port()));
    std::ofstream(slow.dir() + "/mode") << "452 4.2.2 Mailbox full";
    s.start();
    send(s, "sender@back.test", {"x@slow.test"}, "slowly");
    auto dsns = back.wait_for_messages(2, 30s);
    REQUIRE(dsns.size() == 2);
    TempDir tmp;
    auto delay = parse_dsn(tmp, dsns[0].data);
    CHECK(delay.find("Action\tdelayed") != std::string::npos);
    auto expired = parse_dsn(tmp, dsns[1].data);
    CHECK(expired.find("Action\tfailed") != std::string::npos);
    CHECK(expired.find("4.4.7") != std::string::npos);
    CHECK(wait_until([&] { return messages_in_queue(s) == 0; }));
    std::this_thread::sleep_for(2s);
    CHECK(back.messages().size() == 2);  // one delay notice, not one per retry
}

TEST_CASE("RequireTLS against a peer without STARTTLS: nothing is sent in clear, the hop waits with a clear LastError", "[send][tls]") {
    SmtpPeer back, clear;
    EdgeServer s;
    relay_setup(s, back);
    s.must_edgectl("New-SendConnector Secure -AddressSpaces secure.test -RequireTLS '$true' -DNSRoutingEnabled '$false' -SmartHosts " +
                   clear.ip() + " -Port " + std::to_string(clear.port()));
    s.start();
    send(s, "sender@back.test", {"x@secure.test"}, "secret");
    REQUIRE(wait_until([&] {
        for (const auto& q : queues(s))
            if (q.status == edge::queue::QueueStatus::Retry && q.last_error.find("STARTTLS") != std::string::npos) return true;
        return false;
    }));
    CHECK(clear.events("mail").empty());
    CHECK(clear.events("rcpt").empty());
    CHECK(clear.messages().empty());
}

TEST_CASE("STARTTLS is used when the peer offers it", "[send][tls]") {
    TempDir certs;
    auto [cert, key] = make_test_certificate(certs.path(), "tls.peer.test");
    SmtpPeer back, tls_peer({"--starttls", cert + "," + key});
    EdgeServer s;
    relay_setup(s, back);
    s.must_edgectl("New-SendConnector Tls -AddressSpaces tls.test -RequireTLS '$true' -DNSRoutingEnabled '$false' -SmartHosts " +
                   tls_peer.ip() + " -Port " + std::to_string(tls_peer.port()));
    s.start();
    send(s, "sender@back.test", {"x@tls.test"}, "wrapped");
    auto got = tls_peer.wait_for_messages(1, 20s);
    INFO(s.server_log() + tls_peer.log_text());
    REQUIRE(got.size() == 1);
    CHECK(got[0].tls);
}

TEST_CASE("the peer never sees more connections at once than MaxPerDomainOutboundConnections", "[send][limits]") {
    SmtpPeer back, peer({"--delay-data", "0.3"});
    EdgeServer s;
    relay_setup(s, back, "-MaxPerDomainOutboundConnections 2");
    s.must_edgectl("New-SendConnector Limited -AddressSpaces limit.test -SmtpMaxMessagesPerConnection 1 -DNSRoutingEnabled '$false' -SmartHosts " +
                   peer.ip() + " -Port " + std::to_string(peer.port()));
    s.start();
    for (int i = 0; i < 12; ++i) send(s, "sender@back.test", {"x@limit.test"}, "limit" + std::to_string(i));
    auto got = peer.wait_for_messages(12, 60s);
    CHECK(got.size() == 12);
    CHECK(peer.max_concurrent() == 2);
}

TEST_CASE("kill -9 during delivery: after restart every message is delivered, duplicates only inside the window", "[send][crash]") {
    SmtpPeer back, peer({"--delay-data", "0.2"});
    EdgeServer s;
    relay_setup(s, back, "-MaxPerDomainOutboundConnections 3");
    s.must_edgectl("New-SendConnector Crash -AddressSpaces crash.test -DNSRoutingEnabled '$false' -SmartHosts " +
                   peer.ip() + " -Port " + std::to_string(peer.port()));
    s.start();
    const int n = 30;
    for (int i = 0; i < n; ++i) send(s, "sender@back.test", {"x@crash.test"}, "crash" + std::to_string(i));
    peer.wait_for_messages(5, 30s);
    s.stop(SIGKILL);
    const std::size_t before = peer.messages().size();
    CHECK(before < static_cast<std::size_t>(n));
    s.start();
    REQUIRE(wait_until([&] { return messages_in_queue(s) == 0; }, 60s));
    std::map<std::string, int> seen;
    for (const auto& m : peer.messages()) {
        auto at = m.data.find("Message-ID: <");
        REQUIRE(at != std::string::npos);
        seen[m.data.substr(at, m.data.find('\r', at) - at)]++;
    }
    CHECK(seen.size() == static_cast<std::size_t>(n));  // every message delivered
    int duplicates = 0;
    for (const auto& [id, count] : seen) duplicates += count - 1;
    // The window (design.md): the peer said 250 and the crash came before our commit of
    // that outcome — at most one message per connection open at the kill.
    CHECK(duplicates <= 3);
}

// Issue 13, weakness 7: a forged sender must not make us a backscatter amplifier.
TEST_CASE("one message whose recipients fail in several next-hop queues makes one NDR naming them all, the original once",
          "[send][dsn][ndr]") {
    SmtpPeer back;
    SmtpPeer a({"--rcpt-reply", "*=550 5.1.1 User unknown"}), b({"--rcpt-reply", "*=550 5.1.1 User unknown"}),
        c({"--rcpt-reply", "*=554 5.7.1 Relay denied"});
    EdgeServer s;
    relay_setup(s, back);
    for (auto [name, peer] : {std::pair{"A", &a}, std::pair{"B", &b}, std::pair{"C", &c}})
        s.must_edgectl(std::string("New-SendConnector ") + name + " -AddressSpaces " + name + ".fail.test" +
                       " -DNSRoutingEnabled '$false' -SmartHosts " + peer->ip() + " -Port " + std::to_string(peer->port()));
    s.start();
    const std::size_t pad = 200 * 1024;  // the 200 KB of the report
    send_ret_full(s, "sender@back.test",
                  {"x1@a.fail.test", "x2@a.fail.test", "y1@b.fail.test", "z1@c.fail.test", "z2@c.fail.test"}, "fanout",
                  pad);
    auto ndrs = back.wait_for_messages(1, 20s);
    REQUIRE(ndrs.size() == 1);
    CHECK(wait_until([&] { return messages_in_queue(s) == 0; }));
    std::this_thread::sleep_for(2s);
    REQUIRE(back.messages().size() == 1);  // one NDR, not one per queue
    for (auto* peer : {&a, &b, &c}) CHECK_FALSE(peer->events("rcpt").empty());  // every queue had its attempt
    const auto all = back.messages();
    const std::string& ndr = all[0].data;
    CHECK(all[0].mail_from.empty());
    TempDir tmp;
    auto report = parse_dsn(tmp, ndr);
    CHECK(report.find("recipients\t5\n") != std::string::npos);
    for (const char* r : {"x1@a.fail.test", "x2@a.fail.test", "y1@b.fail.test", "z1@c.fail.test", "z2@c.fail.test"}) {
        INFO(r);
        CHECK(report.find(std::string("Final-Recipient\trfc822; ") + r) != std::string::npos);
    }
    CHECK(report.find("Status\t5.1.1") != std::string::npos);
    CHECK(report.find("Status\t5.7.1") != std::string::npos);
    CHECK(report.find("returned.header.Message-ID\t<fanout@client.test>") != std::string::npos);
    CHECK(count_of(ndr, "Hello fanout.") == 1);  // the original attached once
    CHECK(ndr.size() > pad);
    CHECK(ndr.size() < 2 * pad);
}

TEST_CASE("a mix of delivered, failed and unreachable recipients in several queues makes one NDR naming only the failed",
          "[send][dsn][ndr]") {
    SmtpPeer back;
    SmtpPeer a({"--rcpt-reply", "bad*=550 5.1.1 User unknown"}), b({"--rcpt-reply", "bad*=550 5.1.1 User unknown"}), c;
    const std::uint16_t dead_port = free_port();  // nobody listens: that queue's attempt fails to connect
    EdgeServer s;
    relay_setup(s, back);
    for (auto [name, peer] : {std::pair{"A", &a}, std::pair{"B", &b}, std::pair{"C", &c}})
        s.must_edgectl(std::string("New-SendConnector ") + name + " -AddressSpaces " + name + ".mix.test" +
                       " -DNSRoutingEnabled '$false' -SmartHosts " + peer->ip() + " -Port " + std::to_string(peer->port()));
    s.must_edgectl("New-SendConnector Dead -AddressSpaces dead.mix.test -DNSRoutingEnabled '$false' -SmartHosts 127.0.0.1 -Port " +
                   std::to_string(dead_port));
    s.start();
    send(s, "sender@back.test",
         {"bad1@a.mix.test", "good1@a.mix.test", "bad2@b.mix.test", "good2@c.mix.test", "later@dead.mix.test"}, "mix");
    auto at_a = a.wait_for_messages(1, 20s);
    auto at_c = c.wait_for_messages(1, 20s);
    REQUIRE(at_a.size() == 1);
    REQUIRE(at_c.size() == 1);
    CHECK(at_a[0].rcpt_to == std::vector<std::string>{"good1@a.mix.test"});
    CHECK(b.messages().empty());
    auto ndrs = back.wait_for_messages(1, 20s);
    REQUIRE(ndrs.size() == 1);
    std::this_thread::sleep_for(2s);
    REQUIRE(back.messages().size() == 1);
    TempDir tmp;
    auto report = parse_dsn(tmp, ndrs[0].data);
    CHECK(report.find("recipients\t2\n") != std::string::npos);
    CHECK(report.find("rfc822; bad1@a.mix.test") != std::string::npos);
    CHECK(report.find("rfc822; bad2@b.mix.test") != std::string::npos);
    for (const char* r : {"good1@a.mix.test", "good2@c.mix.test", "later@dead.mix.test"}) {
        INFO(r);
        CHECK(report.find(r) == std::string::npos);
    }
    CHECK(messages_in_queue(s) == 1);  // later@dead.mix.test waits in Retry
}

// Issue 13, weakness 11b: a forged domain's MX must not aim our mail at our own host.
TEST_CASE("an MX or a smart-host name on loopback is not connected to unless the connector allows it",
          "[send][dns][private]") {
    const std::uint16_t port = free_port();
    SmtpPeer back;
    SmtpPeer inside({}, "127.0.0.13", port);
    NsdServer dns({{"loop.test", "@ IN MX 10 mx\nmx IN A 127.0.0.13\n"},
                   {"names.test", "relay IN A 127.0.0.13\n"}});
    EdgeServer s;
    relay_setup(s, back, "-InternalDNSServers " + dns.endpoint());
    s.must_edgectl("New-SendConnector Internet -AddressSpaces '*' -Port " + std::to_string(port));
    s.must_edgectl("New-SendConnector Relay -AddressSpaces smart.test -DNSRoutingEnabled '$false' -SmartHosts relay.names.test -Port " +
                   std::to_string(port));
    s.start();
    send(s, "sender@back.test", {"x@loop.test"}, "by-mx");
    send(s, "sender@back.test", {"y@smart.test"}, "by-smart-host");
    auto last_error = [&](const std::string& name) {
        for (const auto& q : queues(s))
            if (q.id.name() == name) return q.last_error;
        return std::string();
    };
    REQUIRE(wait_until([&] { return !last_error("loop.test").empty() && !last_error("relay").empty(); }));
    for (const char* q : {"loop.test", "relay"}) {
        INFO(q);
        CHECK(last_error(q).find("127.0.0.13 (internal)") != std::string::npos);
        CHECK(last_error(q).find("AllowPrivateTargetAddresses") != std::string::npos);
    }
    CHECK(last_error("loop.test").find("mx.loop.test") != std::string::npos);
    CHECK(last_error("relay").find("relay.names.test") != std::string::npos);
    CHECK(inside.events("connect").empty());
    CHECK(back.messages().empty());  // it waits (4.4.0), nothing is lost

    s.must_edgectl("Set-SendConnector Internet -AllowPrivateTargetAddresses '$true'");
    s.must_edgectl("Set-SendConnector Relay -AllowPrivateTargetAddresses '$true'");
    for (const char* q : {"loop.test", "relay"}) s.must_edgectl("Retry-Queue " + shell_quote(EdgeServer::host() + "\\" + q));
    auto got = inside.wait_for_messages(2, 30s);
    REQUIRE(got.size() == 2);
    std::set<std::string> rcpts;
    for (const auto& m : got) rcpts.insert(m.rcpt_to.at(0));
    CHECK(rcpts == std::set<std::string>{"x@loop.test", "y@smart.test"});
}
