// DKIM signing on the way out (issue 18): the New-DkimSigningConfig objects of this
// configuration generation, their keys loaded once, and the choice of configuration for
// a message's From: domain. Acceptance signs with it once per message, before the commit.
#pragma once

#include "dkim_sign.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace edge::queue {
class QueueDb;
}

namespace edge::server {

class DkimSigners {
public:
    // Adds an enabled configuration's signer (its key loaded); a second one for a domain replaces nothing.
    void add(auth::DkimSigner signer);
    bool empty() const { return by_domain_.empty(); }

    // The signer for `from_domain` (lower case, A-labels): its own configuration, else
    // the nearest parent domain's (d=contoso.com for mail from sales.contoso.com aligns
    // under DMARC's relaxed mode). Null when none.
    const auth::DkimSigner* find(std::string_view from_domain) const;

    // The DKIM-Signature field for the message, or nullopt when its domain has no signer.
    std::optional<std::string> sign(std::string_view from_domain, const std::vector<std::string>& message) const;

private:
    std::unordered_map<std::string, auth::DkimSigner> by_domain_;
};

// Every enabled DkimSigningConfig, keys read from their KeyFile. A configuration whose
// key cannot be read or does not match its Algorithm is left out and named in `errors`
// (the server says so; edgectl refuses such a configuration before it is written).
std::shared_ptr<const DkimSigners> load_dkim_signers(const queue::QueueDb& db, std::vector<std::string>* errors);

}  // namespace edge::server
