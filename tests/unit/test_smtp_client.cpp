// The SMTP client core, driven as a dialog: the test plays the peer (its replies go
// through a real ReplyReader) and the driver (it renders the client's actions to the
// bytes that would go on the wire). No sockets.
#include "client_session.hpp"
#include "reply_reader.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <set>

using namespace edge::smtp;

namespace {

constexpr const char* kEhloBasic = "250 mx1.example.net Hello\r\n";
constexpr const char* kEhloFull =
    "250-mx1.example.net Hello [192.0.2.1]\r\n250-PIPELINING\r\n250-SIZE 10485760\r\n250-8BITMIME\r\n250-DSN\r\n"
    "250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n";
constexpr const char* kEhloNoPipelining = "250-mx1.example.net Hello\r\n250-SIZE\r\n250 ENHANCEDSTATUSCODES\r\n";
constexpr const char* kEhloChunking =
    "250-mx1.example.net Hello\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n";
constexpr const char* kEhloTls = "250-mx1.example.net Hello\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 SIZE 10485760\r\n";
constexpr std::string_view kContent = "Subject: hi\r\n\r\nHello\r\n";  // 22 bytes

ClientPolicy edge_policy() {
    ClientPolicy p;
    p.fqdn = "edge.contoso.com";
    p.remote_host = "mx1.example.net";
    return p;
}

// What the driver writes for these actions: bytes then content; TLS and close as markers.
std::string wire(const std::vector<ClientAction>& actions) {
    std::string out;
    for (const auto& a : actions) {
        switch (a.kind) {
            case ClientAction::Kind::Send:
                out += a.bytes;
                out += a.content;
                break;
            case ClientAction::Kind::StartTls: out += "[StartTls]"; break;
            case ClientAction::Kind::Close: out += "[Close]"; break;
        }
    }
    return out;
}

// The peer says `raw`; returns what the client writes back.
std::string peer(ClientSession& s, std::string_view raw) {
    ReplyReader reader;
    reader.feed(raw);
    REQUIRE_FALSE(reader.failed());
    std::string out;
    while (auto r = reader.next()) out += wire(s.on_reply(*r));
    REQUIRE(reader.empty());
    return out;
}

struct Exchange {
    const char* peer;    // <- what the peer says
    const char* client;  // -> what the client writes back
};

void dialog(ClientSession& s, std::initializer_list<Exchange> steps) {
    int n = 0;
    for (const auto& st : steps) {
        INFO("step " << ++n << ": <- " << Catch::Detail::stringify(std::string(st.peer)));
        CHECK(peer(s, st.peer) == st.client);
    }
}

ClientSession greeted(ClientPolicy p, const char* ehlo) {
    ClientSession s(std::move(p));
    CHECK(peer(s, "220 mx1.example.net ESMTP\r\n") == "EHLO edge.contoso.com\r\n");
    CHECK(peer(s, ehlo).empty());
    REQUIRE(s.ready_for_message());
    return s;
}

OutboundMessage message(std::vector<std::string> recipients, std::string_view content = kContent) {
    OutboundMessage m;
    m.sender = "alice@contoso.com";
    for (std::size_t i = 0; i < recipients.size(); ++i) m.recipients.push_back({i, recipients[i], "", 0});
    m.content = content;
    return m;
}

// "index result status response" per line, in index order.
std::string summary(const std::vector<RecipientOutcome>& outcomes) {
    std::string out;
    for (const auto& o : outcomes)
        out += std::to_string(o.index) + " " + to_string(o.result) + " " + o.status + " " + o.response + "\n";
    return out;
}

std::string result_of(ClientSession& s) {
    auto r = s.take_message_result();
    REQUIRE(r.has_value());
    return summary(*r);
}

}  // namespace

// --- the reply reader -------------------------------------------------------------

TEST_CASE("client reply reader: multi-line replies, enhanced codes and the one-line text", "[smtp][client][reply]") {
    ReplyReader r;
    r.feed("250-mx1.example.net Hello\r\n250-PIPELINING\r\n250 SIZE 1000\r\n550-5.1.1 The email account\r\n550 5.1.1 does not exist\r\n");
    auto a = r.next();
    REQUIRE(a);
    CHECK(a->code == 250);
    CHECK(a->enhanced.empty());
    CHECK(a->lines == std::vector<std::string>{"mx1.example.net Hello", "PIPELINING", "SIZE 1000"});
    auto b = r.next();
    REQUIRE(b);
    CHECK(b->code == 550);
    CHECK(b->enhanced == "5.1.1");
    CHECK(b->text() == "550 5.1.1 The email account does not exist");
    CHECK(b->status() == "5.1.1");
    CHECK_FALSE(r.next());
    CHECK(r.empty());
}

TEST_CASE("client reply reader: an enhanced code of another class is text, a missing one is derived", "[smtp][client][reply]") {
    ReplyReader r;
    r.feed("550 4.2.2 odd server\r\n451 Try later\r\n250\r\n354 Go ahead\n");  // bare LF: read leniently
    auto a = r.next();
    REQUIRE(a);
    CHECK(a->enhanced.empty());
    CHECK(a->text() == "550 4.2.2 odd server");
    CHECK(a->status() == "5.0.0");
    auto b = r.next();
    REQUIRE(b);
    CHECK(b->status() == "4.0.0");
    auto c = r.next();
    REQUIRE(c);
    CHECK(c->text() == "250");
    auto d = r.next();
    REQUIRE(d);
    CHECK(d->code == 354);
    CHECK_FALSE(r.failed());
}

TEST_CASE("client reply reader: control characters in reply text cannot split a log line", "[smtp][client][reply]") {
    ReplyReader r;
    r.feed(std::string("550 5.7.1 bad\rthing\0here\tok\r\n", 29));
    auto a = r.next();
    REQUIRE(a);
    CHECK(a->text() == "550 5.7.1 bad?thing?here\tok");
}

TEST_CASE("client reply reader: any split of the input into reads gives the same replies", "[smtp][client][reply]") {
    std::string in = "220 hi\r\n250-a\r\n250-b\r\n250 c\r\n550 5.1.1 no\r\n";
    for (std::size_t step : {std::size_t{1}, std::size_t{2}, std::size_t{7}, in.size()}) {
        INFO("step " << step);
        ReplyReader r;
        for (std::size_t i = 0; i < in.size(); i += step) r.feed(std::string_view(in).substr(i, step));
        std::vector<std::string> texts;
        while (auto x = r.next()) texts.push_back(x->text());
        CHECK(texts == std::vector<std::string>{"220 hi", "250 a b c", "550 5.1.1 no"});
    }
}

TEST_CASE("client reply reader: garbage, mixed codes and overlong replies are refused", "[smtp][client][reply]") {
    struct Case {
        std::string in;
        std::string error;
    };
    std::vector<Case> cases = {
        {"hello there\r\n", "malformed reply line \"hello there\""},
        {"2500 x\r\n", "malformed reply line \"2500 x\""},
        {"199 x\r\n", "malformed reply line \"199 x\""},
        {"260 x\r\n", "malformed reply line \"260 x\""},
        {"25\r\n", "malformed reply line \"25\""},
        {"250-a\r\n550 b\r\n", "reply line with code 550 inside a 250 reply"},
    };
    std::string many;
    for (std::size_t i = 0; i < kMaxReplyLines; ++i) many += "250-line\r\n";
    cases.push_back({many + "250 last\r\n", "reply longer than 100 lines"});
    cases.push_back({"250 " + std::string(kMaxReplyLine, 'x') + "\r\n", "reply line longer than 2048 bytes"});
    for (const auto& c : cases) {
        INFO(c.in.substr(0, 40));
        ReplyReader r;
        r.feed(c.in);
        CHECK(r.failed());
        CHECK(r.error() == c.error);
        CHECK_FALSE(r.next());
        r.feed("250 ok\r\n");  // nothing is read after an error
        CHECK_FALSE(r.next());
    }
    ReplyReader fine;
    fine.feed("250 " + std::string(kMaxReplyLine - 4, 'x') + "\r\n");
    CHECK_FALSE(fine.failed());
    CHECK(fine.next());
}

TEST_CASE("client reply reader: a megabyte without a newline fails without growing the buffer", "[smtp][client][reply][limits]") {
    const std::string megabyte(1 << 20, 'x');
    SECTION("in one read") {
        ReplyReader r;
        r.feed(megabyte);
        CHECK(r.failed());
        CHECK(r.buffered() <= 2 * (kMaxReplyLine + 1));
    }
    SECTION("in reads of 1000 bytes") {
        ReplyReader r;
        std::size_t peak = 0;
        for (std::size_t i = 0; i < megabyte.size(); i += 1000) {
            r.feed(std::string_view(megabyte).substr(i, 1000));
            peak = std::max(peak, r.buffered());
        }
        CHECK(r.failed());
        CHECK(r.error() == "reply line longer than 2048 bytes");
        CHECK(peak <= 2 * (kMaxReplyLine + 1));
        CHECK(r.buffered() <= std::string().capacity());  // a failed reader gives its memory back
    }
}

