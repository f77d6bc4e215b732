// The pre-greet test (ours, after Postfix postscreen's pregreet test): with a Receive
// connector's PreGreetDelay set, the server waits that long before its 220 banner,
// reading; a client that talks first is a ratware "early talker" (RFC 5321 §4.3.1: the
// client waits for the greeting). The pure parts live here — what to do before the
// banner, what a wait came to, and the bounded memory of clients that passed — so the
// driver (smtp_connection.cpp) only waits and reads.
#pragma once

// <utility> before Asio: Boost's awaitable.hpp needs std::exchange.
#include <utility>

#include <boost/asio/ip/address.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <unordered_map>

namespace edge::receive {

// What the driver does before the banner.
enum class PreGreetStep : std::uint8_t {
    Greet,  // no test: the banner now
    Wait,   // wait PreGreetDelay, reading, then judge
};

// `delay` is the connector's PreGreetDelay (0 = off). Hubs and partners (`internal`)
// and allow-listed clients are never delayed, nor a client that passed within its
// PreGreetCacheTime (`passed_before`): honest senders pay the delay once.
PreGreetStep pre_greet_step(std::chrono::seconds delay, bool internal, bool allow_listed, bool passed_before);

// What a wait came to.
enum class PreGreetOutcome : std::uint8_t {
    Passed,       // silent for the whole delay: remember it, then the banner
    EarlyTalker,  // sent bytes before the banner: refuse (554 5.5.1), report to Sender Reputation
    Hangup,       // closed (or reset) before the banner: nothing to answer
};
// `readable`: the socket became readable before the delay ended; `bytes`: what one
// read then returned (0 = end of stream or an error).
PreGreetOutcome judge_pre_greet(bool readable, std::size_t bytes);

// The most an early talker gets read of what it sent: enough for the protocol log to
// show the start of its command, never a buffer that grows with what it sends.
inline constexpr std::size_t kPreGreetPeekBytes = 64;

// Clients that passed, each until its own time (its connector's PreGreetCacheTime),
// in memory only: bounded to `capacity` addresses (the least recently passed go
// first), so a flood of distinct sources costs at most that. Not persisted: after a
// restart every client pays the delay once more. Not thread-safe (the I/O thread's).
class PreGreetCache {
public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::size_t kDefaultCapacity = 100000;
    explicit PreGreetCache(std::size_t capacity = kDefaultCapacity);

    // Whether `ip` passed and that pass has not expired at `now` (an expired one is dropped).
    bool passed(const boost::asio::ip::address& ip, Clock::time_point now);
    // `ip` waited politely: remembered until now + ttl (ttl 0: not at all).
    void remember(const boost::asio::ip::address& ip, Clock::time_point now, std::chrono::seconds ttl);
    // An early talker loses any pass it had.
    void forget(const boost::asio::ip::address& ip);

    std::size_t size() const { return lru_.size(); }
    std::size_t capacity() const { return capacity_; }

private:
    using Key = std::array<unsigned char, 16>;  // IPv6, IPv4 as v4-mapped: one key per host
    struct KeyHash {
        std::size_t operator()(const Key& k) const noexcept;
    };
    struct Entry {
        Key key;
        Clock::time_point until;
    };
    static Key key_of(const boost::asio::ip::address& ip);

    std::size_t capacity_;
    std::list<Entry> lru_;  // most recently passed first
    std::unordered_map<Key, std::list<Entry>::iterator, KeyHash> index_;
};

}  // namespace edge::receive
