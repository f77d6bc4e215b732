// The message tracking log: the MSGTRK format, reading it back, the subject switch,
// rotation, the enabled switch and the drop notice — on real files in a private
// directory.
#include "message_tracking.hpp"
#include "temp_dir.hpp"
#include "terminal_safe.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string_view>
#include <string>
#include <vector>

using namespace edge::logging;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

using edge::test::TempDir;
using edge::test::terminal_safe;

MessageTrackingSettings settings_in(std::string dir) {
    MessageTrackingSettings s;
    s.directory = std::move(dir);
    return s;
}

// 2019-01-25T00:03:58.478Z, the protocol log tests' example time.
std::chrono::system_clock::time_point example_time() {
    using namespace std::chrono;
    return sys_days{2019y / January / 25} + 3min + 58s + 478ms;
}

std::vector<std::string> read_lines(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

std::vector<std::string> file_names(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& p : csv_log_files(dir, "MSGTRK")) out.push_back(fs::path(p).filename().string());
    return out;
}

TrackingEvent receive_event(std::uint64_t id) {
    TrackingEvent e;
    e.client_ip = "192.0.2.7";
    e.client_hostname = "mail.example.org";
    e.server_ip = "10.0.0.6";
    e.server_hostname = "edge.example.com";
    e.source_context = "08D675E58CA1DA38";
    e.connector_id = "EDGE\\Default internal receive connector EDGE";
    e.source = std::string(tracking_source::Smtp);
    e.event_id = std::string(tracking_event::Receive);
    e.internal_message_id = id;
    e.message_id = fmt::format("<{}@example.org>", id);
    e.recipients = {"alice@example.com", "bob@example.com"};
    e.total_bytes = 4096;
    e.subject = "Quarterly report";
    e.sender = "carol@example.org";
    e.return_path = "carol@example.org";
    return e;
}

}  // namespace

TEST_CASE("a tracking log file starts with the MSGTRK header and events read back field by field", "[tracking]") {
    TempDir dir;
    TrackingEvent sent = receive_event(7);
    sent.event_id = std::string(tracking_event::Send);
    sent.recipient_status = {"250 2.6.0 <7@example.org> Queued mail for delivery", "250 2.1.5 Recipient OK"};
    sent.related_recipient = "postmaster@example.com";
    sent.reference = "<6@example.org>";
    sent.message_info = "2019-01-25T00:03:50.000Z";
    {
        MessageTrackingLog log(settings_in(dir.path()), "0.1.0", 1h, 8u << 20, [] { return example_time(); });
        log.write(receive_event(7));
        log.write(sent);
        log.flush();
        CHECK(log.write_errors() == 0);
        CHECK(fs::path(log.current_file()).filename() == "MSGTRK20190125-1.LOG");
    }
    REQUIRE(file_names(dir.path()) == std::vector<std::string>{"MSGTRK20190125-1.LOG"});
    auto lines = read_lines(dir.sub("MSGTRK20190125-1.LOG"));
    REQUIRE(lines.size() == 7);
    CHECK(lines[0] == "#Software: edge-transport");
    CHECK(lines[1] == "#Version: 0.1.0");
    CHECK(lines[2] == "#Log-type: Message Tracking Log");
    CHECK(lines[3] == "#Date: 2019-01-25T00:03:58.478Z");
    CHECK(lines[4] ==
          "#Fields: date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,"
          "event-id,internal-message-id,message-id,recipient-address,recipient-status,total-bytes,recipient-count,"
          "related-recipient-address,reference,message-subject,sender-address,return-path,message-info");
    CHECK(lines[5] ==
          "2019-01-25T00:03:58.478Z,192.0.2.7,mail.example.org,10.0.0.6,edge.example.com,08D675E58CA1DA38,"
          "EDGE\\Default internal receive connector EDGE,SMTP,RECEIVE,7,<7@example.org>,"
          "alice@example.com;bob@example.com,,4096,2,,,Quarterly report,carol@example.org,carol@example.org,");

    auto events = read_tracking_logs(dir.path());
    REQUIRE(events.size() == 2);
    const auto& r = events[0];
    CHECK(r.time == example_time());
    CHECK(r.client_ip == "192.0.2.7");
    CHECK(r.client_hostname == "mail.example.org");
    CHECK(r.server_ip == "10.0.0.6");
    CHECK(r.server_hostname == "edge.example.com");
    CHECK(r.source_context == "08D675E58CA1DA38");
    CHECK(r.connector_id == "EDGE\\Default internal receive connector EDGE");
    CHECK(r.source == "SMTP");
    CHECK(r.event_id == "RECEIVE");
    CHECK(r.internal_message_id == 7);
    CHECK(r.message_id == "<7@example.org>");
    CHECK(r.recipients == std::vector<std::string>{"alice@example.com", "bob@example.com"});
    CHECK(r.recipient_status.empty());
    CHECK(r.total_bytes == 4096);
    CHECK(r.recipient_count == 2);
    CHECK(r.subject == "Quarterly report");
    CHECK(r.sender == "carol@example.org");
    CHECK(r.return_path == "carol@example.org");
    CHECK(r.message_info.empty());

    const auto& s = events[1];
    CHECK(s.event_id == "SEND");
    CHECK(s.recipient_status == sent.recipient_status);
    CHECK(s.related_recipient == "postmaster@example.com");
    CHECK(s.reference == "<6@example.org>");
    CHECK(s.message_info == "2019-01-25T00:03:50.000Z");
}

