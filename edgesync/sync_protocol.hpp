// The EdgeSync wire protocol between the `edgesync` agent (internal side) and the
// edge's sync listener, spoken over mutual TLS. Pure: text in, typed requests out;
// the listener and the agent do the I/O. Every line ends in LF and is at most
// kMaxLine bytes; a batch announces its record count (at most kMaxRecords) and ends
// with the SHA-256 of its records, so a truncated or altered stream is refused whole.
//
//   agent: EDGESYNC 1 ENROLL <secret>        first contact: the one-time secret of the
//   edge:  OK <recipient-hash-key hex>        subscription file; the edge pins the
//                                             agent's client certificate
//   agent: EDGESYNC 1 HELLO                   later contacts (the pinned certificate)
//   edge:  OK
//   agent: LEASE <agent-name> <seconds> <holder-id>
//   edge:  OK | ERR 450 <agent> holds the sync lease for <n> more seconds
//                                             one agent syncs at a time, per subscription:
//                                             the holder is the random <holder-id> of one
//                                             agent process (not its name), renewed by it
//   agent: RELEASE → OK                       gives the lease back (edgesync --once, at exit)
//   agent: BATCH CONFIG FULL 0 <n>            the site, its hubs, the accepted domains
//          SITE <name> | HUB <host[:port]> | DOMAIN <domain> <type> [default] | DOMAINS none
//          END <sha256 hex of the n record lines, each with its LF>
//                                             a batch without DOMAIN says `DOMAINS none`:
//                                             an edge refuses one that says neither (it would
//                                             remove every accepted domain by omission)
//   agent: BATCH RECIPIENTS FULL|DELTA <base version> <n>
//          + <hash hex> | - <hash hex>       keyed hashes (agents::recipient_hash)
//          END <sha256 hex>
//   edge:  OK <version> | ERR <code> <why>    409: DELTA on another base: send FULL
//   agent: STATUS → OK <key=value …>;  QUIT → OK, closed
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

namespace edge::edgesync {

inline constexpr std::string_view kProtocolVersion = "1";
inline constexpr std::size_t kMaxLine = 4096;
inline constexpr std::size_t kMaxRecords = 5'000'000;  // a directory of millions, not unbounded
inline constexpr std::size_t kHashBytes = 32;
inline constexpr std::uint16_t kDefaultSyncPort = 50636;  // Exchange's EdgeSync LDAPS port

struct Enroll {
    std::string secret;
};
struct Hello {};
struct Lease {
    std::string agent;
    std::uint32_t seconds = 0;
    std::string holder;  // one agent process: two agents of one name are two holders
};
struct Release {};
enum class BatchKind { Config, Recipients };
enum class BatchMode { Full, Delta };
struct BatchStart {
    BatchKind kind = BatchKind::Config;
    BatchMode mode = BatchMode::Full;
    std::uint64_t base_version = 0;
    std::size_t count = 0;
};
struct Status {};
struct Quit {};
using Request = std::variant<Enroll, Hello, Lease, Release, BatchStart, Status, Quit>;

// One request line (without its LF), or the reason it is not one.
std::variant<Request, std::string> parse_request(std::string_view line);

// The edge's answer to a LEASE another holder has, and how the agent reads it: the
// seconds until that lease expires (nullopt: not a lease refusal).
std::string lease_refusal(std::string_view agent, std::int64_t seconds);
std::optional<std::uint32_t> lease_wait_seconds(std::string_view reply);

// Accepted domain types in any case, as everywhere else: "authoritative" →
// "Authoritative"; nullopt for what is not one.
std::optional<std::string> canonical_domain_type(std::string_view type);

// What a CONFIG batch says.
struct ReplicatedDomain {
    std::string domain_name;
    std::string domain_type;  // Authoritative, InternalRelay, ExternalRelay
    bool default_domain = false;
};
struct ReplicatedConfig {
    std::string site;
    std::vector<std::string> hubs;  // host or host:port, the inbound connector's smart hosts
    std::vector<ReplicatedDomain> domains;
    // The administrator said the site has no accepted domain (edgesync --accepted-domain
    // none): the batch carries `DOMAINS none`, and the edge removes its domains.
    bool no_domains = false;
};
// What a RECIPIENTS batch says.
struct ReplicatedRecipients {
    std::vector<std::string> added, removed;  // raw kHashBytes-byte hashes
};

// Reads a batch's record lines as they arrive, then checks its END line. Memory is
// bounded by the announced count (itself bounded).
class BatchReader {
public:
    explicit BatchReader(BatchStart start);
    // A record line (without its LF). An error ends the batch: nothing of it applies.
    std::optional<std::string> add_record(std::string_view line);
    // The END line: the count and the digest must match.
    std::optional<std::string> finish(std::string_view end_line);
    bool complete() const { return seen_ == start_.count; }
    const BatchStart& start() const { return start_; }
    const ReplicatedConfig& config() const { return config_; }
    const ReplicatedRecipients& recipients() const { return recipients_; }

private:
    BatchStart start_;
    std::size_t seen_ = 0;
    std::unique_ptr<evp_md_ctx_st, void (*)(evp_md_ctx_st*)> digest_;  // SHA-256 over the records
    ReplicatedConfig config_;
    ReplicatedRecipients recipients_;
};

// The agent's side: a whole batch as text, END line included.
std::string write_config_batch(const ReplicatedConfig& config);
std::string write_recipient_batch(BatchMode mode, std::uint64_t base_version, const ReplicatedRecipients& r);

std::string to_hex(std::string_view bytes);
std::string sha256_hex(std::string_view bytes);  // lower-case hex
std::optional<std::string> from_hex(std::string_view hex);  // nullopt: odd length or not hex

}  // namespace edge::edgesync
