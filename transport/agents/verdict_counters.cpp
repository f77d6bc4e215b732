// Agent verdict counters: see verdict_counters.hpp.
#include "verdict_counters.hpp"

#include <fmt/format.h>

namespace edge::agents {

void VerdictCounters::count(std::string_view agent, std::string_view action) {
    std::lock_guard lock(mutex_);
    auto key = std::make_pair(std::string(agent), std::string(action));
    ++counts_[std::move(key)];
}

std::vector<VerdictCounters::Row> VerdictCounters::rows() const {
    std::lock_guard lock(mutex_);
    std::vector<Row> out;
    out.reserve(counts_.size());
    for (const auto& [key, n] : counts_) out.push_back(Row{key.first, key.second, n});
    return out;
}

std::uint64_t VerdictCounters::total() const {
    std::lock_guard lock(mutex_);
    std::uint64_t n = 0;
    for (const auto& [key, c] : counts_) n += c;
    return n;
}

std::string counters_text(const std::vector<VerdictCounters::Row>& rows) {
    std::string out;
    for (const auto& r : rows) {
        if (!out.empty()) out += ", ";
        out += fmt::format("{} {}={}", r.agent, r.action, r.count);
    }
    return out.empty() ? "none" : out;
}

}  // namespace edge::agents
