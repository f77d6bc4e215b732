// The receive side end to end: the real edge-transport binary on loopback, driven by
// swaks and by our own client, its queue read back with queue-db.
#include "edge_server.hpp"
#include "protocol_log.hpp"
#include "edge_state.hpp"
#include "recipient_filter.hpp"

#include <catch2/catch.hpp>

#include <dirent.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

using namespace edge::test;
using namespace std::chrono_literals;

namespace {

std::string exported(const EdgeServer& s, edge::queue::MessageId id) {
    edge::queue::QueueDbOptions o;
    o.recover_leases = false;
    auto db = edge::queue::QueueDb::open(s.data(), o);
    return (*db)->export_message(id).value_or("");
}

// A header block with its folds undone (RFC 5322 §2.2.3).
std::string unfold(std::string s) {
    for (auto p = s.find("\r\n "); p != std::string::npos; p = s.find("\r\n ")) s.replace(p, 3, " ");
    return s;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

TEST_CASE("swaks delivers a full transaction and the message is queued with our Received header", "[receive][swaks]") {
    EdgeServer s;
    basic_setup(s);
    std::string out;
    int rc = run_command("swaks --server 127.0.0.1 --port " + std::to_string(s.port()) +
                             " --from sender@example.org --to user@contoso.test --helo client.example.org"
                             " --header 'Subject: swaks test' --body 'hello from swaks' --timeout 20",
                         &out);
    INFO(out);
    REQUIRE(rc == 0);
    REQUIRE(out.find("250 2.6.0 <") != std::string::npos);
    REQUIRE(out.find("Queued mail for delivery") != std::string::npos);
    auto msgs = queued(s);
    REQUIRE(msgs.size() == 1);
    CHECK(msgs[0].envelope.sender == "sender@example.org");
    CHECK(msgs[0].envelope.recipients.at(0).address == "user@contoso.test");
    CHECK(msgs[0].envelope.subject == "swaks test");
    std::string body = exported(s, msgs[0].id);
    CHECK(unfold(body).starts_with("Received: from client.example.org (127.0.0.1) by edge.test.example"));
    CHECK(unfold(body).find("with ESMTP id") != std::string::npos);
    CHECK(body.find("hello from swaks") != std::string::npos);
}

TEST_CASE("a pipelined transaction gets every reply in order", "[receive]") {
    EdgeServer s;
    basic_setup(s);
    SmtpClient c(s.port());
    REQUIRE(c.reply().starts_with("220 edge.test.example"));
    std::string ehlo = c.command("EHLO client.example");
    REQUIRE(ehlo.find("PIPELINING") != std::string::npos);
    c.send_raw("MAIL FROM:<a@example.org>\r\nRCPT TO:<x@contoso.test>\r\nRCPT TO:<y@contoso.test>\r\nDATA\r\n");
    CHECK(c.reply() == "250 2.1.0 Sender OK");
    CHECK(c.reply() == "250 2.1.5 Recipient OK");
    CHECK(c.reply() == "250 2.1.5 Recipient OK");
    CHECK(c.reply().starts_with("354"));
    c.send_raw(simple_body("pipelined") + ".\r\nQUIT\r\n");
    CHECK(c.reply() == "250 2.6.0 <pipelined@client.example> Queued mail for delivery");
    CHECK(c.reply().starts_with("221 2.0.0"));
    auto msgs = queued(s);
    REQUIRE(msgs.size() == 1);
    CHECK(msgs[0].envelope.recipients.size() == 2);
}

TEST_CASE("STARTTLS then mail: TLS 1.2 or later, ESMTPS in the Received header", "[receive][tls]") {
    EdgeServer s;
    basic_setup(s);
    SmtpClient c(s.port());
    c.reply();
    REQUIRE(c.command("EHLO client.example").find("STARTTLS") != std::string::npos);
    REQUIRE(c.command("STARTTLS") == "220 2.0.0 SMTP server ready");
    REQUIRE(c.starttls());
    CHECK((c.tls_version() == "TLSv1.3" || c.tls_version() == "TLSv1.2"));
    std::string ehlo = c.command("EHLO client.example");
    CHECK(ehlo.find("STARTTLS") == std::string::npos);  // not offered twice
    REQUIRE(c.send_mail("a@example.org", {"u@contoso.test"}, simple_body("tls")).starts_with("250 2.6.0"));
    auto msgs = queued(s);
    REQUIRE(msgs.size() == 1);
    std::string body = exported(s, msgs[0].id);
    CHECK(unfold(body).find("with ESMTPS (version=TLSv1.") != std::string::npos);
    CHECK(body.find("cipher=") != std::string::npos);
}

TEST_CASE("commands pipelined behind STARTTLS are discarded, never executed (CVE-2011-0411)", "[receive][tls][security]") {
    EdgeServer s;
    basic_setup(s);
    SmtpClient c(s.port());
    c.reply();
    c.command("EHLO client.example");
    // An attacker in the middle appends a command in clear after STARTTLS.
    c.send_raw("STARTTLS\r\nMAIL FROM:<evil@example.org>\r\n");
    REQUIRE(c.reply() == "220 2.0.0 SMTP server ready");
    REQUIRE(c.starttls());
    // Had the injected MAIL run, this would be "503 5.5.2 Sender already specified".
    c.command("EHLO client.example");
    CHECK(c.command("MAIL FROM:<good@example.org>") == "250 2.1.0 Sender OK");
}

TEST_CASE("BDAT chunks are accepted and the message queued", "[receive]") {
    EdgeServer s;
    basic_setup(s);
    SmtpClient c(s.port());
    c.reply();
    REQUIRE(c.command("EHLO client.example").find("CHUNKING") != std::string::npos);
    c.command("MAIL FROM:<a@example.org>");
    c.command("RCPT TO:<u@contoso.test>");
    std::string part1 = "Subject: bdat\r\nMessage-ID: <bdat@client.example>\r\n\r\n";
    std::string part2 = "line one\r\nline two\r\n";
    c.send_raw("BDAT " + std::to_string(part1.size()) + "\r\n" + part1);
    CHECK(c.reply().starts_with("250 2.0.0"));
    c.send_raw("BDAT " + std::to_string(part2.size()) + " LAST\r\n" + part2);
    CHECK(c.reply() == "250 2.6.0 <bdat@client.example> Queued mail for delivery");
    auto msgs = queued(s);
    REQUIRE(msgs.size() == 1);
    CHECK(exported(s, msgs[0].id).ends_with(part1 + part2));
}

TEST_CASE("SIZE: a declared size over MaxMessageSize and a streamed one are refused with 552 5.3.4", "[receive][limits]") {
    EdgeServer s;
    basic_setup(s, "-MaxMessageSize 64KB");
    SmtpClient c(s.port());
    c.reply();
    CHECK(c.command("EHLO client.example").find("SIZE 65536") != std::string::npos);
    CHECK(c.command("MAIL FROM:<a@example.org> SIZE=70000") == "552 5.3.4 Message size exceeds fixed maximum message size");
    std::string big = simple_body("big") + std::string(70000, 'x') + "\r\n";
    CHECK(c.send_mail("a@example.org", {"u@contoso.test"}, big) == "552 5.3.4 Message size exceeds fixed maximum message size");
    // The session goes on and a message under the limit is accepted.
    CHECK(c.send_mail("a@example.org", {"u@contoso.test"}, simple_body("small")).starts_with("250 2.6.0"));
    CHECK(queued(s).size() == 1);
}

TEST_CASE("recipients past MaxRecipientsPerMessage get 452 4.5.3 Too many recipients", "[receive][limits]") {
    EdgeServer s;
    basic_setup(s, "-MaxRecipientsPerMessage 2");
    SmtpClient c(s.port());
    c.reply();
    c.command("EHLO client.example");
    c.command("MAIL FROM:<a@example.org>");
    CHECK(c.command("RCPT TO:<a@contoso.test>").starts_with("250"));
    CHECK(c.command("RCPT TO:<b@contoso.test>").starts_with("250"));
    CHECK(c.command("RCPT TO:<c@contoso.test>") == "452 4.5.3 Too many recipients");
}

TEST_CASE("an anonymous client may not relay: 550 5.7.1 Unable to relay", "[receive][relay][security]") {
    EdgeServer s;
    basic_setup(s);
    SmtpClient c(s.port());
    c.reply();
    c.command("EHLO client.example");
    c.command("MAIL FROM:<a@example.org>");
    CHECK(c.command("RCPT TO:<victim@elsewhere.example>") == "550 5.7.1 Unable to relay");
    CHECK(c.command("RCPT TO:<victim@[192.0.2.1]>") == "550 5.7.1 Unable to relay");
    CHECK(c.command("RCPT TO:<user@CONTOSO.test>").starts_with("250"));
}

TEST_CASE("a partner range may relay and the connector is chosen by the most specific RemoteIPRanges",
          "[receive][relay][connectors]") {
    EdgeServer s;
    s.must_edgectl("New-AcceptedDomain -Name Contoso -DomainName contoso.test");
    s.start();
    s.must_edgectl("Set-ReceiveConnector " + shell_quote(s.default_connector()) +
                   " -TarpitInterval 00:00:00 -Banner '220 internet door'");
    s.must_edgectl("New-ReceiveConnector -Name Partner -Bindings 127.0.0.1:" + std::to_string(s.port()) +
                   " -RemoteIPRanges 127.0.0.3 -PermissionGroups Partners -Fqdn partner-door.test.example"
                   " -Banner '220 partner door' -TarpitInterval 00:00:00");
    {
        SmtpClient c(s.port(), "127.0.0.2");
        CHECK(c.reply() == "220 internet door");
        CHECK(c.command("EHLO client.example").starts_with("250-edge.test.example Hello [127.0.0.2]"));
        c.command("MAIL FROM:<a@example.org>");
        CHECK(c.command("RCPT TO:<x@elsewhere.example>") == "550 5.7.1 Unable to relay");
    }
    {
        SmtpClient c(s.port(), "127.0.0.3");
        CHECK(c.reply() == "220 partner door");
        CHECK(c.command("EHLO client.example").starts_with("250-partner-door.test.example Hello [127.0.0.3]"));
        REQUIRE(c.send_mail("a@example.org", {"x@elsewhere.example"}, simple_body("relayed")).starts_with("250 2.6.0"));
    }
    auto msgs = queued(s);
    REQUIRE(msgs.size() == 1);
    CHECK(msgs[0].envelope.receive_connector == "Partner");
    CHECK(msgs[0].envelope.client_address == "127.0.0.3");
    CHECK(unfold(exported(s, msgs[0].id)).find("by partner-door.test.example (127.0.0.1)") != std::string::npos);
    // No Send connector exists yet: Exchange puts such mail in the Unreachable queue.
    CHECK(msgs[0].queue.kind == edge::queue::QueueKind::Unreachable);
}

TEST_CASE("a message with MaxHopCount Received headers is refused as a loop", "[receive][limits]") {
    EdgeServer s;
    basic_setup(s, "-MaxHopCount 5");
    SmtpClient c(s.port());
    c.reply();
    c.command("EHLO client.example");
    std::string hops;
    for (int i = 0; i < 5; ++i) hops += "Received: from hop" + std::to_string(i) + " by x; Mon, 1 Jan 2024 00:00:00 +0000\r\n";
    CHECK(c.send_mail("a@example.org", {"u@contoso.test"}, hops + simple_body("loop")) ==
          "554 5.4.6 Hop count exceeded - possible mail loop");
    std::string four;
    for (int i = 0; i < 4; ++i) four += "Received: from hop" + std::to_string(i) + " by x; Mon, 1 Jan 2024 00:00:00 +0000\r\n";
    CHECK(c.send_mail("a@example.org", {"u@contoso.test"}, four + simple_body("fine")).starts_with("250 2.6.0"));
    auto msgs = queued(s);
    REQUIRE(msgs.size() == 1);
    CHECK(msgs[0].envelope.hop_count == 5);
}

TEST_CASE("Message-ID is added only when the message has none, in the connector's FQDN", "[receive]") {
    EdgeServer s;
    basic_setup(s);
    SmtpClient c(s.port());
    c.reply();
    c.command("EHLO client.example");
    std::string with = c.send_mail("a@example.org", {"u@contoso.test"}, simple_body("has-id", true));
    CHECK(with == "250 2.6.0 <has-id@client.example> Queued mail for delivery");
    std::string without = c.send_mail("a@example.org", {"u@contoso.test"}, simple_body("no-id", false));
    REQUIRE(without.starts_with("250 2.6.0 <"));
    std::string id = without.substr(10, without.find('>') - 9);
    CHECK(id.ends_with("@edge.test.example>"));
    auto msgs = queued(s);
    REQUIRE(msgs.size() == 2);
    for (const auto& m : msgs) {
        std::string body = exported(s, m.id);
        std::size_t count = 0;
        for (std::size_t p = body.find("Message-ID:"); p != std::string::npos; p = body.find("Message-ID:", p + 1)) ++count;
        CHECK(count == 1);
        if (m.envelope.subject == "no-id") CHECK(body.find("Message-ID: " + id) != std::string::npos);
        if (m.envelope.subject == "has-id") CHECK(m.envelope.internet_message_id == "<has-id@client.example>");
    }
}

TEST_CASE("connections past MaxInboundConnectionPerSource get 421 4.3.2 from the acceptor", "[receive][limits]") {
    EdgeServer s;
    basic_setup(s, "-MaxInboundConnectionPerSource 2");
    SmtpClient a(s.port()), b(s.port());
    CHECK(a.reply().starts_with("220"));
    CHECK(b.reply().starts_with("220"));
    SmtpClient third(s.port());
    CHECK(third.reply() ==
          "421 4.3.2 The maximum number of concurrent connections has exceeded a limit, closing transmission channel");
    CHECK(third.closed_by_server());
    SmtpClient other_source(s.port(), "127.0.0.2");  // the limit is per source
    CHECK(other_source.reply().starts_with("220"));
}

TEST_CASE("tarpit: a refusal to an anonymous session waits TarpitInterval while another session is served at once",
          "[receive][tarpit]") {
    EdgeServer s;
    basic_setup(s, "-TarpitInterval 00:00:02");
    SmtpClient slow(s.port()), fast(s.port());
    slow.reply();
    fast.reply();
    slow.command("EHLO client.example");
    fast.command("EHLO client.example");
    slow.command("MAIL FROM:<a@example.org>");
    auto t0 = std::chrono::steady_clock::now();
    slow.send_line("RCPT TO:<x@elsewhere.example>");
    std::this_thread::sleep_for(200ms);
    auto t1 = std::chrono::steady_clock::now();
    CHECK(fast.command("NOOP") == "250 2.0.0 OK");
    CHECK(seconds_since(t1) < 1.0);
    CHECK(slow.reply() == "550 5.7.1 Unable to relay");
    CHECK(seconds_since(t0) >= 2.0);
}

TEST_CASE("back pressure: 452 4.3.1 while the disk threshold is under the volume's use, and mail again after",
          "[receive][backpressure]") {
    EdgeServer s;
    std::string base = "ServerFqdn = edge.test.example\nDefaultReceiveConnectorBindings = 127.0.0.1:" +
                       std::to_string(s.port()) + "\nResourceMonitoringInterval = 00:00:01\n";
    s.rewrite_conf(base + "PercentageDatabaseDiskSpaceUsedHighThreshold = 100\nPercentageDatabaseDiskSpaceUsedMediumThreshold = 99\nPercentageDatabaseDiskSpaceUsedNormalThreshold = 98\n");
    basic_setup(s);
    SmtpClient c(s.port());
    c.reply();
    c.command("EHLO client.example");
    REQUIRE(c.send_mail("a@example.org", {"u@contoso.test"}, simple_body("before")).starts_with("250 2.6.0"));
    auto before = queued(s);
    REQUIRE(before.size() == 1);
    std::string before_bytes = exported(s, before[0].id);

    // The queue volume is surely more than 3 % used: High.
    s.rewrite_conf(base + "PercentageDatabaseDiskSpaceUsedHighThreshold = 3\nPercentageDatabaseDiskSpaceUsedMediumThreshold = 2\nPercentageDatabaseDiskSpaceUsedNormalThreshold = 1\n");
    s.signal(SIGHUP);
    std::this_thread::sleep_for(2500ms);
    CHECK(c.command("MAIL FROM:<a@example.org>") == "452 4.3.1 Insufficient system resources");
    auto during = queued(s);
    REQUIRE(during.size() == 1);
    CHECK(exported(s, during[0].id) == before_bytes);
    CHECK(s.server_log().find("Resource pressure increased from Normal to High") != std::string::npos);
    // edgectl Get-BackPressure reads what the running server measured: High overall and
    // for the disk, with its reading and thresholds.
    std::string bp;
    REQUIRE(s.edgectl("Get-BackPressure", &bp) == 0);
    INFO(bp);
    CHECK(bp.find("Overall") != std::string::npos);
    CHECK(bp.find("Queue database and disk space High") != std::string::npos);
    REQUIRE(s.edgectl("Get-BackPressure -Filter \"Resource -eq 'Overall'\" -Format List", &bp) == 0);
    CHECK(bp.find("Level           : High") != std::string::npos);

    s.rewrite_conf(base + "PercentageDatabaseDiskSpaceUsedHighThreshold = 100\nPercentageDatabaseDiskSpaceUsedMediumThreshold = 99\nPercentageDatabaseDiskSpaceUsedNormalThreshold = 98\n");
    s.signal(SIGHUP);
    std::this_thread::sleep_for(2500ms);
    CHECK(c.send_mail("a@example.org", {"u@contoso.test"}, simple_body("after")).starts_with("250 2.6.0"));
    CHECK(queued(s).size() == 2);
    REQUIRE(s.edgectl("Get-BackPressure -Filter \"Resource -eq 'Overall'\" -Format List", &bp) == 0);
    CHECK(bp.find("Level           : Normal") != std::string::npos);
}

TEST_CASE("SMTP smuggling: no bare-LF or bare-CR end of data ends DATA or queues a second message",
          "[receive][security][smuggling]") {
    EdgeServer s;
    basic_setup(s);
    const std::vector<std::string> fake_ends = {"\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n", "\r.\r\n"};
    for (const auto& fake : fake_ends) {
        SmtpClient c(s.port());
        c.reply();
        c.command("EHLO client.example");
        c.command("MAIL FROM:<a@example.org>");
        c.command("RCPT TO:<u@contoso.test>");
        REQUIRE(c.command("DATA").starts_with("354"));
        c.send_raw(simple_body("outer") + fake +
                   "MAIL FROM:<spoof@example.org>\r\nRCPT TO:<v@contoso.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n");
        c.send_raw(".\r\n");
        INFO("variant " << fake.size());
        CHECK(c.reply() == "550 5.6.0 Message contains a bare CR or LF; lines must end with CRLF");
        CHECK(c.command("NOOP") == "250 2.0.0 OK");  // nothing smuggled is waiting as a command
    }
    CHECK(queued(s).empty());
}

TEST_CASE("a message acknowledged with 250 survives kill -9 right after the reply", "[receive][durability]") {
    EdgeServer s;
    basic_setup(s);
    std::string body = simple_body("durable") + std::string(3000, 'd') + "\r\n";
    {
        SmtpClient c(s.port());
        c.reply();
        c.command("EHLO client.example");
        REQUIRE(c.send_mail("a@example.org", {"u@contoso.test"}, body).starts_with("250 2.6.0"));
        s.stop(SIGKILL);
    }
    auto msgs = queued(s);
    REQUIRE(msgs.size() == 1);
    CHECK(exported(s, msgs[0].id).ends_with(body));
}

TEST_CASE("the SmtpReceive protocol log records a whole session in Exchange's CSV format", "[receive][logging]") {
    EdgeServer s;
    basic_setup(s, "-ProtocolLoggingLevel Verbose");
    {
        SmtpClient c(s.port());
        c.reply();
        c.command("EHLO client.example");
        REQUIRE(c.send_mail("a@example.org", {"u@contoso.test"}, simple_body("logged")).starts_with("250 2.6.0"));
        c.command("QUIT");
    }
    REQUIRE(s.stop() == 0);  // SIGTERM flushes the log
    std::string dir = s.data() + "/Logs/ProtocolLog/SmtpReceive";
    std::vector<std::string> files;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (auto* e = ::readdir(d))
            if (std::string(e->d_name).starts_with("RECV")) files.push_back(dir + "/" + e->d_name);
        ::closedir(d);
    }
    REQUIRE(files.size() == 1);
    std::ifstream in(files[0]);
    std::string line;
    std::vector<std::string> header;
    std::vector<std::array<std::string, 9>> rows;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.starts_with("#")) {
            header.push_back(line);
            continue;
        }
        auto f = edge::logging::parse_protocol_log_line(line);
        REQUIRE(f.has_value());
        rows.push_back(*f);
    }
    REQUIRE(header.size() >= 5);
    CHECK(header[0] == "#Software: edge-transport");
    CHECK(header[2] == "#Log-type: SMTP Receive Protocol Log");
    CHECK(header[4] == "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context");
    REQUIRE(rows.size() >= 10);
    CHECK(rows.front()[6] == "+");
    CHECK(rows.back()[6] == "-");
    CHECK(rows[1][8] == "Set Session Permissions");
    CHECK(rows[1][7].find("SMTPSubmit") != std::string::npos);
    std::map<std::string, int> seen;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto& r = rows[i];
        CHECK(r[1] == EdgeServer::host() + "\\" + s.default_connector());
        CHECK(r[2] == rows[0][2]);
        CHECK(r[3] == std::to_string(i));
        CHECK(r[4] == "127.0.0.1:" + std::to_string(s.port()));
        CHECK(r[0].size() == 24);  // yyyy-mm-ddThh:mm:ss.fffZ
        if (r[6] == "<") seen[r[7]]++;
        CHECK(r[7].find("Hello.") == std::string::npos);  // DATA bodies are not logged
    }
    CHECK(seen["EHLO client.example"] == 1);
    CHECK(seen["MAIL FROM:<a@example.org>"] == 1);
    CHECK(seen["DATA"] == 1);
    bool queued_reply = false;
    for (const auto& r : rows) queued_reply = queued_reply || (r[6] == ">" && r[7].starts_with("250 2.6.0"));
    CHECK(queued_reply);
}

