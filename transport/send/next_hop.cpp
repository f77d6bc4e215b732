// Next-hop resolution (next_hop.hpp): connector choice, smart hosts, DNS MX with the
// AllowPrivateTargetAddresses filter, and the order of the addresses a worker tries.
#include "next_hop.hpp"

#include <fmt/format.h>

namespace edge::send {

namespace asio = boost::asio;

namespace {

bool is_address_literal(std::string_view host) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host.starts_with("IPv6:") || host.starts_with("ipv6:")) host.remove_prefix(5);
    boost::system::error_code ec;
    (void)asio::ip::make_address(std::string(host), ec);
    return !ec;
}

// LastError when addresses were refused: what, and which setting would allow them.
std::string refused_text(const SendConnector& c, const std::string& refused) {
    return fmt::format("not connecting to {}: internal{} addresses are not used by Send connector {} "
                       "(AllowPrivateTargetAddresses is $false)",
                       refused, c.internet_bound() ? " and private" : "", c.name);
}

// RFC 5321 §5.1: the MX hosts at or above our own preference go (mx_self.hpp); true
// when we are the best MX — a loop, failed with 5.4.6 as Exchange's MxLoopback, not retried.
bool mx_loop(const SendConfig& cfg, const SendConnector& c, const std::string& next_hop, std::vector<MxHost>& hosts,
             Target& t, const std::function<void(const std::string&)>& say) {
    std::string us;
    switch (drop_mx_at_or_above_us(hosts, cfg.local, c.port, &us)) {
        case MxSelf::NotListed: return false;
        case MxSelf::Dropped:
            if (say) say(fmt::format("{}: MX host {} is this server; only the MX hosts preferred to it are tried", next_hop, us));
            return false;
        case MxSelf::Loop: break;
    }
    t.kind = Target::Kind::Permanent;
    t.status = "5.4.6";
    t.error = fmt::format("554 5.4.6 SMTPSEND.DNS.MxLoopback; DNS records for {} are configured in a loop: "
                          "its best MX host {} is this server (Send connector {}, port {})",
                          next_hop, us, c.name, c.port);
    return true;
}

}  // namespace

void ResolverNextHopDns::apply(const DeliverySettings& s) {
    if (!internal_ || s.internal_dns_servers != internal_text_) {
        internal_ = std::make_shared<DnsResolver>(executor_, DnsOptions{dns::configured_servers(s.internal_dns_servers)});
        internal_text_ = s.internal_dns_servers;
    }
    if (!external_ || s.external_dns_servers != external_text_) {
        external_ = std::make_shared<DnsResolver>(
            executor_,
            DnsOptions{dns::configured_servers(s.external_dns_servers.empty() ? s.internal_dns_servers : s.external_dns_servers)});
        external_text_ = s.external_dns_servers;
    }
    if (s.dnssec_resolver != dane_text_) {
        dane_.reset();
        if (!s.dnssec_resolver.empty()) {
            DnsOptions o{dns::configured_servers({s.dnssec_resolver})};
            o.dnssec = true;
            dane_ = std::make_shared<DnsResolver>(executor_, std::move(o));
        }
        dane_text_ = s.dnssec_resolver;
    }
}

asio::awaitable<MxResult> ResolverNextHopDns::resolve_mx(std::string domain, bool external) {
    // The resolver is held for the lookup: a config change may replace it meanwhile.
    // With DANE, the MX RRset comes from the validating resolver too, so that its
    // security is known (RFC 7672 §2.2.1).
    auto resolver = dane_ ? dane_ : external ? external_ : internal_;
    auto lookup = resolver->resolve_mx(std::move(domain));
    co_return co_await std::move(lookup);
}

asio::awaitable<dns::TlsaResult> ResolverNextHopDns::resolve_tlsa(std::string name) {
    auto resolver = dane_;
    if (!resolver) {
        dns::TlsaResult r;
        r.status = DnsStatus::NoData;
        co_return r;
    }
    auto lookup = resolver->resolve_tlsa(std::move(name));
    co_return co_await std::move(lookup);
}

asio::awaitable<AddressResult> ResolverNextHopDns::resolve_address(std::string host, bool external) {
    auto resolver = external ? external_ : internal_;
    auto lookup = resolver->resolve_address(std::move(host));
    co_return co_await std::move(lookup);
}

