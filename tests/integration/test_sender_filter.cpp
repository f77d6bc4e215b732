// Issue 17 on the real binaries, on loopback, one server start: the Sender Filter
// Agent refuses blocked senders (address, domain, `*.` subdomains, the blank sender,
// canonical variants) with 554 5.1.0 and Get-AgentLog shows it; StampStatus lets the
// message on and logs a Stamp; the pre-greet test refuses an early talker, delays a
// polite client once and remembers it. Test-SendConnector against NSD on loopback:
// a forward-confirmed PTR that is the Fqdn passes, another name or none fails with its hint.
#include "dns_server.hpp"
#include "edge_server.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <sstream>
#include <thread>

using namespace edge::test;
using namespace std::chrono_literals;

namespace {

// One session from 127.0.0.1: the MAIL reply for `from` (as written between the <>).
std::string mail(const EdgeServer& s, const std::string& from) {
    SmtpClient c(s.port());
    c.reply();
    c.command("EHLO client.example");
    std::string r = c.command("MAIL FROM:<" + from + ">");
    c.command("QUIT");
    return r;
}

double seconds_to_banner(const EdgeServer& s, const char* source, std::string* banner) {
    const auto t0 = std::chrono::steady_clock::now();
    SmtpClient c(s.port(), source);
    *banner = c.reply();
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    c.command("QUIT");
    return took;
}

}  // namespace

TEST_CASE("the Sender Filter Agent refuses blocked senders in every spelling, StampStatus lets them on, and the "
          "pre-greet test refuses early talkers and delays a polite client once",
          "[agents][sender-filter][pre-greet][live]") {
    EdgeServer s;
    s.must_edgectl("Set-SenderFilterConfig -BlockedSenders bad@spam.test -BlockedDomains spam.example "
                   "-BlockedDomainsAndSubdomains '*.contoso-spam.test' -BlankSenderBlockingEnabled '$true'");
    basic_setup(s, "-PreGreetDelay 00:00:01");

    // The pre-greet test first (from its own source addresses): a polite client waits
    // about the delay once, then, within PreGreetCacheTime, not again.
    std::string banner;
    const double first = seconds_to_banner(s, "127.0.0.2", &banner);
    CHECK(banner.rfind("220 ", 0) == 0);
    CHECK(first >= 0.9);
    const double again = seconds_to_banner(s, "127.0.0.2", &banner);
    CHECK(banner.rfind("220 ", 0) == 0);
    CHECK(again < 0.6);
    {
        // An early talker: its EHLO before the banner gets the 554 in place of it, and the end.
        SmtpClient c(s.port(), "127.0.0.3");
        c.send_line("EHLO ratware.example");
        CHECK(c.reply() == "554 5.5.1 Protocol error: talked before the greeting");
        CHECK(c.closed_by_server());
    }

    CHECK(mail(s, "bad@spam.test") == "554 5.1.0 Sender Denied");
    CHECK(mail(s, "BAD@Spam.Test") == "554 5.1.0 Sender Denied");
    CHECK(mail(s, "\"bad\"@spam.test") == "554 5.1.0 Sender Denied");
    CHECK(mail(s, "anyone@Spam.Example") == "554 5.1.0 Sender Denied");
    CHECK(mail(s, "x@mail.eu.contoso-spam.test") == "554 5.1.0 Sender Denied");
    CHECK(mail(s, "x@contoso-spam.test") == "554 5.1.0 Sender Denied");
    CHECK(mail(s, "") == "554 5.1.0 Sender Denied");
    CHECK(mail(s, "good@example.org") == "250 2.1.0 Sender OK");
    CHECK(mail(s, "x@sub.spam.example") == "250 2.1.0 Sender OK");  // BlockedDomains: not its subdomains

    auto lines = agent_log_lines(s, "-Agent 'Sender Filter Agent'", 7);
    REQUIRE(lines.size() == 7);
    CHECK(lines[0].find("\"Event\": \"OnMailCommand\"") != std::string::npos);
    CHECK(lines[0].find("\"Action\": \"RejectCommand\"") != std::string::npos);
    CHECK(lines[0].find("\"SmtpResponse\": \"554 5.1.0 Sender Denied\"") != std::string::npos);
    CHECK(lines[0].find("\"Reason\": \"BlockedSender\"") != std::string::npos);
    CHECK(lines[3].find("\"Reason\": \"BlockedDomain\"") != std::string::npos);
    CHECK(lines[4].find("\"Reason\": \"BlockedDomainAndSubdomains\"") != std::string::npos);
    CHECK(lines[6].find("\"Reason\": \"BlankSender\"") != std::string::npos);

    // StampStatus: the message goes on; the agent log says Stamp.
    s.must_edgectl("Set-SenderFilterConfig -Action StampStatus");
    CHECK(mail(s, "bad@spam.test") == "250 2.1.0 Sender OK");
    lines = agent_log_lines(s, "-Agent 'Sender Filter Agent'", 8);
    REQUIRE(lines.size() == 8);
    CHECK(lines[7].find("\"Action\": \"Stamp\"") != std::string::npos);
    CHECK(lines[7].find("\"Reason\": \"BlockedSender\"") != std::string::npos);

    // Disabled: nothing is refused.
    s.must_edgectl("Set-SenderFilterConfig -Enabled '$false' -Action Reject");
    CHECK(mail(s, "bad@spam.test") == "250 2.1.0 Sender OK");
}

