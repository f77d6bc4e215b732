// The DSN builder, checked by a MIME parser that is not ours: each built message is
// written to a file and read by Debian's python3 email package
// (tests/support/parse_dsn.py), and the tests assert on what that parser sees.
#include "dsn.hpp"
#include "send_connector.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>

using namespace edge;
using send::DsnKind;

namespace {

using edge::test::TempDir;

constexpr const char* kPython = "/usr/bin/python3";
const std::string kParser = std::string(EDGE_SOURCE_DIR) + "/tests/support/parse_dsn.py";

queue::Timestamp at(std::chrono::sys_days day, std::chrono::hours h) {
    return std::chrono::time_point_cast<std::chrono::microseconds>(day + h);
}

// Tuesday 2024-03-05 10:00:00 UTC.
const queue::Timestamp kNow = at(std::chrono::sys_days{std::chrono::year{2024} / 3 / 5}, std::chrono::hours(10));

const std::string kOriginal =
    "Received: from client.example.org (192.0.2.7) by edge.example.com (10.0.0.6)\r\n"
    " with Microsoft SMTP Server id 8.1.240.6; Tue, 5 Mar 2024 06:00:00 +0000\r\n"
    "From: Carol <carol@example.org>\r\n"
    "To: alice@example.com, bob@example.net\r\n"
    "Subject: Hello\r\n"
    "Message-ID: <orig-1@example.org>\r\n"
    "\r\n"
    "BODY-MARKER first line\r\n"
    "second line\r\n";

queue::Recipient recipient(std::string address, std::uint8_t notify = 0, std::string orcpt = {}) {
    queue::Recipient r;
    r.address = std::move(address);
    r.notify = notify;
    r.orcpt = std::move(orcpt);
    return r;
}

queue::Envelope envelope(std::vector<queue::Recipient> recipients = {recipient("alice@example.com")}) {
    queue::Envelope e;
    e.sender = "carol@example.org";
    e.recipients = std::move(recipients);
    e.arrival_time = kNow - std::chrono::hours(4);
    e.expiration_time = e.arrival_time + std::chrono::hours(48);
    e.internet_message_id = "<orig-1@example.org>";
    e.subject = "Hello";
    e.size = kOriginal.size();
    return e;
}

send::DsnRequest request(DsnKind kind, const queue::Envelope& env, std::string_view original = kOriginal) {
    send::DsnRequest r{kind, env, original, {}, "edge.example.com", kNow, 10u << 20, "dsn.example.com", "", ""};
    for (std::size_t i = 0; i < env.recipients.size(); ++i) {
        if (kind == DsnKind::Failure)
            r.recipients.push_back({i, "5.1.1", "550 5.1.1 User unknown", "mx.example.com"});
        else if (kind == DsnKind::Delay)
            r.recipients.push_back({i, "4.4.1", "451 4.4.1 Connection timed out", "mx.example.com"});
        else
            r.recipients.push_back({i, "2.0.0", "250 2.0.0 OK queued", "mx.example.com"});
    }
    return r;
}

std::string body_of(const queue::NewMessage& m) {
    std::string s;
    for (const auto& c : m.body.chunks) s += c;
    return s;
}

std::string unescape(std::string_view v) {
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (v[i] != '\\' || i + 1 == v.size()) {
            out += v[i];
            continue;
        }
        const char e = v[++i];
        out += e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e;
    }
    return out;
}

// The human-readable part with its folding undone: runs of spaces and line ends
// become one space.
std::string flat(std::string_view text) {
    std::string out;
    for (char c : text) {
        const char put = c == '\r' || c == '\n' ? ' ' : c;
        if (put == ' ' && !out.empty() && out.back() == ' ') continue;
        out += put;
    }
    return out;
}

// What python3's email package sees in a message.
struct Parsed {
    std::multimap<std::string, std::string> values;

    std::string get(const std::string& key) const {
        auto it = values.find(key);
        return it == values.end() ? std::string("<missing>") : it->second;
    }
    std::size_t count(const std::string& key) const { return values.count(key); }
};

