// Issue 19's Attachment Filtering Agent on the real binary, on loopback: an .exe in a
// nested multipart, an RFC 2231 / RFC 2047 encoded name and an .exe inside an attached
// message, under Reject, Strip (the hub's copy read back by Python's email package, the
// other parts byte for byte) and SilentDelete; ExceptionConnectors; MIME bombs refused
// quickly with the server's memory bounded.
#include "edge_server.hpp"
#include "smtp_peer.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#ifndef EDGE_SOURCE_DIR
#error "define EDGE_SOURCE_DIR"
#endif

using namespace edge::test;
using namespace std::chrono_literals;

namespace {

std::string headers(const std::string& subject, const std::string& content_type) {
    return "From: a@client.example\r\nTo: user@contoso.test\r\nSubject: " + subject +
           "\r\nMessage-ID: <" + subject + "@client.example>\r\nMIME-Version: 1.0\r\nContent-Type: " + content_type + "\r\n\r\n";
}

const std::string kText = "Content-Type: text/plain; charset=us-ascii\r\n\r\nSee the attachment.";
const std::string kPdf =
    "Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFtCg==";
const std::string kExe =
    "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"setup.exe\"\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAA=";

// *.exe two levels down: mixed → alternative → the attachment (no zip).
std::string nested_exe(const std::string& subject) {
    return headers(subject, "multipart/mixed; boundary=\"outer\"") + "--outer\r\n" + kText + "\r\n--outer\r\n" +
           "Content-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n--inner\r\n" + kText + "\r\n--inner\r\n" + kExe +
           "\r\n--inner--\r\n--outer\r\n" + kPdf + "\r\n--outer--\r\n";
}
// The name only an RFC 2231 / RFC 2047 reader sees: filename*=utf-8''…, name="=?utf-8?B?…?=".
std::string encoded_name(const std::string& subject) {
    return headers(subject, "multipart/mixed; boundary=b") + "--b\r\n" + kText + "\r\n--b\r\n" +
           "Content-Type: application/octet-stream; name=\"=?utf-8?B?0YTQsNC50LsuZXhl?=\"\r\n"
           "Content-Disposition: attachment;\r\n filename*0*=utf-8''%D1%84%D0%B0;\r\n filename*1*=%D0%B9%D0%BB.%65xe\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n--b\r\n" + kPdf + "\r\n--b--\r\n";
}
// An attached message that carries the .exe.
std::string attached_message(const std::string& subject) {
    return headers(subject, "multipart/mixed; boundary=b") + "--b\r\n" + kText + "\r\n--b\r\n" +
           "Content-Type: message/rfc822\r\n\r\nFrom: c@elsewhere.example\r\nSubject: inner\r\n"
           "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\n" + kText + "\r\n--i\r\n" + kExe +
           "\r\n--i--\r\n--b\r\n" + kPdf + "\r\n--b--\r\n";
}

std::string submit(const EdgeServer& s, const std::string& data, const char* source = nullptr) {
    SmtpClient c(s.port(), source);
    c.reply();
    c.command("EHLO client.example");
    std::string r = c.send_mail("a@client.example", {"user@contoso.test"}, data);
    c.command("QUIT");
    return r;
}

// Live for the next session: edgectl returns once the server has applied it.
void reconfigure(const EdgeServer& s, const std::string& args) { s.must_edgectl(args); }

// Python's email package on `data`: one line per part (type, file name, payload digest), then "defects N".
std::vector<std::string> python_parts(const std::string& data) {
    TempDir dir;
    const std::string path = dir.sub("m.eml");
    std::ofstream(path, std::ios::binary) << data;
    std::string out;
    REQUIRE(run_command("/usr/bin/python3 " EDGE_SOURCE_DIR "/tests/support/mime_parts.py " + shell_quote(path), &out) == 0);
    std::vector<std::string> lines;
    std::istringstream in(out);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
}

std::uint64_t rss_kb(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);)
        if (line.starts_with("VmRSS:")) return std::stoull(line.substr(6));
    return 0;
}

}  // namespace

