// Counts of agent verdicts by agent and action (Exchange's action words), kept by the
// server for the metrics issue and said in its stop line. Every verdict the agent log
// would get is counted, whether or not the agent log is enabled.
#pragma once

#include "pipeline.hpp"

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edge::agents {

class VerdictCounters {
public:
    struct Row {
        std::string agent, action;  // "Connection Filtering Agent", "RejectCommand"
        std::uint64_t count = 0;
    };
    void count(std::string_view agent, std::string_view action);
    // By agent, then action (a stable order for logs and tests).
    std::vector<Row> rows() const;
    std::uint64_t total() const;

private:
    // A mutex, not atomics: verdicts that are not Continue are few next to messages,
    // and a new agent or action needs an insert anyway.
    mutable std::mutex mutex_;
    std::map<std::pair<std::string, std::string>, std::uint64_t, std::less<>> counts_;
};

// "Sender Filter Agent RejectCommand=3, ..." — the server's stop line.
std::string counters_text(const std::vector<VerdictCounters::Row>& rows);

}  // namespace edge::agents
