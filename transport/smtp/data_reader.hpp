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

// The largest message any session may send, BypassMessageSizeLimit or not: the upper
// bound of MaxMessageSize (reference §1.2). Bounds DATA and BDAT alike.
inline constexpr std::uint64_t kLargestMessage = 2147483647;

// A message body as it arrives, in a few large buffers: bytes are appended to the
// last one until it holds kBufferSize, then a new one begins. However the client cuts
// its message (ten million one-byte BDAT chunks, or lines of one byte), the memory
// held is the size plus at most one buffer's slack, never a string per piece.
class MessageBuffer {
public:
    static constexpr std::size_t kBufferSize = 64 * 1024;

    void append(std::string_view bytes);
    void clear();
    std::uint64_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    // Bytes of memory the buffers hold (their capacity), for the session memory total.
    std::uint64_t held() const { return held_; }
    const std::vector<std::string>& buffers() const { return buffers_; }
    // Moves the buffers out (MessageBody::chunks); the buffer is empty after.
    std::vector<std::string> take();

private:
    std::vector<std::string> buffers_;
    std::uint64_t size_ = 0, held_ = 0;
};

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
    // The same as the buffer it was stored in (empty after a refusal).
    MessageBuffer take_buffer();
    std::uint64_t size() const { return size_; }  // bytes of message seen (stored or not)
    std::uint64_t held() const { return body_.held(); }  // memory the stored part holds
    // The server has no room for more of this body (the session memory limit): nothing
    // more is stored and the message ends with 452 4.3.1, the reader still looking
    // for its end so the session stays in step with the client.
    void stop_storing();

private:
    enum class State : std::uint8_t { LineStart, InLine, SawCR, Dot, DotCR, Done };
    void emit(char c);
    void emit_run(std::string_view run);
    void in_line(char c);
    void emit_line_end();
    void bare_line_ending() { bare_ = true; }

    Limits limits_;
    State state_ = State::LineStart;
    MessageBuffer body_;
    std::uint64_t size_ = 0;
    bool in_header_ = true;
    bool line_empty_ = true;  // the current line has no character yet (for the header end)
    bool bare_ = false, too_big_ = false, header_too_big_ = false, no_room_ = false;
};

}  // namespace edge::smtp
