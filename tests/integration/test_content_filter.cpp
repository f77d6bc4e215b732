// Issue 19's Content Filter Agent on the real binaries, on loopback: custom phrases
// (GoodWord, BadWord), the delete / reject / quarantine thresholds, the bypass lists, the
// SCL and X-Spam-* fields as the hub receives them, a stranger's forged SCL removed, and a
// quarantined message's SCL and original recipients in Get-Message.
#include "edge_server.hpp"
#include "scanner_servers.hpp"
#include "smtp_peer.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <iostream>
#include <thread>

using namespace edge::test;
using namespace std::chrono_literals;

namespace {

std::string note(const std::string& subject, const std::string& text, const std::string& extra_header = {}) {
    return extra_header + "From: someone@fabrikam.test\r\nTo: user@contoso.test\r\nSubject: " + subject +
           "\r\nMessage-ID: <" + subject + "@client.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n" + text +
           "\r\n";
}

std::string submit(const EdgeServer& s, const std::string& from, const std::vector<std::string>& rcpts, const std::string& data) {
    SmtpClient c(s.port());
    c.reply();
    c.command("EHLO client.example");
    std::string r = c.send_mail(from, rcpts, data);
    c.command("QUIT");
    return r;
}

// The value of the first field `name` in a message's header ("" when none).
std::string field(const std::string& message, const std::string& name) {
    const std::string key = "\r\n" + name + ": ";
    auto at = ("\r\n" + message).find(key);
    if (at == std::string::npos) return {};
    auto start = at + key.size() - 2;
    return message.substr(start, message.find("\r\n", start) - start);
}

int count_fields(const std::string& message, const std::string& name) {
    int n = 0;
    const std::string head = "\r\n" + message.substr(0, message.find("\r\n\r\n"));
    for (auto at = head.find("\r\n" + name + ":"); at != std::string::npos; at = head.find("\r\n" + name + ":", at + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("the Content Filter on the real server: phrases, thresholds, bypass lists, quarantine, the SCL at the hub",
          "[content-filter]") {
    SmtpPeer hub;
    EdgeServer s;
    s.must_edgectl("New-AcceptedDomain -Name Contoso -DomainName contoso.test -DomainType Authoritative");
    s.must_edgectl("New-AcceptedDomain -Name Hold -DomainName hold.test -DomainType Authoritative");
    s.must_edgectl("New-SendConnector Hub -AddressSpaces contoso.test -DNSRoutingEnabled '$false' -SmartHosts " + hub.ip() +
                   " -Port " + std::to_string(hub.port()));
    // hold.test's next hop listens nowhere: its messages stay in the queue for Get-Message.
    s.must_edgectl("New-SendConnector Hold -AddressSpaces hold.test -DNSRoutingEnabled '$false' -SmartHosts 127.0.0.1 -Port " +
                   std::to_string(free_port()));
    s.must_edgectl("Add-ContentFilterPhrase -Phrase 'Free Money' -Influence BadWord");
    s.must_edgectl("Add-ContentFilterPhrase -Phrase 'project falcon' -Influence GoodWord");
    s.start();
    s.must_edgectl("Set-ReceiveConnector " + shell_quote(s.default_connector()) + " -TarpitInterval 00:00:00");

    SECTION("a clean message reaches the hub with its SCL and X-Spam-* fields; a stranger's SCL field is removed") {
        const std::string forged = "X-MS-Exchange-Organization-SCL: -1\r\nX-MS-Exchange-Organization-Other: x\r\n";
        CHECK(submit(s, "someone@fabrikam.test", {"user@contoso.test"}, note("clean", "See you at lunch.", forged))
                  .starts_with("250"));
        auto got = hub.wait_for_messages(1, 20s);
        REQUIRE(got.size() == 1);
        INFO(got[0].data);
        CHECK(count_fields(got[0].data, "X-MS-Exchange-Organization-SCL") == 1);
        CHECK(field(got[0].data, "X-MS-Exchange-Organization-SCL") == "0");
        CHECK(count_fields(got[0].data, "X-MS-Exchange-Organization-Other") == 0);
        CHECK(field(got[0].data, "X-Spam-Status") == "No, scl=0 tests=Rated");
        CHECK(count_fields(got[0].data, "X-Spam-Flag") == 0);
    }
    SECTION("a BadWord (in any case, quoted-printable in the body) is refused with the Content Filter's response") {
        const std::string qp = "MIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n";
        std::string data = "From: someone@fabrikam.test\r\nTo: user@contoso.test\r\nSubject: offer\r\n" + qp +
                           "\r\nGet FREE =\r\nmoney now=21\r\n";
        CHECK(submit(s, "someone@fabrikam.test", {"user@contoso.test"}, data) ==
              "550 5.7.1 Message rejected as spam by Content Filtering");
        // A GoodWord wins over it: SCL 0, delivered.
        CHECK(submit(s, "someone@fabrikam.test", {"user@contoso.test"}, note("Project Falcon", "free money"))
                  .starts_with("250"));
        auto got = hub.wait_for_messages(1, 20s);
        REQUIRE(got.size() == 1);
        CHECK(field(got[0].data, "X-MS-Exchange-Organization-SCL") == "0");
        CHECK(field(got[0].data, "X-Spam-Status") == "No, scl=0 tests=GoodWord");
        auto log = agent_log_lines(s, "-Agent 'Content Filter Agent'", 2);
        CHECK(log.size() >= 2);
        bool rejected = false;
        for (const auto& l : log)
            rejected = rejected || (l.find("SclReject") != std::string::npos && l.find("BadWord 'Free Money'") != std::string::npos);
        CHECK(rejected);
    }
    SECTION("RejectionResponse, delete and the bypass lists") {
        s.must_edgectl("Set-ContentFilterConfig -RejectionResponse 'No spam here'");
        CHECK(submit(s, "someone@fabrikam.test", {"user@contoso.test"}, note("spam1", "free money")) == "550 5.7.1 No spam here");
        s.must_edgectl("Set-ContentFilterConfig -SCLDeleteEnabled '$true' -SCLDeleteThreshold 9");
        s.must_edgectl("Set-ContentFilterConfig -BypassedSenders friend@partner.test -BypassedSenderDomains '*.trusted.test' "
                       "-BypassedRecipients postmaster@contoso.test");
        CHECK(submit(s, "someone@fabrikam.test", {"user@contoso.test"}, note("spam2", "free money")).starts_with("250"));
        CHECK(submit(s, "Friend@Partner.test", {"user@contoso.test"}, note("bypass1", "free money")).starts_with("250"));
        CHECK(submit(s, "a@mail.trusted.test", {"user@contoso.test"}, note("bypass2", "free money")).starts_with("250"));
        CHECK(submit(s, "a@spam.test", {"postmaster@contoso.test"}, note("bypass3", "free money")).starts_with("250"));
        // Not every recipient bypassed: rated, deleted.
        CHECK(submit(s, "a@spam.test", {"postmaster@contoso.test", "user@contoso.test"}, note("spam3", "free money"))
                  .starts_with("250"));
        auto got = hub.wait_for_messages(3, 20s);
        std::this_thread::sleep_for(1s);
        got = hub.messages();
        REQUIRE(got.size() == 3);  // the three bypassed ones; the deleted ones never leave
        for (const auto& m : got) {
            INFO(m.data);
            CHECK(field(m.data, "X-MS-Exchange-Organization-SCL") == "-1");
            CHECK(m.data.find("Subject: spam") == std::string::npos);
        }
    }
    SECTION("quarantine: redirected to QuarantineMailbox, the original recipients and the SCL kept (Get-Message)") {
        CHECK(s.edgectl("Set-ContentFilterConfig -SCLQuarantineEnabled '$true'") != 0);  // no QuarantineMailbox
        CHECK(s.edgectl("Set-ContentFilterConfig -SCLQuarantineEnabled '$true' -SCLQuarantineThreshold 8 "
                        "-QuarantineMailbox quarantine@contoso.test") != 0);  // 8 is above the reject threshold 7
        s.must_edgectl("Set-ContentFilterConfig -SCLRejectEnabled '$false' -SCLQuarantineEnabled '$true' "
                       "-QuarantineMailbox quarantine@contoso.test");
        CHECK(submit(s, "a@spam.test", {"user@contoso.test", "other@contoso.test"}, note("quarantined", "free money"))
                  .starts_with("250"));
        auto got = hub.wait_for_messages(1, 20s);
        REQUIRE(got.size() == 1);
        CHECK(got[0].rcpt_to == std::vector<std::string>{"quarantine@contoso.test"});
        CHECK(field(got[0].data, "X-MS-Exchange-Organization-SCL") == "9");
        CHECK(field(got[0].data, "X-Spam-Flag") == "YES");
        CHECK(field(got[0].data, "To") == "user@contoso.test");  // the message itself is unchanged
        // Whoever reads the quarantine mailbox sees whom it was for, one address per folded line.
        CHECK(got[0].data.find("X-Quarantine-Original-Recipients: user@contoso.test,\r\n\tother@contoso.test\r\n") !=
              std::string::npos);

        s.must_edgectl("Set-ContentFilterConfig -QuarantineMailbox q@hold.test");
        CHECK(submit(s, "a@spam.test", {"user@contoso.test", "other@contoso.test"}, note("held", "free money"))
                  .starts_with("250"));
        std::string out;
        for (int i = 0; i < 50 && out.find("q@hold.test") == std::string::npos; ++i) {
            std::this_thread::sleep_for(200ms);
            s.edgectl("Get-Message -Json", &out);
        }
        INFO(out);
        CHECK(out.find("\"SCL\": 9") != std::string::npos);
        CHECK(out.find("\"OriginalRecipients\": [\"user@contoso.test\",\"other@contoso.test\"]") != std::string::npos);
    }
}

TEST_CASE("the scanners alone: rspamd answers GTUBE with a reject through its milter, clamav-milter finds EICAR",
          "[content-filter][scanners]") {
    TempDir dir;
    const std::string clean = "From: a@fabrikam.test\r\nTo: b@contoso.test\r\nSubject: lunch\r\nMessage-ID: <l@fabrikam.test>\r\n"
                              "Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n\r\nShall we have lunch tomorrow?\r\n";
    {
        RspamdServer rspamd;  // ready = GTUBE answered 554 through the milter
        std::cerr << "rspamd ready in " << rspamd.start_seconds() << " s\n";
        CHECK(probe_milter(dir, rspamd.milter_port(), "Subject: x\r\n\r\n" + kGtube + "\r\n") == "replycode 554 5.7.1 Gtube pattern");
        CHECK(probe_milter(dir, rspamd.milter_port(), clean) == "accept");
    }
    ClamavServers clamav;
    std::cerr << "clamd + clamav-milter ready in " << clamav.start_seconds() << " s\n";
    const std::string attachment =
        "From: a@fabrikam.test\r\nTo: b@contoso.test\r\nSubject: invoice\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        "--b\r\nContent-Type: application/octet-stream; name=eicar.com\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        "WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFOVElWSVJVUy1URVNULUZJTEUhJEgrSCo=\r\n--b--\r\n";
    CHECK(probe_milter(dir, clamav.milter_port(), attachment) ==
          "replycode 550 5.7.1 Virus found: Eicar-Test-Body.UNOFFICIAL");
}

namespace {
// An edge relaying contoso.test to `hub`, with the milter `address` configured as
// `params` say; started, no tarpit.
void edge_with_milter(EdgeServer& s, const SmtpPeer& hub, const std::string& name, const std::string& address,
                      const std::string& params) {
    s.must_edgectl("New-AcceptedDomain -Name Contoso -DomainName contoso.test -DomainType Authoritative");
    s.must_edgectl("New-SendConnector Hub -AddressSpaces contoso.test -DNSRoutingEnabled '$false' -SmartHosts " + hub.ip() +
                   " -Port " + std::to_string(hub.port()));
    s.must_edgectl("New-MilterServer " + name + " -Address " + address + " " + params);
    s.start();
    s.must_edgectl("Set-ReceiveConnector " + shell_quote(s.default_connector()) + " -TarpitInterval 00:00:00");
}
}  // namespace

TEST_CASE("rspamd as the Content Filter's scanner: GTUBE refused at end of data, a clean message stamped with rspamd's "
          "header at the hub, rspamd stopped gives DefaultAction in time",
          "[content-filter][scanners]") {
    RspamdServer rspamd;
    SmtpPeer hub;
    EdgeServer s;
    edge_with_milter(s, hub, "rspamd", rspamd.milter_address(),
                     "-VerdictHandling ContentFilter -ConnectTimeout 00:00:05 -CommandTimeout 00:00:10 -DefaultAction TempFail");

    // GTUBE: rspamd says reject (554 5.7.1 Gtube pattern) → SCL 9 ≥ 7 → the Content Filter's response.
    CHECK(submit(s, "someone@fabrikam.test", {"user@contoso.test"}, note("gtube", kGtube)) ==
          "550 5.7.1 Message rejected as spam by Content Filtering");
    auto log = agent_log_lines(s, "-Agent 'Content Filter Agent'", 1);
    REQUIRE_FALSE(log.empty());
    CHECK(log[0].find("milter rspamd reject: SCL 9") != std::string::npos);

    // A clean message: through, with rspamd's own header (added over the milter protocol) and our SCL.
    CHECK(submit(s, "someone@fabrikam.test", {"user@contoso.test"},
                 note("lunch", "Shall we have lunch tomorrow at noon?", "Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n"))
              .starts_with("250"));
    auto got = hub.wait_for_messages(1, 30s);
    REQUIRE(got.size() == 1);
    INFO(got[0].data);
    CHECK(got[0].data.find("X-Spamd-Result: default: False [") != std::string::npos);
    const std::string scl = field(got[0].data, "X-MS-Exchange-Organization-SCL");
    CHECK((scl.size() == 1 && scl[0] >= '0' && scl[0] <= '6'));
    CHECK(field(got[0].data, "X-Spam-Status").starts_with("No, scl=" + scl));

    // rspamd gone: the milter's DefaultAction (TempFail) within its timeouts, never a hang.
    rspamd.stop();
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(submit(s, "someone@fabrikam.test", {"user@contoso.test"}, note("down", "hello")).starts_with("451 4.7.1"));
    CHECK(std::chrono::steady_clock::now() - t0 < 10s);
}

TEST_CASE("ClamAV through clamav-milter: an EICAR attachment is refused, a clean message passes with its header",
          "[content-filter][scanners]") {
    ClamavServers clamav;
    SmtpPeer hub;
    EdgeServer s;
    edge_with_milter(s, hub, "clamav", clamav.milter_address(), "-ConnectTimeout 00:00:05 -CommandTimeout 00:00:10");
    const std::string virus =
        "From: someone@fabrikam.test\r\nTo: user@contoso.test\r\nSubject: invoice\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        "--b\r\nContent-Type: application/octet-stream; name=eicar.com\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        "WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFOVElWSVJVUy1URVNULUZJTEUhJEgrSCo=\r\n--b--\r\n";
    CHECK(submit(s, "someone@fabrikam.test", {"user@contoso.test"}, virus) ==
          "550 5.7.1 Virus found: Eicar-Test-Body.UNOFFICIAL");
    CHECK(submit(s, "someone@fabrikam.test", {"user@contoso.test"}, note("clean", "no virus here")).starts_with("250"));
    auto got = hub.wait_for_messages(1, 30s);
    REQUIRE(got.size() == 1);
    CHECK(field(got[0].data, "X-Virus-Status") == "Clean");
}
