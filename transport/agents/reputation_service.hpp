// Sender reputation's state and I/O, and the Protocol Analysis Agent that feeds it.
// The service (owned by the server, on its one I/O thread) keeps the profiles being
// changed in memory, runs forward-confirmed reverse DNS in the background, computes
// the SRL at the end of each message, blocks, and writes its changes in batches.
#pragma once

#include "pipeline.hpp"
#include "sender_reputation.hpp"
#include "typed_settings.hpp"

#include "asio.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

namespace edge::queue {
class QueueDb;
}
namespace edge::dns {
class DnsResolver;
}
namespace edge::routing {
class Categorizer;
}

namespace edge::agents {

inline constexpr std::string_view kProtocolAnalysisAgent = "Protocol Analysis Agent";

class SenderReputationService : public std::enable_shared_from_this<SenderReputationService> {
public:
    // What a block hands to the IP Block List (the lead wires it to H1's store as a
    // machine entry): the address, when the entry ends, and the comment (the SRL's why).
    using BlockHook = std::function<void(const asio::ip::address&, std::chrono::system_clock::time_point expires,
                                         std::string comment)>;

    // Bounds: profiles waiting for a write, and FCrDNS checks running at once.
    static constexpr std::size_t kMaxPending = 10000;
    static constexpr std::size_t kMaxLookups = 64;
    // A reverse-DNS finding is kept this long before it is checked again; a lookup
    // that failed (timeout, SERVFAIL) is retried sooner.
    static constexpr std::chrono::seconds kReverseDnsRecheck{3600};
    static constexpr std::chrono::seconds kReverseDnsRetry{300};

    // `db` may be null (tests without a store); `dns` null: no FCrDNS (NotChecked).
    SenderReputationService(asio::any_io_executor executor, queue::QueueDb* db, std::shared_ptr<dns::DnsResolver> dns);

    void configure(const config::SenderReputationConfigSettings& settings) { settings_ = settings; }
    const config::SenderReputationConfigSettings& settings() const { return settings_; }
    // What HELO analysis calls ours: our name, and the accepted domains of this generation.
    void set_ours(std::string server_fqdn, std::shared_ptr<const routing::Categorizer> categorizer);

    BlockHook on_block;
    std::function<Seconds()> clock;  // system time; tests set it

    // ---- events (the agent's, on the I/O thread) ------------------------------------
    // Notes the connection and starts FCrDNS in the background unless a finding is
    // fresh, the address is being checked, or kMaxLookups run already. Never waits.
    void on_connect(const std::string& remote_ip);
    void on_helo(const std::string& remote_ip, const std::string& local_ip, std::string_view helo);
    // Counts the message, recomputes the SRL; over the threshold with blocking on, blocks.
    SrlResult on_end_of_data(const std::string& remote_ip);
    // Another agent refused a command or message of this address.
    void note_rejection(const std::string& remote_ip);
    // The pre-greet test saw a client talk before the banner.
    void record_early_talker(const asio::ip::address& address);

    // The profile as the service knows it now (pending, being written, or stored).
    std::optional<SenderProfile> profile(const std::string& ip) const;

    // ---- writes ----------------------------------------------------------------------
    // Starts writing the pending profiles (queue-db's group commit); `done` after it.
    // One batch at a time: a call while one is in flight does nothing but `done`.
    void flush(std::function<void(std::error_code)> done = {});
    // At shutdown, after the I/O thread stopped: writes what is pending or in flight.
    void flush_now();
    // Flushes every ReputationFlushInterval until the executor stops.
    asio::awaitable<void> run_flusher();

    std::size_t pending() const { return pending_.size(); }
    std::size_t lookups_in_flight() const { return lookups_.size(); }
    std::uint64_t dropped_updates() const { return dropped_; }
    std::uint64_t skipped_lookups() const { return skipped_lookups_; }
    std::uint64_t blocks() const { return blocks_; }

    // Applies a finished FCrDNS check (the background coroutine's last step; tests).
    void apply_reverse_dns(const std::string& key, ReverseDnsFinding finding, std::string ptr_name);

private:
    struct Key {
        std::string bytes;  // reputation_key; empty: not an address
        asio::ip::address address;
    };
    static Key key_of(const std::string& ip);
    // The profile to change, read into pending_; null when pending_ is full (dropped).
    SenderProfile* edit(const std::string& key);
    std::optional<SenderProfile> lookup(const std::string& key) const;
    static asio::awaitable<void> check_reverse_dns(std::weak_ptr<SenderReputationService> self,
                                                   std::shared_ptr<dns::DnsResolver> dns, asio::ip::address address,
                                                   std::string key);

    asio::any_io_executor executor_;
    queue::QueueDb* db_;
    std::shared_ptr<dns::DnsResolver> dns_;
    config::SenderReputationConfigSettings settings_;
    std::string server_fqdn_;
    std::shared_ptr<const routing::Categorizer> categorizer_;
    std::map<std::string, SenderProfile> pending_;    // changed since the last batch
    std::map<std::string, SenderProfile> in_flight_;  // the batch being written
    bool flushing_ = false;
    std::set<std::string> lookups_;  // addresses being checked now
    std::uint64_t dropped_ = 0, skipped_lookups_ = 0, blocks_ = 0;
};

// Exchange's Protocol Analysis agent: evidence at OnConnect and HELO/EHLO, the SRL at
// the end of data. It never refuses anything itself: a sender over the threshold goes
// onto the IP Block List and the Connection Filter refuses it from then on.
class ProtocolAnalysisAgent final : public Agent {
public:
    explicit ProtocolAnalysisAgent(std::shared_ptr<SenderReputationService> service) : service_(std::move(service)) {}
    std::string_view name() const override { return kProtocolAnalysisAgent; }
    bool handles(AgentEvent e) const override {
        return e == AgentEvent::OnConnect || e == AgentEvent::OnHeloCommand || e == AgentEvent::OnEhloCommand ||
               e == AgentEvent::OnEndOfData;
    }
    Verdict on_event(AgentEvent e, const SessionInfo& session, const Envelope& envelope) const override;

private:
    std::shared_ptr<SenderReputationService> service_;
};

// The verdict sink the connections use: tells the service of other agents' refusals,
// then passes every verdict on (to the agent log).
class ReputationVerdictTee final : public VerdictSink {
public:
    ReputationVerdictTee(VerdictSink* next, std::shared_ptr<SenderReputationService> service)
        : next_(next), service_(std::move(service)) {}
    void record(const VerdictRecord& r) override;

private:
    VerdictSink* next_;
    std::shared_ptr<SenderReputationService> service_;
};

}  // namespace edge::agents
