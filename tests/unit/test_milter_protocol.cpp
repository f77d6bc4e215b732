// The milter protocol's pure half (transport/milter/milter_protocol.*): framing, option
// negotiation, the conversation's steps, every reply and modification, malformed input.
#include "milter_protocol.hpp"

#include <catch2/catch.hpp>

#include <cstring>

using namespace edge::milter;

namespace {

std::string u32(std::uint32_t v) {
    std::string s(4, '\0');
    s[0] = static_cast<char>(v >> 24), s[1] = static_cast<char>(v >> 16), s[2] = static_cast<char>(v >> 8),
    s[3] = static_cast<char>(v);
    return s;
}
std::string z(std::string_view s) { return std::string(s) + '\0'; }
Packet optneg(std::uint32_t actions = action::kAll, std::uint32_t protocol = 0, std::string macros = {}) {
    return {reply::kOptNeg, u32(6) + u32(actions) + u32(protocol) + macros};
}
Packet simple(char c, std::string data = {}) { return {c, std::move(data)}; }

MessageFacts facts() {
    MessageFacts f;
    f.client_addr = "192.0.2.1";
    f.client_name = "[192.0.2.1]";
    f.helo = "client.example";
    f.sender = "a@client.example";
    f.recipients = {"u1@contoso.test", "u2@contoso.test"};
    f.headers = {{"From", " a@client.example"}, {"Subject", " Hello\r\n there"}};
    f.body = "Body.\r\n";
    f.macros = {{"j", "edge.test"}, {"i", "S1"}};
    return f;
}

// The commands (codes) in `bytes`, macros left out.
std::string codes(const std::string& bytes) {
    PacketReader r;
    r.feed(bytes);
    std::string out;
    Packet p;
    while (r.next(p) == PacketReader::Status::Ready)
        if (p.code != cmd::kMacro) out.push_back(p.code);
    return out;
}

// Answers "continue" until end of body, then `at_eom`.
Outcome run(Conversation& c, const std::vector<Packet>& at_eom, std::string* sent = nullptr) {
    std::string all = c.take_output();
    c.on_reply(optneg());
    for (int guard = 0; guard < 100 && !c.done(); ++guard) {
        std::string out = c.take_output();
        all += out;
        if (codes(out).ends_with('E')) {
            for (const auto& p : at_eom) c.on_reply(p);
            break;
        }
        c.on_reply(simple(reply::kContinue));
    }
    all += c.take_output();
    if (sent) *sent = all;
    return c.outcome();
}

}  // namespace

TEST_CASE("milter framing: a packet is length, code, data, and length 0 or oversized lengths are refused before buffering",
          "[milter]") {
    CHECK(encode('c') == std::string("\0\0\0\1c", 5));
    PacketReader r;
    Packet p;
    r.feed(std::string("\0\0\0\3", 4));
    CHECK(r.next(p) == PacketReader::Status::NeedMore);
    CHECK(r.wanted() == 3);
    r.feed("hab");
    REQUIRE(r.next(p) == PacketReader::Status::Ready);
    CHECK(p.code == 'h');
    CHECK(p.data == "ab");
    PacketReader zero;
    zero.feed(std::string(4, '\0'));
    CHECK(zero.next(p) == PacketReader::Status::Malformed);
    PacketReader big;
    big.feed(u32(kMaxPacket + 1));
    CHECK(big.next(p) == PacketReader::Status::Malformed);
    CHECK(big.wanted() == 1);  // nothing more is read for it
}

