// The one async idiom (transport/async/): spawn() logs and counts what escapes a
// coroutine, and the shutdown wait group wakes its waiter without polling. One
// io_context, no sockets, no sleeps.
#include "spawn.hpp"
#include "wait_group.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

using namespace edge;
using namespace std::chrono_literals;

namespace {
asio::awaitable<void> throws_after_a_turn() {
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    throw std::runtime_error("the queue went away");
}
asio::awaitable<void> returns(bool* ran) {
    *ran = true;
    co_return;
}
asio::awaitable<void> wait_for(async::WaitGroup& group, std::chrono::steady_clock::time_point deadline, int* result) {
    *result = (co_await group.wait_until(deadline)) ? 1 : 0;
}
}  // namespace

TEST_CASE("an exception that escapes a spawned coroutine is logged with what it was, and counted", "[async][spawn]") {
    std::vector<std::string> lines;
    async::set_escaped_exception_log([&lines](const std::string& l) { lines.push_back(l); });
    const auto before = async::escaped_exceptions();
    asio::io_context io;
    bool done = false;
    async::spawn(io.get_executor(), throws_after_a_turn(), "SMTP session 08DC0001", [&done] { done = true; });
    io.run();
    async::set_escaped_exception_log({});
    CHECK(async::escaped_exceptions() == before + 1);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0] == "SMTP session 08DC0001 ended by an exception: the queue went away");
    CHECK(done);  // the registry still hears of the end
}

TEST_CASE("a coroutine that returns is neither logged nor counted, and its done still runs", "[async][spawn]") {
    std::vector<std::string> lines;
    async::set_escaped_exception_log([&lines](const std::string& l) { lines.push_back(l); });
    const auto before = async::escaped_exceptions();
    asio::io_context io;
    bool ran = false, done = false;
    async::spawn(io.get_executor(), returns(&ran), "config poll", [&done] { done = true; });
    io.run();
    async::set_escaped_exception_log({});
    CHECK(ran);
    CHECK(done);
    CHECK(lines.empty());
    CHECK(async::escaped_exceptions() == before);
}

TEST_CASE("the wait group's waiter is woken by the last member to leave, long before its deadline", "[async][wait group]") {
    asio::io_context io;
    async::WaitGroup group(io.get_executor());
    group.add(2);
    int result = -1;
    const auto start = std::chrono::steady_clock::now();
    async::spawn(io.get_executor(), wait_for(group, start + 1h, &result), "waiter");
    asio::post(io, [&] { group.done(); });
    asio::post(io, [&] {
        CHECK(result == -1);  // one member is still there
        group.done();
    });
    io.run_for(30s);  // a bound for a broken wait group, never reached when it works
    CHECK(result == 1);
    CHECK(group.count() == 0);
    CHECK(std::chrono::steady_clock::now() - start < 10s);
}

TEST_CASE("the wait group says so when its deadline passes with members left", "[async][wait group]") {
    asio::io_context io;
    async::WaitGroup group(io.get_executor());
    group.add();
    int result = -1;
    async::spawn(io.get_executor(), wait_for(group, std::chrono::steady_clock::now(), &result), "waiter");
    io.run();
    CHECK(result == 0);
    CHECK(group.count() == 1);
}

TEST_CASE("an empty wait group does not wait at all", "[async][wait group]") {
    asio::io_context io;
    async::WaitGroup group(io.get_executor());
    int result = -1;
    async::spawn(io.get_executor(), wait_for(group, std::chrono::steady_clock::time_point::max(), &result), "waiter");
    io.run();
    CHECK(result == 1);
}
