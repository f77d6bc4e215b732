// transport/mime: the walk (nesting, message/rfc822, RFC 2231 / 2047 names, limits) and
// the strip (the rest of the message byte for byte).
#include "mime_walk.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

using namespace edge::mime;

namespace {
const std::string kNested =
    "From: a@example.com\r\n"
    "Subject: nested\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--outer\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "hello\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative;\r\n"
    "\tboundary=inner\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "plain\r\n"
    "--inner\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Disposition: attachment; filename=\"setup.exe\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"
    "--inner--\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: b@example.com\r\n"
    "Subject: attached\r\n"
    "Content-Type: multipart/mixed; boundary=m2\r\n"
    "\r\n"
    "--m2\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "inside\r\n"
    "--m2\r\n"
    "Content-Type: application/x-msdownload; name*=utf-8''%D1%84%D0%B0%D0%B9%D0%BB.exe\r\n"
    "\r\n"
    "MZ\r\n"
    "--m2--\r\n"
    "--outer\r\n"
    "Content-Type: application/pdf\r\n"
    "Content-Disposition: attachment;\r\n"
    " filename*0*=utf-8''r%C3%A9;\r\n"
    " filename*1=\"port.pdf\"\r\n"
    "\r\n"
    "%PDF-1.4\r\n"
    "--outer\r\n"
    "Content-Type: image/png; name=\"=?utf-8?q?f=C3=A9?= .png\"\r\n"
    "\r\n"
    "png\r\n"
    "--outer--\r\n"
    "epilogue\r\n";

std::string part_text(const std::string& m, const Part& p) { return m.substr(p.begin, p.end - p.begin); }
}  // namespace

TEST_CASE("the MIME walk finds nested multiparts, attached messages' parts and decoded names", "[mime]") {
    Walk w = walk(kNested);
    REQUIRE(w.status == WalkStatus::Ok);
    REQUIRE(w.parts.size() == 11);
    CHECK(w.parts[0].media_type == "multipart/mixed");
    CHECK(w.parts[0].multipart);
    CHECK(w.parts[1].media_type == "text/plain");
    CHECK(part_text(kNested, w.parts[1]) == "Content-Type: text/plain\r\n\r\nhello");
    CHECK(w.parts[2].media_type == "multipart/alternative");
    CHECK(w.parts[4].filename == "setup.exe");
    CHECK(w.parts[4].depth == 2);
    CHECK(w.parts[5].media_type == "message/rfc822");
    CHECK(w.parts[5].message);
    CHECK(w.parts[6].media_type == "multipart/mixed");  // the attached message itself
    CHECK(w.parts[6].depth == 2);
    CHECK(w.parts[8].media_type == "application/x-msdownload");
    CHECK(w.parts[8].filename == "\xD1\x84\xD0\xB0\xD0\xB9\xD0\xBB.exe");  // RFC 2231 utf-8''
    CHECK(w.parts[8].depth == 3);
    CHECK(w.parts[9].filename == "r\xC3\xA9port.pdf");  // RFC 2231 continuations, one encoded
    CHECK(w.parts[10].filename == "f\xC3\xA9 .png");    // RFC 2047 in a quoted name
    CHECK(w.parts[0].end == kNested.size());
}

TEST_CASE("a part without a blank line ends at the next boundary, as clients read it", "[mime]") {
    const std::string m =
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\n"
        "--b\r\nContent-Type: application/octet-stream; name=x.exe\r\n\r\nMZ\r\n--b--\r\n";
    Walk w = walk(m);
    REQUIRE(w.parts.size() == 3);
    CHECK(w.parts[2].filename == "x.exe");
}

TEST_CASE("multipart/digest parts without a Content-Type are messages", "[mime]") {
    const std::string m =
        "Content-Type: multipart/digest; boundary=d\r\n\r\n"
        "--d\r\n\r\nFrom: x@y\r\nContent-Type: application/octet-stream; name=a.exe\r\n\r\nMZ\r\n--d--\r\n";
    Walk w = walk(m);
    REQUIRE(w.parts.size() == 3);
    CHECK(w.parts[1].media_type == "message/rfc822");
    CHECK(w.parts[2].filename == "a.exe");
}

namespace {
std::string many_parts(int n) {
    std::string m = "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
    for (int i = 0; i < n; ++i) m += "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n";
    return m + "--b--\r\n";
}
std::string deep(int levels) {
    std::string m;
    for (int i = 0; i < levels; ++i) m += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" + std::to_string(i) + "\r\n";
    m += "Content-Type: text/plain\r\n\r\nleaf\r\n";
    for (int i = levels; i-- > 0;) m += "--b" + std::to_string(i) + "--\r\n";
    return m;
}
}  // namespace