TEST_CASE("Exchange's own statuses keep their semicolons and still read back one per recipient", "[tracking]") {
    TempDir dir;
    MessageTrackingLog log(settings_in(dir.path()), "0.1.0", 1h);
    TrackingEvent e = receive_event(9);
    e.event_id = std::string(tracking_event::Fail);
    e.recipient_status = {"550 4.4.7 QUEUE.Expired;message expired", "550 5.1.1 RESOLVER.ADR.ExRecipNotFound; not found"};
    log.write(e);
    log.flush();
    auto events = read_tracking_logs(dir.path());
    REQUIRE(events.size() == 1);
    CHECK(events[0].event_id == "FAIL");
    CHECK(events[0].recipient_status == e.recipient_status);
    CHECK(events[0].recipients.size() == 2);
}

TEST_CASE("commas, double quotes and line breaks in a subject are quoted or escaped and cannot split the line",
          "[tracking]") {
    TempDir dir;
    MessageTrackingLog log(settings_in(dir.path()), "0.1.0", 1h);
    TrackingEvent e = receive_event(11);
    e.subject = "Re: \"Offer\", final, 50% off";
    log.write(e);
    e.subject = "line one\r\n2019-01-25T00:03:58.478Z,forged,line\nend";
    e.message_id = "<a,\"b\"@x>";
    log.write(e);
    log.flush();
    auto lines = read_lines(log.current_file());
    REQUIRE(lines.size() == 7);  // 5 header lines + 2 events: nothing split
    CHECK(lines[5].find(",\"Re: \"\"Offer\"\", final, 50% off\",") != std::string::npos);
    CHECK(lines[6].find(",\"line one\\x0D\\x0A2019-01-25T00:03:58.478Z,forged,line\\x0Aend\",") != std::string::npos);
    auto events = read_tracking_logs(dir.path());
    REQUIRE(events.size() == 2);
    CHECK(events[0].subject == "Re: \"Offer\", final, 50% off");
    CHECK(events[1].subject == "line one\r\n2019-01-25T00:03:58.478Z,forged,line\nend");
    CHECK(events[1].message_id == "<a,\"b\"@x>");
    CHECK(events[1].sender == "carol@example.org");
}