TEST_CASE("client reply reader: random bytes never crash and memory stays bounded", "[smtp][client][reply][fuzz]") {
    std::mt19937 rng(20240611);
    const std::string alphabet = "0123456789 -\r\n.abcXYZ\x80\xff";
    for (int round = 0; round < 300; ++round) {
        ReplyReader r;
        std::size_t n = rng() % 6000;
        std::string in;
        for (std::size_t i = 0; i < n; ++i) {
            // Mostly plausible lines, with random garbage mixed in.
            if (rng() % 8 == 0) in += std::string(1 + rng() % 3, static_cast<char>('2' + rng() % 4)) + "50-";
            in.push_back(alphabet[rng() % alphabet.size()]);
        }
        for (std::size_t i = 0; i < in.size();) {
            std::size_t k = 1 + rng() % 300;
            r.feed(std::string_view(in).substr(i, k));
            i += k;
            CHECK(r.buffered() <= (kMaxReplyLines + 1) * 2 * (kMaxReplyLine + 1));
            while (auto x = r.next()) {
                CHECK(x->code >= 200);
                CHECK(x->code <= 559);
                CHECK(x->text().find_first_of("\r\n") == std::string::npos);
            }
        }
    }
}

TEST_CASE("client: EHLO keywords are read case-insensitively with the SIZE limit", "[smtp][client][ehlo]") {
    ReplyReader r;
    r.feed("250-mx Hello\r\n250-pipelining\r\n250-Size 35882577\r\n250-8bitmime\r\n250-dsn\r\n250-chunking\r\n"
           "250-STARTTLS\r\n250-SMTPUTF8\r\n250-AUTH LOGIN PLAIN\r\n250 ENHANCEDSTATUSCODES\r\n");
    auto x = parse_ehlo_reply(*r.next());
    CHECK(x.esmtp);
    CHECK(x.pipelining);
    CHECK(x.size);
    CHECK(x.max_size == 35882577);
    CHECK(x.eightbitmime);
    CHECK(x.dsn);
    CHECK(x.chunking);
    CHECK(x.starttls);
    CHECK(x.smtputf8);
    CHECK(x.enhanced_status_codes);

    for (const char* size : {"250-mx\r\n250 SIZE\r\n", "250-mx\r\n250 SIZE 0\r\n", "250-mx\r\n250 SIZE lots\r\n",
                             "250-mx\r\n250 SIZE 99999999999999999999999\r\n"}) {
        ReplyReader s;
        s.feed(size);
        auto y = parse_ehlo_reply(*s.next());
        CHECK(y.size);
        CHECK(y.max_size == 0);  // no fixed limit we can rely on
    }
    ReplyReader single;
    single.feed("250 mx Hello\r\n");
    auto z = parse_ehlo_reply(*single.next());
    CHECK(z.esmtp);
    CHECK_FALSE(z.pipelining);
}

// --- the handshake ---------------------------------------------------------------

TEST_CASE("the client greets with EHLO, or HELO under ForceHELO or when EHLO is refused", "[smtp][client][helo]") {
    SECTION("EHLO") {
        ClientSession s = greeted(edge_policy(), kEhloFull);
        CHECK(s.extensions().pipelining);
        CHECK_FALSE(s.tls_active());
    }
    SECTION("EHLO refused with 500 or 502: HELO, no extension used") {
        for (const char* refusal : {"500 5.5.1 Command unrecognized\r\n", "502 Not implemented\r\n"}) {
            ClientSession s(edge_policy());
            dialog(s, {{"220 old.example.net\r\n", "EHLO edge.contoso.com\r\n"},
                       {refusal, "HELO edge.contoso.com\r\n"},
                       {"250 old.example.net\r\n", ""}});
            REQUIRE(s.ready_for_message());
            CHECK_FALSE(s.extensions().esmtp);
            OutboundMessage m = message({"bob@example.net"});
            m.ret = OutboundMessage::Ret::Full;
            m.recipients[0].notify = 4;
            CHECK(wire(s.begin_message(m)) == "MAIL FROM:<alice@contoso.com>\r\n");
        }
    }
    SECTION("ForceHELO") {
        ClientPolicy p = edge_policy();
        p.force_helo = true;
        ClientSession s(p);
        dialog(s, {{"220 mx1.example.net ESMTP\r\n", "HELO edge.contoso.com\r\n"}, {"250 mx1.example.net\r\n", ""}});
        CHECK(s.ready_for_message());
    }
}

TEST_CASE("the client gives up on a refused greeting or hello, and says why", "[smtp][client][helo]") {
    struct Case {
        std::vector<Exchange> steps;
        std::string failure;
    };
    std::vector<Case> cases = {
        {{{"554 5.7.1 No thanks\r\n", "QUIT\r\n[Close]"}}, "mx1.example.net refused the connection: 554 5.7.1 No thanks"},
        {{{"450 busy\r\n", "QUIT\r\n[Close]"}}, "mx1.example.net refused the connection: 450 busy"},
        {{{"421 4.3.2 Too many connections\r\n", "[Close]"}},
         "mx1.example.net closed the session: 421 4.3.2 Too many connections"},
        {{{"220 hi\r\n", "EHLO edge.contoso.com\r\n"}, {"451 4.3.0 later\r\n", "QUIT\r\n[Close]"}},
         "mx1.example.net answered EHLO with 451 4.3.0 later"},
        {{{"220 hi\r\n", "EHLO edge.contoso.com\r\n"},
          {"502 no\r\n", "HELO edge.contoso.com\r\n"},
          {"550 go away\r\n", "QUIT\r\n[Close]"}},
         "mx1.example.net answered HELO with 550 go away"},
        {{{"354 what\r\n", "[Close]"}}, "Unexpected reply from mx1.example.net while waiting for the greeting: 354 what"},
    };
    for (const auto& c : cases) {
        INFO(c.failure);
        ClientSession s(edge_policy());
        for (const auto& st : c.steps) CHECK(peer(s, st.peer) == st.client);
        CHECK(s.failed());
        CHECK(s.failure_scope() == FailureScope::Connection);
        CHECK(s.failure() == c.failure);
        CHECK(s.state() == ClientState::Closed);
        CHECK_FALSE(s.ready_for_message());
        CHECK_FALSE(s.take_message_result());  // no message was in flight
    }
}

TEST_CASE("the client asks for STARTTLS when offered and says EHLO again over TLS", "[smtp][client][tls]") {
    ClientSession s(edge_policy());
    dialog(s, {{"220 mx1.example.net ESMTP\r\n", "EHLO edge.contoso.com\r\n"},
               {kEhloTls, "STARTTLS\r\n"},
               {"220 2.0.0 Ready to start TLS\r\n", "[StartTls]"}});
    CHECK(s.state() == ClientState::TlsHandshake);
    CHECK_FALSE(s.ready_for_message());
    CHECK(wire(s.on_tls_established()) == "EHLO edge.contoso.com\r\n");
    // RFC 3207 §4.2: what was offered in clear is forgotten; only the new EHLO counts.
    CHECK_FALSE(s.extensions().pipelining);
    CHECK(peer(s, "250-mx1.example.net\r\n250 SIZE 1000\r\n").empty());
    CHECK(s.ready_for_message());
    CHECK(s.tls_active());
    CHECK_FALSE(s.extensions().pipelining);
    CHECK_FALSE(s.extensions().starttls);
    CHECK(s.extensions().max_size == 1000);
}

TEST_CASE("the client stays in clear under IgnoreSTARTTLS, without a TLS context, or after a refused STARTTLS",
          "[smtp][client][tls]") {
    SECTION("IgnoreSTARTTLS") {
        ClientPolicy p = edge_policy();
        p.ignore_starttls = true;
        ClientSession s = greeted(p, kEhloTls);
        CHECK_FALSE(s.tls_active());
    }
    SECTION("no TLS context") {
        ClientPolicy p = edge_policy();
        p.tls_possible = false;
        ClientSession s = greeted(p, kEhloTls);
        CHECK_FALSE(s.tls_active());
    }
    SECTION("454 to STARTTLS") {
        ClientSession s(edge_policy());
        dialog(s, {{"220 mx1\r\n", "EHLO edge.contoso.com\r\n"},
                   {kEhloTls, "STARTTLS\r\n"},
                   {"454 4.7.0 TLS not available\r\n", ""}});
        CHECK(s.ready_for_message());
        CHECK(s.extensions().pipelining);  // the EHLO in clear still holds
        CHECK(wire(s.begin_message(message({"bob@example.net"}))).starts_with("MAIL FROM:<alice@contoso.com>"));
    }
}