TEST_CASE("an idle session is closed with 421 4.4.1 after ConnectionInactivityTimeout", "[receive][timeouts]") {
    EdgeServer s;
    basic_setup(s, "-ConnectionInactivityTimeout 00:00:02");
    SmtpClient c(s.port());
    c.reply();
    auto t0 = std::chrono::steady_clock::now();
    CHECK(c.reply() == "421 4.4.1 Connection timed out");
    CHECK(seconds_since(t0) >= 1.5);
    CHECK(c.closed_by_server());
}

TEST_CASE("MaxProtocolErrors ends an abusive session and an overlong line is refused", "[receive][limits]") {
    EdgeServer s;
    basic_setup(s, "-MaxProtocolErrors 3");
    SmtpClient c(s.port());
    c.reply();
    CHECK(c.command(std::string(5000, 'A')) == "500 5.5.2 Line too long");
    CHECK(c.command("FOO") == "500 5.3.3 Unrecognized command");
    CHECK(c.command("MAIL FROM:<a@example.org>") == "503 5.5.2 Send hello first");
    CHECK(c.reply().starts_with("421 4.7.0"));
    CHECK(c.closed_by_server());
}

TEST_CASE("EHLO with an invalid domain gets 501 5.5.4 Invalid domain name", "[receive]") {
    EdgeServer s;
    basic_setup(s);
    SmtpClient c(s.port());
    c.reply();
    CHECK(c.command("EHLO bad_domain!") == "501 5.5.4 Invalid domain name");
    CHECK(c.command("EHLO [127.0.0.1]").starts_with("250-"));
}

