// Accepted-domain syntax and lookup. Lookup walks the recipient domain's suffixes
// from the longest, so it costs one hash probe per label whatever the table's size
// (EdgeSync may bring thousands of domains).
#include "accepted_domains.hpp"

#include "address.hpp"
#include "text.hpp"

namespace edge::routing {

const char* to_string(AcceptedDomainType t) {
    switch (t) {
    case AcceptedDomainType::Authoritative: return "Authoritative";
    case AcceptedDomainType::InternalRelay: return "InternalRelay";
    case AcceptedDomainType::ExternalRelay: return "ExternalRelay";
    }
    return "Authoritative";
}

std::optional<AcceptedDomainType> parse_accepted_domain_type(std::string_view s) {
    for (auto t : {AcceptedDomainType::Authoritative, AcceptedDomainType::InternalRelay, AcceptedDomainType::ExternalRelay})
        if (iequals(s, to_string(t))) return t;
    return std::nullopt;
}

std::optional<std::string> validate_domain_name(std::string_view name) {
    const std::string_view original = name;
    if (name.empty()) return "expected a domain name such as contoso.com or *.contoso.com, found nothing";
    if (name == "*")
        return std::string("expected a domain name such as contoso.com or *.contoso.com, not '*' alone (that would be every domain)");
    if (name.size() > 255) return "expected a domain name of at most 255 characters, not one of " + std::to_string(name.size());
    if (name.starts_with("*.")) name.remove_prefix(2);
    if (name.empty()) return "expected a domain after '*.', not " + quote(original);
    if (name.back() == '.') return "expected a domain name without a trailing dot, not " + quote(original);
    // An internationalised name (U-labels, or A-labels "xn--…") must be one IDNA2008
    // allows; its A-label form is what the LDH rules below then judge.
    std::string a_labels;
    if (smtp::is_idn(name) && name.find('*') == std::string_view::npos) {
        std::string why;
        auto converted = smtp::canonical_domain(name, &why);
        if (!converted || converted->front() == '[')
            return "expected an internationalised domain name that IDNA2008 allows; libidn2 says: " + why;
        a_labels = std::move(*converted);
        name = a_labels;
    }
    std::size_t start = 0;
    while (start <= name.size()) {
        auto end = name.find('.', start);
        if (end == std::string_view::npos) end = name.size();
        const auto label = name.substr(start, end - start);
        if (label.empty()) return "expected no empty label (two dots together, or a leading dot) in " + quote(original);
        if (label.size() > 63) return "expected labels of at most 63 characters in " + quote(original);
        for (char c : label) {
            const bool ldh = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
            if (c == '*') return "expected '*' only as the whole first label ('*.contoso.com'), not " + quote(original);
            if (!ldh) return "expected only letters, digits and hyphens in the labels of " + quote(original);
        }
        if (label.front() == '-' || label.back() == '-')
            return "expected no label to begin or end with a hyphen in " + quote(original);
        start = end + 1;
    }
    return std::nullopt;
}

std::string normalize_domain(std::string_view d) {
    if (!d.empty() && d.front() == '[') return std::string(d);  // an address literal: kept as written
    if (!d.empty() && d.back() == '.') d.remove_suffix(1);
    // U-labels compare as their A-labels ("bücher.example" is "xn--bcher-kva.example");
    // A-labels are already ASCII and only lower-cased, so the common case costs no IDNA.
    if (text::has_non_ascii(d)) {
        const bool wildcard = d.starts_with("*.");
        if (auto a = smtp::canonical_domain(wildcard ? d.substr(2) : d); a && a->front() != '[')
            return (wildcard ? "*." : "") + *a;
    }
    return to_lower(d);
}

AcceptedDomainTable::AcceptedDomainTable(std::vector<AcceptedDomain> domains) : domains_(std::move(domains)) {
    for (std::size_t i = 0; i < domains_.size(); ++i) {
        const std::string d = normalize_domain(domains_[i].domain_name);
        if (d.starts_with("*."))
            wildcard_.try_emplace(d.substr(2), i);
        else
            exact_.try_emplace(d, i);
    }
}

const AcceptedDomain* AcceptedDomainTable::find(std::string_view domain) const {
    std::string d = normalize_domain(domain);
    if (d.empty() || d.front() == '[') return nullptr;
    if (auto it = exact_.find(d); it != exact_.end()) return &domains_[it->second];
    // "*.base" covers base and everything below it: try the longest suffix first.
    for (std::string_view s = d;;) {
        if (auto it = wildcard_.find(std::string(s)); it != wildcard_.end()) return &domains_[it->second];
        const auto dot = s.find('.');
        if (dot == std::string_view::npos) return nullptr;
        s.remove_prefix(dot + 1);
    }
}

const AcceptedDomain* AcceptedDomainTable::default_domain() const {
    for (const auto& d : domains_)
        if (d.default_domain) return &d;
    return nullptr;
}

}  // namespace edge::routing
