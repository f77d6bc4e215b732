// The session state machine, driven as a dialog: -> what the client sends,
// <- what the server answers. No sockets: the test plays the driver's part.
#include "session.hpp"

#include <catch2/catch.hpp>

using namespace edge::smtp;

namespace {

// The accepted domain of these tests is contoso.com; "nobody@contoso.com" does not exist.
SessionPolicy test_policy(bool* accepting = nullptr) {
    SessionPolicy p;
    p.check_recipient = [](const Mailbox& m, std::uint32_t perms) {
        if (m.domain != "contoso.com") {
            return (perms & permission::AcceptAnyRecipient) ? RecipientVerdict::Accept : RecipientVerdict::RelayDenied;
        }
        return m.local == "nobody" ? RecipientVerdict::UnknownUser : RecipientVerdict::Accept;
    };
    p.accepting_mail = [accepting](std::uint32_t) { return accepting == nullptr || *accepting; };
    return p;
}

SessionSettings edge_settings() {
    SessionSettings s;
    s.fqdn = "edge.contoso.com";
    return s;
}

// Sends one line and returns the replies as one string, lines joined by '\n'.
std::string send(Session& s, std::string_view line, Step* step = nullptr) {
    Step st = s.on_command(line);
    std::string out;
    for (const auto& r : st.replies) out += (out.empty() ? "" : "\n") + r;
    if (step != nullptr) *step = st;
    return out;
}

std::string joined(const std::vector<std::string>& chunks) {
    std::string s;
    for (const auto& c : chunks) s += c;
    return s;
}

}  // namespace

TEST_CASE("a whole transaction: EHLO, MAIL, RCPT, DATA, the commit, QUIT", "[smtp][session]") {
    Session s(edge_settings(), test_policy(), "192.0.2.10");
    CHECK(s.greet().replies == std::vector<std::string>{"220 edge.contoso.com edge-transport ESMTP service ready"});
    CHECK(send(s, "EHLO client.example.org") ==
          "250-edge.contoso.com Hello [192.0.2.10]\n250-SIZE 10485760\n250-PIPELINING\n250-DSN\n"
          "250-ENHANCEDSTATUSCODES\n250-8BITMIME\n250-CHUNKING\n250 SMTPUTF8");
    CHECK(s.helo_domain() == "client.example.org");
    CHECK(send(s, "MAIL FROM:<alice@example.org> SIZE=300") == "250 2.1.0 Sender OK");
    CHECK(send(s, "RCPT TO:<bob@contoso.com> NOTIFY=FAILURE") == "250 2.1.5 Recipient OK");
    Step st;
    CHECK(send(s, "DATA", &st) == "354 Start mail input; end with <CRLF>.<CRLF>");
    REQUIRE(st.next == Step::Next::ReadData);

    DataReader reader({});
    reader.feed("Subject: hello\r\n\r\nHi Bob\r\n.\r\n");
    Step commit = s.on_data(reader);
    CHECK(commit.replies.empty());  // nothing is said before the commit is durable
    REQUIRE(commit.next == Step::Next::Commit);
    CHECK(s.transaction().sender.str() == "alice@example.org");
    REQUIRE(s.transaction().recipients.size() == 1);
    CHECK(s.transaction().recipients[0].notify == notify_bits::Failure);
    CHECK(joined(s.transaction().message.buffers()) == "Subject: hello\r\n\r\nHi Bob\r\n");

    Step done = s.on_committed("<42@edge.contoso.com>", false);
    CHECK(done.replies == std::vector<std::string>{"250 2.6.0 <42@edge.contoso.com> Queued mail for delivery"});
    CHECK(s.state() == SessionState::Greeted);
    CHECK(s.transaction().recipients.empty());
    Step quit;
    CHECK(send(s, "QUIT", &quit) == "221 2.0.0 Service closing transmission channel");
    CHECK(quit.next == Step::Next::Close);
}

