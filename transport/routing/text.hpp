// Text helpers of the routing parsers: the shared ASCII ones (text/text_helpers.hpp)
// and quote(). Domain names compare without regard to ASCII case (RFC 5321 §2.4);
// nothing here depends on the locale.
#pragma once

#include "text_helpers.hpp"

#include <string>
#include <string_view>

namespace edge::routing {

// The ASCII helpers live in text/ (one home, issue 16); routing's parsers name them here.
using text::ascii_lower;
using text::iequals;
using text::to_lower;
using text::trim;

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
