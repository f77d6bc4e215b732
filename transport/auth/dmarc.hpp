// DMARC (RFC 7489): the Organizational Domain (Public Suffix List, libpsl), the author
// domain of a message (§6.6.1), the policy discovery plan (§6.6.3) and the evaluation
// of SPF and DKIM results against the published policy (§3.1 alignment, §6.6.2,
// §6.6.4). Pure once the PSL is loaded: the caller asks DNS and passes the answers in.
#pragma once

#include "auth_result.hpp"
#include "dmarc_record.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace edge::auth {

// RFC 7489 §3.2: the public suffix the domain falls under plus one label
// ("mail.example.co.uk" -> "example.co.uk", "a.b.example.com" -> "example.com"); a
// public suffix itself, or a name the list does not cover at all, is its own
// Organizational Domain. Input in A-labels; ASCII case and one trailing dot do not
// matter; the answer is lower case. The list is Debian's publicsuffix data file, read
// once on first use (so a package update applies at the next start), libpsl's built-in
// copy when that file is missing. Thread-safe.
std::string organizational_domain(std::string_view domain);

// ---- the author domain (RFC 7489 §6.6.1)

enum class AuthorProblem : std::uint8_t {
    None,
    NoFrom,             // the message has no From: field (RFC 5322 §3.6 requires one)
    SeveralFromFields,  // more than one From: field; every domain of them is evaluated
    Unparseable,        // a From: value that is not a mailbox-list of domain addresses
    TooManyDomains,     // over kMaxAuthorDomains distinct domains: not evaluated
};
std::string_view to_string(AuthorProblem p);

// Each author domain costs up to two DNS queries; a From: field naming more is refused.
inline constexpr std::size_t kMaxAuthorDomains = 8;

struct AuthorDomains {
    // The distinct domains of the From: addresses, canonical (A-labels, lower case), in
    // the order written. Empty when there is nothing to evaluate.
    std::vector<std::string> domains;
    AuthorProblem problem = AuthorProblem::None;
    std::string reason;  // for the agent log when problem != None
};

// From the From: field values of a message (unfolded, as the header scan gives them).
// Our reading of §6.6.1 ("reject, or ... apply the DMARC check to each domain"):
//  - no From:, or a value we cannot read → no domain (DMARC result none, with the
//    reason); the caller may reject by configuration;
//  - several addresses in one domain → that domain;
//  - several domains, in one field or in several From: fields → every domain is
//    evaluated and the strictest outcome applies (strictest_outcome); several fields
//    are also flagged (SeveralFromFields) so the caller may reject the message, which
//    RFC 5322 §3.6 makes invalid. A second From: field never hides the first.
// Display names, comments, quoted strings, groups (RFC 6854) and obsolete routes are
// read per RFC 5322 §3.4; an address literal is unparseable (no policy in DNS).
AuthorDomains author_domains(const std::vector<std::string>& from_field_values);

// ---- policy discovery (RFC 7489 §6.6.3)

// "_dmarc.<from>", then "_dmarc.<Organizational Domain>" when that differs. `from_domain`
// is canonical (an AuthorDomains entry).
std::vector<std::string> dmarc_query_names(std::string_view from_domain);

// What DNS said for one name of the plan.
struct DmarcTxtLookup {
    enum class Status : std::uint8_t {
        Answered,   // TXT records (possibly none of them DMARC)
        NoRecords,  // NXDOMAIN or no TXT records
        TempError,  // a timeout or SERVFAIL: try again later
    };
    Status status = Status::NoRecords;
    std::vector<std::string> texts;  // each TXT record with its strings joined
};

struct DmarcInput {
    std::string from_domain;  // the author domain (canonical)
    // The answers for dmarc_query_names(from_domain), in its order. The second may be
    // left out when the first holds a DMARC record; when it is needed and missing the
    // result is temperror.
    std::vector<DmarcTxtLookup> lookups;
    // SPF of the MAIL FROM identity (RFC 7489 §4.1), and its domain: the MAIL FROM
    // domain, or the HELO domain when the reverse-path was null (RFC 7208 §2.4 makes
    // postmaster@<HELO> the MAIL FROM identity then). A separate HELO check is not
    // this identity and never aligns.
    Result spf_result = Result::None;
    std::string spf_domain;
    // Every DKIM signature's verdict with its d= (RFC 7489 §3.1.1: any passing aligned
    // signature will do).
    struct DkimVerdict {
        Result result = Result::None;
        std::string domain;
    };
    std::vector<DkimVerdict> dkim;
    // A uniform draw 0..99 for pct= sampling (§6.6.4); the caller owns randomness.
    std::uint8_t percent_draw = 0;
};

struct DmarcOutcome {
    Result result = Result::None;  // pass, fail, none, temperror or permerror (§11.2)
    std::string header_from;       // the author domain evaluated (header.from)
    std::string policy_domain;     // where the record was found, when it was
    // The record's requests (p= and the effective sp=), when a record was found.
    DmarcPolicy requested_policy = DmarcPolicy::None;
    DmarcPolicy requested_subdomain_policy = DmarcPolicy::None;
    // What applies to this message: none unless the result is fail; sp= when the
    // record came from the Organizational Domain for a subdomain; after pct sampling.
    DmarcPolicy applied_policy = DmarcPolicy::None;
    bool sampled_out = false;  // pct= left this message out: the policy stepped down one
    // Alignment (§3.1): which identifiers aligned, and in which mode they were compared.
    bool spf_aligned = false;
    bool dkim_aligned = false;
    std::string aligned_dkim_domain;  // the d= of the first aligned passing signature
    AlignmentMode spf_mode = AlignmentMode::Relaxed;
    AlignmentMode dkim_mode = AlignmentMode::Relaxed;
    std::string reason;  // one line for the agent log
};

// The whole §6.6.3 discovery over the given answers, alignment and the policy.
DmarcOutcome evaluate_dmarc(const DmarcInput& input);

// §6.6.1 for several author domains: a failure with the strictest applied policy,
// else temperror, else permerror, else pass, else none. Empty input gives none.
DmarcOutcome strictest_outcome(const std::vector<DmarcOutcome>& outcomes);

// §3.1 identifier alignment of `domain` with the author domain.
bool domains_aligned(std::string_view author_domain, std::string_view domain, AlignmentMode mode);

}  // namespace edge::auth
