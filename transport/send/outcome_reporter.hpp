// The outcome reporter: turns an attempt's per-recipient results into one queue report
// — outcomes, the DSNs they call for (a delay notice once after DelayNotificationTimeout,
// a relay notice for NOTIFY=SUCCESS toward a peer without DSN), the NdrBuilder through
// which queue-db makes the message's one NDR — commits it, and writes the message
// tracking lines. plan_report() is the pure half: every DSN decision is a unit test.
#pragma once

#include "dsn.hpp"
#include "queue_store.hpp"
#include "send_connector.hpp"

#include <boost/asio/awaitable.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace edge::logging {
class MessageTrackingLog;
}

namespace edge::send {

// One NDR per message (ARCHITECTURE.md): failed recipients wait for the message's other
// recipients to have their attempt, but never longer than this (a recipient in a
// suspended queue, a queue in a long retry, the Unreachable queue).
inline constexpr auto kNdrHoldLimit = std::chrono::minutes(10);

// One recipient's result of an attempt (remote, or decided here without a connection).
struct Decided {
    std::size_t index;  // into the envelope's recipients
    queue::RecipientOutcome::Kind kind;
    std::string response;
    std::string status;
};

// A DSN about `envelope` for `rcpts`, routed, ready to commit; nullopt when none is due
// (null sender, NOTIFY). Pure.
std::optional<queue::NewMessage> make_dsn(const SendConfig& cfg, DsnKind kind, const queue::Envelope& envelope,
                                          std::string_view content, std::vector<DsnRecipient> rcpts,
                                          queue::Timestamp now);

// The NDRs queue-db committed through an NdrBuilder, by original message, for the
// tracking log. Filled on the committer thread, read after the completion was posted
// back to the I/O thread; a re-run job overwrites its own entry.
struct NdrsMade {
    struct Made {
        std::string ndr_message_id;
        std::string original_message_id;
        std::string sender;
    };
    std::mutex mu;
    std::map<queue::MessageId, Made> by_message;
};

// The one NDR of a message, for every recipient queue-db holds as NDR-pending; `now`
// runs on queue-db's committer thread.
queue::NdrBuilder ndr_builder(std::shared_ptr<const SendConfig> cfg, std::shared_ptr<NdrsMade> made,
                              std::function<queue::Timestamp()> now);

// What one attempt reports, before it is committed.
struct PlannedReport {
    queue::DeliveryReport report;
    std::shared_ptr<NdrsMade> ndrs;     // filled by report.ndr when queue-db makes an NDR
    std::vector<std::string> dsn_ids;   // Message-IDs of report.dsns, for tracking
    bool any_deferred = false;          // the retry index changes
};

// The DSN decisions of one attempt (pure): Deferred → MessageRetryInterval, and a delay
// notice when DelayNotificationTimeout has passed since arrival, once per recipient;
// Delivered with NOTIFY=SUCCESS to a peer that did not take DSN → a relay notice;
// Failed → no DSN here: the report carries the NdrBuilder (made from `ndr_config`) and
// queue-db sends the message's one NDR when it is due.
PlannedReport plan_report(const SendConfig& cfg, std::shared_ptr<const SendConfig> ndr_config,
                          const queue::LeasedMessage& m, const std::string& content, const std::vector<Decided>& decided,
                          bool peer_took_dsn, queue::Timestamp now, std::function<queue::Timestamp()> clock);

class OutcomeReporter {
public:
    OutcomeReporter(DeliveryContext& ctx, logging::MessageTrackingLog* tracking) : ctx_(ctx), tracking_(tracking) {}

    // The newest configuration (the scheduler's): NDRs are routed and tracking lines
    // written with it, while an attempt's own DSNs use the configuration it began with.
    void follow(const std::shared_ptr<const SendConfig>* latest) { latest_ = latest; }

    // Commits the attempt's outcomes with their DSNs, then writes the tracking lines.
    // True when the scheduler should look again (a DSN waits in a queue, or a deferral
    // changed the retry index).
    // Arguments are held by the caller until the await ends (GCC 12: no temporaries with
    // destructors in a co_await expression).
    boost::asio::awaitable<bool> report(const std::shared_ptr<const SendConfig>& cfg, const queue::LeasedMessage& m,
                                        const std::string& content, const std::vector<Decided>& decided,
                                        bool peer_took_dsn, const std::string& connector_name,
                                        const std::string& remote_host, const std::string& session);

    // Every recipient of `m` failed here, without a connection (expired, too large,
    // null MX, no such domain). `content` null: read from the queue.
    boost::asio::awaitable<bool> fail_locally(const std::shared_ptr<const SendConfig>& cfg, const queue::LeasedMessage& m,
                                              const std::string& status, const std::string& text,
                                              const std::string* content, const std::string& connector_name);

    // A DSN about message `about` was committed: one DSN line in the tracking log.
    void track_dsn(queue::MessageId about, const std::string& original_message_id, const std::string& original_sender,
                   const std::string& dsn_id);
    // The NDRs an NdrBuilder made in a commit that succeeded: tracked; true when any.
    bool track_ndrs(NdrsMade& made);

private:
    void count(metrics::Registry& reg, const queue::LeasedMessage& m, const std::vector<Decided>& decided,
               const std::string& connector_name);
    void track(const SendConfig& cfg, const queue::LeasedMessage& m, const std::vector<Decided>& decided,
               const std::string& connector, const std::string& remote_host, const std::string& session,
               const std::vector<std::string>& dsn_ids);

    std::shared_ptr<const SendConfig> latest(const std::shared_ptr<const SendConfig>& fallback) const {
        return latest_ != nullptr && *latest_ ? *latest_ : fallback;
    }

    DeliveryContext& ctx_;
    logging::MessageTrackingLog* tracking_;
    const std::shared_ptr<const SendConfig>* latest_ = nullptr;
};

}  // namespace edge::send
