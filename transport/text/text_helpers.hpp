// The one home of small text helpers every layer uses: ASCII case and white space
// (locale-free, as SMTP and the config syntax want), base64 and hex through OpenSSL,
// RFC 5322 and ISO 8601 dates through fmt/chrono. No dependency on any of ours.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace edge::text {

// ---- ASCII case: domain names, verbs, keywords and settings compare without regard
// to ASCII case (RFC 5321 §2.4); never the locale's.
constexpr char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
constexpr char ascii_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

inline std::string to_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = ascii_lower(c);
    return out;
}

constexpr bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

constexpr bool istarts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// The value of one hexadecimal digit, either case; -1 when `c` is not one.
constexpr int hex_digit_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// The value of one base64 digit (RFC 4648 §4 alphabet); -1 when `c` is not one ('=' included).
constexpr int base64_digit_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

// Any octet above 127 (UTF-8, or 8-bit bytes): what SMTPUTF8 and 8BITMIME are about.
constexpr bool has_non_ascii(std::string_view s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80) return true;
    return false;
}

// ---- white space
// Without surrounding SP and HTAB (RFC 5234 WSP): what SMTP commands and the routing
// parsers allow around a value. CR and LF stay: they are never "space" in a protocol line.
constexpr std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}
// Without surrounding white space of any kind (SP, HTAB, CR, LF, VT, FF): what an
// administrator's value or a line of a file may carry around it.
constexpr std::string_view trim_space(std::string_view s) {
    auto space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    return s;
}

// ---- encodings (OpenSSL)
std::string base64(std::string_view bytes);     // RFC 4648 §4, padded, one line
std::string hex(std::string_view bytes);        // lower case: "0a1b"
std::string hex_upper(std::string_view bytes);  // upper case: "0A1B"

// ---- dates (fmt/chrono; no locale, no strftime)
// RFC 5322 §3.3 date-time: "Wed, 11 Jan 2023 15:59:51 +0000" in UTC, or in the host's
// local time with its offset ("… -0500"), as a Received: header traditionally shows it.
std::string rfc5322_date_utc(std::chrono::system_clock::time_point t);
std::string rfc5322_date_local(std::chrono::system_clock::time_point t);
// ISO 8601 / RFC 3339 in UTC to the second: "2026-11-23T14:05:00Z".
std::string iso_date_time_utc(std::chrono::system_clock::time_point t);

// One step through UTF-8 text. `valid`: `s` starts with a well-formed sequence
// (RFC 3629: no overlong form, no surrogate, nothing above U+10FFFF) of `size` bytes.
// Not valid: `size` is the maximal ill-formed subpart (Unicode §3.9, the bytes one
// U+FFFD replaces). `size` is at least 1 for a non-empty `s`.
struct Utf8Step {
    std::size_t size = 0;
    bool valid = false;
};
Utf8Step next_utf8(std::string_view s);

// Appends `s` as a JSON string (RFC 8259), which must be UTF-8 whatever `s` is: each
// ill-formed subpart becomes one U+FFFD (written \ufffd); C0, DEL and C1 controls are
// \u escapes, so neither a parser nor a terminal the JSON is shown on gets a raw
// control byte. edgectl's -Json and Export-EdgeConfig write every string with it.
void append_json_string(std::string& out, std::string_view s);

}  // namespace edge::text
