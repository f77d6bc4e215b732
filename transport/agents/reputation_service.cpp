// Sender reputation's service (profiles in memory, background FCrDNS, batched writes,
// blocking) and the Protocol Analysis Agent; see the header.
#include "reputation_service.hpp"

#include "categorizer.hpp"
#include "dns_resolver.hpp"
#include "queue_db.hpp"
#include "spawn.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace edge::agents {

namespace {
Seconds system_now() { return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()); }

// Of each address's PTR names, this many are followed forward: a PTR set is
// attacker-controlled and must not cost unbounded lookups.
constexpr std::size_t kMaxPtrNamesChecked = 4;
}  // namespace

SenderReputationService::SenderReputationService(asio::any_io_executor executor, queue::QueueDb* db,
                                                 std::shared_ptr<dns::DnsResolver> dns)
    : clock(system_now), executor_(std::move(executor)), db_(db), dns_(std::move(dns)) {}

void SenderReputationService::set_ours(std::string server_fqdn, std::shared_ptr<const routing::Categorizer> categorizer) {
    server_fqdn_ = std::move(server_fqdn);
    categorizer_ = std::move(categorizer);
}

SenderReputationService::Key SenderReputationService::key_of(const std::string& ip) {
    Key k;
    auto parsed = routing::IpAddress::parse(ip);
    if (!parsed.value) return k;
    k.bytes = reputation_key(*parsed.value);
    boost::system::error_code ec;
    k.address = asio::ip::make_address(parsed.value->str(), ec);
    if (ec) k.bytes.clear();
    return k;
}

std::optional<SenderProfile> SenderReputationService::lookup(const std::string& key) const {
    if (auto it = pending_.find(key); it != pending_.end()) return it->second;
    if (auto it = in_flight_.find(key); it != in_flight_.end()) return it->second;
    if (!db_) return std::nullopt;
    auto stored = db_->reputation_get(key);
    if (!stored) return std::nullopt;
    // A record that does not decode (a newer format, damage) starts afresh: it is evidence only.
    return decode_sender_profile(*stored);
}

SenderProfile* SenderReputationService::edit(const std::string& key) {
    if (auto it = pending_.find(key); it != pending_.end()) return &it->second;
    if (pending_.size() >= kMaxPending) {
        // The batch in flight has not finished: this update is lost rather than memory grown.
        flush();
        if (pending_.size() >= kMaxPending) {
            ++dropped_;
            return nullptr;
        }
    }
    auto p = lookup(key).value_or(SenderProfile{});
    auto [it, _] = pending_.emplace(key, std::move(p));
    if (pending_.size() >= kMaxPending / 2) flush();
    return &it->second;
}

std::optional<SenderProfile> SenderReputationService::profile(const std::string& ip) const {
    const Key k = key_of(ip);
    if (k.bytes.empty()) return std::nullopt;
    return lookup(k.bytes);
}

void SenderReputationService::on_connect(const std::string& remote_ip) {
    const Key k = key_of(remote_ip);
    if (k.bytes.empty()) return;
    const Seconds now = clock();
    SenderProfile* p = edit(k.bytes);
    if (!p) return;
    p->seen(now);
    if (!dns_) return;
    const bool definitive = p->reverse_dns != ReverseDnsFinding::NotChecked && p->reverse_dns != ReverseDnsFinding::TempError;
    const auto age = now - p->reverse_dns_checked;
    if (p->reverse_dns_checked != Seconds{} && age < (definitive ? kReverseDnsRecheck : kReverseDnsRetry)) return;
    if (lookups_.count(k.bytes)) return;
    if (lookups_.size() >= kMaxLookups) {
        ++skipped_lookups_;  // evidence only: this connection goes without it
        return;
    }
    lookups_.insert(k.bytes);
    async::spawn(executor_, check_reverse_dns(weak_from_this(), dns_, k.address, k.bytes), "sender reputation FCrDNS",
                 [weak = weak_from_this(), key = k.bytes] {
                     if (auto self = weak.lock()) self->lookups_.erase(key);
                 });
}

