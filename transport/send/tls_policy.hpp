// What a TLS session with one next-hop host must prove (PeerTlsPolicy), filled per host by
// next-hop resolution from the Send connector's TlsAuthLevel / DomainSecureEnabled, DANE
// (RFC 7672) or MTA-STS (RFC 8461); and the two seams that reach beyond the send side:
// DomainTlsPolicySource (MTA-STS) and TlsResultSink (TLS-RPT, RFC 8460).
#pragma once

#include <boost/asio/awaitable.hpp>

#include "send_connector.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::send {

struct Target;

// One TLSA record (RFC 6698 §2.1): certificate usage, selector, matching type, data.
struct TlsaRecord {
    std::uint8_t usage = 0, selector = 0, matching = 0;
    std::vector<std::uint8_t> data;
};

struct PeerTlsPolicy {
    // Which rule set the policy (precedence: DANE > MTA-STS > the connector's level).
    enum class Source { Opportunistic, TlsAuthLevel, DomainSecure, Dane, MtaSts };
    Source source = Source::Opportunistic;
    bool require_tls = false;        // no clear-text fallback
    bool verify_chain = false;       // the chain must verify to a trusted CA (system store + TlsCertificateAuthorityFile)
    std::vector<std::string> names;  // reference identifiers (RFC 6125); empty = any name
    std::vector<TlsaRecord> tlsa;    // DANE: usable TLSA records (2 x x / 3 x x)
    bool report_only = false;        // MTA-STS testing: check and report, never refuse
    std::string policy_domain;       // TLS-RPT policy domain (the next-hop domain)
    std::string policy_text;         // TLS-RPT policy-string lines (MTA-STS policy or TLSA RRs), may be empty
};

// The administrator's word for a policy source, for LastError and the protocol log.
std::string_view policy_source_name(PeerTlsPolicy::Source source);
// What requires TLS, for texts: "TlsAuthLevel DomainValidation", "Domain Security",
// "DANE", "MTA-STS"; "" for opportunistic.
std::string policy_label(const PeerTlsPolicy& p);

// The Send connector's own policy for one host: Domain Security when `domain_secure_domain`
// is not empty (the next hop is in TLSSendDomainSecureList and the connector has
// DomainSecureEnabled: a verified chain, the name = that domain), else TlsAuthLevel
// (any level requires TLS; CertificateValidation verifies the chain; DomainValidation
// also the name: TlsDomain, else `host_name`), else opportunistic.
PeerTlsPolicy connector_tls_policy(const SendConnector& c, const std::string& host_name,
                                   const std::string& domain_secure_domain);

// DANE-TA(2) and DANE-EE(3) records with selector 0/1 and matching 0/1/2 (RFC 7672 §3.1);
// the others are unusable and left out.
std::vector<TlsaRecord> usable_tlsa(const std::vector<TlsaRecord>& records);
// The DANE policy of an MX host with usable records: TLS required, the records; names
// (for DANE-TA only, RFC 7672 §3.2.2) the host and the next-hop domain.
PeerTlsPolicy dane_tls_policy(const std::string& host_name, const std::string& domain, std::vector<TlsaRecord> usable);

// Which policy a host gets: DANE > MTA-STS > the connector's (RFC 8461 §2: DANE wins
// where both exist). `dane` / `sts` are nullopt where they do not apply.
PeerTlsPolicy choose_tls_policy(const PeerTlsPolicy& connector, const std::optional<PeerTlsPolicy>& dane,
                                const std::optional<PeerTlsPolicy>& sts);

// One TLS outcome with one host, for TLS-RPT (RFC 8460 §4.3 result types).
struct TlsAttemptResult {
    std::string policy_domain;
    std::string policy_type;  // "sts", "tlsa", "no-policy-found"
    std::string mx_host;      // receiving-mx-hostname
    std::string receiving_ip;
    std::string sending_ip;
    bool success = false;
    std::string result_type;  // "starttls-not-supported", "certificate-host-mismatch", "certificate-expired",
                              // "certificate-not-trusted", "validation-failure", "tlsa-invalid",
                              // "dnssec-invalid", "sts-policy-invalid", "sts-webpki-invalid" …
    std::string reason;       // OpenSSL's reason, for failure-reason-code
    std::vector<std::string> policy_text;
};

// TLS-RPT's collector (helper B implements it).
class TlsResultSink {
public:
    virtual ~TlsResultSink() = default;
    // Called on the I/O thread after every TLS attempt (and for "starttls-not-supported"
    // when a policy required TLS); must not block.
    virtual void record(const TlsAttemptResult& r) = 0;
};

// MTA-STS (helper B implements it).
class DomainTlsPolicySource {
public:
    virtual ~DomainTlsPolicySource() = default;
    // For a DNS-routed next hop `domain` none of whose MX hosts has usable DANE TLSA records:
    // sets each host's `tls` (Target::Host::tls) and may remove hosts (enforce: an MX not in
    // the policy), putting the reason in `target.error` when none is left (Transient, 4.7.5).
    virtual boost::asio::awaitable<void> apply(const std::string& domain, Target& target) = 0;
};

// The send side's two hooks into TLS policy and reporting, given by the server when it
// makes the DeliveryService (DeliveryOptions::tls_hooks). Either may be null.
struct TlsPolicyHooks {
    DomainTlsPolicySource* domain_policies = nullptr;  // MTA-STS
    TlsResultSink* results = nullptr;                  // TLS-RPT
};

}  // namespace edge::send