TEST_CASE("Set-ReceiveConnector -Banner applies to the next connection within a second", "[receive][live]") {
    EdgeServer s;
    basic_setup(s);
    SmtpClient held(s.port());
    CHECK(held.reply().starts_with("220 edge.test.example"));
    s.must_edgectl("Set-ReceiveConnector " + shell_quote(s.default_connector()) + " -Banner '220 changed banner'");
    SmtpClient next(s.port());
    CHECK(next.reply() == "220 changed banner");
    CHECK(held.command("NOOP") == "250 2.0.0 OK");  // the session in flight carries on
}

TEST_CASE("SIGTERM stops the server cleanly: idle sessions get 421 and the exit code is 0", "[receive][shutdown]") {
    EdgeServer s;
    basic_setup(s);
    SmtpClient c(s.port());
    c.reply();
    s.signal(SIGTERM);
    CHECK(c.reply() == "421 4.3.2 Service not available, closing transmission channel");
    CHECK(s.stop() == 0);
}

namespace {
std::uint64_t rss_kb(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.starts_with("VmRSS:")) return std::stoull(line.substr(6));
    return 0;
}
}  // namespace

TEST_CASE("a session that keeps talking is still cut at ConnectionTimeout", "[receive][timeouts][security]") {
    EdgeServer s;
    basic_setup(s, "-ConnectionInactivityTimeout 00:00:01 -ConnectionTimeout 00:00:03");
    SmtpClient c(s.port());
    c.reply();
    auto t0 = std::chrono::steady_clock::now();
    std::string last;
    while (seconds_since(t0) < 10) {
        last = c.command("NOOP");
        if (last != "250 2.0.0 OK") break;
        std::this_thread::sleep_for(400ms);
    }
    CHECK(last == "421 4.4.1 Connection timed out");
    CHECK(seconds_since(t0) >= 2.5);
    CHECK(seconds_since(t0) < 6);
}

