// The milter client: one message's Conversation (milter_protocol.hpp) over a connection
// to one milter, TCP host:port or unix:/path, as an Asio coroutine. Every step is
// bounded — connect by ConnectTimeout, each write and each reply by CommandTimeout,
// the whole conversation by a deadline — and every failure (refused, timeout, a
// malformed packet, a protocol violation) ends as Verdict::Failed with why: the
// caller applies the milter's DefaultAction. Nothing throws out of converse().
#pragma once

#include "milter_protocol.hpp"

#include "asio.hpp"

#include <chrono>
#include <string>

namespace edge::milter {

struct MilterTarget {
    std::string name;     // for messages
    std::string address;  // canonical: "host:port", "[v6]:port", "unix:/path"
    std::chrono::milliseconds connect_timeout{30000};
    std::chrono::milliseconds command_timeout{30000};
    // The whole conversation, however often the milter says SMFIR_PROGRESS (Postfix's
    // milter_content_timeout, 300 s, bounds the content phase the same way).
    std::chrono::milliseconds deadline{330000};
};

// Talks to the milter about one message and says how it ended.
asio::awaitable<Outcome> converse(const MilterTarget& target, MessageFacts facts, Options offered = {});

}  // namespace edge::milter
