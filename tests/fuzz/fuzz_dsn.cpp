// The DSN builder (transport/send/dsn.*): an original message and envelope that a
// stranger wrote (sender, ORCPT, ENVID, Subject, Message-ID, the body) and the replies
// a remote server gave, turned into an NDR. The guarantees of dsn.hpp are checked.
#include "dsn.hpp"
#include "fuzz_target.hpp"

#include <string>
#include <vector>

using namespace edge;

namespace {
std::string field(fuzz::Tape& t) { return std::string(t.take(t.byte() % 64)); }
}  // namespace

FUZZ_TARGET(dsn) {
    fuzz::Tape tape(data, size);
    queue::Envelope env;
    env.sender = field(tape);
    env.dsn_ret = static_cast<queue::DsnRet>(tape.byte() % 3);
    env.dsn_envid = field(tape);
    std::size_t n = 1 + tape.byte() % 4;
    for (std::size_t i = 0; i < n; ++i) {
        queue::Recipient r;
        r.address = field(tape);
        r.orcpt = field(tape);
        r.notify = static_cast<std::uint8_t>(tape.byte() % 16);
        env.recipients.push_back(std::move(r));
    }
    env.arrival_time = queue::Timestamp(std::chrono::microseconds(static_cast<std::int64_t>(tape.u16()) * 1'000'000'000));
    env.internet_message_id = field(tape);
    env.subject = field(tape);
    auto kind = static_cast<send::DsnKind>(tape.byte() % 3);
    std::vector<send::DsnRecipient> report;
    std::size_t m = 1 + tape.byte() % 4;
    for (std::size_t i = 0; i < m; ++i)
        report.push_back({tape.byte() % n, field(tape), field(tape), field(tape)});
    std::string copy_to = tape.flag() ? "postmaster@example.test" : "";
    // ExternalPostmasterAddress with the copy address (no new tape byte: the corpus keeps its meaning).
    std::string from = copy_to.empty() ? "" : "ndr-desk@example.test";
    std::string original(tape.rest());

    send::DsnRequest req{kind, env, original, report, "edge.example.test",
                         queue::Timestamp(std::chrono::microseconds(1'800'000'000'000'000)), 1024, "", copy_to, from};
    auto dsn = send::build_dsn(req);
    if (!dsn) return 0;
    FUZZ_CHECK(!env.sender.empty());
    std::string msg;
    for (const auto& c : dsn->body.chunks) msg += c;
    FUZZ_CHECK(dsn->envelope.sender.empty());  // RFC 3464 §2: from the null sender
    FUZZ_CHECK(!dsn->envelope.recipients.empty());
    // Every line ends in CRLF and is at most 998 octets (RFC 5322 §2.1.1).
    std::size_t line_start = 0;
    for (std::size_t i = 0; i < msg.size(); ++i) {
        if (msg[i] == '\r') FUZZ_CHECK(i + 1 < msg.size() && msg[i + 1] == '\n');
        if (msg[i] == '\n') {
            FUZZ_CHECK(i > 0 && msg[i - 1] == '\r');
            FUZZ_CHECK(i - 1 - line_start <= 998);
            line_start = i + 1;
        }
    }
    FUZZ_CHECK(line_start == msg.size());
    // The MIME boundary: three part openers and one closer, nowhere else (RFC 2046
    // §5.1.1), so nothing the original holds can end or add a part.
    auto b = msg.find("\r\nContent-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"");
    FUZZ_CHECK(b != std::string::npos);
    b = msg.find("boundary=\"", b);
    FUZZ_CHECK(b != std::string::npos);
    auto e = msg.find('"', b + 10);
    std::string boundary = msg.substr(b + 10, e - b - 10);
    std::size_t openers = 0, closers = 0, third = std::string::npos;
    for (std::size_t at = msg.find("\r\n--" + boundary); at != std::string::npos; at = msg.find("\r\n--" + boundary, at + 1)) {
        if (msg.compare(at + 4 + boundary.size(), 2, "--") == 0) ++closers;
        else if (++openers == 3) third = at;
    }
    if (std::getenv("EDGE_FUZZ_VERBOSE") != nullptr) std::fprintf(stderr, "%s", msg.c_str());
    FUZZ_CHECK(openers == 3 && closers == 1);
    // The header and parts 1 and 2 hold no control octets: what peers wrote was made
    // printable (UTF-8 may stay where RFC 6532/6533 allow it, an SMTPUTF8 address).
    for (std::size_t i = 0; i < third; ++i) {
        auto c = static_cast<unsigned char>(msg[i]);
        FUZZ_CHECK(c == '\r' || c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7f));
    }
    return 0;
}
