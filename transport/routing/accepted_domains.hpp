// Accepted domains (reference §3.3): the SMTP namespaces this edge receives mail for,
// and how it treats each — Authoritative (the organisation's mailboxes), InternalRelay
// (some recipients live outside; the hubs relay), ExternalRelay (relayed to a server
// outside the organisation). Anything else is relay, refused to anonymous clients.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace edge::routing {

enum class AcceptedDomainType : std::uint8_t { Authoritative, InternalRelay, ExternalRelay };

const char* to_string(AcceptedDomainType);
// "Authoritative", "InternalRelay", "ExternalRelay", in any case.
std::optional<AcceptedDomainType> parse_accepted_domain_type(std::string_view);

struct AcceptedDomain {
    std::string name;         // the object's Name, e.g. "Contoso"
    std::string domain_name;  // DomainName: "contoso.com" or "*.contoso.com" (IDNs as A-labels once stored)
    AcceptedDomainType domain_type = AcceptedDomainType::Authoritative;  // Exchange's default
    bool default_domain = false;
};

// Why a DomainName (or an address-space domain) is not acceptable, or nullopt when it
// is: LDH labels (RFC 1035 §2.3.1: letters, digits, inner hyphens), each 1..63
// octets, the whole at most 255, no trailing dot, optionally led by "*." (the domain
// and all its subdomains). "*" alone is refused: it would accept every domain. An
// internationalised name — U-labels ("bücher.example") or A-labels ("xn--bcher-kva.example")
// — is acceptable when IDNA2008 (libidn2, smtp::canonical_domain) allows it.
std::optional<std::string> validate_domain_name(std::string_view);

// A domain as the tables compare it: ASCII lower case, one trailing dot removed, U-labels
// as A-labels ("*.Bücher.example" -> "*.xn--bcher-kva.example", the form DNS and the
// canonical address have); an address literal ("[IPv6:2001:DB8::1]") is returned as written.
std::string normalize_domain(std::string_view);

// The accepted domains, looked up by recipient domain. Matching is case-insensitive
// and ignores a trailing dot. "*.contoso.com" matches contoso.com itself and every
// subdomain, as a Send connector's "*.contoso.com" does (reference §2.1); an exact
// entry beats any wildcard, and a longer wildcard beats a shorter one. Entries are
// taken as given: validate them first (validate_domain_name). Of two entries with the
// same DomainName the first wins.
class AcceptedDomainTable {
public:
    AcceptedDomainTable() = default;
    explicit AcceptedDomainTable(std::vector<AcceptedDomain> domains);

    // The entry that governs this domain, or nullptr when it is not accepted.
    // Address literals ("[192.0.2.1]") are never accepted domains.
    const AcceptedDomain* find(std::string_view domain) const;

    // The entry marked default_domain (postmaster@<default>), or nullptr.
    const AcceptedDomain* default_domain() const;

    const std::vector<AcceptedDomain>& entries() const { return domains_; }

private:
    std::vector<AcceptedDomain> domains_;
    std::unordered_map<std::string, std::size_t> exact_;     // normalised domain -> index
    std::unordered_map<std::string, std::size_t> wildcard_;  // base of "*.base" -> index
};

}  // namespace edge::routing
