// The pre-greet test's pure parts (issue 17): when the driver waits before the banner,
// what the wait came to, and the bounded memory of clients that passed.
#include "pre_greet.hpp"

#include <catch2/catch.hpp>

using namespace edge::receive;
using namespace std::chrono_literals;
using boost::asio::ip::make_address;

TEST_CASE("the pre-greet wait happens only when PreGreetDelay is set, for strangers that did not pass lately",
          "[receive][pre-greet]") {
    CHECK(pre_greet_step(0s, false, false, false) == PreGreetStep::Greet);  // off by default
    CHECK(pre_greet_step(2s, false, false, false) == PreGreetStep::Wait);
    CHECK(pre_greet_step(2s, true, false, false) == PreGreetStep::Greet);   // a hub or partner
    CHECK(pre_greet_step(2s, false, true, false) == PreGreetStep::Greet);   // allow-listed
    CHECK(pre_greet_step(2s, false, false, true) == PreGreetStep::Greet);   // passed within PreGreetCacheTime
}

TEST_CASE("a client that sends before the banner is an early talker, one that closes is not", "[receive][pre-greet]") {
    CHECK(judge_pre_greet(false, 0) == PreGreetOutcome::Passed);
    CHECK(judge_pre_greet(true, 6) == PreGreetOutcome::EarlyTalker);
    CHECK(judge_pre_greet(true, 1) == PreGreetOutcome::EarlyTalker);
    CHECK(judge_pre_greet(true, 0) == PreGreetOutcome::Hangup);
    CHECK(kPreGreetPeekBytes <= 64);
}

TEST_CASE("a polite client is remembered for PreGreetCacheTime, then must wait again", "[receive][pre-greet]") {
    PreGreetCache cache;
    const auto t0 = PreGreetCache::Clock::time_point{} + 1000h;
    const auto a = make_address("192.0.2.7");
    CHECK_FALSE(cache.passed(a, t0));
    cache.remember(a, t0, 24h);
    CHECK(cache.passed(a, t0 + 1s));
    CHECK(cache.passed(a, t0 + 24h - 1s));
    CHECK(cache.passed(make_address("::ffff:192.0.2.7"), t0 + 1h));  // one host, either socket family
    CHECK_FALSE(cache.passed(make_address("192.0.2.8"), t0 + 1s));
    CHECK_FALSE(cache.passed(a, t0 + 24h));  // expired: dropped
    CHECK(cache.size() == 0);
    cache.remember(a, t0, 0s);  // PreGreetCacheTime 00:00:00: never remembered
    CHECK_FALSE(cache.passed(a, t0));
    // Passing again renews; talking early forgets.
    cache.remember(a, t0, 1h);
    cache.remember(a, t0 + 50min, 1h);
    CHECK(cache.passed(a, t0 + 100min));
    cache.forget(a);
    CHECK_FALSE(cache.passed(a, t0 + 100min));
    const auto v6 = make_address("2001:db8::25");
    cache.remember(v6, t0, 1h);
    CHECK(cache.passed(v6, t0));
    CHECK_FALSE(cache.passed(make_address("2001:db8::26"), t0));
}

TEST_CASE("the pre-greet memory stays within its bound under a flood of distinct sources, oldest pass first",
          "[receive][pre-greet][limits]") {
    PreGreetCache cache(1000);
    const auto t0 = PreGreetCache::Clock::time_point{} + 1000h;
    auto v4 = [](std::uint32_t n) { return boost::asio::ip::address(boost::asio::ip::address_v4(0x0a000000u + n)); };
    for (std::uint32_t i = 0; i < 100000; ++i) cache.remember(v4(i), t0, 24h);
    CHECK(cache.size() == 1000);
    CHECK_FALSE(cache.passed(v4(0), t0));
    CHECK_FALSE(cache.passed(v4(98999), t0));
    CHECK(cache.passed(v4(99000), t0));
    CHECK(cache.passed(v4(99999), t0));
    // A renewed pass moves to the front and outlives newer strangers.
    cache.remember(v4(99000), t0, 24h);
    for (std::uint32_t i = 200000; i < 200999; ++i) cache.remember(v4(i), t0, 24h);
    CHECK(cache.passed(v4(99000), t0));
    CHECK_FALSE(cache.passed(v4(99001), t0));
    CHECK(PreGreetCache().capacity() == 100000);
}
