// Logs and edgectl output a stranger cannot forge or break (issue 13, weaknesses 9 and
// 10, and edgectl -Json): the real server on loopback, a client that sends control
// bytes, spreadsheet formulas, a Latin-1 Subject and a ';' inside a quoted local part;
// the log files read back byte by byte, edgectl's output parsed by python3's strict
// JSON reader.
#include "csv_log.hpp"
#include "edge_server.hpp"
#include "message_tracking.hpp"
#include "protocol_log.hpp"
#include "terminal_safe.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using namespace edge::test;
using namespace std::chrono_literals;

namespace {

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> files_in(const std::string& dir, const std::string& prefix) {
    return edge::logging::csv_log_files(dir, prefix);
}

std::vector<std::string> lines_of(const std::string& bytes) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start < bytes.size()) {
        auto nl = bytes.find('\n', start);
        if (nl == std::string::npos) nl = bytes.size();
        out.push_back(bytes.substr(start, nl - start));
        start = nl + 1;
    }
    return out;
}

// Parses `json` as python3 does with strict UTF-8 and RFC 8259 (json.loads refuses a
// raw control character in a string) and prints json.dumps(<expr>) of it, `d` being
// the document; "PARSE ERROR …" when it is not JSON.
std::string python_json(const std::string& dir, const std::string& json, const std::string& expr) {
    const std::string path = dir + "/edgectl-output.json";
    std::ofstream(path, std::ios::binary) << json;
    const std::string script =
        "import json,sys\n"
        "try:\n"
        "    d = json.loads(open(sys.argv[1], 'rb').read().decode('utf-8'))\n"
        "except Exception as e:\n"
        "    print('PARSE ERROR', repr(e)); sys.exit(0)\n"
        "print(json.dumps(" + expr + "))\n";
    std::string out;
    run_command("python3 -c " + shell_quote(script) + " " + shell_quote(path), &out);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

std::string mail(const std::string& subject, const std::string& message_id) {
    return "From: a@example.org\r\nTo: b@contoso.test\r\nSubject: " + subject + "\r\nMessage-ID: " + message_id +
           "\r\n\r\nHello.\r\n";
}

}  // namespace

