// The DATA byte machine. States, at each byte:
//   LineStart  a line has just begun (after CRLF, or at the start)
//   InLine     inside a line
//   SawCR      inside a line, the last byte was CR
//   Dot        the line began with '.', not yet stored
//   DotCR      the line is "." CR so far: LF now ends the data
#include "data_reader.hpp"

#include <algorithm>
#include <utility>

namespace edge::smtp {

void MessageBuffer::append(std::string_view bytes) {
    size_ += bytes.size();
    while (!bytes.empty()) {
        if (buffers_.empty() || buffers_.back().size() >= kBufferSize) {
            // A small first buffer for small messages; full-size ones after it.
            std::size_t want = buffers_.empty() ? std::max<std::size_t>(bytes.size(), 4096) : kBufferSize;
            buffers_.emplace_back();
            buffers_.back().reserve(std::min(want, kBufferSize));
            held_ += buffers_.back().capacity();
        }
        std::string& last = buffers_.back();
        std::size_t take = std::min(kBufferSize - last.size(), bytes.size());
        std::size_t before = last.capacity();
        // Grow to kBufferSize at most: std::string would double past it.
        if (last.size() + take > before) last.reserve(std::min(kBufferSize, std::max(before * 2, last.size() + take)));
        last.append(bytes.data(), take);
        held_ += last.capacity() - before;
        bytes.remove_prefix(take);
    }
}

void MessageBuffer::clear() {
    buffers_.clear();
    buffers_.shrink_to_fit();
    size_ = held_ = 0;
}

std::vector<std::string> MessageBuffer::take() {
    std::vector<std::string> out = std::move(buffers_);
    clear();
    return out;
}

// Stores a run of message bytes (the whole of a line between its start and its CR,
// in the common case), keeping the limits exact: past one, nothing more is kept.
void DataReader::emit_run(std::string_view run) {
    if (run.empty()) return;
    size_ += run.size();
    line_empty_ = false;
    if (size_ > limits_.max_message_size) too_big_ = true;
    if (in_header_ && size_ > limits_.max_header_size) header_too_big_ = true;
    if (too_big_ || header_too_big_ || bare_ || no_room_) {
        if (!body_.empty()) body_.clear();  // refused whatever comes: keep nothing
        return;
    }
    body_.append(run);
}

void DataReader::stop_storing() {
    no_room_ = true;
    body_.clear();
}

void DataReader::emit(char c) { emit_run(std::string_view(&c, 1)); }

void DataReader::emit_line_end() {
    // An empty line ends the header section (RFC 5322 §2.1).
    if (in_header_ && line_empty_) in_header_ = false;
    emit('\r');
    emit('\n');
    line_empty_ = true;
}

// A byte inside a line: CR waits for its LF; an LF without CR is no line end (it is
// stored and marks the message refused); anything else is stored.
void DataReader::in_line(char c) {
    if (c == '\r') {
        state_ = State::SawCR;
        return;
    }
    if (c == '\n') bare_line_ending();
    emit(c);
    state_ = State::InLine;
}

std::size_t DataReader::feed(std::string_view in) {
    std::size_t i = 0;
    while (i < in.size() && state_ != State::Done) {
        char c = in[i++];
        switch (state_) {
            case State::LineStart:
                if (c == '.')
                    state_ = State::Dot;
                else
                    in_line(c);
                break;
            case State::InLine: {
                // The bytes up to the next CR or LF are ordinary: store them in one go.
                in_line(c);
                if (state_ != State::InLine) break;
                std::size_t end = i;
                while (end < in.size() && in[end] != '\r' && in[end] != '\n') ++end;
                emit_run(in.substr(i, end - i));
                i = end;
                break;
            }
            case State::SawCR:
                if (c == '\n') {
                    emit_line_end();
                    state_ = State::LineStart;
                } else {
                    bare_line_ending();  // the CR before this byte was bare
                    emit('\r');
                    in_line(c);
                }
                break;
            case State::Dot:
                // RFC 5321 §4.5.2: a leading dot is removed; "." CRLF ends the data.
                if (c == '\r')
                    state_ = State::DotCR;
                else
                    in_line(c);
                break;
            case State::DotCR:
                if (c == '\n') {
                    state_ = State::Done;
                } else {
                    bare_line_ending();
                    emit('\r');
                    in_line(c);
                }
                break;
            case State::Done: break;
        }
    }
    return i;
}

std::optional<ReplyId> DataReader::refusal() const {
    if (bare_) return ReplyId::BareLineEnding;
    if (header_too_big_) return ReplyId::HeaderTooBig;
    if (too_big_) return ReplyId::MessageTooBig;
    if (no_room_) return ReplyId::InsufficientResources;
    return std::nullopt;
}

std::vector<std::string> DataReader::take_body() { return take_buffer().take(); }

MessageBuffer DataReader::take_buffer() {
    MessageBuffer out;
    if (!refusal()) std::swap(out, body_);
    return out;
}

}  // namespace edge::smtp
