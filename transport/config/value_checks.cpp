// Element syntax, delegated to the routing library (it owns what a binding, a range
// and a domain are).
#include "value_checks.hpp"

#include "accepted_domains.hpp"
#include "ip.hpp"

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
        case ElementKind::None:
        case ElementKind::Path: break;
    }
    return std::string(text);
}

}  // namespace edge::config
