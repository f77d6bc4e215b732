// The parsing half of the DNS resolver: ldns reads the wire, this reads the records.
// No sockets, no Asio I/O: the resolver calls it for every packet it receives.
#include "dns_answer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

namespace edge::dns::wire {

namespace {

struct MallocFree {
    void operator()(void* p) const { std::free(p); }
};

const ldns_rr* find_rr(const ldns_rr_list* list, ldns_rr_type type, const std::string& owner) {
    if (list == nullptr) return nullptr;
    for (std::size_t i = 0; i < ldns_rr_list_rr_count(list); ++i) {
        const ldns_rr* rr = ldns_rr_list_rr(list, i);
        if (ldns_rr_get_type(rr) == type && ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN && dname_text(ldns_rr_owner(rr)) == owner)
            return rr;
    }
    return nullptr;
}

// RFC 2308 §5: a negative answer lives as long as the smaller of the SOA's TTL and its
// MINIMUM field. No SOA in the authority section: not kept at all.
std::uint32_t negative_ttl(const ldns_pkt* p, const AnswerLimits& o) {
    const ldns_rr_list* authority = ldns_pkt_authority(p);
    if (authority == nullptr) return 0;
    for (std::size_t i = 0; i < ldns_rr_list_rr_count(authority); ++i) {
        const ldns_rr* rr = ldns_rr_list_rr(authority, i);
        if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA || ldns_rr_rd_count(rr) < 7) continue;
        std::uint32_t minimum = ldns_rdf2native_int32(ldns_rr_rdf(rr, 6));
        auto cap = static_cast<std::uint32_t>(std::max<std::int64_t>(0, std::min<std::int64_t>(o.max_negative_ttl.count(), UINT32_MAX)));
        return std::min({ldns_rr_ttl(rr), minimum, cap});
    }
    return 0;
}

// One TXT record: its character-strings, each a length octet and that many octets
// (RFC 1035 §3.3.14), joined as they are. ldns checked each length against RDLENGTH.
std::string txt_text(const ldns_rr* rr) {
    std::string text;
    for (std::size_t i = 0; i < ldns_rr_rd_count(rr); ++i) {
        const ldns_rdf* s = ldns_rr_rdf(rr, i);
        const std::size_t size = ldns_rdf_size(s);
        if (ldns_rdf_get_type(s) != LDNS_RDF_TYPE_STR || size == 0) continue;
        const std::uint8_t* d = ldns_rdf_data(s);
        const std::size_t length = std::min<std::size_t>(d[0], size - 1);
        text.append(reinterpret_cast<const char*>(d + 1), length);
    }
    return text;
}

// Takes the records of q.type owned by `owner` from the answer section into `out`.
void collect(const ldns_pkt* p, ldns_rr_type type, const std::string& owner, Lookup& out) {
    const ldns_rr_list* answer = ldns_pkt_answer(p);
    if (answer == nullptr) return;
    for (std::size_t i = 0; i < ldns_rr_list_rr_count(answer); ++i) {
        const ldns_rr* rr = ldns_rr_list_rr(answer, i);
        if (ldns_rr_get_type(rr) != type || ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) continue;
        if (dname_text(ldns_rr_owner(rr)) != owner || ldns_rr_rd_count(rr) < 1) continue;
        const ldns_rdf* data = ldns_rr_rdf(rr, 0);
        bool taken = false;
        if (type == LDNS_RR_TYPE_A && ldns_rdf_size(data) == 4) {
            boost::asio::ip::address_v4::bytes_type b;
            std::copy_n(ldns_rdf_data(data), 4, b.begin());
            out.addresses.emplace_back(boost::asio::ip::address_v4(b));
            taken = true;
        } else if (type == LDNS_RR_TYPE_AAAA && ldns_rdf_size(data) == 16) {
            boost::asio::ip::address_v6::bytes_type b;
            std::copy_n(ldns_rdf_data(data), 16, b.begin());
            out.addresses.emplace_back(boost::asio::ip::address_v6(b));
            taken = true;
        } else if (type == LDNS_RR_TYPE_MX && ldns_rr_rd_count(rr) == 2) {
            out.mx.emplace_back(ldns_rdf2native_int16(ldns_rr_rdf(rr, 0)), dname_text(ldns_rr_rdf(rr, 1)));
            taken = true;
        } else if (type == LDNS_RR_TYPE_PTR && ldns_rdf_get_type(data) == LDNS_RDF_TYPE_DNAME) {
            std::string name = dname_text(data);
            taken = !name.empty();  // a PTR to the root names no host
            if (taken) out.names.push_back(std::move(name));
        } else if (type == LDNS_RR_TYPE_TLSA && ldns_rr_rd_count(rr) == 4 && out.tlsa.size() < kMaxTexts &&
                   ldns_rdf_size(ldns_rr_rdf(rr, 0)) == 1 && ldns_rdf_size(ldns_rr_rdf(rr, 1)) == 1 &&
                   ldns_rdf_size(ldns_rr_rdf(rr, 2)) == 1) {
            const ldns_rdf* d = ldns_rr_rdf(rr, 3);
            out.tlsa.push_back(Lookup::Tlsa{*ldns_rdf_data(ldns_rr_rdf(rr, 0)), *ldns_rdf_data(ldns_rr_rdf(rr, 1)),
                                            *ldns_rdf_data(ldns_rr_rdf(rr, 2)),
                                            std::vector<std::uint8_t>(ldns_rdf_data(d), ldns_rdf_data(d) + ldns_rdf_size(d))});
            taken = true;
        } else if (type == LDNS_RR_TYPE_TXT && out.texts.size() < kMaxTexts) {
            out.texts.push_back(txt_text(rr));
            taken = true;
        }
        if (taken) out.ttl = std::min(out.ttl, ldns_rr_ttl(rr));
    }
}

}  // namespace

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::string dname_text(const ldns_rdf* rdf) {
    std::unique_ptr<char, MallocFree> s(ldns_rdf2str(rdf));
    if (!s) return {};
    std::string_view v(s.get());
    if (!v.empty() && v.back() == '.') v.remove_suffix(1);
    return lower(v);
}