Parsed parse_with_python(const std::string& message) {
    TempDir dir;
    const std::string path = dir.sub("dsn.eml");
    {
        std::ofstream f(path, std::ios::binary);
        f << message;
    }
    const std::string command = std::string(kPython) + " " + kParser + " " + path;
    FILE* p = ::popen(command.c_str(), "r");
    if (p == nullptr) throw std::runtime_error("popen " + command);
    std::string output;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) output.append(buf, n);
    const int status = ::pclose(p);
    INFO(command);
    REQUIRE(status == 0);
    Parsed parsed;
    std::size_t pos = 0;
    while (pos < output.size()) {
        std::size_t nl = output.find('\n', pos);
        if (nl == std::string::npos) nl = output.size();
        const std::string line = output.substr(pos, nl - pos);
        const auto tab = line.find('\t');
        if (tab != std::string::npos) parsed.values.emplace(line.substr(0, tab), unescape(line.substr(tab + 1)));
        pos = nl + 1;
    }
    REQUIRE(parsed.get("defects") == "0");
    return parsed;
}

Parsed build_and_parse(const send::DsnRequest& req) {
    auto dsn = send::build_dsn(req);
    REQUIRE(dsn);
    return parse_with_python(body_of(*dsn));
}

// RFC 5322 §2.1.1 and RFC 2045: CRLF only, no line over 998 octets.
void check_lines(const std::string& body) {
    std::size_t line_start = 0;
    for (std::size_t i = 0; i < body.size(); ++i) {
        if (body[i] == '\r') {
            REQUIRE(i + 1 < body.size());
            REQUIRE(body[i + 1] == '\n');
        } else if (body[i] == '\n') {
            REQUIRE(i > 0);
            REQUIRE(body[i - 1] == '\r');
            CHECK(i - 1 - line_start <= 998);
            line_start = i + 1;
        }
    }
    CHECK(body.ends_with("\r\n"));
}

// Everything before the third part (top header, parts 1 and 2) is 7-bit.
void check_first_parts_7bit(const std::string& body, const std::string& boundary) {
    std::size_t third = body.find("--" + boundary);
    for (int i = 0; i < 2 && third != std::string::npos; ++i) third = body.find("--" + boundary, third + 1);
    REQUIRE(third != std::string::npos);
    for (std::size_t i = 0; i < third; ++i) {
        INFO("octet " << i);
        REQUIRE(static_cast<unsigned char>(body[i]) < 0x80);
    }
}

}  // namespace

TEST_CASE("a failure notice is a three-part multipart/report that an independent MIME parser reads field by field",
          "[dsn]") {
    auto env = envelope({recipient("alice@example.com", queue::notify::Failure, "rfc822;alice+2Bx@example.com")});
    env.dsn_envid = "QQ+2B314159";
    auto p = build_and_parse(request(DsnKind::Failure, env));

    CHECK(p.get("content-type") == "multipart/report");
    CHECK(p.get("report-type") == "delivery-status");
    CHECK(p.get("header.From") == "postmaster@edge.example.com");
    CHECK(p.get("header.To").find("carol@example.org") != std::string::npos);
    CHECK(p.get("header.Subject") == "Undeliverable: Hello");
    CHECK(p.get("header.Auto-Submitted") == "auto-replied");
    CHECK(p.get("header.MIME-Version") == "1.0");
    CHECK(p.get("header.Date") == "Tue, 05 Mar 2024 10:00:00 +0000");
    CHECK(p.get("header.Message-ID").ends_with("@dsn.example.com>"));
    CHECK(p.get("header.In-Reply-To") == "<orig-1@example.org>");

    REQUIRE(p.get("parts") == "3");
    CHECK(p.get("part.0.content-type") == "text/plain");
    CHECK(p.get("part.1.content-type") == "message/delivery-status");
    CHECK(p.get("part.2.content-type") == "text/rfc822-headers");

    CHECK(p.get("report.Reporting-MTA") == "dns; edge.example.com");
    CHECK(p.get("report.Original-Envelope-Id") == "QQ+314159");  // xtext decoded
    CHECK(p.get("report.Arrival-Date") == "Tue, 05 Mar 2024 06:00:00 +0000");
    REQUIRE(p.get("recipients") == "1");
    CHECK(p.get("recipient.0.Original-Recipient") == "rfc822; alice+x@example.com");
    CHECK(p.get("recipient.0.Final-Recipient") == "rfc822; alice@example.com");
    CHECK(p.get("recipient.0.Action") == "failed");
    CHECK(p.get("recipient.0.Status") == "5.1.1");
    CHECK(p.get("recipient.0.Remote-MTA") == "dns; mx.example.com");
    CHECK(p.get("recipient.0.Diagnostic-Code") == "smtp; 550 5.1.1 User unknown");
    CHECK(p.count("recipient.0.Will-Retry-Until") == 0);

    const std::string human = flat(p.get("part.0.text"));
    CHECK(human.find("Delivery has failed") != std::string::npos);
    CHECK(human.find("alice@example.com") != std::string::npos);
    CHECK(human.find("550 5.1.1 User unknown") != std::string::npos);

    const std::string returned = p.get("part.2.text");
    CHECK(returned.find("Subject: Hello") != std::string::npos);
    CHECK(returned.find("Message-ID: <orig-1@example.org>") != std::string::npos);
    CHECK(returned.find("BODY-MARKER") == std::string::npos);
}

