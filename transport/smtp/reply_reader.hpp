// Replies from an SMTP server as the client reads them (RFC 5321 §4.2): raw bytes
// in, whole (multi-line) replies out, with their enhanced status code (RFC 2034,
// RFC 3463) split off. Pure and bounded: a line over kMaxReplyLine bytes, a reply of
// more than kMaxReplyLines lines or a line that is not a reply puts the reader in an
// error state; it never holds more than one line and one reply in progress.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::smtp {

// RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; we take what a lenient
// server might send, and no more.
inline constexpr std::size_t kMaxReplyLine = 2048;  // bytes, line end excluded
inline constexpr std::size_t kMaxReplyLines = 100;

struct Reply {
    int code = 0;
    std::string enhanced;            // "5.1.1" when the peer gave one whose class matches the code
    std::vector<std::string> lines;  // the text after "ddd-"/"ddd ", the enhanced code removed
    // One line for LastError, logs and DSNs: "550 5.1.1 User unknown", the lines of a
    // multi-line reply joined with spaces.
    std::string text() const;
    int kind() const { return code / 100; }  // 2, 3, 4 or 5
    // The enhanced code to report: the peer's, else its class with 0.0 (RFC 3463 §3.1).
    std::string status() const;
};

class ReplyReader {
public:
    // Takes any number of bytes; complete replies wait in next(). After an error
    // everything is ignored.
    void feed(std::string_view bytes);
    std::optional<Reply> next();
    bool failed() const { return !error_.empty(); }
    const std::string& error() const { return error_; }  // what was wrong, for LastError
    // Nothing buffered: no partial line and no reply waiting. After a 220 to STARTTLS
    // anything here came in clear and must never be read as a reply over TLS.
    bool empty() const { return line_.empty() && current_.lines.empty() && ready_.empty(); }
    // Bytes held for the line and the reply in progress (for the memory-bound test).
    std::size_t buffered() const;

private:
    void take_line(std::string_view line);
    void fail(std::string why);

    std::string line_;  // the line in progress, without its end
    Reply current_;     // the multi-line reply in progress
    std::deque<Reply> ready_;
    std::string error_;
};

}  // namespace edge::smtp
