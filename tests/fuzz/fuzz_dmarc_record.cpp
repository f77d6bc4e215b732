// DMARC record parsing (transport/auth/dmarc_record.*): a TXT text from anyone's DNS.
// What parses reads back the same from our canonical writing of it, within its ranges.
#include "dmarc_record.hpp"
#include "fuzz_target.hpp"

#include <string>

using namespace edge;

namespace {

std::string canonical(const auth::DmarcRecord& r) {
    std::string s = "v=DMARC1; p=" + std::string(auth::to_string(r.policy));
    if (r.subdomain_policy) s += "; sp=" + std::string(auth::to_string(*r.subdomain_policy));
    s += "; pct=" + std::to_string(r.percent);
    s += "; adkim=" + std::string(auth::to_string(r.dkim_alignment));
    s += "; aspf=" + std::string(auth::to_string(r.spf_alignment));
    for (const char* tag : {"rua", "ruf"}) {
        const auto& uris = tag[2] == 'a' ? r.aggregate_report_uris : r.failure_report_uris;
        if (uris.empty()) continue;
        s += std::string("; ") + tag + "=";
        for (std::size_t i = 0; i < uris.size(); ++i) s += (i ? "," : "") + uris[i];
    }
    return s;
}

}  // namespace

FUZZ_TARGET(dmarc_record) {
    std::string_view txt(reinterpret_cast<const char*>(data), size);
    auto parsed = auth::parse_dmarc_record(txt);
    FUZZ_CHECK(parsed.record.has_value() == parsed.error.empty());
    if (!parsed.record) return 0;
    const auto& r = *parsed.record;
    FUZZ_CHECK(auth::is_dmarc_record(txt));
    FUZZ_CHECK(r.percent <= 100);
    FUZZ_CHECK(r.aggregate_report_uris.size() <= 16 && r.failure_report_uris.size() <= 16);
    // §6.6.3: a defaulted policy only stands on a valid rua=.
    FUZZ_CHECK(!r.policy_defaulted || (r.policy == auth::DmarcPolicy::None && !r.aggregate_report_uris.empty()));
    for (const auto* uris : {&r.aggregate_report_uris, &r.failure_report_uris})
        for (const auto& u : *uris) {
            FUZZ_CHECK(u.find(':') != std::string::npos);
            for (char c : u) FUZZ_CHECK(static_cast<unsigned char>(c) > ' ' && c != 0x7f && c != ',' && c != ';');
        }
    auto again = auth::parse_dmarc_record(canonical(r));
    FUZZ_CHECK(again.record.has_value());
    const auto& b = *again.record;
    FUZZ_CHECK(b.policy == r.policy && b.subdomain_policy == r.subdomain_policy && b.percent == r.percent);
    FUZZ_CHECK(b.dkim_alignment == r.dkim_alignment && b.spf_alignment == r.spf_alignment);
    FUZZ_CHECK(b.aggregate_report_uris == r.aggregate_report_uris && b.failure_report_uris == r.failure_report_uris);
    FUZZ_CHECK(b.ignored_tags.empty());
    return 0;
}
