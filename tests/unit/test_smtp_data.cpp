// The DATA reader: the end-of-data rule, dot-unstuffing, smuggling and limits.
#include "data_reader.hpp"

#include <catch2/catch.hpp>

#include <random>

using namespace edge::smtp;

namespace {
std::string joined(std::vector<std::string> chunks) {
    std::string s;
    for (auto& c : chunks) s += c;
    return s;
}

// Feeds `in` in pieces of `step` bytes (1 = byte by byte); returns bytes consumed.
std::size_t feed_in_steps(DataReader& r, std::string_view in, std::size_t step) {
    std::size_t used = 0;
    while (used < in.size() && !r.done()) used += r.feed(in.substr(used, step));
    return used;
}
}  // namespace

TEST_CASE("CRLF.CRLF ends DATA and what follows is left for the next command", "[smtp][data]") {
    for (std::size_t step : {std::size_t{1}, std::size_t{3}, std::size_t{1000}}) {
        INFO("step " << step);
        DataReader r({});
        std::string in = "Subject: hi\r\n\r\nline one\r\n..dotted\r\n.also\r\n.\r\nQUIT\r\n";
        std::size_t used = feed_in_steps(r, in, step);
        REQUIRE(r.done());
        CHECK(in.substr(used) == "QUIT\r\n");
        CHECK_FALSE(r.refusal());
        CHECK(joined(r.take_body()) == "Subject: hi\r\n\r\nline one\r\n.dotted\r\nalso\r\n");
    }
}

TEST_CASE("an empty message is a message", "[smtp][data]") {
    DataReader r({});
    CHECK(r.feed(".\r\n") == 3);
    CHECK(r.done());
    CHECK_FALSE(r.refusal());
    CHECK(joined(r.take_body()).empty());
}

TEST_CASE("a bare LF or CR never ends DATA and never queues a second message", "[smtp][data][smuggling]") {
    // The SMTP smuggling variants (CVE-2023-51764 and friends): each would end DATA
    // on a lenient server, and the "smuggled" MAIL FROM after it would start a second
    // message. Here none ends the data; the real CRLF.CRLF does, and the message is
    // refused because of the bare line ending.
    const char* variants[] = {"\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n", "\r.\r\n", "\n.\r", "\r\n.\r"};
    for (const char* v : variants) {
        INFO("variant " << Catch::Detail::stringify(std::string(v)));
        DataReader r({});
        std::string smuggled = std::string("Subject: a\r\n\r\nbody") + v +
                               "MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\n";
        std::size_t used = r.feed(smuggled);
        CHECK(used == smuggled.size());
        CHECK_FALSE(r.done());  // still inside the first message
        std::string end = "more\r\n.\r\nQUIT\r\n";
        std::size_t used2 = r.feed(end);
        REQUIRE(r.done());
        CHECK(end.substr(used2) == "QUIT\r\n");
        CHECK(r.refusal() == ReplyId::BareLineEnding);
        CHECK(r.take_body().empty());  // nothing of it is queued
    }
}

TEST_CASE("size limits are enforced while streaming and bound the memory used", "[smtp][data][limits]") {
    DataReader r({.max_message_size = 1000, .max_header_size = 500});
    std::string header = "Subject: x\r\n\r\n";
    r.feed(header);
    std::string line(98, 'a');
    line += "\r\n";
    for (int i = 0; i < 10000; ++i) r.feed(line);  // ~1 MB against a 1,000-byte limit
    CHECK_FALSE(r.done());
    r.feed(".\r\n");
    REQUIRE(r.done());
    CHECK(r.refusal() == ReplyId::MessageTooBig);
    CHECK(r.size() > 1000000);
    CHECK(r.take_body().empty());
}

TEST_CASE("a header section larger than MaxHeaderSize is refused, a large body is not a large header", "[smtp][data][limits]") {
    DataReader big_header({.max_message_size = 100000, .max_header_size = 100});
    big_header.feed("X-Long: " + std::string(200, 'h') + "\r\n\r\nbody\r\n.\r\n");
    REQUIRE(big_header.done());
    CHECK(big_header.refusal() == ReplyId::HeaderTooBig);

    DataReader big_body({.max_message_size = 100000, .max_header_size = 100});
    big_body.feed("Subject: s\r\n\r\n" + std::string(5000, 'b') + "\r\n.\r\n");
    REQUIRE(big_body.done());
    CHECK_FALSE(big_body.refusal());
    CHECK(joined(big_body.take_body()).size() == 14 + 5002);
}

TEST_CASE("any split of a message into reads gives the same result", "[smtp][data]") {
    std::mt19937 rng(7);
    std::string msg = "From: a@b\r\nSubject: split\r\n\r\n";
    std::string wire = msg;
    for (int i = 0; i < 200; ++i) {
        std::string line = (i % 7 == 0 ? "." : "") + std::string(static_cast<std::size_t>(i % 50), 'x') + "\r\n";
        msg += line;
        wire += (line.starts_with('.') ? "." : "") + line;  // the client's dot-stuffing
    }
    wire += ".\r\n";
    const std::string& expected = msg;
    for (int round = 0; round < 50; ++round) {
        DataReader r({});
        std::size_t used = 0;
        while (!r.done()) {
            std::size_t n = 1 + rng() % 40;
            used += r.feed(std::string_view(wire).substr(used, n));
        }
        CHECK(used == wire.size());
        CHECK(joined(r.take_body()) == expected);
    }
}