TEST_CASE("milter negotiation: version, actions, protocol bits and macro lists, and what was not offered is refused",
          "[milter]") {
    Options offered;
    std::string error;
    auto o = parse_optneg(optneg(action::kAddHeaders, proto::kNoHelo | proto::kNoReplyHeader,
                                 u32(2) + z("{mail_addr} i") + u32(0) + z("j,{client_addr}")),
                          offered, error);
    REQUIRE(o);
    CHECK(o->protocol == (proto::kNoHelo | proto::kNoReplyHeader));
    CHECK(o->macros[2] == std::vector<std::string>{"{mail_addr}", "i"});
    CHECK(o->macros[0] == std::vector<std::string>{"j", "{client_addr}"});
    CHECK_FALSE(parse_optneg(optneg(0x400000), offered, error));  // an action we do not have
    CHECK_FALSE(parse_optneg(optneg(0, proto::kRcptRejected), offered, error));
    CHECK_FALSE(parse_optneg({reply::kOptNeg, u32(1) + u32(0) + u32(0)}, offered, error));
    CHECK_FALSE(parse_optneg({reply::kOptNeg, u32(6) + u32(0)}, offered, error));      // truncated
    CHECK_FALSE(parse_optneg(optneg(0, 0, u32(9) + z("i")), offered, error));         // unknown stage
    CHECK_FALSE(parse_optneg(optneg(0, 0, u32(1) + "i"), offered, error));            // no NUL
    CHECK_FALSE(parse_optneg(simple(reply::kContinue), offered, error));
}

TEST_CASE("milter conversation: every step in order, continue to the end, no-send steps left out, no-reply steps "
          "pipelined",
          "[milter]") {
    Conversation c(facts());
    std::string sent;
    Outcome o = run(c, {simple(reply::kContinue)}, &sent);
    CHECK(o.verdict == Verdict::Continue);
    CHECK(codes(sent) == "OCHMRRTLLNBEQ");
    CHECK(sent.find(z("{mail_addr}") + z("a@client.example")) != std::string::npos);
    CHECK(sent.find(z("Subject") + z("Hello\n there")) != std::string::npos);  // leading space off, LF folding

    Conversation skip(facts());
    skip.take_output();
    skip.on_reply(optneg(0, proto::kNoHelo | proto::kNoBody | proto::kNoReplyConnect | proto::kNoReplyHeader));
    // connect (no reply) and mail go together; helo is not sent
    CHECK(codes(skip.take_output()) == "CM");
    skip.on_reply(simple(reply::kContinue));
    CHECK(codes(skip.take_output()) == "R");
    skip.on_reply(simple(reply::kContinue));
    CHECK(codes(skip.take_output()) == "R");
    skip.on_reply(simple(reply::kContinue));
    CHECK(codes(skip.take_output()) == "T");
    skip.on_reply(simple(reply::kContinue));
    CHECK(codes(skip.take_output()) == "LLN");  // headers unanswered, then end of headers
    skip.on_reply(simple(reply::kProgress));     // still working: nothing changes
    CHECK(skip.awaiting_reply());
    skip.on_reply(simple(reply::kContinue));
    CHECK(codes(skip.take_output()) == "E");     // no body chunk
    skip.on_reply(simple(reply::kAccept));
    CHECK(skip.outcome().verdict == Verdict::Accept);
}