namespace {

// The TLSA RRset as TLS-RPT's policy-string lines ("3 1 1 <hex>").
std::string tlsa_text(const std::vector<TlsaRecord>& records) {
    std::string out;
    for (const auto& r : records) {
        out += fmt::format("{}{} {} {} ", out.empty() ? "" : "\n", r.usage, r.selector, r.matching);
        for (auto b : r.data) out += fmt::format("{:02x}", b);
    }
    return out;
}

// DANE for each MX host (RFC 7672 §2.2): only when the MX RRset was authenticated;
// TLSA _<port>._tcp.<host> from the validating resolver. Usable authenticated records
// make the host's policy DANE; a bogus answer or a failed lookup leaves the host out
// (never delivered in clear); no records, an insecure answer or unusable records only:
// no DANE for that host. Returns whether any host has DANE.
asio::awaitable<bool> apply_dane(const std::string& domain, bool mx_secure, Target& t, NextHopDns& dns,
                                 std::string& left_out) {
    bool any = false;
    if (!mx_secure) co_return false;
    std::vector<Target::Host> kept;
    for (auto& h : t.hosts) {
        auto lookup = dns.resolve_tlsa(fmt::format("_{}._tcp.{}", t.connector->port, h.name));
        dns::TlsaResult r = co_await std::move(lookup);
        if (r.status == DnsStatus::Transient) {
            left_out += fmt::format("{}{}: TLSA lookup {} ({})", left_out.empty() ? "" : "; ", h.name,
                                    r.bogus ? "failed DNSSEC validation (bogus)" : "failed", r.error);
            continue;
        }
        if (r.status == DnsStatus::Ok && r.authenticated) {
            std::vector<TlsaRecord> all;
            for (auto& d : r.records) all.push_back(TlsaRecord{d.usage, d.selector, d.matching, std::move(d.data)});
            auto usable = usable_tlsa(all);
            if (!usable.empty()) {
                PeerTlsPolicy dane = dane_tls_policy(h.name, domain, std::move(usable));
                dane.policy_text = tlsa_text(dane.tlsa);
                h.tls = choose_tls_policy(h.tls, dane, std::nullopt);
                any = true;
            }
        }
        kept.push_back(std::move(h));
    }
    t.hosts = std::move(kept);
    co_return any;
}

}  // namespace

