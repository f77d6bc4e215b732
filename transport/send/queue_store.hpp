// The delivery side's seam to the queue: QueueStore names only the QueueDb calls delivery
// makes (lease, record outcomes, defer a queue, promote what is due, …), so the scheduler
// and the outcome reporter run in unit tests against a fake. QueueDbStore forwards to the
// real queue::QueueDb; DeliveryContext is how delivery calls it (off the I/O thread, and
// tried again when a write that must not be dropped fails on a full disk).
#pragma once

#include "registry.hpp"

#include "queue_db.hpp"
#include "run_blocking.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace edge::send {

class QueueStore {
public:
    virtual ~QueueStore() = default;

    // The retry index and the ready queues (the scheduler).
    virtual std::optional<queue::Timestamp> next_retry_due() const = 0;
    virtual queue::Result<std::vector<queue::QueueId>> promote_due(queue::Timestamp now) = 0;
    virtual std::vector<queue::QueueId> ready_queues() const = 0;
    virtual queue::Result<std::size_t> resubmit(const queue::QueueId& queue, const queue::QueueDb::Reroute& route) = 0;

    // Leases and their end (a worker).
    virtual queue::Result<std::vector<queue::LeasedMessage>> lease_for_delivery(const queue::QueueId& queue,
                                                                                 std::size_t max) = 0;
    virtual std::optional<std::string> export_message(queue::MessageId id) const = 0;
    // `done` may run on another thread (queue-db's committer): post, do not work, there.
    virtual void record_delivery_async(queue::DeliveryReport report, std::function<void(std::error_code)> done) = 0;
    virtual queue::Status release_lease(queue::MessageId id, const queue::QueueId& queue) = 0;
    virtual queue::Status defer_queue(const queue::QueueId& queue, queue::Timestamp next_retry, std::string error,
                                      const queue::NdrBuilder& ndr, const std::vector<queue::MessageId>* only) = 0;
    virtual queue::Status mark_queue_connected(const queue::QueueId& queue) = 0;

    // NDRs held for the message's other recipients, and Remove-Message -WithNDR.
    virtual std::optional<queue::Timestamp> next_ndr_hold_due() const = 0;
    virtual queue::Result<std::size_t> send_held_ndrs(queue::Timestamp now, const queue::NdrBuilder& ndr) = 0;
    virtual std::vector<queue::MessageInfo> pending_ndr_removals() const = 0;
    virtual std::size_t ndr_removals_in_delivery() const = 0;
    virtual queue::Status complete_removal(queue::MessageId id, std::optional<queue::NewMessage> ndr) = 0;
};

// The real store: every call goes to queue::QueueDb as it is.
class QueueDbStore final : public QueueStore {
public:
    explicit QueueDbStore(queue::QueueDb& db) : db_(db) {}

    std::optional<queue::Timestamp> next_retry_due() const override;
    queue::Result<std::vector<queue::QueueId>> promote_due(queue::Timestamp now) override;
    std::vector<queue::QueueId> ready_queues() const override;
    queue::Result<std::size_t> resubmit(const queue::QueueId& queue, const queue::QueueDb::Reroute& route) override;
    queue::Result<std::vector<queue::LeasedMessage>> lease_for_delivery(const queue::QueueId& queue,
                                                                         std::size_t max) override;
    std::optional<std::string> export_message(queue::MessageId id) const override;
    void record_delivery_async(queue::DeliveryReport report, std::function<void(std::error_code)> done) override;
    queue::Status release_lease(queue::MessageId id, const queue::QueueId& queue) override;
    queue::Status defer_queue(const queue::QueueId& queue, queue::Timestamp next_retry, std::string error,
                              const queue::NdrBuilder& ndr, const std::vector<queue::MessageId>* only) override;
    queue::Status mark_queue_connected(const queue::QueueId& queue) override;
    std::optional<queue::Timestamp> next_ndr_hold_due() const override;
    queue::Result<std::size_t> send_held_ndrs(queue::Timestamp now, const queue::NdrBuilder& ndr) override;
    std::vector<queue::MessageInfo> pending_ndr_removals() const override;
    std::size_t ndr_removals_in_delivery() const override;
    queue::Status complete_removal(queue::MessageId id, std::optional<queue::NewMessage> ndr) override;

private:
    queue::QueueDb& db_;
};