TEST_CASE("on the wire: a client's control bytes and formulas reach neither log raw, and edgectl finds and shows "
          "the originals safely",
          "[logging][security]") {
    EdgeServer s;
    s.must_edgectl("New-AcceptedDomain -Name Contoso -DomainName contoso.test -DomainType Authoritative");
    s.start();
    s.must_edgectl("Set-ReceiveConnector " + shell_quote(s.default_connector()) +
                   " -TarpitInterval 00:00:00 -ProtocolLoggingLevel Verbose");

    const std::string noop = "NOOP \x1b]0;PWNED\x07";  // sets an xterm's title when cat'ed
    const std::string esc_subject = "\x1b[31mred alert";
    const std::string esc_id = "<\x1b[2Jid@client.example>";
    const std::string formula = "=HYPERLINK(\"http://evil.example\",\"click\")";
    const std::string latin1 = "Caf\xe9 cr\xe8me";  // ISO-8859-1, not UTF-8
    const std::string quoted_rcpt = "\"x;ceo@contoso.test;y\"@contoso.test";
    {
        SmtpClient c(s.port());
        c.reply();
        c.command("EHLO client.example");
        c.command(noop);  // whatever the reply, the command is logged
        REQUIRE(c.send_mail("a@example.org", {quoted_rcpt, "bob@contoso.test"}, mail(esc_subject, esc_id))
                    .starts_with("250"));
        REQUIRE(c.send_mail("a@example.org", {"carol@contoso.test"}, mail(formula, "<formula@client.example>"))
                    .starts_with("250"));
        REQUIRE(c.send_mail("a@example.org", {"dave@contoso.test"}, mail(latin1, "<latin1@client.example>"))
                    .starts_with("250"));
        c.command("QUIT");
    }

    // edgectl Get-Message -Json on the queued messages: valid JSON, the Latin-1
    // Subject with U+FFFD, the ESC as \u001b.
    std::string json;
    REQUIRE(s.edgectl("Get-Message -Json", &json) == 0);
    const std::string subjects = python_json(s.dir().path(), json, "sorted(m['Subject'] for m in d)");
    INFO(json);
    CHECK(subjects.find("PARSE ERROR") == std::string::npos);
    CHECK(subjects.find("\"Caf\\ufffd cr\\ufffdme\"") != std::string::npos);
    CHECK(subjects.find("\"\\u001b[31mred alert\"") != std::string::npos);
    CHECK(subjects.find("\"=HYPERLINK(\\\"http://evil.example\\\",\\\"click\\\")\"") != std::string::npos);
    // The table a terminal shows has no raw control byte.
    std::string table;
    REQUIRE(s.edgectl("Get-Message -Format List", &table) == 0);
    CHECK(first_unsafe_byte(table) == std::string_view::npos);
    CHECK(table.find("\\x1B[31mred alert") != std::string::npos);
    CHECK(table.find("Caf\\xE9 cr\\xE8me") != std::string::npos);

    REQUIRE(s.stop() == 0);  // SIGTERM flushes the logs

    {  // the protocol log: the NOOP escaped, reading back as sent; Exchange's + and - intact
        auto recv = files_in(s.data() + "/Logs/ProtocolLog/SmtpReceive", "RECV");
        REQUIRE(recv.size() == 1);
        const std::string bytes = read_all(recv[0]);
        CHECK(first_unsafe_byte(bytes) == std::string_view::npos);
        bool found = false;
        std::vector<std::string> events;
        for (const auto& line : lines_of(bytes)) {
            auto raw = edge::logging::parse_csv_line(line, 9);
            if (!raw) continue;
            events.push_back((*raw)[6]);
            if ((*raw)[7].starts_with("NOOP")) {
                found = true;
                CHECK((*raw)[7] == "NOOP \\x1B]0;PWNED\\x07");
                auto back = edge::logging::parse_protocol_log_line(line);
                REQUIRE(back);
                CHECK((*back)[7] == noop);
            }
        }
        CHECK(found);
        REQUIRE(events.size() >= 2);
        CHECK(events.front() == "+");
        CHECK(events.back() == "-");
    }

    {  // the tracking log: ESC escaped, the formula guarded, the quoted recipient one address
        const std::string dir = s.data() + "/Logs/MessageTracking";
        auto files = files_in(dir, "MSGTRK");
        REQUIRE(!files.empty());
        std::string bytes;
        for (const auto& f : files) bytes += read_all(f);
        CHECK(first_unsafe_byte(bytes) == std::string_view::npos);
        int receives = 0;
        for (const auto& line : lines_of(bytes)) {
            auto raw = edge::logging::parse_csv_line(line, 21);
            if (!raw || (*raw)[8] != "RECEIVE") continue;
            ++receives;
            const std::string& message_id = (*raw)[10];
            const std::string& subject = (*raw)[17];
            if (message_id == "<formula@client.example>") {
                CHECK(subject == "'" + formula);
            } else if (message_id == "<latin1@client.example>") {
                CHECK(subject == "Caf\\xE9 cr\\xE8me");
            } else {
                CHECK(message_id == "<\\x1B[2Jid@client.example>");
                CHECK(subject == "\\x1B[31mred alert");
                CHECK((*raw)[11] == "\"x\\x3Bceo@contoso.test\\x3By\"@contoso.test;bob@contoso.test");
            }
        }
        CHECK(receives == 3);

        // Get-MessageTrackingLog filters on the values as sent.
        std::string out;
        REQUIRE(s.edgectl("Get-MessageTrackingLog -EventId RECEIVE -Recipients ceo@contoso.test -Json", &out) == 0);
        CHECK(python_json(s.dir().path(), out, "len(d)") == "0");  // weakness 9: no false match
        REQUIRE(s.edgectl("Get-MessageTrackingLog -EventId RECEIVE -MessageId " + shell_quote(esc_id) + " -Json",
                          &out) == 0);
        CHECK(python_json(s.dir().path(), out, "[e['Recipients'] for e in d]") ==
              "[[\"\\\"x;ceo@contoso.test;y\\\"@contoso.test\", \"bob@contoso.test\"]]");
        CHECK(python_json(s.dir().path(), out, "[e['MessageSubject'] for e in d]") == "[\"\\u001b[31mred alert\"]");
        REQUIRE(s.edgectl("Get-MessageTrackingLog -EventId RECEIVE -MessageSubject =HYPERLINK -Json", &out) == 0);
        CHECK(python_json(s.dir().path(), out, "[e['MessageId'] for e in d]") == "[\"<formula@client.example>\"]");
        REQUIRE(s.edgectl("Get-MessageTrackingLog -EventId RECEIVE -MessageSubject " + shell_quote(latin1), &out) == 0);
        CHECK(first_unsafe_byte(out) == std::string_view::npos);
        CHECK(out.find("Caf\\xE9 cr\\xE8me") != std::string::npos);
    }
}
