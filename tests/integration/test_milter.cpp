// Issue 19, the milter client on the real binaries: a scripted milter (milter_peer.py, the
// raw v6 wire protocol) for each reply and each modification action, the changed message
// as the next hop receives it, and milters that break the protocol, hang or are not
// there → their DefaultAction, never a hang.
#include "edge_server.hpp"
#include "milter_peer.hpp"
#include "smtp_peer.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

using namespace edge::test;
using namespace std::chrono_literals;

namespace {

const std::string kMessage =
    "From: sender@client.example\r\nTo: user@contoso.test\r\nSubject: Original\r\nMessage-ID: <m1@client.example>\r\n"
    "\r\nHello.\r\n";

struct Result {
    std::string reply;  // the final reply to DATA (or the first refusal)
    std::chrono::milliseconds took;
};

Result submit(const EdgeServer& s, const std::vector<std::string>& rcpts, const std::string& data = kMessage) {
    const auto t0 = std::chrono::steady_clock::now();
    SmtpClient c(s.port());
    c.reply();
    c.command("EHLO client.example");
    std::string r = c.send_mail("sender@client.example", rcpts, data);
    c.command("QUIT");
    return {r, std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)};
}

// Points the one MilterServer at `peer` (or an address); edgectl returns once the server has applied it.
void use_milter(const EdgeServer& s, const std::string& address, const std::string& more = {}) {
    s.must_edgectl("Set-MilterServer scan -Address " + address + " " + more);
}

}  // namespace

// One edge relaying contoso.test to a scripted hub, its milter "scan" pointed at nothing
// yet; each case points it at its own scripted peer. One case per behaviour, so ctest
// runs them side by side (each starts its own server).
struct MilterEdge {
    SmtpPeer hub;
    EdgeServer s;
    MilterEdge() {
        s.must_edgectl("New-AcceptedDomain -Name Contoso -DomainName contoso.test -DomainType Authoritative");
        s.must_edgectl("New-SendConnector Hub -AddressSpaces contoso.test -DNSRoutingEnabled '$false' -SmartHosts " + hub.ip() +
                       " -Port " + std::to_string(hub.port()));
        s.must_edgectl("New-MilterServer scan -Address 127.0.0.1:9 -CommandTimeout 00:00:02 -ConnectTimeout 00:00:02");
        s.start();
    }
};

// Headers added, changed, inserted, deleted; a recipient added and one removed; the
// sender changed; the body replaced.
TEST_CASE_METHOD(MilterEdge, "A scripted milter: every modification action", "[milter]") {
    MilterPeer m(R"({"E": [{"h": ["X-Milter-Added", "yes"]}, {"m": [1, "Subject", "Changed by the milter"]},
                          {"i": [0, "X-First", "on top"]}, {"m": [1, "Message-ID", ""]},
                          {"+": "<added@contoso.test>"}, {"-": "<user2@contoso.test>"},
                          {"e": "<bounce@client.example>"}, {"b": "New body.\r\n"}, "c"]})");
    use_milter(s, m.address());
    CHECK_THAT(submit(s, {"user@contoso.test", "user2@contoso.test"}).reply, Catch::StartsWith("250"));
    auto msgs = hub.wait_for_messages(1);
    REQUIRE(msgs.size() == 1);
    const auto& got = msgs[0];
    CHECK(got.data.find("X-Milter-Added: yes\r\n") != std::string::npos);
    CHECK(got.data.find("Subject: Changed by the milter\r\n") != std::string::npos);
    CHECK(got.data.find("Subject: Original") == std::string::npos);
    CHECK(got.data.find("X-First: on top\r\n") != std::string::npos);
    CHECK(got.data.find("\r\n\r\nNew body.\r\n") != std::string::npos);
    CHECK(got.data.find("Hello.") == std::string::npos);
    CHECK(got.mail_from == "bounce@client.example");
    std::vector<std::string> rcpts = got.rcpt_to;
    std::sort(rcpts.begin(), rcpts.end());
    CHECK(rcpts == std::vector<std::string>{"added@contoso.test", "user@contoso.test"});
    // What the milter was told: macros, the envelope, the header, in order.
    const std::string told = m.commands();
    CHECK(told.find(R"("j": "edge.test.example")") != std::string::npos);
    CHECK(told.find(R"("{mail_addr}": "sender@client.example")") != std::string::npos);
    CHECK(told.find(R"("cmd": "R", "macros": {"{rcpt_addr}": "user2@contoso.test"})") != std::string::npos);
    CHECK(told.find(R"("args": ["Subject", "Original"])") != std::string::npos);
    CHECK(told.find(R"("cmd": "B")") != std::string::npos);
}

