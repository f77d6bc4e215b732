// Our outbound identity: the judgement of what DNS says about a source address, and
// the lookups that gather it (see the header).
#include "outbound_identity.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <strings.h>

namespace edge::send {

namespace {
bool same_name(std::string_view a, std::string_view b) {
    if (!a.empty() && a.back() == '.') a.remove_suffix(1);
    if (!b.empty() && b.back() == '.') b.remove_suffix(1);
    return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}
// An IPv4 address seen through a dual-stack socket is that IPv4 address.
boost::asio::ip::address plain(const boost::asio::ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped()) return a.to_v6().to_v4();
    return a;
}
constexpr std::size_t kMaxNamesChecked = 4;
}  // namespace

IdentityReport judge_identity(const IdentityFacts& f) {
    IdentityReport r;
    const std::string addr = plain(f.address).to_string();
    if (f.ptr.status == dns::DnsStatus::Transient) {
        r.dns_failed = true;
        r.problems.push_back(fmt::format(
            "the PTR lookup of {} failed ({}); check InternalDNSServers / ExternalDNSServers and try again", addr,
            f.ptr.error.empty() ? "no answer" : f.ptr.error));
        return r;
    }
    r.has_ptr = f.ptr.status == dns::DnsStatus::Ok && !f.ptr.names.empty();
    if (!r.has_ptr) {
        r.problems.push_back(fmt::format(
            "{} has no PTR record: many receivers refuse mail from an address without reverse DNS; ask whoever runs "
            "the address's reverse zone (your ISP or hosting provider) for a PTR {} -> {}",
            addr, dns::reverse_name(f.address) + (plain(f.address).is_v4() ? ".in-addr.arpa" : ".ip6.arpa"),
            f.expected_fqdn));
        return r;
    }
    // The name that confirms is the one that counts; else the first.
    r.ptr_name = f.ptr.names.front();
    for (const auto& [name, result] : f.forward) {
        if (result.status == dns::DnsStatus::Transient) r.dns_failed = true;
        if (result.status != dns::DnsStatus::Ok) continue;
        const bool back = std::any_of(result.addresses.begin(), result.addresses.end(),
                                      [&](const auto& a) { return plain(a) == plain(f.address); });
        if (back) {
            r.forward_confirmed = true;
            r.ptr_name = name;
            break;
        }
    }
    // Without a confirming name, the one that is our Fqdn is the one to talk about.
    if (!r.forward_confirmed)
        for (const auto& n : f.ptr.names)
            if (same_name(n, f.expected_fqdn)) {
                r.ptr_name = n;
                break;
            }
    r.matches_fqdn = same_name(r.ptr_name, f.expected_fqdn);
    if (!r.forward_confirmed) {
        if (r.dns_failed)
            r.problems.push_back(fmt::format("the address lookup of {} failed; whether it leads back to {} is not known; "
                                             "try again", r.ptr_name, addr));
        else
            r.problems.push_back(fmt::format(
                "the PTR name {} does not lead back to {} (its A/AAAA records do not contain it): receivers that check "
                "forward-confirmed reverse DNS refuse such mail; add an A/AAAA record {} -> {} or correct the PTR",
                r.ptr_name, addr, r.ptr_name, addr));
    }
    if (!r.matches_fqdn)
        r.problems.push_back(fmt::format(
            "the PTR name {} is not the name we say in EHLO ({}): set the Send connector's -Fqdn {} or have the PTR "
            "record changed to {}",
            r.ptr_name, f.expected_fqdn, r.ptr_name, f.expected_fqdn));
    return r;
}

boost::asio::awaitable<IdentityFacts> gather_identity(dns::DnsResolver& resolver, boost::asio::ip::address address,
                                                      std::string expected_fqdn) {
    IdentityFacts f;
    f.address = plain(address);
    f.expected_fqdn = std::move(expected_fqdn);
    f.ptr = co_await resolver.resolve_ptr(f.address);
    if (f.ptr.status != dns::DnsStatus::Ok) co_return f;
    for (std::size_t i = 0; i < f.ptr.names.size() && i < kMaxNamesChecked; ++i) {
        dns::AddressResult a = co_await resolver.resolve_address(f.ptr.names[i]);
        f.forward.emplace_back(f.ptr.names[i], std::move(a));
    }
    co_return f;
}

std::optional<boost::asio::ip::address> outbound_address_towards(const boost::asio::ip::address& target) {
    boost::asio::io_context io;
    const auto t = plain(target);
    boost::asio::ip::udp::socket s(io);
    boost::system::error_code ec;
    s.open(t.is_v4() ? boost::asio::ip::udp::v4() : boost::asio::ip::udp::v6(), ec);
    if (ec) return std::nullopt;
    s.connect(boost::asio::ip::udp::endpoint(t, 25), ec);
    if (ec) return std::nullopt;
    auto local = s.local_endpoint(ec);
    if (ec) return std::nullopt;
    return plain(local.address());
}

}  // namespace edge::send
