// Reading DNS answers, without I/O: the parsing half of the resolver (dns_resolver.*),
// so wire bytes can be fed to it directly (the dns_answer fuzz target). Whether a
// packet answers our question (RFC 5452), and what one believed packet says about one
// name and type: its records, the CNAMEs to follow (RFC 1034 §3.6.2), NXDOMAIN and
// the negative TTL (RFC 2308 §5). Internal to dns/.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// After the C++ headers: ldns's headers define macros (min/max helpers) that break
// libstdc++'s <ext/numeric_traits.h> when they come first. Without HAVE_STDBOOL_H they
// also define bool, true and false as macros, which break any C++ header read after
// them (<optional>'s `bool(x) <=> false` in a unity build): gone here.
#include <ldns/ldns.h>
#ifdef __bool_true_false_are_defined
#undef bool
#undef true
#undef false
#endif

namespace edge::dns::wire {

struct PacketFree {
    void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using Packet = std::unique_ptr<ldns_pkt, PacketFree>;

struct Question {
    std::string name;  // host_name form: lower case, no trailing dot
    ldns_rr_type type;
};

// One name and type, after the CNAMEs: what the cache keeps.
struct Lookup {
    enum class Outcome { Ok, NxDomain, NoData, Transient };
    Outcome outcome = Outcome::Transient;
    std::vector<std::pair<std::uint16_t, std::string>> mx;  // preference, exchange
    std::vector<boost::asio::ip::address> addresses;
    std::vector<std::string> names;  // PTR
    // TXT: each record's character-strings joined without separator (RFC 7208 §3.3,
    // RFC 6376 §3.6.2.2), in the server's order; at most kMaxTexts records kept.
    std::vector<std::string> texts;
    // TLSA (RFC 6698): usage, selector, matching type, data; at most kMaxTexts records.
    struct Tlsa {
        std::uint8_t usage = 0, selector = 0, matching = 0;
        std::vector<std::uint8_t> data;
    };
    std::vector<Tlsa> tlsa;
    std::uint32_t ttl = 0;  // seconds the answer may be kept
    std::string error;      // Transient: why
    // DNSSEC (DnsOptions::dnssec): every packet of the answer had AD set (RFC 4035 §3.2.3);
    // servfail: a validating resolver's SERVFAIL (bogus, RFC 4035 §5.5).
    bool authenticated = false;
    bool servfail = false;
};

std::string lower(std::string_view s);  // ASCII letters only
// A name from a packet, in host_name's form ("" for the root). Unusual bytes come out
// escaped by ldns ("\032"), so they never equal a name we asked for.
std::string dname_text(const ldns_rdf* rdf);
std::string_view type_text(ldns_rr_type type);  // "MX", "A", "AAAA", "PTR", "TXT"

// RFC 5452 §4 and §9.1: the packet, when it is an answer, carries our id and repeats
// our question (name, type, class); nullptr for anything else (someone else's, or forged).
Packet answer_to(const std::uint8_t* data, std::size_t size, std::uint16_t id, const Question& q);

// A hostile zone must not grow our memory: TXT records kept per answer, at most (those
// past it are dropped). Each record is at most 64 KiB anyway (RDLENGTH is 16 bits).
inline constexpr std::size_t kMaxTexts = 64;

struct AnswerLimits {
    std::chrono::seconds max_negative_ttl{300};
    int max_cname_hops = 8;
};

enum class AnswerStep {
    Done,      // `out` is the answer (Ok, NxDomain, NoData, or Transient with its error)
    AskAgain,  // the answer stops at an alias: ask again for `current`
};

// Reads one believed packet that answers `current` (the name asked, `asked`, or the
// alias reached from it): follows the CNAMEs in the answer section (counting `hops`,
// at most limits.max_cname_hops), takes the records of `type` owned by where the chain
// ends, and lowers out.ttl to the TTLs it used. `out.ttl` starts as the positive cap.
AnswerStep read_answer(const ldns_pkt* p, const std::string& asked, ldns_rr_type type, const AnswerLimits& limits,
                       std::string& current, int& hops, Lookup& out);

}  // namespace edge::dns::wire
