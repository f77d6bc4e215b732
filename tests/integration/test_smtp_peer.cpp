// The scripted SMTP peer (support/smtp_peer.py through support/smtp_peer.hpp) does what
// the send-side tests will rely on: driven here by our own SmtpClient and by swaks, each
// scripted behaviour is shown to happen and to be recorded.
#include "edge_server.hpp"
#include "smtp_peer.hpp"

#include <catch2/catch.hpp>

using namespace edge::test;
using namespace std::chrono_literals;

namespace {

// The bytes of a literal, NULs included.
template <std::size_t N>
std::string bytes(const char (&s)[N]) {
    return std::string(s, N - 1);
}

// Greeting and EHLO; returns the EHLO reply.
std::string hello(SmtpClient& c, const std::string& name = "edge.test.example") {
    REQUIRE(c.reply().starts_with("220 "));
    return c.command("EHLO " + name);
}

bool offers(const std::string& ehlo, const std::string& keyword) {
    std::istringstream in(ehlo);
    for (std::string line; std::getline(in, line);) {
        std::string word = line.substr(4, line.find(' ', 4) - 4);
        if (word == keyword) return true;
    }
    return false;
}

// Sends already dot-stuffed `wire` bytes (ending in CRLF) and the end-of-data marker.
std::string send_data(SmtpClient& c, const std::string& wire) {
    if (!c.command("DATA").starts_with("354")) return "no 354";
    c.send_raw(wire);
    c.send_raw(".\r\n");
    return c.reply();
}

}  // namespace

TEST_CASE("the peer records the envelope with its parameters, the EHLO name and the client's source address",
          "[peer]") {
    SmtpPeer peer;
    {
        SmtpClient c(peer.port(), "127.0.0.2");
        std::string ehlo = hello(c, "edge.one.example");
        CHECK(offers(ehlo, "PIPELINING"));
        CHECK(offers(ehlo, "DSN"));
        CHECK(offers(ehlo, "SIZE"));
        CHECK_FALSE(offers(ehlo, "STARTTLS"));
        CHECK_FALSE(offers(ehlo, "CHUNKING"));
        CHECK(c.command("MAIL FROM:<Alice@Example.org> SIZE=120 BODY=8BITMIME ENVID=Abc+2Bx RET=HDRS") == "250 2.1.0 Ok");
        CHECK(c.command("RCPT TO:<bob@contoso.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Bob@contoso.test") ==
              "250 2.1.5 Ok");
        CHECK(c.command("RCPT TO:<carol@contoso.test>") == "250 2.1.5 Ok");
        CHECK(send_data(c, simple_body("one")).starts_with("250 2.0.0 Ok: queued as 1"));
        CHECK(c.command("QUIT").starts_with("221"));
    }
    {
        SmtpClient c(peer.port(), "127.0.0.3");
        hello(c, "edge.two.example");
        CHECK(c.send_mail("", {"dan@contoso.test"}, simple_body("two")).starts_with("250"));
    }
    auto msgs = peer.wait_for_messages(2);
    REQUIRE(msgs.size() == 2);
    const auto& m = msgs[0];
    CHECK(m.seq == 1);
    CHECK(m.peer_ip == "127.0.0.2");
    CHECK(m.peer_port != 0);
    CHECK(m.helo == "edge.one.example");
    CHECK(m.esmtp);
    CHECK_FALSE(m.tls);
    CHECK(m.mail_from == "Alice@Example.org");
    CHECK(m.mail_params == std::vector<std::string>{"SIZE=120", "BODY=8BITMIME", "ENVID=Abc+2Bx", "RET=HDRS"});
    CHECK(m.rcpt_to == std::vector<std::string>{"bob@contoso.test", "carol@contoso.test"});
    CHECK(m.rcpt_params == std::vector<std::string>{"NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Bob@contoso.test", ""});
    CHECK(m.via == "DATA");
    CHECK(m.data == simple_body("one"));
    CHECK(msgs[1].peer_ip == "127.0.0.3");
    CHECK(msgs[1].helo == "edge.two.example");
    CHECK(msgs[1].mail_from.empty());  // MAIL FROM:<>
    CHECK(msgs[1].connection != m.connection);

    auto connects = peer.events("connect");
    REQUIRE(connects.size() == 2);
    CHECK(connects[0].peer_ip == "127.0.0.2");
    CHECK(connects[0].peer_port == m.peer_port);
    CHECK(connects[0].reply == "220 peer.test ESMTP");
    CHECK(connects[1].peer_ip == "127.0.0.3");
    CHECK(peer.wait_for_events("disconnect", 2).size() == 2);
}