TEST_CASE("RequireTLS: the client never sends a message in clear and says why it gave up", "[smtp][client][tls]") {
    ClientPolicy p = edge_policy();
    p.require_tls = true;
    struct Case {
        ClientPolicy policy;
        std::vector<Exchange> steps;
        std::string failure;
    };
    ClientPolicy helo = p;
    helo.force_helo = true;
    ClientPolicy no_context = p;
    no_context.tls_possible = false;
    std::vector<Case> cases = {
        {p,
         {{"220 mx1\r\n", "EHLO edge.contoso.com\r\n"}, {kEhloFull, "QUIT\r\n[Close]"}},
         "RequireTLS is set and mx1.example.net does not offer STARTTLS"},
        {p,
         {{"220 mx1\r\n", "EHLO edge.contoso.com\r\n"},
          {kEhloTls, "STARTTLS\r\n"},
          {"454 4.7.0 TLS not available\r\n", "QUIT\r\n[Close]"}},
         "RequireTLS is set and mx1.example.net answered STARTTLS with 454 4.7.0 TLS not available"},
        {p,
         {{"220 mx1\r\n", "EHLO edge.contoso.com\r\n"}, {"502 5.5.1 no EHLO\r\n", "QUIT\r\n[Close]"}},
         "RequireTLS is set and mx1.example.net does not offer STARTTLS"},
        {helo,
         {{"220 mx1\r\n", "QUIT\r\n[Close]"}},
         "RequireTLS is set but ForceHELO leaves no way to ask mx1.example.net for STARTTLS"},
        {no_context,
         {{"220 mx1\r\n", "EHLO edge.contoso.com\r\n"}, {kEhloTls, "QUIT\r\n[Close]"}},
         "RequireTLS is set but no TLS client context is available to connect to mx1.example.net"},
    };
    for (const auto& c : cases) {
        INFO(c.failure);
        ClientSession s(c.policy);
        for (const auto& st : c.steps) CHECK(peer(s, st.peer) == st.client);
        CHECK(s.failed());
        CHECK(s.failure() == c.failure);
        CHECK(s.failure_scope() == FailureScope::Connection);
        // And the message the driver might still try: nothing goes out, all Deferred.
        CHECK(s.begin_message(message({"bob@example.net"})).empty());
        auto r = s.take_message_result();
        REQUIRE(r);
        REQUIRE(r->size() == 1);
        CHECK((*r)[0].result == RecipientResult::Deferred);
        CHECK((*r)[0].response == "451 4.4.2 " + c.failure);
    }

    SECTION("RequireTLS wins over IgnoreSTARTTLS") {
        ClientPolicy both = p;
        both.ignore_starttls = true;
        ClientSession s(both);
        dialog(s, {{"220 mx1\r\n", "EHLO edge.contoso.com\r\n"}, {kEhloTls, "STARTTLS\r\n"}});
    }
    SECTION("after TLS the message goes") {
        ClientSession s(p);
        dialog(s, {{"220 mx1\r\n", "EHLO edge.contoso.com\r\n"},
                   {kEhloTls, "STARTTLS\r\n"},
                   {"220 go\r\n", "[StartTls]"}});
        CHECK(wire(s.on_tls_established()) == "EHLO edge.contoso.com\r\n");
        CHECK(peer(s, kEhloFull).empty());
        CHECK(s.ready_for_message());
        CHECK(wire(s.begin_message(message({"bob@example.net"}))).starts_with("MAIL FROM:"));
    }
}

TEST_CASE("the client refuses a reply injected between 220 to STARTTLS and the handshake", "[smtp][client][tls]") {
    ClientSession s(edge_policy());
    dialog(s, {{"220 mx1\r\n", "EHLO edge.contoso.com\r\n"}, {kEhloTls, "STARTTLS\r\n"}});
    // The peer (or a man in the middle) sends the 220 and, in the same clear-text
    // segment, a forged EHLO reply meant to be read after the handshake.
    CHECK(peer(s, "220 go\r\n250-mx1\r\n250 PIPELINING\r\n") == "[StartTls][Close]");
    CHECK(s.failed());
    CHECK(s.failure() == "mx1.example.net sent a reply in clear after agreeing to STARTTLS: 250 mx1 PIPELINING");
    CHECK(s.on_tls_established().empty());
    CHECK_FALSE(s.tls_active());
}

// --- the envelope ----------------------------------------------------------------

TEST_CASE("ENVID and ORCPT relayed as received: decoded once, encoded once, the same on the wire",
          "[smtp][client][envelope]") {
    // What a client sent us, stored as received (xtext), goes out byte for byte.
    const std::string received_orcpt = "rfc822;bob+2Btag+3D1@example.net", received_envid = "QQ+2B314159";
    CHECK(orcpt_decoded(received_orcpt) == "rfc822;bob+tag=1@example.net");
    CHECK(xtext_decode(received_envid) == std::optional<std::string>("QQ+314159"));
    OutboundMessage m;
    m.sender = "alice@contoso.com";
    m.content = "Subject: x\r\n\r\nx\r\n";
    m.envid = *xtext_decode(received_envid);
    m.recipients = {{0, "bob@example.net", orcpt_decoded(received_orcpt), 4}};
    ClientSession s = greeted(edge_policy(), kEhloFull);
    std::string w = wire(s.begin_message(m));
    CHECK(w.find(" ENVID=" + received_envid + "\r\n") != std::string::npos);
    CHECK(w.find(" ORCPT=" + received_orcpt + "\r\n") != std::string::npos);
    // Malformed xtext is left as it is, never half decoded.
    CHECK(orcpt_decoded("rfc822;a+zz@x") == "rfc822;a+zz@x");
    CHECK_FALSE(xtext_decode("abc+4"));
    // Control characters come back as octets and are encoded again on the way out.
    CHECK(xtext_decode("a+0D+0Ab") == std::optional<std::string>("a\r\nb"));
    CHECK(xtext_encode("a\r\nb") == "a+0D+0Ab");
}

TEST_CASE("client: MAIL and RCPT carry the parameters the peer offers, and only those", "[smtp][client][envelope]") {
    OutboundMessage m;
    m.sender = "alice@contoso.com";
    m.content = "Subject: caf\xc3\xa9\r\n\r\n8-bit body\r\n";  // 30 bytes, 8-bit
    m.ret = OutboundMessage::Ret::Headers;
    m.envid = "QQ314159+x=y";
    m.recipients = {{0, "bob@example.net", "rfc822;bob+tag@example.net", 4 | 8},
                    {1, "carol@example.net", "", 1},
                    {2, "dave@example.net", "dave@example.org", 2 | 4 | 8}};
    SECTION("everything offered") {
        ClientSession s = greeted(edge_policy(), kEhloFull);
        CHECK(wire(s.begin_message(m)) ==
              "MAIL FROM:<alice@contoso.com> SIZE=30 BODY=8BITMIME RET=HDRS ENVID=QQ314159+2Bx+3Dy\r\n"
              "RCPT TO:<bob@example.net> NOTIFY=FAILURE,DELAY ORCPT=rfc822;bob+2Btag@example.net\r\n"
              "RCPT TO:<carol@example.net> NOTIFY=NEVER\r\n"
              "RCPT TO:<dave@example.net> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;dave@example.org\r\n"
              "DATA\r\n");
    }
    SECTION("nothing offered but SIZE") {
        ClientSession s = greeted(edge_policy(), kEhloNoPipelining);
        CHECK(wire(s.begin_message(m)) == "MAIL FROM:<alice@contoso.com> SIZE=30\r\n");
        CHECK(peer(s, "250 2.1.0 OK\r\n") == "RCPT TO:<bob@example.net>\r\n");
    }
    SECTION("7-bit content says no BODY") {
        m.content = kContent;
        ClientSession s = greeted(edge_policy(), kEhloFull);
        CHECK(wire(s.begin_message(m)).starts_with("MAIL FROM:<alice@contoso.com> SIZE=22 RET=HDRS"));
    }
    SECTION("the null reverse path") {
        m.sender.clear();
        ClientSession s = greeted(edge_policy(), kEhloBasic);
        CHECK(wire(s.begin_message(m)) == "MAIL FROM:<>\r\n");
    }
}

TEST_CASE("client: xtext encodes plus, equals, controls and non-ASCII bytes", "[smtp][client][envelope]") {
    CHECK(xtext_encode("a@b.example") == "a@b.example");
    CHECK(xtext_encode("a+b=c") == "a+2Bb+3Dc");
    CHECK(xtext_encode("sp ace\r\n") == "sp+20ace+0D+0A");
    CHECK(xtext_encode("j\xc3\xb6rg") == "j+C3+B6rg");
    CHECK(xtext_encode("").empty());
}

TEST_CASE("client: SMTPUTF8: a non-ASCII address goes only to a peer that offers it", "[smtp][client][utf8]") {
    OutboundMessage m = message({"bob@example.net", "j\xc3\xb6rg@example.net"});
    SECTION("offered: MAIL says SMTPUTF8") {
        ClientSession s = greeted(edge_policy(), kEhloFull);
        CHECK(wire(s.begin_message(m)) ==
              "MAIL FROM:<alice@contoso.com> SIZE=22 SMTPUTF8\r\nRCPT TO:<bob@example.net>\r\n"
              "RCPT TO:<j\xc3\xb6rg@example.net>\r\nDATA\r\n");
    }
    SECTION("not offered: that recipient fails here, the others go") {
        ClientSession s = greeted(edge_policy(), kEhloNoPipelining);
        CHECK(wire(s.begin_message(m)) == "MAIL FROM:<alice@contoso.com> SIZE=22\r\n");
        dialog(s, {{"250 OK\r\n", "RCPT TO:<bob@example.net>\r\n"},
                   {"250 OK\r\n", "DATA\r\n"},
                   {"354 go\r\n", "Subject: hi\r\n\r\nHello\r\n.\r\n"},
                   {"250 2.6.0 queued\r\n", ""}});
        CHECK(result_of(s) ==
              "0 Delivered 2.6.0 250 2.6.0 queued\n"
              "1 Failed 5.6.7 553 5.6.7 mx1.example.net does not offer SMTPUTF8, which the address j\xc3\xb6rg@example.net needs\n");
    }
    SECTION("not offered and the sender is non-ASCII: nothing is sent") {
        m.sender = "\xc3\xa5sa@contoso.com";
        ClientSession s = greeted(edge_policy(), kEhloNoPipelining);
        CHECK(s.begin_message(m).empty());
        std::string r = result_of(s);
        CHECK(r.find("0 Failed 5.6.7 553 5.6.7") == 0);
        CHECK(r.find("\n1 Failed 5.6.7 553 5.6.7") != std::string::npos);
        CHECK(s.ready_for_message());
    }
}

