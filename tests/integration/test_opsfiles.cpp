// Exchange's operational files (issue 21, item 5) end to end: the Pickup directory (a
// file dropped there reaches the hub; a malformed one becomes .bad with its reason in the
// tracking log), the connectivity log of a delivery that tries a dead MX then a live one
// (NSD on loopback), QueueMaxIdleTime, and the tracking log's ADMIN line for
// Remove-Message and POISONMESSAGE for a message that was being delivered when the
// server was killed (PoisonThreshold 1).
#include "connectivity_log.hpp"
#include "dns_server.hpp"
#include "edge_server.hpp"
#include "message_tracking.hpp"
#include "smtp_peer.hpp"

#include <catch2/catch.hpp>

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <fstream>

using namespace edge::test;
using namespace std::chrono_literals;

namespace {

// Every line of every connectivity log file, parsed.
std::vector<std::array<std::string, 6>> connectivity_lines(const std::string& dir) {
    std::vector<std::array<std::string, 6>> out;
    edge::logging::for_each_csv_log_line(dir, "CONNECTLOG", [&](std::string_view line) {
        if (auto f = edge::logging::parse_connectivity_line(line)) out.push_back(*f);
    });
    return out;
}

std::vector<edge::logging::TrackingEvent> tracking_events(const EdgeServer& s, std::string_view event_id) {
    std::vector<edge::logging::TrackingEvent> out;
    for (auto& e : edge::logging::read_tracking_logs(s.data() + "/Logs/MessageTracking"))
        if (e.event_id == event_id) out.push_back(std::move(e));
    return out;
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

void write_file(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::string edgectl_out(const EdgeServer& s, const std::string& args) {
    std::string out;
    s.edgectl(args, &out);
    return out;
}

// A next hop that takes the TCP connection (the kernel's backlog) and never says 220:
// the delivery stays Active until it is killed.
struct SilentListener {
    int fd = -1;
    std::uint16_t port = 0;
    SilentListener() {
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(fd, 16) == 0);
        socklen_t l = sizeof a;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &l);
        port = ntohs(a.sin_port);
    }
    ~SilentListener() { ::close(fd); }
};

}  // namespace

