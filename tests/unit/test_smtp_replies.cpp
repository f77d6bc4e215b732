// The reply catalogue: every entry well formed, rendering safe.
#include "replies.hpp"

#include <catch2/catch.hpp>

using namespace edge::smtp;

TEST_CASE("every catalogue entry is a well-formed SMTP reply", "[smtp][replies]") {
    std::size_t index = 0;
    for (const auto& e : reply_catalogue()) {
        INFO("entry " << index << ": " << e.code << " " << e.text);
        CHECK(static_cast<std::size_t>(e.id) == index);  // indexed by id
        CHECK(e.code >= 200);
        CHECK(e.code <= 559);
        if (!e.enhanced.empty()) {
            // RFC 3463: class.subject.detail, class = the reply's first digit (2, 4, 5).
            CHECK(e.enhanced.size() >= 5);
            CHECK(e.enhanced[0] == static_cast<char>('0' + e.code / 100));
            CHECK(e.enhanced[1] == '.');
        } else {
            CHECK((e.code == 220 || e.code == 250 || e.code == 354));
        }
        CHECK(e.text.find_first_of("\r\n") == std::string_view::npos);
        CHECK_FALSE(e.text.empty());
        bool positive = e.code < 400;
        CHECK(positive == (e.kind == ReplyClass::Positive));
        if (e.kind == ReplyClass::Fatal) CHECK(e.closes);
        ++index;
    }
    CHECK(index > 40);
}

TEST_CASE("replies render as Exchange writes them", "[smtp][replies]") {
    CHECK(render(ReplyId::SenderOk) == "250 2.1.0 Sender OK");
    CHECK(render(ReplyId::UnableToRelay) == "550 5.7.1 Unable to relay");
    CHECK(render(ReplyId::InsufficientResources) == "452 4.3.1 Insufficient system resources");
    CHECK(render(ReplyId::Queued, {"<abc@edge.contoso.com>"}) == "250 2.6.0 <abc@edge.contoso.com> Queued mail for delivery");
    CHECK(render(ReplyId::StartMailInput) == "354 Start mail input; end with <CRLF>.<CRLF>");
    CHECK(render(ReplyId::HelloOk, {"edge.contoso.com", "192.0.2.1"}, true, true) ==
          "250-edge.contoso.com Hello [192.0.2.1]");
    CHECK(render(ReplyId::SenderOk, {}, false) == "250 Sender OK");  // EnhancedStatusCodesEnabled $false
}

TEST_CASE("a reply argument cannot smuggle a line break into the reply", "[smtp][replies]") {
    CHECK(render(ReplyId::HelloOk, {"evil\r\n250 fake", "1.2.3.4"}) == "250 evil250 fake Hello [1.2.3.4]");
}

TEST_CASE("a client's text echoed into a reply is bounded and holds no control bytes", "[smtp][replies][security]") {
    // Issue 13 weakness 10: a 3,000-character Message-ID with ESC was echoed whole.
    std::string id = "<" + std::string(3000, 'a') + "\x1b]0;PWNED\x07@evil.example>";
    std::string r = render(ReplyId::Queued, {id});
    CHECK(r.starts_with("250 2.6.0 <aaaa"));
    CHECK(r.ends_with("... Queued mail for delivery"));
    CHECK(r.size() <= kMaxSentReplyLine);
    CHECK(r.size() < 255 + 60);
    for (char c : r) {
        INFO("byte " << static_cast<int>(static_cast<unsigned char>(c)));
        CHECK((c >= 0x20 && c < 0x7f));
    }
    // Every control byte (C0, DEL) and every byte >= 0x80 is written as '?'.
    CHECK(render(ReplyId::Queued, {"<a\x1b[31m\x7f\x9b\xc3\xbc@x>"}) == "250 2.6.0 <a?[31m????@x> Queued mail for delivery");
    CHECK(render(ReplyId::HelloOk, {"edge.example", std::string("\0\t", 2)}) == "250 edge.example Hello [??]");
    // An argument at the bound is kept whole.
    std::string at_bound(kMaxReplyArgument, 'b');
    CHECK(render(ReplyId::EhloKeyword, {at_bound}) == "250 " + at_bound);
    // Even many arguments never make a line longer than RFC 5321 §4.5.3.1.5 allows.
    std::string big(kMaxReplyArgument + 10, 'c');
    CHECK(render(ReplyId::HelloOk, {big, big}).size() <= kMaxSentReplyLine);
}