TEST_CASE("client: SMTPUTF8 downgrade: an IDN domain with an ASCII local part goes as A-labels, nothing else is rewritten",
          "[smtp][client][utf8][idn]") {
    CHECK(address_without_smtputf8("bob@example.net") == "bob@example.net");
    CHECK(address_without_smtputf8("Bob@B\xc3\xbc" "cher.example") == "Bob@xn--bcher-kva.example");  // local part as written
    CHECK(address_without_smtputf8("\"a@b\"@b\xc3\xbc" "cher.example") == "\"a@b\"@xn--bcher-kva.example");
    CHECK_FALSE(address_without_smtputf8("j\xc3\xb6rg@b\xc3\xbc" "cher.example"));  // a UTF-8 local part: no lossless form
    CHECK_FALSE(address_without_smtputf8("bob@\xe2\x98\x83.example"));               // a domain IDNA2008 refuses

    OutboundMessage m = message({"user@b\xc3\xbc" "cher.example", "j\xc3\xb6rg@b\xc3\xbc" "cher.example"});
    m.sender = "alice@m\xc3\xbc" "nchen.example";
    SECTION("not offered: A-labels in MAIL and RCPT, the UTF-8 local part fails with 5.6.7") {
        ClientSession s = greeted(edge_policy(), kEhloNoPipelining);
        CHECK(wire(s.begin_message(m)) == "MAIL FROM:<alice@xn--mnchen-3ya.example> SIZE=22\r\n");
        dialog(s, {{"250 OK\r\n", "RCPT TO:<user@xn--bcher-kva.example>\r\n"},
                   {"250 OK\r\n", "DATA\r\n"},
                   {"354 go\r\n", "Subject: hi\r\n\r\nHello\r\n.\r\n"},
                   {"250 2.6.0 queued\r\n", ""}});
        CHECK(result_of(s) == "0 Delivered 2.6.0 250 2.6.0 queued\n"
                              "1 Failed 5.6.7 553 5.6.7 mx1.example.net does not offer SMTPUTF8, which the address "
                              "j\xc3\xb6rg@b\xc3\xbc" "cher.example needs\n");
    }
    SECTION("offered: the addresses go as they are, with SMTPUTF8") {
        ClientSession s = greeted(edge_policy(), kEhloFull);
        CHECK(wire(s.begin_message(m)) == "MAIL FROM:<alice@m\xc3\xbc" "nchen.example> SIZE=22 SMTPUTF8\r\n"
                                          "RCPT TO:<user@b\xc3\xbc" "cher.example>\r\n"
                                          "RCPT TO:<j\xc3\xb6rg@b\xc3\xbc" "cher.example>\r\nDATA\r\n");
    }
}

TEST_CASE("client: a message received with SMTPUTF8 whose header fields are UTF-8 fails with 5.6.7 toward a peer without it",
          "[smtp][client][utf8]") {
    OutboundMessage m = message({"bob@example.net"});
    const std::string utf8_header = "Subject: Gr\xc3\xbc\xc3\x9f" "e\r\n\r\nHello\r\n";
    const std::string utf8_body = "Subject: hi\r\n\r\nGr\xc3\xbc\xc3\x9f" "e\r\n";
    m.content = utf8_header;
    CHECK_FALSE(needs_smtputf8(m));  // received without SMTPUTF8: goes as it came
    m.smtputf8 = true;
    CHECK(needs_smtputf8(m));
    OutboundMessage body_only = m;
    body_only.content = utf8_body;
    CHECK_FALSE(needs_smtputf8(body_only));  // 8-bit in the body is 8BITMIME's business, not SMTPUTF8's
    body_only.content = "Subject: hi\n\nGr\xc3\xbc\xc3\x9f" "e\n";
    CHECK_FALSE(needs_smtputf8(body_only));

    SECTION("not offered: every recipient fails, nothing is sent") {
        ClientSession s = greeted(edge_policy(), kEhloNoPipelining);
        CHECK(s.begin_message(m).empty());
        CHECK(result_of(s) == "0 Failed 5.6.7 554 5.6.7 mx1.example.net does not offer SMTPUTF8, which the message's UTF-8 header "
                              "fields need\n");
        CHECK(s.ready_for_message());
    }
    SECTION("offered: MAIL says SMTPUTF8 though every address is ASCII") {
        ClientSession s = greeted(edge_policy(), kEhloFull);
        CHECK(wire(s.begin_message(m)).starts_with("MAIL FROM:<alice@contoso.com> SIZE=" + std::to_string(utf8_header.size()) +
                                                   " BODY=8BITMIME SMTPUTF8\r\n"));
    }
}

TEST_CASE("client: a message larger than the peer's SIZE fails here with 552 5.3.4 and nothing is sent", "[smtp][client][size]") {
    ClientSession s = greeted(edge_policy(), "250-mx1\r\n250 SIZE 21\r\n");
    CHECK(s.begin_message(message({"bob@example.net", "carol@example.net"})).empty());
    CHECK(result_of(s) ==
          "0 Failed 5.3.4 552 5.3.4 Message size 22 exceeds the size limit 21 of mx1.example.net\n"
          "1 Failed 5.3.4 552 5.3.4 Message size 22 exceeds the size limit 21 of mx1.example.net\n");
    CHECK(s.ready_for_message());
    // Exactly at the limit goes.
    CHECK(wire(s.begin_message(message({"bob@example.net"}, "Subject: hi\r\n\r\nHell\r\n"))) ==
          "MAIL FROM:<alice@contoso.com> SIZE=21\r\n");
}

TEST_CASE("client: an address that would split a command is never sent", "[smtp][client][envelope]") {
    ClientSession s = greeted(edge_policy(), kEhloFull);
    OutboundMessage m = message({"bob@example.net\r\nRCPT TO:<evil@example.org>", "carol@example.net> NOTIFY=NEVER"});
    CHECK(s.begin_message(m).empty());
    std::string r = result_of(s);
    CHECK(r.find("0 Failed 5.1.3 501 5.1.3 The address bob@example.netRCPT TO:<evil@example.org> cannot be sent") == 0);
    CHECK(r.find("1 Failed 5.1.3") != std::string::npos);
    m = message({"bob@example.net"});
    m.sender = "alice@contoso.com>\r\nDATA";
    CHECK(s.begin_message(m).empty());
    CHECK(result_of(s).find("0 Failed 5.1.3") == 0);
}

// --- transactions ----------------------------------------------------------------

TEST_CASE("with PIPELINING the client sends MAIL, every RCPT and DATA at once and reads the replies in order",
          "[smtp][client][pipelining]") {
    ClientSession s = greeted(edge_policy(), kEhloFull);
    CHECK(wire(s.begin_message(message({"bob@example.net", "carol@example.net", "dave@example.net", "erin@example.net"}))) ==
          "MAIL FROM:<alice@contoso.com> SIZE=22\r\nRCPT TO:<bob@example.net>\r\nRCPT TO:<carol@example.net>\r\n"
          "RCPT TO:<dave@example.net>\r\nRCPT TO:<erin@example.net>\r\nDATA\r\n");
    CHECK(s.awaiting_reply());
    CHECK(s.awaiting() == Awaiting::Mail);  // the driver's timeout for MAIL
    CHECK_FALSE(s.ready_for_message());
    CHECK(peer(s, "250 2.1.0 Sender OK\r\n250 2.1.5 OK\r\n450 4.2.1 Mailbox busy\r\n550 5.1.1 User unknown\r\n"
                  "251 will forward\r\n") .empty());
    CHECK_FALSE(s.take_message_result());  // not before the end
    CHECK(s.awaiting() == Awaiting::Data);
    CHECK(peer(s, "354 Go ahead\r\n") == "Subject: hi\r\n\r\nHello\r\n.\r\n");
    CHECK(s.awaiting() == Awaiting::EndOfData);  // RFC 5321 §4.5.3.2: the long timeout
    CHECK(peer(s, "250 2.6.0 <42@mx1> Queued mail for delivery\r\n").empty());
    CHECK(result_of(s) ==
          "0 Delivered 2.6.0 250 2.6.0 <42@mx1> Queued mail for delivery\n"
          "1 Deferred 4.2.1 450 4.2.1 Mailbox busy\n"
          "2 Failed 5.1.1 550 5.1.1 User unknown\n"
          "3 Delivered 2.6.0 250 2.6.0 <42@mx1> Queued mail for delivery\n");
    CHECK_FALSE(s.take_message_result());  // once
    CHECK(s.ready_for_message());
    CHECK(s.awaiting() == Awaiting::Nothing);
}