TEST_CASE("commands out of order get a 503 that says what is missing", "[smtp][session]") {
    SessionSettings set = edge_settings();
    set.max_protocol_errors = 20;
    Session s(set, test_policy(), "192.0.2.10");
    s.greet();
    CHECK(send(s, "MAIL FROM:<a@example.org>") == "503 5.5.2 Send hello first");
    send(s, "EHLO x.example.org");
    CHECK(send(s, "RCPT TO:<bob@contoso.com>") == "503 5.5.2 Need mail command");
    CHECK(send(s, "DATA") == "503 5.5.2 Need mail command");
    send(s, "MAIL FROM:<a@example.org>");
    CHECK(send(s, "DATA") == "503 5.5.2 Need rcpt command");
    CHECK(send(s, "MAIL FROM:<a@example.org>") == "503 5.5.2 Sender already specified");
    CHECK(send(s, "STARTTLS") == "503 5.5.1 Bad sequence of commands");
    CHECK(send(s, "RSET") == "250 2.0.0 Resetting");
    CHECK(send(s, "MAIL FROM:<a@example.org>") == "250 2.1.0 Sender OK");
}

TEST_CASE("an anonymous client may send only to accepted domains, a partner may relay", "[smtp][session][relay]") {
    Session anon(edge_settings(), test_policy(), "198.51.100.7");
    anon.greet();
    send(anon, "EHLO spammer.example");
    send(anon, "MAIL FROM:<x@spammer.example>");
    Step st;
    CHECK(send(anon, "RCPT TO:<victim@elsewhere.example>", &st) == "550 5.7.1 Unable to relay");
    CHECK(st.tarpit);  // negative replies to anonymous sessions wait TarpitInterval
    CHECK(send(anon, "RCPT TO:<nobody@contoso.com>", &st) == "550 5.1.1 User unknown");
    CHECK(st.tarpit);
    CHECK(send(anon, "RCPT TO:<bob@contoso.com>", &st) == "250 2.1.5 Recipient OK");
    CHECK_FALSE(st.tarpit);
    CHECK(anon.transaction().recipients.size() == 1);

    SessionSettings partner = edge_settings();
    partner.permissions = permission::Submit | permission::AcceptAnyRecipient;
    Session p(partner, test_policy(), "10.0.0.5");
    p.greet();
    send(p, "EHLO hub.contoso.com");
    send(p, "MAIL FROM:<alice@contoso.com>");
    CHECK(send(p, "RCPT TO:<someone@elsewhere.example>", &st) == "250 2.1.5 Recipient OK");
}

TEST_CASE("MaxRecipientsPerMessage answers 452 4.5.3 and keeps the first ones", "[smtp][session][limits]") {
    SessionSettings set = edge_settings();
    set.max_recipients = 3;
    Session s(set, test_policy(), "192.0.2.10");
    s.greet();
    send(s, "EHLO x.example.org");
    send(s, "MAIL FROM:<a@example.org>");
    for (int i = 0; i < 3; ++i) CHECK(send(s, "RCPT TO:<u" + std::to_string(i) + "@contoso.com>") == "250 2.1.5 Recipient OK");
    CHECK(send(s, "RCPT TO:<u3@contoso.com>") == "452 4.5.3 Too many recipients");
    CHECK(s.transaction().recipients.size() == 3);
    Step st;
    send(s, "DATA", &st);
    CHECK(st.next == Step::Next::ReadData);  // the client delivers to the first three, retries the rest
}

TEST_CASE("a declared SIZE above MaxMessageSize is refused at MAIL", "[smtp][session][limits]") {
    SessionSettings set = edge_settings();
    set.max_message_size = 1000;
    Session s(set, test_policy(), "192.0.2.10");
    s.greet();
    CHECK(send(s, "EHLO x.example.org").find("250-SIZE 1000\n") != std::string::npos);
    CHECK(send(s, "MAIL FROM:<a@example.org> SIZE=1001") == "552 5.3.4 Message size exceeds fixed maximum message size");
    CHECK(send(s, "MAIL FROM:<a@example.org> SIZE=1000") == "250 2.1.0 Sender OK");
}

TEST_CASE("back pressure refuses MAIL with 452 4.3.1 and lets it through once it lifts", "[smtp][session][backpressure]") {
    bool accepting = false;
    Session s(edge_settings(), test_policy(&accepting), "192.0.2.10");
    s.greet();
    send(s, "EHLO x.example.org");
    Step st;
    CHECK(send(s, "MAIL FROM:<a@example.org>", &st) == "452 4.3.1 Insufficient system resources");
    CHECK_FALSE(st.tarpit);
    CHECK(s.protocol_errors() == 0);  // our trouble, not the client's
    accepting = true;
    CHECK(send(s, "MAIL FROM:<a@example.org>") == "250 2.1.0 Sender OK");
}

