// The delivery scheduler: decides which next-hop queue gets a connection and when. It
// promotes what the retry index says is due, starts a worker per ready queue within
// MaxPerDomainOutboundConnections and MaxOutboundConnections, and each worker leases
// batches, decides locally what needs no connection (expired, too large, no such
// domain), sends the rest over one connection at a time (SmtpMaxMessagesPerConnection),
// and on a failed connection defers the queue on the §3.4 schedule (glitch → transient
// → outbound connection failure). Everything outside goes through seams: QueueStore,
// NextHopDns, NextHopConnector, OutcomeReporter.
#pragma once

#include "next_hop.hpp"
#include "next_hop_connector.hpp"
#include "outcome_reporter.hpp"
#include "queue_store.hpp"
#include "wait_group.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>
#include <memory>
#include <string>

namespace edge::send {

class Scheduler {
public:
    // At most this many messages are leased at once by one connection.
    static constexpr std::size_t kLeaseBatch = 20;

    Scheduler(DeliveryContext& ctx, NextHopDns& dns, NextHopConnector& connector, OutcomeReporter& reporter);

    // A new configuration: new workers use it; those in flight finish on theirs. The
    // Unreachable queue is routed again (Exchange resubmits it on a change).
    void apply(std::shared_ptr<const SendConfig> config);
    const std::shared_ptr<const SendConfig>& config() const { return config_; }
    // Look again now (new mail, an administrator's change, a config change).
    void kick();
    bool kicked() const { return kicked_; }
    // Remove-Message -WithNDR: look for messages waiting for their NDR on the next pass.
    void removals_due() { removals_due_ = true; }
    // MTA-STS (may be null): consulted by next-hop resolution (tls_policy.hpp).
    void set_domain_policies(DomainTlsPolicySource* source) { domain_policies_ = source; }

    // The loop: look(), then sleep until the retry index's first time, the first held
    // NDR, 30 s or a kick. Returns after ctx.stopping is set and wake() is called.
    boost::asio::awaitable<void> run();
    void wake();
    // One look: promote what is due, complete removals, send held NDRs, start workers
    // for ready queues, sweep the Unreachable queue when due. Returns whether a delivery
    // attempt still holds a message waiting for its removal NDR.
    boost::asio::awaitable<bool> look();

    // Outbound connections now (workers running), in all and to one next hop.
    std::size_t active_connections() const { return connections_; }
    // Waits until every worker has ended or `deadline` passes (shutdown). True when all ended.
    boost::asio::awaitable<bool> workers_ended(DeliveryContext::Clock::time_point deadline) {
        return workers_.wait_until(deadline);
    }
    std::uint32_t connections_to(const std::string& next_hop) const;
    // Consecutive failed connections to a next hop (kept in memory: a restart starts again).
    std::uint32_t failures_of(const std::string& next_hop) const;

private:
    struct HopState {
        std::uint32_t workers = 0;
        std::uint32_t failures = 0;  // consecutive connection failures (reset by a connection)
        bool may_have_error = true;  // LastError may be set in the store (cleared on connect)
    };

    boost::asio::awaitable<void> resubmit(queue::QueueId q);
    boost::asio::awaitable<void> send_held_ndrs();
    void start_worker(const queue::QueueId& q);
    boost::asio::awaitable<bool> complete_removals();
    boost::asio::awaitable<void> expire_unreachable();
    boost::asio::awaitable<void> worker(queue::QueueId q);
    boost::asio::awaitable<void> defer(const queue::QueueId& q, const std::string& error,
                                       std::vector<queue::MessageId> leases);
    boost::asio::awaitable<void> connected(const queue::QueueId& q);
    boost::asio::awaitable<void> release(const queue::LeasedMessage& m);
    boost::asio::awaitable<void> deliver(const std::shared_ptr<const SendConfig>& cfg, OutboundConnection& conn,
                                         const queue::LeasedMessage& m, const std::string& content,
                                         const std::string& connector_name);

    DeliveryContext& ctx_;
    NextHopDns& dns_;
    NextHopConnector& connector_;
    OutcomeReporter& reporter_;
    DomainTlsPolicySource* domain_policies_ = nullptr;
    boost::asio::steady_timer wake_;
    std::shared_ptr<const SendConfig> config_;
    std::map<std::string, HopState> hops_;  // next-hop queues by name
    std::size_t connections_ = 0;
    async::WaitGroup workers_;  // one member per running worker
    bool kicked_ = false;
    // Remove-Message -WithNDR waits for us: at start (asked while we were down), after
    // an administrator's change, and while a delivery attempt still holds such a message.
    bool removals_due_ = true;
    DeliveryContext::Clock::time_point next_sweep_ = DeliveryContext::Clock::now();
};

// What a worker does with a leased message before any connection: nullopt = send it;
// otherwise fail it here with this status and text (expired: 4.4.7 at
// MessageExpirationTimeout; larger than the winning connector's MaxMessageSize: 5.3.4,
// never a less specific connector; a Permanent target: its NDR code).
struct LocalFailure {
    std::string status;
    std::string text;
};
// `max_send_size`: Set-TransportConfig -MaxSendSize (0 = unlimited), checked before the connector's.
std::optional<LocalFailure> decide_locally(const Target& target, const queue::LeasedMessage& m,
                                           std::size_t content_size, queue::Timestamp now, std::uint64_t max_send_size = 0);

}  // namespace edge::send