TEST_CASE("a 32 MB line without CRLF is refused once and does not grow the server's memory", "[receive][security]") {
    EdgeServer s;
    basic_setup(s, "-MaxProtocolErrors 10");
    SmtpClient c(s.port());
    c.reply();
    c.command("EHLO client.example");
    std::uint64_t before = rss_kb(s.pid());
    std::string chunk(1 << 20, 'A');
    for (int i = 0; i < 32; ++i) c.send_raw(chunk);
    c.send_raw("\r\n");
    CHECK(c.reply() == "500 5.5.2 Line too long");
    CHECK(c.command("NOOP") == "250 2.0.0 OK");
    std::uint64_t after = rss_kb(s.pid());
    INFO("RSS before " << before << " kB, after " << after << " kB");
    CHECK(after < before + 8 * 1024);
}

TEST_CASE("DSN parameters and SMTPUTF8 addresses are stored with the envelope", "[receive][dsn]") {
    EdgeServer s;
    basic_setup(s);
    SmtpClient c(s.port());
    c.reply();
    std::string ehlo = c.command("EHLO client.example");
    CHECK(ehlo.find("DSN") != std::string::npos);
    CHECK(ehlo.find("SMTPUTF8") != std::string::npos);
    CHECK(c.command("MAIL FROM:<a@example.org> RET=HDRS ENVID=QQ314159") == "250 2.1.0 Sender OK");
    CHECK(c.command("RCPT TO:<u@contoso.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;u@contoso.test") ==
          "250 2.1.5 Recipient OK");
    REQUIRE(c.command("DATA").starts_with("354"));
    c.send_raw(simple_body("dsn") + ".\r\n");
    REQUIRE(c.reply().starts_with("250 2.6.0"));
    CHECK(c.command("MAIL FROM:<jöran@example.org>") == "553 5.6.7 Non-ASCII addresses require the SMTPUTF8 parameter");
    CHECK(c.command("RSET").starts_with("250"));
    CHECK(c.send_mail("jöran@example.org> SMTPUTF8 <", {"ünïcode@contoso.test"}, simple_body("utf8")).starts_with("250 2.6.0") ==
          false);  // a malformed MAIL line is refused, nothing queued
    c.command("RSET");
    CHECK(c.command("MAIL FROM:<jöran@example.org> SMTPUTF8") == "250 2.1.0 Sender OK");
    CHECK(c.command("RCPT TO:<ünïcode@contoso.test>") == "250 2.1.5 Recipient OK");
    REQUIRE(c.command("DATA").starts_with("354"));
    c.send_raw(simple_body("utf8") + ".\r\n");
    REQUIRE(c.reply().starts_with("250 2.6.0"));
    auto msgs = queued(s);
    REQUIRE(msgs.size() == 2);
    for (const auto& m : msgs) {
        if (m.envelope.subject == "dsn") {
            CHECK(m.envelope.dsn_ret == edge::queue::DsnRet::Headers);
            CHECK(m.envelope.dsn_envid == "QQ314159");
            CHECK(m.envelope.recipients.at(0).notify == (edge::queue::notify::Success | edge::queue::notify::Failure));
            CHECK(m.envelope.recipients.at(0).orcpt == "rfc822;u@contoso.test");
        } else {
            CHECK(m.envelope.sender == "jöran@example.org");
            CHECK(m.envelope.recipients.at(0).address == "ünïcode@contoso.test");
        }
    }
}