TEST_CASE("swaks delivers to the peer and the peer records every recipient and the body", "[peer][swaks]") {
    SmtpPeer peer;
    std::string out;
    int rc = run_command("swaks --server 127.0.0.1 --port " + std::to_string(peer.port()) +
                             " --helo swaks.example --from s@example.org --to a@contoso.test,b@contoso.test"
                             " --header 'Subject: via swaks' --body 'hello from swaks' --timeout 20",
                         &out);
    REQUIRE(rc == 0);
    auto msgs = peer.wait_for_messages(1);
    REQUIRE(msgs.size() == 1);
    CHECK(msgs[0].helo == "swaks.example");
    CHECK(msgs[0].mail_from == "s@example.org");
    CHECK(msgs[0].rcpt_to == std::vector<std::string>{"a@contoso.test", "b@contoso.test"});
    CHECK(msgs[0].data.find("Subject: via swaks\r\n") != std::string::npos);
    CHECK(msgs[0].data.find("hello from swaks\r\n") != std::string::npos);
}

TEST_CASE("message data is recorded byte for byte: dots unstuffed, bare CR and LF, 8-bit bytes, NUL, long lines",
          "[peer][data]") {
    SmtpPeer peer;
    std::string original = "Subject: bytes\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nbare\nLF and bare\rCR\r\n";
    original += bytes("8-bit \xC3\xA9\xFF\x80 and NUL \0 inside\r\n");
    original += std::string(5000, 'x') + "\r\nend\r\n";
    std::string wire;  // dot-stuffed (RFC 5321 §4.5.2)
    for (std::size_t start = 0; start < original.size();) {
        std::size_t end = original.find("\r\n", start);
        end = end == std::string::npos ? original.size() : end + 2;
        if (original[start] == '.') wire += '.';
        wire += original.substr(start, end - start);
        start = end;
    }
    SmtpClient c(peer.port());
    hello(c);
    REQUIRE(c.command("MAIL FROM:<a@example.org>").starts_with("250"));
    REQUIRE(c.command("RCPT TO:<b@contoso.test>").starts_with("250"));
    REQUIRE(send_data(c, wire).starts_with("250"));
    auto msgs = peer.wait_for_messages(1);
    REQUIRE(msgs.size() == 1);
    CHECK(msgs[0].data.size() == original.size());
    CHECK(msgs[0].data == original);
}

TEST_CASE("with --chunking the peer offers CHUNKING and records BDAT chunks byte for byte", "[peer][data]") {
    SmtpPeer peer({"--chunking"});
    SmtpClient c(peer.port());
    REQUIRE(offers(hello(c), "CHUNKING"));
    REQUIRE(c.command("MAIL FROM:<a@example.org> BODY=8BITMIME").starts_with("250"));
    REQUIRE(c.command("RCPT TO:<b@contoso.test>").starts_with("250"));
    std::string one = "Subject: chunks\r\n\r\n.no stuffing in BDAT\r\n.\r\n";
    std::string two = bytes("binary \0\xFF\r\nlast line\r\n");
    c.send_raw("BDAT " + std::to_string(one.size()) + "\r\n" + one);
    CHECK(c.reply() == "250 2.0.0 " + std::to_string(one.size()) + " octets received");
    c.send_raw("BDAT " + std::to_string(two.size()) + " LAST\r\n" + two);
    CHECK(c.reply().starts_with("250 2.0.0 Ok: queued as"));
    auto msgs = peer.wait_for_messages(1);
    REQUIRE(msgs.size() == 1);
    CHECK(msgs[0].via == "BDAT");
    CHECK(msgs[0].data == one + two);
}

TEST_CASE("without --chunking the peer neither offers CHUNKING nor accepts BDAT", "[peer][data]") {
    SmtpPeer peer;
    SmtpClient c(peer.port());
    REQUIRE_FALSE(offers(hello(c), "CHUNKING"));
    REQUIRE(c.command("MAIL FROM:<a@example.org>").starts_with("250"));
    REQUIRE(c.command("RCPT TO:<b@contoso.test>").starts_with("250"));
    CHECK(c.command("BDAT 0 LAST").starts_with("500 5.5.1"));
    CHECK(peer.messages().empty());
}