TEST_CASE("without PIPELINING the client waits for each reply before the next command", "[smtp][client][pipelining]") {
    ClientSession s = greeted(edge_policy(), kEhloBasic);
    CHECK(wire(s.begin_message(message({"bob@example.net", "carol@example.net"}))) == "MAIL FROM:<alice@contoso.com>\r\n");
    dialog(s, {{"250 OK\r\n", "RCPT TO:<bob@example.net>\r\n"},
               {"550 No such user\r\n", "RCPT TO:<carol@example.net>\r\n"},
               {"250 OK\r\n", "DATA\r\n"},
               {"354 go\r\n", "Subject: hi\r\n\r\nHello\r\n.\r\n"},
               {"250 queued\r\n", ""}});
    CHECK(result_of(s) == "0 Failed 5.0.0 550 No such user\n1 Delivered 2.0.0 250 queued\n");
}

TEST_CASE("client: the reply to the end of data decides every accepted recipient", "[smtp][client][data]") {
    struct Case {
        const char* final_reply;
        const char* expected;
    };
    for (const Case& c : {Case{"451 4.3.0 try later\r\n", "0 Deferred 4.3.0 451 4.3.0 try later\n"
                                                           "1 Failed 5.1.1 550 5.1.1 unknown\n"
                                                           "2 Deferred 4.3.0 451 4.3.0 try later\n"},
                          Case{"554 5.7.1 spam\r\n", "0 Failed 5.7.1 554 5.7.1 spam\n1 Failed 5.1.1 550 5.1.1 unknown\n"
                                                     "2 Failed 5.7.1 554 5.7.1 spam\n"}}) {
        INFO(c.final_reply);
        ClientSession s = greeted(edge_policy(), kEhloFull);
        s.begin_message(message({"bob@example.net", "carol@example.net", "dave@example.net"}));
        CHECK(peer(s, "250 OK\r\n250 OK\r\n550 5.1.1 unknown\r\n250 OK\r\n354 go\r\n") == "Subject: hi\r\n\r\nHello\r\n.\r\n");
        CHECK(peer(s, c.final_reply).empty());  // the transaction is over: no RSET needed
        CHECK(result_of(s) == c.expected);
        CHECK(s.ready_for_message());
    }
}

TEST_CASE("client: when no recipient is accepted no content is sent and RSET ends the transaction", "[smtp][client][data]") {
    SECTION("without PIPELINING") {
        ClientSession s = greeted(edge_policy(), kEhloBasic);
        s.begin_message(message({"bob@example.net"}));
        dialog(s, {{"250 OK\r\n", "RCPT TO:<bob@example.net>\r\n"}, {"550 5.1.1 unknown\r\n", "RSET\r\n"}});
        CHECK_FALSE(s.take_message_result());  // after the RSET reply
        CHECK(peer(s, "250 2.0.0 Resetting\r\n").empty());
        CHECK(result_of(s) == "0 Failed 5.1.1 550 5.1.1 unknown\n");
        CHECK(s.ready_for_message());
    }
    SECTION("pipelined DATA refused") {
        ClientSession s = greeted(edge_policy(), kEhloFull);
        s.begin_message(message({"bob@example.net", "carol@example.net"}));
        CHECK(peer(s, "250 OK\r\n550 5.1.1 unknown\r\n450 4.7.1 greylisted\r\n554 5.5.1 No valid recipients\r\n") ==
              "RSET\r\n");
        CHECK(peer(s, "250 OK\r\n").empty());
        CHECK(result_of(s) == "0 Failed 5.1.1 550 5.1.1 unknown\n1 Deferred 4.7.1 450 4.7.1 greylisted\n");
    }
    SECTION("pipelined DATA accepted anyway (RFC 2920 §3.1): a lone dot, its reply ignored, then RSET") {
        ClientSession s = greeted(edge_policy(), kEhloFull);
        s.begin_message(message({"bob@example.net"}));
        CHECK(peer(s, "250 OK\r\n550 5.1.1 unknown\r\n354 go ahead\r\n") == ".\r\nRSET\r\n");
        CHECK(peer(s, "250 2.6.0 queued an empty message\r\n").empty());
        CHECK_FALSE(s.take_message_result());
        CHECK(peer(s, "250 2.0.0 reset\r\n").empty());
        CHECK(result_of(s) == "0 Failed 5.1.1 550 5.1.1 unknown\n");
        CHECK(s.ready_for_message());
    }
}

TEST_CASE("client: a refused MAIL decides every recipient with its reply", "[smtp][client][data]") {
    SECTION("pipelined: the RCPT and DATA replies are still read") {
        ClientSession s = greeted(edge_policy(), kEhloFull);
        s.begin_message(message({"bob@example.net", "carol@example.net"}));
        CHECK(peer(s, "452 4.3.1 Insufficient system resources\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need MAIL\r\n"
                      "503 5.5.1 need MAIL\r\n") == "RSET\r\n");
        CHECK(peer(s, "250 OK\r\n").empty());
        CHECK(result_of(s) == "0 Deferred 4.3.1 452 4.3.1 Insufficient system resources\n"
                              "1 Deferred 4.3.1 452 4.3.1 Insufficient system resources\n");
    }
    SECTION("one command at a time") {
        ClientSession s = greeted(edge_policy(), kEhloBasic);
        s.begin_message(message({"bob@example.net"}));
        dialog(s, {{"553 5.1.8 sender rejected\r\n", "RSET\r\n"}, {"250 OK\r\n", ""}});
        CHECK(result_of(s) == "0 Failed 5.1.8 553 5.1.8 sender rejected\n");
    }
}

TEST_CASE("client: 452 too many recipients splits the rest into a further transaction on the same connection",
          "[smtp][client][split]") {
    SECTION("pipelined") {
        ClientSession s = greeted(edge_policy(), kEhloFull);
        s.begin_message(message({"r0@example.net", "r1@example.net", "r2@example.net", "r3@example.net"}));
        CHECK(peer(s, "250 OK\r\n250 OK\r\n250 OK\r\n452 4.5.3 Too many recipients\r\n550 5.1.1 unknown\r\n354 go\r\n") ==
              "Subject: hi\r\n\r\nHello\r\n.\r\n");
        // The first transaction's end starts the second, with only the split recipient.
        CHECK(peer(s, "250 2.6.0 first\r\n") ==
              "MAIL FROM:<alice@contoso.com> SIZE=22\r\nRCPT TO:<r2@example.net>\r\nDATA\r\n");
        CHECK_FALSE(s.take_message_result());
        CHECK(peer(s, "250 OK\r\n250 OK\r\n354 go\r\n") == "Subject: hi\r\n\r\nHello\r\n.\r\n");
        CHECK(peer(s, "250 2.6.0 second\r\n").empty());
        CHECK(result_of(s) == "0 Delivered 2.6.0 250 2.6.0 first\n"
                              "1 Delivered 2.6.0 250 2.6.0 first\n"
                              "2 Delivered 2.6.0 250 2.6.0 second\n"
                              "3 Failed 5.1.1 550 5.1.1 unknown\n");
        CHECK(s.ready_for_message());
    }
    SECTION("one command at a time: the unsent ones go with it, old 552 5.5.3 counts too") {
        ClientSession s = greeted(edge_policy(), kEhloBasic);
        s.begin_message(message({"r0@example.net", "r1@example.net", "r2@example.net"}));
        dialog(s, {{"250 OK\r\n", "RCPT TO:<r0@example.net>\r\n"},
                   {"250 OK\r\n", "RCPT TO:<r1@example.net>\r\n"},
                   {"552 5.5.3 Too many recipients\r\n", "DATA\r\n"},
                   {"354 go\r\n", "Subject: hi\r\n\r\nHello\r\n.\r\n"},
                   {"250 one\r\n", "MAIL FROM:<alice@contoso.com>\r\n"},
                   {"250 OK\r\n", "RCPT TO:<r1@example.net>\r\n"},
                   {"250 OK\r\n", "RCPT TO:<r2@example.net>\r\n"},
                   {"452 Too many\r\n", "DATA\r\n"},
                   {"354 go\r\n", "Subject: hi\r\n\r\nHello\r\n.\r\n"},
                   {"250 two\r\n", "MAIL FROM:<alice@contoso.com>\r\n"},
                   {"250 OK\r\n", "RCPT TO:<r2@example.net>\r\n"},
                   {"250 OK\r\n", "DATA\r\n"},
                   {"354 go\r\n", "Subject: hi\r\n\r\nHello\r\n.\r\n"},
                   {"250 three\r\n", ""}});
        CHECK(result_of(s) == "0 Delivered 2.0.0 250 one\n1 Delivered 2.0.0 250 two\n2 Delivered 2.0.0 250 three\n");
    }
    SECTION("452 before anyone was accepted is a deferral, not a loop") {
        ClientSession s = greeted(edge_policy(), kEhloFull);
        s.begin_message(message({"r0@example.net", "r1@example.net"}));
        CHECK(peer(s, "250 OK\r\n452 4.5.3 Too many recipients\r\n250 OK\r\n354 go\r\n") ==
              "Subject: hi\r\n\r\nHello\r\n.\r\n");
        CHECK(peer(s, "250 done\r\n").empty());
        CHECK(result_of(s) == "0 Deferred 4.5.3 452 4.5.3 Too many recipients\n1 Delivered 2.0.0 250 done\n");
    }
    SECTION("452 4.3.1 (back pressure) is a deferral even after an accepted recipient") {
        ClientSession s = greeted(edge_policy(), kEhloFull);
        s.begin_message(message({"r0@example.net", "r1@example.net"}));
        CHECK(peer(s, "250 OK\r\n250 OK\r\n452 4.3.1 Insufficient system resources\r\n354 go\r\n") ==
              "Subject: hi\r\n\r\nHello\r\n.\r\n");
        CHECK(peer(s, "250 done\r\n").empty());
        CHECK(result_of(s) == "0 Delivered 2.0.0 250 done\n1 Deferred 4.3.1 452 4.3.1 Insufficient system resources\n");
    }
    SECTION("the split recipients are Deferred when the connection dies before their transaction") {
        ClientSession s = greeted(edge_policy(), kEhloFull);
        s.begin_message(message({"r0@example.net", "r1@example.net"}));
        peer(s, "250 OK\r\n250 OK\r\n452 4.5.3 Too many recipients\r\n354 go\r\n");
        CHECK(peer(s, "421 4.3.2 shutting down\r\n") == "[Close]");
        CHECK(result_of(s) == "0 Deferred 4.3.2 421 4.3.2 shutting down\n1 Deferred 4.3.2 421 4.3.2 shutting down\n");
    }
}

