// Authentication-Results (RFC 8601): the value we write, folded and quoted, read back by
// an RFC 5322 parser that is not ours (python3's email package, policy.default), and
// the authserv-id of a field that arrived.
#include "auth_results.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>

using namespace edge::auth;

namespace {

constexpr const char* kPython = "/usr/bin/python3";
// Prints the field's value as the parser sees it (unfolded), then its defect count.
constexpr const char* kReadBack =
    "import sys, email, email.policy\n"
    "m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.default)\n"
    "h = m['Authentication-Results']\n"
    "sys.stdout.write(str(h) + '\\n' + str(len(h.defects) + len(m.defects)) + '\\n' + str(len(m.get_all('Authentication-Results'))))\n";

// What python3 reads back: "<value>\n<defects>\n<field count>".
std::string python_reads(const std::string& value) {
    edge::test::TempDir dir;
    const std::string script = dir.sub("read.py"), message = dir.sub("m.eml");
    std::ofstream(script, std::ios::binary) << kReadBack;
    std::ofstream(message, std::ios::binary) << "Authentication-Results: " << value << "\r\nSubject: x\r\n\r\nbody\r\n";
    const std::string command = std::string(kPython) + " " + script + " " + message;
    FILE* p = ::popen(command.c_str(), "r");
    if (p == nullptr) throw std::runtime_error("popen " + command);
    std::string out;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    REQUIRE(::pclose(p) == 0);
    return out;
}

std::string unfolded(std::string v) {
    for (auto at = v.find("\r\n"); at != std::string::npos; at = v.find("\r\n")) v.erase(at, 2);
    return v;
}

void check_lines(const std::string& value) {
    std::string field = "Authentication-Results: " + value;
    std::size_t start = 0;
    while (true) {
        auto end = field.find("\r\n", start);
        auto line = field.substr(start, end == std::string::npos ? std::string::npos : end - start);
        INFO(line);
        CHECK(line.size() <= 78);
        CHECK(line.find('\r') == std::string::npos);
        CHECK(line.find('\n') == std::string::npos);
        if (end == std::string::npos) break;
        start = end + 2;
        CHECK((field[start] == '\t' || field[start] == ' '));
    }
}

AuthMethodResult spf_pass() { return {"spf", Result::Pass, "", "", {{"smtp", "mailfrom", "a@b.example"}}}; }
AuthMethodResult dkim_pass() {
    return {"dkim", Result::Pass, "", "",
            {{"header", "d", "b.example"}, {"header", "s", "sel"}, {"header", "b", "abcd1234"}}};
}
AuthMethodResult dmarc_pass() {
    return {"dmarc", Result::Pass, "p=reject dis=none", "", {{"header", "from", "b.example"}}};
}

}  // namespace

TEST_CASE("Authentication-Results carries each method's result, folded before column 78") {
    auto v = authentication_results_value("mx.example.com", {spf_pass(), dkim_pass(), dmarc_pass()});
    CHECK(v == "mx.example.com; spf=pass smtp.mailfrom=a@b.example;\r\n"
               "\tdkim=pass header.d=b.example header.s=sel header.b=abcd1234;\r\n"
               "\tdmarc=pass (p=reject dis=none) header.from=b.example");
    check_lines(v);
    CHECK(python_reads(v) == unfolded(v) + "\n0\n1");
    CHECK(authserv_id_of(v) == "mx.example.com");
}

TEST_CASE("Authentication-Results says none when nothing was checked") {
    CHECK(authentication_results_value("mx.example.com", {}) == "mx.example.com; none");
    CHECK(python_reads("mx.example.com; none") == "mx.example.com; none\n0\n1");
}

TEST_CASE("values that are not tokens become quoted-strings, and no line end gets through") {
    AuthMethodResult r{"dkim", Result::Fail, "bad (sig)\r\nX-Injected: yes", "body hash did not verify",
                       {{"header", "b", "ab+/cd=="}, {"header", "d", "evil.example\r\nX-Evil: 1"},
                        {"header", "i", "\"quoted\\\"\"@b.example"}, {"smtp\r\n", "mail from", "<>"}}};
    auto v = authentication_results_value("mx.example.com", {r});
    INFO(v);
    check_lines(v);
    CHECK(v.find("X-Injected: yes") != std::string::npos);  // kept, but inside the comment
    CHECK(v.find("\r\nX-") == std::string::npos);
    CHECK(unfolded(v).find("(bad \\(sig\\)X-Injected: yes)") != std::string::npos);
    CHECK(unfolded(v).find("reason=\"body hash did not verify\"") != std::string::npos);
    CHECK(unfolded(v).find("header.b=\"ab+/cd==\"") != std::string::npos);
    CHECK(unfolded(v).find("header.d=\"evil.exampleX-Evil: 1\"") != std::string::npos);
    CHECK(unfolded(v).find("header.i=\"\\\"quoted\\\\\\\"\\\"@b.example\"") != std::string::npos);
    CHECK(unfolded(v).find("smtp.mailfrom=\"<>\"") != std::string::npos);
    CHECK(python_reads(v) == unfolded(v) + "\n0\n1");

    // An authserv-id with specials is quoted too, and reads back.
    auto q = authentication_results_value("mx example;com", {spf_pass()});
    CHECK(q.rfind("\"mx example;com\";", 0) == 0);
    CHECK(authserv_id_of(q) == "mx example;com");
    CHECK(python_reads(q) == unfolded(q) + "\n0\n1");
}

TEST_CASE("a long value is cut, never breaking the 998-octet line limit") {
    AuthMethodResult r{"spf", Result::Pass, "", "", {{"smtp", "mailfrom", std::string(2000, 'x') + "@b.example"}}};
    auto v = authentication_results_value("mx.example.com", {r});
    for (const auto& line : {v.substr(0, v.find("\r\n")), v.substr(v.rfind("\r\n") + 2)}) CHECK(line.size() < 998);
    CHECK(python_reads(v) == unfolded(v) + "\n0\n1");
}

TEST_CASE("the authserv-id of a field that arrived is read past comments and white space") {
    CHECK(authserv_id_of("mx.example.com; spf=pass") == "mx.example.com");
    CHECK(authserv_id_of("  (our edge) \r\n\tMX.Example.COM 1; none") == "MX.Example.COM");
    CHECK(authserv_id_of("mx.example.com 1 ; dkim=pass") == "mx.example.com");
    CHECK(authserv_id_of("(a (nested) comment)mx.example.com;none") == "mx.example.com");
    CHECK(authserv_id_of("\"mx.example.com\"; none") == "mx.example.com");
    CHECK(authserv_id_of("\"mx.\\\"x\"; none") == "mx.\"x");
    CHECK(authserv_id_of("mx.example.com") == "mx.example.com");  // malformed, still ours to remove
    CHECK_FALSE(authserv_id_of(""));
    CHECK_FALSE(authserv_id_of("   "));
    CHECK_FALSE(authserv_id_of("(unterminated mx.example.com"));
    CHECK_FALSE(authserv_id_of("\"unterminated"));
    CHECK_FALSE(authserv_id_of("; spf=pass"));
}
