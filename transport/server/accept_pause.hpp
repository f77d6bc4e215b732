// What every acceptor of the server does when accept(2) fails: pause, never spin.
// The listening socket stays readable after a failure, so the next accept fails at
// once: out of descriptors (EMFILE, ENFILE), of buffers (ENOBUFS, ENOMEM), or anything
// else. Issue 13: the EdgeSync acceptor's `if (ec) continue;` burnt 4.4 CPU-seconds in
// 5 s with one connection waiting and the descriptor table full. Used by the SMTP
// listeners (server.cpp) and the EdgeSync listener (sync_listener.cpp).
#pragma once

#include "asio.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace edge::server {

class AcceptErrorPause {
public:
    // Long enough that a full descriptor table costs ~10 wake-ups a second, short
    // enough that a freed descriptor is used at once for the next client.
    static constexpr std::chrono::milliseconds kPause{100};
    // The log says so at most this often (a flood would otherwise write 10 lines a second).
    static constexpr std::chrono::seconds kLogEvery{10};

    // `what` names the acceptor in the log line: "accept on 0.0.0.0:25".
    explicit AcceptErrorPause(std::string what) : what_(std::move(what)) {}

    // The line to log for this failure, or nullopt when one was logged less than
    // kLogEvery ago (the next one says how many were not).
    std::optional<std::string> note(const boost::system::error_code& ec) {
        const auto now = std::chrono::steady_clock::now();
        if (said_ && now - last_said_ < kLogEvery) {
            ++unsaid_;
            return std::nullopt;
        }
        std::string line = fmt::format("{}: {}; pausing {} ms before the next accept", what_, ec.message(), kPause.count());
        if (unsaid_ > 0) line += fmt::format(" ({} more failures since the last report)", unsaid_);
        said_ = true;
        last_said_ = now;
        unsaid_ = 0;
        return line;
    }

    // The pause itself. A named timer in this frame; the caller awaits it directly.
    static asio::awaitable<void> pause(asio::io_context& io) {
        asio::steady_timer t(io);
        t.expires_after(kPause);
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }

private:
    std::string what_;
    bool said_ = false;
    std::chrono::steady_clock::time_point last_said_{};
    std::uint64_t unsaid_ = 0;
};

}  // namespace edge::server