TEST_CASE("Pickup files reach the hub, a bad one becomes .bad, and the connectivity log shows a dead MX then a live one",
          "[send][pickup][connectivity]") {
    const std::uint16_t port = free_port();
    SmtpPeer hub, back;
    SmtpPeer live({}, "127.0.0.21", port);  // 127.0.0.20: nothing listens there
    NsdServer dns(std::vector<DnsZone>{{"two.test", "@ IN MX 10 dead\n@ IN MX 20 live\ndead IN A 127.0.0.20\nlive IN A 127.0.0.21\n"}});
    EdgeServer s;
    s.must_edgectl("New-AcceptedDomain -Name Tests -DomainName *.test -DomainType ExternalRelay");
    s.must_edgectl("New-SendConnector Hub -AddressSpaces contoso.test -DNSRoutingEnabled '$false' -SmartHosts " + hub.ip() +
                   " -Port " + std::to_string(hub.port()));
    s.must_edgectl("New-SendConnector Back -AddressSpaces back.test -DNSRoutingEnabled '$false' -SmartHosts " + back.ip() +
                   " -Port " + std::to_string(back.port()));
    s.must_edgectl("New-SendConnector Internet -AddressSpaces '*' -AllowPrivateTargetAddresses '$true' -Port " +
                   std::to_string(port));
    s.must_edgectl("Set-TransportServer -InternalDNSServers " + dns.endpoint() +
                   " -ConnectivityLogEnabled '$true' -QueueMaxIdleTime 00:00:02");
    s.start();
    const std::string pickup = s.data() + "/Pickup";  // the default PickupDirectoryPath
    REQUIRE(wait_until([&] { return exists(pickup); }, 10s));

    // Renamed into place (IN_MOVED_TO): X-Receiver gives the recipients, Bcc goes.
    write_file(pickup + "/first.tmp",
               "X-Sender: <sender@back.test>\r\nX-Receiver: <user@contoso.test>\r\nFrom: sender@back.test\r\n"
               "To: visible@contoso.test\r\nBcc: secret@contoso.test\r\nSubject: picked up\r\n\r\nHello from the Pickup directory.\r\n");
    REQUIRE(::rename((pickup + "/first.tmp").c_str(), (pickup + "/first.eml").c_str()) == 0);
    // Written in place (IN_CLOSE_WRITE), LF line ends: To, Cc (a group) and Bcc give them.
    write_file(pickup + "/second.eml", "From: Someone <someone@back.test>\nTo: t1@contoso.test\n"
                                       "Cc: Team: t2@contoso.test;\nBcc: t3@contoso.test\nSubject: second\n\nbody\n");
    write_file(pickup + "/broken.eml", "this is not a header\r\n\r\nbody\r\n");

    auto got = hub.wait_for_messages(2, 30s);
    REQUIRE(got.size() == 2);
    const bool in_order = got[0].data.find("Subject: picked up") != std::string::npos;
    const auto& first = in_order ? got[0] : got[1];
    const auto& second = in_order ? got[1] : got[0];
    CHECK(first.mail_from == "sender@back.test");
    CHECK(first.rcpt_to == std::vector<std::string>{"user@contoso.test"});
    CHECK(first.data.find("X-Receiver") == std::string::npos);
    CHECK(first.data.find("X-Sender") == std::string::npos);
    CHECK(first.data.find("secret@contoso.test") == std::string::npos);
    CHECK(first.data.find("(Pickup directory)") != std::string::npos);
    CHECK(second.mail_from == "someone@back.test");
    CHECK(second.rcpt_to == std::vector<std::string>{"t1@contoso.test", "t2@contoso.test", "t3@contoso.test"});
    CHECK(second.data.find("t3@contoso.test") == std::string::npos);  // Bcc removed
    CHECK(second.data.find("\r\nSubject: second\r\n") != std::string::npos);  // CRLF lines

    REQUIRE(wait_until([&] { return !exists(pickup + "/first.eml") && !exists(pickup + "/second.eml"); }, 10s));
    REQUIRE(wait_until([&] { return exists(pickup + "/broken.eml.bad"); }, 10s));
    CHECK_FALSE(exists(pickup + "/broken.eml"));
    std::vector<edge::logging::TrackingEvent> bad;
    REQUIRE(wait_until([&] { return !(bad = tracking_events(s, "BADMAIL")).empty(); }, 10s));
    CHECK(bad[0].source == "PICKUP");
    CHECK(bad[0].source_context == "broken.eml: line 1 is not a header field (name: value)");
    REQUIRE(wait_until([&] {
        auto r = tracking_events(s, "RECEIVE");
        return std::count_if(r.begin(), r.end(), [](const auto& e) { return e.source == "PICKUP"; }) == 2;
    }, 10s));

    // A dead MX, then the live one: each address, the failure and the session in the log.
    SmtpClient c(s.port());
    REQUIRE(c.reply().starts_with("220"));
    REQUIRE(c.command("EHLO client.test").starts_with("250"));
    REQUIRE(c.send_mail("sender@back.test", {"x@two.test"},
                        "From: sender@back.test\r\nTo: x@two.test\r\nSubject: mx\r\n\r\nvia the second MX\r\n")
                .starts_with("250"));
    c.command("QUIT");
    REQUIRE(live.wait_for_messages(1, 30s).size() == 1);
    const std::string p = std::to_string(port);
    const std::string dir = s.data() + "/Logs/Connectivity";
    std::vector<std::array<std::string, 6>> lines;
    auto has = [&](char direction, const std::string& text) {
        return std::any_of(lines.begin(), lines.end(), [&](const auto& l) {
            return l[3] == "two.test" && l[4] == std::string(1, direction) && l[5].find(text) != std::string::npos;
        });
    };
    REQUIRE(wait_until([&] {
        lines = connectivity_lines(dir);
        return has('-', "Messages: 1");
    }, 15s));
    INFO(lines.size() << " connectivity lines");
    CHECK(has('+', "Creating a session for two.test"));
    CHECK(has('*', "DNS: 2 host(s) in order: dead.two.test[127.0.0.20] live.two.test[127.0.0.21]"));
    CHECK(has('>', "dead.two.test[127.0.0.20:" + p + "]"));
    CHECK(has('*', "Failed connection to 127.0.0.20:" + p));
    CHECK(has('>', "live.two.test[127.0.0.21:" + p + "]"));
    CHECK(has('*', "Established connection to 127.0.0.21:" + p));
    CHECK(has('*', "TLS"));
    for (const auto& l : lines) CHECK(l[2] == "SMTP");

    // QueueMaxIdleTime 2 s: the emptied two.test queue goes (Get-Queue no longer lists it).
    CHECK(wait_until([&] { return edgectl_out(s, "Get-Queue").find("two.test") == std::string::npos; }, 15s));
}

