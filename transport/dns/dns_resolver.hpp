// The send side's DNS resolver: where mail for a domain goes (MX, RFC 5321 §5.1, null
// MX RFC 7505) and what addresses a host has (A and AAAA). A stub resolver: it asks the
// configured servers (ExternalDNSServers, or /etc/resolv.conf) over UDP, TCP when told.
#pragma once

// <utility> before Asio: Boost's awaitable.hpp needs std::exchange (see receive/asio.hpp).
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/udp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::dns {

namespace asio = boost::asio;

struct DnsOptions {
    // Asked in this order, one after the other; `attempts` rounds over the list.
    // Empty: every lookup is Transient ("no DNS servers configured").
    std::vector<asio::ip::udp::endpoint> servers;
    // How long one server has to answer one query (over UDP; or the whole TCP exchange).
    std::chrono::milliseconds timeout{3000};
    int attempts = 2;
    // ExternalDNSProtocolOption UseTcpOnly: never ask over UDP.
    bool tcp_only = false;
    // RFC 6891 EDNS(0) buffer size we advertise; 1232 avoids IP fragmentation (DNS
    // flag day 2020). 0: no EDNS, so answers over 512 bytes come truncated, then by TCP.
    std::uint16_t edns_udp_size = 1232;
    // Answers kept, at most (the oldest goes first); 0: nothing is cached.
    std::size_t cache_entries = 10000;
    // Caps on how long an answer is kept: its TTL, at most max_ttl; a negative answer
    // (NXDOMAIN, no records of the type) the SOA's minimum (RFC 2308 §5), at most
    // max_negative_ttl. Failures (timeouts, SERVFAIL) are never kept.
    std::chrono::seconds max_ttl{86400};
    std::chrono::seconds max_negative_ttl{300};
    // DNSSEC (DANE): queries carry DO and AD (RFC 6840 §5.7), and answers say whether
    // the server set AD. Only for a validating resolver the administrator trusts.
    bool dnssec = false;
    // CNAMEs followed from one name, in an answer and by asking again, before giving up.
    int max_cname_hops = 8;
};

enum class DnsStatus {
    Ok,
    NoSuchDomain,  // NXDOMAIN for the domain itself: permanent
    NoData,        // the name exists with no records of the type (resolve_mx: no host to deliver to): permanent
    NullMx,        // RFC 7505: the domain accepts no mail: permanent
    Transient,     // timeout, SERVFAIL, REFUSED, network error, CNAME loop: try again later
};

// "Ok", "NoSuchDomain", … for logs and tests.
std::string_view to_string(DnsStatus status);

struct MxHost {
    std::string name;  // lower case, no trailing dot ("mx1.contoso.com"); an address literal as given
    std::uint16_t preference = 0;
    std::vector<asio::ip::address> addresses;  // IPv4 first, then IPv6, each in the server's order
    bool implicit = false;  // RFC 5321 §5.1: no MX, the domain's own addresses (or an address literal)
};

struct MxResult {
    DnsStatus status = DnsStatus::Transient;
    // Ok: by preference, lowest first, in random order among equal preferences
    // (RFC 5321 §5.1), each with at least one address. Hosts whose addresses could not
    // be found are left out, and `error` says which and why.
    std::vector<MxHost> hosts;
    // For LastError and the protocol log, e.g. "DNS query for MX contoso.com timed out
    // (127.0.0.1:53)". Empty when everything went well.
    std::string error;
    bool authenticated = false;  // DnsOptions::dnssec: the MX answer had AD
};

// TLSA records (RFC 6698) of one name, asked of a validating resolver (DANE).
struct TlsaRecordData {
    std::uint8_t usage = 0, selector = 0, matching = 0;
    std::vector<std::uint8_t> data;
};
struct TlsaResult {
    DnsStatus status = DnsStatus::Transient;  // never NullMx
    bool authenticated = false;  // the answer had AD (DnsOptions::dnssec)
    bool bogus = false;          // Transient because the resolver said SERVFAIL (DNSSEC-bogus)
    std::vector<TlsaRecordData> records;
    std::string error;
};

struct AddressResult {
    DnsStatus status = DnsStatus::Transient;  // never NullMx
    std::vector<asio::ip::address> addresses;  // IPv4 first, then IPv6
    std::string error;
};

struct NameResult {
    DnsStatus status = DnsStatus::Transient;  // never NullMx
    std::vector<std::string> names;  // lower case, no trailing dot, in the server's order
    std::string error;
};

struct TextResult {
    DnsStatus status = DnsStatus::Transient;  // never NullMx
    // Ok: each TXT record as one string, its character-strings joined without separator
    // (RFC 7208 §3.3, RFC 6376 §3.6.2.2), in the server's order; at most 64 records
    // (a hostile zone's extra ones are dropped), each at most 64 KiB.
    std::vector<std::string> texts;
    std::string error;
};

// The name under which the reverse tree and DNS lists (DNSBL) publish an address,
// without the zone: "4.3.2.1" for 1.2.3.4; for IPv6 its 32 nibbles, lowest first
// ("1.0.0.0. … .8.b.d.0.1.0.0.2" for 2001:db8::1). An IPv4-mapped IPv6 address is
// its IPv4 address.
std::string reverse_name(const asio::ip::address& address);

// One resolver serves every session of an io thread. It is not thread-safe: call it
// only from coroutines running on `executor` (a single-threaded io_context, or a
// strand). Lookups may run concurrently; each query has its own socket, so its own
// random source port (RFC 5452 §9.2), and a random id. Lookups in flight keep what
// they need alive: the resolver may be destroyed while they finish.
class DnsResolver {
public:
    DnsResolver(asio::any_io_executor executor, DnsOptions options);
    ~DnsResolver();
    DnsResolver(DnsResolver&&) noexcept;
    DnsResolver& operator=(DnsResolver&&) noexcept;
    DnsResolver(const DnsResolver&) = delete;
    DnsResolver& operator=(const DnsResolver&) = delete;

    // Where mail for `domain` goes. MX records, each host with its addresses; no MX
    // records (NoData) → the domain's own A/AAAA as one implicit host; "0 ." → NullMx;
    // an address literal "[192.0.2.1]" or "[IPv6:2001:db8::1]" → that address, without
    // asking anyone. NoSuchDomain only when the domain itself does not exist.
    asio::awaitable<MxResult> resolve_mx(std::string domain);

    // A and AAAA of `host` (both asked, at the same time), for smart hosts and MX
    // targets. An IP address ("192.0.2.1", "2001:db8::1", bracketed or not) is returned
    // as it is.
    asio::awaitable<AddressResult> resolve_address(std::string host);

    // The A records of `name` only (DNS lists answer 127.0.0.x; AAAA is never asked).
    // NoSuchDomain when the name does not exist (a DNS list's "not listed").
    asio::awaitable<AddressResult> resolve_a(std::string name);
    // The AAAA records of `name` only (SPF's "a" and "mx" for an IPv6 client, RFC 7208
    // §5.3). Like resolve_a, an IP address given as the name is not taken as an answer.
    asio::awaitable<AddressResult> resolve_aaaa(std::string name);

    // The TXT records of `name` (SPF policies, DKIM keys, DMARC policies). NoSuchDomain
    // for NXDOMAIN, NoData when the name has no TXT record, Transient for a timeout or
    // SERVFAIL. A name that is not a host name (host_name's rules, '_' allowed) is
    // NoSuchDomain without asking.
    asio::awaitable<TextResult> resolve_txt(std::string name);

    // The exchange names of `domain`'s MX records only, by preference (lowest first;
    // equal preferences in the server's order; each name once), no addresses and no
    // implicit MX: SPF's "mx" mechanism must not fall back to A (RFC 7208 §5.4). A null
    // MX "0 ." (RFC 7505) is Ok with no names: the domain has an MX RRset, so for SPF
    // the lookup is not void (§4.6.4). NoData when the domain has no MX records.
    asio::awaitable<NameResult> resolve_mx_names(std::string domain);

    // The TLSA records of `name` ("_25._tcp.mx1.contoso.com"), with the AD bit of the
    // answer (meaningful only with DnsOptions::dnssec). A SERVFAIL is Transient with bogus set.
    asio::awaitable<TlsaResult> resolve_tlsa(std::string name);

    // The PTR names of `address` (in-addr.arpa / ip6.arpa), for reverse-DNS checks.
    // NoSuchDomain or NoData when it has none.
    asio::awaitable<NameResult> resolve_ptr(asio::ip::address address);

    // New servers and limits for lookups that start from now on. The cache is
    // emptied: the new servers may know better.
    void set_options(DnsOptions options);
    const DnsOptions& options() const;

    // Answers held now (each is one name and type; expired ones may linger until
    // they are looked up again or pushed out).
    std::size_t cache_size() const;

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

// Where an address answered by DNS leads, for the Send connector's
// AllowPrivateTargetAddresses. A forged sender domain may publish an MX that points
// anywhere; without this, our NDRs (and any mail) to it would go to our own host or
// our own network on port 25 (issue 13, weakness 11b).
enum class AddressScope {
    Public,    // anything else
    Private,   // RFC 1918 10/8, 172.16/12, 192.168/16; CGNAT 100.64/10 (RFC 6598); ULA fc00::/7
               // (RFC 4193); the deprecated site-local fec0::/10
    Internal,  // this host or this link, or no host at all: unspecified (0/8, ::), loopback
               // (127/8, ::1), link-local (169.254/16, fe80::/10), multicast (224/4, ff00::/8),
               // reserved and broadcast (240/4)
};
// IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::/96,
// RFC 6052) addresses are judged by the IPv4 address inside.
AddressScope address_scope(const asio::ip::address& address);
std::string_view to_string(AddressScope scope);  // "public", "private", "internal"

// Which scopes a delivery may connect to.
struct TargetAddressPolicy {
    bool allow_internal = false;
    bool allow_private = false;
    bool allows(AddressScope s) const {
        return s == AddressScope::Public || (s == AddressScope::Private && allow_private) ||
               (s == AddressScope::Internal && allow_internal);
    }
};

// Removes from each host the addresses `policy` refuses, then the hosts left with
// none (order kept). Returns a sentence naming what was removed, for LastError and the
// log ("mx.example.test [127.0.0.1 (internal)]"), empty when nothing was.
std::string filter_target_addresses(std::vector<MxHost>& hosts, const TargetAddressPolicy& policy);

// One DNS server as written in ExternalDNSServers or on our command line: "192.0.2.1",
// "2001:db8::1", "[2001:db8::1]", and with a port (our extension, for tests)
// "127.0.0.1:5353", "[::1]:5353". The port defaults to 53. Nothing else: no names, no
// port 0, no spaces. std::nullopt when the text is not one of these.
std::optional<asio::ip::udp::endpoint> parse_dns_server(std::string_view text);

// The `nameserver` lines of a resolv.conf(5), in order, port 53; lines that do not
// parse are skipped. As the C library does, a file that is missing or names no
// server means the local host (127.0.0.1).
std::vector<asio::ip::udp::endpoint> servers_from_resolv_conf(const std::string& path = "/etc/resolv.conf");

// The servers of a setting (InternalDNSServers, ExternalDNSServers: parse_dns_server's
// forms; others skipped), or resolv.conf's when it names none.
std::vector<asio::ip::udp::endpoint> configured_servers(const std::vector<std::string>& listed);

}  // namespace edge::dns
