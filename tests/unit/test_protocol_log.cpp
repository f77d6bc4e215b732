// The protocol log writer: format, quoting, the flusher, rotation and deletion,
// disk trouble and the memory cap — on real files in a private directory.
#include "protocol_log.hpp"
#include "temp_dir.hpp"
#include "terminal_safe.hpp"

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace edge::logging;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

using edge::test::TempDir;
using edge::test::terminal_safe;

ProtocolLogLimits limits_in(std::string dir) {
    ProtocolLogLimits l;
    l.directory = std::move(dir);
    return l;
}

// 2019-01-25T00:03:58.478Z, the spec's example time.
std::chrono::system_clock::time_point example_time() {
    using namespace std::chrono;
    return sys_days{2019y / January / 25} + 3min + 58s + 478ms;
}

std::string compact_day(std::chrono::system_clock::time_point tp) {
    std::chrono::year_month_day ymd{std::chrono::floor<std::chrono::days>(tp)};
    return fmt::format("{:04}{:02}{:02}", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                       static_cast<unsigned>(ymd.day()));
}

// `text` has the shape of `pattern`, where 'd' stands for a digit and 'h' for an
// upper-case hex digit. (No std::regex: g++ 12 warns inside it under -O1 + ASan.)
bool has_shape(std::string_view text, std::string_view pattern) {
    if (text.size() != pattern.size()) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        const bool digit = c >= '0' && c <= '9';
        if (pattern[i] == 'd' ? !digit : pattern[i] == 'h' ? !(digit || (c >= 'A' && c <= 'F')) : c != pattern[i])
            return false;
    }
    return true;
}
constexpr std::string_view kTimestampShape = "dddd-dd-ddTdd:dd:dd.dddZ";

// yyyy-mm-ddThh:mm:ss.fffZ back to a time; fails the test when malformed.
std::chrono::sys_time<std::chrono::milliseconds> parse_timestamp(const std::string& text) {
    REQUIRE(has_shape(text, kTimestampShape));
    using namespace std::chrono;
    auto num = [&](std::size_t at, std::size_t n) { return std::stoi(text.substr(at, n)); };
    sys_days day = year{num(0, 4)} / month{static_cast<unsigned>(num(5, 2))} / static_cast<unsigned>(num(8, 2));
    return day + hours{num(11, 2)} + minutes{num(14, 2)} + seconds{num(17, 2)} + milliseconds{num(20, 3)};
}

std::vector<std::string> read_lines(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_file(const std::string& path, std::string_view content) {
    std::ofstream out(path, std::ios::binary);
    out << content;
}

// Our files (prefix RECV or SEND) in the directory, oldest first (by day, then N).
std::vector<std::string> log_files(const std::string& dir, std::string_view prefix = "RECV") {
    std::vector<std::pair<std::pair<std::string, long>, std::string>> found;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        const auto dash = name.find('-');
        if (!name.starts_with(prefix) || !name.ends_with(".LOG") || dash != prefix.size() + 8) continue;
        const std::string day = name.substr(prefix.size(), 8), n = name.substr(dash + 1, name.size() - dash - 5);
        if (!has_shape(day, "dddddddd") || n.empty() || !has_shape(n, std::string(n.size(), 'd'))) continue;
        found.push_back({{day, std::stol(n)}, it->path().string()});
    }
    std::sort(found.begin(), found.end());
    std::vector<std::string> out;
    for (auto& f : found) out.push_back(f.second);
    return out;
}

// Every event line of every file of the directory, oldest file first, parsed.
std::vector<std::array<std::string, 9>> events_in(const std::string& dir, std::string_view prefix = "RECV") {
    std::vector<std::array<std::string, 9>> out;
    for (const auto& f : log_files(dir, prefix)) {
        for (const auto& line : read_lines(f)) {
            if (line.starts_with("#")) continue;
            auto fields = parse_protocol_log_line(line);
            REQUIRE(fields);
            out.push_back(*fields);
        }
    }
    return out;
}

void write_numbered(ProtocolLog& log, std::uint64_t seq, std::size_t data_size = 60) {
    std::string data = fmt::format("250 line {}", seq);
    data.resize(std::max(data.size(), data_size), 'x');
    log.write("EDGE\\Default internal", "08D675E58CA1DA38", seq, "10.0.0.6:25", "192.0.2.7:40000", LogEvent::Send,
              data, "");
}

void set_mtime(const std::string& path, std::chrono::system_clock::time_point tp) {
    auto since = tp.time_since_epoch();
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(since);
    timespec ts[2];
    ts[0].tv_sec = ts[1].tv_sec = static_cast<time_t>(secs.count());
    ts[0].tv_nsec = ts[1].tv_nsec = 0;
    REQUIRE(::utimensat(AT_FDCWD, path.c_str(), ts, 0) == 0);
}

}  // namespace