TEST_CASE("MIME bombs stop the walk at the limits: 10,000 parts, 100 levels, 100,000 levels", "[mime]") {
    auto start = std::chrono::steady_clock::now();
    Walk a = walk(many_parts(10000));
    CHECK(a.status == WalkStatus::TooManyParts);
    CHECK(a.parts.size() == 1000);
    Walk b = walk(deep(100));
    CHECK(b.status == WalkStatus::TooDeep);
    CHECK(b.parts.size() == 31);
    Walk c = walk(deep(100000));  // no recursion anywhere: no stack to overflow
    CHECK(c.status == WalkStatus::TooDeep);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
    CHECK(walk(many_parts(999)).status == WalkStatus::Ok);
    CHECK(walk(deep(30)).status == WalkStatus::Ok);
    WalkLimits tight{5, 10};
    CHECK(walk(deep(5), tight).status == WalkStatus::Ok);
    CHECK(walk(deep(6), tight).status == WalkStatus::TooDeep);
}

TEST_CASE("strip replaces the part and keeps every other byte", "[mime]") {
    Walk w = walk(kNested);
    const std::string out = strip_parts(kNested, w, {4, 8}, "This attachment was removed.");
    Walk after = walk(out);
    REQUIRE(after.status == WalkStatus::Ok);
    REQUIRE(after.parts.size() == 11);
    // Every part but the two replaced is byte-identical.
    for (std::size_t i : {1, 3, 7, 9, 10}) CHECK(part_text(out, after.parts[i]) == part_text(kNested, w.parts[i]));
    CHECK(after.parts[4].media_type == "text/plain");
    CHECK(after.parts[4].filename == "setup.exe.txt");
    CHECK(part_text(out, after.parts[4]).find("This attachment was removed.\r\n\r\nsetup.exe") != std::string::npos);
    CHECK(after.parts[8].filename == "\xD1\x84\xD0\xB0\xD0\xB9\xD0\xBB.exe.txt");
    // Before the first replaced part and after the last, the bytes are the received ones.
    CHECK(out.substr(0, w.parts[4].begin) == kNested.substr(0, w.parts[4].begin));
    CHECK(out.substr(out.size() - (kNested.size() - w.parts[8].end)) == kNested.substr(w.parts[8].end));
}

TEST_CASE("strip of the attached message's top part replaces the attached message, of the message its body", "[mime]") {
    const std::string m =
        "From: a@x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n"
        "From: c@x\r\nContent-Type: application/x-msdownload\r\n\r\nMZ\r\n--b--\r\n";
    Walk w = walk(m);
    REQUIRE(w.parts.size() == 3);
    std::string out = strip_parts(m, w, {2}, "removed");
    CHECK(out.find("From: c@x") == std::string::npos);
    Walk after = walk(out);
    REQUIRE(after.parts.size() == 2);
    CHECK(after.parts[1].media_type == "text/plain");

    const std::string single = "From: a@x\r\nSubject: s\r\nContent-Type: application/x-msdownload;\r\n name=a.exe\r\n\r\nMZ\r\n";
    Walk ws = walk(single);
    out = strip_parts(single, ws, {0}, "removed");
    CHECK(out.starts_with("From: a@x\r\nSubject: s\r\nContent-Type: text/plain"));
    CHECK(out.find("name=a.exe") == std::string::npos);
    CHECK(walk(out).parts[0].filename == "a.exe.txt");
}

TEST_CASE("strip of an empty part keeps the boundary on its own line", "[mime]") {
    const std::string m = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/x-msdownload\r\n\r\n--b--\r\n";
    Walk w = walk(m);
    REQUIRE(w.parts.size() == 2);
    std::string out = strip_parts(m, w, {1}, "removed");
    CHECK(out.find("\r\n--b--\r\n") != std::string::npos);
    CHECK(walk(out).parts.size() == 2);
}

// ---------------------------------------------------------------- the agent's decision

#include "attachment_filter.hpp"

using namespace edge::agents;