TEST_CASE("recipient patterns script each recipient's reply and only accepted recipients are recorded",
          "[peer][rcpt]") {
    SmtpPeer peer({"--rcpt-reply", "*@defer.test=451 4.3.0 Try again later", "--rcpt-reply",
                   "bad@*=550 5.1.1 User unknown", "--rcpt-reply", "*@BAD.test=553 5.7.1 Not here"});
    SmtpClient c(peer.port());
    hello(c);
    REQUIRE(c.command("MAIL FROM:<a@example.org>").starts_with("250"));
    CHECK(c.command("RCPT TO:<x@defer.test>") == "451 4.3.0 Try again later");
    CHECK(c.command("RCPT TO:<Bad@contoso.test>") == "550 5.1.1 User unknown");  // case-insensitive
    CHECK(c.command("RCPT TO:<y@bad.test>") == "553 5.7.1 Not here");
    CHECK(c.command("RCPT TO:<good@contoso.test>") == "250 2.1.5 Ok");
    CHECK(send_data(c, simple_body("some")).starts_with("250"));
    // A transaction whose every recipient was refused has no DATA.
    REQUIRE(c.command("MAIL FROM:<a@example.org>").starts_with("250"));
    CHECK(c.command("RCPT TO:<bad@contoso.test>").starts_with("550"));
    CHECK(c.command("DATA").starts_with("503"));
    auto msgs = peer.wait_for_messages(1);
    REQUIRE(msgs.size() == 1);
    CHECK(msgs[0].rcpt_to == std::vector<std::string>{"good@contoso.test"});
    auto rcpts = peer.events("rcpt");
    REQUIRE(rcpts.size() == 5);
    CHECK(rcpts[0].arg == "TO:<x@defer.test>");
    CHECK(rcpts[0].reply == "451 4.3.0 Try again later");
}

TEST_CASE("with --max-rcpts the peer refuses the recipients past the limit with 452 4.5.3", "[peer][rcpt]") {
    SmtpPeer peer({"--max-rcpts", "2"});
    SmtpClient c(peer.port());
    hello(c);
    REQUIRE(c.command("MAIL FROM:<a@example.org>").starts_with("250"));
    CHECK(c.command("RCPT TO:<r1@contoso.test>").starts_with("250"));
    CHECK(c.command("RCPT TO:<r2@contoso.test>").starts_with("250"));
    CHECK(c.command("RCPT TO:<r3@contoso.test>") == "452 4.5.3 Too many recipients");
    CHECK(c.command("RCPT TO:<r4@contoso.test>") == "452 4.5.3 Too many recipients");
    CHECK(send_data(c, simple_body("max")).starts_with("250"));
    // The limit is per transaction.
    CHECK(c.send_mail("a@example.org", {"r5@contoso.test", "r6@contoso.test"}, simple_body("again")).starts_with("250"));
    auto msgs = peer.wait_for_messages(2);
    REQUIRE(msgs.size() == 2);
    CHECK(msgs[0].rcpt_to == std::vector<std::string>{"r1@contoso.test", "r2@contoso.test"});
    CHECK(msgs[1].rcpt_to == std::vector<std::string>{"r5@contoso.test", "r6@contoso.test"});
}

TEST_CASE("a scripted --data-reply sets the final reply and a refused message is not recorded", "[peer][data]") {
    SECTION("a 5xx") {
        SmtpPeer peer({"--data-reply", "554 5.6.0 Content rejected"});
        SmtpClient c(peer.port());
        hello(c);
        CHECK(c.send_mail("a@example.org", {"b@contoso.test"}, simple_body("x")) == "554 5.6.0 Content rejected");
        auto data = peer.wait_for_events("data", 1);
        REQUIRE(data.size() == 1);
        CHECK(data[0].reply == "554 5.6.0 Content rejected");
        CHECK(peer.messages().empty());
    }
    SECTION("a multi-line 250 is recorded with its first line") {
        SmtpPeer peer({"--data-reply", "250 2.0.0 first\\nqueued as X1"});
        SmtpClient c(peer.port());
        hello(c);
        CHECK(c.send_mail("a@example.org", {"b@contoso.test"}, simple_body("x")) ==
              "250-2.0.0 first\n250 queued as X1");
        auto msgs = peer.wait_for_messages(1);
        REQUIRE(msgs.size() == 1);
        CHECK(msgs[0].reply == "250 2.0.0 first");
    }
}

