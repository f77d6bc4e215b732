// Runs a blocking call (a queue-db write: an fsync) on a thread pool and resumes the
// calling coroutine on its I/O context, so no fsync ever stalls the sessions. Plain
// handlers, no coroutine lambda: GCC 12 miscompiles captures of coroutine lambdas
// handed to co_spawn (a capture destroyed twice, seen under ASan).
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <optional>
#include <type_traits>

namespace edge::async {

template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> run_blocking(boost::asio::io_context& io, boost::asio::thread_pool& pool,
                                                              F f) {
    namespace asio = boost::asio;
    using R = std::invoke_result_t<F&>;
    auto result = std::make_shared<std::optional<R>>();
    auto work = std::make_shared<F>(std::move(f));
    auto initiate = [&io, &pool, result, work](auto handler) {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        asio::post(pool, [&io, result, work, h] {
            result->emplace((*work)());
            asio::post(io, [h] { std::move(*h)(); });
        });
    };
    co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(initiate, asio::use_awaitable);
    co_return std::move(**result);
}

// CPU work (DKIM's hashing and RSA, issue 18) on `pool`, resuming on the calling
// coroutine's executor, so the I/O thread keeps serving sessions meanwhile. Without a
// pool (unit tests, a server that has none) `f` runs right here.
template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> run_on(boost::asio::thread_pool* pool, F f) {
    namespace asio = boost::asio;
    if (pool == nullptr) co_return f();
    using R = std::invoke_result_t<F&>;
    auto ex = co_await asio::this_coro::executor;
    auto result = std::make_shared<std::optional<R>>();
    auto work = std::make_shared<F>(std::move(f));
    auto initiate = [ex, pool, result, work](auto handler) {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        asio::post(*pool, [ex, result, work, h] {
            result->emplace((*work)());
            asio::post(ex, [h] { std::move(*h)(); });
        });
    };
    co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(initiate, asio::use_awaitable);
    co_return std::move(**result);
}

}  // namespace edge::async