TEST_CASE("MaxProtocolErrors ends an abusive session with 421", "[smtp][session][limits]") {
    SessionSettings set = edge_settings();
    set.max_protocol_errors = 3;
    Session s(set, test_policy(), "192.0.2.10");
    s.greet();
    CHECK(send(s, "XYZZY") == "500 5.3.3 Unrecognized command");
    CHECK(send(s, "EHLO") == "501 5.5.4 Invalid domain name");
    Step st;
    CHECK(send(s, "MAIL FROM:<a@example.org>", &st) ==
          "503 5.5.2 Send hello first\n421 4.7.0 Too many errors on this connection, closing transmission channel");
    CHECK(st.next == Step::Next::Close);
    CHECK(s.state() == SessionState::Closed);
    CHECK(s.on_command("NOOP").replies.empty());
}

TEST_CASE("RequireTLS: nothing but EHLO, STARTTLS and the like before TLS, the session starts over after it", "[smtp][session][tls]") {
    SessionSettings set = edge_settings();
    set.require_tls = true;
    set.tls_available = true;
    Session s(set, test_policy(), "192.0.2.10");
    s.greet();
    CHECK(send(s, "EHLO x.example.org").find("250-STARTTLS") != std::string::npos);
    CHECK(send(s, "MAIL FROM:<a@example.org>") == "530 5.7.0 Must issue a STARTTLS command first");
    Step st;
    CHECK(send(s, "STARTTLS", &st) == "220 2.0.0 SMTP server ready");
    REQUIRE(st.next == Step::Next::StartTls);
    CHECK(s.state() == SessionState::TlsHandshake);
    s.on_tls_established();
    CHECK(s.tls_active());
    CHECK(s.helo_domain().empty());
    CHECK(send(s, "MAIL FROM:<a@example.org>") == "503 5.5.2 Send hello first");  // EHLO again first
    CHECK(send(s, "EHLO x.example.org").find("STARTTLS") == std::string::npos);
    CHECK(send(s, "MAIL FROM:<a@example.org>") == "250 2.1.0 Sender OK");
}

TEST_CASE("without a certificate STARTTLS is neither offered nor accepted", "[smtp][session][tls]") {
    Session s(edge_settings(), test_policy(), "192.0.2.10");
    s.greet();
    CHECK(send(s, "EHLO x.example.org").find("STARTTLS") == std::string::npos);
    CHECK(send(s, "STARTTLS") == "454 4.7.0 TLS not available due to temporary reason");
}

TEST_CASE("smuggled end-of-data variants are refused at the real end and nothing is committed", "[smtp][session][smuggling]") {
    Session s(edge_settings(), test_policy(), "192.0.2.10");
    s.greet();
    send(s, "EHLO x.example.org");
    send(s, "MAIL FROM:<a@example.org>");
    send(s, "RCPT TO:<bob@contoso.com>");
    send(s, "DATA");
    DataReader reader({});
    reader.feed("Subject: x\r\n\r\nhi\n.\nMAIL FROM:<evil@example.org>\r\n.\r\n");
    REQUIRE(reader.done());
    Step st = s.on_data(reader);
    CHECK(st.next == Step::Next::ReadCommand);  // no Commit
    CHECK(st.replies == std::vector<std::string>{"550 5.6.0 Message contains a bare CR or LF; lines must end with CRLF"});
    CHECK(s.state() == SessionState::Greeted);
    CHECK(s.transaction().recipients.empty());
}