TEST_CASE("the mode file switches the data reply live and removing it restores the scripted one", "[peer][mode]") {
    SmtpPeer peer({"--data-reply", "451 4.3.0 Try again later"});
    SmtpClient c(peer.port());
    hello(c);
    CHECK(c.send_mail("a@example.org", {"b@contoso.test"}, simple_body("m1")) == "451 4.3.0 Try again later");
    peer.set_mode("250 2.0.0 the sink is fixed");
    CHECK(c.send_mail("a@example.org", {"b@contoso.test"}, simple_body("m2")) == "250 2.0.0 the sink is fixed");
    peer.set_mode("452 4.3.1 Full");
    CHECK(c.send_mail("a@example.org", {"b@contoso.test"}, simple_body("m3")) == "452 4.3.1 Full");
    peer.clear_mode();
    CHECK(c.send_mail("a@example.org", {"b@contoso.test"}, simple_body("m4")) == "451 4.3.0 Try again later");
    auto msgs = peer.messages();
    REQUIRE(msgs.size() == 1);
    CHECK(msgs[0].data == simple_body("m2"));
}

TEST_CASE("a 554 greeting refuses service: every command but QUIT gets 503", "[peer][greeting]") {
    SmtpPeer peer({"--greeting-reply", "554 5.7.1 No service for you"});
    SmtpClient c(peer.port());
    CHECK(c.reply() == "554 5.7.1 No service for you");
    CHECK(c.command("EHLO edge.test.example").starts_with("503"));
    CHECK(c.command("MAIL FROM:<a@example.org>").starts_with("503"));
    CHECK(c.command("QUIT").starts_with("221"));
    CHECK(c.closed_by_server());
    CHECK(peer.events("connect").at(0).reply == "554 5.7.1 No service for you");
    CHECK(peer.messages().empty());
}

TEST_CASE("a 421 greeting is sent and the connection closed", "[peer][greeting]") {
    SmtpPeer peer({"--greeting-reply", "421 4.3.2 Service not available"});
    SmtpClient c(peer.port());
    CHECK(c.reply() == "421 4.3.2 Service not available");
    CHECK(c.closed_by_server());
}

TEST_CASE("a 220 greeting override is the banner", "[peer][greeting]") {
    SmtpPeer peer({"--greeting-reply", "220 hub.contoso.test Microsoft ESMTP MAIL Service ready"});
    SmtpClient c(peer.port());
    CHECK(c.reply() == "220 hub.contoso.test Microsoft ESMTP MAIL Service ready");
    CHECK(c.command("EHLO edge.test.example").starts_with("250-hub.contoso.test"));
}

TEST_CASE("STARTTLS is offered only with a certificate and the message records TLS", "[peer][tls]") {
    TempDir certs;
    auto [cert, key] = make_test_certificate(certs.path(), "peer.test");
    SECTION("with --starttls") {
        SmtpPeer peer({"--starttls", cert + "," + key});
        SmtpClient c(peer.port());
        REQUIRE(offers(hello(c), "STARTTLS"));
        REQUIRE(c.command("STARTTLS").starts_with("220"));
        REQUIRE(c.starttls());
        std::string ehlo = c.command("EHLO edge.test.example");
        CHECK(ehlo.starts_with("250-peer.test"));
        CHECK_FALSE(offers(ehlo, "STARTTLS"));  // not offered twice (RFC 3207 §4.2)
        CHECK(c.send_mail("a@example.org", {"b@contoso.test"}, simple_body("tls")).starts_with("250"));
        auto msgs = peer.wait_for_messages(1);
        REQUIRE(msgs.size() == 1);
        CHECK(msgs[0].tls);
        CHECK(msgs[0].tls_version == c.tls_version());
        CHECK_FALSE(msgs[0].tls_cipher.empty());
        auto tls = peer.events("starttls");
        REQUIRE(tls.size() == 1);
        CHECK(tls[0].arg == c.tls_version());
    }
    SECTION("without --starttls") {
        SmtpPeer peer;
        SmtpClient c(peer.port());
        REQUIRE_FALSE(offers(hello(c), "STARTTLS"));
        CHECK(c.command("STARTTLS").starts_with("454"));
        CHECK(c.send_mail("a@example.org", {"b@contoso.test"}, simple_body("clear")).starts_with("250"));
        auto msgs = peer.wait_for_messages(1);
        REQUIRE(msgs.size() == 1);
        CHECK_FALSE(msgs[0].tls);
    }
}

