// The MIME walk and strip of the Attachment Filtering Agent (transport/mime/mime_walk.*):
// a stranger's message, any bytes. The walk must stay inside its limits and report
// ranges inside the message, in order; a strip must keep the bytes before the first
// replaced part and give a message that walks within the same limits with no more parts.
#include "fuzz_target.hpp"
#include "mime_walk.hpp"

using namespace edge;

FUZZ_TARGET(mime) {
    if (size < 1) return 0;
    const std::uint8_t choose = data[0];
    std::string_view message(reinterpret_cast<const char*>(data) + 1, size - 1);
    const mime::WalkLimits limits{8, 64};
    const mime::Walk w = mime::walk(message, limits);
    FUZZ_CHECK(!w.parts.empty() || w.status != mime::WalkStatus::Ok);
    FUZZ_CHECK(w.parts.size() <= limits.max_parts);
    for (std::size_t i = 0; i < w.parts.size(); ++i) {
        const auto& p = w.parts[i];
        FUZZ_CHECK(p.depth <= limits.max_depth);
        FUZZ_CHECK(p.begin <= p.body_begin && p.body_begin <= message.size());
        if (w.status == mime::WalkStatus::Ok) FUZZ_CHECK(p.body_begin <= p.end && p.end <= message.size());
        if (i > 0) {
            FUZZ_CHECK(p.parent < i);
            FUZZ_CHECK(w.parts[i - 1].begin <= p.begin);
            FUZZ_CHECK(p.depth == w.parts[p.parent].depth + 1);
        }
    }
    if (w.status != mime::WalkStatus::Ok) return 0;
    // Strip every part whose index matches the first byte's choice.
    std::vector<std::size_t> indices;
    for (std::size_t i = 0; i < w.parts.size(); ++i)
        if ((i + choose) % 4 == 0) indices.push_back(i);
    if (indices.empty()) return 0;
    const std::string out = mime::strip_parts(message, w, indices, "This attachment was removed.");
    const mime::Walk again = mime::walk(out, limits);
    FUZZ_CHECK(again.status == mime::WalkStatus::Ok);
    FUZZ_CHECK(again.parts.size() <= w.parts.size());
    // An attached message's top part stands for the attached message (strip_parts).
    std::size_t first = message.size();
    bool root = false;
    for (std::size_t i : indices) {
        const std::size_t replaced = i > 0 && w.parts[w.parts[i].parent].message ? w.parts[i].parent : i;
        root = root || replaced == 0;
        first = std::min(first, w.parts[replaced].begin);
    }
    if (!root) FUZZ_CHECK(out.compare(0, first, message.substr(0, first)) == 0);
    return 0;
}