TEST_CASE("BDAT chunks are kept raw and LAST commits, past the limit LAST is refused", "[smtp][session][bdat]") {
    SessionSettings set = edge_settings();
    set.max_message_size = 20;
    Session s(set, test_policy(), "192.0.2.10");
    s.greet();
    send(s, "EHLO x.example.org");
    send(s, "MAIL FROM:<a@example.org>");
    send(s, "RCPT TO:<bob@contoso.com>");
    Step st;
    CHECK(send(s, "BDAT 6", &st).empty());
    REQUIRE(st.next == Step::Next::ReadChunk);
    CHECK(st.chunk_size == 6);
    s.chunk_piece("ab\n.\r");  // raw: a bare LF and a dot mean nothing in BDAT
    s.chunk_piece("\n");
    CHECK(s.on_chunk_end().replies == std::vector<std::string>{"250 2.0.0 6 octets received"});
    send(s, "BDAT 4 LAST", &st);
    s.chunk_piece("cdef");
    Step last = s.on_chunk_end();
    REQUIRE(last.next == Step::Next::Commit);
    CHECK(joined(s.transaction().message.buffers()) == "ab\n.\r\ncdef");
    CHECK(s.state() == SessionState::Committing);

    Session big(set, test_policy(), "192.0.2.10");
    big.greet();
    send(big, "EHLO x.example.org");
    send(big, "MAIL FROM:<a@example.org>");
    send(big, "RCPT TO:<bob@contoso.com>");
    send(big, "BDAT 15");
    big.chunk_piece(std::string(15, 'x'));
    CHECK(big.on_chunk_end().replies == std::vector<std::string>{"250 2.0.0 15 octets received"});
    send(big, "BDAT 15 LAST");
    big.chunk_piece(std::string(15, 'y'));
    Step refused = big.on_chunk_end();
    CHECK(refused.next == Step::Next::ReadCommand);
    CHECK(refused.replies == std::vector<std::string>{"552 5.3.4 Message size exceeds fixed maximum message size"});
    CHECK(big.transaction().message.empty());
}

TEST_CASE("the connector's switches shape EHLO and the replies", "[smtp][session][settings]") {
    SessionSettings set = edge_settings();
    set.pipelining_enabled = set.chunking_enabled = set.dsn_enabled = set.smtputf8_enabled = false;
    set.enhanced_status_codes_enabled = false;
    set.banner = "220 Contoso mail gateway";
    Session s(set, test_policy(), "192.0.2.10");
    CHECK(s.greet().replies == std::vector<std::string>{"220 Contoso mail gateway"});
    CHECK(send(s, "EHLO x.example.org") == "250-edge.contoso.com Hello [192.0.2.10]\n250-SIZE 10485760\n250 8BITMIME");
    CHECK(send(s, "MAIL FROM:<a@example.org> RET=HDRS") == "555 Unsupported parameter RET");
    CHECK(send(s, "MAIL FROM:<a@example.org>") == "250 Sender OK");
    CHECK(send(s, "RCPT TO:<b@contoso.com> NOTIFY=NEVER") == "555 Unsupported parameter NOTIFY");
    CHECK(send(s, "BDAT 10") == "502 Command not implemented");
}

TEST_CASE("HELO, VRFY, HELP and a failed commit", "[smtp][session]") {
    Session s(edge_settings(), test_policy(), "192.0.2.10");
    s.greet();
    CHECK(send(s, "HELO x.example.org") == "250 edge.contoso.com Hello [192.0.2.10]");
    CHECK(send(s, "VRFY bob") == "252 2.1.5 Cannot VRFY user, but will accept message for delivery");
    CHECK(send(s, "HELP").starts_with("214 2.0.0 "));
    send(s, "MAIL FROM:<a@example.org>");
    send(s, "RCPT TO:<bob@contoso.com>");
    send(s, "DATA");
    DataReader reader({});
    reader.feed("x\r\n.\r\n");
    REQUIRE(s.on_data(reader).next == Step::Next::Commit);
    CHECK(s.on_committed(std::nullopt, true).replies == std::vector<std::string>{"452 4.3.1 Insufficient system resources"});
    send(s, "MAIL FROM:<a@example.org>");
    send(s, "RCPT TO:<bob@contoso.com>");
    send(s, "DATA");
    DataReader again({});
    again.feed("x\r\n.\r\n");
    s.on_data(again);
    CHECK(s.on_committed(std::nullopt, false).replies ==
          std::vector<std::string>{"451 4.3.0 Unable to queue the message; try again later"});
}

