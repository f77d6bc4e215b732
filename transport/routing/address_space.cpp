// Address-space syntax and specificity. Matching is by whole labels: "*.contoso.com"
// never matches "badcontoso.com".
#include "address_space.hpp"

#include "text.hpp"

#include <algorithm>

namespace edge::routing {

namespace {

Specificity label_count(std::string_view d) {
    return static_cast<Specificity>(std::count(d.begin(), d.end(), '.') + 1);
}

// pattern is lower case and not "--"; domain is normalised.
std::optional<Specificity> match_pattern(std::string_view pattern, std::string_view domain) {
    if (pattern == "*") return Specificity{0};
    if (domain.empty() || domain.front() == '[') return std::nullopt;
    if (pattern.starts_with("*.")) {
        const auto base = pattern.substr(2);
        if (domain == base || (domain.size() > base.size() && domain.ends_with(base) &&
                               domain[domain.size() - base.size() - 1] == '.'))
            return label_count(base);
        return std::nullopt;
    }
    if (domain == pattern) return kExactMatch;
    return std::nullopt;
}

}  // namespace

ParseResult<AddressSpace> AddressSpace::parse(std::string_view text) {
    using R = ParseResult<AddressSpace>;
    const std::string_view original = text;
    text = trim(text);
    if (text.empty()) return R::fail("expected an address space such as SMTP:contoso.com;1, *.contoso.com, * or --, found nothing");
    AddressSpace a;
    if (auto semi = text.rfind(';'); semi != std::string_view::npos) {
        const auto cost_text = text.substr(semi + 1);
        std::uint32_t cost = 0;
        bool digits = !cost_text.empty() && cost_text.size() <= 3;
        for (char c : cost_text) {
            if (c < '0' || c > '9') digits = false;
            if (digits) cost = cost * 10 + static_cast<std::uint32_t>(c - '0');
        }
        if (!digits || cost < 1 || cost > 100)
            return R::fail("expected a cost from 1 to 100 after ';', not " + quote(original));
        a.cost = cost;
        text = text.substr(0, semi);
    }
    if (auto colon = text.find(':'); colon != std::string_view::npos) {
        const auto type = text.substr(0, colon);
        text = text.substr(colon + 1);
        if (iequals(type, "Local"))
            return R::fail("expected no 'Local:' scope prefix (Exchange 2007 RTM only; an Edge has no AD site), not " + quote(original));
        if (!iequals(type, "SMTP"))
            return R::fail("expected the address-space type SMTP (the only one on an Edge server), not " + quote(original));
        if (text.find(':') != std::string_view::npos)
            return R::fail("expected one type prefix such as 'SMTP:', not " + quote(original));
    }
    if (text == "*" || text == "--") {
        a.domain = std::string(text);
        return R::ok(std::move(a));
    }
    if (auto why = validate_domain_name(text)) return R::fail("in the address space " + quote(original) + ": " + *why);
    a.domain = normalize_domain(text);  // an IDN as A-labels, as recipient domains come
    return R::ok(std::move(a));
}

std::string AddressSpace::str() const { return type + ":" + domain + ";" + std::to_string(cost); }

std::optional<Specificity> match_address_space(const AddressSpace& space, std::string_view domain,
                                               const AcceptedDomainTable& accepted) {
    const std::string d = normalize_domain(domain);
    if (!space.is_accepted_domains()) return match_pattern(space.domain, d);
    const AcceptedDomain* entry = accepted.find(d);
    if (entry == nullptr || entry->domain_type == AcceptedDomainType::ExternalRelay) return std::nullopt;
    return match_pattern(normalize_domain(entry->domain_name), d);
}

}  // namespace edge::routing
