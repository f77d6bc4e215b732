// Element syntax, delegated to the routing library (it owns what a binding, a range
// and a domain are).
#include "value_checks.hpp"

#include "accepted_domains.hpp"
#include "address.hpp"
#include "address_space.hpp"
#include "ip.hpp"

#include <algorithm>
#include <cctype>

namespace edge::config {

namespace {
// "[192.0.2.1]" and "192.0.2.1" name the same smart host.
std::string_view strip_brackets(std::string_view t) {
    if (t.size() > 2 && t.front() == '[' && t.back() == ']') return t.substr(1, t.size() - 2);
    return t;
}

// A DNS server: "192.0.2.53", "2001:db8::53", "192.0.2.53:5353", "[2001:db8::53]:5353".
// The port is ours (tests run DNS servers on high ports); Exchange takes addresses only.
std::optional<std::pair<routing::IpAddress, std::uint32_t>> parse_dns_server(std::string_view t) {
    if (auto a = routing::IpAddress::parse(t)) return std::pair{*a.value, 53u};
    std::string_view host = t, port;
    if (t.starts_with('[')) {
        auto close = t.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = t.substr(1, close - 1);
        if (close + 1 < t.size() && t[close + 1] != ':') return std::nullopt;
        port = close + 2 <= t.size() ? t.substr(close + 2) : std::string_view{};
    } else if (auto colon = t.rfind(':'); colon != std::string_view::npos) {
        host = t.substr(0, colon);
        port = t.substr(colon + 1);
    }
    auto a = routing::IpAddress::parse(host);
    if (!a) return std::nullopt;
    std::uint32_t p = 53;
    if (!port.empty() || t.starts_with('[')) {
        p = 0;
        if (port.empty() || port.size() > 5) return std::nullopt;
        for (char c : port) {
            if (c < '0' || c > '9') return std::nullopt;
            p = p * 10 + static_cast<std::uint32_t>(c - '0');
        }
        if (p == 0 || p > 65535) return std::nullopt;
    }
    return std::pair{*a.value, p};
}

std::optional<std::uint32_t> parse_port(std::string_view port) {
    if (port.empty() || port.size() > 5) return std::nullopt;
    std::uint32_t p = 0;
    for (char c : port) {
        if (c < '0' || c > '9') return std::nullopt;
        p = p * 10 + static_cast<std::uint32_t>(c - '0');
    }
    if (p == 0 || p > 65535) return std::nullopt;
    return p;
}

// A milter's address as Postfix's smtpd_milters writes it: "unix:/path", "inet:host:port",
// or ours "host:port" / "[2001:db8::1]:port". The canonical form drops "inet:" and
// brackets an IPv6 address; "" when it is not one.
std::string canonical_milter_address(std::string_view t) {
    if (t.starts_with("unix:")) {
        std::string_view path = t.substr(5);
        // sun_path holds 108 bytes with its NUL; a relative path would depend on the cwd.
        if (!path.starts_with('/') || path.size() > 107 || path.find('\0') != std::string_view::npos) return {};
        return std::string(t);
    }
    if (t.starts_with("inet:")) t.remove_prefix(5);
    std::string_view host, port;
    if (t.starts_with('[')) {
        auto close = t.find(']');
        if (close == std::string_view::npos || close + 1 >= t.size() || t[close + 1] != ':') return {};
        host = t.substr(1, close - 1);
        port = t.substr(close + 2);
        auto a = routing::IpAddress::parse(host);
        if (!a || a.value->is_v4()) return {};
    } else {
        auto colon = t.rfind(':');
        if (colon == std::string_view::npos || colon == 0) return {};
        host = t.substr(0, colon);
        port = t.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) return {};  // an IPv6 address goes in brackets
        if (!routing::IpAddress::parse(host) && host != "localhost" && routing::validate_domain_name(host)) return {};
    }
    auto p = parse_port(port);
    if (!p) return {};
    std::string h;
    for (char c : host) h.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (h.find(':') != std::string::npos) h = "[" + h + "]";
    return h + ":" + std::to_string(*p);
}
}  // namespace

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
        case ElementKind::AddressSpace: {
            auto r = routing::AddressSpace::parse(text);
            if (!r) return r.error;
            return std::nullopt;
        }
        case ElementKind::SmartHost: {
            if (routing::IpAddress::parse(strip_brackets(text))) return std::nullopt;
            if (text.starts_with('[')) return "an IP address in brackets, such as [192.0.2.1]";
            if (text.starts_with("*")) return "a host name such as smarthost.contoso.com, or an IP address";
            return routing::validate_domain_name(text);
        }
        case ElementKind::IpAddress:
            if (routing::IpAddress::parse(text)) return std::nullopt;
            return "an IP address such as 192.0.2.1 or 2001:db8::1";
        case ElementKind::DnsServer:
            if (parse_dns_server(text)) return std::nullopt;
            return "a DNS server address such as 192.0.2.53, or with a port: 127.0.0.1:5353, [::1]:5353";
        case ElementKind::EmailAddress: {
            // The mailbox syntax MAIL and RCPT accept (transport/smtp/address.hpp), so a
            // BlockedRecipients entry is an address the session can be sent.
            auto m = smtp::split_mailbox(text);
            if (!m || m->local.empty() || m->domain.empty()) return "an e-mail address such as postmaster@contoso.com";
            const bool ascii_name = !m->domain.starts_with("[") &&
                                    std::none_of(m->domain.begin(), m->domain.end(), [](char c) { return (c & 0x80) != 0; });
            if (ascii_name)
                if (auto bad = routing::validate_domain_name(m->domain)) return bad;
            if (smtp::check_mailbox(*m, true) != smtp::AddressError::None || !smtp::canonical_domain(m->domain))
                return "an e-mail address such as postmaster@contoso.com";
            return std::nullopt;
        }
        case ElementKind::MilterAddress:
            if (!canonical_milter_address(text).empty()) return std::nullopt;
            return "host:port (127.0.0.1:11332, [::1]:11332, localhost:8891) or unix:/path";
        case ElementKind::Credential: {
            auto colon = text.find(':');
            if (colon == std::string_view::npos || colon == 0) return "user:password";
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
        case ElementKind::AddressSpace:
            if (auto r = routing::AddressSpace::parse(text)) return r->str();
            break;
        case ElementKind::SmartHost: {
            if (auto a = routing::IpAddress::parse(strip_brackets(text))) return "[" + a->str() + "]";
            return routing::normalize_domain(text);
        }
        case ElementKind::IpAddress:
            if (auto a = routing::IpAddress::parse(text)) return a->str();
            break;
        case ElementKind::DnsServer:
            if (auto s = parse_dns_server(text)) {
                std::string host = s->first.is_v4() ? s->first.str() : "[" + s->first.str() + "]";
                if (s->second == 53) return s->first.str();
                return host + ":" + std::to_string(s->second);
            }
            break;
        case ElementKind::EmailAddress: {
            // The local part as written (it may be case-sensitive downstream), the domain canonical.
            auto m = smtp::split_mailbox(text);
            auto domain = m ? smtp::canonical_domain(m->domain) : std::nullopt;
            if (!domain) break;
            return m->local + "@" + *domain;
        }
        case ElementKind::MilterAddress:
            if (auto c = canonical_milter_address(text); !c.empty()) return c;
            break;
        case ElementKind::None:
        case ElementKind::Credential:
        case ElementKind::Path: break;
    }
    return std::string(text);
}

}  // namespace edge::config
