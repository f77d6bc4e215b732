// The SMTP client session (transport/smtp/client_session.*) fed whatever the remote
// server answers: random replies through the real ReplyReader, TLS succeeding or not,
// one or two messages. Every recipient ends with exactly one outcome, and nothing we
// send is split by a stray line end.
#include "client_session.hpp"
#include "fuzz_target.hpp"

#include <map>
#include <string>
#include <vector>

using namespace edge::smtp;

namespace {
constexpr const char* kName = "smtp_client";

void check_actions(const std::vector<ClientAction>& actions, bool& closed, bool& want_tls) {
    for (const auto& a : actions) {
        if (a.kind == ClientAction::Kind::Close) closed = true;
        if (a.kind == ClientAction::Kind::StartTls) want_tls = true;
        if (a.kind != ClientAction::Kind::Send) continue;
        FUZZ_CHECK_AT(kName, !closed);
        // Commands and DATA content go out with CRLF line ends only.
        const std::string& b = a.bytes;
        for (std::size_t i = 0; i < b.size(); ++i) {
            if (b[i] == '\r') FUZZ_CHECK_AT(kName, i + 1 < b.size() && b[i + 1] == '\n');
            if (b[i] == '\n') FUZZ_CHECK_AT(kName, i > 0 && b[i - 1] == '\r');
        }
        FUZZ_CHECK_AT(kName, b.empty() || b.size() >= 2);
    }
}
}  // namespace

FUZZ_TARGET(smtp_client) {
    edge::fuzz::Tape tape(data, size);
    ClientPolicy policy;
    policy.fqdn = "edge.example.test";
    policy.remote_host = "mx1.example.test";
    std::uint8_t f = tape.byte();
    policy.force_helo = (f & 1) != 0;
    policy.ignore_starttls = (f & 2) != 0;
    policy.require_tls = (f & 4) != 0;
    policy.tls_possible = (f & 8) != 0;
    if ((f & 16) != 0) {
        policy.auth_user = "user";
        policy.auth_password = "secret";
        policy.auth_require_tls = (f & 32) != 0;
    }
    std::uint8_t m = tape.byte();
    std::string content = "Subject: x\r\n\r\nline\r\n.dot\r\n\xc3\xa9\r\n";
    if ((m & 1) != 0) content.append(100, 'x');
    OutboundMessage msg;
    msg.sender = (m & 2) != 0 ? "" : "sender@example.test";
    std::size_t n = 1 + (m >> 2) % 6;
    for (std::size_t i = 0; i < n; ++i)
        msg.recipients.push_back({i, "rcpt" + std::to_string(i) + ((m & 64) != 0 && i == 1 ? "@\xc3\xa9xample.test" : "@example.test"),
                                  i == 0 ? "rfc822;rcpt0+x@example.test" : "", static_cast<std::uint8_t>(i % 16)});
    msg.content = content;
    msg.ret = static_cast<OutboundMessage::Ret>(m % 3);
    msg.envid = (m & 128) != 0 ? "id=+ 1" : "";
    std::uint8_t messages_to_send = 1 + tape.byte() % 2;
    std::string splits(tape.take(16));
    std::string_view stream = tape.rest();

    ClientSession c(policy);
    ClientState last = c.state();
    c.on_transition = [&last](ClientState from, ClientState to, std::string_view) {
        FUZZ_CHECK_AT(kName, from == last);
        last = to;
    };
    ReplyReader reader;
    bool closed = false, want_tls = false;
    std::size_t sent = 0, results = 0, at = 0, split_at = 0;
    while (!closed && at < stream.size()) {
        std::size_t piece = stream.size() - at;
        if (split_at < splits.size()) piece = std::min<std::size_t>(piece, 1 + static_cast<unsigned char>(splits[split_at++]) % 200);
        reader.feed(stream.substr(at, piece));
        at += piece;
        if (reader.failed()) {
            c.on_connection_lost("reader: " + reader.error());
            break;
        }
        while (!closed) {
            auto r = reader.next();
            if (!r) break;
            check_actions(c.on_reply(*r), closed, want_tls);
            if (want_tls) {
                want_tls = false;
                check_actions(c.on_tls_established(), closed, want_tls);
            }
            if (c.ready_for_message() && sent < messages_to_send) {
                ++sent;
                check_actions(c.begin_message(msg), closed, want_tls);
            }
            while (auto res = c.take_message_result()) {
                ++results;
                // Every recipient exactly once, by index.
                FUZZ_CHECK(res->size() == msg.recipients.size());
                for (std::size_t i = 0; i < res->size(); ++i) {
                    FUZZ_CHECK((*res)[i].index == i);
                    FUZZ_CHECK(!(*res)[i].status.empty());
                }
            }
        }
    }
    if (!closed) c.on_connection_lost("peer closed");
    while (auto res = c.take_message_result()) {
        ++results;
        FUZZ_CHECK(res->size() == msg.recipients.size());
    }
    // A message begun always ends with a result (Deferred when the connection broke).
    FUZZ_CHECK(results == sent);
    return 0;
}