TEST_CASE("the notice's envelope has the null sender, the original sender as recipient with NOTIFY=NEVER, and its size",
          "[dsn]") {
    const auto env = envelope();
    auto dsn = send::build_dsn(request(DsnKind::Failure, env));
    REQUIRE(dsn);
    const auto& e = dsn->envelope;
    CHECK(e.sender.empty());
    REQUIRE(e.recipients.size() == 1);
    CHECK(e.recipients[0].address == "carol@example.org");
    CHECK(e.recipients[0].notify == queue::notify::Never);
    CHECK(e.recipients[0].next_hop == queue::QueueId{});
    CHECK(e.arrival_time == kNow);
    CHECK(e.dsn_ret == queue::DsnRet::Unspecified);
    CHECK(e.size == dsn->body.size());
    CHECK(e.subject == "Undeliverable: Hello");
    auto p = parse_with_python(body_of(*dsn));
    CHECK(p.get("header.Message-ID") == e.internet_message_id);
    // A notice about this notice is impossible: its sender is null.
    send::DsnRequest again = request(DsnKind::Failure, e, body_of(*dsn));
    CHECK_FALSE(send::build_dsn(again));
}

TEST_CASE("every line ends in CRLF within 998 octets and the first two parts are 7-bit", "[dsn]") {
    auto env = envelope({recipient("alice@example.com"), recipient("bob@example.net")});
    auto req = request(DsnKind::Failure, env);
    req.recipients[0].diagnostic = "550 5.7.1 " + std::string(3000, 'x') + " " + std::string(40, 'y');
    req.recipients[1].diagnostic = std::string(200, 'w') + " " + std::string(1500, 'z');
    // The original itself with a bare LF, a long header line and 8-bit octets.
    const std::string original = "X-Long: " + std::string(1200, 'h') + "\nSubject: Gr\xc3\xbc\xc3\x9f" + "e\r\n\r\nbody\r\n";
    req.original_message = original;
    auto dsn = send::build_dsn(req);
    REQUIRE(dsn);
    const std::string body = body_of(*dsn);
    check_lines(body);
    auto p = parse_with_python(body);
    check_first_parts_7bit(body, p.get("boundary"));
    CHECK(p.get("part.2.cte") == "8bit");
    CHECK(p.get("cte") == "8bit");
    REQUIRE(p.get("recipients") == "2");
    CHECK(p.get("recipient.0.Diagnostic-Code").starts_with("smtp; 550 5.7.1 xxx"));
    CHECK(p.get("recipient.0.Diagnostic-Code").size() < 1100);  // cut at 1000 octets
    CHECK(p.get("recipient.1.Diagnostic-Code").starts_with("X-edge-transport; www"));
}

