// DKIM's pure core (RFC 6376): tag lists, the DKIM-Signature field and key record,
// header and body canonicalisation and the two hashes, over a message held as chunks
// of CRLF text. No I/O and no keys: verification (dkim_verify.*) and signing
// (dkim_sign.*) build on it; the `dkim` fuzz target feeds it directly.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::auth {

// One tag=value of a tag list (RFC 6376 §3.2). `value` has its surrounding FWS
// trimmed; [value_begin, value_end) is the raw span from after '=' to before the next
// ';' (what §3.7 empties for b=). Offsets are into the text given to parse_tag_list.
struct DkimTag {
    std::string_view name;
    std::string_view value;
    std::size_t value_begin = 0;
    std::size_t value_end = 0;
};

struct DkimTagList {
    std::vector<DkimTag> tags;
    std::string error;  // empty: well formed
    const DkimTag* find(std::string_view name) const;
};

// RFC 6376 §3.2: tag names ALPHA *(ALPHA / DIGIT / "_"), values VALCHAR with FWS
// between; a repeated tag is an error. Empty tag-specs (";;", a trailing ';') are
// tolerated. At most `max_tags` tags (hostile input: bounded work).
DkimTagList parse_tag_list(std::string_view text, std::size_t max_tags = 64);

// Base64 with FWS ignored (RFC 6376 §2.4 values of b=, bh=, p=); nullopt when it is
// not base64.
std::optional<std::string> dkim_base64_decode(std::string_view text);
std::string dkim_base64_encode(std::string_view bytes);

enum class DkimAlgorithm { RsaSha256, RsaSha1, Ed25519Sha256, Unknown };
enum class DkimCanonicalization { Simple, Relaxed };

std::string_view to_string(DkimAlgorithm a);  // "rsa-sha256", "rsa-sha1", "ed25519-sha256"
std::string_view to_string(DkimCanonicalization c);  // "simple", "relaxed"

// One DKIM-Signature header field, parsed (find_signatures). When `error` is not
// empty the signature is a PermError and the other members hold what could be read.
struct DkimSignature {
    std::string field;  // the whole field as received, name to value, without its CRLF
    std::string error;
    // A placeholder, not a signature: the message had `not_checked` more DKIM-Signature
    // fields past find_signatures' limit, which were not parsed.
    std::size_t not_checked = 0;

    std::string d, s, i;  // i: the agent or user identifier, "@d" when absent
    std::string a;        // as written
    DkimAlgorithm algorithm = DkimAlgorithm::Unknown;
    DkimCanonicalization header_canon = DkimCanonicalization::Simple;
    DkimCanonicalization body_canon = DkimCanonicalization::Simple;
    std::vector<std::string> h;  // lower case, in the order given
    std::string b, bh;           // decoded
    std::string b_text;          // b= as written, FWS removed (RFC 6008 header.b)
    std::optional<std::uint64_t> l;
    std::optional<std::int64_t> t, x;
};

// Every DKIM-Signature field of the message, top down, parsed; at most
// `max_signatures` of them — the rest cost a header scan only and are summed up in one
// last entry with `not_checked` set.
std::vector<DkimSignature> find_signatures(const std::vector<std::string>& message_chunks, std::size_t max_signatures);

// A DKIM key record (RFC 6376 §3.6.1) read from its TXT text.
struct DkimKeyRecord {
    std::string error;  // not empty: the record is unusable (a PermError)
    std::string k = "rsa";
    std::string p;  // decoded; empty: the key is revoked
    std::vector<std::string> h;  // acceptable hashes; empty: any
    std::vector<std::string> s;  // service types; empty: "*"
    bool testing = false;        // t=y
    bool strict_identity = false;  // t=s: i= must be d= exactly, not a subdomain
};
DkimKeyRecord parse_key_record(std::string_view txt);

// Header canonicalisation of one field (RFC 6376 §3.4.1, §3.4.2). `field` is the raw
// field with its CRLF; relaxed unfolds, lower-cases the name, squeezes WSP. The result
// ends in CRLF (simple: as given).
std::string canonicalize_header(std::string_view field, DkimCanonicalization c);

// Body canonicalisation (§3.4.3, §3.4.4) as a stream: feed() the body in any pieces,
// then finish(). What comes out goes to `sink` in order (a few KiB at a time).
class DkimBodyCanonicalizer {
public:
    using Sink = void (*)(void* ctx, std::string_view canonical);
    DkimBodyCanonicalizer(DkimCanonicalization c, Sink sink, void* ctx) : canon_(c), sink_(sink), ctx_(ctx) {}
    void feed(std::string_view piece);
    void finish();

private:
    void content(char c);
    void end_of_line();
    void put(std::string_view s);
    void flush();

    DkimCanonicalization canon_;
    Sink sink_;
    void* ctx_;
    std::uint64_t pending_empty_lines_ = 0;  // held back: trailing empty lines are dropped
    bool pending_cr_ = false;
    bool pending_wsp_ = false;  // relaxed: a run of WSP inside a line, written as one SP
    bool line_has_content_ = false;
    bool wrote_anything_ = false;
    std::size_t used_ = 0;
    char buf_[4096];
};

// The message's header fields as raw text (with CRLF), top down, and the lower-cased
// names; the split is shared by verification and signing.
struct DkimHeader {
    struct Span {
        std::size_t begin = 0, size = 0;
    };
    std::string text;          // the header section
    std::vector<Span> spans;   // each field's place in text, its CRLF included
    std::vector<std::string> names;  // lower case, one per field
    std::size_t body_chunk = 0;      // where the body starts
    std::size_t body_offset = 0;
    std::string_view field(std::size_t k) const { return std::string_view(text).substr(spans[k].begin, spans[k].size); }
};
DkimHeader split_header(const std::vector<std::string>& message_chunks);

// The body hash: SHA-256 (or SHA-1 for rsa-sha1) of the canonical body, its first `l`
// octets when l= is given.
struct DkimBodyHash {
    std::string digest;
    std::uint64_t canonical_length = 0;  // the whole canonical body
    bool shorter_than_l = false;         // the canonical body has fewer than l= octets
};
DkimBodyHash dkim_body_hash(const std::vector<std::string>& message_chunks, DkimCanonicalization c,
                            std::optional<std::uint64_t> l, DkimAlgorithm a);
// The same with the header already split (split_header of the same chunks).
DkimBodyHash dkim_body_hash(const DkimHeader& header, const std::vector<std::string>& message_chunks,
                            DkimCanonicalization c, std::optional<std::uint64_t> l, DkimAlgorithm a);

// What the signature's header hash covers (RFC 6376 §3.7, §5.4.2): the fields named by
// `h`, each taken bottom-up (a name listed more often than present contributes
// nothing for the extra entries: oversigning), canonicalised, then `signature_field`
// with its b= value emptied and without a trailing CRLF.
std::string dkim_header_hash_input(const DkimHeader& header, const std::vector<std::string>& h,
                                   std::string_view signature_field, DkimCanonicalization c);


}  // namespace edge::auth