TEST_CASE_METHOD(MilterEdge, "A scripted milter: a reject with the milter's own reply", "[milter]") {
    MilterPeer m(R"({"E": [{"y": "554 5.7.1 Gtube pattern"}]})");
    use_milter(s, m.address());
    CHECK_THAT(submit(s, {"user@contoso.test"}).reply, Catch::StartsWith("554 5.7.1 Gtube pattern"));
}

TEST_CASE_METHOD(MilterEdge, "A scripted milter: reject, tempfail and discard", "[milter]") {
    MilterPeer r(R"({"N": ["r"]})");
    use_milter(s, r.address());
    CHECK_THAT(submit(s, {"user@contoso.test"}).reply, Catch::StartsWith("550 5.7.1 Command rejected"));
    MilterPeer t(R"({"E": ["t"]})");
    use_milter(s, t.address());
    CHECK_THAT(submit(s, {"user@contoso.test"}).reply, Catch::StartsWith("451 4.7.1"));
    MilterPeer d(R"({"E": ["d"]})");
    use_milter(s, d.address());
    CHECK_THAT(submit(s, {"user@contoso.test"}).reply, Catch::StartsWith("250"));
    std::this_thread::sleep_for(1s);
    CHECK(hub.messages().empty());  // discarded
}

TEST_CASE_METHOD(MilterEdge, "A scripted milter: a recipient refused at RCPT, accept at connect", "[milter]") {
    std::size_t delivered = 0;
    MilterPeer m(R"({"R": {"each": [["c"], [{"y": "550 5.1.1 No such user"}]]}})");
    use_milter(s, m.address());
    CHECK_THAT(submit(s, {"user@contoso.test", "gone@contoso.test"}).reply, Catch::StartsWith("250"));
    auto msgs = hub.wait_for_messages(1);
    REQUIRE(msgs.size() == 1);
    CHECK(msgs[0].rcpt_to == std::vector<std::string>{"user@contoso.test"});
    MilterPeer a(R"({"C": ["a"]})");
    use_milter(s, a.address());
    CHECK_THAT(submit(s, {"user@contoso.test"}).reply, Catch::StartsWith("250"));
    delivered = 2;
    CHECK(hub.wait_for_messages(delivered).size() == delivered);
}

TEST_CASE_METHOD(MilterEdge, "A scripted milter: progress, no-reply steps and skip", "[milter]") {
    // NR_HDR 0x80 | SKIP 0x400 | NR_CONN 0x1000 | NR_HELO 0x2000 | NR_MAIL 0x4000
    MilterPeer m(R"({"O": {"protocol": 29824}, "B": ["s"], "E": ["p", "p", "c"]})");
    use_milter(s, m.address());
    CHECK_THAT(submit(s, {"user@contoso.test"}).reply, Catch::StartsWith("250"));
    CHECK(hub.wait_for_messages(1).size() == 1);
}

