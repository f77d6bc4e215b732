// SPF records (transport/auth/spf_record.*): the TXT text any domain publishes, read by
// the record parser, its domain-specs expanded with the macro expander (RFC 7208 §4.6, §7).
// Layout: one byte choosing the client (IPv4, IPv6, IPv4-mapped) and the sender's
// local-part length, then lines: the record, then a macro-string as an explanation.
#include "fuzz_target.hpp"
#include "spf_record.hpp"

using namespace edge::auth::spf;

namespace {
// An expanded domain-spec is short enough to ask for once fitted, or is one long label.
bool bounded_expansion(const std::optional<std::string>& e) {
    if (!e) return true;
    if (e->size() > kMaxExpansion) return false;
    const std::string fitted = fit_domain(*e);
    return fitted.size() <= 253 || fitted.find('.') == std::string::npos;
}
}  // namespace

FUZZ_TARGET(spf_record) {
    edge::fuzz::Tape tape(data, size);
    const std::uint8_t choice = tape.byte();
    MacroContext context;
    static const char* const kClients[] = {"192.0.2.3", "2001:db8::cb01", "::ffff:192.0.2.3"};
    context.client = boost::asio::ip::make_address(kClients[choice % 3]);
    context.local_part = std::string(static_cast<std::size_t>(choice >> 2), 'l') + "-x.y";
    context.sender_domain = context.domain = "email.example.com";
    context.sender = context.local_part + "@" + context.sender_domain;
    context.helo = "mx.example.org";
    context.validated = "mail.example.com";
    context.receiver = "mx.example.net";

    const std::string_view text = tape.line();
    const ParsedRecord parsed = parse_record(text);
    // A record that parses was an SPF record; one that does not says why.
    FUZZ_CHECK(parsed.record.has_value() != !parsed.problem.empty());
    if (parsed.record) {
        FUZZ_CHECK(is_spf_record(text));
        const Record& r = *parsed.record;
        for (const Directive& d : r.directives) {
            FUZZ_CHECK(d.cidr4 >= 0 && d.cidr4 <= 32 && d.cidr6 >= 0 && d.cidr6 <= 128);
            FUZZ_CHECK(!d.text.empty() && text.find(d.text) != std::string_view::npos);
            if (d.kind == MechanismKind::Ip4) FUZZ_CHECK(d.network.is_v4());
            if (d.kind == MechanismKind::Ip6) FUZZ_CHECK(d.network.is_v6());
            if (d.domain_spec.empty()) continue;
            FUZZ_CHECK(valid_domain_spec(d.domain_spec));
            // What the parser accepted, the expander expands, unless it grows past the cap
            // (no macro here gives more than about 100 octets for its 4).
            auto e = expand(d.domain_spec, context, MacroUse::DomainSpec);
            FUZZ_CHECK(e.has_value() || d.domain_spec.size() > kMaxExpansion / 128);
            FUZZ_CHECK(bounded_expansion(e));
        }
        for (const auto* spec : {&r.redirect, &r.exp}) {
            if (!*spec) continue;
            FUZZ_CHECK(valid_domain_spec(**spec));
            FUZZ_CHECK(bounded_expansion(expand(**spec, context, MacroUse::DomainSpec)));
        }
    }
    // An explanation: expansion succeeds only for a valid macro-string, and the text it
    // gives is printable ASCII (RFC 7208 §6.2) when the context is.
    const std::string_view explanation = tape.rest();
    auto e = expand(explanation, context, MacroUse::Explanation);
    if (e) {
        FUZZ_CHECK(valid_macro_string(explanation, MacroUse::Explanation));
        for (char c : *e) FUZZ_CHECK(c >= 0x20 && c <= 0x7e);
    }
    if (valid_domain_spec(explanation)) FUZZ_CHECK(valid_macro_string(explanation, MacroUse::DomainSpec));
    return 0;
}
