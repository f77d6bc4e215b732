// DKIM verification (RFC 6376 §6, RFC 8301, RFC 8463), the pure half: a signature found
// by find_signatures, its key record fetched by the caller, the message → a verdict.
// No I/O here; dkim_dns.* fetches the keys.
#pragma once

#include "auth_result.hpp"
#include "dkim_core.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace edge::auth {

// What the caller's TXT lookup of <s>._domainkey.<d> gave.
enum class KeyLookupStatus { Ok, NxDomain, NoData, TempError };
struct KeyLookup {
    KeyLookupStatus status = KeyLookupStatus::TempError;
    std::vector<std::string> texts;  // one string per TXT RR, character-strings joined
    std::string error;               // what the resolver said, for the reason
};

// The name to ask for a signature's key (RFC 6376 §3.6.2.1).
std::string dkim_key_name(const DkimSignature& sig);

struct DkimVerdict {
    Result result = Result::Neutral;
    std::string d, s, i, a;
    std::string header_b;  // RFC 6008: the first 8 characters of b=
    std::string reason;    // for the agent log and Authentication-Results' comment
    // l= left part of the body unsigned: those octets are not vouched for.
    bool unsigned_content = false;
};

// RFC 8301 §3.2: RSA keys below this size are never accepted.
inline constexpr int kDkimMinRsaBits = 1024;
// Larger keys cost a hostile sender's DNS our CPU for nothing.
inline constexpr int kDkimMaxRsaBits = 8192;

// Decisions, in order: a signature that did not parse or that find_signatures did not
// check → PermError / Neutral; rsa-sha1 → Policy (RFC 8301 §3.1); x= in the past →
// Fail ("signature expired": RFC 6376 §6.1.1 lets a verifier treat it as a PERMFAIL,
// and like dkimpy we report it as a failed signature, not a broken one); key NXDOMAIN
// or no TXT → PermError ("no key for signature", §6.1.2); DNS failure → TempError; a
// revoked key (p= empty), a key record that does not parse, or whose k=, h=, s=, t=s
// forbid this signature → PermError; an RSA key under 1024 bits → Policy (RFC 8301,
// checked before any cryptography); body hash or signature mismatch → Fail.
DkimVerdict verify_signature(const DkimSignature& sig, const KeyLookup& key, const std::vector<std::string>& message_chunks,
                             std::chrono::system_clock::time_point now);

}  // namespace edge::auth
