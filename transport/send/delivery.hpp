// The delivery service (design.md's Scheduler → SendConnector → SmtpClient): wakes
// when the retry index says something is due or new mail arrives, drains ready
// next-hop queues over outbound SMTP connections within MaxOutboundConnections and
// MaxPerDomainOutboundConnections, writes each recipient's outcome back, and sends the
// DSNs those outcomes call for. It runs on the server's I/O thread; blocking queue
// calls go to a small thread pool so that no fsync ever stalls a session.
#pragma once

#include "registry.hpp"

#include "send_connector.hpp"
#include "tls_policy.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace edge::queue {
class QueueDb;
}
namespace edge::logging {
class MessageTrackingLog;
}

namespace edge::send {

struct DeliveryOptions {
    // Where server messages go (one line each), e.g. "delivery: …".
    std::function<void(const std::string&)> say;
    // MTA-STS and TLS-RPT (either may be null); they must outlive the service.
    TlsPolicyHooks tls_hooks;
    // Domain Security's client certificate when a connector names none (TlsCertificateName):
    // the active receive certificate's chain and key files.
    std::string receive_certificate_file, receive_key_file;
    // Issue 21: attempts, outcomes and latency counted here (updated on the I/O thread).
    metrics::Registry* metrics = nullptr;
};

class DeliveryService {
public:
    DeliveryService(boost::asio::io_context& io, queue::QueueDb& db, DeliveryOptions options,
                    logging::MessageTrackingLog* tracking);
    ~DeliveryService();
    DeliveryService(const DeliveryService&) = delete;
    DeliveryService& operator=(const DeliveryService&) = delete;

    // A new configuration: new deliveries use it; those in flight finish on theirs.
    // The Unreachable queue is routed again (Exchange resubmits it on a change).
    void apply(std::shared_ptr<const SendConfig> config);
    // New mail was committed (called on the I/O thread): the scheduler looks again.
    void notify();
    // An administrator changed the queue (edgectl raised queue-db's admin generation):
    // the scheduler looks now, and builds the NDRs Remove-Message -WithNDR asked for.
    void administrator_changed();
    // The scheduler loop; returns after stop().
    boost::asio::awaitable<void> run();
    // Stops taking new work; connections finish their current message. Returns when
    // every connection has ended (leases are then reported or released).
    boost::asio::awaitable<void> stop();

    std::size_t active_connections() const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace edge::send
