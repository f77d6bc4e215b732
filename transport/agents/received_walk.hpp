// Behind another MTA (Set-TransportConfig -InternalSMTPServers), the client the edge
// sees is an internal relay; the Connection Filtering Agent judges the address that
// relay received the message from instead. These pure functions read that address
// out of the Received: header fields (RFC 5321 §4.4), as MTAs write them.
#pragma once

#include "ip.hpp"
#include "pipeline.hpp"

#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace edge::agents {

// The address of the client named in one Received: field's "from" clause: the first
// address in its first comment (the TCP-info the receiving MTA saw: Postfix's
// "(host [192.0.2.1])", Exchange's and ours "(192.0.2.1)", "[IPv6:2001:db8::1]"),
// else an address literal written as the from-domain ("from [192.0.2.1]", the client's
// own HELO, trusted only when nothing better is there). nullopt when the field names no
// address. Linear in the field's length; never reads past its clause.
std::optional<routing::IpAddress> received_from_address(std::string_view field_value);

// Walks the header's Received: fields top-down (the newest first) and returns the first
// address that is not one of `internal_servers`: the one to judge. Fields that name no
// address are passed over. nullopt when every address named is internal, or none is.
std::optional<routing::IpAddress> first_external_address(std::span<const HeaderField> headers,
                                                         std::span<const routing::IpRange> internal_servers);

}  // namespace edge::agents