// What the parts of delivery share: the I/O context, the store, where blocking store
// calls run, the clock, where server messages go, and whether we are stopping.
struct DeliveryContext {
    using Clock = std::chrono::steady_clock;
    // A queue write that ends or moves a lease and failed on a full or failing disk is
    // tried again after this, doubling up to kWriteRetryMax (issue 14: leases never stick).
    static constexpr Clock::duration kWriteRetryFirst = std::chrono::milliseconds(50);
    static constexpr Clock::duration kWriteRetryMax = std::chrono::seconds(2);

    boost::asio::io_context& io;
    QueueStore& store;
    // Blocking store calls (an fsync) run here so that no session stalls; nullptr runs
    // them inline on the I/O thread (unit tests, whose fake store never blocks).
    boost::asio::thread_pool* pool = nullptr;
    // Queue time (NextRetryTime, expiry, DSN dates); tests set it.
    std::function<queue::Timestamp()> now = [] { return queue::now_timestamp(); };
    std::function<void(const std::string&)> say_to;
    bool stopping = false;
    // Issue 21: delivery's counters (the I/O thread's); none: not counted.
    metrics::Registry* metrics = nullptr;

    void say(const std::string& s) const {
        if (say_to) say_to("delivery: " + s);
    }

    template <class F>
    boost::asio::awaitable<std::invoke_result_t<F&>> blocking(F f) {
        if (pool == nullptr) co_return f();
        co_return co_await async::run_blocking(io, *pool, std::move(f));
    }

    // Whether a failed queue write may succeed later: the volume was full, the disk failed.
    static bool may_succeed_later(const std::error_code& ec) {
        return queue::is_storage_full(ec) || ec == queue::QueueError::io_error;
    }

    // A queue write no delivery may drop (issue 14): one that failed on a full or
    // failing disk is tried again with back-off until it succeeds or we stop; a lease
    // left then is returned by close(), or by the next open as after a crash.
    // `attempt` makes one try: an awaitable of a queue::Result.
    template <class Attempt>
    auto until_written(std::string what, Attempt attempt) -> std::invoke_result_t<Attempt&> {
        Clock::duration wait = kWriteRetryFirst;
        for (std::uint32_t tries = 1;; ++tries) {
            auto r = co_await attempt();
            if (r) {
                if (tries > 1) say(fmt::format("{}: written after {} tries", what, tries));
                co_return r;
            }
            if (!may_succeed_later(r.error()) || stopping) {
                say(fmt::format("{} failed: {}", what, r.error().message()));
                co_return r;
            }
            if (tries == 1) say(fmt::format("{} failed: {}; trying again until it is written", what, r.error().message()));
            boost::asio::steady_timer t(io, wait);
            co_await t.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
            wait = std::min<Clock::duration>(wait * 2, kWriteRetryMax);
        }
    }
    // The same for a blocking store call.
    template <class F>
    boost::asio::awaitable<std::invoke_result_t<F&>> until_written_blocking(std::string what, F f) {
        co_return co_await until_written(std::move(what), [this, &f] { return blocking(f); });
    }

    // An attempt's outcome with its DSNs, through the group commit (many connections'
    // reports share one sync); tried again as until_written(): the same report, so a
    // message the peer took is not sent again.
    boost::asio::awaitable<queue::Status> record(const queue::DeliveryReport& report);
    boost::asio::awaitable<queue::Status> record_once(const queue::DeliveryReport& report);
};

}  // namespace edge::send