TEST_CASE("a log file starts with the five header lines and each event line parses back field by field",
          "[logging]") {
    TempDir dir;
    {
        ProtocolLog log(ProtocolLogKind::SmtpReceive, limits_in(dir.path()), "0.1.0", 1h, 8u << 20,
                        [] { return example_time(); });
        log.write("TAIL-EXCH-1\\Internet Mail", "08D675E58CA1DA38", 0, "10.0.0.6:25", "185.234.217.220:61061",
                  LogEvent::Connect, "", "");
        log.write("TAIL-EXCH-1\\Internet Mail", "08D675E58CA1DA38", 1, "10.0.0.6:25", "185.234.217.220:61061",
                  LogEvent::Information, "SMTPSubmit SMTPAcceptAnySender", "Set Session Permissions");
        log.flush();
        CHECK(log.write_errors() == 0);
    }
    auto files = log_files(dir.path());
    REQUIRE(files.size() == 1);
    CHECK(fs::path(files[0]).filename() == "RECV20190125-1.LOG");
    auto lines = read_lines(files[0]);
    REQUIRE(lines.size() == 7);
    CHECK(lines[0] == "#Software: edge-transport");
    CHECK(lines[1] == "#Version: 0.1.0");
    CHECK(lines[2] == "#Log-type: SMTP Receive Protocol Log");
    CHECK(lines[3] == "#Date: 2019-01-25T00:03:58.478Z");
    CHECK(lines[4] ==
          "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,"
          "context");
    CHECK(lines[5] ==
          "2019-01-25T00:03:58.478Z,TAIL-EXCH-1\\Internet Mail,08D675E58CA1DA38,0,10.0.0.6:25,185.234.217.220:61061,+,,");
    auto f = parse_protocol_log_line(lines[6]);
    REQUIRE(f);
    CHECK((*f)[0] == "2019-01-25T00:03:58.478Z");
    CHECK((*f)[1] == "TAIL-EXCH-1\\Internet Mail");
    CHECK((*f)[2] == "08D675E58CA1DA38");
    CHECK((*f)[3] == "1");
    CHECK((*f)[4] == "10.0.0.6:25");
    CHECK((*f)[5] == "185.234.217.220:61061");
    CHECK((*f)[6] == "*");
    CHECK((*f)[7] == "SMTPSubmit SMTPAcceptAnySender");
    CHECK((*f)[8] == "Set Session Permissions");
}

TEST_CASE("the send log is named SEND, says SMTP Send Protocol Log and stamps lines with the UTC time in milliseconds",
          "[logging]") {
    TempDir dir;
    const auto before = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
    ProtocolLog log(ProtocolLogKind::SmtpSend, limits_in(dir.path()), "0.1.0");
    log.write("EDGE\\To Internet", new_session_id(), 0, "192.0.2.1:50123", "198.51.100.9:25", LogEvent::Receive,
              "220 mx.example.net ESMTP", "");
    log.flush();
    const auto after = std::chrono::system_clock::now();
    auto files = log_files(dir.path(), "SEND");
    REQUIRE(files.size() == 1);
    CHECK(log_files(dir.path(), "RECV").empty());
    CHECK(log.current_file() == files[0]);
    auto lines = read_lines(files[0]);
    REQUIRE(lines.size() == 6);
    CHECK(lines[2] == "#Log-type: SMTP Send Protocol Log");
    CHECK(lines[3].starts_with("#Date: "));
    CHECK(has_shape(lines[3].substr(7), kTimestampShape));
    auto f = parse_protocol_log_line(lines[5]);
    REQUIRE(f);
    auto stamped = parse_timestamp((*f)[0]);
    CHECK(stamped >= before);
    CHECK(stamped <= after);
    CHECK((*f)[6] == "<");
}

TEST_CASE("commas and double quotes in any field are quoted and read back unchanged", "[logging]") {
    TempDir dir;
    ProtocolLog log(ProtocolLogKind::SmtpReceive, limits_in(dir.path()), "0.1.0", 1h);
    log.write("SRV\\Partners, Inc.", "S1", 7, "[::1]:25", "[::1]:5000", LogEvent::Send,
              "220 SERVER ready at Wed, 11 Jan 2023 16:59:51 +0100", "say \"hi\", then \"bye\"");
    log.write("plain", "S1", 8, "a", "b", LogEvent::Receive, "\"", ",");
    log.flush();
    auto files = log_files(dir.path());
    REQUIRE(files.size() == 1);
    auto lines = read_lines(files[0]);
    REQUIRE(lines.size() == 7);
    CHECK(lines[5].ends_with(
        ",\"SRV\\Partners, Inc.\",S1,7,[::1]:25,[::1]:5000,>,\"220 SERVER ready at Wed, 11 Jan 2023 16:59:51 +0100\","
        "\"say \"\"hi\"\", then \"\"bye\"\"\""));
    auto events = events_in(dir.path());
    REQUIRE(events.size() == 2);
    CHECK(events[0][1] == "SRV\\Partners, Inc.");
    CHECK(events[0][7] == "220 SERVER ready at Wed, 11 Jan 2023 16:59:51 +0100");
    CHECK(events[0][8] == "say \"hi\", then \"bye\"");
    CHECK(events[1][7] == "\"");
    CHECK(events[1][8] == ",");
}

