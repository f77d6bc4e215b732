// Issue 20 item 7 end to end: mail to an internationalised domain found in NSD under its
// A-labels, the SMTPUTF8 downgrade toward peers with and without SMTPUTF8 (smtp_peer.py
// --without SMTPUTF8), and an MX list that points back at this server (RFC 5321 §5.1).
// Part of send_tests; compiled outside its unity build (its helpers' names are
// test_send.cpp's too).
#include "dns_server.hpp"
#include "edge_server.hpp"
#include "smtp_peer.hpp"

#include <catch2/catch.hpp>

using namespace edge::test;
using namespace std::chrono_literals;

namespace {

// As test_send.cpp: every *.test domain is relayed; NDRs for back.test go to `back`.
void relay_setup(EdgeServer& s, const SmtpPeer& back, const NsdServer& dns) {
    s.must_edgectl("New-AcceptedDomain -Name Tests -DomainName *.test -DomainType ExternalRelay");
    s.must_edgectl("New-SendConnector Back -AddressSpaces back.test -DNSRoutingEnabled '$false' -SmartHosts " + back.ip() +
                   " -Port " + std::to_string(back.port()));
    s.must_edgectl("Set-TransportServer -InternalDNSServers " + dns.endpoint());
}

// One message with MAIL FROM … SMTPUTF8 (RFC 6531): the receive side asks for it before
// it takes a non-ASCII address.
void send_utf8(const EdgeServer& s, const std::vector<std::string>& to, const std::string& headers) {
    SmtpClient c(s.port());
    REQUIRE(c.reply().starts_with("220"));
    REQUIRE(c.command("EHLO client.test").starts_with("250"));
    REQUIRE(c.command("MAIL FROM:<sender@back.test> SMTPUTF8").starts_with("250"));
    for (const auto& t : to) REQUIRE(c.command("RCPT TO:<" + t + ">").starts_with("250"));
    REQUIRE(c.command("DATA").starts_with("354"));
    c.send_raw("From: sender@back.test\r\n" + headers + "\r\nHello.\r\n.\r\n");
    REQUIRE(c.reply().starts_with("250"));
    c.command("QUIT");
}

void send_ascii(const EdgeServer& s, const std::string& to, const std::string& tag) {
    SmtpClient c(s.port());
    REQUIRE(c.reply().starts_with("220"));
    REQUIRE(c.command("EHLO client.test").starts_with("250"));
    REQUIRE(c.send_mail("sender@back.test", {to}, "From: sender@back.test\r\nSubject: " + tag + "\r\n\r\nHello.\r\n")
                .starts_with("250"));
    c.command("QUIT");
}

std::size_t messages_in_queue(const EdgeServer& s) {
    edge::queue::QueueDbOptions o;
    o.recover_leases = false;
    auto db = edge::queue::QueueDb::open(s.data(), o);
    if (!db) throw std::runtime_error("open queue: " + db.error().message());
    std::size_t n = 0;
    for (const auto& q : (*db)->list_queues()) n += q.message_count;
    return n;
}

// The NDR `back` received for `rcpt`: its text, or "" when none came.
std::string ndr_for(const std::vector<PeerMessage>& got, const std::string& rcpt) {
    for (const auto& m : got)
        if (m.mail_from.empty() && m.data.find(rcpt) != std::string::npos) return m.data;
    return {};
}

}  // namespace