TEST_CASE("a hostile remote reply with CR, LF, 8-bit octets and a fake boundary cannot add headers, fields or parts",
          "[dsn]") {
    const auto env = envelope();
    auto req = request(DsnKind::Failure, env);
    req.recipients[0].diagnostic =
        "550 5.1.1 bad\r\nSubject: injected\r\n\r\n--=_edge-dsn-0000000000000000\r\nX-Evil: \xff\xfe\x01 yes\n"
        "Final-Recipient: rfc822; evil@example.net\r\nAction: delivered";
    req.recipients[0].remote_mta = "mx.example.com\r\nX-Evil-MTA: 1";
    auto dsn = send::build_dsn(req);
    REQUIRE(dsn);
    const std::string body = body_of(*dsn);
    check_lines(body);
    auto p = parse_with_python(body);
    check_first_parts_7bit(body, p.get("boundary"));
    CHECK(p.get("parts") == "3");
    CHECK(p.get("header.Subject") == "Undeliverable: Hello");
    CHECK(p.count("header.Subject") == 1);
    CHECK(p.count("header.X-Evil") == 0);
    REQUIRE(p.get("recipients") == "1");
    CHECK(p.count("recipient.0.Final-Recipient") == 1);
    CHECK(p.get("recipient.0.Final-Recipient") == "rfc822; alice@example.com");
    CHECK(p.count("recipient.0.Action") == 1);
    CHECK(p.get("recipient.0.Action") == "failed");
    CHECK(p.count("recipient.0.X-Evil") == 0);
    CHECK(p.count("recipient.0.X-Evil-MTA") == 0);
    CHECK(p.get("recipient.0.Diagnostic-Code") ==
          "smtp; 550 5.1.1 bad Subject: injected --=_edge-dsn-0000000000000000 X-Evil: ??? yes "
          "Final-Recipient: rfc822; evil@example.net Action: delivered");
    CHECK(p.get("recipient.0.Remote-MTA") == "dns; mx.example.com?X-Evil-MTA:?1");
}

TEST_CASE("RET=FULL returns the whole original under the size limit and only its headers over it", "[dsn]") {
    auto env = envelope();
    env.dsn_ret = queue::DsnRet::Full;

    SECTION("under the limit: message/rfc822 with the body") {
        auto p = build_and_parse(request(DsnKind::Failure, env));
        CHECK(p.get("part.2.content-type") == "message/rfc822");
        CHECK(p.get("returned.header.Subject") == "Hello");
        CHECK(p.get("returned.header.Message-ID") == "<orig-1@example.org>");
        CHECK(p.get("returned.body").find("BODY-MARKER first line") != std::string::npos);
        CHECK(p.get("returned.body").find("second line") != std::string::npos);
    }
    SECTION("over the limit: text/rfc822-headers without the body") {
        auto req = request(DsnKind::Failure, env);
        req.max_full_return_size = kOriginal.size() - 1;
        auto p = build_and_parse(req);
        CHECK(p.get("part.2.content-type") == "text/rfc822-headers");
        CHECK(p.get("part.2.text").find("Subject: Hello") != std::string::npos);
        CHECK(p.get("part.2.text").find("BODY-MARKER") == std::string::npos);
    }
    SECTION("a body line over 998 octets: headers only, since message/rfc822 cannot be re-encoded") {
        const std::string original = kOriginal + std::string(1200, 'L') + "\r\n";
        auto p = build_and_parse(request(DsnKind::Failure, env, original));
        CHECK(p.get("part.2.content-type") == "text/rfc822-headers");
        CHECK(p.get("part.2.text").find("BODY-MARKER") == std::string::npos);
    }
    SECTION("a delay notice returns headers even with RET=FULL") {
        auto p = build_and_parse(request(DsnKind::Delay, env));
        CHECK(p.get("part.2.content-type") == "text/rfc822-headers");
        CHECK(p.get("part.2.text").find("BODY-MARKER") == std::string::npos);
    }
}

TEST_CASE("RET=HDRS and no RET return only the header block", "[dsn]") {
    for (auto ret : {queue::DsnRet::Headers, queue::DsnRet::Unspecified}) {
        auto env = envelope();
        env.dsn_ret = ret;
        auto p = build_and_parse(request(DsnKind::Failure, env));
        CHECK(p.get("part.2.content-type") == "text/rfc822-headers");
        CHECK(p.get("part.2.text").find("From: Carol <carol@example.org>") != std::string::npos);
        CHECK(p.get("part.2.text").find("BODY-MARKER") == std::string::npos);
    }
}

TEST_CASE("a delay notice goes to a recipient without NOTIFY and says until when delivery is tried", "[dsn]") {
    const auto env = envelope();
    auto p = build_and_parse(request(DsnKind::Delay, env));
    CHECK(p.get("header.Subject") == "Delivery delayed: Hello");
    CHECK(p.get("recipient.0.Action") == "delayed");
    CHECK(p.get("recipient.0.Status") == "4.4.1");
    CHECK(p.get("recipient.0.Diagnostic-Code") == "smtp; 451 4.4.1 Connection timed out");
    CHECK(p.get("recipient.0.Will-Retry-Until") == "Thu, 07 Mar 2024 06:00:00 +0000");
    CHECK(flat(p.get("part.0.text")).find("until Thu, 07 Mar 2024 06:00:00 +0000") != std::string::npos);
}

