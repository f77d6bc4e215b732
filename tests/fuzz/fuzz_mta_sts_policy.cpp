// The MTA-STS policy file (transport/sts/sts_records.*): any web server writes it.
// What parses is within RFC 8461's bounds, its mx patterns are host names or *.domain
// and match themselves, and its lines read back to the same policy.
#include "fuzz_target.hpp"
#include "sts_records.hpp"

#include <string>

using namespace edge;

FUZZ_TARGET(mta_sts_policy) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    std::string why;
    auto p = sts::parse_sts_policy(text, &why);
    FUZZ_CHECK(p.has_value() == why.empty());
    if (!p) return 0;
    FUZZ_CHECK(text.size() <= sts::kMaxPolicySize);
    FUZZ_CHECK(p->max_age.count() >= 0 && static_cast<std::uint64_t>(p->max_age.count()) <= sts::kMaxPolicyAge);
    FUZZ_CHECK(p->mode == sts::StsMode::None || !p->mx.empty());
    for (const auto& m : p->mx) {
        FUZZ_CHECK(!m.empty() && m.size() <= 255);
        if (!m.starts_with("*.")) FUZZ_CHECK(sts::mx_matches(m, m));
        else FUZZ_CHECK(sts::mx_matches(m, "x" + m.substr(1)) && !sts::mx_matches(m, m.substr(2)));
    }
    std::string joined;
    for (const auto& l : p->lines) {
        FUZZ_CHECK(l.find('\n') == std::string::npos);
        joined += l + "\r\n";
    }
    auto again = sts::parse_sts_policy(joined);
    FUZZ_CHECK(again && again->mode == p->mode && again->max_age == p->max_age && again->mx == p->mx);
    return 0;
}