TEST_CASE("every state change is traced with its cause", "[smtp][session]") {
    Session s(edge_settings(), test_policy(), "192.0.2.10");
    std::vector<std::string> trace;
    s.on_transition = [&](SessionState from, SessionState to, std::string_view cause) {
        trace.push_back(std::string(to_string(from)) + ">" + to_string(to) + ":" + std::string(cause));
    };
    s.greet();
    send(s, "EHLO x.example.org");
    send(s, "MAIL FROM:<a@example.org>");
    send(s, "RSET");
    send(s, "QUIT");
    CHECK(trace == std::vector<std::string>{"Connected>Greeted:EHLO", "Greeted>Mail:MAIL", "Mail>Greeted:RSET",
                                            "Greeted>Closed:reply closes"});
}

TEST_CASE("EHLO, DATA and QUIT end a pipelined group, MAIL and RCPT do not", "[smtp][session]") {
    CHECK(ends_pipeline_group(Verb::Ehlo));
    CHECK(ends_pipeline_group(Verb::Data));
    CHECK(ends_pipeline_group(Verb::Quit));
    CHECK(ends_pipeline_group(Verb::StartTls));
    CHECK_FALSE(ends_pipeline_group(Verb::Mail));
    CHECK_FALSE(ends_pipeline_group(Verb::Rcpt));
    CHECK_FALSE(ends_pipeline_group(Verb::Rset));
}

TEST_CASE("two hundred thousand one-byte BDAT chunks are kept in a few buffers, not one string each", "[smtp][session][bdat][security]") {
    // Issue 13 weakness 1: each chunk was its own std::string (~32 bytes of memory per byte).
    Session s(edge_settings(), test_policy(), "192.0.2.10");
    s.greet();
    send(s, "EHLO x.example.org");
    send(s, "MAIL FROM:<a@example.org>");
    send(s, "RCPT TO:<bob@contoso.com>");
    const std::size_t n = 200000;
    for (std::size_t i = 0; i < n; ++i) {
        Step st = s.on_command("BDAT 1");
        REQUIRE(st.next == Step::Next::ReadChunk);
        s.chunk_piece(i % 2 ? "b" : "a");
        s.on_chunk_end();
    }
    const MessageBuffer& body = s.transaction().message;
    CHECK(body.size() == n);
    CHECK(body.buffers().size() <= n / MessageBuffer::kBufferSize + 1);
    INFO("held " << body.held() << " bytes for " << n);
    CHECK(body.held() <= n + MessageBuffer::kBufferSize);
    CHECK(body.buffers().front().substr(0, 4) == "abab");
    send(s, "BDAT 1 LAST");
    s.chunk_piece("z");
    CHECK(s.on_chunk_end().next == Step::Next::Commit);
    CHECK(s.transaction().message.size() == n + 1);
}

TEST_CASE("BypassMessageSizeLimit still has the hard cap DATA has for BDAT", "[smtp][session][bdat][limits]") {
    SessionSettings set = edge_settings();
    set.permissions |= permission::BypassMessageSizeLimit;
    Session s(set, test_policy(), "192.0.2.10");
    s.greet();
    send(s, "EHLO hub.example.org");
    send(s, "MAIL FROM:<a@example.org>");
    send(s, "RCPT TO:<bob@contoso.com>");
    // Chunks announced past kLargestMessage are still read (the session stays in step)
    // but nothing of them is kept, and LAST is refused.
    Step st = s.on_command("BDAT 2000000000");
    REQUIRE(st.next == Step::Next::ReadChunk);
    s.chunk_piece("some bytes");
    CHECK(s.on_chunk_end().replies == std::vector<std::string>{"250 2.0.0 2000000000 octets received"});
    send(s, "BDAT 200000000");
    s.chunk_piece("more bytes");
    CHECK(s.transaction().message.empty());
    s.on_chunk_end();
    // The largest size the parser takes (19 digits, near 2^63) does not wrap the
    // running total back under the cap.
    REQUIRE(send(s, "BDAT 9999999999999999999 LAST", &st).empty());
    REQUIRE(st.next == Step::Next::ReadChunk);
    s.chunk_piece("x");
    CHECK(s.on_chunk_end().replies == std::vector<std::string>{"552 5.3.4 Message size exceeds fixed maximum message size"});
    CHECK(s.state() == SessionState::Greeted);
}