TEST_CASE("client: with CHUNKING the content goes byte for byte in BDAT LAST after the RCPT replies", "[smtp][client][bdat]") {
    // Bare LF and a lone dot line: BDAT has no end marker, so nothing is rewritten.
    constexpr std::string_view raw = "Subject: x\n\n.\nline\r\n";
    SECTION("delivered") {
        ClientSession s = greeted(edge_policy(), kEhloChunking);
        CHECK(wire(s.begin_message(message({"bob@example.net", "carol@example.net"}, raw))) ==
              "MAIL FROM:<alice@contoso.com> SIZE=20\r\nRCPT TO:<bob@example.net>\r\nRCPT TO:<carol@example.net>\r\n");
        auto actions = [&] {
            ReplyReader r;
            r.feed("250 OK\r\n250 OK\r\n550 5.1.1 unknown\r\n");
            std::vector<ClientAction> all;
            while (auto x = r.next())
                for (auto& a : s.on_reply(*x)) all.push_back(std::move(a));
            return all;
        }();
        REQUIRE(actions.size() == 1);
        CHECK(actions[0].bytes == "BDAT 20 LAST\r\n");
        CHECK(actions[0].content == raw);
        CHECK(actions[0].content.data() == raw.data());  // a view of the caller's content, not a copy
        CHECK(peer(s, "250 2.0.0 20 octets received, queued\r\n").empty());
        CHECK(result_of(s) == "0 Delivered 2.0.0 250 2.0.0 20 octets received, queued\n1 Failed 5.1.1 550 5.1.1 unknown\n");
        CHECK(s.ready_for_message());
    }
    SECTION("refused: RSET, as the state after a refused BDAT is indeterminate (RFC 3030)") {
        ClientSession s = greeted(edge_policy(), kEhloChunking);
        s.begin_message(message({"bob@example.net"}, raw));
        CHECK(peer(s, "250 OK\r\n250 OK\r\n") == std::string("BDAT 20 LAST\r\n") + std::string(raw));
        CHECK(peer(s, "554 5.6.0 bare LF\r\n") == "RSET\r\n");
        CHECK(peer(s, "250 OK\r\n").empty());
        CHECK(result_of(s) == "0 Failed 5.6.0 554 5.6.0 bare LF\n");
    }
    SECTION("no recipient accepted: no BDAT") {
        ClientSession s = greeted(edge_policy(), kEhloChunking);
        s.begin_message(message({"bob@example.net"}, raw));
        CHECK(peer(s, "250 OK\r\n550 5.1.1 unknown\r\n") == "RSET\r\n");
    }
    SECTION("empty content") {
        ClientSession s = greeted(edge_policy(), kEhloChunking);
        s.begin_message(message({"bob@example.net"}, ""));
        CHECK(peer(s, "250 OK\r\n250 OK\r\n") == "BDAT 0 LAST\r\n");
    }
}

TEST_CASE("client: encode_for_data makes every line end CRLF, doubles leading dots and ends with CRLF.CRLF",
          "[smtp][client][data][smuggling]") {
    struct Case {
        std::string in, out;
    };
    const std::vector<Case> cases = {
        {"", ".\r\n"},
        {"a", "a\r\n.\r\n"},
        {"a\r\n", "a\r\n.\r\n"},
        {"\r\n", "\r\n.\r\n"},
        {".", "..\r\n.\r\n"},
        {"..", "...\r\n.\r\n"},
        {".\r\n", "..\r\n.\r\n"},
        {"a\r\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n"},
        {"a\r\n.b\r\n..c\r\n", "a\r\n..b\r\n...c\r\n.\r\n"},
        {"a.b\r\n", "a.b\r\n.\r\n"},
        // The smuggling sequences (CVE-2023-51764): each becomes a stuffed dot line
        // between real CRLFs, never an end of data.
        {"a\n.\nb", "a\r\n..\r\nb\r\n.\r\n"},
        {"a\r.\rb", "a\r\n..\r\nb\r\n.\r\n"},
        {"a\r\n.\nb", "a\r\n..\r\nb\r\n.\r\n"},
        {"a\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n"},
        {"a\r.\r\nb", "a\r\n..\r\nb\r\n.\r\n"},
        {"\n.\n", "\r\n..\r\n.\r\n"},
        {"\r.\r", "\r\n..\r\n.\r\n"},
        {"a\n", "a\r\n.\r\n"},
        {"a\r", "a\r\n.\r\n"},
        {"a\r\r\n", "a\r\n\r\n.\r\n"},
        {"a\n\r", "a\r\n\r\n.\r\n"},
        {"8-bit \xff\xfe\r\n", "8-bit \xff\xfe\r\n.\r\n"},
    };
    for (const auto& c : cases) {
        INFO(Catch::Detail::stringify(c.in));
        CHECK(encode_for_data(c.in) == c.out);
    }
}

TEST_CASE("client: encode_for_data output never holds a bare CR or LF, and only its last line is a lone dot",
          "[smtp][client][data][smuggling][fuzz]") {
    std::mt19937 rng(51764);
    const std::string alphabet = "\r\n.a";
    for (int round = 0; round < 5000; ++round) {
        std::string in;
        for (std::size_t n = rng() % 24; n > 0; --n) in.push_back(alphabet[rng() % alphabet.size()]);
        std::string out = encode_for_data(in);
        INFO(Catch::Detail::stringify(in) << " -> " << Catch::Detail::stringify(out));
        for (std::size_t i = 0; i < out.size(); ++i) {
            if (out[i] == '\r') REQUIRE((i + 1 < out.size() && out[i + 1] == '\n'));
            if (out[i] == '\n') REQUIRE((i > 0 && out[i - 1] == '\r'));
        }
        REQUIRE((out.ends_with("\r\n.\r\n") || out == ".\r\n"));
        std::size_t end = out.find("\r\n.\r\n");
        REQUIRE((end == out.size() - 5 || (out == ".\r\n")));
        REQUIRE_FALSE((out.starts_with(".\r\n") && out != ".\r\n"));
    }
}

TEST_CASE("the client sends the next message on the same connection, then QUIT", "[smtp][client]") {
    ClientSession s = greeted(edge_policy(), kEhloFull);
    for (int i = 0; i < 2; ++i) {
        CHECK(wire(s.begin_message(message({"bob@example.net"}))) ==
              "MAIL FROM:<alice@contoso.com> SIZE=22\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n");
        CHECK(peer(s, "250 OK\r\n250 OK\r\n354 go\r\n") == "Subject: hi\r\n\r\nHello\r\n.\r\n");
        CHECK(peer(s, "250 2.6.0 queued\r\n").empty());
        CHECK(result_of(s) == "0 Delivered 2.6.0 250 2.6.0 queued\n");
    }
    CHECK(wire(s.quit()) == "QUIT\r\n");
    CHECK(s.state() == ClientState::Quitting);
    CHECK(peer(s, "221 2.0.0 Bye\r\n") == "[Close]");
    CHECK(s.state() == ClientState::Closed);
    CHECK_FALSE(s.failed());
    s.on_connection_lost("peer closed");  // after QUIT this is no failure
    CHECK_FALSE(s.failed());
    CHECK(wire(s.quit()) == "[Close]");
}