TEST_CASE("CR and LF inside a field never split a line: each is written \\x0D or \\x0A and reads back", "[logging]") {
    TempDir dir;
    ProtocolLog log(ProtocolLogKind::SmtpReceive, limits_in(dir.path()), "0.1.0\r\n#Forged: yes", 1h);
    // A smuggling attempt: a bare LF and a forged log line inside one command.
    log.write("c\r\nx", "S", 0, "l", "r", LogEvent::Receive,
              "MAIL FROM:<a@b>\n2019-01-25T00:03:58.478Z,fake,fake,0,l,r,+,,", "ctx\rmore");
    log.write("c", "S", 1, "l", "r", LogEvent::Receive, "\r\n", "");
    log.flush();
    auto files = log_files(dir.path());
    REQUIRE(files.size() == 1);
    auto lines = read_lines(files[0]);
    REQUIRE(lines.size() == 7);  // 5 header lines + 2 events: nothing split
    CHECK(lines[1] == "#Version: 0.1.0  #Forged: yes");
    CHECK(lines[5].ends_with(",c\\x0D\\x0Ax,S,0,l,r,<,"
                             "\"MAIL FROM:<a@b>\\x0A2019-01-25T00:03:58.478Z,fake,fake,0,l,r,+,,\",ctx\\x0Dmore"));
    auto events = events_in(dir.path());
    REQUIRE(events.size() == 2);
    CHECK(events[0][1] == "c\\x0D\\x0Ax");  // a token (ours) is shown escaped, not decoded
    CHECK(events[0][7] == "MAIL FROM:<a@b>\n2019-01-25T00:03:58.478Z,fake,fake,0,l,r,+,,");
    CHECK(events[0][8] == "ctx\rmore");
    CHECK(events[1][7] == "\r\n");
    CHECK(read_all(files[0]).find('\r') == std::string::npos);
}

namespace {

struct EscapeCase {
    const char* what;
    std::string sent;      // what a peer sent (the data field)
    std::string on_disk;   // the data cell in the file, CSV quoting undone
};

std::vector<EscapeCase> escape_cases() {
    using namespace std::string_literals;
    return {
        {"ESC and BEL (an OSC title sequence)", "NOOP \x1b]0;PWNED\x07", "NOOP \\x1B]0;PWNED\\x07"},
        {"TAB", "RCPT TO:<a@b>\tx", "RCPT TO:<a@b>\\x09x"},
        {"NUL", "a\0b"s, "a\\x00b"},
        {"every other C0", "\x01\x08\x0b\x0c\x0e\x1f", "\\x01\\x08\\x0B\\x0C\\x0E\\x1F"},
        {"DEL", "a\x7f", "a\\x7F"},
        {"a raw C1 byte (CSI), not UTF-8", "a\x9b" "31m", "a\\x9B31m"},
        {"C1 as UTF-8 (U+009B, U+0085)", "a\xc2\x9b" "31m\xc2\x85", "a\\xC2\\x9B31m\\xC2\\x85"},
        {"Latin-1 (not UTF-8)", "caf\xe9", "caf\\xE9"},
        {"an overlong form", "\xc0\xaf", "\\xC0\\xAF"},
        {"a UTF-16 surrogate", "\xed\xa0\x80", "\\xED\\xA0\\x80"},
        {"above U+10FFFF", "\xf4\x90\x80\x80", "\\xF4\\x90\\x80\\x80"},
        {"a cut-short sequence", "\xe2\x82", "\\xE2\\x82"},
        {"a lone continuation byte", "\xbf", "\\xBF"},
        {"well-formed UTF-8 stays", "Gr\xc3\xbc\xc3\x9f" "e \xe2\x9c\x93 \xf0\x9f\x98\x80 \xc2\xa0", "Gr\xc3\xbc\xc3\x9f" "e \xe2\x9c\x93 \xf0\x9f\x98\x80 \xc2\xa0"},
        {"a backslash is doubled, so a literal \\x1B is not an ESC", "a\\x1B\\", "a\\\\x1B\\\\"},
        {"= is a formula", "=1+1", "'=1+1"},
        {"+ is a formula", "+1", "'+1"},
        {"- is a formula", "-1", "'-1"},
        {"@ is a formula", "@SUM(A1)", "'@SUM(A1)"},
        {"a leading ' gets one more, so readers take exactly one away", "'quoted", "''quoted"},
        {"TAB first is escaped, so it needs no guard", "\t=1", "\\x09=1"},
        {"= later in the cell is no formula", "a=1", "a=1"},
        {"quotes and commas still quote the cell", "=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"},
    };
}

}  // namespace