asio::awaitable<void> SenderReputationService::check_reverse_dns(std::weak_ptr<SenderReputationService> self,
                                                                 std::shared_ptr<dns::DnsResolver> dns,
                                                                 asio::ip::address address, std::string key) {
    // Forward-confirmed reverse DNS: a PTR name of the address whose A/AAAA records
    // include the address again.
    const dns::NameResult ptr = co_await dns->resolve_ptr(address);
    ReverseDnsFinding finding = ReverseDnsFinding::TempError;
    std::string name;
    if (ptr.status == dns::DnsStatus::NoSuchDomain || ptr.status == dns::DnsStatus::NoData ||
        (ptr.status == dns::DnsStatus::Ok && ptr.names.empty())) {
        finding = ReverseDnsFinding::NoPtr;
    } else if (ptr.status == dns::DnsStatus::Ok) {
        name = ptr.names.front();
        bool transient = false, confirmed = false;
        for (std::size_t i = 0; i < ptr.names.size() && i < kMaxPtrNamesChecked && !confirmed; ++i) {
            const dns::AddressResult fwd = co_await dns->resolve_address(ptr.names[i]);
            if (fwd.status == dns::DnsStatus::Transient) transient = true;
            for (const auto& a : fwd.addresses) {
                const auto plain = a.is_v6() && a.to_v6().is_v4_mapped() ? asio::ip::address(a.to_v6().to_v4()) : a;
                if (plain == address) {
                    confirmed = true;
                    name = ptr.names[i];
                }
            }
        }
        finding = confirmed ? ReverseDnsFinding::Pass : transient ? ReverseDnsFinding::TempError : ReverseDnsFinding::Fail;
    }
    if (auto s = self.lock()) s->apply_reverse_dns(key, finding, std::move(name));
}

void SenderReputationService::apply_reverse_dns(const std::string& key, ReverseDnsFinding finding, std::string ptr_name) {
    SenderProfile* p = edit(key);
    if (!p) return;
    // A timeout says nothing new: an earlier definitive finding stays.
    if (finding != ReverseDnsFinding::TempError || p->reverse_dns == ReverseDnsFinding::NotChecked) {
        p->reverse_dns = finding;
        p->ptr_name = ptr_name.substr(0, std::min(ptr_name.size(), SenderProfile::kMaxNameLength));
    }
    p->reverse_dns_checked = clock();
}

void SenderReputationService::on_helo(const std::string& remote_ip, const std::string& local_ip, std::string_view helo) {
    const Key k = key_of(remote_ip);
    if (k.bytes.empty()) return;
    SenderProfile* p = edit(k.bytes);
    if (!p) return;
    HeloContext ctx;
    ctx.client_ip = remote_ip;
    ctx.local_ip = local_ip;
    ctx.server_fqdn = server_fqdn_;
    if (categorizer_) ctx.is_accepted_domain = [c = categorizer_](std::string_view d) { return c->accepted(d) != nullptr; };
    ctx.ptr_name = p->ptr_name;  // known from this or an earlier session's check
    p->seen(clock());
    record_helo(*p, helo, analyse_helo(helo, ctx));
}

SrlResult SenderReputationService::on_end_of_data(const std::string& remote_ip) {
    const Key k = key_of(remote_ip);
    if (k.bytes.empty()) return {};
    SenderProfile* p = edit(k.bytes);
    if (!p) return {};
    const Seconds now = clock();
    p->seen(now);
    p->count_message(now);
    SrlResult r = sender_reputation_level(*p, now);
    p->srl = static_cast<std::uint8_t>(r.level);
    const bool block = settings_.sender_blocking_enabled && settings_.sender_blocking_period > 0 &&
                       r.level > settings_.srl_block_threshold && p->blocked_until <= now;
    if (!block) return r;
    const Seconds until = now + std::chrono::hours(settings_.sender_blocking_period);
    const std::string why = fmt::format("Sender Reputation Level {} is over the threshold {}: {}", r.level,
                                        settings_.srl_block_threshold, r.why());
    ++blocks_;
    // Exchange deletes the sender's profile when it blocks: the evidence starts again
    // once the block ends. What stays is the block itself, for Get-SenderReputation.
    SenderProfile fresh;
    fresh.first_seen = p->first_seen;
    fresh.last_seen = p->last_seen;
    fresh.srl = p->srl;
    fresh.blocked_until = until;
    fresh.block_reason = why.substr(0, std::min(why.size(), SenderProfile::kMaxBlockReason));
    *p = std::move(fresh);
    if (on_block) on_block(k.address, std::chrono::system_clock::time_point(until.time_since_epoch()), why);
    return r;
}

