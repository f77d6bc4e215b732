// New-/Set-AddressRewriteEntry (reference §9.8): the cmdlets themselves are the settings
// table's (config_cmdlets.cpp, the shapes checked by validate_object); this file says
// after a write what the entry will do that the administrator may not expect.
#include "cmdlet.hpp"

#include "address.hpp"
#include "routing_config.hpp"
#include "typed_settings.hpp"

#include <fmt/format.h>

namespace edge::cli {

// An entry that rewrites inbound RCPT TO sends mail to its InternalAddress's domain; the
// categorizer routes that domain like any other, so one that is no accepted domain here
// would go to the internet, not to the hubs.
std::string address_rewrite_entry_note(Context& ctx, const config::ConfigObject& o) {
    const config::AddressRewriteEntrySettings e = config::address_rewrite_entry_settings(o);
    if (e.outbound_only || e.internal_address.starts_with("*.")) return {};
    std::string_view domain = e.internal_address;
    if (auto at = domain.rfind('@'); at != std::string_view::npos) domain.remove_prefix(at + 1);
    const auto canonical = smtp::canonical_domain(domain);
    if (!canonical) return {};
    const routing::AcceptedDomainTable accepted(config::load_accepted_domains(*ctx.db));
    if (accepted.find(*canonical) != nullptr) return {};
    return fmt::format("inbound mail to {} is rewritten to {}, whose domain {} is not an accepted domain here: it "
                       "would be routed like mail to the internet; add it with New-AcceptedDomain, or set "
                       "-OutboundOnly $true",
                       e.external_address, e.internal_address, *canonical);
}

}  // namespace edge::cli
