// DNS answers (transport/dns/dns_answer.*): the wire bytes any DNS server, or a
// forger racing it, sends to our resolver for MX, A, AAAA, PTR, TXT and TLSA questions (PTR:
// the reverse-DNS checks of Sender Reputation and Test-SendConnector; TXT: SPF, DKIM, DMARC;
// TLSA: DANE, issue 20).
#include "dns_answer.hpp"
#include "fuzz_target.hpp"

using namespace edge::dns::wire;

namespace {
// host_name form: no upper case, no trailing dot ("" is the null MX root).
bool host_form(const std::string& name) {
    for (char c : name)
        if (c >= 'A' && c <= 'Z') return false;
    return name.empty() || name.back() != '.' || (name.size() >= 2 && name[name.size() - 2] == '\\');
}
}  // namespace

FUZZ_TARGET(dns_answer) {
    if (size < 3) return 0;
    static constexpr ldns_rr_type kTypes[] = {LDNS_RR_TYPE_MX,  LDNS_RR_TYPE_A,   LDNS_RR_TYPE_AAAA,
                                              LDNS_RR_TYPE_PTR, LDNS_RR_TYPE_TXT, LDNS_RR_TYPE_TLSA};
    const ldns_rr_type type = kTypes[data[0] % 6];
    const std::uint8_t* wire = data + 1;
    const std::size_t wire_size = size - 1;
    // The id is the packet's own: the fuzzer learns nothing from guessing 16 bits.
    const auto id = static_cast<std::uint16_t>(wire[0] << 8 | wire[1]);
    const Question q{"example.com", type};
    Packet p = answer_to(wire, wire_size, id, q);
    if (!p) return 0;
    // Believed: it repeats our question.
    FUZZ_CHECK(ldns_pkt_id(p.get()) == id && ldns_pkt_qr(p.get()));

    const AnswerLimits limits{std::chrono::seconds(300), 8};
    const std::uint32_t cap = 86400;
    Lookup out;
    out.ttl = cap;
    std::string current = q.name;
    int hops = 0, rounds = 0;
    // A server that answers every alias with this same packet: the CNAME limit ends it.
    while (read_answer(p.get(), q.name, type, limits, current, hops, out) == AnswerStep::AskAgain) {
        ++rounds;
        FUZZ_CHECK(rounds <= limits.max_cname_hops + 1);
    }
    FUZZ_CHECK(out.ttl <= cap);
    switch (out.outcome) {
        case Lookup::Outcome::Ok:
            FUZZ_CHECK(!out.mx.empty() || !out.addresses.empty() || !out.names.empty() || !out.texts.empty() ||
                       !out.tlsa.empty());
            FUZZ_CHECK(type == LDNS_RR_TYPE_TLSA || out.tlsa.empty());
            FUZZ_CHECK(out.tlsa.size() <= kMaxTexts);
            for (const auto& t : out.tlsa) FUZZ_CHECK(t.data.size() < wire_size);
            for (const auto& a : out.addresses) FUZZ_CHECK(type == LDNS_RR_TYPE_A ? a.is_v4() : a.is_v6());
            FUZZ_CHECK(type == LDNS_RR_TYPE_MX || out.mx.empty());
            FUZZ_CHECK(type == LDNS_RR_TYPE_PTR || out.names.empty());
            FUZZ_CHECK(type != LDNS_RR_TYPE_PTR || out.addresses.empty());
            FUZZ_CHECK(type == LDNS_RR_TYPE_TXT || out.texts.empty());
            // A hostile zone's records are bounded: at most kMaxTexts, each within a packet.
            FUZZ_CHECK(out.texts.size() <= kMaxTexts);
            for (const auto& t : out.texts) FUZZ_CHECK(t.size() < wire_size);
            for (const auto& [pref, name] : out.mx) {
                (void)pref;
                FUZZ_CHECK(host_form(name));
            }
            for (const auto& name : out.names) {
                FUZZ_CHECK(!name.empty());  // a PTR to the root names no host
                FUZZ_CHECK(host_form(name));
            }
            break;
        case Lookup::Outcome::NxDomain:
        case Lookup::Outcome::NoData:
            FUZZ_CHECK(out.mx.empty() && out.addresses.empty() && out.names.empty() && out.texts.empty());
            FUZZ_CHECK(out.ttl <= 300);
            break;
        case Lookup::Outcome::Transient:
            FUZZ_CHECK(!out.error.empty());
            break;
    }
    return 0;
}