TEST_CASE("a peer's control bytes, C1, invalid UTF-8 and formulas are escaped in data and context and read back exactly",
          "[logging][security]") {
    for (const auto& c : escape_cases()) {
        INFO(c.what);
        TempDir dir;
        {
            ProtocolLog log(ProtocolLogKind::SmtpReceive, limits_in(dir.path()), "0.1.0", 1h);
            log.write("EDGE\\Default", "S", 0, "127.0.0.1:25", "127.0.0.1:4000", LogEvent::Receive, c.sent, c.sent);
            log.flush();
        }
        auto files = log_files(dir.path());
        REQUIRE(files.size() == 1);
        const std::string all = read_all(files[0]);
        CHECK(terminal_safe(all));
        auto lines = read_lines(files[0]);
        REQUIRE(lines.size() == 6);
        auto raw = parse_csv_line(lines[5], 9);  // the file's cells, quoting undone only
        REQUIRE(raw);
        CHECK((*raw)[7] == c.on_disk);
        CHECK((*raw)[8] == c.on_disk);
        CHECK((*raw)[1] == "EDGE\\Default");  // our token keeps Exchange's single backslash
        auto back = parse_protocol_log_line(lines[5]);
        REQUIRE(back);
        CHECK((*back)[7] == c.sent);
        CHECK((*back)[8] == c.sent);
    }
}

TEST_CASE("our own fixed values are written as Exchange writes them: + and - in the event column, no guard",
          "[logging][security]") {
    TempDir dir;
    ProtocolLog log(ProtocolLogKind::SmtpSend, limits_in(dir.path()), "0.1.0", 1h);
    log.write("EDGE\\To Internet", "08D675E58CA1DA38", 0, "[::1]:4000", "[::1]:25", LogEvent::Connect, "", "");
    log.write("EDGE\\To Internet", "08D675E58CA1DA38", 1, "[::1]:4000", "[::1]:25", LogEvent::Disconnect, "", "Local");
    // A control byte in a token never reaches the file either (tokens are ours; this
    // is the safety net), and a token is never guarded.
    log.write("-\x1b" "c", "08D675E58CA1DA38", 2, "[::1]:4000", "[::1]:25", LogEvent::Information, "", "");
    log.flush();
    auto files = log_files(dir.path(), "SEND");
    REQUIRE(files.size() == 1);
    CHECK(terminal_safe(read_all(files[0])));
    auto lines = read_lines(files[0]);
    REQUIRE(lines.size() == 8);
    CHECK(lines[5].ends_with(",EDGE\\To Internet,08D675E58CA1DA38,0,[::1]:4000,[::1]:25,+,,"));
    CHECK(lines[6].ends_with(",EDGE\\To Internet,08D675E58CA1DA38,1,[::1]:4000,[::1]:25,-,,Local"));
    CHECK(lines[7].ends_with(",-\\x1Bc,08D675E58CA1DA38,2,[::1]:4000,[::1]:25,*,,"));
}

TEST_CASE("the log escape: every byte value round-trips, and the display escape keeps a backslash single",
          "[logging][security]") {
    std::string every;
    for (int b = 0; b < 256; ++b) every += static_cast<char>(b);
    every += "\\x41\\\\";
    std::string escaped;
    append_log_escaped(escaped, every);
    CHECK(terminal_safe(escaped));
    CHECK(unescape_log_text(escaped) == every);
    std::string list_escaped;
    append_log_escaped(list_escaped, "a;b", ";");
    CHECK(list_escaped == "a\\x3Bb");
    // Text written by another tool: a backslash that starts no escape stays.
    CHECK(unescape_log_text("EDGE\\Default \\q \\x4 \\x4g \\x41 \\x4a") == "EDGE\\Default \\q \\x4 \\x4g A J");
    std::string shown;
    append_display_escaped(shown, "EDGE\\contoso.com \x1b[2J\xc2\x9b\xe9");
    CHECK(shown == "EDGE\\contoso.com \\x1B[2J\\xC2\\x9B\\xE9");
}

TEST_CASE("the line parser refuses header lines and malformed lines", "[logging]") {
    CHECK(parse_protocol_log_line("a,b,c,d,e,f,g,h,i"));
    CHECK(parse_protocol_log_line("a,b,c,d,e,f,g,,\r\n"));
    CHECK(parse_protocol_log_line(",,,,,,,,"));
    auto quoted = parse_protocol_log_line("a,\"b,\"\"c\"\"\",c,d,e,f,g,\"\",i");
    REQUIRE(quoted);
    CHECK((*quoted)[1] == "b,\"c\"");
    CHECK((*quoted)[7].empty());
    CHECK_FALSE(parse_protocol_log_line("#Fields: a,b,c,d,e,f,g,h,i"));
    CHECK_FALSE(parse_protocol_log_line(""));
    CHECK_FALSE(parse_protocol_log_line("a,b,c,d,e,f,g,h"));          // 8 fields
    CHECK_FALSE(parse_protocol_log_line("a,b,c,d,e,f,g,h,i,j"));      // 10 fields
    CHECK_FALSE(parse_protocol_log_line("a,b,c,d,e,f,g,\"h,i"));      // unclosed quote
    CHECK_FALSE(parse_protocol_log_line("a,b,c,d,e,f,g,\"h\"x,i"));   // text after the closing quote
    CHECK_FALSE(parse_protocol_log_line("a,b,c,d,e,f,g,h\"h,i"));     // quote in an unquoted field
    CHECK_FALSE(parse_protocol_log_line("a,b,c,d,e,f,g,h\nh,i"));     // a line break inside
}

