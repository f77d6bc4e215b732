// Send connector AddressSpaces (reference §2.1): "[Type:]AddressSpace[;Cost]" entries
// and how specifically each matches a recipient domain (reference §2.2 step 3).
#pragma once

#include "accepted_domains.hpp"
#include "parse_result.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace edge::routing {

struct AddressSpace {
    std::string type = "SMTP";  // the only type on an Edge server
    // Lower case, IDNs as A-labels: "contoso.com" (that domain only), "*.contoso.com" (it and every
    // subdomain), "*" (every domain), "--" (every Authoritative and InternalRelay
    // accepted domain: the connector inward to the hubs).
    std::string domain;
    std::uint32_t cost = 1;  // 1..100, lower is preferred

    // "SMTP:contoso.com;1", "contoso.com" (SMTP and cost 1 implied), "smtp:*.contoso.com;5",
    // "*", "SMTP:*;100", "--". Refuses other types, the RTM "Local:" scope prefix,
    // "*contoso.com", costs outside 1..100, with a sentence saying what was expected.
    static ParseResult<AddressSpace> parse(std::string_view text);
    std::string str() const;  // always the full form: "SMTP:contoso.com;1"

    bool is_everything() const { return domain == "*"; }
    bool is_accepted_domains() const { return domain == "--"; }

    friend bool operator==(const AddressSpace&, const AddressSpace&) = default;
};

// How specifically a pattern matches a domain; higher wins. 0 is "*"; a wildcard
// "*.base" ranks by the labels of base ("*.sales.contoso.com" 3 > "*.contoso.com" 2 >
// "*.com" 1); an exact domain ranks kExactMatch, above every wildcard (a domain has at
// most 127 labels).
using Specificity = std::uint32_t;
inline constexpr Specificity kExactMatch = 1000;

// How specifically this address space matches the recipient domain (any case, a
// trailing dot ignored), or nullopt when it does not. "--" matches when the accepted
// domains say Authoritative or InternalRelay, and ranks as specifically as the
// accepted-domain entry that matched ("contoso.com" exact, "*.contoso.com" as that
// wildcard): so "--" and an explicit "*.contoso.com" on another connector tie, and
// cost decides. An address literal ("[192.0.2.1]") is matched by "*" only.
std::optional<Specificity> match_address_space(const AddressSpace& space, std::string_view domain,
                                               const AcceptedDomainTable& accepted);

}  // namespace edge::routing
