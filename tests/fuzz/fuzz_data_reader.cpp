// The DATA reader (transport/smtp/data_reader.*): the bytes after 354, in whatever
// pieces the network delivers them.
#include "client_session.hpp"
#include "data_reader.hpp"
#include "fuzz_target.hpp"

#include <string>
#include <vector>

using namespace edge::smtp;

namespace {
struct Outcome {
    bool done = false;
    std::size_t consumed = 0;
    std::optional<ReplyId> refusal;
    std::string body;
};

Outcome read_all(DataReader::Limits limits, std::string_view stream, edge::fuzz::Tape* splits) {
    DataReader r(limits);
    Outcome o;
    std::size_t held = 0;
    while (!r.done() && o.consumed < stream.size()) {
        std::size_t n = stream.size() - o.consumed;
        if (splits != nullptr && !splits->empty()) n = std::min<std::size_t>(n, 1 + splits->byte() % 64);
        std::size_t took = r.feed(stream.substr(o.consumed, n));
        FUZZ_CHECK_AT("data_reader", took <= n);
        FUZZ_CHECK_AT("data_reader", took == n || r.done());
        o.consumed += took;
        held = r.size();
    }
    (void)held;
    o.done = r.done();
    if (o.done) {
        o.refusal = r.refusal();
        for (auto& c : r.take_body()) o.body += c;
    }
    return o;
}
}  // namespace

FUZZ_TARGET(data_reader) {
    edge::fuzz::Tape tape(data, size);
    DataReader::Limits limits;
    limits.max_message_size = 1 + tape.u16() % 4096;
    limits.max_header_size = 1 + tape.byte() % 1024;
    std::size_t split_len = tape.byte() % 32;
    std::string splits(tape.take(split_len));
    std::string_view stream = tape.rest();

    Outcome whole = read_all(limits, stream, nullptr);
    edge::fuzz::Tape split_tape(reinterpret_cast<const std::uint8_t*>(splits.data()), splits.size());
    Outcome pieces = read_all(limits, stream, &split_tape);
    // How the bytes were split on the network changes nothing.
    FUZZ_CHECK(whole.done == pieces.done && whole.consumed == pieces.consumed);
    FUZZ_CHECK(whole.refusal == pieces.refusal && whole.body == pieces.body);
    if (!whole.done) return 0;
    // The end of data is CRLF.CRLF and nothing else (RFC 5321 §4.1.1.4).
    FUZZ_CHECK(whole.consumed >= 3 && stream.substr(whole.consumed - 3, 3) == ".\r\n");
    FUZZ_CHECK(whole.consumed == 3 || (whole.consumed >= 5 && stream.substr(whole.consumed - 5, 2) == "\r\n"));
    if (whole.refusal) {
        FUZZ_CHECK(whole.body.empty());
        return 0;
    }
    // Memory and storage are bounded by MaxMessageSize.
    FUZZ_CHECK(whole.body.size() <= limits.max_message_size);
    // An accepted body has CRLF line ends only: a bare CR or LF would be read as a line
    // end by some downstream server (SMTP smuggling, CVE-2023-51764).
    for (std::size_t i = 0; i < whole.body.size(); ++i) {
        if (whole.body[i] == '\r') FUZZ_CHECK(i + 1 < whole.body.size() && whole.body[i + 1] == '\n');
        if (whole.body[i] == '\n') FUZZ_CHECK(i > 0 && whole.body[i - 1] == '\r');
    }
    // Relayed, the body comes out of the next server's reader as it went in, and its
    // end is the one we wrote: no end of data smuggled inside.
    std::string wire = encode_for_data(whole.body);
    DataReader::Limits big{wire.size() + 16, wire.size() + 16};
    Outcome relayed = read_all(big, wire, nullptr);
    FUZZ_CHECK(relayed.done && relayed.consumed == wire.size() && !relayed.refusal);
    std::string expected = whole.body;
    if (!expected.empty() && (expected.size() < 2 || expected.compare(expected.size() - 2, 2, "\r\n") != 0)) expected += "\r\n";
    FUZZ_CHECK(relayed.body == expected);
    return 0;
}
