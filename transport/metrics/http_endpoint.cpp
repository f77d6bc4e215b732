// The metrics and health endpoint over Boost.Beast: see http_endpoint.hpp.
#include "http_endpoint.hpp"

#include "completion.hpp"
#include "exposition.hpp"
#include "spawn.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <fmt/format.h>

namespace edge::metrics {

namespace beast = boost::beast;
namespace http = beast::http;
using async::use_tuple;

struct HttpEndpoint::Listener {
    explicit Listener(asio::io_context& io) : acceptor(io) {}
    tcp::acceptor acceptor;
    std::string key;
};

HttpEndpoint::HttpEndpoint(asio::io_context& io, HttpHandlers handlers, std::function<void(const std::string&)> say,
                           HttpLimits limits)
    : io_(io), handlers_(std::move(handlers)), say_(std::move(say)), limits_(limits) {}

HttpEndpoint::~HttpEndpoint() { stop(); }

void HttpEndpoint::stop() {
    *stopped_ = true;
    for (auto& [key, l] : listeners_) {
        boost::system::error_code ec;
        l->acceptor.close(ec);
    }
    listeners_.clear();
}

void HttpEndpoint::reconcile(const std::vector<routing::Binding>& bindings) {
    if (*stopped_) return;
    std::map<std::string, routing::Binding> wanted;
    for (const auto& b : bindings) wanted.emplace(b.str(), b);
    for (auto it = listeners_.begin(); it != listeners_.end();) {
        if (wanted.contains(it->first)) {
            ++it;
            continue;
        }
        boost::system::error_code ec;
        it->second->acceptor.close(ec);
        say_(fmt::format("metrics: no longer listening on {}", it->first));
        it = listeners_.erase(it);
    }
    for (const auto& [key, binding] : wanted) {
        if (listeners_.contains(key)) continue;
        auto l = std::make_shared<Listener>(io_);
        l->key = key;
        boost::system::error_code ec;
        auto addr = asio::ip::make_address(binding.address.str(), ec);
        tcp::endpoint ep(addr, binding.port);
        if (!ec) l->acceptor.open(ep.protocol(), ec);
        if (!ec) l->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec && ep.protocol() == tcp::v6()) l->acceptor.set_option(asio::ip::v6_only(true), ec);
        if (!ec) l->acceptor.bind(ep, ec);
        if (!ec) l->acceptor.listen(64, ec);
        if (ec) {
            say_(fmt::format("metrics: cannot listen on {}: {}", key, ec.message()));
            continue;
        }
        say_(fmt::format("metrics: listening on {} (/metrics, /healthz, /readyz)", key));
        listeners_.emplace(key, l);
        async::spawn(io_.get_executor(), accept_loop(l), "metrics listener on " + key);
    }
}

asio::awaitable<void> HttpEndpoint::accept_loop(std::shared_ptr<Listener> l) {
    while (l->acceptor.is_open()) {
        auto [ec, sock] = co_await l->acceptor.async_accept(use_tuple);
        if (ec == asio::error::operation_aborted || !l->acceptor.is_open()) co_return;
        if (ec) {
            // Out of descriptors: wait a little rather than spin.
            asio::steady_timer t(io_);
            t.expires_after(std::chrono::milliseconds(100));
            co_await t.async_wait(use_tuple);
            continue;
        }
        if (*open_connections_ >= limits_.connections) continue;  // closed unanswered: a scraper needs one
        ++*open_connections_;
        async::spawn(io_.get_executor(), serve(std::move(sock)), "metrics connection",
                     [count = open_connections_] { --*count; });
    }
}

asio::awaitable<void> HttpEndpoint::serve(tcp::socket sock) {
    beast::tcp_stream stream(std::move(sock));
    beast::flat_buffer buffer(limits_.header_bytes);  // its max_size bounds what one read may hold
    for (std::size_t n = 0; n < limits_.requests_per_connection && !*stopped_; ++n) {
        http::request_parser<http::empty_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(limits_.header_bytes));
        parser.body_limit(0);  // GET has none; any body is an error and closes
        stream.expires_after(limits_.io_timeout);
        auto [ec, bytes] = co_await http::async_read(stream, buffer, parser, use_tuple);
        if (ec) break;  // closed, timed out, too large, malformed: no answer owed
        const auto& req = parser.get();
        http::response<http::string_body> res;
        res.version(11);
        res.keep_alive(req.keep_alive());
        res.set(http::field::server, "edge-transport");
        const std::string_view target(req.target().data(), req.target().size());
        const std::string_view path = target.substr(0, target.find('?'));
        if (req.method() != http::verb::get && req.method() != http::verb::head) {
            res.result(http::status::method_not_allowed);
            res.set(http::field::allow, "GET, HEAD");
            res.set(http::field::content_type, "text/plain; charset=utf-8");
            res.body() = "only GET and HEAD\n";
        } else if (path == "/metrics") {
            res.result(http::status::ok);
            res.set(http::field::content_type, kExpositionContentType);
            res.body() = handlers_.metrics ? handlers_.metrics() : std::string();
        } else if (path == "/healthz") {
            res.result(http::status::ok);
            res.set(http::field::content_type, "text/plain; charset=utf-8");
            res.body() = "ok\n";
        } else if (path == "/readyz") {
            auto why = handlers_.not_ready ? handlers_.not_ready() : std::nullopt;
            res.result(why ? http::status::service_unavailable : http::status::ok);
            res.set(http::field::content_type, "text/plain; charset=utf-8");
            res.body() = why ? "not ready: " + *why + "\n" : std::string("ready\n");
        } else {
            res.result(http::status::not_found);
            res.set(http::field::content_type, "text/plain; charset=utf-8");
            res.body() = "not found: /metrics, /healthz, /readyz\n";
        }
        res.prepare_payload();
        if (req.method() == http::verb::head) res.body().clear();  // Content-Length stays the GET's
        stream.expires_after(limits_.io_timeout);
        auto [wec, written] = co_await http::async_write(stream, res, use_tuple);
        if (wec || !res.keep_alive()) break;
    }
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.socket().close(ec);
}

}  // namespace edge::metrics
