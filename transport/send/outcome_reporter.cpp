// The outcome reporter (outcome_reporter.hpp): the DSN decisions of an attempt, its
// commit through the group commit, and its message tracking lines.
#include "outcome_reporter.hpp"

#include "message_tracking.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace edge::send {

namespace asio = boost::asio;

std::optional<queue::NewMessage> make_dsn(const SendConfig& cfg, DsnKind kind, const queue::Envelope& envelope,
                                          std::string_view content, std::vector<DsnRecipient> rcpts, queue::Timestamp now) {
    if (rcpts.empty()) return std::nullopt;
    const auto& s = cfg.settings;
    // A copy of an NDR: every one to SendCopyOfNdrTo; else, as Exchange's GenerateCopyOfDSNFor,
    // those with a listed status to ExternalPostmasterAddress when the administrator set one.
    std::string copy_to;
    if (kind == DsnKind::Failure) {
        copy_to = s.ndr_copy_to;
        if (copy_to.empty() && !s.external_postmaster.empty())
            for (const auto& r : rcpts)
                if (std::find(s.copy_dsn_codes.begin(), s.copy_dsn_codes.end(), r.status) != s.copy_dsn_codes.end())
                    copy_to = s.external_postmaster;
    }
    DsnRequest req{kind, envelope, content, std::move(rcpts), cfg.server_fqdn, now, s.dsn_max_attach_size, cfg.server_fqdn,
                   std::move(copy_to), s.postmaster};
    auto dsn = build_dsn(req);
    if (!dsn) return std::nullopt;
    dsn->envelope.expiration_time = now + (envelope.expiration_time - envelope.arrival_time);
    dsn->envelope.receive_connector = "DSN";
    for (auto& r : dsn->envelope.recipients) {
        auto [q, type] = cfg.queue_for(r.address);
        r.next_hop = q;
        r.delivery_type = type;
    }
    return dsn;
}

queue::NdrBuilder ndr_builder(std::shared_ptr<const SendConfig> cfg, std::shared_ptr<NdrsMade> made,
                              std::function<queue::Timestamp()> now) {
    return [cfg = std::move(cfg), made = std::move(made), now = std::move(now)](
               queue::MessageId id, const queue::Envelope& envelope, const std::vector<std::size_t>& recipients,
               std::string_view original) -> std::optional<queue::NewMessage> {
        std::vector<DsnRecipient> rcpts;
        for (std::size_t i : recipients) {
            const auto& r = envelope.recipients.at(i);
            rcpts.push_back({i, r.ndr_status, r.last_response, r.next_hop.next_hop});
        }
        auto ndr = make_dsn(*cfg, DsnKind::Failure, envelope, original, std::move(rcpts), now());
        std::lock_guard lk(made->mu);
        if (ndr)
            made->by_message[id] = {ndr->envelope.internet_message_id, envelope.internet_message_id, envelope.sender};
        else
            made->by_message.erase(id);
        return ndr;
    };
}

PlannedReport plan_report(const SendConfig& cfg, std::shared_ptr<const SendConfig> ndr_config,
                          const queue::LeasedMessage& m, const std::string& content, const std::vector<Decided>& decided,
                          bool peer_took_dsn, queue::Timestamp now, std::function<queue::Timestamp()> clock) {
    const auto& s = cfg.settings;
    PlannedReport plan;
    queue::DeliveryReport& rep = plan.report;
    rep.id = m.id;
    rep.queue = m.queue;
    std::vector<DsnRecipient> delayed, relayed;
    const bool delay_due = s.delay_dsn_enabled &&
                           now - m.envelope.arrival_time >=
                               std::chrono::duration_cast<std::chrono::microseconds>(s.delay_notification_timeout);
    for (const auto& d : decided) {
        const auto& r = m.envelope.recipients[d.index];
        queue::RecipientOutcome o{d.index, d.kind, d.response, false, d.status};
        if (d.kind == queue::RecipientOutcome::Kind::Deferred) {
            plan.any_deferred = true;
            if (delay_due && !r.delay_notified) {
                delayed.push_back({d.index, d.status, d.response, m.queue.next_hop});
                o.delay_notified = true;
            }
        }
        if (d.kind == queue::RecipientOutcome::Kind::Delivered && !peer_took_dsn &&
            (r.notify & queue::notify::Success) != 0)
            relayed.push_back({d.index, d.status.empty() ? "2.0.0" : d.status, d.response, m.queue.next_hop});
        rep.outcomes.push_back(std::move(o));
    }
    if (plan.any_deferred)
        rep.next_retry_time = now + std::chrono::duration_cast<std::chrono::microseconds>(s.message_retry_interval);
    auto add_dsn = [&](DsnKind kind, std::vector<DsnRecipient> rcpts) {
        if (auto dsn = make_dsn(cfg, kind, m.envelope, content, std::move(rcpts), now)) rep.dsns.push_back(std::move(*dsn));
    };
    // Failures are not reported here: queue-db holds them as NDR-pending and builds the
    // message's one NDR, for the failed recipients of every queue, when it is due.
    plan.ndrs = std::make_shared<NdrsMade>();
    rep.ndr = ndr_builder(std::move(ndr_config), plan.ndrs, std::move(clock));
    rep.ndr_hold_until = now + std::chrono::duration_cast<std::chrono::microseconds>(kNdrHoldLimit);
    add_dsn(DsnKind::Delay, std::move(delayed));
    add_dsn(DsnKind::Success, std::move(relayed));
    for (const auto& d : rep.dsns) plan.dsn_ids.push_back(d.envelope.internet_message_id);
    return plan;
}