TEST_CASE("the client fails on a reply the protocol does not allow and defers what is in flight",
          "[smtp][client][failure]") {
    ClientSession s = greeted(edge_policy(), kEhloBasic);
    s.begin_message(message({"bob@example.net"}));
    CHECK(peer(s, "354 go ahead\r\n") == "[Close]");
    CHECK(s.failed());
    CHECK(s.failure_scope() == FailureScope::Message);
    CHECK(s.failure() == "Unexpected reply from mx1.example.net while waiting for the reply to MAIL FROM: 354 go ahead");
    CHECK(result_of(s) == "0 Deferred 4.5.0 451 4.5.0 Unexpected reply from mx1.example.net while waiting for the reply to "
                          "MAIL FROM: 354 go ahead\n");
    CHECK(peer(s, "250 OK\r\n").empty());  // nothing more is read
}

TEST_CASE("the client fails on a reply it did not ask for", "[smtp][client][failure]") {
    SECTION("idle") {
        ClientSession s = greeted(edge_policy(), kEhloBasic);
        CHECK(peer(s, "250 surprise\r\n") == "[Close]");
        CHECK(s.failure_scope() == FailureScope::Connection);
        CHECK(s.failure() == "Unexpected reply from mx1.example.net while idle: 250 surprise");
    }
    SECTION("idle 421") {
        ClientSession s = greeted(edge_policy(), kEhloBasic);
        CHECK(peer(s, "421 4.4.1 idle timeout\r\n") == "[Close]");
        CHECK(s.failure() == "mx1.example.net closed the session: 421 4.4.1 idle timeout");
    }
    SECTION("a 2xx to DATA") {
        ClientSession s = greeted(edge_policy(), kEhloFull);
        s.begin_message(message({"bob@example.net"}));
        CHECK(peer(s, "250 OK\r\n250 OK\r\n250 OK\r\n") == "[Close]");
        CHECK(result_of(s).find("0 Deferred 4.5.0 451 4.5.0") == 0);
    }
}

TEST_CASE("client: a 421 at any point defers the recipients in flight with the peer's reply and closes",
          "[smtp][client][failure]") {
    ClientSession s = greeted(edge_policy(), kEhloFull);
    s.begin_message(message({"bob@example.net", "carol@example.net", "dave@example.net"}));
    CHECK(peer(s, "250 OK\r\n250 OK\r\n550 5.1.1 unknown\r\n421 4.3.2 Service shutting down\r\n") == "[Close]");
    CHECK(result_of(s) == "0 Deferred 4.3.2 421 4.3.2 Service shutting down\n"
                          "1 Failed 5.1.1 550 5.1.1 unknown\n"
                          "2 Deferred 4.3.2 421 4.3.2 Service shutting down\n");
    CHECK(s.failure_scope() == FailureScope::Message);
    CHECK(s.failure() == "mx1.example.net closed the session: 421 4.3.2 Service shutting down");
}

TEST_CASE("client: a lost connection defers the recipients not yet decided and names what was awaited",
          "[smtp][client][failure]") {
    SECTION("after the end of data: Deferred (the peer may have it: RFC 1047 duplicates are the lesser evil)") {
        ClientSession s = greeted(edge_policy(), kEhloFull);
        s.begin_message(message({"bob@example.net", "carol@example.net"}));
        peer(s, "250 OK\r\n250 OK\r\n550 5.1.1 unknown\r\n354 go\r\n");
        s.on_connection_lost("connection reset by peer");
        CHECK(s.failure() ==
              "Connection to mx1.example.net lost while waiting for the reply to the end of data: connection reset by peer");
        CHECK(s.failure_scope() == FailureScope::Message);
        CHECK(result_of(s) == "0 Deferred 4.4.2 451 4.4.2 Connection to mx1.example.net lost while waiting for the reply "
                              "to the end of data: connection reset by peer\n"
                              "1 Failed 5.1.1 550 5.1.1 unknown\n");
    }
    SECTION("idle") {
        ClientSession s = greeted(edge_policy(), kEhloFull);
        s.on_connection_lost("peer closed");
        CHECK(s.failure() == "Connection to mx1.example.net lost while idle: peer closed");
        CHECK(s.failure_scope() == FailureScope::Connection);
        CHECK_FALSE(s.take_message_result());
    }
    SECTION("greeting timeout and TLS handshake failure") {
        ClientSession a(edge_policy());
        a.on_connection_lost("timed out");
        CHECK(a.failure() == "Connection to mx1.example.net lost while waiting for the greeting: timed out");
        ClientSession b(edge_policy());
        dialog(b, {{"220 mx1\r\n", "EHLO edge.contoso.com\r\n"}, {kEhloTls, "STARTTLS\r\n"}, {"220 go\r\n", "[StartTls]"}});
        b.on_connection_lost("certificate verify failed");
        CHECK(b.failure() == "Connection to mx1.example.net lost during the TLS handshake: certificate verify failed");
        CHECK(b.failure_scope() == FailureScope::Connection);
    }
}

TEST_CASE("client: begin_message when the connection is not ready sends nothing and defers every recipient",
          "[smtp][client][failure]") {
    ClientSession s(edge_policy());
    CHECK(s.begin_message(message({"bob@example.net", "carol@example.net"})).empty());
    CHECK(result_of(s) ==
          "0 Deferred 4.4.0 451 4.4.0 The connection to mx1.example.net was not ready for a message\n"
          "1 Deferred 4.4.0 451 4.4.0 The connection to mx1.example.net was not ready for a message\n");
    CHECK(peer(s, "220 mx1\r\n") == "EHLO edge.contoso.com\r\n");  // the session itself is unharmed
}

TEST_CASE("client: quit() in the middle of a message defers it and closes", "[smtp][client]") {
    ClientSession s = greeted(edge_policy(), kEhloFull);
    s.begin_message(message({"bob@example.net"}));
    CHECK(wire(s.quit()) == "QUIT\r\n[Close]");
    CHECK_FALSE(s.failed());
    CHECK(result_of(s) ==
          "0 Deferred 4.4.0 451 4.4.0 The connection to mx1.example.net was closed before the message was sent\n");
}

TEST_CASE("the client's own texts are well formed", "[smtp][client][replies]") {
    auto table = client_text_catalogue();
    for (std::size_t i = 0; i < table.size(); ++i) {
        const ClientTextEntry& e = table[i];
        INFO(e.text);
        CHECK(static_cast<std::size_t>(e.id) == i);
        CHECK(((e.code >= 400 && e.code < 600)));
        REQUIRE(e.enhanced.size() == 5);
        CHECK(e.enhanced[0] == static_cast<char>('0' + e.code / 100));  // RFC 3463: class matches the code
        CHECK(e.text.find_first_of("\r\n") == std::string_view::npos);
        CHECK_FALSE(e.text.empty());
    }
}

TEST_CASE("every client state change is traced with its cause", "[smtp][client]") {
    ClientSession s(edge_policy());
    std::vector<std::string> trace;
    s.on_transition = [&](ClientState from, ClientState to, std::string_view cause) {
        trace.push_back(std::string(to_string(from)) + ">" + to_string(to) + " " + std::string(cause));
    };
    peer(s, "220 mx1\r\n");
    peer(s, kEhloTls);
    peer(s, "220 go\r\n");
    s.on_tls_established();
    peer(s, kEhloBasic);
    s.begin_message(message({"bob@example.net"}));
    peer(s, "250 OK\r\n");
    peer(s, "250 OK\r\n");
    peer(s, "354 go\r\n");
    peer(s, "250 OK\r\n");
    s.quit();
    peer(s, "221 bye\r\n");
    CHECK(trace == std::vector<std::string>{"Connected>Ehlo greeting", "Ehlo>StartTls STARTTLS offered",
                                            "StartTls>TlsHandshake STARTTLS", "TlsHandshake>Ehlo TLS established",
                                            "Ehlo>Ready greeted over TLS", "Ready>Transaction MAIL",
                                            "Transaction>Ready message done", "Ready>Quitting QUIT",
                                            "Quitting>Closed QUIT answered"});
}

// --- fuzz ----------------------------------------------------------------------