TEST_CASE("Remove-Message writes the ADMIN line and a message in delivery at a crash writes POISONMESSAGE",
          "[send][tracking][poison]") {
    SilentListener silent;
    const std::uint16_t closed = free_port();  // nothing listens: connections are refused, the queue retries
    EdgeServer s;
    s.must_edgectl("New-AcceptedDomain -Name Tests -DomainName *.test -DomainType ExternalRelay");
    s.must_edgectl("New-SendConnector Stall -AddressSpaces stall.test -DNSRoutingEnabled '$false' -SmartHosts 127.0.0.1 -Port " +
                   std::to_string(silent.port));
    s.must_edgectl("New-SendConnector Down -AddressSpaces down.test -DNSRoutingEnabled '$false' -SmartHosts 127.0.0.1 -Port " +
                   std::to_string(closed));
    s.must_edgectl("Set-TransportServer -PoisonThreshold 1");
    s.start();
    auto send_one = [&](const std::string& to, const std::string& subject) {
        SmtpClient c(s.port());
        REQUIRE(c.reply().starts_with("220"));
        REQUIRE(c.command("EHLO client.test").starts_with("250"));
        REQUIRE(c.send_mail("sender@back.test", {to},
                            "From: sender@back.test\r\nSubject: " + subject + "\r\nMessage-ID: <" + subject +
                                "@client.test>\r\n\r\nx\r\n")
                    .starts_with("250"));
        c.command("QUIT");
    };
    send_one("a@stall.test", "stalled");
    send_one("b@down.test", "removed");

    // Remove-Message: FAIL from ADMIN, each recipient with the removal's status.
    // (A smart-host connector's queue is named after the connector: find the message by Subject.)
    const std::string removed = "Get-Message -Filter \"Subject -eq 'removed'\" -Json";
    REQUIRE(wait_until([&] { return edgectl_out(s, removed).find("MessageId") != std::string::npos; }, 15s));
    std::string listing = edgectl_out(s, removed);
    auto at = listing.find("\"MessageId\"");
    REQUIRE(at != std::string::npos);
    at = listing.find_first_of("0123456789", at);
    REQUIRE(at != std::string::npos);
    const std::string id = std::to_string(std::stoull(listing.substr(at)));
    s.must_edgectl("Remove-Message -Identity " + id + " -WithNDR '$false'");
    auto admin = tracking_events(s, "FAIL");
    REQUIRE(admin.size() == 1);
    CHECK(admin[0].source == "ADMIN");
    CHECK(admin[0].message_id == "<removed@client.test>");
    CHECK(admin[0].recipients == std::vector<std::string>{"b@down.test"});
    CHECK(admin[0].recipient_status ==
          std::vector<std::string>{"550 5.3.2 QUEUE.Admin; message deleted by administrative action"});
    CHECK(admin[0].source_context == "Remove-Message -WithNDR $false");

    // The stalled message is Active (its next hop never greets) when the server dies.
    REQUIRE(wait_until([&] { return edgectl_out(s, "Get-Message -Filter \"Subject -eq 'stalled'\"").find("Active") != std::string::npos; }, 15s));
    CHECK(s.stop(SIGKILL) == 128 + SIGKILL);
    s.start();
    std::vector<edge::logging::TrackingEvent> poison;
    REQUIRE(wait_until([&] { return !(poison = tracking_events(s, "POISONMESSAGE")).empty(); }, 10s));
    CHECK(poison[0].message_id == "<stalled@client.test>");
    CHECK(poison[0].recipients == std::vector<std::string>{"a@stall.test"});
    CHECK(edgectl_out(s, "Get-Queue -Identity Poison").find("Poison") != std::string::npos);
    CHECK(s.server_log().find("moved to the Poison queue") != std::string::npos);
}