asio::awaitable<Target> resolve_target(const SendConfig& cfg, std::string next_hop, NextHopDns& dns,
                                       const std::function<void(const std::string&)>& say,
                                       DomainTlsPolicySource* domain_policies) {
    Target t;
    const SendConnector* smart = cfg.connector(next_hop);
    if (smart != nullptr && !smart->dns_routing_enabled) {
        t.connector = smart;
        std::string errors;
        std::vector<MxHost> named;  // smart hosts given by name, checked below
        for (const auto& h : smart->smart_hosts) {
            auto lookup = dns.resolve_address(h, smart->use_external_dns);
            auto r = co_await std::move(lookup);
            if (r.status != DnsStatus::Ok)
                errors += (errors.empty() ? "" : "; ") + (r.error.empty() ? h + ": " + std::string(to_string(r.status)) : r.error);
            else if (is_address_literal(h))
                t.hosts.push_back({h, r.addresses, {}});  // the administrator named this address
            else
                named.push_back({h, 0, r.addresses, false});
        }
        // A smart host's name is looked up in DNS like an MX host: it may lead to a
        // private address (an internal relay) but not, unless allowed, to this host.
        const TargetAddressPolicy policy{smart->allow_private_target_addresses, true};
        std::string refused = filter_target_addresses(named, policy);
        for (auto& h : named) t.hosts.push_back({h.name, std::move(h.addresses), {}});
        t.kind = t.hosts.empty() ? Target::Kind::Transient : Target::Kind::Hosts;
        if (!refused.empty()) {
            refused = refused_text(*smart, refused);
            if (t.hosts.empty()) t.error = "451 4.4.0 " + refused;
            else if (say) say(next_hop + ": " + refused);
        } else if (t.hosts.empty()) {
            t.error = "451 4.4.0 DNS query failed for the smart hosts: " + errors;
        }
        for (auto& h : t.hosts) h.tls = connector_tls_policy(*smart, h.name, "");
        co_return t;
    }
    routing::Route route = cfg.categorizer->route(next_hop);
    if (route.kind == routing::RouteKind::Unreachable || route.delivery != routing::DeliveryKind::Dns ||
        route.next_hop_domain != next_hop) {
        t.kind = Target::Kind::Moved;  // the configuration changed: route the queue again
        co_return t;
    }
    t.connector = cfg.connector(route.connector);
    if (t.connector == nullptr) {
        t.kind = Target::Kind::Moved;
        co_return t;
    }
    auto lookup = dns.resolve_mx(next_hop, t.connector->use_external_dns);
    auto mx = co_await std::move(lookup);
    switch (mx.status) {
        case DnsStatus::Ok: {
            if (mx_loop(cfg, *t.connector, next_hop, mx.hosts, t, say)) break;
            // RFC 5321 §5.1 lets a domain name any host; a stranger's domain (a forged
            // sender we owe an NDR) must not aim us at our own host or network.
            const TargetAddressPolicy policy{t.connector->allow_private_target_addresses,
                                             t.connector->allow_private_target_addresses || !t.connector->internet_bound()};
            std::string refused = filter_target_addresses(mx.hosts, policy);
            for (auto& h : mx.hosts) t.hosts.push_back({h.name, h.addresses, {}});
            t.kind = Target::Kind::Hosts;
            if (refused.empty()) break;
            refused = refused_text(*t.connector, refused);
            if (!t.hosts.empty()) {
                if (say) say(next_hop + ": " + refused);
                break;
            }
            // No usable host is left: the mail waits (Retry, LastError saying why) and
            // expires with NDR 4.4.7 unless the administrator allows the addresses —
            // never a permanent failure that a configuration change could have saved.
            t.kind = Target::Kind::Transient;
            t.error = "451 4.4.0 " + refused;
            break;
        }
        case DnsStatus::NullMx:
            t.kind = Target::Kind::Permanent;
            t.status = "5.1.10";
            t.error = "556 5.1.10 " + next_hop + " does not accept mail (null MX, RFC 7505)";
            break;
        case DnsStatus::NoSuchDomain:
        case DnsStatus::NoData:
            t.kind = Target::Kind::Permanent;
            t.status = "5.4.4";
            t.error = "550 5.4.4 SMTPSEND.DNS.NonExistentDomain; nonexistent domain " + next_hop;
            break;
        case DnsStatus::Transient:
            t.kind = Target::Kind::Transient;
            t.error = "451 4.4.0 DNS query failed: " + mx.error;
            break;
    }
    if (t.kind != Target::Kind::Hosts) co_return t;
    // TLS policies, DANE > MTA-STS > the connector's (tls_policy.hpp).
    t.domain_secure = t.connector->domain_secure && cfg.domain_secure(next_hop);
    for (auto& h : t.hosts) {
        h.tls = connector_tls_policy(*t.connector, h.name, t.domain_secure ? next_hop : "");
        h.tls.policy_domain = next_hop;
    }
    bool dane = false;
    if (dns.dane_enabled()) {
        std::string left_out;
        auto applying = apply_dane(next_hop, mx.authenticated, t, dns, left_out);
        dane = co_await std::move(applying);
        if (t.hosts.empty()) {
            t.kind = Target::Kind::Transient;
            t.error = "451 4.7.5 DANE: " + left_out;
            co_return t;
        }
        if (!left_out.empty() && say) say(next_hop + ": DANE: " + left_out);
    }
    // MTA-STS only where no host has DANE (RFC 8461 §2) and Domain Security does not
    // already demand more (a verified chain for the partner's own domain).
    if (!dane && !t.domain_secure && domain_policies != nullptr) {
        auto applying = domain_policies->apply(next_hop, t);
        co_await std::move(applying);
        if (t.hosts.empty()) {
            t.kind = Target::Kind::Transient;
            if (t.error.empty()) t.error = "451 4.7.5 MTA-STS: no MX host of " + next_hop + " is allowed by its policy";
        }
    }
    co_return t;
}

std::optional<asio::ip::address> source_address(const SendConnector& c) {
    boost::system::error_code ec;
    auto source = asio::ip::make_address(c.source_ip, ec);
    if (ec || source.is_unspecified()) return std::nullopt;
    return source;
}

std::vector<ConnectionAttempt> connection_attempts(const Target& target, const std::optional<asio::ip::address>& source) {
    std::vector<ConnectionAttempt> out;
    for (const auto& host : target.hosts)
        for (const auto& addr : host.addresses) {
            if (source && source->is_v4() != addr.is_v4()) continue;
            out.push_back({&host, addr});
        }
    return out;
}

std::string endpoint_text(const asio::ip::address& a, std::uint16_t port) {
    std::string ip = a.is_v6() && a.to_v6().is_v4_mapped() ? a.to_v6().to_v4().to_string() : a.to_string();
    return a.is_v6() && !a.to_v6().is_v4_mapped() ? fmt::format("[{}]:{}", ip, port) : fmt::format("{}:{}", ip, port);
}

}  // namespace edge::send