TEST_CASE("milter replies: accept, reject, tempfail, discard, reply codes, skip and refused recipients", "[milter]") {
    auto at = [](char step_code, Packet answer) {
        Conversation c(facts());
        c.take_output();
        c.on_reply(optneg());
        for (int guard = 0; guard < 50 && !c.done(); ++guard) {
            std::string out = c.take_output();
            c.on_reply(codes(out).ends_with(step_code) ? answer : simple(reply::kContinue));
        }
        return c.outcome();
    };
    CHECK(at('C', simple(reply::kAccept)).verdict == Verdict::Accept);
    CHECK(at('H', simple(reply::kReject)).verdict == Verdict::Reject);
    CHECK(at('M', simple(reply::kTempFail)).verdict == Verdict::TempFail);
    CHECK(at('T', simple(reply::kDiscard)).verdict == Verdict::Discard);
    Outcome y = at('E', simple(reply::kReplyCode, z("554 5.7.1 Gtube pattern")));
    CHECK(y.verdict == Verdict::Reject);
    CHECK(y.reply == "554 5.7.1 Gtube pattern");
    CHECK(at('N', simple(reply::kReplyCode, z("451 4.7.1 later"))).verdict == Verdict::TempFail);
    CHECK(at('E', simple(reply::kReplyCode, z("250 ok"))).verdict == Verdict::Failed);
    CHECK(at('E', simple('z')).verdict == Verdict::Failed);
    CHECK(at('C', simple(reply::kShutdown)).verdict == Verdict::Failed);
    CHECK(at('M', simple(reply::kSkip)).verdict == Verdict::Failed);  // skip answers a body chunk only
    CHECK(at('B', simple(reply::kSkip)).verdict == Verdict::Failed);  // SMFIP_SKIP not negotiated
    Conversation skip(facts());
    skip.take_output();
    skip.on_reply(optneg(0, proto::kSkip));
    for (int guard = 0; guard < 50 && !skip.done(); ++guard) {
        std::string out = skip.take_output();
        skip.on_reply(codes(out).ends_with('B') ? simple(reply::kSkip) : simple(reply::kContinue));
    }
    CHECK(skip.outcome().verdict == Verdict::Continue);
    // Every recipient refused at RCPT refuses the message; one refused is recorded.
    Outcome all = at('R', simple(reply::kReject));
    CHECK(all.verdict == Verdict::Reject);
    CHECK(all.rejected_recipients.size() == 2);
    Conversation one(facts());
    one.take_output();
    one.on_reply(optneg());
    int rcpt = 0;
    for (int guard = 0; guard < 50 && !one.done(); ++guard) {
        std::string out = one.take_output();
        const bool second = codes(out).ends_with('R') && ++rcpt == 2;
        one.on_reply(second ? simple(reply::kReplyCode, z("550 5.1.1 no")) : simple(reply::kContinue));
    }
    CHECK(one.outcome().verdict == Verdict::Continue);
    CHECK(one.outcome().rejected_recipients == std::vector<std::string>{"u2@contoso.test"});
    // A multi-line reply is one line; CR/LF and control bytes go.
    CHECK(validate_reply_code("550-5.7.1 first\r\n550 5.7.1 second\x01") == "550 5.7.1 first second");
    CHECK_FALSE(validate_reply_code("550-a\r\n551 b"));
    CHECK_FALSE(validate_reply_code("55x nope"));
}

TEST_CASE("milter modifications at end of message, applied to the header, body and envelope", "[milter]") {
    Conversation c(facts());
    Outcome o = run(c, {simple(reply::kAddHeader, z("X-Added") + z("yes")),
                        simple(reply::kInsertHeader, u32(0) + z("X-Top") + z("first")),
                        simple(reply::kChangeHeader, u32(1) + z("Subject") + z("New\nsubject")),
                        simple(reply::kChangeHeader, u32(1) + z("From") + z("")),
                        simple(reply::kReplaceBody, "New\nbody\n"),
                        simple(reply::kAddRcpt, z("<new@contoso.test>")),
                        simple(reply::kAddRcptPar, z("<par@contoso.test>") + z("NOTIFY=NEVER")),
                        simple(reply::kDelRcpt, z("<u1@contoso.test>")),
                        simple(reply::kChangeFrom, z("<>")),
                        simple(reply::kQuarantine, z("held")),
                        simple(reply::kContinue)});
    REQUIRE(o.verdict == Verdict::Continue);
    const auto& m = o.modifications;
    CHECK(m.add_recipients == std::vector<std::string>{"new@contoso.test", "par@contoso.test"});
    CHECK(m.remove_recipients == std::vector<std::string>{"u1@contoso.test"});
    CHECK(m.sender == "");
    CHECK(m.body == "New\r\nbody\r\n");
    CHECK(o.quarantine == "held");
    auto fields = apply_header_changes(facts().headers, m.headers);
    CHECK(join_message(fields, *m.body) ==
          "X-Top: first\r\nSubject: New\r\n\tsubject\r\nX-Added: yes\r\n\r\nNew\r\nbody\r\n");
    // The message splits back as it was joined.
    auto [again, body] = split_message("A: 1\r\nB: x\r\n y\r\n\r\nbody\r\n");
    CHECK(again.size() == 2);
    CHECK(again[1].second == " x\r\n y");
    CHECK(body == "body\r\n");
    CHECK(unfolded_value(again[1].second) == "x y");
}

