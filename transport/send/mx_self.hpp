// RFC 5321 §5.1, "is this MX host us?": an MX list that names this server keeps only
// the hosts better than us, and one where we are the best (nothing better is left) is a
// routing loop, failed with 5.4.6 rather than retried into ourselves for days.
#pragma once

#include "dns_resolver.hpp"
#include "ip.hpp"

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace edge::send {

// What "us" is, for one config generation.
struct LocalHost {
    // ServerFqdn and every enabled Receive connector's Fqdn: lower case, A-labels.
    std::vector<std::string> names;
    // Every enabled Receive connector's Bindings.
    std::vector<routing::Binding> bindings;
    // This host's interface addresses (getifaddrs), what a wildcard binding listens on.
    std::vector<boost::asio::ip::address> interface_addresses;

    // The rule: a host is us when its name is one of `names`, or when one of its
    // addresses, at the Port the Send connector connects to, is where one of our Receive
    // connectors listens — the binding's own address and port, or a wildcard binding
    // (0.0.0.0, [::]) on that port and an address of this host (an interface address or
    // loopback). In production both ports are 25; on loopback tests they differ, so a
    // peer on 127.0.0.1 is not us while our own 127.0.0.1:<listening port> is.
    bool is_us(const dns::MxHost& host, std::uint16_t port) const;
};

// This host's interface addresses, from getifaddrs(3); empty when it fails.
std::vector<boost::asio::ip::address> local_interface_addresses();

enum class MxSelf : std::uint8_t {
    NotListed,  // we are not among the hosts: nothing changed
    Dropped,    // we are: we and every host at or above our preference were removed
    Loop,       // we are the best (or only) MX: nothing is left (5.4.6)
};

// RFC 5321 §5.1: when one of `hosts` (sorted by preference, as the resolver gives
// them) is us, removes every host whose preference is at or above our lowest one.
// `us_name` receives the first host found to be us, for the error text.
MxSelf drop_mx_at_or_above_us(std::vector<dns::MxHost>& hosts, const LocalHost& us, std::uint16_t port,
                              std::string* us_name = nullptr);

}  // namespace edge::send