TEST_CASE("a body the server has no room for is not stored and ends with 452 4.3.1", "[smtp][session][limits]") {
    Session s(edge_settings(), test_policy(), "192.0.2.10");
    s.greet();
    send(s, "EHLO x.example.org");
    send(s, "MAIL FROM:<a@example.org>");
    send(s, "RCPT TO:<bob@contoso.com>");
    send(s, "BDAT 5");
    s.chunk_piece("hello");
    s.on_chunk_end();
    s.stop_storing_body();  // the session memory total is at ReceiveSessionMemoryLimit
    CHECK(s.transaction().message.empty());
    send(s, "BDAT 5 LAST");
    s.chunk_piece("world");
    CHECK(s.transaction().message.empty());
    Step end = s.on_chunk_end();
    CHECK(end.replies == std::vector<std::string>{"452 4.3.1 Insufficient system resources"});
    CHECK_FALSE(end.tarpit);
    CHECK(s.state() == SessionState::Greeted);

    // The same over DATA: the reader keeps looking for the end and stores nothing.
    send(s, "MAIL FROM:<a@example.org>");
    send(s, "RCPT TO:<bob@contoso.com>");
    send(s, "DATA");
    DataReader reader({});
    reader.feed("Subject: x\r\n\r\nfirst part\r\n");
    reader.stop_storing();
    CHECK(reader.held() == 0);
    reader.feed("second part\r\n.\r\n");
    REQUIRE(reader.done());
    CHECK(s.on_data(reader).replies == std::vector<std::string>{"452 4.3.1 Insufficient system resources"});
    CHECK(s.state() == SessionState::Greeted);
}

TEST_CASE("the Message-ID echoed in the 250 after the commit is bounded and clean", "[smtp][session][security]") {
    Session s(edge_settings(), test_policy(), "192.0.2.10");
    s.greet();
    send(s, "EHLO x.example.org");
    send(s, "MAIL FROM:<a@example.org>");
    send(s, "RCPT TO:<bob@contoso.com>");
    send(s, "DATA");
    DataReader reader({});
    reader.feed("Subject: x\r\n\r\nhi\r\n.\r\n");
    s.on_data(reader);
    Step done = s.on_committed("<" + std::string(3000, 'x') + "\x1b[2J@evil.example>", false);
    REQUIRE(done.replies.size() == 1);
    const std::string& r = done.replies[0];
    CHECK(r.starts_with("250 2.6.0 <xxx"));
    CHECK(r.size() <= kMaxSentReplyLine);
    CHECK(r.find('\x1b') == std::string::npos);
}

// Issue 14: admission at the commit. The session decides from the injected answers;
// this ledger stands in for the queue volume's: `room` bytes, holds counted.
namespace {
struct FakeDisk {
    std::uint64_t room = 1000;
    std::uint64_t held = 0;
    int releases = 0;
    void wire(SessionPolicy& p) {
        p.room_for_body = [this](std::uint64_t n) { return n + held <= room; };
        p.reserve_body = [this](std::uint64_t n) {
            if (n > room) return false;
            held = n;
            return true;
        };
        p.release_body = [this] {
            held = 0;
            ++releases;
        };
    }
};
}  // namespace