TEST_CASE("max_concurrent counts the connections open at the same time", "[peer][connections]") {
    SmtpPeer peer;
    CHECK(peer.max_concurrent() == 0);
    {
        std::vector<std::unique_ptr<SmtpClient>> clients;
        for (int i = 0; i < 4; ++i) {
            clients.push_back(std::make_unique<SmtpClient>(peer.port()));
            REQUIRE(clients.back()->reply().starts_with("220"));  // the peer has counted it by then
        }
        CHECK(peer.max_concurrent() == 4);
    }
    REQUIRE(peer.wait_for_events("disconnect", 4).size() == 4);
    for (int i = 0; i < 3; ++i) {
        SmtpClient c(peer.port());  // one at a time
        REQUIRE(c.reply().starts_with("220"));
    }
    REQUIRE(peer.wait_for_events("disconnect", 7).size() == 7);
    CHECK(peer.max_concurrent() == 4);
    CHECK(peer.events("connect").size() == 7);
}

TEST_CASE("with --no-ehlo EHLO is refused, HELO works and ESMTP parameters are refused", "[peer][ehlo]") {
    SmtpPeer peer({"--no-ehlo"});
    SmtpClient c(peer.port());
    REQUIRE(c.reply().starts_with("220"));
    CHECK(c.command("EHLO edge.test.example").starts_with("500 5.5.1"));
    CHECK(c.command("HELO edge.test.example") == "250 peer.test");
    CHECK(c.command("MAIL FROM:<a@example.org> SIZE=100").starts_with("555"));
    CHECK(c.send_mail("a@example.org", {"b@contoso.test"}, simple_body("helo")).starts_with("250"));
    auto msgs = peer.wait_for_messages(1);
    REQUIRE(msgs.size() == 1);
    CHECK_FALSE(msgs[0].esmtp);
    CHECK(msgs[0].helo == "edge.test.example");
}

TEST_CASE("a pipelined transaction is noticed, and pipelining to a peer that did not offer it is a violation",
          "[peer][pipelining]") {
    const std::string group = "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@contoso.test>\r\nDATA\r\n";
    SECTION("offered") {
        SmtpPeer peer;
        SmtpClient c(peer.port());
        REQUIRE(offers(hello(c), "PIPELINING"));
        c.send_raw(group);
        CHECK(c.reply().starts_with("250"));
        CHECK(c.reply().starts_with("250"));
        REQUIRE(c.reply().starts_with("354"));
        c.send_raw(simple_body("p") + ".\r\n");
        CHECK(c.reply().starts_with("250"));
        // Lock-step: not pipelined.
        CHECK(c.send_mail("a@example.org", {"b@contoso.test"}, simple_body("q")).starts_with("250"));
        auto msgs = peer.wait_for_messages(2);
        REQUIRE(msgs.size() == 2);
        CHECK(msgs[0].pipelined);
        CHECK_FALSE(msgs[1].pipelined);
        CHECK(peer.events("violation").empty());
    }
    SECTION("not offered") {
        SmtpPeer peer({"--no-pipelining"});
        SmtpClient c(peer.port());
        REQUIRE_FALSE(offers(hello(c), "PIPELINING"));
        c.send_raw(group);
        c.reply();
        c.reply();
        REQUIRE(c.reply().starts_with("354"));
        c.send_raw(simple_body("p") + ".\r\n");
        CHECK(c.reply().starts_with("250"));
        auto v = peer.wait_for_events("violation", 1);
        REQUIRE_FALSE(v.empty());
        CHECK(v[0].arg.find("PIPELINING was not offered") != std::string::npos);
    }
    SECTION("data before the 354") {
        SmtpPeer peer;
        SmtpClient c(peer.port());
        hello(c);
        c.send_raw(group + simple_body("early") + ".\r\n");
        c.reply();
        c.reply();
        CHECK(c.reply().starts_with("354"));
        CHECK(c.reply().starts_with("250"));
        auto v = peer.wait_for_events("violation", 1);
        REQUIRE(v.size() == 1);
        CHECK(v[0].arg == "message data sent before the 354 reply to DATA");
    }
}

