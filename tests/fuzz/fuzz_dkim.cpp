// DKIM's pure core and verification (transport/auth/dkim_core.*, dkim_verify.*): tag
// lists of signatures and key records, canonicalisation and both hashes over a hostile
// message, and verification against a hostile key record.
// Tape: byte 0 the chunk size (0: one chunk), byte 1 the signature limit; the first
// line is a key record (also read as a bare tag list), the rest is the message.
#include "dkim_core.hpp"
#include "dkim_verify.hpp"
#include "fuzz_target.hpp"

using namespace edge::auth;

namespace {

std::vector<std::string> chunked(std::string_view m, std::size_t size) {
    if (size == 0) return {std::string(m)};
    std::vector<std::string> out;
    for (std::size_t k = 0; k < m.size(); k += size) out.emplace_back(m.substr(k, size));
    return out;
}

std::string canonical_body(const std::vector<std::string>& chunks, DkimCanonicalization c) {
    auto header = split_header(chunks);
    std::string out;
    DkimBodyCanonicalizer canon(c, [](void* ctx, std::string_view s) { *static_cast<std::string*>(ctx) += s; }, &out);
    for (std::size_t k = header.body_chunk; k < chunks.size(); ++k)
        canon.feed(std::string_view(chunks[k]).substr(k == header.body_chunk ? header.body_offset : 0));
    canon.finish();
    return out;
}

}  // namespace

FUZZ_TARGET(dkim) {
    edge::fuzz::Tape tape(data, size);
    const std::size_t chunk = tape.byte() % 17;
    const std::size_t max_signatures = tape.byte() % 5;
    const std::string record(tape.line());
    const std::string message(tape.rest());

    // Tag lists: values are trimmed spans of the text that hold no ';'.
    auto tags = parse_tag_list(record);
    for (const auto& t : tags.tags) {
        FUZZ_CHECK(t.value_begin <= t.value_end && t.value_end <= record.size());
        FUZZ_CHECK(t.value.find(';') == std::string_view::npos);
        FUZZ_CHECK(t.name.size() > 0);
    }
    auto key = parse_key_record(record);
    FUZZ_CHECK(key.error.empty() || key.p.empty());
    if (auto bytes = dkim_base64_decode(record)) FUZZ_CHECK(dkim_base64_decode(dkim_base64_encode(*bytes)) == *bytes);

    // The same message however chunked: the same header split and canonical bodies.
    const auto whole = chunked(message, 0);
    const auto pieces = chunked(message, chunk);
    const auto h1 = split_header(whole);
    const auto h2 = split_header(pieces);
    FUZZ_CHECK(h1.text == h2.text && h1.names == h2.names);
    FUZZ_CHECK(h1.text.size() <= message.size());
    for (auto c : {DkimCanonicalization::Simple, DkimCanonicalization::Relaxed}) {
        auto body = canonical_body(pieces, c);
        FUZZ_CHECK(body == canonical_body(whole, c));
        // RFC 6376 §3.4.3/3.4.4: a canonical body ends in one CRLF and no empty line
        // (relaxed: or is empty); relaxed leaves no WSP run, no WSP before CRLF, no HTAB.
        if (c == DkimCanonicalization::Simple || !body.empty()) {
            FUZZ_CHECK(body.ends_with("\r\n"));
            FUZZ_CHECK(body == "\r\n" || !body.ends_with("\r\n\r\n"));
        }
        if (c == DkimCanonicalization::Relaxed) {
            FUZZ_CHECK(body.find('\t') == std::string::npos);
            FUZZ_CHECK(body.find("  ") == std::string::npos);
            FUZZ_CHECK(body.find(" \r\n") == std::string::npos);
        }
        auto l = body.size() / 2;
        auto hashed = dkim_body_hash(pieces, c, l, DkimAlgorithm::RsaSha256);
        FUZZ_CHECK(hashed.canonical_length == body.size() && !hashed.shorter_than_l);
    }
    for (std::size_t k = 0; k < h1.spans.size(); ++k) {
        auto relaxed = canonicalize_header(h1.field(k), DkimCanonicalization::Relaxed);
        // One line: unfolded, lower-case name, CRLF only at the end.
        FUZZ_CHECK(relaxed.ends_with("\r\n"));
        FUZZ_CHECK(relaxed.find("\r\n") == relaxed.size() - 2);
        FUZZ_CHECK(relaxed.substr(0, relaxed.find(':')) == h1.names[k]);
    }

    // Signatures: bounded by the limit plus the one "not checked" entry; each verdict
    // says something and only a parsed signature can pass.
    auto sigs = find_signatures(pieces, max_signatures);
    FUZZ_CHECK(sigs.size() <= max_signatures + 1);
    for (const auto& sig : sigs) {
        auto v = verify_signature(sig, {KeyLookupStatus::Ok, {record}, {}}, pieces, std::chrono::system_clock::time_point{});
        FUZZ_CHECK(!v.reason.empty());
        FUZZ_CHECK(v.result != Result::Pass || (sig.error.empty() && sig.not_checked == 0));
        if (sig.error.empty() && sig.not_checked == 0) (void)dkim_header_hash_input(h2, sig.h, sig.field, sig.header_canon);
    }
    return 0;
}
