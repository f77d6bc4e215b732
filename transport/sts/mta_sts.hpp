// MTA-STS (RFC 8461) for DNS-routed internet delivery: the `_mta-sts` TXT lookup, the
// policy fetched over HTTPS from mta-sts.<domain> (Boost.Beast over OpenSSL, the chain
// and name verified, no redirects, 200 and text/plain only, at most 64 KiB, one deadline
// for the whole fetch), the policy cached in the queue database and refreshed in the
// background before max_age ends, and applied to a next hop's MX hosts
// (send::DomainTlsPolicySource). The DNS it asks is behind StsDns and the cache is
// plain records, so the rules are unit tests; apply_sts_policy is pure.
#pragma once

#include "next_hop.hpp"
#include "sts_records.hpp"
#include "tls_policy.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace edge::queue {
class QueueDb;
}

namespace edge::sts {

namespace asio = boost::asio;

// The Set-TransportServer settings of MTA-STS.
struct MtaStsSettings {
    bool enabled = true;                      // MtaStsEnabled
    std::uint16_t port = 443;                 // MtaStsPolicyPort (ours: tests serve policies on a high port)
    std::chrono::seconds fetch_timeout{60};   // MtaStsFetchTimeout: the whole fetch, connect to last byte
    std::string ca_file;                      // TlsCertificateAuthorityFile: CAs trusted beside the system store
    std::vector<std::string> internal_dns_servers, external_dns_servers;
    friend bool operator==(const MtaStsSettings&, const MtaStsSettings&) = default;
};

// What MTA-STS asks DNS: the TXT record and the policy host's addresses. `external`:
// the Send connector's UseExternalDNSServersEnabled.
class StsDns {
public:
    virtual ~StsDns() = default;
    virtual asio::awaitable<dns::TextResult> resolve_txt(std::string name, bool external) = 0;
    virtual asio::awaitable<dns::AddressResult> resolve_address(std::string host, bool external) = 0;
};

// The real lookups, through transport/dns (never getaddrinfo): InternalDNSServers and
// ExternalDNSServers as the send side uses them (send::ResolverNextHopDns).
class ResolverStsDns final : public StsDns {
public:
    explicit ResolverStsDns(asio::any_io_executor executor) : executor_(std::move(executor)) {}
    void apply(const std::vector<std::string>& internal, const std::vector<std::string>& external);
    asio::awaitable<dns::TextResult> resolve_txt(std::string name, bool external) override;
    asio::awaitable<dns::AddressResult> resolve_address(std::string host, bool external) override;

private:
    asio::any_io_executor executor_;
    std::shared_ptr<dns::DnsResolver> internal_, external_;
    std::vector<std::string> internal_text_, external_text_;
};

// The HTTPS fetch of one policy.
struct FetchResult {
    bool ok = false;
    std::string body;         // ok: the policy file
    std::string error;        // else: what went wrong, for the log and TLS-RPT's failure-reason-code
    std::string result_type;  // else: RFC 8460 §4.3.2 "sts-policy-fetch-error" or "sts-webpki-invalid"
};
// GET https://<policy_host>/.well-known/mta-sts.txt from each address in turn (the
// next after a connection failure), SNI and RFC 6125 name check for policy_host, the
// chain verified by `ctx`; everything within `timeout`.
asio::awaitable<FetchResult> fetch_sts_policy(std::string policy_host, std::vector<asio::ip::address> addresses,
                                              std::uint16_t port, std::chrono::seconds timeout, asio::ssl::context& ctx);
// A client context for policy fetches: the system store (Debian's ca-certificates)
// plus `ca_file` when not empty; TLS 1.2 or later; peers verified.
std::unique_ptr<asio::ssl::context> make_fetch_context(const std::string& ca_file, std::string* why = nullptr);

// One cached policy: the TXT id it was fetched under, when, and the file as served.
struct CachedPolicy {
    std::string id;
    std::chrono::system_clock::time_point fetched{};
    std::string text;
};
std::string encode_cached_policy(const CachedPolicy& c);
std::optional<CachedPolicy> decode_cached_policy(std::string_view stored);
// RFC 8461 §5.1: a policy may be used until fetched + max_age; it is refreshed in the
// background once half its max_age or a day has passed, whichever comes first, so a
// policy in use never runs out while its server answers.
bool policy_fresh(const CachedPolicy& c, const StsPolicy& p, std::chrono::system_clock::time_point now);
bool refresh_due(const CachedPolicy& c, const StsPolicy& p, std::chrono::system_clock::time_point now);

// Applies a policy of `domain` to the target's MX hosts (pure). enforce: hosts whose
// name matches no mx pattern are removed — none left makes the target Transient with
// "451 4.7.5 … not in the MTA-STS policy of <domain>" — and every kept host must show
// TLS with a chain trusted and its own name (PeerTlsPolicy source MtaSts). testing: the
// same checks, report_only (reported, never refused), no host removed. none: nothing.
// Returns the names of hosts that matched no pattern.
std::vector<std::string> apply_sts_policy(const StsPolicy& policy, const std::string& domain, send::Target& target);

// The DomainTlsPolicySource of the delivery service.
class MtaStsPolicySource final : public send::DomainTlsPolicySource {
public:
    MtaStsPolicySource(asio::any_io_executor executor, queue::QueueDb* db, StsDns& dns);
    ~MtaStsPolicySource() override;
    void configure(const MtaStsSettings& settings);
    // Failures to get a policy (fetch errors, invalid policies) and MX hosts outside a
    // policy are reported here (TLS-RPT); may be null.
    void set_results(send::TlsResultSink* sink) { results_ = sink; }
    // Where log lines go ("mta-sts: …").
    void set_log(std::function<void(const std::string&)> say) { say_ = std::move(say); }
    asio::awaitable<void> apply(const std::string& domain, send::Target& target) override;

    // The policy of `domain` as delivery would use it now (looks up and fetches as
    // apply does): for tests and logs. nullopt: none.
    struct Active {
        StsPolicy policy;
        std::string id;
        bool from_cache = false;
    };
    asio::awaitable<std::optional<Active>> policy_for(std::string domain, bool external);

private:
    asio::awaitable<std::optional<CachedPolicy>> fetch_and_store(std::string domain, std::string id, bool external,
                                                                 bool report);
    asio::awaitable<void> refresh(std::string domain, std::string id, bool external);
    void report_failure(const std::string& domain, const std::string& result_type, const std::string& reason);

    asio::any_io_executor executor_;
    queue::QueueDb* db_;
    StsDns& dns_;
    MtaStsSettings settings_;
    std::shared_ptr<asio::ssl::context> ctx_;
    send::TlsResultSink* results_ = nullptr;
    std::function<void(const std::string&)> say_;
    std::set<std::string> refreshing_;  // domains with a background refresh under way
};

}  // namespace edge::sts
