// The real QueueStore (every call forwarded to queue::QueueDb) and the one delivery call
// that is not a plain forward: recording an outcome through the asynchronous group commit.
#include "queue_store.hpp"

#include "completion.hpp"

#include <boost/asio/use_awaitable.hpp>

#include <memory>

namespace edge::send {

namespace asio = boost::asio;
using namespace edge::queue;

std::optional<Timestamp> QueueDbStore::next_retry_due() const { return db_.next_retry_due(); }
Result<std::vector<QueueId>> QueueDbStore::promote_due(Timestamp now) { return db_.promote_due(now); }
std::vector<QueueId> QueueDbStore::ready_queues() const { return db_.ready_queues(); }
Result<std::size_t> QueueDbStore::resubmit(const QueueId& queue, const QueueDb::Reroute& route) {
    return db_.resubmit(queue, route);
}
Result<std::vector<LeasedMessage>> QueueDbStore::lease_for_delivery(const QueueId& queue, std::size_t max) {
    return db_.lease_for_delivery(queue, max);
}
std::optional<std::string> QueueDbStore::export_message(MessageId id) const { return db_.export_message(id); }
void QueueDbStore::record_delivery_async(DeliveryReport report, std::function<void(std::error_code)> done) {
    db_.record_delivery_async(std::move(report), std::move(done));
}
Status QueueDbStore::release_lease(MessageId id, const QueueId& queue) { return db_.release_lease(id, queue); }
Status QueueDbStore::defer_queue(const QueueId& queue, Timestamp next_retry, std::string error, const NdrBuilder& ndr,
                                 const std::vector<MessageId>* only) {
    return db_.defer_queue(queue, next_retry, std::move(error), ndr, only);
}
Status QueueDbStore::mark_queue_connected(const QueueId& queue) { return db_.mark_queue_connected(queue); }
std::optional<Timestamp> QueueDbStore::next_ndr_hold_due() const { return db_.next_ndr_hold_due(); }
Result<std::size_t> QueueDbStore::send_held_ndrs(Timestamp now, const NdrBuilder& ndr) {
    return db_.send_held_ndrs(now, ndr);
}
std::vector<MessageInfo> QueueDbStore::pending_ndr_removals() const { return db_.pending_ndr_removals(); }
std::size_t QueueDbStore::ndr_removals_in_delivery() const { return db_.ndr_removals_in_delivery(); }
Status QueueDbStore::complete_removal(MessageId id, std::optional<NewMessage> ndr) {
    return db_.complete_removal(id, std::move(ndr));
}

// One try at writing an outcome. A member, not a coroutine lambda: GCC 12 mishandles
// captures of coroutine lambdas (run_blocking.hpp).
asio::awaitable<Status> DeliveryContext::record_once(const DeliveryReport& report) {
    auto [ec] = co_await async::await_completion<std::error_code>(
        [this, &report](auto done) { store.record_delivery_async(report, std::move(done)); });
    if (ec) co_return Status(ec);
    co_return Status(Done{});
}

asio::awaitable<Status> DeliveryContext::record(const DeliveryReport& report) {
    co_return co_await until_written(fmt::format("recording the outcome of message {}", report.id),
                                     [this, &report] { return record_once(report); });
}

}  // namespace edge::send
