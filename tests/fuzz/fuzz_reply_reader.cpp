// The client side's reply reader (transport/smtp/reply_reader.*): what a remote server
// (or anyone who answers on port 25) sends us.
#include "fuzz_target.hpp"
#include "reply_reader.hpp"

#include <string>
#include <vector>

using namespace edge::smtp;

namespace {
struct Read {
    std::vector<std::string> texts;
    bool failed = false;
};

Read read(std::string_view stream, edge::fuzz::Tape* splits) {
    ReplyReader r;
    Read out;
    std::size_t at = 0;
    while (at < stream.size()) {
        std::size_t n = stream.size() - at;
        if (splits != nullptr && !splits->empty()) n = std::min<std::size_t>(n, 1 + splits->byte() % 128);
        r.feed(stream.substr(at, n));
        at += n;
        // Never more than one line and one reply in progress.
        FUZZ_CHECK_AT("reply_reader", r.buffered() <= 2 * (kMaxReplyLine + 1) * (kMaxReplyLines + 1));
        while (auto reply = r.next()) {
            FUZZ_CHECK_AT("reply_reader", reply->code >= 200 && reply->code <= 599);
            FUZZ_CHECK_AT("reply_reader", !reply->lines.empty() && reply->lines.size() <= kMaxReplyLines);
            for (const auto& l : reply->lines) {
                FUZZ_CHECK_AT("reply_reader", l.size() <= kMaxReplyLine);
                FUZZ_CHECK_AT("reply_reader", l.find_first_of("\r\n") == std::string::npos);
            }
            if (!reply->enhanced.empty()) FUZZ_CHECK_AT("reply_reader", reply->enhanced[0] == static_cast<char>('0' + reply->kind()));
            auto status = reply->status();
            FUZZ_CHECK_AT("reply_reader", status.size() >= 5 && status[1] == '.');
            out.texts.push_back(reply->text());
        }
    }
    out.failed = r.failed();
    // A failed reader gives its memory back (an empty std::string keeps its small buffer).
    if (out.failed) FUZZ_CHECK_AT("reply_reader", r.buffered() <= sizeof(std::string) && !r.error().empty());
    return out;
}
}  // namespace

FUZZ_TARGET(reply_reader) {
    edge::fuzz::Tape tape(data, size);
    std::string splits(tape.take(tape.byte() % 32));
    std::string_view stream = tape.rest();
    Read whole = read(stream, nullptr);
    edge::fuzz::Tape split_tape(reinterpret_cast<const std::uint8_t*>(splits.data()), splits.size());
    Read pieces = read(stream, &split_tape);
    // The replies do not depend on how TCP cut the stream.
    FUZZ_CHECK(whole.failed == pieces.failed);
    if (!whole.failed) FUZZ_CHECK(whole.texts == pieces.texts);
    return 0;
}