TEST_CASE("a relay notice goes only to NOTIFY=SUCCESS recipients and says relayed", "[dsn]") {
    const auto asked = envelope({recipient("alice@example.com", queue::notify::Success)});
    auto p = build_and_parse(request(DsnKind::Success, asked));
    CHECK(p.get("header.Subject") == "Relayed: Hello");
    CHECK(p.get("recipient.0.Action") == "relayed");
    CHECK(p.get("recipient.0.Status") == "2.0.0");

    const auto not_asked = envelope({recipient("alice@example.com")});
    CHECK_FALSE(send::build_dsn(request(DsnKind::Success, not_asked)));
}

TEST_CASE("no notice to the null sender, to NOTIFY=NEVER, or a failure notice to NOTIFY=SUCCESS only", "[dsn]") {
    auto null_sender = envelope();
    null_sender.sender.clear();
    CHECK_FALSE(send::build_dsn(request(DsnKind::Failure, null_sender)));
    CHECK_FALSE(send::build_dsn(request(DsnKind::Delay, null_sender)));

    const auto never = envelope({recipient("alice@example.com", queue::notify::Never)});
    CHECK_FALSE(send::build_dsn(request(DsnKind::Failure, never)));
    CHECK_FALSE(send::build_dsn(request(DsnKind::Delay, never)));
    CHECK_FALSE(send::build_dsn(request(DsnKind::Success, never)));

    const auto success_only = envelope({recipient("alice@example.com", queue::notify::Success)});
    CHECK_FALSE(send::build_dsn(request(DsnKind::Failure, success_only)));
    CHECK_FALSE(send::build_dsn(request(DsnKind::Delay, success_only)));

    const auto failure_only = envelope({recipient("alice@example.com", queue::notify::Failure)});
    CHECK_FALSE(send::build_dsn(request(DsnKind::Delay, failure_only)));
}

TEST_CASE("only the recipients that want the notice are reported", "[dsn]") {
    const auto env = envelope({recipient("alice@example.com"), recipient("bob@example.net", queue::notify::Never),
                               recipient("dave@example.net", queue::notify::Success),
                               recipient("erin@example.net", queue::notify::Failure | queue::notify::Delay)});
    auto p = build_and_parse(request(DsnKind::Failure, env));
    REQUIRE(p.get("recipients") == "2");
    CHECK(p.get("recipient.0.Final-Recipient") == "rfc822; alice@example.com");
    CHECK(p.get("recipient.1.Final-Recipient") == "rfc822; erin@example.net");
    CHECK(p.get("part.0.text").find("bob@example.net") == std::string::npos);
}

TEST_CASE("wants_notice follows RFC 3461 NOTIFY with FAILURE,DELAY as the default", "[dsn]") {
    using namespace queue::notify;
    struct Row {
        std::uint8_t notify;
        bool failure, delay, success;
    };
    const Row rows[] = {
        {0, true, true, false},
        {Never, false, false, false},
        {Failure, true, false, false},
        {Delay, false, true, false},
        {Success, false, false, true},
        {Failure | Delay, true, true, false},
        {Failure | Success, true, false, true},
        {Failure | Delay | Success, true, true, true},
    };
    for (const auto& row : rows) {
        INFO("notify " << int(row.notify));
        const auto r = recipient("a@example.com", row.notify);
        CHECK(send::wants_notice(r, DsnKind::Failure) == row.failure);
        CHECK(send::wants_notice(r, DsnKind::Delay) == row.delay);
        CHECK(send::wants_notice(r, DsnKind::Success) == row.success);
    }
}

TEST_CASE("the NDR copy address is an extra envelope recipient with NOTIFY=NEVER, for failures only", "[dsn]") {
    const auto env = envelope();
    auto req = request(DsnKind::Failure, env);
    req.copy_to = "postmaster@example.com";
    auto dsn = send::build_dsn(req);
    REQUIRE(dsn);
    REQUIRE(dsn->envelope.recipients.size() == 2);
    CHECK(dsn->envelope.recipients[0].address == "carol@example.org");
    CHECK(dsn->envelope.recipients[1].address == "postmaster@example.com");
    CHECK(dsn->envelope.recipients[1].notify == queue::notify::Never);
    CHECK(body_of(*dsn).find("postmaster@example.com") == std::string::npos);  // not in To:

    auto delay = request(DsnKind::Delay, env);
    delay.copy_to = "postmaster@example.com";
    auto notice = send::build_dsn(delay);
    REQUIRE(notice);
    CHECK(notice->envelope.recipients.size() == 1);
}

