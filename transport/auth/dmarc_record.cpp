// DMARC record parsing (RFC 7489 §6.3 tags, §6.4 grammar, §6.6.3 for a broken p=).
#include "dmarc_record.hpp"

#include "text_helpers.hpp"

#include <array>
#include <utility>

namespace edge::auth {

namespace {

constexpr std::size_t kMaxRecordSize = 4096;
constexpr std::size_t kMaxUris = 16;  // per rua=/ruf=: bounded work for a hostile record

std::optional<DmarcPolicy> policy_of(std::string_view v) {
    if (text::iequals(v, "none")) return DmarcPolicy::None;
    if (text::iequals(v, "quarantine")) return DmarcPolicy::Quarantine;
    if (text::iequals(v, "reject")) return DmarcPolicy::Reject;
    return std::nullopt;
}

std::optional<AlignmentMode> mode_of(std::string_view v) {
    if (text::iequals(v, "r")) return AlignmentMode::Relaxed;
    if (text::iequals(v, "s")) return AlignmentMode::Strict;
    return std::nullopt;
}

bool alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool digit(char c) { return c >= '0' && c <= '9'; }

// §6.4 dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]: a scheme (RFC 3986
// §3.1), a colon, something after it, no white space; an optional size limit.
bool valid_dmarc_uri(std::string_view u) {
    if (auto bang = u.rfind('!'); bang != std::string_view::npos) {
        auto limit = u.substr(bang + 1);
        if (!limit.empty() && (limit.back() == 'k' || limit.back() == 'm' || limit.back() == 'g' || limit.back() == 't' ||
                               limit.back() == 'K' || limit.back() == 'M' || limit.back() == 'G' || limit.back() == 'T'))
            limit.remove_suffix(1);
        if (limit.empty()) return false;
        for (char c : limit)
            if (!digit(c)) return false;
        u = u.substr(0, bang);
    }
    auto colon = u.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == u.size() || !alpha(u[0])) return false;
    for (char c : u.substr(0, colon))
        if (!alpha(c) && !digit(c) && c != '+' && c != '-' && c != '.') return false;
    for (char c : u)
        if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
    return true;
}

// The valid URIs of a comma-separated list; `all_valid` false when one was not.
std::vector<std::string> uri_list(std::string_view v, bool& all_valid) {
    std::vector<std::string> out;
    all_valid = true;
    while (true) {
        auto comma = v.find(',');
        auto item = text::trim(v.substr(0, comma));
        if (valid_dmarc_uri(item) && out.size() < kMaxUris)
            out.emplace_back(item);
        else
            all_valid = false;
        if (comma == std::string_view::npos) break;
        v.remove_prefix(comma + 1);
    }
    return out;
}

}  // namespace

std::string_view to_string(DmarcPolicy p) {
    switch (p) {
        case DmarcPolicy::None: return "none";
        case DmarcPolicy::Quarantine: return "quarantine";
        case DmarcPolicy::Reject: return "reject";
    }
    return "none";
}

std::string_view to_string(AlignmentMode m) { return m == AlignmentMode::Strict ? "s" : "r"; }

bool is_dmarc_record(std::string_view txt) {
    // §6.4: dmarc-version = "v" *WSP "=" *WSP %x44 %x4d %x41 %x52 %x43 %x31, then a
    // separator or the end.
    txt = text::trim(txt);
    if (txt.empty() || (txt[0] != 'v' && txt[0] != 'V')) return false;
    txt = text::trim(txt.substr(1));
    if (txt.empty() || txt[0] != '=') return false;
    txt = text::trim(txt.substr(1));
    if (txt.substr(0, 6) != "DMARC1") return false;
    txt = text::trim(txt.substr(6));
    return txt.empty() || txt[0] == ';';
}

