// Names of TLS policy sources (tls_policy.hpp).
#include "tls_policy.hpp"

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

}  // namespace edge::send
