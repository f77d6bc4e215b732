// MX hosts that are this server (mx_self.hpp): names, bindings and interface addresses.
#include "mx_self.hpp"

#include "accepted_domains.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <optional>

namespace edge::send {

namespace asio = boost::asio;

namespace {

routing::IpAddress to_routing(const asio::ip::address& a) {
    routing::IpAddress::Bytes bytes{};
    if (a.is_v4()) {
        bytes[10] = bytes[11] = 0xff;  // routing holds IPv4 as IPv4-mapped IPv6
        const auto v4 = a.to_v4().to_bytes();
        std::copy(v4.begin(), v4.end(), bytes.begin() + 12);
    } else {
        const auto v6 = a.to_v6().to_bytes();
        std::copy(v6.begin(), v6.end(), bytes.begin());
    }
    return routing::IpAddress(bytes);
}

bool same_address(const asio::ip::address& a, const asio::ip::address& b) { return to_routing(a) == to_routing(b); }

}  // namespace

bool LocalHost::is_us(const dns::MxHost& host, std::uint16_t port) const {
    const std::string name = routing::normalize_domain(host.name);
    if (std::find(names.begin(), names.end(), name) != names.end()) return true;
    for (const auto& a : host.addresses) {
        const routing::IpAddress ra = to_routing(a);
        const bool ours = a.is_loopback() || (a.is_v6() && a.to_v6().is_v4_mapped() && a.to_v6().to_v4().is_loopback()) ||
                          std::any_of(interface_addresses.begin(), interface_addresses.end(),
                                      [&](const auto& i) { return same_address(i, a); });
        for (const auto& b : bindings) {
            if (b.port != port) continue;
            if (b.address == ra) return true;
            // A wildcard listens on every address of this host, and on no other.
            if (b.is_any() && ours && routing::binding_matches(b, ra, port)) return true;
        }
    }
    return false;
}

std::vector<asio::ip::address> local_interface_addresses() {
    std::vector<asio::ip::address> out;
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return out;
    for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
        if (i->ifa_addr == nullptr) continue;
        if (i->ifa_addr->sa_family == AF_INET) {
            const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
            asio::ip::address_v4::bytes_type b{};
            std::memcpy(b.data(), &sin->sin_addr, b.size());
            out.emplace_back(asio::ip::address_v4(b));
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
            asio::ip::address_v6::bytes_type b{};
            std::memcpy(b.data(), &sin6->sin6_addr, b.size());
            out.emplace_back(asio::ip::address_v6(b, sin6->sin6_scope_id));
        }
    }
    ::freeifaddrs(list);
    return out;
}

MxSelf drop_mx_at_or_above_us(std::vector<dns::MxHost>& hosts, const LocalHost& us, std::uint16_t port, std::string* us_name) {
    std::optional<std::uint16_t> ours;  // our lowest preference
    for (const auto& h : hosts)
        if ((!ours || h.preference < *ours) && us.is_us(h, port)) {
            ours = h.preference;
            if (us_name != nullptr) *us_name = h.name;
        }
    if (!ours) return MxSelf::NotListed;
    std::erase_if(hosts, [&](const dns::MxHost& h) { return h.preference >= *ours; });
    return hosts.empty() ? MxSelf::Loop : MxSelf::Dropped;
}

}  // namespace edge::send