TEST_CASE("RequireTLS: mail only after STARTTLS", "[receive][tls]") {
    EdgeServer s;
    basic_setup(s, "-RequireTLS '$true'");
    SmtpClient c(s.port());
    c.reply();
    c.command("EHLO client.example");
    CHECK(c.command("MAIL FROM:<a@example.org>") == "530 5.7.0 Must issue a STARTTLS command first");
    REQUIRE(c.command("STARTTLS").starts_with("220"));
    REQUIRE(c.starttls());
    c.command("EHLO client.example");
    CHECK(c.command("MAIL FROM:<a@example.org>") == "250 2.1.0 Sender OK");
}

TEST_CASE("hubs on an ExternalAuthoritative connector relay, bypass the size limit and are served at Medium back pressure",
          "[receive][relay][backpressure]") {
    EdgeServer s;
    // The volume is more than 5 % and less than 99 % used: Medium.
    s.append_conf("PercentageDatabaseDiskSpaceUsedHighThreshold = 99\nPercentageDatabaseDiskSpaceUsedMediumThreshold = 5\n"
                  "PercentageDatabaseDiskSpaceUsedNormalThreshold = 4\n");
    s.must_edgectl("New-AcceptedDomain -Name Contoso -DomainName contoso.test");
    s.must_edgectl("New-ReceiveConnector -Name Hubs -Bindings 127.0.0.1:" + std::to_string(s.port()) +
                   " -RemoteIPRanges 127.0.0.2 -PermissionGroups ExchangeServers -AuthMechanism Tls,ExternalAuthoritative"
                   " -MaxMessageSize 64KB");
    s.start();
    std::this_thread::sleep_for(1500ms);
    {
        SmtpClient internet(s.port(), "127.0.0.3");
        internet.reply();
        internet.command("EHLO client.example");
        CHECK(internet.command("MAIL FROM:<a@example.org>") == "452 4.3.1 Insufficient system resources");
    }
    SmtpClient hub(s.port(), "127.0.0.2");
    hub.reply();
    std::string ehlo = hub.command("EHLO hub1.contoso.test");
    CHECK(ehlo.find("250-SIZE\n") != std::string::npos);  // no limit for Bypass-Message-Size-Limit
    std::string big = simple_body("outbound") + std::string(100000, 'o') + "\r\n";
    std::string r = hub.send_mail("user@contoso.test", {"someone@elsewhere.example"}, big);
    INFO(s.server_log());
    CHECK(r.starts_with("250 2.6.0"));
    auto msgs = queued(s);
    REQUIRE(msgs.size() == 1);
    CHECK(msgs[0].envelope.receive_connector == "Hubs");
    CHECK(s.server_log().find("Resource pressure increased from Normal to Medium") != std::string::npos);
}

