// The DATA reader: turns the bytes after "354" into the message, byte by byte as
// they arrive, without ever buffering a line.
//   - Only <CRLF>.<CRLF> ends the data (RFC 5321 §4.1.1.4). A bare LF or a bare CR is
//     never a line end: "\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n", "\r.\r\n" end nothing
//     (SMTP smuggling, CVE-2023-51764). A message that holds one is refused when the
//     real end arrives, and nothing of it is queued.
//   - Dot-stuffing is undone (RFC 5321 §4.5.2).
//   - MaxMessageSize and MaxHeaderSize are enforced while streaming: past a limit
//     the reader keeps looking for the end but stores nothing more, so no input grows
//     memory beyond the limits.
#pragma once

#include "replies.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::smtp {

class DataReader {
public:
    struct Limits {
        std::uint64_t max_message_size = 10 * 1024 * 1024;  // ReceiveConnector MaxMessageSize
        std::uint64_t max_header_size = 64 * 1024;          // ReceiveConnector MaxHeaderSize
    };

    explicit DataReader(Limits limits) : limits_(limits) {}

    // Consumes input up to and including the end-of-data line; returns how many
    // bytes it took. What follows (pipelined commands) is the caller's to keep.
    std::size_t feed(std::string_view in);
    bool done() const { return state_ == State::Done; }

    // After done(): nullopt when the message may be queued, else the reply.
    std::optional<ReplyId> refusal() const;
    // The message as it will be stored, CRLF line ends, dots unstuffed, in chunks
    // (MessageBody::chunks). Empty after a refusal.
    std::vector<std::string> take_body();
    std::uint64_t size() const { return size_; }  // bytes of message seen (stored or not)

private:
    enum class State : std::uint8_t { LineStart, InLine, SawCR, Dot, DotCR, Done };
    void emit(char c);
    void emit_run(std::string_view run);
    void in_line(char c);
    void emit_line_end();
    void bare_line_ending() { bare_ = true; }

    Limits limits_;
    State state_ = State::LineStart;
    std::vector<std::string> chunks_;
    std::uint64_t size_ = 0;
    bool in_header_ = true;
    bool line_empty_ = true;  // the current line has no character yet (for the header end)
    bool bare_ = false, too_big_ = false, header_too_big_ = false;
};

}  // namespace edge::smtp