namespace {

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("a semicolon inside an address is not a separator: the quoted local part reads back as one recipient",
          "[tracking][security]") {
    TempDir dir;
    MessageTrackingLog log(settings_in(dir.path()), "0.1.0", 1h);
    TrackingEvent e = receive_event(21);
    // Weakness 9 of issue 13: RFC 5321 allows ';' in a quoted local part.
    e.recipients = {"\"x;ceo@accepted.test;y\"@accepted.test", "bob@example.com", "\"a;\"@b", ";@c"};
    log.write(e);
    log.flush();
    auto lines = read_lines(log.current_file());
    REQUIRE(lines.size() == 6);
    CHECK(lines[5].find(",\"\"\"x\\x3Bceo@accepted.test\\x3By\"\"@accepted.test;bob@example.com;\"\"a\\x3B\"\"@b;\\x3B@c\",")
          != std::string::npos);
    auto events = read_tracking_logs(dir.path());
    REQUIRE(events.size() == 1);
    CHECK(events[0].recipients == e.recipients);
    CHECK(events[0].recipient_count == 4);
    for (const auto& r : events[0].recipients) CHECK(r != "ceo@accepted.test");
}

TEST_CASE("a remote server's reply cannot split recipient-status: a semicolon before a reply code inside it is escaped",
          "[tracking][security]") {
    TempDir dir;
    MessageTrackingLog log(settings_in(dir.path()), "0.1.0", 1h);
    TrackingEvent e = receive_event(22);
    e.event_id = std::string(tracking_event::Fail);
    e.recipient_status = {"550 5.0.0 no;250 2.1.5 forged OK; 250 again", "550 4.4.7 QUEUE.Expired; message expired;",
                          "421 x;421", "250 2.1.5 ok"};
    e.recipients = {"a@x", "b@x", "c@x", "d@x"};
    log.write(e);
    log.flush();
    auto lines = read_lines(log.current_file());
    REQUIRE(lines.size() == 6);
    // Exchange's own ';' stays; the ones a reply code follows are escaped.
    CHECK(lines[5].find(",550 5.0.0 no\\x3B250 2.1.5 forged OK\\x3B 250 again;550 4.4.7 QUEUE.Expired; message expired;"
                        ";421 x\\x3B421;250 2.1.5 ok,") != std::string::npos);
    auto events = read_tracking_logs(dir.path());
    REQUIRE(events.size() == 1);
    CHECK(events[0].recipient_status == e.recipient_status);
}

TEST_CASE("control bytes and formulas in every text field are escaped and guarded on disk and read back as sent",
          "[tracking][security]") {
    using namespace std::string_literals;
    // Weakness 10 of issue 13: ESC in Subject and Message-ID, a Subject starting with =.
    const std::vector<std::string> values = {
        "=HYPERLINK(\"http://evil.example\",\"click\")", "\x1b]0;PWNED\x07", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)",
        "caf\xe9 \xc2\x9b" "31m", "'x", "\t=1", "a\\x1B"};
    for (const auto& v : values) {
        INFO(v);
        TempDir dir;
        TrackingEvent e;
        e.client_ip = e.client_hostname = e.server_ip = e.server_hostname = e.source_context = v;
        e.connector_id = "EDGE\\Default";
        e.source = std::string(tracking_source::Smtp);
        e.event_id = std::string(tracking_event::Receive);
        e.internal_message_id = 5;
        e.message_id = e.related_recipient = e.reference = e.subject = e.sender = e.return_path = e.message_info = v;
        e.recipients = {v, v};
        e.recipient_status = {"250 " + v, "250 " + v};
        {
            MessageTrackingLog log(settings_in(dir.path()), "0.1.0", 1h);
            log.write(e);
            log.flush();
            CHECK(terminal_safe(read_all(log.current_file())));
            auto lines = read_lines(log.current_file());
            REQUIRE(lines.size() == 6);
            auto cells = parse_csv_line(lines[5], 21);
            REQUIRE(cells);
            const bool guarded = std::string_view("=+-@'").find(v.front()) != std::string_view::npos;
            for (std::size_t i : {1u, 2u, 3u, 4u, 5u, 10u, 11u, 15u, 16u, 17u, 18u, 19u, 20u}) {
                INFO("field " << i);
                const std::string& cell = (*cells)[i];
                REQUIRE(!cell.empty());
                // A spreadsheet sees text: the cell starts with the guard or with no formula character.
                CHECK(std::string_view("=+-@\t\r").find(cell.front()) == std::string_view::npos);
                CHECK((cell.front() == '\'') == guarded);
            }
            CHECK((*cells)[6] == "EDGE\\Default");  // tokens: as written, never guarded
            CHECK((*cells)[7] == "SMTP");
            CHECK((*cells)[8] == "RECEIVE");
            CHECK((*cells)[12].starts_with("250 "));
        }
        auto events = read_tracking_logs(dir.path());
        REQUIRE(events.size() == 1);
        const auto& r = events[0];
        for (const std::string* f : {&r.client_ip, &r.client_hostname, &r.server_ip, &r.server_hostname,
                                     &r.source_context, &r.message_id, &r.related_recipient, &r.reference, &r.subject,
                                     &r.sender, &r.return_path, &r.message_info})
            CHECK(*f == v);
        CHECK(r.connector_id == "EDGE\\Default");
        CHECK(r.recipients == e.recipients);
        CHECK(r.recipient_status == e.recipient_status);
    }
}

TEST_CASE("fields Exchange leaves empty stay empty, with no guard or escape", "[tracking]") {
    TempDir dir;
    MessageTrackingLog log(settings_in(dir.path()), "0.1.0", 1h, 8u << 20, [] { return example_time(); });
    TrackingEvent e;
    e.source = std::string(tracking_source::Dsn);
    e.event_id = std::string(tracking_event::Dsn);
    e.internal_message_id = 3;
    log.write(e);
    log.flush();
    auto lines = read_lines(log.current_file());
    REQUIRE(lines.size() == 6);
    CHECK(lines[5] == "2019-01-25T00:03:58.478Z,,,,,,,DSN,DSN,3,,,,0,0,,,,,,");
}

TEST_CASE("with subject logging off the subject field is blank, and switching it back on applies to the next event",
          "[tracking]") {
    TempDir dir;
    auto settings = settings_in(dir.path());
    settings.subject_logging_enabled = false;
    MessageTrackingLog log(settings, "0.1.0", 1h);
    log.write(receive_event(1));
    settings.subject_logging_enabled = true;
    log.set_settings(settings);
    log.write(receive_event(2));
    log.flush();
    auto events = read_tracking_logs(dir.path());
    REQUIRE(events.size() == 2);
    CHECK(events[0].subject.empty());
    CHECK(events[0].message_id == "<1@example.org>");  // the rest is still there
    CHECK(events[1].subject == "Quarterly report");
}

