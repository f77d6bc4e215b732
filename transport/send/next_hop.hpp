// Next-hop resolution: for a next-hop queue, which Send connector serves it and which
// hosts to try, in order (smart hosts, or the domain's MX hosts by preference, then the
// implicit A/AAAA host), the addresses AllowPrivateTargetAddresses lets us use, and the
// addresses a connection from the connector's SourceIPAddress can reach. DNS is behind
// NextHopDns, so every rule here is a unit test with a fake resolver.
#pragma once

#include "dns_resolver.hpp"
#include "send_connector.hpp"
#include "tls_policy.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace edge::send {

// DNS is transport/dns/ (shared with the agents); the names the send side uses.
using dns::AddressResult;
using dns::AddressScope;
using dns::DnsOptions;
using dns::DnsResolver;
using dns::DnsStatus;
using dns::MxHost;
using dns::MxResult;
using dns::TargetAddressPolicy;
using dns::TlsaResult;
using dns::address_scope;
using dns::filter_target_addresses;
using dns::parse_dns_server;
using dns::servers_from_resolv_conf;

// Where a next hop is: the connector that serves it and the hosts to try, in order.
struct Target {
    enum class Kind {
        Hosts,      // connect to `hosts`
        Permanent,  // no connection can ever help: NDR with `status` and `error`
        Transient,  // not now: the queue waits in Retry with `error` as LastError
        Moved,      // the configuration no longer routes here: route the queue again
    } kind = Kind::Transient;
    const SendConnector* connector = nullptr;
    struct Host {
        std::string name;  // for texts and TLS SNI: "mx1.contoso.com" or "[192.0.2.1]"
        std::vector<boost::asio::ip::address> addresses;
        PeerTlsPolicy tls;  // what TLS with this host must prove (tls_policy.hpp)
    };
    std::vector<Host> hosts;
    // Domain Security applies (the next hop is in TLSSendDomainSecureList and the
    // connector has DomainSecureEnabled): we present a client certificate.
    bool domain_secure = false;
    std::string status;  // Permanent: the RFC 3463 code of the NDR
    std::string error;   // Permanent / Transient: the sentence for LastError and the NDR
    std::string next_hop;  // the queue's next hop: the connectivity log's Destination
};

// The lookups next-hop resolution makes; `external`: the connector's UseExternalDNSServersEnabled.
class NextHopDns {
public:
    virtual ~NextHopDns() = default;
    virtual boost::asio::awaitable<MxResult> resolve_mx(std::string domain, bool external) = 0;
    virtual boost::asio::awaitable<AddressResult> resolve_address(std::string host, bool external) = 0;
    // DANE (issue 20): whether a validating resolver is configured (DnssecValidatingResolver);
    // then resolve_mx asks it, and resolve_tlsa asks it for TLSA records.
    virtual bool dane_enabled() const { return false; }
    virtual boost::asio::awaitable<dns::TlsaResult> resolve_tlsa(std::string /*name*/) {
        dns::TlsaResult r;
        r.status = DnsStatus::NoData;
        co_return r;
    }
};

// The real lookups: two DnsResolvers, InternalDNSServers and ExternalDNSServers (the
// internal ones when none is set; /etc/resolv.conf when neither is).
class ResolverNextHopDns final : public NextHopDns {
public:
    explicit ResolverNextHopDns(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}
    // New server lists make new resolvers (and empty caches); unchanged ones keep theirs.
    void apply(const DeliverySettings& settings);
    boost::asio::awaitable<MxResult> resolve_mx(std::string domain, bool external) override;
    boost::asio::awaitable<AddressResult> resolve_address(std::string host, bool external) override;
    bool dane_enabled() const override { return dane_ != nullptr; }
    boost::asio::awaitable<dns::TlsaResult> resolve_tlsa(std::string name) override;

private:
    boost::asio::any_io_executor executor_;
    std::shared_ptr<DnsResolver> internal_, external_, dane_;
    std::vector<std::string> internal_text_, external_text_;
    std::string dane_text_;
};

// Finds the Target of next-hop queue `next_hop` under `cfg`: a smart-host connector (the
// queue is named after it) → its SmartHosts' addresses; else the domain routed again (a
// changed configuration → Moved) and its MX hosts. Null MX → Permanent 5.1.10,
// NXDOMAIN / no host → Permanent 5.4.4, a DNS failure → Transient. Refused addresses
// (AllowPrivateTargetAddresses) are said through `say` when other hosts are left, and
// are the Transient error when none is.
// Each host gets its TLS policy (tls_policy.hpp): the connector's (TlsAuthLevel, or Domain
// Security for a TLSSendDomainSecureList domain), DANE for MX hosts with usable
// authenticated TLSA records (a bogus or failed TLSA lookup leaves the host out:
// 4.7.5 when none is left), else MTA-STS from `domain_policies` (may be null) when no MX
// host has DANE.
// `cfg`, `dns` and `say` must outlive the lookup (the worker holds them).
boost::asio::awaitable<Target> resolve_target(const SendConfig& cfg, std::string next_hop, NextHopDns& dns,
                                              const std::function<void(const std::string&)>& say,
                                              DomainTlsPolicySource* domain_policies = nullptr);

// SourceIPAddress when a connection must be bound to it; nullopt (the OS chooses) for
// 0.0.0.0 / :: and for text that is not an address (the config layer refuses that).
std::optional<boost::asio::ip::address> source_address(const SendConnector& c);

// The addresses to connect to, in order: every host of the target in its order (MX
// preference, smart hosts as listed), every address of each (IPv4 first, then IPv6, as
// the resolver gives them), leaving out those of the other family than a bound
// SourceIPAddress — a socket bound to an IPv4 address cannot reach an IPv6 one.
struct ConnectionAttempt {
    const Target::Host* host;
    boost::asio::ip::address address;
};
std::vector<ConnectionAttempt> connection_attempts(const Target& target,
                                                   const std::optional<boost::asio::ip::address>& source);

// "192.0.2.1:25" or "[2001:db8::1]:25" (an IPv4-mapped address as IPv4).
std::string endpoint_text(const boost::asio::ip::address& address, std::uint16_t port);

}  // namespace edge::send