TEST_CASE("Attachment filtering on the real server: Reject, Strip read back by Python, SilentDelete, ExceptionConnectors, "
          "MIME bombs",
          "[attachment]") {
    SmtpPeer hub;
    EdgeServer s;
    s.must_edgectl("New-SendConnector Hub -AddressSpaces contoso.test -DNSRoutingEnabled '$false' -SmartHosts " + hub.ip() +
                   " -Port " + std::to_string(hub.port()));
    // Partners from 127.0.0.2: the connector the exception names.
    s.must_edgectl("New-ReceiveConnector -Name Partners -Bindings 127.0.0.1:" + std::to_string(s.port()) +
                   " -RemoteIPRanges 127.0.0.2 -PermissionGroups AnonymousUsers");
    basic_setup(s);

    SECTION("Reject (the default): each carrier is refused 550 5.7.1 with RejectResponse, the clean one passes") {
        const std::string refused = "550 5.7.1 Message rejected due to unacceptable attachments";
        CHECK(submit(s, nested_exe("nested")) == refused);
        CHECK(submit(s, encoded_name("encoded")) == refused);
        CHECK(submit(s, attached_message("attached")) == refused);
        CHECK(submit(s, headers("clean", "multipart/mixed; boundary=b") + "--b\r\n" + kText + "\r\n--b\r\n" + kPdf +
                            "\r\n--b--\r\n")
                  .starts_with("250"));
        CHECK(hub.wait_for_messages(1, 20s).size() == 1);
        reconfigure(s, "Set-AttachmentFilterListConfig -RejectResponse 'No executables here'");
        CHECK(submit(s, nested_exe("nested-2")) == "550 5.7.1 No executables here");
        auto lines = agent_log_lines(s, "-Agent 'Attachment Filtering Agent'", 4);
        REQUIRE(lines.size() >= 4);
        CHECK(lines[0].find("RejectMessage") != std::string::npos);
        CHECK(lines[0].find("FileName:*.exe (setup.exe)") != std::string::npos);
    }

    SECTION("Strip: the hub gets the message with the attachment replaced, the rest byte for byte") {
        reconfigure(s, "Set-AttachmentFilterListConfig -Action Strip");
        const std::string sent[] = {nested_exe("s-nested"), encoded_name("s-encoded"), attached_message("s-attached")};
        for (const auto& m : sent) CHECK(submit(s, m).starts_with("250"));
        auto got = hub.wait_for_messages(3, 20s);
        REQUIRE(got.size() == 3);
        // The hub's copies by subject (deliveries may overtake one another).
        auto copy_of = [&](const std::string& subject) {
            for (const auto& m : got)
                if (m.data.find("\r\nSubject: " + subject + "\r\n") != std::string::npos) return m.data;
            FAIL("no copy of " << subject);
            return std::string();
        };
        const std::string received_copies[] = {copy_of("s-nested"), copy_of("s-encoded"), copy_of("s-attached")};
        for (std::size_t i = 0; i < 3; ++i) {
            const std::string& received = received_copies[i];
            INFO(received);
            // The parts that stay are the received bytes.
            CHECK(received.find(kText) != std::string::npos);
            CHECK(received.find(kPdf) != std::string::npos);
            CHECK(received.find("TVqQAAMAAAAE") == std::string::npos);
            // Python's parser reads it without defects; the pdf's payload is the one sent.
            auto before = python_parts(sent[i]);
            auto after = python_parts(received);
            CHECK(after.back() == "defects 0");
            CHECK(after.size() == before.size());
            std::string pdf;
            for (const auto& l : before)
                if (l.starts_with("application/pdf\treport.pdf\t")) pdf = l;
            REQUIRE(!pdf.empty());
            CHECK(std::find(after.begin(), after.end(), pdf) != after.end());
            bool replaced = false;
            for (const auto& l : after) replaced = replaced || (l.starts_with("text/plain\t") && l.find(".exe.txt\t") != std::string::npos);
            CHECK(replaced);
        }
        // An ASCII name: the notice is plain text; the encoded one was read, and the
        // replacement names the decoded name (its text is base64, UTF-8).
        CHECK(received_copies[0].find("This attachment was removed.\r\n\r\nsetup.exe") != std::string::npos);
        CHECK(received_copies[1].find("filename*=utf-8''%D1%84%D0%B0%D0%B9%D0%BB.exe.txt") != std::string::npos);
        // The attached message keeps its own header and text; only its .exe part went.
        CHECK(received_copies[2].find("From: c@elsewhere.example\r\nSubject: inner\r\n") != std::string::npos);
        CHECK(received_copies[2].find("filename=\"setup.exe.txt\"") != std::string::npos);
    }

    SECTION("SilentDelete: the client is told 250 and nothing reaches the hub") {
        reconfigure(s, "Set-AttachmentFilterListConfig -Action SilentDelete");
        CHECK(submit(s, nested_exe("d-nested")).starts_with("250"));
        CHECK(submit(s, attached_message("d-attached")).starts_with("250"));
        CHECK(submit(s, headers("d-clean", "text/plain") + "hello\r\n").starts_with("250"));
        auto got = hub.wait_for_messages(1, 20s);
        std::this_thread::sleep_for(1s);
        got = hub.messages();
        REQUIRE(got.size() == 1);
        CHECK(got[0].data.find("Subject: d-clean") != std::string::npos);
    }

    SECTION("ExceptionConnectors: mail through the named connector is not filtered") {
        reconfigure(s, "Set-AttachmentFilterListConfig -ExceptionConnectors Partners");
        CHECK(submit(s, nested_exe("x-partner"), "127.0.0.2").starts_with("250"));
        CHECK(submit(s, nested_exe("x-other")) == "550 5.7.1 Message rejected due to unacceptable attachments");
        auto got = hub.wait_for_messages(1, 20s);
        REQUIRE(got.size() == 1);
        CHECK(got[0].data.find("TVqQAAMAAAAE") != std::string::npos);
    }

    SECTION("entries: a content type added, *.exe removed") {
        reconfigure(s, "Remove-AttachmentFilterEntry FileName:*.exe");
        s.must_edgectl("Add-AttachmentFilterEntry -Name application/pdf -Type ContentType");
        CHECK(submit(s, headers("e-exe", "multipart/mixed; boundary=b") + "--b\r\n" + kExe + "\r\n--b--\r\n").starts_with("250"));
        CHECK(submit(s, nested_exe("e-pdf")).starts_with("550 5.7.1 "));
    }

    SECTION("MIME bombs: 10,000 parts and 100 levels are refused 554 5.6.0 quickly, memory bounded") {
        std::string many = headers("many", "multipart/mixed; boundary=b");
        for (int i = 0; i < 10000; ++i) many += "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n";
        many += "--b--\r\n";
        std::string deep = headers("deep", "multipart/mixed; boundary=b0") + "--b0\r\n";
        for (int i = 1; i < 100; ++i)
            deep += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" + std::to_string(i) + "\r\n";
        deep += "Content-Type: text/plain\r\n\r\nleaf\r\n";
        for (int i = 100; i-- > 0;) deep += "--b" + std::to_string(i) + "--\r\n";

        const std::string refused = "554 5.6.0 Message has more MIME parts or nesting levels than this server reads";
        CHECK(submit(s, many) == refused);  // the first one warms the server's allocations up
        const std::uint64_t before = rss_kb(s.pid());
        for (int round = 0; round < 5; ++round) {
            auto start = std::chrono::steady_clock::now();
            CHECK(submit(s, many) == refused);
            CHECK(submit(s, deep) == refused);
            const auto took = std::chrono::steady_clock::now() - start;
            INFO(std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
            CHECK(took < 3s);  // under ASan; each walk stops at part 1,000 / level 31
        }
        const std::uint64_t after = rss_kb(s.pid());
        INFO("RSS " << before << " kB -> " << after << " kB");
        CHECK(after < before + 20 * 1024);
        auto lines = agent_log_lines(s, "-Agent 'Attachment Filtering Agent'", 11);
        REQUIRE(lines.size() >= 11);
        CHECK(lines.back().find("MimeLimit") != std::string::npos);
    }
}
