// A wait group for shutdown: members join (add) and leave (done); one coroutine waits
// until all have left or a deadline passes, woken by the last one to leave instead of
// polling. Single-threaded: every call on the executor's one thread, one waiter at a time.
#pragma once

#include "asio.hpp"

#include <cassert>
#include <chrono>
#include <cstddef>

namespace edge::async {

class WaitGroup {
public:
    explicit WaitGroup(const asio::any_io_executor& ex) : timer_(ex) {}
    WaitGroup(const WaitGroup&) = delete;
    WaitGroup& operator=(const WaitGroup&) = delete;

    void add(std::size_t n = 1) { count_ += n; }
    void done() {
        assert(count_ > 0);
        if (--count_ == 0) timer_.cancel();  // wakes the waiter now
    }
    std::size_t count() const { return count_; }

    // Waits until every member is done or `deadline` passes. True when all are done.
    asio::awaitable<bool> wait_until(std::chrono::steady_clock::time_point deadline) {
        while (count_ > 0 && std::chrono::steady_clock::now() < deadline) {
            timer_.expires_at(deadline);
            co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        co_return count_ == 0;
    }
    asio::awaitable<void> wait() { co_await wait_until(std::chrono::steady_clock::time_point::max()); }

private:
    std::size_t count_ = 0;
    asio::steady_timer timer_;
};

}  // namespace edge::async
