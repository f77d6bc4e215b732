// Element syntax, delegated to the routing library (it owns what a binding, a range
// and a domain are).
#include "value_checks.hpp"

#include "accepted_domains.hpp"
#include "ip.hpp"

#include <cctype>

namespace edge::config {

std::optional<std::string> check_element(ElementKind kind, std::string_view text) {
    switch (kind) {
        case ElementKind::None:
        case ElementKind::Path: return std::nullopt;
        case ElementKind::Binding: {
            auto r = routing::Binding::parse(text);
            if (!r) return r.error;
            return std::nullopt;
        }
        case ElementKind::IpRange: {
            auto r = routing::IpRange::parse(text);
            if (!r) return r.error;
            return std::nullopt;
        }
        case ElementKind::Domain:
            if (text.starts_with("*")) return "a domain name such as mail.contoso.com";
            return routing::validate_domain_name(text);
        case ElementKind::DomainPattern: return routing::validate_domain_name(text);
        case ElementKind::CertificatePin: {
            std::size_t hex = 0;
            for (char c : text) {
                if (c == ':') continue;
                if (!std::isxdigit(static_cast<unsigned char>(c))) return "a SHA-256 fingerprint (64 hex digits)";
                ++hex;
            }
            if (hex != 64) return "a SHA-256 fingerprint (64 hex digits)";
            return std::nullopt;
        }
    }
    return std::nullopt;
}

std::string canonical_element(ElementKind kind, std::string_view text) {
    switch (kind) {
        case ElementKind::Binding:
            if (auto r = routing::Binding::parse(text)) return r->str();
            break;
        case ElementKind::IpRange:
            if (auto r = routing::IpRange::parse(text)) return r->str();
            break;
        case ElementKind::Domain:
        case ElementKind::DomainPattern: return routing::normalize_domain(text);
        case ElementKind::CertificatePin: {
            std::string out;  // upper-case hex without colons
            for (char c : text)
                if (c != ':') out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
            return out;
        }
        case ElementKind::None:
        case ElementKind::Path: break;
    }
    return std::string(text);
}

}  // namespace edge::config
