// The one bridge from a completion callback to a coroutine: how a session awaits a
// queue-db completion (QueueDb::enqueue_async, record_delivery_async), whose handler
// runs on the committer thread. The coroutine resumes on its own executor, never on
// the caller's thread.
#pragma once

#include "asio.hpp"

#include <memory>
#include <tuple>
#include <utility>

namespace edge::async {

// Completion tokens name a const object (async_initiate takes the token by reference).
inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// co_await await_completion<std::error_code, queue::MessageId>(
//     [&](auto done) { db.enqueue_async(std::move(m), std::move(done)); });
// `start` is called at once with a copyable callback `done(Args...)`, which may be
// called once, from any thread. The result is the callback's arguments as a tuple:
// errors are values (as_tuple), never exceptions.
template <class... Args, class Start>
auto await_completion(Start start) {
    auto initiate = [](auto handler, Start begin) {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        // The coroutine's executor: the completion is posted there, whichever thread calls.
        auto ex = asio::get_associated_executor(*h);
        std::move(begin)([h, ex](Args... args) {
            asio::post(ex, [h, t = std::make_tuple(std::move(args)...)]() mutable {
                std::apply([&h](auto&&... a) { std::move(*h)(std::move(a)...); }, std::move(t));
            });
        });
    };
    return asio::async_initiate<decltype(use_tuple), void(Args...)>(std::move(initiate), use_tuple, std::move(start));
}

}  // namespace edge::async
