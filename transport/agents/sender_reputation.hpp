// Sender reputation, the pure core of Exchange's Protocol Analysis agent: the per-IP
// sender profile and its stored form, HELO analysis, the reverse-DNS finding, and the
// Sender Reputation Level (SRL, 0..9) with the reasons for it. No sockets, no clocks:
// callers pass the time. The service that keeps profiles and the agent are in
// reputation_service.hpp.
#pragma once

#include "ip.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::agents {

using Seconds = std::chrono::sys_seconds;

// What forward-confirmed reverse DNS said of the client's address: the PTR names of
// the address, then the A/AAAA records of those names, must lead back to it.
enum class ReverseDnsFinding : std::uint8_t {
    NotChecked,  // no lookup has answered yet (or every one failed for a while)
    Pass,        // a PTR name resolves back to the client's address
    Fail,        // PTR names exist but none resolves back to the client's address
    NoPtr,       // the address has no PTR record (NXDOMAIN or no data)
    TempError,   // the lookup timed out or SERVFAILed: no evidence either way
};
const char* to_string(ReverseDnsFinding f);

// One of 8 three-hour buckets: what the last day looks like (messages seen, and
// commands or messages other agents refused), without keeping a line per event.
struct ReputationBucket {
    std::uint32_t period = 0;  // hours since the epoch / 3; 0 = unused
    std::uint16_t messages = 0;
    std::uint16_t rejections = 0;
    friend bool operator==(const ReputationBucket&, const ReputationBucket&) = default;
};

// Everything the edge remembers of one client IP. Every field is bounded: the HELO
// set keeps at most kMaxHeloNames hashes, names are cut to kMaxNameLength, counters
// saturate; so a record is a few hundred bytes whatever a client does.
struct SenderProfile {
    static constexpr std::size_t kMaxHeloNames = 8;
    static constexpr std::size_t kMaxNameLength = 255;
    static constexpr std::size_t kBuckets = 8;
    static constexpr std::size_t kMaxBlockReason = 512;

    Seconds first_seen{}, last_seen{};
    std::uint32_t messages = 0;  // messages seen to the end of data (Exchange: SRL 0 below 20)
    std::uint32_t helos = 0;     // HELO/EHLO commands analysed
    std::vector<std::uint64_t> helo_names;  // hashes of the distinct HELO names, at most kMaxHeloNames
    std::uint32_t helo_literal_mismatch = 0;  // HELOs that were an IP literal other than the client's address
    std::uint32_t helo_claims_ours = 0;       // HELOs naming our accepted domain, our name or our address
    std::uint32_t helo_ptr_mismatch = 0;      // HELOs whose name is not the PTR name (nor in its parent domain)
    std::string last_helo;                    // as sent, cut to kMaxNameLength
    ReverseDnsFinding reverse_dns = ReverseDnsFinding::NotChecked;
    std::string ptr_name;  // the name that confirmed, else the first PTR name; "" without one
    Seconds reverse_dns_checked{};
    std::array<ReputationBucket, kBuckets> buckets{};
    std::uint32_t early_talker = 0;  // sessions that talked before the banner (pre-greet test)
    std::uint8_t srl = 0;            // the level computed at the last message
    // After a block the evidence is deleted (Exchange deletes the sender's profile);
    // what stays is when the block ends and why it was made.
    Seconds blocked_until{};
    std::string block_reason;

    friend bool operator==(const SenderProfile&, const SenderProfile&) = default;

    // The last day (eight three-hour buckets, so 21 to 24 hours).
    std::uint32_t messages_last_day(Seconds now) const;
    std::uint32_t rejections_last_day(Seconds now) const;
    void count_message(Seconds now);
    void count_rejection(Seconds now);
    void seen(Seconds now);  // first/last seen
};

// The stored form: a format byte, then the fields with bounded lengths. decode refuses
// (nullopt, with why) anything that is not a whole record of a format we know.
inline constexpr std::uint8_t kSenderProfileFormat = 1;
std::string encode(const SenderProfile& p);
std::optional<SenderProfile> decode_sender_profile(std::string_view bytes, std::string* why = nullptr);

// The store's key of an address: 4 bytes for IPv4 (however written), else 16.
std::string reputation_key(const routing::IpAddress& a);
std::optional<routing::IpAddress> address_of_reputation_key(std::string_view key);

// ---- HELO analysis --------------------------------------------------------------------

// What is ours, for "the HELO claims to be us".
struct HeloContext {
    std::string client_ip;    // the session's remote address
    std::string local_ip;     // the address the client connected to
    std::string server_fqdn;  // our name
    std::function<bool(std::string_view domain)> is_accepted_domain;  // lower case, no trailing dot
    std::string ptr_name;     // the client's PTR name, when known
};

struct HeloFindings {
    std::string name;             // lower case, no trailing dot (the literal as written for literals)
    std::uint64_t hash = 0;       // of `name`, for the distinct-names set
    bool ip_literal = false;      // [192.0.2.1], [IPv6:…], or a bare address
    bool literal_mismatch = false;  // a literal that is not the client's address
    bool claims_ours = false;     // our accepted domain, our name, or our address
    bool ptr_mismatch = false;    // a name, a PTR name exists, and they do not share a parent domain
};
HeloFindings analyse_helo(std::string_view helo, const HeloContext& ctx);

// Adds one analysed HELO to the profile (the set of distinct names stays bounded).
void record_helo(SenderProfile& p, std::string_view helo_as_sent, const HeloFindings& f);

// Whether a HELO name and a PTR name agree: the same name, or the same parent domain
// (the last two labels: mail.example.com and mx1.example.com agree). A public suffix
// list would do better for example.co.uk; Debian has libpsl, this does without it.
bool helo_matches_ptr(std::string_view helo, std::string_view ptr_name);

// ---- the Sender Reputation Level ----------------------------------------------------

// Exchange: the SRL stays 0 until the edge has seen this many messages from the IP.
inline constexpr std::uint32_t kSrlMinimumMessages = 20;

struct SrlFactor {
    std::string finding;  // "NoPtr", "HeloIpLiteralMismatch", … (stable, for scripts)
    int points = 0;
    std::string why;      // one line an administrator reads
};
struct SrlResult {
    int level = 0;  // 0..9
    std::vector<SrlFactor> factors;
    std::string why() const;  // the factors' lines joined with "; ", or why the level is 0
};
// The table (transport/agents/README.md, "Sender Reputation"). Pure: `now` only picks
// the last day's buckets.
SrlResult sender_reputation_level(const SenderProfile& p, Seconds now);

}  // namespace edge::agents
