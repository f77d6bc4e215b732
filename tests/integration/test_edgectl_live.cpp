// edgectl against the running server: configuration and queue changes apply within
// the server's poll interval (1 s) without a restart, deliveries see them, and what
// edgectl shows is what the server did. Real binaries on loopback, scripted peers
// (tests/support/smtp_peer.py) as next hops.
#include "edge_server.hpp"
#include "smtp_peer.hpp"

#include "queue_db.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

using namespace edge::test;
using namespace std::chrono_literals;

namespace {

// Every *.test domain relays; "Back" takes mail for back.test (the senders: NDRs go there).
void relay_setup(EdgeServer& s, const SmtpPeer& back) {
    s.must_edgectl("New-AcceptedDomain Tests -DomainName *.test -DomainType ExternalRelay");
    s.must_edgectl("New-SendConnector Back -AddressSpaces back.test -DNSRoutingEnabled '$false' -SmartHosts " + back.ip() +
                   " -Port " + std::to_string(back.port()));
}

std::string body(const std::string& tag, std::size_t pad = 0) {
    return "From: sender@back.test\r\nTo: someone@example.test\r\nSubject: " + tag + "\r\nMessage-ID: <" + tag +
           "@client.test>\r\n\r\nHello " + tag + ".\r\n" + std::string(pad, 'x') + (pad ? "\r\n" : "");
}

void send(const EdgeServer& s, const std::string& from, const std::string& to, const std::string& tag, std::size_t pad = 0) {
    SmtpClient c(s.port());
    REQUIRE(c.reply().starts_with("220"));
    REQUIRE(c.command("EHLO client.test").starts_with("250"));
    REQUIRE(c.send_mail(from, {to}, body(tag, pad)).starts_with("250"));
    c.command("QUIT");
}

std::string out_of(const EdgeServer& s, const std::string& args, int expected_exit = 0) {
    std::string out;
    int code = s.edgectl(args, &out);
    INFO("edgectl " << args << "\n" << out);
    CHECK(code == expected_exit);
    return out;
}

std::unique_ptr<edge::queue::QueueDb> open_db(const EdgeServer& s) {
    edge::queue::QueueDbOptions o;
    o.recover_leases = false;
    auto db = edge::queue::QueueDb::open(s.data(), o);
    if (!db) throw std::runtime_error("open queue: " + db.error().message());
    return std::move(*db);
}

// Every value of `name` in Format-List output, in order.
std::vector<std::string> list_fields(const std::string& list, const std::string& name) {
    std::vector<std::string> out;
    std::istringstream in(list);
    for (std::string line; std::getline(in, line);)
        if (line.starts_with(name + " ")) out.push_back(line.substr(line.find(" : ") + 3));
    return out;
}

std::string list_field(const std::string& list, const std::string& name) {
    std::istringstream in(list);
    for (std::string line; std::getline(in, line);)
        if (line.starts_with(name + " ")) return line.substr(line.find(" : ") + 3);
    return "<absent>";
}

}  // namespace

TEST_CASE("Set-SendConnector -SourceIPAddress moves the next delivery, and an address not on this host is refused",
          "[edgectl][live]") {
    SmtpPeer back, out;
    EdgeServer s;
    relay_setup(s, back);
    s.must_edgectl("New-SendConnector Out -AddressSpaces out.test -SourceIPAddress 127.0.0.2 -DNSRoutingEnabled '$false' "
                   "-SmartHosts " + out.ip() + " -Port " + std::to_string(out.port()));
    s.start();
    send(s, "a@back.test", "x@out.test", "first");
    auto got = out.wait_for_messages(1, 20s);
    REQUIRE(got.size() == 1);
    CHECK(got[0].peer_ip == "127.0.0.2");

    s.must_edgectl("set-sendconnector out -source 127.0.0.3");  // case and a prefix, as PowerShell takes them
    send(s, "a@back.test", "x@out.test", "second");
    got = out.wait_for_messages(2, 20s);
    REQUIRE(got.size() == 2);
    CHECK(got[1].peer_ip == "127.0.0.3");

    std::uint64_t generation = open_db(s)->config_generation();
    std::string refused;
    CHECK(s.edgectl("Set-SendConnector Out -SourceIPAddress 10.9.9.9", &refused) == 1);
    CHECK(refused.find("-SourceIPAddress: 10.9.9.9 is not an address of this host") != std::string::npos);
    CHECK(open_db(s)->config_generation() == generation);
    CHECK(list_field(out_of(s, "Get-SendConnector Out -Format List"), "SourceIPAddress") == "127.0.0.3");
    send(s, "a@back.test", "x@out.test", "third");
    got = out.wait_for_messages(3, 20s);
    REQUIRE(got.size() == 3);
    CHECK(got[2].peer_ip == "127.0.0.3");
}

