// The milter client's I/O (see the header): connect, then write what the Conversation
// says and read one packet at a time, never more than the packet being read.
#include "milter_client.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <fmt/format.h>

#include <array>

namespace edge::milter {

namespace {
using namespace boost::asio::experimental::awaitable_operators;
using clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// Races `op` (an awaitable of tuple<error_code, T>) against a timer; timed_out when
// the timer wins. Style §7: no cancel_after in Asio 1.81.
template <class Op>
auto bounded(Op op, clock::duration limit) -> asio::awaitable<typename Op::value_type> {
    asio::steady_timer timer(co_await asio::this_coro::executor, limit);
    auto r = co_await (std::move(op) || timer.async_wait(kTuple));
    if (r.index() == 1) {
        typename Op::value_type v{};
        std::get<0>(v) = asio::error::timed_out;
        co_return v;
    }
    co_return std::get<0>(std::move(r));
}

std::string why(const boost::system::error_code& ec) {
    return ec == asio::error::timed_out ? "timed out" : ec == asio::error::eof ? "the milter closed the connection" : ec.message();
}

template <class Stream>
asio::awaitable<void> drive(Stream& s, Conversation& c, const MilterTarget& t, clock::time_point deadline) {
    PacketReader reader;
    std::array<char, 16384> buf;
    auto limit = [&] {
        auto left = deadline - clock::now();
        return std::max<clock::duration>(std::min<clock::duration>(t.command_timeout, left), clock::duration::zero());
    };
    while (true) {
        std::string out = c.take_output();
        if (!out.empty()) {
            auto [ec, n] = co_await bounded(asio::async_write(s, asio::buffer(out), kTuple), limit());
            if (ec) {
                c.fail("writing: " + why(ec));
                co_return;
            }
        }
        if (c.done() || !c.awaiting_reply()) co_return;
        Packet p;
        while (true) {
            const auto status = reader.next(p);
            if (status == PacketReader::Status::Ready) break;
            if (status == PacketReader::Status::Malformed) {
                c.fail("malformed packet: " + std::string(reader.error()));
                co_return;
            }
            const std::size_t want = std::min(buf.size(), reader.wanted());
            auto [ec, n] = co_await bounded(s.async_read_some(asio::buffer(buf.data(), want), kTuple), limit());
            if (ec) {
                c.fail("waiting for a reply: " + why(ec));
                co_return;
            }
            reader.feed(std::string_view(buf.data(), n));
        }
        c.on_reply(p);
    }
}

// The QUIT a finished conversation leaves (or nothing), written without waiting long.
template <class Stream>
asio::awaitable<void> say_goodbye(Stream& s, Conversation& c) {
    std::string out = c.take_output();
    if (!out.empty()) co_await bounded(asio::async_write(s, asio::buffer(out), kTuple), std::chrono::seconds(1));
    boost::system::error_code ignored;
    s.close(ignored);
}
}  // namespace

asio::awaitable<Outcome> converse(const MilterTarget& t, MessageFacts facts, Options offered) {
    const auto deadline = clock::now() + t.deadline;
    Conversation c(std::move(facts), offered);
    auto ex = co_await asio::this_coro::executor;
    auto failed = [&](std::string why_) {
        c.fail(std::move(why_));
        return c.outcome();
    };
    const auto connect_limit = std::min<clock::duration>(t.connect_timeout, t.deadline);
    if (t.address.starts_with("unix:")) {
        asio::local::stream_protocol::socket s(ex);
        auto [ec] = co_await bounded(s.async_connect(asio::local::stream_protocol::endpoint(t.address.substr(5)), kTuple),
                                     connect_limit);
        if (ec) co_return failed(fmt::format("connecting to {}: {}", t.address, why(ec)));
        co_await drive(s, c, t, deadline);
        co_await say_goodbye(s, c);
        co_return c.outcome();
    }
    // host:port or [v6]:port (canonical, checked by the settings table).
    const auto colon = t.address.rfind(':');
    if (colon == std::string::npos) co_return failed("not an address: " + t.address);
    std::string host = t.address.substr(0, colon);
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    const std::string port = t.address.substr(colon + 1);
    tcp::resolver resolver(ex);
    auto [rec, endpoints] = co_await bounded(resolver.async_resolve(host, port, kTuple), connect_limit);
    if (rec) co_return failed(fmt::format("resolving {}: {}", host, why(rec)));
    tcp::socket s(ex);
    auto [ec, ep] = co_await bounded(asio::async_connect(s, endpoints, kTuple), connect_limit);
    if (ec) co_return failed(fmt::format("connecting to {}: {}", t.address, why(ec)));
    boost::system::error_code ignored;
    s.set_option(tcp::no_delay(true), ignored);
    co_await drive(s, c, t, deadline);
    co_await say_goodbye(s, c);
    co_return c.outcome();
}

}  // namespace edge::milter
