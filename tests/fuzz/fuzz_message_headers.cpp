// The header scanner (transport/receive/message_headers.*): the hop count, Message-ID
// and Subject of a message a client sent, and our Received: header around the HELO
// name it gave.
#include "command.hpp"
#include "fuzz_target.hpp"
#include "message_headers.hpp"

#include <strings.h>

#include <string>
#include <vector>

using namespace edge::server;

namespace {
// RFC 5322 §3.6.7 and §4.5.2 (obs-optional): a field name ends at the colon, and
// white space before the colon is obsolete syntax a downstream parser still reads.
// Counts Received fields as such a parser would; nullopt when the header does not fit
// in `limit` (the scanner then sees only part of it).
std::optional<std::uint32_t> reference_received_count(std::string_view msg, std::uint64_t limit) {
    std::uint32_t n = 0;
    std::size_t at = 0;
    while (at < msg.size()) {
        auto lf = msg.find('\n', at);
        if (lf == std::string_view::npos) lf = msg.size();
        if (lf + 1 > limit) return std::nullopt;
        std::string_view line = msg.substr(at, lf - at);
        at = lf + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) break;
        if (line.front() == ' ' || line.front() == '\t') continue;
        auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        std::string_view name = line.substr(0, colon);
        while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
        if (name.size() == 8 && ::strncasecmp(name.data(), "Received", 8) == 0) ++n;
    }
    return n;
}

bool same(const HeaderSummary& a, const HeaderSummary& b) {
    return a.received_count == b.received_count && a.message_id == b.message_id && a.subject == b.subject &&
           a.complete == b.complete && a.from == b.from && a.fields == b.fields;
}
}  // namespace

FUZZ_TARGET(message_headers) {
    edge::fuzz::Tape tape(data, size);
    std::uint64_t limit = 1 + tape.u16() % 2048;
    std::string splits(tape.take(tape.byte() % 16));
    std::string helo(tape.line());
    std::string_view msg = tape.rest();

    HeaderSummary whole = scan_headers({std::string(msg)}, limit, true);
    // The message as the DATA reader or BDAT left it: in chunks of any size.
    std::vector<std::string> chunks;
    std::size_t at = 0, k = 0;
    while (at < msg.size()) {
        std::size_t n = k < splits.size() ? 1 + static_cast<unsigned char>(splits[k++]) % 97 : msg.size() - at;
        n = std::min(n, msg.size() - at);
        chunks.emplace_back(msg.substr(at, n));
        at += n;
    }
    FUZZ_CHECK(same(whole, scan_headers(chunks, limit, true)));
    // Without keep_fields the same scan, less the copies (what every message without
    // end-of-message agents gets).
    HeaderSummary lean = scan_headers(chunks, limit);
    FUZZ_CHECK(lean.fields.empty() && lean.received_count == whole.received_count && lean.complete == whole.complete);
    if (whole.message_id) FUZZ_CHECK(whole.message_id->size() <= limit);
    if (whole.subject) FUZZ_CHECK(whole.subject->size() <= limit);
    // MaxHopCount counts at least what the next hop will count (issue 13, weakness 8).
    // At least, not exactly: the scanner also unfolds first (RFC 5322 §2.2.3), so
    // "Received" + CRLF + " : x" counts for it and not for this line-by-line reading.
    // Both are readings a downstream parser may make; counting more only stops a loop
    // sooner, counting fewer would let one through.
    if (auto expected = reference_received_count(msg, limit)) FUZZ_CHECK(whole.received_count >= *expected);

    // Authentication-Results (issue 18): the spans lie in order inside the header, each
    // is a whole field (from a line start to just after an LF, or to the end), the same
    // however chunked; removing them leaves exactly the other bytes, and a second scan
    // of what is left finds none.
    HeaderSummary chunked = scan_headers(chunks, limit, true);
    FUZZ_CHECK(chunked.authentication_results.size() == whole.authentication_results.size());
    std::uint64_t previous_end = 0;
    std::string expected_left;
    for (std::size_t i = 0; i < whole.authentication_results.size(); ++i) {
        const FieldSpan& f = whole.authentication_results[i];
        FUZZ_CHECK(f.offset == chunked.authentication_results[i].offset && f.size == chunked.authentication_results[i].size);
        FUZZ_CHECK(f.offset >= previous_end && f.offset + f.size <= msg.size() && f.size > 0);
        FUZZ_CHECK(f.offset == 0 || msg[f.offset - 1] == '\n');
        FUZZ_CHECK(f.offset + f.size == msg.size() || msg[f.offset + f.size - 1] == '\n');
        expected_left.append(msg.substr(previous_end, f.offset - previous_end));
        previous_end = f.offset + f.size;
    }
    expected_left.append(msg.substr(previous_end));
    std::vector<std::string> left = chunks;
    remove_fields(left, whole.authentication_results);
    std::string joined;
    for (const auto& c : left) joined += c;
    FUZZ_CHECK(joined == expected_left);
    if (whole.complete) FUZZ_CHECK(scan_headers({joined}, limit, false).authentication_results.empty());

    // Our Received: header around a HELO name the command parser accepted.
    auto parsed = edge::smtp::parse_command("EHLO " + helo);
    if (!parsed.error) {
        ReceivedFields f;
        f.helo = parsed.command.argument;
        f.client_ip = "192.0.2.1";
        f.by_fqdn = "mx.example.test";
        f.local_ip = "192.0.2.2";
        f.id = "08DE1234567890AB";
        f.tls = (size & 1) != 0;
        f.tls_version = "TLSv1.3";
        f.tls_cipher = "TLS_AES_256_GCM_SHA384";
        std::string h = received_header(f);
        FUZZ_CHECK(h.size() >= 2 && h.compare(h.size() - 2, 2, "\r\n") == 0);
        for (std::size_t i = 0; i < h.size(); ++i) {
            if (h[i] == '\r') FUZZ_CHECK(i + 1 < h.size() && h[i + 1] == '\n');
            if (h[i] == '\n') FUZZ_CHECK(i > 0 && h[i - 1] == '\r' && (i + 1 == h.size() || h[i + 1] == ' ' || h[i + 1] == '\t'));
        }
        // Read back, our own header counts as one hop.
        FUZZ_CHECK(scan_headers({h + "\r\n"}, h.size() + 2).received_count == 1);
    }
    return 0;
}
