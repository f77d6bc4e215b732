// Base64 and hex through OpenSSL (EVP_EncodeBlock, OPENSSL_buf2hexstr_ex) and dates
// through fmt/chrono, so nothing here depends on the process locale.
#include "text_helpers.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <ctime>
#include <stdexcept>

namespace edge::text {

std::string base64(std::string_view bytes) {
    if (bytes.empty()) return {};
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');  // + the NUL EVP_EncodeBlock writes
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n < 0 ? 0 : n));
    return out;
}

std::string hex_upper(std::string_view bytes) {
    if (bytes.empty()) return {};
    std::string out(2 * bytes.size() + 1, '\0');  // + the NUL
    std::size_t len = 0;
    if (OPENSSL_buf2hexstr_ex(out.data(), out.size(), &len, reinterpret_cast<const unsigned char*>(bytes.data()),
                              bytes.size(), '\0') != 1)
        throw std::runtime_error("OPENSSL_buf2hexstr_ex failed");
    out.resize(len > 0 ? len - 1 : 0);  // len counts the NUL
    return out;
}

std::string hex(std::string_view bytes) {
    std::string out = hex_upper(bytes);
    for (char& c : out) c = ascii_lower(c);
    return out;
}

namespace {
constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// `t` shifted by `offset` seconds (local time), printed with that offset.
std::string rfc5322(std::chrono::system_clock::time_point t, long offset) {
    using namespace std::chrono;
    const auto secs = floor<seconds>(t) + seconds(offset);
    const auto day = floor<days>(secs);
    const year_month_day ymd{day};
    const hh_mm_ss hms{secs - day};
    const long a = offset < 0 ? -offset : offset;
    return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} {}{:02}{:02}", kDays[weekday{day}.c_encoding()],
                       static_cast<unsigned>(ymd.day()), kMonths[static_cast<unsigned>(ymd.month()) - 1],
                       static_cast<int>(ymd.year()), hms.hours().count(), hms.minutes().count(), hms.seconds().count(),
                       offset < 0 ? '-' : '+', a / 3600, a / 60 % 60);
}
}  // namespace

std::string rfc5322_date_utc(std::chrono::system_clock::time_point t) { return rfc5322(t, 0); }

std::string rfc5322_date_local(std::chrono::system_clock::time_point t) {
    // The offset in force at `t` (daylight saving included), from the C library's zone.
    const std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    if (::localtime_r(&tt, &tm) == nullptr) return rfc5322(t, 0);
    return rfc5322(t, tm.tm_gmtoff);
}

std::string iso_date_time_utc(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    const auto secs = floor<seconds>(t);
    const auto day = floor<days>(secs);
    const year_month_day ymd{day};
    const hh_mm_ss hms{secs - day};
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", static_cast<int>(ymd.year()),
                       static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), hms.hours().count(),
                       hms.minutes().count(), hms.seconds().count());
}

Utf8Step next_utf8(std::string_view s) {
    if (s.empty()) return {0, false};
    const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char c = b(0);
    if (c < 0x80) return {1, true};
    // RFC 3629 §4 / Unicode Table 3-7: the range the second byte must be in, by lead byte.
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;         // no overlong 3-byte form
        if (c == 0xED) hi = 0x9F;         // no UTF-16 surrogate
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;         // no overlong 4-byte form
        if (c == 0xF4) hi = 0x8F;         // nothing above U+10FFFF
    } else {
        return {1, false};                // a continuation byte, C0/C1 (overlong) or F5..FF
    }
    for (std::size_t i = 1; i < n; ++i) {
        if (i >= s.size()) return {i, false};  // cut short: the bytes so far are one subpart
        const unsigned char x = b(i);
        if (i == 1 ? (x < lo || x > hi) : (x < 0x80 || x > 0xBF)) return {i, false};
    }
    return {n, true};
}

void append_json_string(std::string& out, std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    auto u_escape = [&](unsigned char c) {
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    };
    out += '"';
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            switch (c) {
                case '"': out += "\\\""; break;
                case '\\': out += "\\\\"; break;
                case '\n': out += "\\n"; break;
                case '\r': out += "\\r"; break;
                case '\t': out += "\\t"; break;
                default:
                    if (c < 0x20 || c == 0x7f)
                        u_escape(c);
                    else
                        out += static_cast<char>(c);
            }
            ++i;
            continue;
        }
        const Utf8Step step = next_utf8(s.substr(i));
        if (!step.valid)
            out += "\\ufffd";
        else if (step.size == 2 && c == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0)
            u_escape(static_cast<unsigned char>(s[i + 1]));  // C1: U+0080..U+009F
        else
            out.append(s.substr(i, step.size));
        i += step.size;
    }
    out += '"';
}

}  // namespace edge::text
