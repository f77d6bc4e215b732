// Sender reputation on the real binaries, on loopback, with a real NSD answering the
// PTR and A lookups of 127.0.0.x sources: FCrDNS pass, fail and no PTR as
// Get-SenderReputation shows them, and a bot (20 messages, bad HELOs, no PTR) whose
// SRL rises above 7 and is blocked. One server start for every case.
#include "dns_server.hpp"
#include "edge_server.hpp"

#include <catch2/catch.hpp>


#include <chrono>
#include <ctime>
#include <sstream>
#include <thread>

using namespace edge::test;
using namespace std::chrono_literals;

namespace {

// One field of Get-SenderReputation -Format List ("" when the address is unknown).
std::string field(const EdgeServer& s, const std::string& ip, const std::string& name) {
    std::string out;
    if (s.edgectl("Get-SenderReputation -IPAddress " + ip + " -Format List", &out) != 0) return "";
    std::istringstream in(out);
    for (std::string l; std::getline(in, l);)
        if (l.starts_with(name + " ")) return l.substr(l.find(": ") + 2);
    return "";
}

// Until `want` (the writes are batched every second here), at most ~3 s.
std::string wait_field(const EdgeServer& s, const std::string& ip, const std::string& name, const std::string& want) {
    std::string v;
    for (int i = 0; i < 30; ++i) {
        v = field(s, ip, name);
        if (v == want) break;
        std::this_thread::sleep_for(100ms);
    }
    return v;
}

// One session from `source`: the HELO given, one message.
void session(const EdgeServer& s, const char* source, const std::string& helo, int n) {
    SmtpClient c(s.port(), source);
    REQUIRE(c.reply().starts_with("220"));
    REQUIRE(c.command("EHLO " + helo).starts_with("250"));
    REQUIRE(c.send_mail("a@example.org", {"b@contoso.test"}, simple_body("rep" + std::to_string(n))).starts_with("250"));
    c.command("QUIT");
}

}  // namespace

TEST_CASE("Sender reputation: FCrDNS pass, fail and no PTR are shown, and 20 messages with bad HELOs and no PTR "
          "raise the SRL above 7 and block the sender",
          "[agents][reputation][live]") {
    // 127.0.0.2 forward-confirms, 127.0.0.3's PTR name leads elsewhere, 127.0.0.4 and 127.0.0.5 have no PTR.
    NsdServer dns({{"0.0.127.in-addr.arpa", "2 IN PTR good.rep.test.\n3 IN PTR bad.rep.test.\n"},
                   {"rep.test", "good IN A 127.0.0.2\nbad IN A 127.0.0.99\n"}});
    EdgeServer s;
    s.must_edgectl("Set-TransportServer -InternalDNSServers " + dns.endpoint());
    s.must_edgectl("Set-SenderReputationConfig -ReputationFlushInterval 00:00:01");
    basic_setup(s);

    session(s, "127.0.0.2", "good.rep.test", 0);
    session(s, "127.0.0.3", "mail.example.org", 0);
    session(s, "127.0.0.4", "mail.example.org", 0);
    CHECK(wait_field(s, "127.0.0.2", "ReverseDns", "Pass") == "Pass");
    CHECK(field(s, "127.0.0.2", "PtrName") == "good.rep.test");
    CHECK(wait_field(s, "127.0.0.3", "ReverseDns", "Fail") == "Fail");
    CHECK(field(s, "127.0.0.3", "PtrName") == "bad.rep.test");
    CHECK(wait_field(s, "127.0.0.4", "ReverseDns", "NoPtr") == "NoPtr");
    CHECK(field(s, "127.0.0.4", "MessagesSeen") == "1");
    CHECK(field(s, "127.0.0.4", "SenderReputationLevel") == "0");  // fewer than 20 messages

    // The bot: lock-step sessions, each HELO an IP literal that is not its address.
    for (int i = 0; i < 19; ++i) session(s, "127.0.0.5", "[10.0.0." + std::to_string(i + 1) + "]", i);
    CHECK(wait_field(s, "127.0.0.5", "MessagesSeen", "19") == "19");
    CHECK(field(s, "127.0.0.5", "ReverseDns") == "NoPtr");
    CHECK(field(s, "127.0.0.5", "Blocked") == "False");
    session(s, "127.0.0.5", "[10.0.0.20]", 19);
    // Blocked: the profile's evidence is deleted (as Exchange does), the block and its reason stay.
    CHECK(wait_field(s, "127.0.0.5", "Blocked", "True") == "True");
    const int srl = std::atoi(field(s, "127.0.0.5", "SenderReputationLevel").c_str());
    CHECK(srl > 7);
    const std::string reason = field(s, "127.0.0.5", "Reason");
    INFO(reason);
    CHECK(reason.find("over the threshold 7") != std::string::npos);
    CHECK(reason.find("no PTR record") != std::string::npos);
    CHECK(reason.find("IP literal") != std::string::npos);
    CHECK(field(s, "127.0.0.5", "MessagesSeen") == "0");
    CHECK_FALSE(field(s, "127.0.0.5", "BlockedUntil").empty());
    // The block is a machine entry on the IP Block List, with an ExpirationTime
    // SenderBlockingPeriod (24 h) ahead; 127.0.0.2 is on no list.
    std::string entries;
    REQUIRE(s.edgectl("Get-IPBlockListEntry -IPAddress 127.0.0.5 -Format List", &entries) == 0);
    INFO(entries);
    CHECK(entries.find("IPRange        : 127.0.0.5") != std::string::npos);
    CHECK(entries.find("IsMachine      : True") != std::string::npos);
    CHECK(entries.find("Sender Reputation: ") != std::string::npos);
    const auto at = entries.find("ExpirationTime : ");
    REQUIRE(at != std::string::npos);
    const std::string expires = entries.substr(at + 17, 19);  // "2026-12-08 12:00:00"
    std::tm tm{};
    REQUIRE(::strptime(expires.c_str(), "%Y-%m-%d %H:%M:%S", &tm) != nullptr);
    const auto ahead = std::chrono::system_clock::from_time_t(::timegm(&tm)) - std::chrono::system_clock::now();
    CHECK(ahead > std::chrono::hours(23));
    CHECK(ahead <= std::chrono::hours(24));
    REQUIRE(s.edgectl("Get-IPBlockListEntry -IPAddress 127.0.0.2", &entries) == 0);
    CHECK(entries.find("127.0.0.2") == std::string::npos);
    // The next session from the bot is refused at RCPT with the machine entry's response.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // ConfigPollInterval 1 s
    {
        SmtpClient c(s.port(), "127.0.0.5");
        c.reply();
        c.command("EHLO bot.example");
        REQUIRE(c.command("MAIL FROM:<a@example.org>").starts_with("250"));
        CHECK(c.command("RCPT TO:<b@contoso.test>") ==
              "550 5.7.1 External client with IP address 127.0.0.5 is blocked by Sender Reputation");
    }

    // Bad input gets a clear error.
    std::string out;
    CHECK(s.edgectl("Get-SenderReputation -IPAddress 999.1.1.1", &out) != 0);
    CHECK(out.find("-IPAddress: expected an IPv4 address") != std::string::npos);
    CHECK(s.edgectl("Get-SenderReputation -IPAddress 192.0.2.200", &out) != 0);
    CHECK(out.find("has not seen it") != std::string::npos);

    // A clean stop (under ASan: nothing leaked or used after free at shutdown, with the
    // last batch written after the I/O thread stopped).
    CHECK(s.stop() == 0);
    CHECK(field(s, "127.0.0.5", "Blocked") == "True");
}