TEST_CASE("the MIME boundary never occurs in the original, even when the original holds the first choice", "[dsn]") {
    const auto env = envelope();
    auto first = build_and_parse(request(DsnKind::Failure, env));
    const std::string taken = first.get("boundary");
    REQUIRE(taken.size() > 10);
    // The same message and time again, now with that boundary in its body (which a
    // headers-only notice does not even return).
    const std::string original = kOriginal + "--" + taken + "\r\n" + taken + "--\r\n";
    auto dsn = send::build_dsn(request(DsnKind::Failure, env, original));
    REQUIRE(dsn);
    auto p = parse_with_python(body_of(*dsn));
    const std::string boundary = p.get("boundary");
    CHECK(boundary != taken);
    CHECK(original.find(boundary) == std::string::npos);
    CHECK(p.get("parts") == "3");
}

TEST_CASE("8-bit subjects and addresses are encoded, so the report stays 7-bit", "[dsn]") {
    auto env = envelope({recipient("j\xc3\xb6rg@example.de")});
    env.subject = "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln, with a long tail to make more than one encoded word";
    auto dsn = send::build_dsn(request(DsnKind::Failure, env));
    REQUIRE(dsn);
    const std::string body = body_of(*dsn);
    auto p = parse_with_python(body);
    check_first_parts_7bit(body, p.get("boundary"));
    CHECK(p.get("header.Subject") ==
          "Undeliverable: Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln, with a long tail to make more than one encoded word");
    CHECK(p.get("recipient.0.Final-Recipient") == "utf-8; j\\x{F6}rg@example.de");
    CHECK(p.get("cte") == "7bit");
    const std::string human = flat(p.get("part.0.text"));
    CHECK(human.find("Subject: Gr??e aus K?ln, with") != std::string::npos);  // one '?' per character
    CHECK(human.find("j\\x{F6}rg@example.de") != std::string::npos);
}

TEST_CASE("an SMTPUTF8 sender is addressed in UTF-8, a sender with control characters in the 7-bit form", "[dsn]") {
    auto env = envelope();
    env.sender = "j\xc3\xb6rg@example.de";
    auto dsn = send::build_dsn(request(DsnKind::Failure, env));
    REQUIRE(dsn);
    CHECK(body_of(*dsn).find("\r\nTo: <j\xc3\xb6rg@example.de>\r\n") != std::string::npos);
    CHECK(dsn->envelope.recipients.at(0).address == env.sender);

    env.sender = "a\x01\xff" "b@example.de";
    dsn = send::build_dsn(request(DsnKind::Failure, env));
    REQUIRE(dsn);
    CHECK(body_of(*dsn).find("\r\nTo: <a\\x{1}\\x{FFFD}b@example.de>\r\n") != std::string::npos);
}

TEST_CASE("without a subject, Exchange's Delivery Status Notification subjects are used", "[dsn]") {
    CHECK(send::dsn_subject(DsnKind::Failure, "") == "Delivery Status Notification (Failure)");
    CHECK(send::dsn_subject(DsnKind::Delay, "  ") == "Delivery Status Notification (Delay)");
    CHECK(send::dsn_subject(DsnKind::Success, "") == "Delivery Status Notification (Relay)");
    CHECK(send::dsn_subject(DsnKind::Failure, "a\r\nb") == "Undeliverable: a  b");
    CHECK(send::dsn_subject(DsnKind::Failure, std::string(5000, 's')).size() == 900);
}

