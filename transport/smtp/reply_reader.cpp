// The reply reader: lines split at LF (a CR before it dropped), checked against the
// reply grammar of RFC 5321 §4.2, gathered into replies, bounded in memory.
#include "reply_reader.hpp"

namespace edge::smtp {

namespace {
bool digit(char c) { return c >= '0' && c <= '9'; }

// RFC 5321 §4.2: three digits, the first 2-5 (SMTP has no 1yz), the second 0-5.
bool valid_code(std::string_view s) {
    return s.size() >= 3 && s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '5' && digit(s[2]);
}

// RFC 3463 §2: class "." subject "." detail, subject and detail 1-3 digits. Taken
// only when its class is the reply's (RFC 2034 §4), so "550 4.2.2 …" keeps its text.
std::size_t enhanced_length(std::string_view text, char reply_class) {
    if (text.size() < 5 || text[0] != reply_class || text[1] != '.') return 0;
    std::size_t i = 2;
    for (int part = 0; part < 2; ++part) {
        std::size_t start = i;
        while (i < text.size() && digit(text[i]) && i - start < 4) ++i;
        if (i == start || i - start > 3) return 0;
        if (part == 0) {
            if (i >= text.size() || text[i] != '.') return 0;
            ++i;
        }
    }
    if (i < text.size() && text[i] != ' ') return 0;
    return i;
}
}  // namespace

std::string Reply::text() const {
    std::string out = std::to_string(code);
    if (!enhanced.empty()) out += " " + enhanced;
    for (const auto& l : lines)
        if (!l.empty()) out += " " + l;
    return out;
}

std::string Reply::status() const {
    if (!enhanced.empty()) return enhanced;
    return std::to_string(kind()) + ".0.0";
}

std::size_t ReplyReader::buffered() const {
    std::size_t n = line_.capacity();
    for (const auto& l : current_.lines) n += l.capacity();
    return n;
}

void ReplyReader::fail(std::string why) {
    error_ = std::move(why);
    // Give the memory back: a failed reader holds nothing.
    std::string().swap(line_);
    current_ = Reply{};
    ready_.clear();
}

void ReplyReader::feed(std::string_view bytes) {
    while (!bytes.empty() && !failed()) {
        std::size_t lf = bytes.find('\n');
        std::string_view piece = bytes.substr(0, lf);
        // The check comes before the append, so an endless line never grows the buffer
        // past the limit (one CR of the line end is allowed on top).
        if (line_.size() + piece.size() > kMaxReplyLine + 1) {
            fail("reply line longer than " + std::to_string(kMaxReplyLine) + " bytes");
            return;
        }
        line_.append(piece);
        if (lf == std::string_view::npos) return;
        bytes.remove_prefix(lf + 1);
        // Servers that end lines with a bare LF exist; reading them is harmless on the
        // client side (nothing is relayed from a reply), so LF ends a reply line.
        if (!line_.empty() && line_.back() == '\r') line_.pop_back();
        if (line_.size() > kMaxReplyLine) {
            fail("reply line longer than " + std::to_string(kMaxReplyLine) + " bytes");
            return;
        }
        take_line(line_);
        line_.clear();
    }
}

void ReplyReader::take_line(std::string_view line) {
    if (!valid_code(line) || (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
        std::string shown(line.substr(0, 40));
        for (char& c : shown)
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
        fail("malformed reply line \"" + shown + "\"");
        return;
    }
    int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    bool more = line.size() > 3 && line[3] == '-';
    if (!current_.lines.empty() && code != current_.code) {
        fail("reply line with code " + std::to_string(code) + " inside a " + std::to_string(current_.code) + " reply");
        return;
    }
    if (current_.lines.size() >= kMaxReplyLines) {
        fail("reply longer than " + std::to_string(kMaxReplyLines) + " lines");
        return;
    }
    std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view();
    std::size_t e = enhanced_length(text, line[0]);
    if (current_.lines.empty()) {
        current_.code = code;
        current_.enhanced = std::string(text.substr(0, e));
    } else if (e == 0 || text.substr(0, e) != current_.enhanced) {
        e = 0;  // a continuation line keeps its text unless it repeats the first line's code
    }
    if (e != 0) text.remove_prefix(e < text.size() ? e + 1 : e);
    // Control characters would split a log line or a DSN field: they become '?'.
    std::string clean(text);
    for (char& c : clean)
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) c = '?';
    current_.lines.push_back(std::move(clean));
    if (!more) {
        ready_.push_back(std::move(current_));
        current_ = Reply{};
    }
}

std::optional<Reply> ReplyReader::next() {
    if (ready_.empty()) return std::nullopt;
    Reply r = std::move(ready_.front());
    ready_.pop_front();
    return r;
}

}  // namespace edge::smtp
