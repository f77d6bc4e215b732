// The one message acceptance path. A Receive connector's driver hands over a finished
// envelope and body (receive/acceptance.hpp); here they become a queued message:
// header scan (MaxHeaderSize, MaxHopCount) → Received / Message-ID → end-of-data
// agents → categorizer (each recipient's next-hop queue) → enqueue (the group commit)
// → back-pressure report → message tracking (RECEIVE) → delivery is woken.
// Its I/O edges are narrow (MessageQueue, AcceptanceHooks), so unit tests use fakes.
#pragma once

#include "acceptance.hpp"
#include "categorizer.hpp"
#include "message_tracking.hpp"
#include "queue_types.hpp"

#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace edge::server {

// The queue side: QueueDb::enqueue_async's shape. `done` runs once, on any thread,
// after the commit is durable (or failed); QueueError::storage_full means no room.
class MessageQueue {
public:
    using Done = std::function<void(std::error_code, queue::MessageId)>;
    virtual ~MessageQueue() = default;
    virtual void enqueue_async(queue::NewMessage message, Done done) = 0;
};

// What acceptance reports to the rest of the server. Each may be empty.
struct AcceptanceHooks {
    std::function<void()> storage_full;                         // back pressure: High until the next sample
    std::function<void(const logging::TrackingEvent&)> track;   // the RECEIVE event, after the commit
    std::function<void()> queued;                               // wakes the delivery scheduler
};

// From the current configuration snapshot; apply() replaces it (the categorizer runs
// when the message is complete, with the configuration of that moment).
struct AcceptanceSettings {
    std::shared_ptr<const routing::Categorizer> categorizer;  // accepted domains and Send connectors
    std::chrono::seconds message_expiration{};               // MessageExpirationTimeout
    // The authserv-id of the edge's Authentication-Results (Set-DmarcConfig -AuthServId,
    // else the server's FQDN): the edge stamps its verdicts under it and removes incoming
    // fields that carry it (RFC 8601 §5). Empty: nothing is removed.
    std::string auth_serv_id;
    // DKIM signing (New-DkimSigningConfig): the DKIM-Signature field for a message whose
    // From: domain has a signing configuration, over the message as it will be queued;
    // nullopt when there is none. Empty function: no configuration at all.
    std::function<std::optional<std::string>(std::string_view from_domain, const std::vector<std::string>& message)> dkim_sign;
};

class MessageAcceptance final : public receive::MessageAcceptance {
public:
    MessageAcceptance(MessageQueue& queue, AcceptanceHooks hooks, AcceptanceSettings settings);
    void apply(AcceptanceSettings settings) { settings_ = std::move(settings); }
    // Where DKIM signing runs (an RSA signature costs a quarter of a millisecond): the
    // server's CPU pool; none: on the I/O thread.
    void set_cpu_pool(boost::asio::thread_pool* pool) { cpu_ = pool; }

    asio::awaitable<receive::AcceptanceOutcome> accept(receive::FinishedMessage message) override;

    // Commits handed to the queue and not yet answered: back pressure's submission
    // backlog. Read from the monitor's thread.
    std::uint64_t commits_in_flight() const { return in_flight_.load(); }

private:
    MessageQueue& queue_;
    AcceptanceHooks hooks_;
    AcceptanceSettings settings_;
    std::atomic<std::uint64_t> in_flight_{0};
    boost::asio::thread_pool* cpu_ = nullptr;
};

}  // namespace edge::server
