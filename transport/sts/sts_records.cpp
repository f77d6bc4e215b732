// MTA-STS and TLS-RPT texts (sts_records.hpp), by the ABNF of RFC 8461 §3.1-3.2 and
// RFC 8460 §3. Everything here reads bytes a stranger's DNS zone or web server chose:
// lengths are checked before anything is copied, and nothing is kept that the
// grammar does not allow.
#include "sts_records.hpp"

#include "address.hpp"

#include "text_helpers.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace edge::sts {

namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }
bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
char lower_char(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = lower_char(c);
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
    return s;
}

bool set_why(std::string* why, std::string text) {
    if (why != nullptr) *why = std::move(text);
    return false;
}

// The bytes a message may show of what a peer sent: printable ASCII, cut short.
std::string shown(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 64)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
    if (s.size() > 64) out += "...";
    return out;
}

// sts-ext-name / tlsrpt-ext-name: (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
bool is_ext_name(std::string_view s) {
    if (s.empty() || s.size() > 32 || !is_alnum(s.front())) return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return is_alnum(c) || c == '_' || c == '-' || c == '.'; });
}

// sts-ext-value: 1*(%x21-3A / %x3C / %x3E-7E): printable, without ';' and '='.
bool is_ext_value(std::string_view s) {
    if (s.empty()) return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x21 && c <= 0x7e && c != ';' && c != '='; });
}

// A domain as RFC 5321's Domain: LDH labels of 1-63 octets, at most 253 in all (IDNs
// come as A-labels).
bool is_domain(std::string_view s) {
    if (s.empty() || s.size() > 253) return false;
    std::size_t label = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-') return false;
            label = 0;
            continue;
        }
        if (!(is_alnum(c) || (c == '-' && label > 0))) return false;
        if (++label > 63) return false;
    }
    return label > 0 && s.back() != '-';
}

// The fields of a `v=…; a=b; c=d;` record: split at ';' with the white space around
// it (RFC 8461 sts-field-delim, RFC 8460 field-delim); a final ';' is allowed, an
// empty field elsewhere is not.
std::optional<std::vector<std::string_view>> fields_of(std::string_view text) {
    std::vector<std::string_view> out;
    for (;;) {
        auto semi = text.find(';');
        std::string_view f = trim(text.substr(0, semi));
        if (semi == std::string_view::npos) {
            if (!f.empty()) out.push_back(f);
            else if (out.empty()) return std::nullopt;
            // else: the record ended with "; " — a trailing delimiter
            return out;
        }
        if (f.empty()) return std::nullopt;
        out.push_back(f);
        text.remove_prefix(semi + 1);
        if (trim(text).empty()) return out;  // "…;" at the end
    }
}

bool starts_with_version(std::string_view text, std::string_view version) {
    if (!text.starts_with(version)) return false;
    text.remove_prefix(version.size());
    return text.empty() || text.front() == ';' || is_wsp(text.front());
}

// A version-tagged record's fields after the version, each split at its first '=' (the
// shared start of parse_sts_record and parse_tlsrpt_record); std::nullopt with `why`.
using NameValue = std::pair<std::string_view, std::string_view>;
std::optional<std::vector<NameValue>> tagged_fields(std::string_view text, std::size_t max, std::string_view version,
                                                    std::string_view rfc, std::string* why) {
    if (text.size() > max) return set_why(why, fmt::format("the record is longer than {} octets", max)), std::nullopt;
    auto fields = fields_of(text);
    if (!fields || fields->front() != version)
        return set_why(why, fmt::format("\"{}\" does not start with {} ({})", shown(text), version, rfc)), std::nullopt;
    std::vector<NameValue> out;
    for (std::size_t i = 1; i < fields->size(); ++i) {
        std::string_view f = (*fields)[i];
        auto eq = f.find('=');
        if (eq == std::string_view::npos) return set_why(why, fmt::format("field \"{}\" has no '='", shown(f))), std::nullopt;
        out.emplace_back(f.substr(0, eq), f.substr(eq + 1));
    }
    return out;
}

}  // namespace

std::optional<StsRecord> parse_sts_record(std::string_view text, std::string* why) {
    auto fields = tagged_fields(text, 1024, "v=STSv1", "RFC 8461 §3.1", why);
    if (!fields) return std::nullopt;
    std::optional<StsRecord> r;
    for (auto [name, value] : *fields) {
        if (name == "id" && !r) {
            if (value.empty() || value.size() > 32 || !std::all_of(value.begin(), value.end(), is_alnum))
                return set_why(why, fmt::format("id \"{}\" is not 1-32 letters and digits", shown(value))), std::nullopt;
            r = StsRecord{std::string(value)};
        } else if (!is_ext_name(name) || !is_ext_value(value)) {
            return set_why(why, fmt::format("field \"{}={}\" is not name=value", shown(name), shown(value))), std::nullopt;
        }
    }
    if (!r) return set_why(why, "the record has no id"), std::nullopt;
    return r;
}

