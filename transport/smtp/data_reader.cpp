// The DATA byte machine. States, at each byte:
//   LineStart  a line has just begun (after CRLF, or at the start)
//   InLine     inside a line
//   SawCR      inside a line, the last byte was CR
//   Dot        the line began with '.', not yet stored
//   DotCR      the line is "." CR so far: LF now ends the data
#include "data_reader.hpp"

#include <algorithm>

namespace edge::smtp {

namespace {
constexpr std::size_t kChunk = 64 * 1024;
}

// Stores a run of message bytes (the whole of a line between its start and its CR,
// in the common case), keeping the limits exact: past one, nothing more is kept.
void DataReader::emit_run(std::string_view run) {
    if (run.empty()) return;
    size_ += run.size();
    line_empty_ = false;
    if (size_ > limits_.max_message_size) too_big_ = true;
    if (in_header_ && size_ > limits_.max_header_size) header_too_big_ = true;
    if (too_big_ || header_too_big_ || bare_) {
        chunks_.clear();  // refused whatever comes: keep nothing
        return;
    }
    while (!run.empty()) {
        if (chunks_.empty() || chunks_.back().size() >= kChunk) {
            chunks_.emplace_back();
            chunks_.back().reserve(std::min<std::size_t>(kChunk, std::max<std::size_t>(run.size(), 4096)));
        }
        std::size_t take = std::min(kChunk - chunks_.back().size(), run.size());
        chunks_.back().append(run.data(), take);
        run.remove_prefix(take);
    }
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
    return std::nullopt;
}

std::vector<std::string> DataReader::take_body() {
    if (refusal()) return {};
    return std::move(chunks_);
}

}  // namespace edge::smtp
