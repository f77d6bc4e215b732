// The one home of text helpers (text/text_helpers.hpp): ASCII case and white space
// without the locale, base64 and hex through OpenSSL, RFC 5322 and ISO dates.
#include "text_helpers.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <ctime>

using namespace edge::text;
using namespace std::chrono;

TEST_CASE("ASCII case folds letters only, never the locale's idea of them", "[text]") {
    CHECK(iequals("EHLO", "ehlo"));
    CHECK(iequals("Contoso.COM", "contoso.com"));
    CHECK_FALSE(iequals("ehlo", "ehl"));
    CHECK_FALSE(iequals("\xc3\x89", "\xc3\xa9"));  // É / é: bytes, not letters here
    CHECK_FALSE(iequals("[", "{"));                 // 0x5B and 0x7B differ by 0x20 but are not letters
    CHECK(istarts_with("MAIL FROM:<a@b>", "mail from:"));
    CHECK_FALSE(istarts_with("MAIL", "MAIL FROM:"));
    CHECK(to_lower("Hub1.Contoso.COM") == "hub1.contoso.com");
    static_assert(iequals("Tls", "TLS"));
}

TEST_CASE("trim strips SP and HTAB, trim_space every kind of white space", "[text]") {
    CHECK(trim(" \t value \t") == "value");
    CHECK(trim("\r\nvalue\r\n") == "\r\nvalue\r\n");  // a protocol line's CRLF is not space
    CHECK(trim_space(" \t\r\n\v\fvalue \r\n") == "value");
    CHECK(trim("") == "");
    CHECK(trim_space("   ") == "");
}

TEST_CASE("base64 is RFC 4648's, padded, on one line", "[text]") {
    // RFC 4648 §10 test vectors.
    CHECK(base64("") == "");
    CHECK(base64("f") == "Zg==");
    CHECK(base64("fo") == "Zm8=");
    CHECK(base64("foo") == "Zm9v");
    CHECK(base64("foob") == "Zm9vYg==");
    CHECK(base64("fooba") == "Zm9vYmE=");
    CHECK(base64("foobar") == "Zm9vYmFy");
    CHECK(base64(std::string("\0user\0pass", 10)) == "AHVzZXIAcGFzcw==");  // AUTH PLAIN (RFC 4616)
    const std::string long_input(100, 'x');
    CHECK(base64(long_input).find('\n') == std::string::npos);  // one line, however long
    CHECK(base64(long_input).size() == 136);
}

TEST_CASE("hex writes every byte as two digits, in lower or upper case", "[text]") {
    CHECK(hex("") == "");
    CHECK(hex(std::string("\x00\xff\x10\xab", 4)) == "00ff10ab");
    CHECK(hex_upper(std::string("\x00\xff\x10\xab", 4)) == "00FF10AB");
    CHECK(hex(std::string(32, '\x5a')).size() == 64);
}

TEST_CASE("RFC 5322 dates in UTC and in local time with its offset, ISO 8601 in UTC", "[text]") {
    // 2023-01-11 15:59:51 UTC, a Wednesday.
    const system_clock::time_point t = sys_days{year{2023} / 1 / 11} + hours(15) + minutes(59) + seconds(51) + milliseconds(700);
    CHECK(rfc5322_date_utc(t) == "Wed, 11 Jan 2023 15:59:51 +0000");
    CHECK(iso_date_time_utc(t) == "2023-01-11T15:59:51Z");
    CHECK(rfc5322_date_utc(sys_days{year{1999} / 12 / 31}) == "Fri, 31 Dec 1999 00:00:00 +0000");

    const char* old = std::getenv("TZ");
    const std::string saved = old ? old : "";
    ::setenv("TZ", "EST5EDT,M3.2.0,M11.1.0", 1);
    ::tzset();
    CHECK(rfc5322_date_local(t) == "Wed, 11 Jan 2023 10:59:51 -0500");
    const system_clock::time_point summer = sys_days{year{2023} / 7 / 4} + hours(12);
    CHECK(rfc5322_date_local(summer) == "Tue, 04 Jul 2023 08:00:00 -0400");
    ::setenv("TZ", "Asia/Kolkata", 1);  // a half-hour offset
    ::tzset();
    const auto india = rfc5322_date_local(t);
    CHECK((india == "Wed, 11 Jan 2023 21:29:51 +0530" || india == "Wed, 11 Jan 2023 15:59:51 +0000"));  // no tzdata: UTC
    if (old) ::setenv("TZ", saved.c_str(), 1);
    else ::unsetenv("TZ");
    ::tzset();
}