std::string_view type_text(ldns_rr_type type) {
    switch (type) {
        case LDNS_RR_TYPE_MX: return "MX";
        case LDNS_RR_TYPE_A: return "A";
        case LDNS_RR_TYPE_AAAA: return "AAAA";
        case LDNS_RR_TYPE_PTR: return "PTR";
        case LDNS_RR_TYPE_TXT: return "TXT";
        case LDNS_RR_TYPE_TLSA: return "TLSA";
        default: return "?";
    }
}

Packet answer_to(const std::uint8_t* data, std::size_t size, std::uint16_t id, const Question& q) {
    ldns_pkt* raw = nullptr;
    if (ldns_wire2pkt(&raw, data, size) != LDNS_STATUS_OK) {
        if (raw != nullptr) ldns_pkt_free(raw);
        return nullptr;
    }
    Packet p(raw);
    if (!ldns_pkt_qr(raw) || ldns_pkt_id(raw) != id || ldns_pkt_get_opcode(raw) != LDNS_PACKET_QUERY) return nullptr;
    const ldns_rr_list* question = ldns_pkt_question(raw);
    if (question == nullptr || ldns_rr_list_rr_count(question) != 1) return nullptr;
    const ldns_rr* asked = ldns_rr_list_rr(question, 0);
    if (ldns_rr_get_type(asked) != q.type || ldns_rr_get_class(asked) != LDNS_RR_CLASS_IN) return nullptr;
    if (dname_text(ldns_rr_owner(asked)) != q.name) return nullptr;
    return p;
}

AnswerStep read_answer(const ldns_pkt* p, const std::string& asked, ldns_rr_type type, const AnswerLimits& limits,
                       std::string& current, int& hops, Lookup& out) {
    // RFC 1034 §3.6.2 and §4.3.2: the server puts the chain of aliases in the
    // answer, in any order; follow it from the name we asked for.
    bool moved = false;
    while (const ldns_rr* cname = find_rr(ldns_pkt_answer(p), LDNS_RR_TYPE_CNAME, current)) {
        if (++hops > limits.max_cname_hops || ldns_rr_rd_count(cname) < 1) {
            out.error = fmt::format("DNS query for {} {} failed (CNAME chain longer than {}, or a loop, at {})",
                                    type_text(type), asked, limits.max_cname_hops, current);
            return AnswerStep::Done;
        }
        out.ttl = std::min(out.ttl, ldns_rr_ttl(cname));
        current = dname_text(ldns_rr_rdf(cname, 0));
        moved = true;
    }
    collect(p, type, current, out);
    if (!out.mx.empty() || !out.addresses.empty() || !out.names.empty() || !out.texts.empty() || !out.tlsa.empty()) {
        out.outcome = Lookup::Outcome::Ok;
        return AnswerStep::Done;
    }
    if (ldns_pkt_get_rcode(p) == LDNS_RCODE_NXDOMAIN) {
        out.outcome = Lookup::Outcome::NxDomain;
        out.ttl = std::min(out.ttl, negative_ttl(p, limits));
        return AnswerStep::Done;
    }
    // RFC 1034 §5.3.3: an answer that stops at an alias (its target is in a zone
    // this server does not hold) means asking again for the target.
    if (moved) return AnswerStep::AskAgain;
    out.outcome = Lookup::Outcome::NoData;
    out.ttl = std::min(out.ttl, negative_ttl(p, limits));
    return AnswerStep::Done;
}

}  // namespace edge::dns::wire
