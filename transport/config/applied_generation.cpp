// The applied-generation answer of the server's "config" socket and edgectl's wait for
// it (applied_generation.hpp).
#include "applied_generation.hpp"

#include "data_dir_lock.hpp"

#include <fmt/format.h>

#include <charconv>
#include <thread>

namespace edge::config {

namespace {
constexpr std::string_view kAppliedGenerationKey = "AppliedConfigGeneration=";
}  // namespace

std::string applied_generation_socket_name(const std::string& data_dir) {
    return queue::server_socket_name(data_dir, "config");
}

std::string format_applied_generation(std::uint64_t generation) { return fmt::format("{}{}\n", kAppliedGenerationKey, generation); }

std::optional<std::uint64_t> parse_applied_generation(std::string_view text) {
    if (!text.starts_with(kAppliedGenerationKey) || !text.ends_with('\n')) return std::nullopt;
    std::string_view digits = text.substr(kAppliedGenerationKey.size(), text.size() - kAppliedGenerationKey.size() - 1);
    // One canonical form: what format_applied_generation() writes.
    if (digits.empty() || (digits.size() > 1 && digits.front() == '0')) return std::nullopt;
    for (char c : digits)
        if (c < '0' || c > '9') return std::nullopt;
    std::uint64_t g = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), g);
    if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;  // beyond 2^64-1
    return g;
}

ApplyWait wait_until_applied(const std::string& data_dir, std::uint64_t generation, std::chrono::milliseconds limit) {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + limit;
    const std::string name = applied_generation_socket_name(data_dir);
    ApplyWait w;
    while (true) {
        auto pid = queue::running_server_pid(data_dir);
        if (!pid) {
            w.outcome = ApplyWait::Outcome::no_server;
            return w;
        }
        w.server_pid = *pid;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() > 0) {
            // The answer is one short line; a server that takes longer than the rest of
            // our time to read its config store is the "not applied" we report.
            auto text = queue::read_server_socket(name, *pid, left, 64, &w.why);
            if (text) {
                if (auto g = parse_applied_generation(*text)) {
                    w.applied = g;
                    if (*g >= generation) {
                        w.outcome = ApplyWait::Outcome::applied;
                        return w;
                    }
                    w.why = fmt::format("it has applied generation {}, this change is generation {}", *g, generation);
                } else if (text->empty()) {
                    // Asking again changes nothing: we are not root or the server's user.
                    w.why = "it closed without an answer: it answers root and its own user only";
                    break;
                } else {
                    w.why = "it sent a damaged answer";
                }
            }
        }
        if (Clock::now() + std::chrono::milliseconds(100) > deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    w.outcome = ApplyWait::Outcome::not_applied;
    return w;
}

}  // namespace edge::config