TEST_CASE("a hub that presents a pinned TLS client certificate after STARTTLS may relay, others may not",
          "[receive][tls][relay]") {
    EdgeServer s;
    std::string dir = s.dir().path();
    std::string out;
    for (const char* name : {"hub", "stranger"})
        REQUIRE(run_command("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=" +
                                std::string(name) + " -keyout " + dir + "/" + name + ".key -out " + dir + "/" + name + ".crt",
                            &out) == 0);
    REQUIRE(run_command("openssl x509 -in " + dir + "/hub.crt -noout -fingerprint -sha256", &out) == 0);
    std::string pin = out.substr(out.find('=') + 1);
    while (!pin.empty() && (pin.back() == '\n' || pin.back() == '\r')) pin.pop_back();
    s.must_edgectl("New-AcceptedDomain -Name Contoso -DomainName contoso.test");
    s.start();
    s.must_edgectl("Set-ReceiveConnector " + shell_quote(s.default_connector()) +
                   " -TarpitInterval 00:00:00 -TlsPinnedClientCertificates " + pin);
    CHECK(s.edgectl("Set-ReceiveConnector " + shell_quote(s.default_connector()) + " -TlsPinnedClientCertificates 12:34") == 1);
    auto relay_after_tls = [&](const std::string& who) {
        SmtpClient c(s.port());
        c.reply();
        c.command("EHLO client.example");
        c.command("MAIL FROM:<a@example.org>");
        std::string before = c.command("RCPT TO:<x@elsewhere.example>");
        CHECK(before == "550 5.7.1 Unable to relay");
        c.command("RSET");
        REQUIRE(c.command("STARTTLS") == "220 2.0.0 SMTP server ready");
        REQUIRE(c.starttls(dir + "/" + who + ".crt", dir + "/" + who + ".key"));
        c.command("EHLO client.example");
        c.command("MAIL FROM:<a@example.org>");
        return c.command("RCPT TO:<x@elsewhere.example>");
    };
    CHECK(relay_after_tls("hub") == "250 2.1.5 Recipient OK");
    CHECK(relay_after_tls("stranger") == "550 5.7.1 Unable to relay");
}

