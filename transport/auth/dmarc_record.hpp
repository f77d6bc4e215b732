// A DMARC policy record (RFC 7489 §6.3, §6.4): the TXT text at _dmarc.<domain> read into
// what policy evaluation needs. Pure: text in, a record or the reason there is none.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::auth {

// The Domain Owner's requested Mail Receiver policy (p=, sp=).
enum class DmarcPolicy : std::uint8_t { None, Quarantine, Reject };
// "none", "quarantine", "reject".
std::string_view to_string(DmarcPolicy p);

// Identifier alignment mode (adkim=, aspf=; RFC 7489 §3.1): relaxed compares
// Organizational Domains, strict compares the domains themselves.
enum class AlignmentMode : std::uint8_t { Relaxed, Strict };
// "r", "s".
std::string_view to_string(AlignmentMode m);

struct DmarcRecord {
    DmarcPolicy policy = DmarcPolicy::None;             // p=
    std::optional<DmarcPolicy> subdomain_policy;        // sp= (absent: p= applies)
    std::uint8_t percent = 100;                         // pct=, 0..100
    AlignmentMode dkim_alignment = AlignmentMode::Relaxed;  // adkim=
    AlignmentMode spf_alignment = AlignmentMode::Relaxed;   // aspf=
    std::vector<std::string> aggregate_report_uris;     // rua=, kept as written (reports are not ours yet)
    std::vector<std::string> failure_report_uris;       // ruf=
    // §6.6.3: p= (or sp=) was missing or invalid but rua= named a valid URI, so the
    // record is read as p=none.
    bool policy_defaulted = false;
    // The tags whose values were not understood and fell back to their defaults
    // (§6.3: "syntax errors in the remainder of the record SHOULD be discarded in favor
    // of default values"), for the agent log.
    std::vector<std::string> ignored_tags;

    // sp= when given, else p= (§6.3 sp: "if absent, the policy specified by p").
    DmarcPolicy policy_for_subdomains() const { return subdomain_policy.value_or(policy); }
};

// True when a TXT text starts with the v=DMARC1 tag (§6.6.3 step 3: the others are
// discarded before records are counted).
bool is_dmarc_record(std::string_view txt);

struct DmarcRecordParse {
    std::optional<DmarcRecord> record;
    std::string error;  // why there is no record ("v=DMARC1 is not the first tag", …)
};

// Reads one TXT text (its strings already joined, RFC 7489 §6.6.3 / RFC 7208 §3.3).
// Tag names and p/sp/adkim/aspf values compare without regard to ASCII case; the v=
// value must be "DMARC1" exactly (§6.3). Unknown tags are ignored. Input over 4096
// octets is refused (a TXT answer bigger than a UDP/EDNS response is not a policy).
DmarcRecordParse parse_dmarc_record(std::string_view txt);

}  // namespace edge::auth
