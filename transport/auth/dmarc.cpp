// DMARC evaluation (RFC 7489): Organizational Domains from the Public Suffix List,
// discovery per §6.6.3, alignment per §3.1, policy per §6.6.4. No I/O but the one read
// of the PSL file. The author domains of §6.6.1 are author_domains.cpp.
#include "dmarc.hpp"

#include "text_helpers.hpp"

#include <libpsl.h>

#include <algorithm>
#include <optional>

namespace edge::auth {

namespace {

// Debian's publicsuffix package; its updates apply at our next start.
constexpr const char* kPublicSuffixFile = "/usr/share/publicsuffix/public_suffix_list.dat";

const psl_ctx_t* public_suffix_list() {
    // A magic static: loaded once, thread-safe; libpsl lookups only read the context.
    static const psl_ctx_t* const ctx = [] {
        const psl_ctx_t* c = psl_load_file(kPublicSuffixFile);
        return c != nullptr ? c : psl_builtin();
    }();
    return ctx;
}

std::string canonical_name(std::string_view domain) {
    if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
    return text::to_lower(domain);
}

// ---- §6.6.3 discovery

// The one DMARC record among a name's TXT records, or why there is none.
struct Discovered {
    enum class Kind { Record, NoRecord, Several } kind = Kind::NoRecord;
    std::string_view text;
};

Discovered discover(const DmarcTxtLookup& lookup) {
    Discovered d;
    if (lookup.status != DmarcTxtLookup::Status::Answered) return d;
    for (const auto& t : lookup.texts) {
        if (!is_dmarc_record(t)) continue;  // step 3: other TXT records are discarded
        if (d.kind == Discovered::Kind::Record) return {Discovered::Kind::Several, {}};
        d = {Discovered::Kind::Record, t};
    }
    return d;
}

DmarcPolicy step_down(DmarcPolicy p) {
    // §6.3 pct: a message not sampled gets the next policy down.
    return p == DmarcPolicy::Reject ? DmarcPolicy::Quarantine : DmarcPolicy::None;
}

int strictness(const DmarcOutcome& o) {
    switch (o.result) {
        case Result::Fail: return 10 + static_cast<int>(o.applied_policy);
        case Result::TempError: return 4;
        case Result::PermError: return 3;
        case Result::Pass: return 2;
        default: return 1;
    }
}

}  // namespace

std::string organizational_domain(std::string_view domain) {
    std::string name = canonical_name(domain);
    const psl_ctx_t* psl = public_suffix_list();
    if (name.empty() || psl == nullptr) return name;
    // NULL when the name is itself a public suffix: then it stands for itself.
    const char* registrable = psl_registrable_domain(psl, name.c_str());
    return registrable != nullptr ? std::string(registrable) : name;
}

std::vector<std::string> dmarc_query_names(std::string_view from_domain) {
    std::string from = canonical_name(from_domain);
    std::vector<std::string> names{"_dmarc." + from};
    if (std::string org = organizational_domain(from); org != from) names.push_back("_dmarc." + org);
    return names;
}

bool domains_aligned(std::string_view author_domain, std::string_view domain, AlignmentMode mode) {
    std::string a = canonical_name(author_domain), b = canonical_name(domain);
    if (a.empty() || b.empty()) return false;
    if (mode == AlignmentMode::Strict) return a == b;
    return organizational_domain(a) == organizational_domain(b);
}

DmarcOutcome evaluate_dmarc(const DmarcInput& input) {
    DmarcOutcome o;
    o.header_from = canonical_name(input.from_domain);
    if (o.header_from.empty()) {
        o.reason = "no author domain";
        return o;
    }
    const auto names = dmarc_query_names(o.header_from);
    auto temp_error = [&o](std::string reason) {
        o.result = Result::TempError;
        o.reason = std::move(reason);
        return o;
    };

    // Step 2: the author domain's own record; step 4: else the Organizational Domain's.
    std::optional<std::string_view> text;
    bool from_org = false;
    for (std::size_t i = 0; i < names.size() && !text; ++i) {
        if (i >= input.lookups.size()) return temp_error(names[i] + " was not looked up");
        const auto& lookup = input.lookups[i];
        if (lookup.status == DmarcTxtLookup::Status::TempError)
            return temp_error("DNS temporary error for " + names[i]);
        auto d = discover(lookup);
        if (d.kind == Discovered::Kind::Several) {
            // Step 5: several records end discovery; DMARC does not apply.
            o.reason = "several DMARC records at " + names[i];
            return o;
        }
        if (d.kind == Discovered::Kind::Record) {
            text = d.text;
            from_org = i == 1;
            o.policy_domain = names[i].substr(7);  // without "_dmarc."
        }
    }
    if (!text) {
        o.reason = "no DMARC record";
        return o;
    }
    auto parsed = parse_dmarc_record(*text);
    if (!parsed.record) {
        // §11.2 permerror: "a syntactically incorrect DMARC record"; no policy applies.
        o.result = Result::PermError;
        o.reason = "DMARC record at " + o.policy_domain + ": " + parsed.error;
        return o;
    }
    const DmarcRecord& rec = *parsed.record;
    o.requested_policy = rec.policy;
    o.requested_subdomain_policy = rec.policy_for_subdomains();
    o.spf_mode = rec.spf_alignment;
    o.dkim_mode = rec.dkim_alignment;

    // §3.1: an identifier aligns when it passed and names the author's domain (strict)
    // or one with the same Organizational Domain (relaxed).
    o.spf_aligned = input.spf_result == Result::Pass && domains_aligned(o.header_from, input.spf_domain, o.spf_mode);
    for (const auto& v : input.dkim) {
        if (v.result == Result::Pass && domains_aligned(o.header_from, v.domain, o.dkim_mode)) {
            o.dkim_aligned = true;
            o.aligned_dkim_domain = canonical_name(v.domain);
            break;
        }
    }
    if (o.spf_aligned || o.dkim_aligned) {
        o.result = Result::Pass;
        o.reason = o.dkim_aligned ? "DKIM d=" + o.aligned_dkim_domain + " aligned" : "SPF " + canonical_name(input.spf_domain) + " aligned";
        return o;
    }
    o.result = Result::Fail;
    // §6.3 sp: the subdomain policy is the Organizational Domain record's word for
    // names below it that have no record of their own.
    const bool subdomain = from_org && o.header_from != o.policy_domain;
    DmarcPolicy policy = subdomain ? rec.policy_for_subdomains() : rec.policy;
    if (input.percent_draw >= rec.percent && policy != DmarcPolicy::None) {
        o.sampled_out = true;
        policy = step_down(policy);
    }
    o.applied_policy = policy;
    o.reason = "no aligned SPF or DKIM pass; " + std::string(subdomain ? "sp=" : "p=") +
               std::string(to_string(subdomain ? rec.policy_for_subdomains() : rec.policy)) +
               (o.sampled_out ? " sampled out by pct=" + std::to_string(rec.percent) : std::string());
    return o;
}

DmarcOutcome strictest_outcome(const std::vector<DmarcOutcome>& outcomes) {
    if (outcomes.empty()) {
        DmarcOutcome none;
        none.reason = "no author domain";
        return none;
    }
    auto it = std::max_element(outcomes.begin(), outcomes.end(),
                               [](const DmarcOutcome& a, const DmarcOutcome& b) { return strictness(a) < strictness(b); });
    return *it;
}

}  // namespace edge::auth
