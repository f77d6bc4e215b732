// The SMTP client core, driven as a dialog: the test plays the peer (its replies go
// through a real ReplyReader) and the driver. No sockets.
#include "reply_reader.hpp"

#include <catch2/catch.hpp>

#include <random>

using namespace edge::smtp;

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