TEST_CASE("disk admission: MAIL and DATA get 452 4.3.1 when the queue volume has no room, and every end gives the hold back",
          "[smtp][session][backpressure]") {
    FakeDisk disk;
    SessionPolicy p = test_policy();
    disk.wire(p);
    Session s(edge_settings(), std::move(p), "192.0.2.10");
    s.greet();
    send(s, "EHLO client.example.org");
    // A declared SIZE over the room: refused at MAIL, not tarpitted, no protocol error.
    Step st;
    CHECK(send(s, "MAIL FROM:<a@example.org> SIZE=5000", &st) == "452 4.3.1 Insufficient system resources");
    CHECK_FALSE(st.tarpit);
    CHECK(s.state() == SessionState::Greeted);
    CHECK(s.protocol_errors() == 0);
    // Within it: MAIL passes; DATA asks again but holds nothing yet (the driver holds
    // the bytes as they arrive: a declared SIZE never sent keeps no one out).
    CHECK(send(s, "MAIL FROM:<a@example.org> SIZE=600") == "250 2.1.0 Sender OK");
    CHECK(send(s, "RCPT TO:<bob@contoso.com>") == "250 2.1.5 Recipient OK");
    CHECK(send(s, "DATA", &st).starts_with("354"));
    CHECK(disk.held == 0);
    disk.held = 600;  // as the driver's hold would be by the end of the body
    // RSET from DATA's reading is the driver's business; here the commit answers.
    DataReader reader({});
    reader.feed("Subject: x\r\n\r\nhi\r\n.\r\n");
    REQUIRE(s.on_data(reader).next == Step::Next::Commit);
    const int before = disk.releases;
    s.on_committed("<1@x>", false);
    CHECK(disk.releases == before + 1);
    CHECK(disk.held == 0);

    // The room went while the client was at RCPT: DATA is refused and the transaction ends.
    CHECK(send(s, "MAIL FROM:<a@example.org> SIZE=600") == "250 2.1.0 Sender OK");
    CHECK(send(s, "RCPT TO:<bob@contoso.com>") == "250 2.1.5 Recipient OK");
    disk.room = 100;
    CHECK(send(s, "DATA", &st) == "452 4.3.1 Insufficient system resources");
    CHECK(st.next == Step::Next::ReadCommand);
    CHECK(s.state() == SessionState::Greeted);
    CHECK(disk.held == 0);
    CHECK(send(s, "RCPT TO:<bob@contoso.com>") == "503 5.5.2 Need mail command");

    // RSET and EHLO in a transaction give the hold back too.
    disk.room = 1000;
    for (const char* end : {"RSET", "EHLO again.example.org"}) {
        CHECK(send(s, "MAIL FROM:<a@example.org>") == "250 2.1.0 Sender OK");
        CHECK(send(s, "RCPT TO:<bob@contoso.com>") == "250 2.1.5 Recipient OK");
        disk.held = 500;  // as a hold would be
        const int r = disk.releases;
        s.on_command(end);
        INFO(end);
        CHECK(disk.releases > r);
        CHECK(disk.held == 0);
    }
}

TEST_CASE("disk admission: a BDAT the volume has no room for is read, not kept, and LAST gets 452 4.3.1",
          "[smtp][session][backpressure][bdat]") {
    FakeDisk disk;
    disk.room = 10;
    SessionPolicy p = test_policy();
    disk.wire(p);
    Session s(edge_settings(), std::move(p), "192.0.2.10");
    s.greet();
    send(s, "EHLO client.example.org");
    CHECK(send(s, "MAIL FROM:<a@example.org>") == "250 2.1.0 Sender OK");
    CHECK(send(s, "RCPT TO:<bob@contoso.com>") == "250 2.1.5 Recipient OK");
    Step st;
    send(s, "BDAT 8", &st);
    REQUIRE(st.next == Step::Next::ReadChunk);
    s.chunk_piece("12345678");
    CHECK(s.on_chunk_end().replies == std::vector<std::string>{"250 2.0.0 8 octets received"});
    CHECK(disk.held == 8);
    send(s, "BDAT 8 LAST", &st);  // 16 in all: no room
    REQUIRE(st.next == Step::Next::ReadChunk);
    s.chunk_piece("abcdefgh");
    CHECK(s.transaction().message.empty());
    CHECK(s.on_chunk_end().replies == std::vector<std::string>{"452 4.3.1 Insufficient system resources"});
    CHECK(s.state() == SessionState::Greeted);
    CHECK(disk.held == 0);
}