TEST_CASE("a malformed status becomes the kind's default and our own words get an X- diagnostic type", "[dsn]") {
    const auto env = envelope({recipient("alice@example.com")});
    auto req = request(DsnKind::Failure, env);
    req.recipients[0].status = "5.1";
    req.recipients[0].diagnostic = "QUEUE.Expired; message expired";
    req.recipients[0].remote_mta.clear();
    auto p = build_and_parse(req);
    CHECK(p.get("recipient.0.Status") == "5.0.0");
    CHECK(p.get("recipient.0.Diagnostic-Code") == "X-edge-transport; QUEUE.Expired; message expired");
    CHECK(p.count("recipient.0.Remote-MTA") == 0);

    req.recipients[0].status = "4.4.7";
    req.recipients[0].diagnostic.clear();
    auto q = build_and_parse(req);
    CHECK(q.get("recipient.0.Status") == "4.4.7");
    CHECK(q.count("recipient.0.Diagnostic-Code") == 0);
}

TEST_CASE("an ORCPT or ENVID that decodes to control characters is kept in its xtext form", "[dsn]") {
    auto env = envelope({recipient("alice@example.com", 0, "rfc822;a+0D+0AX-Evil:+201@example.com")});
    env.dsn_envid = "id+0D+0AX-Evil";
    auto p = build_and_parse(request(DsnKind::Failure, env));
    CHECK(p.get("recipient.0.Original-Recipient") == "rfc822; a+0D+0AX-Evil:+201@example.com");
    CHECK(p.get("report.Original-Envelope-Id") == "id+0D+0AX-Evil");
    CHECK(p.count("recipient.0.X-Evil") == 0);
}

TEST_CASE("a recipient index outside the envelope is the caller's bug and throws", "[dsn]") {
    const auto env = envelope();
    auto req = request(DsnKind::Failure, env);
    req.recipients.push_back({5, "5.1.1", "", ""});
    CHECK_THROWS_AS(send::build_dsn(req), std::out_of_range);
}

TEST_CASE("ExternalPostmasterAddress is the notice's From, empty, postmaster@ the Default accepted domain or the server FQDN",
          "[dsn][settings]") {
    auto env = envelope();
    config::ConfigObject ts(config::ObjectKind::TransportServer);
    auto settings = send::DeliverySettings::from_object(ts, "/tmp/data", "edge.example.com");
    CHECK(settings.postmaster == "postmaster@edge.example.com");
    CHECK(send::DeliverySettings::from_object(ts, "/tmp/data", "edge.example.com", "contoso.com").postmaster ==
          "postmaster@contoso.com");
    REQUIRE(ts.set("ExternalPostmasterAddress", "NDR-Desk@Contoso.COM").empty());
    settings = send::DeliverySettings::from_object(ts, "/tmp/data", "edge.example.com", "fabrikam.com");
    CHECK(settings.postmaster == "NDR-Desk@contoso.com");  // set: it wins over the default domain

    auto req = request(DsnKind::Failure, env);
    req.from = settings.postmaster;
    auto p = build_and_parse(req);
    CHECK(p.get("header.From") == "NDR-Desk@contoso.com");
    auto dsn = send::build_dsn(req);
    REQUIRE(dsn);
    CHECK(dsn->envelope.sender.empty());  // the envelope sender stays null (RFC 3461 §6.2)
    CHECK(body_of(*dsn).find("postmaster@edge.example.com") == std::string::npos);
}

TEST_CASE("ExternalDsnMaxMessageAttachSize decides whether an NDR returns the original or its headers", "[dsn][settings]") {
    auto env = envelope();
    env.dsn_ret = queue::DsnRet::Full;
    config::ConfigObject ts(config::ObjectKind::TransportServer);
    CHECK(send::DeliverySettings::from_object(ts, "/tmp/data", "e.example").dsn_max_attach_size == 10u << 20);
    for (auto [limit, attached] : {std::pair{kOriginal.size(), true}, std::pair{kOriginal.size() - 1, false},
                                   std::pair{std::size_t{0}, false}}) {
        INFO(limit);
        REQUIRE(ts.set("ExternalDsnMaxMessageAttachSize", std::to_string(limit)).empty());
        auto settings = send::DeliverySettings::from_object(ts, "/tmp/data", "e.example");
        CHECK(settings.dsn_max_attach_size == limit);
        auto req = request(DsnKind::Failure, env);
        req.max_full_return_size = settings.dsn_max_attach_size;
        auto p = build_and_parse(req);
        CHECK(p.get("part.2.content-type") == (attached ? "message/rfc822" : "text/rfc822-headers"));
        CHECK((p.get("returned.body").find("BODY-MARKER") != std::string::npos) == attached);
    }
}
