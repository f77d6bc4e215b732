// What a log file or edgectl output may hold once escaped (issue 13): no byte a
// terminal or a line reader acts on. Shared by the logging unit tests and the wire test.
#pragma once

#include "csv_log.hpp"
#include "text_helpers.hpp"

#include <string_view>

namespace edge::test {

// The first byte a terminal or a line reader would act on (a C0 control but the LF
// that ends a line, DEL, a C1 control raw or as UTF-8, or a byte that is not
// well-formed UTF-8), or npos when there is none.
inline std::size_t first_unsafe_byte(std::string_view bytes) {
    for (std::size_t i = 0; i < bytes.size();) {
        const auto c = static_cast<unsigned char>(bytes[i]);
        if (c < 0x80) {
            if ((c < 0x20 && c != '\n') || c == 0x7F) return i;
            ++i;
            continue;
        }
        const auto step = edge::text::next_utf8(bytes.substr(i));
        if (!step.valid || (c == 0xC2 && static_cast<unsigned char>(bytes[i + 1]) < 0xA0)) return i;
        i += step.size;
    }
    return std::string_view::npos;
}

inline bool terminal_safe(std::string_view bytes) { return first_unsafe_byte(bytes) == std::string_view::npos; }

}  // namespace edge::test
