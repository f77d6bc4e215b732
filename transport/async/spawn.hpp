// The one way to start a coroutine: spawn() instead of co_spawn(…, detached). An
// exception that escapes the coroutine is not lost: it is logged with what the
// coroutine was (a session id, "delivery scheduler") and counted (style.md §6, §17).
#pragma once

#include "asio.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace edge::async {

// Starts `work` on `ex`. When it ends, `done` (if any) runs on `ex`, whether the
// coroutine returned or threw; a thrown exception is first logged as
// "<what> ended by an exception: <reason>" and counted.
void spawn(const asio::any_io_executor& ex, asio::awaitable<void> work, std::string what,
           std::function<void()> done = {});

// Where escaped exceptions are written: the server sets its own log line writer; by
// default stderr. Set once at start, before any spawn.
void set_escaped_exception_log(std::function<void(const std::string&)> log);
// How many coroutines ended by an exception since the process started.
std::uint64_t escaped_exceptions();

}  // namespace edge::async