TEST_CASE("nothing is on disk before a flush and every line is after it", "[logging]") {
    TempDir dir;
    const std::string logs = dir.sub("logs");
    ProtocolLog log(ProtocolLogKind::SmtpReceive, limits_in(logs), "0.1.0", 1h);
    for (std::uint64_t i = 0; i < 50; ++i) write_numbered(log, i);
    CHECK(events_in(logs).empty());
    CHECK(log.current_file().empty());
    log.flush();
    auto events = events_in(logs);
    REQUIRE(events.size() == 50);
    for (std::size_t i = 0; i < events.size(); ++i) CHECK(events[i][3] == std::to_string(i));
}

TEST_CASE("the flush interval alone writes the lines out", "[logging]") {
    TempDir dir;
    ProtocolLog log(ProtocolLogKind::SmtpReceive, limits_in(dir.path()), "0.1.0", 50ms);
    write_numbered(log, 0);
    std::size_t seen = 0;
    for (int i = 0; i < 40 && seen == 0; ++i) {  // at most 1 s
        std::this_thread::sleep_for(25ms);
        seen = events_in(dir.path()).size();
    }
    CHECK(seen == 1);
}

TEST_CASE("the destructor flushes what is still buffered", "[logging]") {
    TempDir dir;
    {
        ProtocolLog log(ProtocolLogKind::SmtpReceive, limits_in(dir.path()), "0.1.0", 1h);
        for (std::uint64_t i = 0; i < 10; ++i) write_numbered(log, i);
    }
    CHECK(events_in(dir.path()).size() == 10);
}

TEST_CASE("rotation by size makes several files, each within the limit, with every line once and in order",
          "[logging]") {
    TempDir dir;
    auto limits = limits_in(dir.path());
    limits.max_file_size = 4096;
    ProtocolLog log(ProtocolLogKind::SmtpReceive, limits, "0.1.0", 1h);
    for (std::uint64_t i = 0; i < 300; ++i) {
        write_numbered(log, i, 80);
        if (i % 97 == 0) log.flush();  // rotation across several flushes as well as within one
    }
    log.flush();
    auto files = log_files(dir.path());
    CHECK(files.size() >= 10);
    for (const auto& f : files) {
        INFO(f);
        CHECK(fs::file_size(f) <= 4096);
        auto lines = read_lines(f);
        REQUIRE(lines.size() > 5);
        CHECK(lines[0] == "#Software: edge-transport");
    }
    CHECK(log.current_file() == files.back());
    auto events = events_in(dir.path());
    REQUIRE(events.size() == 300);
    for (std::size_t i = 0; i < events.size(); ++i) CHECK(events[i][3] == std::to_string(i));
}

TEST_CASE("the directory-size cap deletes the oldest of our files and never a foreign one", "[logging]") {
    TempDir dir;
    write_file(dir.sub("notes.txt"), std::string(20000, 'n'));
    write_file(dir.sub("SEND20200101-1.LOG"), std::string(20000, 's'));  // the other direction's file
    write_file(dir.sub("RECV20200101-1.LOG"), std::string(3000, 'r'));   // ours, from an older day
    auto limits = limits_in(dir.path());
    limits.max_file_size = 2048;
    limits.max_directory_size = 8192;
    ProtocolLog log(ProtocolLogKind::SmtpReceive, limits, "0.1.0", 1h);
    for (std::uint64_t i = 0; i < 300; ++i) write_numbered(log, i, 80);
    log.flush();

    CHECK(fs::exists(dir.sub("notes.txt")));
    CHECK(fs::exists(dir.sub("SEND20200101-1.LOG")));
    CHECK_FALSE(fs::exists(dir.sub("RECV20200101-1.LOG")));
    auto files = log_files(dir.path());
    REQUIRE(files.size() >= 2);
    std::uint64_t total = 0;
    for (const auto& f : files) total += fs::file_size(f);
    CHECK(total <= 8192 + 2048);  // checked at each rotation: at most the current file over
    CHECK(log.current_file() == files.back());
    // What is left is the newest lines, without a gap, up to the last one.
    auto events = events_in(dir.path());
    REQUIRE(!events.empty());
    CHECK(events.size() < 300);
    CHECK(events.back()[3] == "299");
    for (std::size_t i = 1; i < events.size(); ++i) CHECK(std::stoul(events[i][3]) == std::stoul(events[i - 1][3]) + 1);
}