TEST_CASE_METHOD(MilterEdge, "A scripted milter: ContentFilter handling and quarantine", "[milter]") {
    // A scanner's reject is evidence, not the answer: the Content Filter rates it SCL 9
    // and refuses it with its own response (SCLRejectEnabled, threshold 7), not the 554.
    MilterPeer m(R"({"E": [{"h": ["X-Spam", "yes"]}, {"y": "554 5.7.1 spam"}]})");
    use_milter(s, m.address(), "-VerdictHandling ContentFilter");
    CHECK(submit(s, {"user@contoso.test"}).reply == "550 5.7.1 Message rejected as spam by Content Filtering");
    // With the Content Filter's rejection off, it goes on, stamped SCL 9.
    s.must_edgectl("Set-ContentFilterConfig -SCLRejectEnabled '$false'");
    CHECK_THAT(submit(s, {"user@contoso.test"}).reply, Catch::StartsWith("250"));
    auto got = hub.wait_for_messages(1);
    REQUIRE(got.size() == 1);
    CHECK(got[0].data.find("X-MS-Exchange-Organization-SCL: 9\r\n") != std::string::npos);
    // A quarantine request holds the message, it does not refuse it: without a
    // QuarantineMailbox it goes on; with one it goes there (Exchange's quarantine).
    s.must_edgectl("Set-ContentFilterConfig -SCLRejectEnabled '$true'");
    MilterPeer q(R"({"E": [{"q": "looks odd"}, "c"]})");
    use_milter(s, q.address(), "-VerdictHandling Apply");
    CHECK_THAT(submit(s, {"user@contoso.test"}).reply, Catch::StartsWith("250"));
    CHECK(hub.wait_for_messages(2).size() == 2);
    s.must_edgectl("Set-ContentFilterConfig -QuarantineMailbox quarantine@contoso.test");
    CHECK_THAT(submit(s, {"user@contoso.test"}).reply, Catch::StartsWith("250"));
    got = hub.wait_for_messages(3);
    REQUIRE(got.size() == 3);
    CHECK(got[2].rcpt_to == std::vector<std::string>{"quarantine@contoso.test"});
}

// Malformed packets, unknown replies, a modification before the end, a hang, a closed
// port: DefaultAction within the timeouts.
TEST_CASE_METHOD(MilterEdge, "A scripted milter: broken and absent milters", "[milter]") {
    const char* broken[] = {
        R"({"O": {"raw": "7fffffff4f"}})",                   // an oversized length
        R"({"O": {"raw": "00000000"}})",                     // length 0
        R"({"C": [{"raw": "0000000a63"}, "close"]})",        // truncated, then closed
        R"({"H": ["z"]})",                                   // an unknown reply
        R"({"M": [{"h": ["X-Early", "no"]}]})",              // a modification at MAIL
        R"({"E": [{"y": "250 ok"}]})",                        // a reply code that is not 4xx/5xx
        R"({"O": {"version": 1}})",                          // a version we do not speak
        R"({"C": ["hang"]})",                                // accepts, never answers
    };
    for (const char* script : broken) {
        INFO(script);
        MilterPeer m(script);
        use_milter(s, m.address());
        Result r = submit(s, {"user@contoso.test"});
        CHECK_THAT(r.reply, Catch::StartsWith("451 4.7.1"));
        CHECK(r.took < 8s);
    }
    use_milter(s, "127.0.0.1:9", "-DefaultAction Reject");  // nothing listens there
    CHECK_THAT(submit(s, {"user@contoso.test"}).reply, Catch::StartsWith("550 5.7.1 Command rejected"));
    use_milter(s, "127.0.0.1:9", "-DefaultAction Accept");
    CHECK_THAT(submit(s, {"user@contoso.test"}).reply, Catch::StartsWith("250"));
    CHECK(hub.wait_for_messages(1).size() == 1);
    // The agent log says why.
    std::string log;
    REQUIRE(s.edgectl("Get-AgentLog -Json", &log) == 0);
    CHECK(log.find("Milter Agent") != std::string::npos);
    CHECK(log.find("scan: failed") != std::string::npos);
    // The server survived all of it.
    CHECK(s.server_log().find("AddressSanitizer") == std::string::npos);
}