namespace {
Verdict decide_on(const std::string& message, edge::config::AttachmentFilterListConfigSettings settings = {},
                  const std::string& connector = "Default") {
    auto config = std::make_shared<AttachmentFilterConfig>();
    config->settings = std::move(settings);
    AttachmentFilterAgent agent(config);
    SessionInfo session;
    session.connector = connector;
    std::vector<std::string> chunks{message.substr(0, 50), message.substr(50)};
    Envelope e;
    e.message = &chunks;
    e.size = message.size();
    e.headers = {{"From", "a@x"}, {"Content-Type", "application/x-msdownload"}};
    return agent.decide(session, e);
}
}  // namespace

TEST_CASE("the Attachment Filtering Agent: Exchange's list, each action, ExceptionConnectors, the limits", "[mime][attachment]") {
    CHECK(default_attachment_filter_entries().size() == 70);
    Verdict r = decide_on(kNested);
    CHECK(r.action == AgentAction::Reject);
    CHECK(r.reply == edge::smtp::ReplyId::AttachmentRejected);
    CHECK(r.reply_text == "Message rejected due to unacceptable attachments");
    CHECK(r.reason_data.find("FileName:*.exe (setup.exe)") != std::string::npos);
    CHECK(r.reason_data.find("ContentType:application/x-msdownload") != std::string::npos);

    edge::config::AttachmentFilterListConfigSettings s;
    s.action = edge::config::AttachmentFilterAction::SilentDelete;
    CHECK(decide_on(kNested, s).action == AgentAction::Delete);
    s.exception_connectors = {"partners"};
    CHECK(decide_on(kNested, s, "Partners").action == AgentAction::Continue);

    s = {};
    s.action = edge::config::AttachmentFilterAction::Strip;
    Verdict st = decide_on(kNested, s);
    CHECK(st.action == AgentAction::Continue);
    REQUIRE(st.edit);
    REQUIRE(st.edit->message);
    CHECK(st.edit->headers.size() == 2);  // the message's own header is unchanged
    CHECK(walk(st.edit->message->front()).parts.size() == 11);

    // A message that is the attachment: its Content-Type field is the text part's now.
    const std::string single = "From: a@x\r\nContent-Type: application/x-msdownload\r\n\r\nMZ\r\n";
    Verdict root = decide_on(single, s);
    REQUIRE(root.edit);
    CHECK(root.edit->headers.front() == HeaderField{"From", "a@x"});
    CHECK(root.edit->headers[1] == HeaderField{"Content-Type", "text/plain; charset=us-ascii"});

    s.max_mime_depth = 2;
    Verdict deep = decide_on(kNested, s);
    CHECK(deep.action == AgentAction::Reject);
    CHECK(deep.reply == edge::smtp::ReplyId::MimeTooComplex);
    CHECK(deep.reason_data == "MaxMimeDepth 2");
}

TEST_CASE("attachment file names match as Windows opens them, content types as written", "[mime][attachment]") {
    AttachmentMatcher m({{edge::config::AttachmentType::FileName, "*.EXE"},
                         {edge::config::AttachmentType::FileName, "BadFile.doc"},
                         {edge::config::AttachmentType::ContentType, "Image/JPEG"}});
    Part p;
    p.media_type = "text/plain";
    for (const char* name : {"setup.exe", "SETUP.Exe", "setup.exe.", "setup.exe  ", "C:\\temp\\setup.exe", "badfile.DOC"}) {
        p.filename = name;
        CHECK(m.match(p));
    }
    for (const char* name : {"setup.exe.txt", "exe", ".exe.zip", "goodfile.doc"}) {
        p.filename = name;
        CHECK_FALSE(m.match(p));
    }
    p.filename = "report.pdf";
    p.type_name = "report.exe";  // a client that shows the Content-Type name
    CHECK(m.match(p) == std::optional<std::string>("FileName:*.EXE"));
    Part img;
    img.media_type = "image/jpeg";
    CHECK(m.match(img));

    CHECK(check_attachment_filter_entry({edge::config::AttachmentType::FileName, "*.exe"}).empty());
    CHECK_FALSE(check_attachment_filter_entry({edge::config::AttachmentType::FileName, "a*.exe"}).empty());
    CHECK_FALSE(check_attachment_filter_entry({edge::config::AttachmentType::FileName, "dir/a.exe"}).empty());
    CHECK_FALSE(check_attachment_filter_entry({edge::config::AttachmentType::ContentType, "image/"}).empty());
    CHECK(parse_attachment_filter_identity("filename:*.exe")->identity() == "FileName:*.exe");
    CHECK_FALSE(parse_attachment_filter_identity("Extension:*.exe"));
}