void SenderReputationService::note_rejection(const std::string& remote_ip) {
    const Key k = key_of(remote_ip);
    if (k.bytes.empty()) return;
    SenderProfile* p = edit(k.bytes);
    if (!p) return;
    const Seconds now = clock();
    p->seen(now);
    p->count_rejection(now);
}

void SenderReputationService::record_early_talker(const asio::ip::address& address) {
    const auto plain =
        address.is_v6() && address.to_v6().is_v4_mapped() ? asio::ip::address(address.to_v6().to_v4()) : address;
    const Key k = key_of(plain.to_string());
    if (k.bytes.empty()) return;
    SenderProfile* p = edit(k.bytes);
    if (!p) return;
    p->seen(clock());
    if (p->early_talker < std::numeric_limits<std::uint32_t>::max()) ++p->early_talker;
}

namespace {
std::vector<queue::QueueDb::ReputationWrite> writes_of(const std::map<std::string, SenderProfile>& profiles) {
    std::vector<queue::QueueDb::ReputationWrite> w;
    w.reserve(profiles.size());
    for (const auto& [key, p] : profiles)
        w.push_back({key, encode(p), queue::Timestamp(std::chrono::duration_cast<std::chrono::microseconds>(
                                         p.last_seen.time_since_epoch()))});
    return w;
}
}  // namespace

void SenderReputationService::flush(std::function<void(std::error_code)> done) {
    if (flushing_ || pending_.empty() || !db_) {
        if (done) done({});
        return;
    }
    flushing_ = true;
    in_flight_ = std::move(pending_);
    pending_.clear();
    const auto bound = static_cast<std::size_t>(std::max(1, settings_.max_tracked_addresses));
    // The completion runs on the committer's side; the state is the I/O thread's.
    db_->reputation_write_async(
        writes_of(in_flight_), bound,
        [weak = weak_from_this(), ex = executor_, done = std::move(done)](std::error_code ec,
                                                                          queue::QueueDb::ReputationWriteResult) mutable {
            asio::post(ex, [weak, ec, done = std::move(done)] {
                auto self = weak.lock();
                if (self) {
                    // A failed batch is not retried: newer evidence comes with the next messages.
                    self->in_flight_.clear();
                    self->flushing_ = false;
                }
                if (done) done(ec);
            });
        });
}

void SenderReputationService::flush_now() {
    if (!db_) return;
    std::map<std::string, SenderProfile> all = std::move(in_flight_);
    for (auto& [k, p] : pending_) all[k] = std::move(p);
    pending_.clear();
    in_flight_.clear();
    if (all.empty()) return;
    (void)db_->reputation_write(writes_of(all), static_cast<std::size_t>(std::max(1, settings_.max_tracked_addresses)));
}

asio::awaitable<void> SenderReputationService::run_flusher() {
    // One empty batch at start: the write path's first use (under UBSan its first type
    // checks, which need a free descriptor) happens now, not in a later moment when
    // the server may be out of descriptors (test_sync_limits.cpp).
    if (db_) db_->reputation_write_async({}, 0, [](std::error_code, queue::QueueDb::ReputationWriteResult) {});
    asio::steady_timer timer(executor_);
    for (;;) {
        timer.expires_after(settings_.reputation_flush_interval);
        boost::system::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        flush();
    }
}

// ---- the agent ------------------------------------------------------------------------

Verdict ProtocolAnalysisAgent::on_event(AgentEvent e, const SessionInfo& session, const Envelope&) const {
    switch (e) {
        case AgentEvent::OnConnect: service_->on_connect(session.remote_ip); break;
        case AgentEvent::OnHeloCommand:
        case AgentEvent::OnEhloCommand: service_->on_helo(session.remote_ip, session.local_ip, session.helo); break;
        case AgentEvent::OnEndOfData: service_->on_end_of_data(session.remote_ip); break;
        default: break;
    }
    return Verdict::go_on();  // evidence only: the IP Block List refuses, not this agent
}

void ReputationVerdictTee::record(const VerdictRecord& r) {
    if (service_ && r.agent != kProtocolAnalysisAgent &&
        (r.verdict.action == AgentAction::Reject || r.verdict.action == AgentAction::Disconnect))
        service_->note_rejection(r.session.remote_ip);
    if (next_) next_->record(r);
}

}  // namespace edge::agents
