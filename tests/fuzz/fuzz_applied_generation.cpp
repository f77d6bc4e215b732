// The running server's answer on its config socket (transport/config/applied_generation.*):
// edgectl believes only the lock holder's pid, but reads at most a line of whatever it sends.
#include "applied_generation.hpp"
#include "fuzz_target.hpp"

using namespace edge::config;

FUZZ_TARGET(applied_generation) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto g = parse_applied_generation(text);
    if (!g) return 0;
    // Only the one canonical form reads: it is exactly what the server writes.
    FUZZ_CHECK(format_applied_generation(*g) == text);
    return 0;
}