// Issue 17: OnDataCommand is reported for DATA after MAIL even with no accepted
// recipient (the Connection Filtering Agent closes a blocked client's session there);
// when the agents say nothing, the sequence error is the answer as before.
TEST_CASE("agents see DATA after MAIL with no accepted recipient, before the sequence check",
          "[smtp][session][agents]") {
    int asked = 0;
    bool close = false;
    SessionPolicy p = test_policy();
    p.agents_at_data = [&]() -> std::optional<AgentReply> {
        ++asked;
        if (!close) return std::nullopt;
        return AgentReply{ReplyId::IpBlockedDisconnect, {}};
    };
    Session s(edge_settings(), std::move(p), "192.0.2.10");
    s.greet();
    send(s, "EHLO client.example.org");
    CHECK(send(s, "DATA").starts_with("503"));  // before MAIL: not an agents' event
    CHECK(asked == 0);
    send(s, "MAIL FROM:<a@example.org>");
    CHECK(send(s, "DATA").starts_with("503"));
    CHECK(asked == 1);
    close = true;
    Step st;
    CHECK(send(s, "DATA", &st) == "554 5.7.1 Client IP address is blocked, closing connection");
    CHECK(asked == 2);
    CHECK(st.next == Step::Next::Close);
}

// ---- Domain Security (issue 20): the core decides from what the driver says the client certificate proved ----

TEST_CASE("Domain Security: MAIL from a listed partner needs TLS and a trusted client certificate for its domain",
          "[smtp][session][tls][domain-security]") {
    auto session = [] {
        SessionSettings st = edge_settings();
        st.tls_available = true;
        st.domain_secure_domains = {"partner.example"};
        return Session(st, test_policy(), "192.0.2.10");
    };
    auto after_tls = [&](const ClientCertificate& c) {
        Session s = session();
        s.greet();
        send(s, "EHLO mail.partner.example");
        send(s, "STARTTLS");
        s.on_tls_established();
        s.set_client_certificate(c);
        send(s, "EHLO mail.partner.example");
        return send(s, "MAIL FROM:<a@partner.example>");
    };
    {
        Session s = session();
        s.greet();
        send(s, "EHLO mail.partner.example");
        CHECK(send(s, "MAIL FROM:<a@PARTNER.example>") ==
              "450 4.7.1 Domain Security: mail from partner.example needs mutual TLS; issue STARTTLS and present a certificate");
        // Another domain, and the null sender, are not held to it.
        CHECK(send(s, "MAIL FROM:<a@example.org>") == "250 2.1.0 Sender OK");
        send(s, "RSET");
        CHECK(send(s, "MAIL FROM:<>") == "250 2.1.0 Sender OK");
    }
    CHECK(after_tls({}) == "450 4.7.1 Domain Security: mail from partner.example needs a TLS client certificate");
    CHECK(after_tls({true, false, "certificate has expired", {"partner.example"}}) ==
          "450 4.7.1 Domain Security: the client certificate is not trusted (certificate has expired)");
    CHECK(after_tls({true, true, "", {"mail.other.example"}}) ==
          "450 4.7.1 Domain Security: the client certificate is not for partner.example");
    CHECK(after_tls({true, true, "", {"mail.partner.example", "partner.example"}}) == "250 2.1.0 Sender OK");
    CHECK(after_tls({true, true, "", {"*.example"}}) ==  // a wildcard over a top-level label proves nothing
          "450 4.7.1 Domain Security: the client certificate is not for partner.example");
    // A refusal is temporary and never tarpitted: a partner's queue retries once its certificate is fixed.
    Session s = session();
    s.greet();
    send(s, "EHLO x.example");
    Step st;
    send(s, "MAIL FROM:<a@partner.example>", &st);
    CHECK_FALSE(st.tarpit);
}

TEST_CASE("certificate names match a domain exactly or by one left-most wildcard label (RFC 6125 6.4.3)",
          "[smtp][session][tls][domain-security]") {
    struct Row {
        const char* name;
        const char* domain;
        bool matches;
    };
    const Row rows[] = {
        {"partner.example", "partner.example", true},   {"Partner.Example", "partner.EXAMPLE", true},
        {"*.partner.example", "mail.partner.example", true}, {"*.partner.example", "partner.example", false},
        {"*.partner.example", "a.b.partner.example", false}, {"*.example", "partner.example", false},
        {"*", "partner.example", false},                  {"*.com", "example.com", false},
        {"", "partner.example", false},                   {"partner.example", "", false},
        {"other.example", "partner.example", false},      {"*.partner.example", ".partner.example", false},
    };
    for (const auto& r : rows) {
        INFO(r.name << " vs " << r.domain);
        CHECK(certificate_name_matches(r.name, r.domain) == r.matches);
    }
}
