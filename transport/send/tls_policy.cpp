// Which TLS policy a next-hop host gets, and how it is named (tls_policy.hpp).
#include "tls_policy.hpp"

#include <algorithm>

namespace edge::send {

std::string_view policy_source_name(PeerTlsPolicy::Source source) {
    switch (source) {
        case PeerTlsPolicy::Source::Opportunistic: return "opportunistic";
        case PeerTlsPolicy::Source::TlsAuthLevel: return "TlsAuthLevel";
        case PeerTlsPolicy::Source::DomainSecure: return "DomainSecure";
        case PeerTlsPolicy::Source::Dane: return "DANE";
        case PeerTlsPolicy::Source::MtaSts: return "MTA-STS";
    }
    return "opportunistic";
}

std::string policy_label(const PeerTlsPolicy& p) {
    switch (p.source) {
        case PeerTlsPolicy::Source::Opportunistic: return "";
        case PeerTlsPolicy::Source::TlsAuthLevel:
            return !p.verify_chain ? "TlsAuthLevel EncryptionOnly"
                   : p.names.empty() ? "TlsAuthLevel CertificateValidation"
                                     : "TlsAuthLevel DomainValidation";
        case PeerTlsPolicy::Source::DomainSecure: return "Domain Security";
        case PeerTlsPolicy::Source::Dane: return "DANE";
        case PeerTlsPolicy::Source::MtaSts: return p.report_only ? "MTA-STS testing" : "MTA-STS";
    }
    return "";
}

PeerTlsPolicy connector_tls_policy(const SendConnector& c, const std::string& host_name,
                                   const std::string& domain_secure_domain) {
    PeerTlsPolicy p;
    if (!domain_secure_domain.empty()) {
        // Exchange 2007 Domain Security: the partner's certificate must be valid for
        // the partner's domain (its subject or a SAN).
        p.source = PeerTlsPolicy::Source::DomainSecure;
        p.require_tls = p.verify_chain = true;
        p.names = {domain_secure_domain};
        return p;
    }
    using L = config::TlsAuthLevel;
    if (c.tls_auth_level == L::None) return p;
    p.source = PeerTlsPolicy::Source::TlsAuthLevel;
    p.require_tls = true;
    p.verify_chain = c.tls_auth_level != L::EncryptionOnly;
    if (c.tls_auth_level == L::DomainValidation) p.names = {c.tls_domain.empty() ? host_name : c.tls_domain};
    return p;
}

std::vector<TlsaRecord> usable_tlsa(const std::vector<TlsaRecord>& records) {
    std::vector<TlsaRecord> out;
    for (const auto& r : records)
        if ((r.usage == 2 || r.usage == 3) && r.selector <= 1 && r.matching <= 2) out.push_back(r);
    return out;
}

PeerTlsPolicy dane_tls_policy(const std::string& host_name, const std::string& domain, std::vector<TlsaRecord> usable) {
    PeerTlsPolicy p;
    p.source = PeerTlsPolicy::Source::Dane;
    p.require_tls = p.verify_chain = true;
    p.tlsa = std::move(usable);
    // RFC 7672 §3.2.2: DANE-TA(2) checks the name (the MX host; the next-hop domain too);
    // DANE-EE(3) alone checks no name (§3.1.1).
    const bool any_ta = std::any_of(p.tlsa.begin(), p.tlsa.end(), [](const TlsaRecord& r) { return r.usage == 2; });
    if (any_ta) {
        p.names = {host_name};
        if (!domain.empty() && domain != host_name) p.names.push_back(domain);
    }
    p.policy_domain = domain;
    return p;
}

PeerTlsPolicy choose_tls_policy(const PeerTlsPolicy& connector, const std::optional<PeerTlsPolicy>& dane,
                                const std::optional<PeerTlsPolicy>& sts) {
    if (dane) return *dane;
    if (sts) return *sts;
    return connector;
}

}  // namespace edge::send