TEST_CASE("a directory cap smaller than one file deletes everything but the current file", "[logging]") {
    TempDir dir;
    auto limits = limits_in(dir.path());
    limits.max_file_size = 2048;
    limits.max_directory_size = 100;
    ProtocolLog log(ProtocolLogKind::SmtpReceive, limits, "0.1.0", 1h);
    for (std::uint64_t i = 0; i < 100; ++i) write_numbered(log, i, 80);
    log.flush();
    auto files = log_files(dir.path());
    REQUIRE(files.size() == 1);
    CHECK(files[0] == log.current_file());
    CHECK(events_in(dir.path()).back()[3] == "99");
}

TEST_CASE("files older than MaxAge are deleted by mtime, younger and foreign ones are kept", "[logging]") {
    TempDir dir;
    const auto now = std::chrono::system_clock::now();
    for (auto name : {"RECV20200101-1.LOG", "RECV20200101-2.LOG", "SEND20200101-1.LOG", "RECV-notes.LOG"})
        write_file(dir.sub(name), "old\n");
    set_mtime(dir.sub("RECV20200101-1.LOG"), now - 24h * 40);
    set_mtime(dir.sub("RECV20200101-2.LOG"), now - 24h * 10);
    set_mtime(dir.sub("SEND20200101-1.LOG"), now - 24h * 40);
    set_mtime(dir.sub("RECV-notes.LOG"), now - 24h * 40);

    ProtocolLog log(ProtocolLogKind::SmtpReceive, limits_in(dir.path()), "0.1.0", 1h);  // MaxAge 30 days
    log.flush();  // the flusher's first pass sweeps, even before any line
    CHECK_FALSE(fs::exists(dir.sub("RECV20200101-1.LOG")));
    CHECK(fs::exists(dir.sub("RECV20200101-2.LOG")));
    CHECK(fs::exists(dir.sub("SEND20200101-1.LOG")));
    CHECK(fs::exists(dir.sub("RECV-notes.LOG")));

    SECTION("and a lowered MaxAge applies at the next flush") {
        auto limits = limits_in(dir.path());
        limits.max_age = std::chrono::hours(24 * 5);
        log.set_limits(limits);
        log.flush();
        CHECK_FALSE(fs::exists(dir.sub("RECV20200101-2.LOG")));
    }
}

TEST_CASE("a restart takes the next instance number of the day and leaves older files untouched", "[logging]") {
    TempDir dir;
    const std::string today = compact_day(std::chrono::system_clock::now());
    write_file(dir.sub("RECV" + today + "-1.LOG"), "one\n");
    write_file(dir.sub("RECV" + today + "-3.LOG"), "three\n");
    {
        ProtocolLog log(ProtocolLogKind::SmtpReceive, limits_in(dir.path()), "0.1.0", 1h);
        write_numbered(log, 0);
        log.flush();
        CHECK(fs::path(log.current_file()).filename() == "RECV" + today + "-4.LOG");
    }
    {
        ProtocolLog log(ProtocolLogKind::SmtpReceive, limits_in(dir.path()), "0.1.0", 1h);
        write_numbered(log, 1);
        log.flush();
        CHECK(fs::path(log.current_file()).filename() == "RECV" + today + "-5.LOG");
    }
    CHECK(read_all(dir.sub("RECV" + today + "-1.LOG")) == "one\n");
    CHECK(read_all(dir.sub("RECV" + today + "-3.LOG")) == "three\n");
    CHECK(read_lines(dir.sub("RECV" + today + "-4.LOG")).size() == 6);
}

TEST_CASE("a new UTC day starts a new file numbered 1", "[logging]") {
    TempDir dir;
    std::atomic<int> days_ahead{0};
    auto clock = [&] { return example_time() + std::chrono::days(days_ahead.load()); };
    ProtocolLog log(ProtocolLogKind::SmtpReceive, limits_in(dir.path()), "0.1.0", 1h, 8u << 20, clock);
    write_numbered(log, 0);
    log.flush();
    days_ahead = 1;
    write_numbered(log, 1);
    log.flush();
    auto files = log_files(dir.path());
    REQUIRE(files.size() == 2);
    CHECK(fs::path(files[0]).filename() == "RECV20190125-1.LOG");
    CHECK(fs::path(files[1]).filename() == "RECV20190126-1.LOG");
    CHECK(read_lines(files[1])[3] == "#Date: 2019-01-26T00:03:58.478Z");
    auto events = events_in(dir.path());
    REQUIRE(events.size() == 2);
    CHECK(events[1][0] == "2019-01-26T00:03:58.478Z");
}

TEST_CASE("a removed log directory is recreated and logging goes on", "[logging]") {
    TempDir dir;
    const std::string logs = dir.sub("a/b/logs");
    ProtocolLog log(ProtocolLogKind::SmtpReceive, limits_in(logs), "0.1.0", 1h);
    write_numbered(log, 0);
    log.flush();
    REQUIRE(events_in(logs).size() == 1);
    fs::remove_all(dir.sub("a"));
    write_numbered(log, 1);
    log.flush();
    auto events = events_in(logs);
    REQUIRE(events.size() == 1);
    CHECK(events[0][3] == "1");
    CHECK(read_lines(log.current_file())[0] == "#Software: edge-transport");
    CHECK(log.write_errors() == 0);
}