TEST_CASE("with --size the peer offers SIZE N and refuses a bigger declared or sent message with 552", "[peer][size]") {
    SmtpPeer peer({"--size", "1000"});
    SmtpClient c(peer.port());
    std::string ehlo = hello(c);
    CHECK(ehlo.find("250-SIZE 1000") != std::string::npos);
    CHECK(c.command("MAIL FROM:<a@example.org> SIZE=1001") == "552 5.3.4 Message size exceeds fixed maximum message size");
    CHECK(c.command("MAIL FROM:<a@example.org> SIZE=1000").starts_with("250"));
    REQUIRE(c.command("RCPT TO:<b@contoso.test>").starts_with("250"));
    CHECK(send_data(c, simple_body("big") + std::string(2000, 'x') + "\r\n").starts_with("552"));
    CHECK(peer.messages().empty());
}

TEST_CASE("parameters of an extension the peer did not offer are refused with 555 5.5.4", "[peer][params]") {
    SmtpPeer peer({"--without", "DSN", "--without", "SMTPUTF8"});
    SmtpClient c(peer.port());
    std::string ehlo = hello(c);
    CHECK_FALSE(offers(ehlo, "DSN"));
    CHECK_FALSE(offers(ehlo, "SMTPUTF8"));
    CHECK(c.command("MAIL FROM:<a@example.org> RET=FULL").starts_with("555 5.5.4"));
    CHECK(c.command("MAIL FROM:<a@example.org> SMTPUTF8").starts_with("555 5.5.4"));
    CHECK(c.command("MAIL FROM:<a@example.org> REQUIRETLS").starts_with("555 5.5.4"));
    REQUIRE(c.command("MAIL FROM:<a@example.org>").starts_with("250"));
    CHECK(c.command("RCPT TO:<b@contoso.test> NOTIFY=NEVER").starts_with("555 5.5.4"));
}

TEST_CASE("UTF-8 and non-UTF-8 bytes in addresses come back as the bytes sent", "[peer][params]") {
    SmtpPeer peer;
    SmtpClient c(peer.port());
    REQUIRE(offers(hello(c), "SMTPUTF8"));
    const std::string utf8 = "j\xC3\xBCrgen@m\xC3\xBCnchen.test";  // RFC 6531
    const std::string raw = "odd\xFF\x80@contoso.test";          // not UTF-8 at all
    const std::string astral = "\xF0\x9F\x93\xA7@contoso.test";     // outside the BMP
    REQUIRE(c.command("MAIL FROM:<" + utf8 + "> SMTPUTF8").starts_with("250"));
    REQUIRE(c.command("RCPT TO:<" + raw + ">").starts_with("250"));
    REQUIRE(c.command("RCPT TO:<" + astral + ">").starts_with("250"));
    REQUIRE(send_data(c, simple_body("utf8")).starts_with("250"));
    auto msgs = peer.wait_for_messages(1);
    REQUIRE(msgs.size() == 1);
    CHECK(msgs[0].mail_from == utf8);
    CHECK(msgs[0].mail_params == std::vector<std::string>{"SMTPUTF8"});
    CHECK(msgs[0].rcpt_to == std::vector<std::string>{raw, astral});
}

TEST_CASE("with --delay-data the peer holds the final reply back", "[peer][data]") {
    SmtpPeer peer({"--delay-data", "1.5"});
    SmtpClient c(peer.port());
    hello(c);
    auto t0 = std::chrono::steady_clock::now();
    CHECK(c.send_mail("a@example.org", {"b@contoso.test"}, simple_body("slow")).starts_with("250"));
    CHECK(std::chrono::steady_clock::now() - t0 >= 1400ms);
    CHECK(peer.messages().size() == 1);
}

TEST_CASE("the peer exits 0 on SIGTERM and starts again on the same port with its records kept", "[peer]") {
    SmtpPeer peer;
    {
        SmtpClient c(peer.port());
        hello(c);
        CHECK(c.send_mail("a@example.org", {"b@contoso.test"}, simple_body("before")).starts_with("250"));
        c.command("QUIT");
    }
    std::uint16_t port = peer.port();
    REQUIRE(peer.wait_for_events("disconnect", 1).size() == 1);
    CHECK(peer.stop() == 0);
    CHECK_THROWS(SmtpClient(port));  // nobody listens
    peer.start();
    CHECK(peer.port() == port);
    SmtpClient c(peer.port());
    hello(c);
    CHECK(c.send_mail("a@example.org", {"b@contoso.test"}, simple_body("after")).starts_with("250 2.0.0 Ok: queued as 2"));
    auto msgs = peer.wait_for_messages(2);
    REQUIRE(msgs.size() == 2);
    CHECK(msgs[1].seq == 2);
    CHECK(msgs[1].connection == 2);
    CHECK(msgs[1].data == simple_body("after"));
}