// GCC 12 at -O2 takes the copies of std::optional<DmarcPolicy> below for reads of an
// uninitialised byte (GCC PR 80635, a false positive; ASan and the fuzz target check the
// real accesses).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
DmarcRecordParse parse_dmarc_record(std::string_view txt) {
    if (txt.size() > kMaxRecordSize) return {std::nullopt, "record longer than 4096 octets"};
    if (!is_dmarc_record(txt)) return {std::nullopt, "v=DMARC1 is not the first tag"};
    DmarcRecord r;
    std::optional<DmarcPolicy> p, sp;
    bool p_given = false, sp_given = false, p_bad = false, sp_bad = false;
    // The known tags seen so far (§6.3's eleven), to find one given twice.
    std::vector<std::string> seen;
    auto ignore = [&r](std::string_view tag) { r.ignored_tags.emplace_back(tag); };

    // §6.4 dmarc-sep = *WSP ";" *WSP; the first part is v=DMARC1 (checked above).
    txt.remove_prefix(txt.find(';') == std::string_view::npos ? txt.size() : txt.find(';') + 1);
    while (!txt.empty()) {
        auto semi = txt.find(';');
        auto part = text::trim(txt.substr(0, semi));
        txt.remove_prefix(semi == std::string_view::npos ? txt.size() : semi + 1);
        if (part.empty()) continue;  // "…; p=none;" ends with a separator
        auto eq = part.find('=');
        if (eq == std::string_view::npos) continue;  // not a tag: ignored as an unknown one
        auto tag = text::to_lower(text::trim(part.substr(0, eq)));
        auto value = text::trim(part.substr(eq + 1));
        // A tag given twice is read as neither value: two receivers must not see two
        // different policies in one record.
        static constexpr std::array<std::string_view, 10> kKnown{"p", "sp", "pct", "adkim", "aspf", "rua", "ruf",
                                                                 "fo", "rf", "ri"};
        bool known = false;
        for (auto k : kKnown) known = known || tag == k;
        if (!known) continue;  // §6.3: unknown tags MUST be ignored
        bool again = false;
        for (const auto& s : seen) again = again || s == tag;
        if (!again) seen.push_back(tag);

        if (tag == "p") {
            p_given = true;
            p = again ? std::nullopt : policy_of(value);
            p_bad = !p;
        } else if (tag == "sp") {
            sp_given = true;
            sp = again ? std::nullopt : policy_of(value);
            sp_bad = !sp;
        } else if (tag == "pct") {
            bool ok = !again && !value.empty() && value.size() <= 3;
            unsigned n = 0;
            for (char c : value) {
                ok = ok && digit(c);
                if (ok) n = n * 10 + static_cast<unsigned>(c - '0');
            }
            if (ok && n <= 100)
                r.percent = static_cast<std::uint8_t>(n);
            else {
                r.percent = 100;
                ignore("pct");
            }
        } else if (tag == "adkim" || tag == "aspf") {
            auto m = again ? std::nullopt : mode_of(value);
            if (!m) ignore(tag);
            (tag == "adkim" ? r.dkim_alignment : r.spf_alignment) = m.value_or(AlignmentMode::Relaxed);
        } else if (tag == "rua" || tag == "ruf") {
            bool all_valid = false;
            auto uris = uri_list(value, all_valid);
            if (!all_valid || again) ignore(tag);
            auto& kept = tag == "rua" ? r.aggregate_report_uris : r.failure_report_uris;
            kept = again ? std::vector<std::string>{} : std::move(uris);
        }
        // fo=, rf=, ri= steer reports, which we do not send.
    }

    if (!p_given || p_bad || sp_bad) {
        // §6.6.3: without a valid p= (or with an invalid sp=), a valid rua= makes the
        // record read as p=none; otherwise no DMARC processing applies.
        if (r.aggregate_report_uris.empty())
            return {std::nullopt, !p_given ? "no p= tag" : p_bad ? "p= is not none, quarantine or reject"
                                                                 : "sp= is not none, quarantine or reject"};
        r.policy = DmarcPolicy::None;
        r.subdomain_policy = DmarcPolicy::None;
        r.policy_defaulted = true;
        return {std::move(r), {}};
    }
    r.policy = *p;
    if (sp_given) r.subdomain_policy = sp;
    return {std::move(r), {}};
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace edge::auth