TEST_CASE("rotation by size starts MSGTRK files numbered 2 and up, each within the limit, every event once and in order",
          "[tracking]") {
    TempDir dir;
    auto settings = settings_in(dir.path());
    settings.max_file_size = 4096;
    MessageTrackingLog log(settings, "0.1.0", 1h, 8u << 20, [] { return example_time(); });
    for (std::uint64_t i = 1; i <= 60; ++i) log.write(receive_event(i));
    log.flush();
    auto names = file_names(dir.path());
    REQUIRE(names.size() >= 2);
    CHECK(names[0] == "MSGTRK20190125-1.LOG");
    CHECK(names[1] == "MSGTRK20190125-2.LOG");
    for (const auto& p : csv_log_files(dir.path(), "MSGTRK")) {
        INFO(p);
        CHECK(fs::file_size(p) <= 4096);
        CHECK(read_lines(p).at(2) == "#Log-type: Message Tracking Log");
    }
    auto events = read_tracking_logs(dir.path());
    REQUIRE(events.size() == 60);
    for (std::size_t i = 0; i < events.size(); ++i) CHECK(events[i].internal_message_id == i + 1);
}

TEST_CASE("a disabled tracking log writes nothing and creates no directory until it is enabled", "[tracking]") {
    TempDir dir;
    const std::string logs = dir.sub("MessageTracking");
    auto settings = settings_in(logs);
    settings.enabled = false;
    MessageTrackingLog log(settings, "0.1.0", 1h);
    log.write(receive_event(1));
    log.flush();
    CHECK_FALSE(fs::exists(logs));
    CHECK(log.current_file().empty());

    settings.enabled = true;
    log.set_settings(settings);
    log.write(receive_event(2));
    log.flush();
    auto events = read_tracking_logs(logs);
    REQUIRE(events.size() == 1);
    CHECK(events[0].internal_message_id == 2);
}

TEST_CASE("lines dropped while the disk is stuck are reported by a DROPPED line that reads back", "[tracking]") {
    TempDir dir;
    {
        std::ofstream blocker(dir.sub("blocker"));
        blocker << "a file where the directory should be\n";
    }
    const std::string logs = dir.sub("blocker/logs");
    MessageTrackingLog log(settings_in(logs), "0.1.0", 1h, 1024);
    for (std::uint64_t i = 1; i <= 100; ++i) log.write(receive_event(i));
    const std::uint64_t dropped = log.dropped_lines();
    REQUIRE(dropped > 0);
    log.flush();
    CHECK(log.write_errors() >= 1);
    fs::remove(dir.sub("blocker"));
    log.flush();
    std::uint64_t kept = 0, reported = 0;
    for (const auto& e : read_tracking_logs(logs)) {
        if (e.event_id == "DROPPED") {
            CHECK(e.source == "MessageTrackingLog");
            CHECK(e.source_context.ends_with(" message tracking lines dropped"));
            reported += std::stoull(e.source_context);
        } else {
            ++kept;
        }
    }
    CHECK(kept == 100 - dropped);
    CHECK(reported == dropped);
}

TEST_CASE("the tracking line parser refuses header lines and malformed lines", "[tracking]") {
    const std::string good =
        "2019-01-25T00:03:58.478Z,,,,,,,SMTP,RECEIVE,7,<7@x>,a@x;b@x,,10,2,,,,s@x,s@x,";
    auto e = parse_tracking_line(good);
    REQUIRE(e);
    CHECK(e->recipients == std::vector<std::string>{"a@x", "b@x"});
    CHECK(parse_tracking_line(good + "\r\n"));
    CHECK_FALSE(parse_tracking_line("#Fields: date-time,client-ip"));
    CHECK_FALSE(parse_tracking_line(""));
    CHECK_FALSE(parse_tracking_line(good + ","));                                  // 22 fields
    CHECK_FALSE(parse_tracking_line(good.substr(0, good.size() - 1)));             // 20 fields
    CHECK_FALSE(parse_tracking_line("2019-01-25 00:03:58,,,,,,,SMTP,RECEIVE,7,,,,10,2,,,,,,"));  // date-time
    CHECK_FALSE(parse_tracking_line("2019-01-25T00:03:58.478Z,,,,,,,SMTP,RECEIVE,x7,,,,10,2,,,,,,"));  // id
    CHECK_FALSE(parse_tracking_line("2019-01-25T00:03:58.478Z,,,,,,,SMTP,RECEIVE,7,,,,-1,2,,,,,,"));  // bytes
}