TEST_CASE("client: random reply sequences never crash and every message ends with one outcome per recipient",
          "[smtp][client][fuzz]") {
    std::mt19937 rng(3461);
    const std::vector<int> codes = {220, 221, 250, 251, 252, 354, 421, 450, 451, 452, 454, 500, 502, 503, 550, 552, 553, 554};
    const std::vector<std::string> keywords = {"PIPELINING", "STARTTLS", "SIZE 30", "SIZE", "8BITMIME", "DSN",
                                               "CHUNKING", "SMTPUTF8", "ENHANCEDSTATUSCODES"};
    const std::vector<std::string> enhanced = {"", "x.5.3 ", "x.1.1 ", "x.0.0 ", "x.3.1 "};
    const std::vector<std::string_view> contents = {"", "Subject: a\r\n\r\nb\r\n", "a\n.\nb", "\xff.\r\n..\r",
                                                    "a rather longer body that is over thirty bytes\r\n"};
    int messages = 0, delivered = 0, failures = 0;
    for (int round = 0; round < 20000; ++round) {
        ClientPolicy p = edge_policy();
        p.force_helo = rng() % 8 == 0;
        p.ignore_starttls = rng() % 4 == 0;
        p.require_tls = rng() % 3 == 0;
        p.tls_possible = rng() % 6 != 0;
        ClientSession s(p);
        std::map<int, std::size_t> begun;  // message number -> recipient count
        int next_message = 0, results = 0;
        auto check_actions = [&](const std::vector<ClientAction>& actions) {
            for (const auto& a : actions) {
                if (a.kind != ClientAction::Kind::Send) continue;
                // RequireTLS: not a byte of a transaction in clear.
                if (p.require_tls && !s.tls_active()) {
                    REQUIRE(a.bytes.find("MAIL FROM") == std::string::npos);
                    REQUIRE(a.content.empty());
                }
                for (std::size_t i = 0; i < a.bytes.size(); ++i)
                    if (a.bytes[i] == '\n') REQUIRE((i > 0 && a.bytes[i - 1] == '\r'));
            }
        };
        auto drain = [&] {
            while (auto r = s.take_message_result()) {
                REQUIRE(begun.count(results) == 1);
                std::set<std::size_t> seen;
                for (const auto& o : *r) {
                    REQUIRE(seen.insert(o.index).second);  // one outcome per recipient
                    REQUIRE(o.status.size() >= 5);
                    REQUIRE(o.status[0] == (o.result == RecipientResult::Delivered ? '2'
                                            : o.result == RecipientResult::Deferred ? '4'
                                                                                    : '5'));
                    if (o.result == RecipientResult::Delivered) ++delivered;
                }
                REQUIRE(seen.size() == begun[results]);
                ++results;
            }
        };
        for (int step = 0; step < 40 && s.state() != ClientState::Closed; ++step) {
            auto pick = rng() % 20;
            if (s.ready_for_message() && pick < 6) {
                OutboundMessage m;
                m.sender = rng() % 5 == 0 ? "\xc3\xa5@contoso.com" : "a@contoso.com";
                std::size_t n = rng() % 5;
                for (std::size_t i = 0; i < n; ++i)
                    m.recipients.push_back({i, rng() % 6 == 0 ? "j\xc3\xb6@x.net" : "r" + std::to_string(i) + "@x.net",
                                            rng() % 2 ? "" : "rfc822;o+1@x.net", static_cast<std::uint8_t>(rng() % 16)});
                m.content = contents[rng() % contents.size()];
                m.ret = static_cast<OutboundMessage::Ret>(rng() % 3);
                begun[next_message++] = n;
                check_actions(s.begin_message(m));
            } else if (pick == 6) {
                check_actions(s.on_tls_established());
            } else if (pick == 7 && rng() % 4 == 0) {
                s.on_connection_lost("fuzz");
            } else if (pick == 8 && rng() % 4 == 0) {
                check_actions(s.quit());
            } else {
                // Mostly what a peer would plausibly say here, so the dialogs get deep.
                int code = codes[rng() % codes.size()];
                if (rng() % 4 != 0) {
                    switch (s.awaiting()) {
                        case Awaiting::Greeting:
                        case Awaiting::StartTls: code = 220; break;
                        case Awaiting::Data: code = 354; break;
                        case Awaiting::Rcpt: code = rng() % 5 == 0 ? 452 : 250; break;
                        case Awaiting::Quit: code = 221; break;
                        default: code = 250; break;
                    }
                }
                std::string raw;
                std::size_t extra = rng() % 3 == 0 ? rng() % 4 : 0;
                std::string e = enhanced[rng() % enhanced.size()];
                if (!e.empty()) e[0] = static_cast<char>('0' + code / 100);
                raw += std::to_string(code) + (extra ? "-" : " ") + e + "text\r\n";
                for (std::size_t i = 0; i < extra; ++i)
                    raw += std::to_string(code) + (i + 1 < extra ? "-" : " ") + keywords[rng() % keywords.size()] + "\r\n";
                ReplyReader reader;
                reader.feed(raw);
                REQUIRE_FALSE(reader.failed());
                while (auto r = reader.next()) check_actions(s.on_reply(*r));
            }
            drain();
        }
        if (s.state() != ClientState::Closed) s.on_connection_lost("end of the test");
        drain();
        REQUIRE(s.state() == ClientState::Closed);
        REQUIRE(results == next_message);  // every message begun has its result
        messages += next_message;
        if (s.failed()) ++failures;
    }
    // The random dialogs reach the interesting places, not only the greeting.
    INFO("messages " << messages << ", delivered " << delivered << ", failures " << failures);
    CHECK(messages > 1000);
    CHECK(delivered > 300);
    CHECK(failures > 1000);
}

// --- AUTH to a smart host (SmartHostAuthMechanism BasicAuth) ---------------------------

namespace {
ClientPolicy auth_policy(bool require_tls = false) {
    ClientPolicy p = edge_policy();
    p.auth_user = "edge";
    p.auth_password = "s3cret";
    p.auth_require_tls = require_tls;
    return p;
}
bool any_secret(const std::vector<ClientAction>& actions) {
    for (const auto& a : actions)
        if (a.secret) return true;
    return false;
}
}  // namespace

TEST_CASE("BasicAuth: AUTH PLAIN with the credentials before any message, marked secret for the log",
          "[smtp][client][auth]") {
    ClientSession s(auth_policy());
    CHECK(peer(s, "220 hub ESMTP\r\n") == "EHLO edge.contoso.com\r\n");
    ReplyReader reader;
    reader.feed("250-hub\r\n250-AUTH LOGIN PLAIN\r\n250 PIPELINING\r\n");
    auto actions = s.on_reply(*reader.next());
    // base64("\0edge\0s3cret")
    CHECK(wire(actions) == "AUTH PLAIN AGVkZ2UAczNjcmV0\r\n");
    CHECK(any_secret(actions));
    CHECK_FALSE(s.ready_for_message());
    CHECK(s.state() == ClientState::Authenticating);
    CHECK(peer(s, "235 2.7.0 Authentication successful\r\n").empty());
    CHECK(s.ready_for_message());
}

TEST_CASE("BasicAuth: AUTH LOGIN when PLAIN is not offered (the old AUTH= form too)", "[smtp][client][auth]") {
    ClientSession s(auth_policy());
    CHECK(peer(s, "220 hub ESMTP\r\n") == "EHLO edge.contoso.com\r\n");
    CHECK(peer(s, "250-hub\r\n250 AUTH=LOGIN\r\n") == "AUTH LOGIN\r\n");
    ReplyReader reader;
    reader.feed("334 VXNlcm5hbWU6\r\n");
    auto user = s.on_reply(*reader.next());
    CHECK(wire(user) == "ZWRnZQ==\r\n");  // base64("edge")
    CHECK(any_secret(user));
    CHECK(peer(s, "334 UGFzc3dvcmQ6\r\n") == "czNjcmV0\r\n");  // base64("s3cret")
    CHECK(peer(s, "235 2.7.0 OK\r\n").empty());
    CHECK(s.ready_for_message());
}

TEST_CASE("BasicAuth: refused credentials, no mechanism, or no TLS for BasicAuthRequireTLS send no message",
          "[smtp][client][auth]") {
    SECTION("535") {
        ClientSession s(auth_policy());
        peer(s, "220 hub ESMTP\r\n");
        CHECK(peer(s, "250-hub\r\n250 AUTH PLAIN\r\n").starts_with("AUTH PLAIN"));
        CHECK(peer(s, "535 5.7.8 Authentication credentials invalid\r\n") == "QUIT\r\n[Close]");
        CHECK(s.failure() == "mx1.example.net refused our credentials: 535 5.7.8 Authentication credentials invalid");
        CHECK(s.failure_scope() == FailureScope::Connection);
        CHECK_FALSE(s.ready_for_message());
    }
    SECTION("not offered") {
        ClientSession s(auth_policy());
        peer(s, "220 hub ESMTP\r\n");
        CHECK(peer(s, "250-hub\r\n250 PIPELINING\r\n") == "QUIT\r\n[Close]");
        CHECK(s.failure() == "SmartHostAuthMechanism is BasicAuth and mx1.example.net offers no AUTH PLAIN or LOGIN");
    }
    SECTION("BasicAuthRequireTLS: STARTTLS first, AUTH only inside TLS") {
        ClientSession s(auth_policy(true));
        peer(s, "220 hub ESMTP\r\n");
        CHECK(peer(s, "250-hub\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n") == "STARTTLS\r\n");
        CHECK(peer(s, "220 2.0.0 go ahead\r\n") == "[StartTls]");
        CHECK(wire(s.on_tls_established()) == "EHLO edge.contoso.com\r\n");
        CHECK(peer(s, "250-hub\r\n250 AUTH PLAIN\r\n").starts_with("AUTH PLAIN "));
    }
    SECTION("BasicAuthRequireTLS without STARTTLS") {
        ClientSession s(auth_policy(true));
        peer(s, "220 hub ESMTP\r\n");
        CHECK(peer(s, "250-hub\r\n250 AUTH PLAIN\r\n") == "QUIT\r\n[Close]");
        CHECK(s.failure().find("BasicAuthRequireTLS") != std::string::npos);
    }
}
