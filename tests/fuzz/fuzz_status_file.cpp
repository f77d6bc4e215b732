// The back-pressure status file (transport/backpressure/status_file.cpp): written by
// the server, read by edgectl Get-BackPressure from the data directory, where a torn
// write, a full disk or another user's hand may have left anything.
#include "back_pressure.hpp"
#include "fuzz_target.hpp"

using namespace edge::backpressure;

FUZZ_TARGET(status_file) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto snap = parse_snapshot(text);
    if (!snap) return 0;
    // What reads, writes back in the one canonical form, which reads back the same.
    std::string once = serialize_snapshot(*snap);
    auto again = parse_snapshot(once);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(serialize_snapshot(*again) == once);
    FUZZ_CHECK(again->resources.size() == snap->resources.size());
    (void)describe(*snap);
    return 0;
}