TEST_CASE("mail to a Unicode domain is delivered by its A-label MX, as A-labels to a peer without SMTPUTF8 and as written to one with it",
          "[send][idn]") {
    const std::uint16_t port = free_port();
    SmtpPeer back;
    SmtpPeer plain({"--without", "SMTPUTF8"}, "127.0.0.14", port);  // no SMTPUTF8
    SmtpPeer utf8({}, "127.0.0.15", port);                           // offers SMTPUTF8
    // DNS holds only the A-labels: xn--bcher-kva.test is bücher.test, xn--mnchen-3ya.test münchen.test.
    NsdServer dns({{"xn--bcher-kva.test", "@ IN MX 10 mx\nmx IN A 127.0.0.14\n"},
                   {"xn--mnchen-3ya.test", "@ IN MX 10 mx\nmx IN A 127.0.0.15\n"}});
    EdgeServer s;
    relay_setup(s, back, dns);
    // The connector's Fqdn given in Unicode goes out in EHLO as A-labels.
    s.must_edgectl("New-SendConnector Internet -AddressSpaces '*' -AllowPrivateTargetAddresses '$true' -Fqdn "
                   "'ausgang.b\xc3\xbc" "cher.test' -Port " + std::to_string(port));
    s.start();

    send_utf8(s, {"user@b\xc3\xbc" "cher.test", "j\xc3\xb6rg@b\xc3\xbc" "cher.test"}, "Subject: ascii headers\r\n");
    send_utf8(s, {"user@m\xc3\xbc" "nchen.test"}, "Subject: to Munich\r\n");
    // UTF-8 in a header field (RFC 6532) of a message received with SMTPUTF8: no lossless form.
    send_utf8(s, {"other@b\xc3\xbc" "cher.test"}, "Subject: Gr\xc3\xbc\xc3\x9f" "e\r\n");

    auto at_plain = plain.wait_for_messages(1, 20s);
    REQUIRE(at_plain.size() == 1);
    CHECK(at_plain[0].helo == "ausgang.xn--bcher-kva.test");
    CHECK(at_plain[0].rcpt_to == std::vector<std::string>{"user@xn--bcher-kva.test"});
    CHECK(std::find(at_plain[0].mail_params.begin(), at_plain[0].mail_params.end(), "SMTPUTF8") == at_plain[0].mail_params.end());
    auto at_utf8 = utf8.wait_for_messages(1, 20s);
    REQUIRE(at_utf8.size() == 1);
    CHECK(at_utf8[0].rcpt_to == std::vector<std::string>{"user@m\xc3\xbc" "nchen.test"});
    CHECK(std::find(at_utf8[0].mail_params.begin(), at_utf8[0].mail_params.end(), "SMTPUTF8") != at_utf8[0].mail_params.end());

    // The UTF-8 local part and the UTF-8 header each come back to the sender as 5.6.7.
    auto ndrs = back.wait_for_messages(2, 30s);
    REQUIRE(ndrs.size() == 2);
    // A DSN names a UTF-8 recipient as RFC 6533 does: "utf-8; j\x{F6}rg@…".
    const std::string local = ndr_for(ndrs, "j\\x{F6}rg@b\\x{FC}cher.test");
    const std::string header = ndr_for(ndrs, "other@b\\x{FC}cher.test");
    CHECK(local.find("5.6.7") != std::string::npos);
    CHECK(local.find("SMTPUTF8") != std::string::npos);  // the diagnostic (folded lines: one word)
    CHECK(header.find("5.6.7") != std::string::npos);
    CHECK(header.find("SMTPUTF8") != std::string::npos);
    CHECK(plain.messages().size() == 1);  // nothing of the refused ones reached the peer
    CHECK(wait_until([&] { return messages_in_queue(s) == 0; }));
}

TEST_CASE("an MX that is this server: the hosts at or above its preference are dropped, and as the best MX it is a 5.4.6 NDR",
          "[send][mx loop]") {
    SmtpPeer back;
    EdgeServer s;
    // The Send connector connects to the port we listen on: 127.0.0.1 there is us, while a
    // peer on another loopback address at that port is not.
    SmtpPeer other({}, "127.0.0.16", s.port());
    NsdServer dns({{"self.test", "@ IN MX 10 mx\nmx IN A 127.0.0.1\n"},
                   {"better.test", "@ IN MX 10 peer\n@ IN MX 20 us\npeer IN A 127.0.0.16\nus IN A 127.0.0.1\n"},
                   {"worse.test", "@ IN MX 10 us\n@ IN MX 20 peer\npeer IN A 127.0.0.16\nus IN A 127.0.0.1\n"},
                   {"byname.test", "@ IN MX 10 edge.test.example.\n"},
                   {"test.example", "edge IN A 192.0.2.77\n"}});
    relay_setup(s, back, dns);
    s.must_edgectl("New-SendConnector Internet -AddressSpaces '*' -AllowPrivateTargetAddresses '$true' -Port " +
                   std::to_string(s.port()));
    s.start();
    send_ascii(s, "a@self.test", "self");
    send_ascii(s, "b@better.test", "better");
    send_ascii(s, "c@worse.test", "worse");
    send_ascii(s, "d@byname.test", "byname");  // our ServerFqdn as the MX name, at an address not ours

    auto at_other = other.wait_for_messages(1, 20s);
    REQUIRE(at_other.size() == 1);
    CHECK(at_other[0].rcpt_to == std::vector<std::string>{"b@better.test"});
    auto ndrs = back.wait_for_messages(3, 30s);
    REQUIRE(ndrs.size() == 3);
    for (const char* rcpt : {"a@self.test", "c@worse.test", "d@byname.test"}) {
        INFO(rcpt);
        const std::string ndr = ndr_for(ndrs, rcpt);
        CHECK(ndr.find("5.4.6") != std::string::npos);
        CHECK(ndr.find("MxLoopback") != std::string::npos);
    }
    // Never retried into ourselves: only the MX peer at 127.0.0.16 was connected to (once),
    // and the loop ones leave the queue with their NDR.
    CHECK(other.events("connect").size() == 1);
    CHECK(wait_until([&] { return messages_in_queue(s) == 0; }));
}