TEST_CASE("milter protocol violations end the conversation as Failed: modifications before the end or not negotiated, "
          "malformed actions, a replaced body over the size",
          "[milter]") {
    auto eom = [](std::uint32_t actions, std::vector<Packet> answers, std::uint64_t max = 0) {
        MessageFacts f = facts();
        f.max_message_size = max;
        Conversation c(f);
        c.take_output();
        c.on_reply(optneg(actions));
        for (int guard = 0; guard < 50 && !c.done(); ++guard) {
            std::string out = c.take_output();
            if (codes(out).ends_with('E')) {
                for (const auto& p : answers) c.on_reply(p);
                break;
            }
            c.on_reply(simple(reply::kContinue));
        }
        return c.outcome();
    };
    // rspamd and clamav-milter add their headers at the end of the message, then accept:
    // the headers stay (libmilter's SMFIS_ACCEPT from xxfi_eom). A reject makes them moot.
    {
        const Outcome kept = eom(action::kAll, {simple(reply::kAddHeader, z("X-Spam-Status") + z("No, score=0.1")),
                                                simple(reply::kAccept)});
        CHECK(kept.verdict == Verdict::Accept);
        REQUIRE(kept.modifications.headers.size() == 1);
        CHECK(kept.modifications.headers[0].name == "X-Spam-Status");
        const Outcome moot = eom(action::kAll, {simple(reply::kAddHeader, z("X") + z("y")), simple(reply::kReject)});
        CHECK(moot.verdict == Verdict::Reject);
        CHECK(moot.modifications.headers.empty());
    }
    CHECK(eom(0, {simple(reply::kAddHeader, z("X") + z("y"))}).verdict == Verdict::Failed);
    CHECK(eom(action::kAll, {simple(reply::kAddHeader, z("Bad:Name") + z("y"))}).verdict == Verdict::Failed);
    CHECK(eom(action::kAll, {simple(reply::kAddHeader, "X")}).verdict == Verdict::Failed);  // no NUL
    CHECK(eom(action::kAll, {simple(reply::kChangeHeader, "ab")}).verdict == Verdict::Failed);
    CHECK(eom(action::kAll, {simple(reply::kAddRcpt, z("a b@c"))}).verdict == Verdict::Failed);
    CHECK(eom(action::kAll, {simple(reply::kReplaceBody, std::string(70, 'x')), simple(reply::kReplaceBody, std::string(70, 'x'))},
              100)
              .verdict == Verdict::Failed);
    // A modification at MAIL.
    Conversation c(facts());
    c.take_output();
    c.on_reply(optneg());
    c.take_output();
    c.on_reply(simple(reply::kContinue));  // connect
    c.take_output();
    c.on_reply(simple(reply::kAddHeader, z("X") + z("y")));  // at HELO
    CHECK(c.outcome().verdict == Verdict::Failed);
    CHECK(c.done());
    // A reply after the end, and a driver failure, change nothing more.
    c.on_reply(simple(reply::kAccept));
    CHECK(c.outcome().verdict == Verdict::Failed);
    Conversation d(facts());
    d.fail("timed out");
    CHECK(d.outcome().verdict == Verdict::Failed);
    CHECK(d.outcome().error == "timed out");
    // A header change that would inject a field is folded instead.
    CHECK(raw_value_of("a\nB: injected") == " a\r\n\tB: injected");
}
