// The delivery service: composes the parts of delivery for the server — the real queue
// store (QueueDb), DNS, the SMTP connector, the outcome reporter and the scheduler — and
// gives them the I/O context, the blocking-call pool and the configuration.
#include "delivery.hpp"

#include "next_hop.hpp"
#include "outbound_session.hpp"
#include "outcome_reporter.hpp"
#include "queue_store.hpp"
#include "scheduler.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace edge::send {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

struct DeliveryService::Impl {
    Impl(asio::io_context& io_, queue::QueueDb& db, DeliveryOptions o, logging::MessageTrackingLog* tracking)
        : io(io_), store(db), ctx{io_, store, &pool, [] { return queue::now_timestamp(); }, std::move(o.say)},
          dns(io_.get_executor()), connector(io_), reporter(ctx, tracking), scheduler(ctx, dns, connector, reporter) {
        ctx.metrics = o.metrics;
        connector.set_result_sink(o.tls_hooks.results);
        connector.set_receive_certificate(o.receive_certificate_file, o.receive_key_file);
        scheduler.set_domain_policies(o.tls_hooks.domain_policies);
    }

    asio::io_context& io;
    QueueDbStore store;
    // Blocking queue calls run here (run_blocking.hpp); declared before ctx, which points at it.
    asio::thread_pool pool{2};
    DeliveryContext ctx;
    ResolverNextHopDns dns;
    SmtpConnector connector;
    OutcomeReporter reporter;
    Scheduler scheduler;
};

DeliveryService::DeliveryService(asio::io_context& io, queue::QueueDb& db, DeliveryOptions options,
                                 logging::MessageTrackingLog* tracking)
    : impl_(std::make_unique<Impl>(io, db, std::move(options), tracking)) {}

DeliveryService::~DeliveryService() {
    impl_->pool.join();
}

void DeliveryService::apply(std::shared_ptr<const SendConfig> config) {
    impl_->dns.apply(config->settings);
    impl_->connector.apply(config->settings);
    impl_->scheduler.apply(std::move(config));
}

void DeliveryService::notify() {
    if (!impl_->scheduler.kicked()) impl_->scheduler.kick();
}

void DeliveryService::administrator_changed() {
    impl_->scheduler.removals_due();
    impl_->scheduler.kick();
}

asio::awaitable<void> DeliveryService::run() { co_await impl_->scheduler.run(); }

asio::awaitable<void> DeliveryService::stop() {
    impl_->ctx.stopping = true;
    impl_->scheduler.wake();
    // Bounded: a peer that stalls mid-message cannot hold the shutdown. Leases still
    // held go back to Ready when the queue closes cleanly.
    co_await impl_->scheduler.workers_ended(Clock::now() + std::chrono::seconds(10));
    impl_->connector.flush_log();
}

std::size_t DeliveryService::active_connections() const { return impl_->scheduler.active_connections(); }

}  // namespace edge::send
