// DNS answers (transport/send/dns_answer.*): the wire bytes any DNS server, or a
// forger racing it, sends to our resolver for MX, A and AAAA questions.
#include "dns_answer.hpp"
#include "fuzz_target.hpp"

using namespace edge::dns::wire;

FUZZ_TARGET(dns_answer) {
    if (size < 3) return 0;
    static constexpr ldns_rr_type kTypes[] = {LDNS_RR_TYPE_MX, LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA};
    const ldns_rr_type type = kTypes[data[0] % 3];
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
            FUZZ_CHECK(!out.mx.empty() || !out.addresses.empty());
            for (const auto& a : out.addresses) FUZZ_CHECK(type == LDNS_RR_TYPE_A ? a.is_v4() : a.is_v6());
            FUZZ_CHECK(type == LDNS_RR_TYPE_MX || out.mx.empty());
            for (const auto& [pref, name] : out.mx) {
                (void)pref;
                // host_name form: no upper case, no trailing dot ("" is the null MX root).
                for (char c : name) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
                FUZZ_CHECK(name.empty() || name.back() != '.' || (name.size() >= 2 && name[name.size() - 2] == '\\'));
            }
            break;
        case Lookup::Outcome::NxDomain:
        case Lookup::Outcome::NoData:
            FUZZ_CHECK(out.mx.empty() && out.addresses.empty());
            FUZZ_CHECK(out.ttl <= 300);
            break;
        case Lookup::Outcome::Transient:
            FUZZ_CHECK(!out.error.empty());
            break;
    }
    return 0;
}