namespace {
// What the EdgeSync listener does when the agent pushes (the EdgeSync tests drive the
// whole path): a subscription with its hash key and a recipient set, written by
// another process while the server runs. No sync certificate: the listener does not
// start, which is all this test needs.
void replicate_recipients(const EdgeServer& s, const std::string& key, const std::vector<std::string>& addresses,
                          bool full = true, const std::vector<std::string>& removed = {}) {
    edge::queue::QueueDbOptions o;
    o.recover_leases = false;
    auto db = edge::queue::QueueDb::open(s.data(), o);
    REQUIRE(db);
    edge::queue::QueueDb::SyncBatch b;
    edge::edgesync::Subscription sub;
    sub.edge_name = sub.edge_fqdn = "edge.test";
    sub.hash_key = edge::edgesync::to_hex(key);
    b.config.push_back(edge::edgesync::subscription_change(sub));
    b.full_recipient_set = full;
    for (const auto& a : addresses) b.recipients_added.push_back(edge::agents::recipient_hash(key, a));
    for (const auto& a : removed) b.recipients_removed.push_back(edge::agents::recipient_hash(key, a));
    REQUIRE((*db)->apply_sync_batch(b));
}
}  // namespace

TEST_CASE("recipient filtering: an unknown recipient of an Authoritative domain gets 550 5.1.1 after the tarpit",
          "[receive][recipient-filter]") {
    EdgeServer s;
    s.must_edgectl("New-AcceptedDomain Relay -DomainName relay.test -DomainType ExternalRelay");
    basic_setup(s, "-TarpitInterval 00:00:01");
    s.must_edgectl("Set-RecipientFilterConfig -RecipientValidationEnabled '$true' -BlockListEnabled '$true' "
                   "-BlockedRecipients ceo@relay.test");
    // Before any recipient set is replicated, validation refuses no one.
    {
        SmtpClient c(s.port());
        c.reply();
        c.command("EHLO client.example");
        c.command("MAIL FROM:<a@example.org>");
        CHECK(c.command("RCPT TO:<anyone@contoso.test>").starts_with("250"));
        auto t0 = std::chrono::steady_clock::now();
        CHECK(c.command("RCPT TO:<CEO@relay.test>") == "550 5.1.1 User unknown");  // the block list
        CHECK(seconds_since(t0) >= 1.0);
    }
    const std::string key = "0123456789abcdef0123456789abcdef";
    replicate_recipients(s, key, {"alice@contoso.test", "bob@contoso.test"});
    std::this_thread::sleep_for(1500ms);  // the hash key came with a config change: the poll sees it
    SmtpClient c(s.port());
    c.reply();
    c.command("EHLO client.example");
    c.command("MAIL FROM:<a@example.org>");
    CHECK(c.command("RCPT TO:<alice@contoso.test>").starts_with("250"));
    CHECK(c.command("RCPT TO:<Bob@Contoso.Test>").starts_with("250"));
    auto t0 = std::chrono::steady_clock::now();
    CHECK(c.command("RCPT TO:<mallory@contoso.test>") == "550 5.1.1 User unknown");
    CHECK(seconds_since(t0) >= 1.0);
    CHECK(c.command("RCPT TO:<mallory@relay.test>").starts_with("250"));  // no lookup for relay domains
    CHECK(c.command("RSET").starts_with("250"));

    // A recipient removed by the next sync is refused from then on, in the same session too.
    replicate_recipients(s, key, {}, false, {"bob@contoso.test"});
    c.command("MAIL FROM:<a@example.org>");
    CHECK(c.command("RCPT TO:<bob@contoso.test>") == "550 5.1.1 User unknown");
    CHECK(c.command("RCPT TO:<alice@contoso.test>").starts_with("250"));
    c.command("RSET");
    c.command("QUIT");
    CHECK(s.stop() == 0);

    // The data directory holds the replicated recipients as hashes, never in clear
    // (no message to them was queued, so nothing else names them).
    std::string everything;
    for (const auto& f : std::filesystem::recursive_directory_iterator(s.data())) {
        if (!f.is_regular_file()) continue;
        std::ifstream in(f.path(), std::ios::binary);
        std::stringstream bytes;
        bytes << in.rdbuf();
        everything += bytes.str();
    }
    CHECK(everything.find(edge::agents::recipient_hash(key, "alice@contoso.test")) != std::string::npos);
    CHECK(everything.find("alice@contoso.test") == std::string::npos);
    CHECK(everything.find("bob@contoso.test") == std::string::npos);
}

