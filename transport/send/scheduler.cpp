// The delivery scheduler (scheduler.hpp): the look loop, workers per next-hop queue, the
// connection retry schedule, Remove-Message -WithNDR, held NDRs and the Unreachable sweep.
#include "scheduler.hpp"

#include "spawn.hpp"

#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>

namespace edge::send {

namespace asio = boost::asio;
using queue::QueueId;
using Clock = DeliveryContext::Clock;

namespace {

constexpr auto kSweepInterval = std::chrono::seconds(30);
const std::string kExpiredStatus = "4.4.7";
const std::string kExpiredText = "550 4.4.7 QUEUE.Expired; message expired";
const std::string kNoConnector;

queue::RecipientOutcome::Kind to_kind(smtp::RecipientResult r) {
    switch (r) {
        case smtp::RecipientResult::Delivered: return queue::RecipientOutcome::Kind::Delivered;
        case smtp::RecipientResult::Failed: return queue::RecipientOutcome::Kind::Failed;
        case smtp::RecipientResult::Deferred: break;
    }
    return queue::RecipientOutcome::Kind::Deferred;
}

}  // namespace

std::optional<LocalFailure> decide_locally(const Target& t, const queue::LeasedMessage& m, std::size_t content_size,
                                           queue::Timestamp now, std::uint64_t max_send_size) {
    if (t.kind == Target::Kind::Permanent) return LocalFailure{t.status, t.error};
    if (now >= m.envelope.expiration_time) return LocalFailure{kExpiredStatus, kExpiredText};
    if (max_send_size != 0 && content_size > max_send_size)
        return LocalFailure{"5.3.4", fmt::format("552 5.3.4 Message size {} exceeds the organization's MaxSendSize {} "
                                                 "(Set-TransportConfig)",
                                                 content_size, max_send_size)};
    if (t.connector != nullptr && t.connector->max_message_size != 0 && content_size > t.connector->max_message_size)
        return LocalFailure{"5.3.4", fmt::format("552 5.3.4 Message size {} exceeds the MaxMessageSize {} of Send connector {}",
                                                 content_size, t.connector->max_message_size, t.connector->name)};
    return std::nullopt;
}

Scheduler::Scheduler(DeliveryContext& ctx, NextHopDns& dns, NextHopConnector& connector, OutcomeReporter& reporter)
    : ctx_(ctx), dns_(dns), connector_(connector), reporter_(reporter), wake_(ctx.io), workers_(ctx.io.get_executor()) {
    reporter_.follow(&config_);
}

std::uint32_t Scheduler::connections_to(const std::string& next_hop) const {
    auto it = hops_.find(next_hop);
    return it == hops_.end() ? 0 : it->second.workers;
}

std::uint32_t Scheduler::failures_of(const std::string& next_hop) const {
    auto it = hops_.find(next_hop);
    return it == hops_.end() ? 0 : it->second.failures;
}

void Scheduler::apply(std::shared_ptr<const SendConfig> c) {
    config_ = std::move(c);
    // Exchange resubmits the Unreachable queue when routing changes.
    async::spawn(ctx_.io.get_executor(), resubmit(QueueId::unreachable()), "delivery: resubmitting the Unreachable queue");
    kick();
}

asio::awaitable<void> Scheduler::resubmit(QueueId q) {
    auto cfg = config_;
    auto moved = co_await ctx_.blocking([this, &q, &cfg] {
        return ctx_.store.resubmit(q, [&](const queue::Recipient& r) { return cfg->queue_for(r.address); });
    });
    if (!moved) ctx_.say(fmt::format("routing {} again failed: {}", q.name(), moved.error().message()));
    if (moved && *moved > 0) {
        ctx_.say(fmt::format("{} message(s) of {} routed again", *moved, q.name()));
        kick();
    }
}

void Scheduler::kick() {
    kicked_ = true;
    wake_.cancel();
}

void Scheduler::wake() { wake_.cancel(); }

asio::awaitable<bool> Scheduler::look() {
    auto due = co_await ctx_.blocking([this] { return ctx_.store.next_retry_due(); });
    if (due && *due <= ctx_.now())
        co_await ctx_.until_written_blocking("moving due messages from Retry to Ready",
                                             [this] { return ctx_.store.promote_due(ctx_.now()); });
    bool removals_held = false;
    if (removals_due_ && config_) {
        removals_due_ = false;
        removals_held = co_await complete_removals();
    }
    if (config_) co_await send_held_ndrs();
    if (config_) {
        auto ready = co_await ctx_.blocking([this] { return ctx_.store.ready_queues(); });
        for (const auto& q : ready)
            if (q.kind == queue::QueueKind::NextHop) start_worker(q);
        if (Clock::now() >= next_sweep_) {
            next_sweep_ = Clock::now() + kSweepInterval;
            co_await expire_unreachable();
        }
    }
    co_return removals_held;
}

asio::awaitable<void> Scheduler::run() {
    while (!ctx_.stopping) {
        kicked_ = false;
        bool removals_held = co_await look();
        if (ctx_.stopping) break;
        if (kicked_) continue;
        auto until = Clock::now() + kSweepInterval;
        auto due = co_await ctx_.blocking([this] { return ctx_.store.next_retry_due(); });
        auto held = co_await ctx_.blocking([this] { return ctx_.store.next_ndr_hold_due(); });
        for (const auto& when : {due, held}) {
            if (!when) continue;
            auto left = *when - ctx_.now();
            until = std::min(until, Clock::now() + std::chrono::duration_cast<Clock::duration>(left) +
                                        std::chrono::milliseconds(5));
        }
        if (removals_held) {
            // The attempt that holds the message will end soon: look again then.
            removals_due_ = true;
            until = std::min(until, Clock::now() + std::chrono::seconds(1));
        }
        // A kick that came during the awaits above found no wait to cancel: look
        // again now instead of sleeping on it (no await between this test and the wait).
        if (kicked_) continue;
        wake_.expires_at(until);
        co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

// NDRs that waited their longest for other recipients of their message go now.
asio::awaitable<void> Scheduler::send_held_ndrs() {
    auto due = co_await ctx_.blocking([this] { return ctx_.store.next_ndr_hold_due(); });
    if (!due || *due > ctx_.now()) co_return;
    auto made = std::make_shared<NdrsMade>();
    auto ndr = ndr_builder(config_, made, ctx_.now);
    auto sent = co_await ctx_.until_written_blocking(
        "sending held NDRs", [this, &ndr] { return ctx_.store.send_held_ndrs(ctx_.now(), ndr); });
    if (!sent) co_return;
    if (reporter_.track_ndrs(*made)) kick();  // the NDRs wait in their queues
}

void Scheduler::start_worker(const QueueId& q) {
    if (ctx_.stopping || !config_) return;
    const auto& s = config_->settings;
    HopState& st = hops_[q.next_hop];
    if (s.max_per_domain_connections != 0 && st.workers >= s.max_per_domain_connections) return;
    if (s.max_outbound_connections != 0 && connections_ >= s.max_outbound_connections) return;
    ++st.workers;
    ++connections_;
    workers_.add();
    // An exception that escapes the worker is logged and counted by spawn; the worker's
    // place is given back either way.
    async::spawn(ctx_.io.get_executor(), worker(q), "delivery to " + q.name(), [this, q] {
        --hops_[q.next_hop].workers;
        --connections_;
        workers_.done();
    });
}

// Remove-Message -WithNDR $true: edgectl marked the message; here its NDR is built
// (we know ServerFqdn and the routes) and committed with the deletion. Returns
// whether a delivery attempt still holds one of them (it is done when that ends).
asio::awaitable<bool> Scheduler::complete_removals() {
    auto cfg = config_;
    auto pending = co_await ctx_.blocking([this] { return ctx_.store.pending_ndr_removals(); });
    for (const auto& info : pending) {
        auto content = co_await ctx_.blocking([this, id = info.id] { return ctx_.store.export_message(id); });
        std::vector<DsnRecipient> failed;
        for (std::size_t i = 0; i < info.envelope.recipients.size(); ++i) {
            const auto& r = info.envelope.recipients[i];
            if (r.status == queue::RecipientStatus::Pending)
                failed.push_back({i, std::string(kAdminRemovedStatus), std::string(kAdminRemovedText), std::string()});
            else if (r.ndr_pending)  // failed earlier, its NDR held: reported once, here
                failed.push_back({i, r.ndr_status, r.last_response, r.next_hop.next_hop});
        }
        const auto now = ctx_.now();
        auto ndr = make_dsn(*cfg, DsnKind::Failure, info.envelope, content ? *content : std::string(), std::move(failed), now);
        std::optional<std::string> ndr_id;
        if (ndr) ndr_id = ndr->envelope.internet_message_id;
        auto st = co_await ctx_.blocking(
            [this, id = info.id, &ndr] { return ctx_.store.complete_removal(id, std::move(ndr)); });
        if (!st) {
            ctx_.say(fmt::format("removing message {} with an NDR failed: {}", info.id, st.error().message()));
            if (DeliveryContext::may_succeed_later(st.error())) removals_due_ = true;  // the next pass tries again
            continue;
        }
        ctx_.say(fmt::format("message {} removed by an administrator{}", info.id, ndr_id ? ", NDR sent" : ""));
        if (ndr_id) reporter_.track_dsn(info.id, info.envelope.internet_message_id, info.envelope.sender, *ndr_id);
        kick();  // the NDR waits in a queue
    }
    auto held = co_await ctx_.blocking([this] { return ctx_.store.ndr_removals_in_delivery(); });
    co_return held > 0;
}

// Messages in the Unreachable queue expire on the normal timeout (NDR 4.4.7).
// Arrival order is expiry order, so the scan stops at the first live message.
asio::awaitable<void> Scheduler::expire_unreachable() {
    auto cfg = config_;
    while (!ctx_.stopping) {
        auto leased = co_await ctx_.blocking(
            [this] { return ctx_.store.lease_for_delivery(QueueId::unreachable(), kLeaseBatch); });
        if (!leased || leased->empty()) co_return;
        bool live_seen = false;
        for (auto& m : *leased) {
            if (ctx_.now() < m.envelope.expiration_time) {
                live_seen = true;
                co_await release(m);
                continue;
            }
            if (co_await reporter_.fail_locally(cfg, m, kExpiredStatus, kExpiredText, nullptr, kNoConnector)) kick();
        }
        if (live_seen) co_return;
    }
}

asio::awaitable<void> Scheduler::worker(QueueId q) {
    auto cfg = config_;
    // Named, not a temporary in the co_await expression (GCC 12: see outbound_session.cpp drive()).
    const std::function<void(const std::string&)> say = [this](const std::string& s) { ctx_.say(s); };
    auto resolving = resolve_target(*cfg, q.next_hop, dns_, say, domain_policies_);
    Target t = co_await std::move(resolving);
    t.next_hop = q.next_hop;
    if (t.kind == Target::Kind::Moved) {
        auto again = resubmit(q);
        co_await std::move(again);
        co_return;
    }
    if (t.kind == Target::Kind::Transient) {
        co_await defer(q, t.error, {});  // nothing leased yet
        co_return;
    }
    std::unique_ptr<OutboundConnection> conn;
    const std::string connector_name = t.connector ? t.connector->name : std::string();
    const std::uint32_t per_connection = t.connector ? t.connector->max_messages_per_connection : 1;
    while (!ctx_.stopping) {
        std::size_t want = kLeaseBatch;
        if (conn) want = std::min<std::size_t>(want, per_connection - conn->messages_sent());
        auto leased = co_await ctx_.until_written_blocking(
            "leasing from " + q.name(), [this, &q, want] { return ctx_.store.lease_for_delivery(q, want); });
        if (!leased || leased->empty()) break;
        if (leased->size() == want) start_worker(q);  // more waiting: open another connection
        std::size_t i = 0;
        for (; i < leased->size() && !ctx_.stopping; ++i) {
            auto& m = (*leased)[i];
            auto content = co_await ctx_.blocking([this, id = m.id] { return ctx_.store.export_message(id); });
            if (!content) continue;  // removed meanwhile
            if (auto local = decide_locally(t, m, content->size(), ctx_.now(), cfg->settings.max_send_size)) {
                if (co_await reporter_.fail_locally(cfg, m, local->status, local->text, &*content, connector_name)) kick();
                continue;
            }
            if (!conn || !conn->usable()) {
                auto attempt = connector_.connect(*cfg, t);
                ConnectResult r = co_await std::move(attempt);
                conn = std::move(r.connection);
                if (!conn) {
                    // Returns this connection's leases (this one and the rest of the
                    // batch) to Ready; other connections' leases are theirs to end.
                    std::vector<queue::MessageId> mine;
                    for (std::size_t k = i; k < leased->size(); ++k) mine.push_back((*leased)[k].id);
                    co_await defer(q, r.error, mine);
                    co_return;
                }
                co_await connected(q);
            }
            co_await deliver(cfg, *conn, m, *content, connector_name);
            if (conn->messages_sent() >= per_connection) {
                co_await conn->quit();
                conn.reset();
            }
        }
        for (; i < leased->size(); ++i) {
            auto& m = (*leased)[i];
            co_await release(m);
        }
    }
    if (conn) co_await conn->quit();
}

asio::awaitable<void> Scheduler::defer(const QueueId& q, const std::string& error, std::vector<queue::MessageId> leases) {
    HopState& st = hops_[q.next_hop];
    st.failures += 1;
    st.may_have_error = true;
    const std::uint32_t failures = st.failures;
    auto wait = config_->settings.connection_retry_interval(failures);
    auto next = ctx_.now() + std::chrono::duration_cast<std::chrono::microseconds>(wait);
    auto made = std::make_shared<NdrsMade>();
    auto ndr = ndr_builder(config_, made, ctx_.now);
    // Returns our leases in the queue to Ready: never dropped, or they would stay Active.
    auto deferred = co_await ctx_.until_written_blocking("deferring " + q.name(), [this, &q, next, &error, &ndr, &leases] {
        return ctx_.store.defer_queue(q, next, error, ndr, &leases);
    });
    if (deferred) reporter_.track_ndrs(*made);
    kick();  // the retry index changed
    ctx_.say(fmt::format("{}: {} (retry {} in {})", q.name(), error, failures, config::format_time_span(wait)));
}

asio::awaitable<void> Scheduler::connected(const QueueId& q) {
    HopState& st = hops_[q.next_hop];
    st.failures = 0;
    if (!st.may_have_error) co_return;
    st.may_have_error = false;
    auto marked = co_await ctx_.blocking([this, &q] { return ctx_.store.mark_queue_connected(q); });
    if (!marked) {
        // Not a lease: the next connection tries again.
        hops_[q.next_hop].may_have_error = true;
        ctx_.say(fmt::format("{}: clearing LastError failed: {}", q.name(), marked.error().message()));
    }
}

// Ends a lease without an attempt; never dropped, or the message would stay Active.
asio::awaitable<void> Scheduler::release(const queue::LeasedMessage& m) {
    co_await ctx_.until_written_blocking(fmt::format("returning message {} to {}", m.id, m.queue.name()),
                                         [this, &m] { return ctx_.store.release_lease(m.id, m.queue); });
}

asio::awaitable<void> Scheduler::deliver(const std::shared_ptr<const SendConfig>& cfg, OutboundConnection& conn,
                                         const queue::LeasedMessage& m, const std::string& content,
                                         const std::string& connector_name) {
    smtp::OutboundMessage out;
    out.sender = m.envelope.sender;
    out.content = content;
    // The queue keeps ENVID and ORCPT as received (xtext, RFC 3461 §4); the client
    // takes them decoded and encodes them once.
    out.envid = smtp::xtext_decode(m.envelope.dsn_envid).value_or(m.envelope.dsn_envid);
    out.smtputf8 = m.envelope.smtputf8;
    out.ret = m.envelope.dsn_ret == queue::DsnRet::Full      ? smtp::OutboundMessage::Ret::Full
              : m.envelope.dsn_ret == queue::DsnRet::Headers ? smtp::OutboundMessage::Ret::Headers
                                                             : smtp::OutboundMessage::Ret::Unspecified;
    for (std::size_t idx : m.recipients) {
        const auto& r = m.envelope.recipients[idx];
        out.recipients.push_back({idx, r.address, smtp::orcpt_decoded(r.orcpt), r.notify});
    }
    auto results = co_await conn.send(out);
    std::vector<Decided> decided;
    for (auto& r : results) decided.push_back({r.index, to_kind(r.result), r.response, r.status});
    const std::string remote = conn.remote_host();
    const std::string session = conn.session_id();
    if (co_await reporter_.report(cfg, m, content, decided, conn.peer_takes_dsn(), connector_name, remote, session))
        kick();
}

}  // namespace edge::send
