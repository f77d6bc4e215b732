#pragma once
#include <string>

namespace edge::test {

// edgectl as the tests start it (~1500 times a run): without LeakSanitizer's start-up and
// exit scan of the binary's data (~40 % of an ASan edgectl run). A short-lived CLI's leak
// harms no one; the cmdlets' code stays leak-checked where edgectl_tests start it plainly
// and in the server, which shares it.
inline std::string edgectl_asan_options() { return "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0\""; }
inline std::string edgectl_command(const std::string& path) { return edgectl_asan_options() + " " + path; }

}  // namespace edge::test