TEST_CASE("Test-SendConnector reports the PTR name, forward confirmation and the Fqdn match, with a hint for each "
          "problem, and Set-SendConnector warns",
          "[send][identity][live]") {
    NsdServer dns({{"0.0.127.in-addr.arpa", "20 IN PTR mail.contoso.test.\n21 IN PTR host-21.isp.test.\n"},
                   {"contoso.test", "mail IN A 127.0.0.20\n"},
                   {"isp.test", "host-21 IN A 127.0.0.21\n"}});
    EdgeServer s;  // edgectl only: no server start
    s.must_edgectl("Set-TransportServer -InternalDNSServers " + dns.endpoint());
    s.must_edgectl("New-SendConnector Good -AddressSpaces '*' -SourceIPAddress 127.0.0.20 -Fqdn mail.contoso.test");
    s.must_edgectl("New-SendConnector Other -AddressSpaces '*' -SourceIPAddress 127.0.0.21 -Fqdn mail.contoso.test");
    s.must_edgectl("New-SendConnector Bare -AddressSpaces '*' -SourceIPAddress 127.0.0.22 -Fqdn mail.contoso.test");

    std::string out;
    CHECK(s.edgectl("Test-SendConnector Good -Json", &out) == 0);
    INFO(out);
    CHECK(out.find("\"PtrName\": \"mail.contoso.test\"") != std::string::npos);
    CHECK(out.find("\"ForwardConfirmed\": true") != std::string::npos);
    CHECK(out.find("\"MatchesFqdn\": true") != std::string::npos);
    CHECK(out.find("\"Result\": \"Pass\"") != std::string::npos);

    CHECK(s.edgectl("Test-SendConnector Other -Json", &out) == 1);
    CHECK(out.find("\"PtrName\": \"host-21.isp.test\"") != std::string::npos);
    CHECK(out.find("\"ForwardConfirmed\": true") != std::string::npos);
    CHECK(out.find("\"MatchesFqdn\": false") != std::string::npos);
    CHECK(out.find("is not the name we say in EHLO (mail.contoso.test)") != std::string::npos);

    CHECK(s.edgectl("Test-SendConnector Bare", &out) == 1);
    CHECK(out.find("has no PTR record") != std::string::npos);
    CHECK(out.find("22.0.0.127.in-addr.arpa -> mail.contoso.test") != std::string::npos);

    // Set-SendConnector: the same finding as a warning, and the change is made (exit 0).
    CHECK(s.edgectl("Set-SendConnector Good -Fqdn edge.contoso.test", &out) == 0);
    CHECK(out.find("warning: receivers may refuse mail from Send connector 'Good'") != std::string::npos);
    CHECK(out.find("is not the name we say in EHLO (edge.contoso.test)") != std::string::npos);
    CHECK(s.edgectl("Set-SendConnector Good -Fqdn mail.contoso.test", &out) == 0);
    CHECK(out.find("warning") == std::string::npos);
    CHECK(s.edgectl("Test-SendConnector Nope", &out) == 1);
    CHECK(out.find("no SendConnector named 'Nope'") != std::string::npos);
}