std::optional<StsRecord> select_sts_record(const std::vector<std::string>& texts, std::string* why) {
    std::optional<StsRecord> found;
    std::size_t count = 0;
    std::string first_error;
    for (const auto& t : texts) {
        if (!starts_with_version(t, "v=STSv1")) continue;  // §3.1: other records are discarded
        ++count;
        std::string e;
        auto r = parse_sts_record(t, &e);
        if (r) found = std::move(r);
        else if (first_error.empty()) first_error = std::move(e);
    }
    if (count == 0) return set_why(why, "no v=STSv1 TXT record"), std::nullopt;
    if (count > 1) return set_why(why, fmt::format("{} v=STSv1 TXT records (RFC 8461 §3.1 wants exactly one)", count)), std::nullopt;
    if (!found) return set_why(why, first_error), std::nullopt;
    return found;
}

std::string_view to_string(StsMode mode) {
    switch (mode) {
        case StsMode::Enforce: return "enforce";
        case StsMode::Testing: return "testing";
        case StsMode::None: return "none";
    }
    return "none";
}

std::optional<StsPolicy> parse_sts_policy(std::string_view text, std::string* why) {
    if (text.size() > kMaxPolicySize)
        return set_why(why, fmt::format("the policy is {} octets, more than {} (RFC 8461 §3.2)", text.size(), kMaxPolicySize)),
               std::nullopt;
    StsPolicy p;
    bool have_version = false, have_mode = false, have_age = false;
    std::size_t line_no = 0;
    while (!text.empty()) {
        ++line_no;
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (trim(line).empty()) continue;  // blank lines (often a last one) say nothing
        auto colon = line.find(':');
        if (colon == std::string_view::npos)
            return set_why(why, fmt::format("line {} \"{}\" is not key: value", line_no, shown(line))), std::nullopt;
        std::string_view key = line.substr(0, colon), value = trim(line.substr(colon + 1));
        if (!is_ext_name(key))
            return set_why(why, fmt::format("line {}: \"{}\" is not a field name", line_no, shown(key))), std::nullopt;
        for (char c : value)
            if (static_cast<unsigned char>(c) < 0x20 && c != '\t')
                return set_why(why, fmt::format("line {}: a control character in the value", line_no)), std::nullopt;
        p.lines.emplace_back(line);
        if (key == "version") {
            if (have_version) continue;  // a field given twice keeps its first value
            if (value != "STSv1")
                return set_why(why, fmt::format("version \"{}\" is not STSv1", shown(value))), std::nullopt;
            have_version = true;
        } else if (key == "mode") {
            if (have_mode) continue;
            if (value == "enforce") p.mode = StsMode::Enforce;
            else if (value == "testing") p.mode = StsMode::Testing;
            else if (value == "none") p.mode = StsMode::None;
            else return set_why(why, fmt::format("mode \"{}\" is not enforce, testing or none", shown(value))), std::nullopt;
            have_mode = true;
        } else if (key == "max_age") {
            if (have_age) continue;
            if (value.empty() || value.size() > 10 || !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
                return set_why(why, fmt::format("max_age \"{}\" is not 1-10 digits", shown(value))), std::nullopt;
            std::uint64_t age = 0;
            for (char c : value) age = age * 10 + static_cast<std::uint64_t>(c - '0');
            if (age > kMaxPolicyAge)
                return set_why(why, fmt::format("max_age {} is more than {} (RFC 8461 §3.2)", age, kMaxPolicyAge)), std::nullopt;
            p.max_age = std::chrono::seconds(age);
            have_age = true;
        } else if (key == "mx") {
            std::string_view host = value.starts_with("*.") ? value.substr(2) : value;
            if (!is_domain(host))
                return set_why(why, fmt::format("mx \"{}\" is not a host name or *.domain", shown(value))), std::nullopt;
            if (p.mx.size() >= 1000) return set_why(why, "more than 1000 mx patterns"), std::nullopt;
            p.mx.push_back(lower(value));
        }
        // other keys: ignored (§3.2)
    }
    if (!have_version) return set_why(why, "the policy has no \"version: STSv1\""), std::nullopt;
    if (!have_mode) return set_why(why, "the policy has no mode"), std::nullopt;
    if (!have_age) return set_why(why, "the policy has no max_age"), std::nullopt;
    if (p.mx.empty() && p.mode != StsMode::None) return set_why(why, "the policy names no mx"), std::nullopt;
    return p;
}

bool mx_matches(std::string_view pattern, std::string_view host) {
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    if (!pattern.empty() && pattern.back() == '.') pattern.remove_suffix(1);
    if (host.empty() || pattern.empty()) return false;
    const std::string h = lower(host), p = lower(pattern);
    if (!p.starts_with("*.")) return h == p;
    std::string_view suffix = std::string_view(p).substr(1);  // ".example.com"
    if (h.size() <= suffix.size() || !h.ends_with(suffix)) return false;
    std::string_view label = std::string_view(h).substr(0, h.size() - suffix.size());
    return label.find('.') == std::string_view::npos;  // exactly one label
}

bool mx_allowed(const StsPolicy& policy, std::string_view host) {
    return std::any_of(policy.mx.begin(), policy.mx.end(), [&](const std::string& p) { return mx_matches(p, host); });
}

std::optional<TlsRptRecord> parse_tlsrpt_record(std::string_view text, std::string* why) {
    auto fields = tagged_fields(text, 4096, "v=TLSRPTv1", "RFC 8460 §3", why);
    if (!fields) return std::nullopt;
    std::optional<TlsRptRecord> r;
    for (auto [name, value] : *fields) {
        if (name != "rua" || r) {
            if (!is_ext_name(name))
                return set_why(why, fmt::format("field \"{}={}\" is not name=value", shown(name), shown(value))), std::nullopt;
            continue;
        }
        r.emplace();
        while (!value.empty()) {
            auto comma = value.find(',');
            std::string_view uri = trim(value.substr(0, comma));
            value.remove_prefix(comma == std::string_view::npos ? value.size() : comma + 1);
            if (uri.empty()) return set_why(why, "an empty rua URI"), std::nullopt;
            if (r->mailto.size() + r->https.size() >= 16) return set_why(why, "more than 16 rua URIs"), std::nullopt;
            std::string scheme = lower(uri.substr(0, uri.find(':')));
            if (scheme == "mailto" && uri.size() > 7) {
                std::string_view addr = uri.substr(7);
                addr = addr.substr(0, addr.find('?'));  // ?subject=… and the like are not ours to follow
                std::string decoded;
                for (std::size_t k = 0; k < addr.size(); ++k) {
                    if (addr[k] == '%') {
                        int hi = k + 2 < addr.size() ? text::hex_digit_value(addr[k + 1]) : -1;
                        int lo = k + 2 < addr.size() ? text::hex_digit_value(addr[k + 2]) : -1;
                        if (hi < 0 || lo < 0) return set_why(why, fmt::format("bad %-escape in \"{}\"", shown(uri))), std::nullopt;
                        decoded.push_back(static_cast<char>(hi * 16 + lo));
                        k += 2;
                    } else {
                        decoded.push_back(addr[k]);
                    }
                }
                // A mailbox as RCPT TO takes it (it becomes the report's recipient): the
                // local part a Dot-string or Quoted-string, never "@a;b@example.com".
                auto mailbox = smtp::split_mailbox(decoded);
                bool printable = std::all_of(decoded.begin(), decoded.end(),
                                             [](char c) { return c > 0x20 && c < 0x7f && c != '<' && c != '>' && c != ','; });
                if (!mailbox || mailbox->local.empty() || !printable ||
                    smtp::check_mailbox(*mailbox, false) != smtp::AddressError::None || !is_domain(mailbox->domain))
                    return set_why(why, fmt::format("\"{}\" is not a mailto: address", shown(uri))), std::nullopt;
                r->mailto.push_back(std::move(decoded));
            } else if (scheme == "https") {
                r->https.emplace_back(uri);
            } else {
                return set_why(why, fmt::format("rua \"{}\" is neither mailto: nor https:", shown(uri))), std::nullopt;
            }
        }
    }
    if (!r || (r->mailto.empty() && r->https.empty())) return set_why(why, "the record has no rua"), std::nullopt;
    return r;
}

std::optional<TlsRptRecord> select_tlsrpt_record(const std::vector<std::string>& texts, std::string* why) {
    std::optional<TlsRptRecord> found;
    std::size_t count = 0;
    std::string first_error;
    for (const auto& t : texts) {
        if (!starts_with_version(t, "v=TLSRPTv1")) continue;
        ++count;
        std::string e;
        auto r = parse_tlsrpt_record(t, &e);
        if (r) found = std::move(r);
        else if (first_error.empty()) first_error = std::move(e);
    }
    if (count == 0) return set_why(why, "no v=TLSRPTv1 TXT record"), std::nullopt;
    if (count > 1) return set_why(why, fmt::format("{} v=TLSRPTv1 TXT records (RFC 8460 §3 wants exactly one)", count)), std::nullopt;
    if (!found) return set_why(why, first_error), std::nullopt;
    return found;
}

}  // namespace edge::sts