TEST_CASE("a directory that cannot be created counts write errors, throws nothing, and the lines follow once it can",
          "[logging]") {
    TempDir dir;
    write_file(dir.sub("blocker"), "a file where the directory should be\n");
    const std::string logs = dir.sub("blocker/logs");
    ProtocolLog log(ProtocolLogKind::SmtpReceive, limits_in(logs), "0.1.0", 1h);
    for (std::uint64_t i = 0; i < 10; ++i) write_numbered(log, i);
    REQUIRE_NOTHROW(log.flush());
    CHECK(log.write_errors() >= 1);
    CHECK(log.current_file().empty());
    fs::remove(dir.sub("blocker"));
    write_numbered(log, 10);
    log.flush();
    auto events = events_in(logs);
    REQUIRE(events.size() == 11);
    for (std::size_t i = 0; i < events.size(); ++i) CHECK(events[i][3] == std::to_string(i));
    CHECK(log.dropped_lines() == 0);
}

TEST_CASE("past twice the buffer cap lines are dropped and counted without blocking, and a '*' line says how many",
          "[logging]") {
    TempDir dir;
    write_file(dir.sub("blocker"), "stuck disk\n");
    const std::string logs = dir.sub("blocker/logs");
    constexpr std::size_t cap = 1024;
    ProtocolLog log(ProtocolLogKind::SmtpReceive, limits_in(logs), "0.1.0", 1h, cap);
    const auto start = std::chrono::steady_clock::now();
    for (std::uint64_t i = 0; i < 500; ++i) write_numbered(log, i, 90);
    CHECK(std::chrono::steady_clock::now() - start < 500ms);  // no write waited for the disk
    const std::uint64_t dropped = log.dropped_lines();
    CHECK(dropped > 0);
    CHECK(dropped < 500);
    CHECK((500 - dropped) * 100 <= 2 * cap + 200);  // memory stayed near twice the cap

    REQUIRE_NOTHROW(log.flush());  // one attempt on the stuck disk: counted, nothing lost that was kept
    CHECK(log.write_errors() >= 1);

    fs::remove(dir.sub("blocker"));  // the disk comes back
    log.flush();
    CHECK(log.dropped_lines() == dropped);
    std::uint64_t kept = 0, reported = 0;
    std::int64_t last_seq = -1;
    for (const auto& e : events_in(logs)) {
        if (e[8] == "ProtocolLog") {
            CHECK(e[6] == "*");
            CHECK(e[1].empty());
            CHECK(e[3].empty());
            reported += std::stoull(e[7]);
            CHECK(e[7].ends_with(" protocol log lines dropped"));
        } else {
            ++kept;
            CHECK(std::stoll(e[3]) > last_seq);  // kept lines stay in order
            last_seq = std::stoll(e[3]);
        }
    }
    CHECK(kept == 500 - dropped);
    CHECK(reported == dropped);
}

TEST_CASE("many threads writing at once lose no line", "[logging]") {
    TempDir dir;
    constexpr int threads = 8;
    constexpr std::uint64_t per_thread = 1500;
    {
        ProtocolLog log(ProtocolLogKind::SmtpReceive, limits_in(dir.path()), "0.1.0", 5ms);  // flusher busy meanwhile
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t) {
            pool.emplace_back([&log, t] {
                ProtocolLogSession s(&log, "EDGE\\Default", fmt::format("T{}", t), "10.0.0.6:25", "192.0.2.1:1");
                for (std::uint64_t i = 0; i < per_thread; ++i) s.log(LogEvent::Receive, "RCPT TO:<a@example.com>");
            });
        }
        for (auto& th : pool) th.join();
        log.flush();
        CHECK(log.dropped_lines() == 0);
        CHECK(log.write_errors() == 0);
    }
    std::vector<std::uint64_t> next(threads, 0);
    std::size_t total = 0;
    for (const auto& e : events_in(dir.path())) {
        const int t = std::stoi(e[2].substr(1));
        REQUIRE(t >= 0);
        REQUIRE(t < threads);
        CHECK(std::stoull(e[3]) == next[static_cast<std::size_t>(t)]);  // each session's lines, in order
        ++next[static_cast<std::size_t>(t)];
        ++total;
    }
    CHECK(total == threads * per_thread);
}

TEST_CASE("set_limits moves the log to a new directory at the next flush", "[logging]") {
    TempDir dir;
    ProtocolLog log(ProtocolLogKind::SmtpReceive, limits_in(dir.sub("one")), "0.1.0", 1h);
    write_numbered(log, 0);
    log.flush();
    log.set_limits(limits_in(dir.sub("two")));
    write_numbered(log, 1);
    log.flush();
    REQUIRE(events_in(dir.sub("one")).size() == 1);
    auto moved = events_in(dir.sub("two"));
    REQUIRE(moved.size() == 1);
    CHECK(moved[0][3] == "1");
    CHECK(fs::path(log.current_file()).parent_path() == dir.sub("two"));
}

