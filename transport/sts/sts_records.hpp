// The texts of MTA-STS (RFC 8461) and TLS-RPT (RFC 8460), parsed: the `_mta-sts` TXT
// record, the policy file served at https://mta-sts.<domain>/.well-known/mta-sts.txt,
// the MX match of §4.1, and the `_smtp._tls` TXT record. Pure: bytes in, values or a
// sentence saying what is wrong out; every function here has a fuzz target.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::sts {

// RFC 8461 §3.2: a policy file larger than this is refused (64 KiB).
inline constexpr std::size_t kMaxPolicySize = 64 * 1024;
// RFC 8461 §3.2: max_age is at most 31557600 seconds (about one year).
inline constexpr std::uint64_t kMaxPolicyAge = 31557600;

// One `_mta-sts.<domain>` TXT record: `v=STSv1; id=20160831085700Z;`.
struct StsRecord {
    std::string id;  // 1-32 letters and digits
};

// RFC 8461 §3.1: of the TXT records at `_mta-sts.<domain>`, those beginning `v=STSv1`
// count; exactly one such record that parses is the domain's, anything else (none,
// two, or one that does not parse) means no policy. `why` (if given) says which.
std::optional<StsRecord> select_sts_record(const std::vector<std::string>& texts, std::string* why = nullptr);
// One record's text, strictly by §3.1's grammar (unknown fields ignored).
std::optional<StsRecord> parse_sts_record(std::string_view text, std::string* why = nullptr);

enum class StsMode { Enforce, Testing, None };
std::string_view to_string(StsMode mode);  // "enforce", "testing", "none"

struct StsPolicy {
    StsMode mode = StsMode::None;
    std::chrono::seconds max_age{0};
    std::vector<std::string> mx;  // patterns as written, lower case: "mx1.example.com", "*.example.net"
    // The policy as TLS-RPT's policy-string reports it (RFC 8460 §4.4): one entry per
    // line of the file, line ends removed.
    std::vector<std::string> lines;
};

// RFC 8461 §3.2: `key: value` lines ended by LF or CRLF; `version: STSv1`, `mode`
// (enforce, testing, none) and `max_age` (at most 31557600) must each be there, `mx`
// at least once unless the mode is none; a field other than mx given twice keeps its
// first value; unknown fields are ignored. At most kMaxPolicySize bytes.
std::optional<StsPolicy> parse_sts_policy(std::string_view text, std::string* why = nullptr);

// RFC 8461 §4.1: whether MX host `host` matches `pattern`: equal ignoring case and a
// trailing dot, or `*.suffix` standing for exactly one label left of suffix
// ("*.example.com" matches "mx.example.com", not "example.com" nor "a.b.example.com").
bool mx_matches(std::string_view pattern, std::string_view host);
bool mx_allowed(const StsPolicy& policy, std::string_view host);

// One `_smtp._tls.<domain>` TXT record (RFC 8460 §3): `v=TLSRPTv1; rua=mailto:a@b,https://…`.
struct TlsRptRecord {
    std::vector<std::string> mailto;  // addresses of the mailto: URIs, percent-decoded, without ?query
    std::vector<std::string> https;   // https: URIs as written (we do not post to them)
};
// RFC 8460 §3: exactly one record beginning `v=TLSRPTv1` that parses with at least one
// rua URI, else none.
std::optional<TlsRptRecord> select_tlsrpt_record(const std::vector<std::string>& texts, std::string* why = nullptr);
std::optional<TlsRptRecord> parse_tlsrpt_record(std::string_view text, std::string* why = nullptr);

}  // namespace edge::sts