TEST_CASE("addresses are compared as addresses: every spelling of a blocked recipient is refused, a domain that is "
          "not one gets 501 5.1.3, and nothing is queued to a strange next hop",
          "[receive][recipient-filter][security]") {
    // Issue 13, weaknesses 4 and 5, on the wire. DNS routing for every domain, resolved by a
    // loopback port where nothing answers: delivery never leaves the machine.
    EdgeServer s;
    s.must_edgectl("New-AcceptedDomain Accepted -DomainName accepted.test -DomainType Authoritative");
    s.must_edgectl("New-AcceptedDomain Wild -DomainName '*.wild.test' -DomainType Authoritative");
    s.must_edgectl("New-AcceptedDomain Idn -DomainName xn--bcher-kva.test -DomainType Authoritative");
    s.must_edgectl("Set-TransportServer -InternalDNSServers 127.0.0.1:" + std::to_string(free_port()));
    s.must_edgectl("New-SendConnector Out -AddressSpaces '*'");
    s.must_edgectl("Set-RecipientFilterConfig -BlockListEnabled '$true' -BlockedRecipients ceo@accepted.test,'ü@accepted.test'");
    basic_setup(s);

    // One session per input: refusals count toward MaxProtocolErrors.
    auto rcpt = [&](const std::string& address) {
        SmtpClient c(s.port());
        c.reply();
        c.command("EHLO client.example");
        REQUIRE(c.command("MAIL FROM:<a@example.org> SMTPUTF8") == "250 2.1.0 Sender OK");
        return c.command("RCPT TO:<" + address + ">");
    };
    for (const char* blocked : {"ceo@accepted.test", "\"ceo\"@accepted.test", "\"c\\eo\"@accepted.test", "CEO@accepted.test.",
                                "ü@accepted.test", "Ü@accepted.test", "\"ü\"@accepted.test", "ü@accepted.test.",
                                "u\xcc\x88@ACCEPTED.test"}) {
        INFO(blocked);
        CHECK(rcpt(blocked) == "550 5.1.1 User unknown");
    }
    for (const char* bad : {"ü@\x1b[31mX.wild.test", "ü@a,b;c.wild.test", "ü@evil.test\"@\".wild.test",
                            "x@evil.test\"@\".wild.test", "x@a..wild.test", "x@xn--zz.wild.test", "c\x1b" "eo@accepted.test"}) {
        INFO(bad);
        CHECK(rcpt(bad) == "501 5.1.3 Invalid address");
    }
    {
        SmtpClient c(s.port());
        c.reply();
        c.command("EHLO client.example");
        CHECK(c.command("MAIL FROM:<a@exa_mple.org>") == "501 5.1.3 Invalid address");
        CHECK(c.command("MAIL FROM:<a@example.org> ORCPT=x") == "555 5.5.4 Unsupported parameter ORCPT");
        CHECK(c.command("MAIL FROM:<a@example.org> BODY=9BIT") == "501 5.5.4 Invalid BODY parameter");
        REQUIRE(c.command("MAIL FROM:<a@example.org> SMTPUTF8") == "250 2.1.0 Sender OK");
        CHECK(c.command("RCPT TO:<x@accepted.test> ORCPT=nosemicolon") == "501 5.5.4 Invalid ORCPT parameter");
        // What is an address still is, in the client's spelling; the IDN's U-label is its A-label.
        CHECK(c.command("RCPT TO:<Ünïcode@X.Wild.Test.>") == "250 2.1.5 Recipient OK");
        CHECK(c.command("RCPT TO:<info@Bücher.test>") == "250 2.1.5 Recipient OK");
        CHECK(c.command("RCPT TO:<\"cfo\"@accepted.test>") == "250 2.1.5 Recipient OK");
        REQUIRE(c.command("DATA").starts_with("354"));
        c.send_raw(simple_body("addresses") + ".\r\n");
        REQUIRE(c.reply().starts_with("250 2.6.0"));
    }
    // Only that message came in (one queue entry per next hop; delivery may have added
    // NDRs: the DNS answers no one);
    // relayed as the client spelt it, queued by canonical domain; no queue is named by
    // anything but a domain name.
    std::map<std::string, std::string> hop;
    int received = 0;
    for (const auto& m : queued(s)) {
        for (const auto& r : m.envelope.recipients) {
            INFO(r.next_hop.next_hop);
            CHECK(r.next_hop.next_hop.find_first_of("\"@,;\x1b ") == std::string::npos);
        }
        if (m.envelope.subject != "addresses") continue;
        ++received;
        for (const auto& r : m.envelope.recipients) hop[r.address] = r.next_hop.next_hop;
    }
    CHECK(received >= 1);
    CHECK(hop.size() == 3);
    CHECK(hop["Ünïcode@X.Wild.Test."] == "x.wild.test");
    CHECK(hop["info@Bücher.test"] == "xn--bcher-kva.test");
    CHECK(hop["\"cfo\"@accepted.test"] == "accepted.test");
    // And Get-Queue lists no queue but those.
    std::string queues;
    REQUIRE(s.edgectl("Get-Queue -Format List", &queues) == 0);
    CHECK(queues.find("wild.test\"") == std::string::npos);
    CHECK(queues.find("\".wild.test") == std::string::npos);
}

// Issue 21: Set-TransportConfig's organisation limits cap every Receive connector: the
// smaller of the connector's limit and the organisation's is in force.
TEST_CASE("MaxReceiveSize and MaxRecipientEnvelopeLimit cap a Receive connector's larger limits", "[receive][limits]") {
    EdgeServer s;
    // The connector keeps its defaults (MaxMessageSize 10MB, MaxRecipientsPerMessage 200).
    basic_setup(s);
    s.must_edgectl("Set-TransportConfig -MaxReceiveSize 64KB -MaxRecipientEnvelopeLimit 2");
    // The server applies a configuration generation within its poll interval: wait until
    // EHLO says the new limit rather than for a fixed time.
    bool applied = false;
    for (int i = 0; i < 100 && !applied; ++i) {
        SmtpClient probe(s.port());
        probe.reply();
        applied = probe.command("EHLO client.example").find("SIZE 65536") != std::string::npos;
        if (!applied) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    REQUIRE(applied);
    SmtpClient c(s.port());
    c.reply();
    CHECK(c.command("EHLO client.example").find("SIZE 65536") != std::string::npos);
    CHECK(c.command("MAIL FROM:<a@example.org> SIZE=70000") == "552 5.3.4 Message size exceeds fixed maximum message size");
    CHECK(c.command("MAIL FROM:<a@example.org>").starts_with("250"));
    CHECK(c.command("RCPT TO:<a@contoso.test>").starts_with("250"));
    CHECK(c.command("RCPT TO:<b@contoso.test>").starts_with("250"));
    CHECK(c.command("RCPT TO:<c@contoso.test>") == "452 4.5.3 Too many recipients");
    CHECK(c.command("RSET").starts_with("250"));
    std::string big = simple_body("big") + std::string(70000, 'x') + "\r\n";
    CHECK(c.send_mail("a@example.org", {"u@contoso.test"}, big) == "552 5.3.4 Message size exceeds fixed maximum message size");
}