TEST_CASE("a session numbers its lines from 0 and a default session logs nothing", "[logging]") {
    TempDir dir;
    ProtocolLog log(ProtocolLogKind::SmtpReceive, limits_in(dir.path()), "0.1.0", 1h);
    ProtocolLogSession off;
    CHECK_FALSE(off.enabled());
    off.log(LogEvent::Connect, "");
    ProtocolLogSession s(&log, "EDGE\\Default", "08D675E58CA1DA38", "10.0.0.6:25", "192.0.2.1:61061");
    CHECK(s.enabled());
    s.log(LogEvent::Connect, "");
    s.log(LogEvent::Send, "220 edge ready");
    s.log(LogEvent::Disconnect, "", "Local");
    CHECK(s.next_sequence() == 3);
    log.flush();
    auto events = events_in(dir.path());
    REQUIRE(events.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(events[i][3] == std::to_string(i));
        CHECK(events[i][2] == "08D675E58CA1DA38");
        CHECK(events[i][4] == "10.0.0.6:25");
        CHECK(events[i][5] == "192.0.2.1:61061");
    }
    CHECK(events[0][6] == "+");
    CHECK(events[1][6] == ">");
    CHECK(events[2][6] == "-");
    CHECK(events[2][8] == "Local");
}

TEST_CASE("session ids are 16 upper-case hex digits, unique and increasing", "[logging]") {
    std::string previous;
    std::set<std::string> seen;
    for (int i = 0; i < 10000; ++i) {
        std::string id = new_session_id();
        REQUIRE(has_shape(id, "hhhhhhhhhhhhhhhh"));
        CHECK(id > previous);  // fixed width: string order is numeric order
        seen.insert(id);
        previous = id;
    }
    CHECK(seen.size() == 10000);
    // .NET ticks (100 ns since 0001-01-01), as Exchange's ids: close to now.
    const auto ticks = std::stoull(previous, nullptr, 16);
    const auto now_ticks = static_cast<unsigned long long>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                               std::chrono::system_clock::now().time_since_epoch())
                                                               .count()) *
                               10 +
                           621'355'968'000'000'000ull;
    CHECK(ticks <= now_ticks + 10'000'000ull);
    CHECK(ticks + 60 * 10'000'000ull >= now_ticks);
}

// Issue 14: logs yield to the queue. While the process-wide switch names the log
// directory's volume, lines are dropped and counted; once it is off, the first line
// written says how many were lost. A log on another volume never stops.
namespace {
// A receive log in a directory of its own, and the volume that directory is on.
struct LogOnVolume {
    TempDir dir;
    std::string d = [this] {
        fs::create_directories(dir.sub("recv"));
        return dir.sub("recv");
    }();
    std::uint64_t volume = volume_of(d).value_or(0);
    ProtocolLog log{ProtocolLogKind::SmtpReceive, limits_in(d), "edge-transport test", 10ms};
};
}  // namespace

TEST_CASE("logs on the paused volume drop their lines, count them, and say how many at resume", "[logging][yield]") {
    LogOnVolume v;
    auto& [dir, d, volume, log] = v;
    REQUIRE(volume_of(d) == volume);
    write_numbered(log, 1);
    log.flush();
    const std::uint64_t dropped_before = lines_dropped_while_paused();

    pause_logs_on_volume(volume);
    REQUIRE(logs_paused());
    for (std::uint64_t seq = 2; seq <= 6; ++seq) write_numbered(log, seq);
    log.flush();
    std::this_thread::sleep_for(50ms);  // a few flusher ticks: no drop notice while paused
    CHECK(log.dropped_lines() == 5);
    CHECK(lines_dropped_while_paused() - dropped_before == 5);
    auto paused_events = events_in(d);
    REQUIRE(paused_events.size() == 1);  // only the line written before the pause
    CHECK(paused_events[0][7] == "250 line 1" + std::string(60 - 10, 'x'));

    resume_logs();
    CHECK_FALSE(logs_paused());
    write_numbered(log, 7);
    log.flush();
    auto events = events_in(d);
    REQUIRE(events.size() == 3);
    CHECK(events[1][6] == "*");
    CHECK(events[1][7] == "5 protocol log lines dropped");
    CHECK(events[2][7].starts_with("250 line 7"));
    CHECK(log.dropped_lines() == 5);  // the count stays: it is the log's total
}

TEST_CASE("a log on another volume keeps writing while the queue volume's logs are paused", "[logging][yield]") {
    LogOnVolume v;
    auto& [dir, d, volume, log] = v;
    REQUIRE(volume_of(d) == volume);
    pause_logs_on_volume(volume + 1);  // some other file system
    write_numbered(log, 1);
    log.flush();
    resume_logs();
    CHECK(log.dropped_lines() == 0);
    CHECK(events_in(d).size() == 1);
    // A directory not made yet is judged by its nearest existing ancestor.
    CHECK(volume_of(d + "/not/yet/made") == volume);
}