TEST_CASE("a next hop that answers 4xx: Get-Queue shows Retry, Retry-Queue delivers now, Suspend-Queue holds, "
          "Resume-Queue delivers",
          "[edgectl][live]") {
    SmtpPeer back;
    const std::uint16_t port = free_port();
    auto busy = std::make_unique<SmtpPeer>(std::vector<std::string>{"--greeting-reply", "421 4.3.2 Too busy, try later"},
                                           "127.0.0.1", port);
    EdgeServer s;
    relay_setup(s, back);
    // Timers far away: anything delivered below was delivered because of edgectl.
    s.must_edgectl("Set-TransportServer -QueueGlitchRetryInterval 00:10:00 -MessageRetryInterval 00:10:00");
    s.must_edgectl("New-SendConnector Hub -AddressSpaces hub.test -DNSRoutingEnabled '$false' -SmartHosts 127.0.0.1 -Port " +
                   std::to_string(port));
    s.start();
    send(s, "a@back.test", "x@hub.test", "held");

    std::string q;
    REQUIRE(wait_until([&] {
        s.edgectl("Get-Queue hub -Format List", &q);
        return list_field(q, "Status") == "Retry";
    }));
    INFO(q);
    CHECK(list_field(q, "LastError").find("421 4.3.2 Too busy") != std::string::npos);
    CHECK_FALSE(list_field(q, "NextRetryTime").empty());
    CHECK(list_field(q, "NextRetryTime") != "<absent>");
    std::string table = out_of(s, "Get-Queue -Filter \"Status -eq 'Retry'\"");
    CHECK(table.find(EdgeServer::host() + "\\hub") != std::string::npos);

    busy.reset();
    SmtpPeer fixed({}, "127.0.0.1", port);
    std::this_thread::sleep_for(2s);
    CHECK(fixed.messages().empty());  // still waiting for its timer
    out_of(s, "Retry-Queue " + shell_quote(EdgeServer::host() + "\\hub"));
    REQUIRE(fixed.wait_for_messages(1, 10s).size() == 1);

    out_of(s, "Suspend-Queue hub");
    std::this_thread::sleep_for(1200ms);
    send(s, "a@back.test", "y@hub.test", "suspended");
    std::this_thread::sleep_for(3s);
    CHECK(fixed.messages().size() == 1);
    std::string m = out_of(s, "Get-Message -Queue hub -Format List");
    CHECK(list_field(m, "FromAddress") == "a@back.test");
    CHECK(list_field(out_of(s, "Get-Queue hub -Format List"), "Status") == "Suspended");

    out_of(s, "Resume-Queue hub");
    auto got = fixed.wait_for_messages(2, 10s);
    REQUIRE(got.size() == 2);
    CHECK(got[1].rcpt_to.at(0) == "y@hub.test");
}

