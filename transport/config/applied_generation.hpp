// The configuration generation the running server has applied (issue 21), and edgectl's
// wait for it. Every config-store change raises the generation (QueueDb::config_generation);
// the server answers on its "config" socket (queue::server_socket_name(data, "config"))
// with the generation its live snapshot was read at. A connection is also the request to
// apply now: the server re-reads a config store whose generation moved before it answers,
// so a change is live for the next session when the answer arrives, not a poll later.
// The answer, one line, nothing else:
//
//   AppliedConfigGeneration=<decimal, no sign, no leading zero>\n
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace edge::config {

std::string applied_generation_socket_name(const std::string& data_dir);  // starts with '\0'
std::string format_applied_generation(std::uint64_t generation);
// The generation, or nullopt when `text` is not exactly the answer above.
std::optional<std::uint64_t> parse_applied_generation(std::string_view text);

// After a change that raised the config generation to `generation`: asks the running
// server of `data_dir` to apply it, again every 100 ms while it has not (a server that is
// starting has not bound its socket yet), until `limit`.
struct ApplyWait {
    enum class Outcome {
        applied,      // the server runs and has applied `generation` (or a later one)
        no_server,    // no server runs on the data directory: the change takes effect at its start
        not_applied,  // the server runs but has not applied it within `limit`; `why` says what was seen
    };
    Outcome outcome = Outcome::no_server;
    pid_t server_pid = 0;
    std::optional<std::uint64_t> applied;  // the last generation the server said it had applied
    std::string why;
};
ApplyWait wait_until_applied(const std::string& data_dir, std::uint64_t generation, std::chrono::milliseconds limit);

}  // namespace edge::config
