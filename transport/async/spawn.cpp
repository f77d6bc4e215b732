// spawn(): co_spawn with a completion handler that logs and counts what escaped.
#include "spawn.hpp"

#include <atomic>
#include <cstdio>
#include <exception>
#include <utility>

namespace edge::async {

namespace {
std::atomic<std::uint64_t> escaped{0};
std::function<void(const std::string&)>& escape_log() {
    static std::function<void(const std::string&)> log = [](const std::string& line) {
        std::fprintf(stderr, "%s\n", line.c_str());
        std::fflush(stderr);
    };
    return log;
}

std::string reason_of(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        return ex.what();
    } catch (...) {
        return "an exception that is not a std::exception";
    }
}
}  // namespace

void spawn(const asio::any_io_executor& ex, asio::awaitable<void> work, std::string what, std::function<void()> done) {
    asio::co_spawn(ex, std::move(work), [what = std::move(what), done = std::move(done)](std::exception_ptr e) {
        if (e) {
            escaped.fetch_add(1, std::memory_order_relaxed);
            if (const auto& log = escape_log()) log(what + " ended by an exception: " + reason_of(e));
        }
        if (done) done();
    });
}

void set_escaped_exception_log(std::function<void(const std::string&)> log) { escape_log() = std::move(log); }

std::uint64_t escaped_exceptions() { return escaped.load(std::memory_order_relaxed); }

}  // namespace edge::async