// Issue 21: one attempt of this message, each recipient's outcome by status class, and
// for those delivered the time since the message arrived.
void OutcomeReporter::count(metrics::Registry& reg, const queue::LeasedMessage& m, const std::vector<Decided>& decided,
                            const std::string& connector_name) {
    using Kind = queue::RecipientOutcome::Kind;
    reg.delivery_attempts.add({connector_name});
    const double since_arrival = std::chrono::duration<double>(ctx_.now() - m.envelope.arrival_time).count();
    for (const Decided& d : decided) {
        reg.delivery_recipients.add({connector_name, d.kind == Kind::Delivered  ? "2xx"
                                                     : d.kind == Kind::Deferred ? "4xx"
                                                                                : "5xx"});
        if (d.kind == Kind::Delivered) reg.delivery_latency.observe({}, std::max(0.0, since_arrival));
    }
}

asio::awaitable<bool> OutcomeReporter::report(const std::shared_ptr<const SendConfig>& cfg, const queue::LeasedMessage& m,
                                              const std::string& content, const std::vector<Decided>& decided,
                                              bool peer_took_dsn, const std::string& connector_name,
                                              const std::string& remote_host, const std::string& session) {
    PlannedReport plan = plan_report(*cfg, latest(cfg), m, content, decided, peer_took_dsn, ctx_.now(), ctx_.now);
    bool made_dsn = !plan.report.dsns.empty();
    // Fails only when stopping or refused outright (the lease is gone; said by
    // record()): close() or the next open returns a lease that is left.
    if (!co_await ctx_.record(plan.report)) co_return false;
    made_dsn = track_ndrs(*plan.ndrs) || made_dsn;
    track(*latest(cfg), m, decided, connector_name, remote_host, session, plan.dsn_ids);
    if (ctx_.metrics) count(*ctx_.metrics, m, decided, connector_name);
    co_return made_dsn || plan.any_deferred;
}

asio::awaitable<bool> OutcomeReporter::fail_locally(const std::shared_ptr<const SendConfig>& cfg, const queue::LeasedMessage& m,
                                                    const std::string& status, const std::string& text,
                                                    const std::string* content, const std::string& connector_name) {
    std::optional<std::string> body;
    if (content == nullptr) {
        body = co_await ctx_.blocking([this, id = m.id] { return ctx_.store.export_message(id); });
        content = body ? &*body : nullptr;
    }
    std::vector<Decided> decided;
    for (std::size_t idx : m.recipients) decided.push_back({idx, queue::RecipientOutcome::Kind::Failed, text, status});
    static const std::string empty;
    const std::string& body_or_empty = content ? *content : empty;
    co_return co_await report(cfg, m, body_or_empty, decided, true, connector_name, empty, empty);
}

void OutcomeReporter::track(const SendConfig& cfg, const queue::LeasedMessage& m, const std::vector<Decided>& decided,
                            const std::string& connector, const std::string& remote_host, const std::string& session,
                            const std::vector<std::string>& dsn_ids) {
    if (tracking_ == nullptr) return;
    auto line = [&](std::string_view event, queue::RecipientOutcome::Kind kind) {
        logging::TrackingEvent e;
        e.event_id = std::string(event);
        e.source = std::string(logging::tracking_source::Smtp);
        e.server_hostname = remote_host.empty() ? m.queue.next_hop : remote_host;
        e.client_hostname = cfg.server_fqdn;
        e.source_context = session;
        e.connector_id = connector;
        e.internal_message_id = m.id;
        e.message_id = m.envelope.internet_message_id;
        e.total_bytes = m.envelope.size;
        e.subject = m.envelope.subject;
        e.sender = m.envelope.sender;
        e.return_path = m.envelope.sender;
        for (const auto& d : decided)
            if (d.kind == kind) {
                e.recipients.push_back(m.envelope.recipients[d.index].address);
                e.recipient_status.push_back(d.response);
            }
        if (!e.recipients.empty()) tracking_->write(e);
    };
    line(logging::tracking_event::Send, queue::RecipientOutcome::Kind::Delivered);
    line(logging::tracking_event::Defer, queue::RecipientOutcome::Kind::Deferred);
    line(logging::tracking_event::Fail, queue::RecipientOutcome::Kind::Failed);
    for (const auto& id : dsn_ids) track_dsn(m.id, m.envelope.internet_message_id, m.envelope.sender, id);
}

void OutcomeReporter::track_dsn(queue::MessageId about, const std::string& original_message_id,
                                const std::string& original_sender, const std::string& dsn_id) {
    if (tracking_ == nullptr) return;
    logging::TrackingEvent e;
    e.event_id = std::string(logging::tracking_event::Dsn);
    e.source = std::string(logging::tracking_source::Dsn);
    e.internal_message_id = about;
    e.message_id = dsn_id;
    e.reference = original_message_id;
    e.sender = "";
    e.recipients.push_back(original_sender);
    tracking_->write(e);
}

bool OutcomeReporter::track_ndrs(NdrsMade& made) {
    std::lock_guard lk(made.mu);
    for (const auto& [id, m] : made.by_message) track_dsn(id, m.original_message_id, m.sender, m.ndr_message_id);
    return !made.by_message.empty();
}

}  // namespace edge::send
