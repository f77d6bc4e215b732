// Our outbound identity (issue 17, Test-SendConnector): what a receiving server sees
// of us — the address we connect from, its PTR name, whether that name's A/AAAA lead
// back to the address (forward-confirmed), and whether it is the name we say in EHLO
// (the connector's Fqdn). Receivers refuse mail when these disagree (seed 004: the
// PTR vs EHLO check of AOL and Yahoo). judge_identity is pure; gather_identity asks DNS.
#pragma once

// <utility> before Asio: Boost's awaitable.hpp needs std::exchange.
#include <utility>

#include "dns_resolver.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

#include <optional>
#include <string>
#include <vector>

namespace edge::send {

// What DNS said about one source address, gathered before judging.
struct IdentityFacts {
    boost::asio::ip::address address;
    std::string expected_fqdn;  // the connector's Fqdn, or the server's FQDN when it is empty
    dns::NameResult ptr;        // the PTR names of `address`
    // For each PTR name, its A/AAAA (resolve_address), in the PTR answer's order.
    std::vector<std::pair<std::string, dns::AddressResult>> forward;
};

struct IdentityReport {
    std::string ptr_name;            // the PTR name checked (the one that confirms, else the first); "" = none
    bool has_ptr = false;
    bool forward_confirmed = false;  // an A/AAAA of ptr_name is the address
    bool matches_fqdn = false;       // ptr_name is expected_fqdn (case-insensitive)
    bool dns_failed = false;         // a lookup failed (timeout, SERVFAIL): the answer is not known
    std::vector<std::string> problems;  // each with its hint, in the administrator's words
    bool ok() const { return problems.empty(); }
};

IdentityReport judge_identity(const IdentityFacts& facts);

// Asks `resolver` for the PTR names of `address` and the addresses of each (at most
// four names), for judge_identity.
boost::asio::awaitable<IdentityFacts> gather_identity(dns::DnsResolver& resolver, boost::asio::ip::address address,
                                                      std::string expected_fqdn);

// The address this host would send from towards `target`: the local address of a UDP
// socket connected to it (connecting a UDP socket sends nothing; the kernel picks the
// route and the source). nullopt when there is no route.
std::optional<boost::asio::ip::address> outbound_address_towards(const boost::asio::ip::address& target);

}  // namespace edge::send