TEST_CASE("Get-Message -Filter, Export-Message byte for byte and Remove-Message -WithNDR against the running server",
          "[edgectl][live]") {
    SmtpPeer back, slow({"--data-reply", "451 4.3.0 Not now"});
    EdgeServer s;
    relay_setup(s, back);
    s.must_edgectl("Set-TransportServer -MessageRetryInterval 00:10:00");
    s.must_edgectl("New-SendConnector Slow -AddressSpaces slow.test -DNSRoutingEnabled '$false' -SmartHosts " + slow.ip() +
                   " -Port " + std::to_string(slow.port()));
    s.start();
    send(s, "one@back.test", "x@slow.test", "one", 100);
    send(s, "two@back.test", "x@slow.test", "two", 5000);
    send(s, "three@back.test", "x@slow.test", "three", 100);
    REQUIRE(wait_until([&] {
        return out_of(s, "Get-Message -Filter \"Status -eq 'Retry'\" -Json").find("three@back.test") != std::string::npos &&
               out_of(s, "Get-Message -Filter \"Status -eq 'Retry'\" -Json").find("one@back.test") != std::string::npos;
    }));

    std::string big = out_of(s, "Get-Message -Filter \"Size -gt 4KB -and Subject -like 'tw*'\"");
    INFO(big);
    CHECK(big.find("two@back.test") != std::string::npos);
    CHECK(big.find("one@back.test") == std::string::npos);
    CHECK(big.find("three@back.test") == std::string::npos);

    // -Json parses (Python's json module) and says what the table says.
    std::string json;
    REQUIRE(run_command("" + std::string(EDGECTL_PATH) + " --data " + shell_quote(s.data()) +
                            " Get-Message -Json | python3 -c 'import json,sys; m=json.load(sys.stdin); "
                            "print(sorted(x[\"FromAddress\"] for x in m), [x[\"Status\"] for x in m])'",
                        &json) == 0);
    INFO(json);
    CHECK(json.find("['one@back.test', 'three@back.test', 'two@back.test'] ['Retry', 'Retry', 'Retry']") !=
          std::string::npos);

    // Export-Message: the file is the queued message, byte for byte.
    auto db = open_db(s);
    edge::queue::MessageFilter f;
    edge::queue::MessageId two = 0;
    for (const auto& m : db->list_messages(f))
        if (m.envelope.sender == "two@back.test") two = m.id;
    REQUIRE(two != 0);
    std::string eml = s.dir().sub("two.eml");
    out_of(s, "Export-Message " + shell_quote(EdgeServer::host() + "\\slow\\" + std::to_string(two)) + " -Path " +
                  shell_quote(eml));
    std::ifstream in(eml, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    CHECK(bytes.str() == *db->export_message(two));
    CHECK(bytes.str().find("Subject: two") != std::string::npos);
    db.reset();

    // Remove-Message -WithNDR $true: gone, and the sender gets an NDR.
    out_of(s, "Remove-Message " + std::to_string(two) + " -WithNDR '$true'");
    auto ndr = back.wait_for_messages(1, 15s);
    REQUIRE(ndr.size() == 1);
    CHECK(ndr[0].mail_from.empty());
    CHECK(ndr[0].rcpt_to.at(0) == "two@back.test");
    CHECK(ndr[0].data.find("Action: failed") != std::string::npos);
    CHECK(wait_until([&] { return out_of(s, "Get-Message -Json").find("two@back.test") == std::string::npos; }));
    CHECK(out_of(s, "Get-Message -Json").find("one@back.test") != std::string::npos);
}

TEST_CASE("Get-MessageTrackingLog -MessageId shows RECEIVE then SEND for a relayed message", "[edgectl][live]") {
    SmtpPeer back, out;
    EdgeServer s;
    relay_setup(s, back);
    s.must_edgectl("New-SendConnector Out -AddressSpaces out.test -DNSRoutingEnabled '$false' -SmartHosts " + out.ip() +
                   " -Port " + std::to_string(out.port()));
    s.start();
    send(s, "a@back.test", "x@out.test", "tracked");
    REQUIRE(out.wait_for_messages(1, 20s).size() == 1);
    std::string log;
    REQUIRE(wait_until([&] {
        log = out_of(s, "Get-MessageTrackingLog -MessageId '<tracked@client.test>' -Format List");
        return log.find("SEND") != std::string::npos;
    }));
    INFO(log);
    CHECK(list_fields(log, "EventId") == std::vector<std::string>{"RECEIVE", "SEND"});
    CHECK(list_fields(log, "Sender") == std::vector<std::string>{"a@back.test", "a@back.test"});
    CHECK(log.find("x@out.test") != std::string::npos);
    // Another message's id finds nothing.
    CHECK(out_of(s, "Get-MessageTrackingLog -MessageId '<nothing@client.test>'").empty());
}
