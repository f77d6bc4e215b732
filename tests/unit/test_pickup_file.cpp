// The Pickup directory file parser (transport/server/pickup_file.*): Exchange's rules for
// X-Sender/X-Receiver, To/Cc/Bcc and From, Bcc removal, line ends and the limits.
#include "pickup_file.hpp"

#include <catch2/catch.hpp>

using edge::server::address_list;
using edge::server::parse_pickup_file;
using edge::server::PickupLimits;

TEST_CASE("X-Receiver gives the recipients and X-Sender the sender, and both leave the message", "[pickup]") {
    auto p = parse_pickup_file("X-Sender: <a@x.test>\r\nX-Receiver: b@y.test\r\nX-Receiver: <c@y.test>\r\n"
                               "To: ignored@y.test\r\nSubject: s\r\n\r\nbody\r\n",
                               {});
    REQUIRE(p.message);
    CHECK(p.message->sender == "a@x.test");
    CHECK(p.message->recipients == std::vector<std::string>{"b@y.test", "c@y.test"});
    CHECK(p.message->message == "To: ignored@y.test\r\nSubject: s\r\n\r\nbody\r\n");
}

TEST_CASE("without X-Receiver the recipients come from To, Cc and Bcc, Bcc is removed and LF becomes CRLF", "[pickup]") {
    auto p = parse_pickup_file("From: \"Doe, J\" <j@x.test> (work)\nTo: Team: a@y.test, \"B\" <b@y.test>;\n"
                               "Cc: undisclosed-recipients:;\nBcc: hidden@y.test,\n A@Y.test\n\nline\n",
                               {});
    REQUIRE(p.message);
    CHECK(p.message->sender == "j@x.test");
    CHECK(p.message->recipients == std::vector<std::string>{"a@y.test", "b@y.test", "hidden@y.test"});
    CHECK(p.message->message.find("Bcc") == std::string::npos);
    CHECK(p.message->message.find("hidden") == std::string::npos);
    CHECK(p.message->message.ends_with("\r\n\r\nline\r\n"));
}

TEST_CASE("a bad Pickup file is refused with one line saying why", "[pickup]") {
    PickupLimits small;
    small.max_recipients = 2;
    small.max_header_size = 40000;
    const std::pair<std::string, std::string> cases[] = {
        {"", "the file is empty"},
        {"not a header\r\n\r\n", "line 1 is not a header field (name: value)"},
        {"To: a@y.test\r\n\r\n", "no sender: neither X-Sender: nor From:"},
        {"From: a@x.test\r\nSubject: s\r\n\r\n", "no recipients: no X-Receiver: and no address in To:, Cc: or Bcc:"},
        {"From: a@x.test\r\nX-Receiver: b@y.test\r\n\r\n", "X-Receiver: comes after other header fields; it must come first"},
        {"X-Sender: a@x.test\r\nX-Sender: b@x.test\r\n\r\n", "more than one X-Sender:"},
        {"From: a@x.test\r\nTo: a@y.test, b@y.test, c@y.test\r\n\r\n",
         "more than PickupDirectoryMaxRecipientsPerMessage (2) recipients"},
        {"From: a@x.test\r\nTo: nobody\r\n\r\n", "the recipient 'nobody' is not a valid address: no '@'"},
        {"From: a@x.test\r\nTo: b@y.test\r\n\r\nbare\rCR\r\n", "the file holds a bare CR (a CR not followed by LF)"},
        {"From: a@x.test\r\nTo: b@y.test\r\nX: " + std::string(40000, 'x') + "\r\n\r\n",
         "the header is larger than PickupDirectoryMaxHeaderSize (40000 bytes)"},
    };
    for (const auto& [file, why] : cases) {
        INFO(file.substr(0, 60));
        auto p = parse_pickup_file(file, small);
        CHECK_FALSE(p.message);
        CHECK(p.error == why);
    }
    PickupLimits tiny;
    tiny.max_size = 10;
    CHECK(parse_pickup_file("From: a@x.test\r\nTo: b@y.test\r\n\r\n", tiny).error.starts_with("the file is 32 bytes, larger"));
}

TEST_CASE("address lists: angle addresses, quoted local parts, comments, groups", "[pickup]") {
    CHECK(address_list("a@b.test") == std::vector<std::string>{"a@b.test"});
    CHECK(address_list("\"x, y\" <q@b.test>, (c) r@b.test") == std::vector<std::string>{"q@b.test", "r@b.test"});
    CHECK(address_list("\"quoted;local\"@b.test") == std::vector<std::string>{"\"quoted;local\"@b.test"});
    CHECK(address_list("G: ;").empty());
}
