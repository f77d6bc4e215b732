// Small ASCII text helpers shared by the routing parsers. Domain names compare
// without regard to ASCII case (RFC 5321 §2.4); nothing here depends on the locale.
#pragma once

#include <string>
#include <string_view>

namespace edge::routing {

inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

inline std::string to_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = ascii_lower(c);
    return out;
}

inline bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

inline std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// The input quoted for an error message: at most 80 characters, control and non-ASCII
// bytes shown as \xNN, so nothing a configuration file holds can garble a log line.
inline std::string quote(std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "'";
    std::size_t n = 0;
    for (char ch : s) {
        if (++n > 80) {
            out += "...";
            break;
        }
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c >= 0x7f || c == '\\' || c == '\'') {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else {
            out += ch;
        }
    }
    return out + "'";
}

}  // namespace edge::routing
