// The metrics and health endpoint (issue 21): HTTP/1.1 with Boost.Beast on the
// Set-TransportServer -MetricsBindings, serving
//   GET /metrics  the Prometheus text exposition (exposition.hpp)
//   GET /healthz  200 while the process runs (it answers, so its I/O thread turns)
//   GET /readyz   200 when ready, else 503 with a one-line reason
// Runs on the server's I/O thread: the handlers read I/O-thread state without locks.
// A scraper is bounded like an SMTP client: 8 KB of request header (which bounds the
// field count too), no body, 10 s per request read and per reply write, 16 connections
// at once, 100 requests per connection; past a limit the connection is closed.
#pragma once

#include "asio.hpp"
#include "ip.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace edge::metrics {

struct HttpLimits {
    std::size_t header_bytes = 8192;
    std::chrono::milliseconds io_timeout{10'000};
    std::size_t connections = 16;
    std::size_t requests_per_connection = 100;
};

struct HttpHandlers {
    std::function<std::string()> metrics;                     // the /metrics body
    std::function<std::optional<std::string>()> not_ready;   // why not ready; nullopt = ready
};

class HttpEndpoint {
public:
    HttpEndpoint(asio::io_context& io, HttpHandlers handlers, std::function<void(const std::string&)> say,
                 HttpLimits limits = {});
    ~HttpEndpoint();
    HttpEndpoint(const HttpEndpoint&) = delete;
    HttpEndpoint& operator=(const HttpEndpoint&) = delete;

    // Listens on `bindings` (the live -MetricsBindings): opens the new ones, closes the
    // ones no longer wanted. A binding that cannot be opened is said and retried at the
    // next reconcile; the others serve. An empty list: off.
    void reconcile(const std::vector<routing::Binding>& bindings);
    // Closes every listener (shutdown); connections end at their next read.
    void stop();
    std::size_t listening() const { return listeners_.size(); }

    struct Listener;

private:
    asio::awaitable<void> accept_loop(std::shared_ptr<Listener> l);
    asio::awaitable<void> serve(tcp::socket sock);

    asio::io_context& io_;
    HttpHandlers handlers_;
    std::function<void(const std::string&)> say_;
    HttpLimits limits_;
    std::map<std::string, std::shared_ptr<Listener>> listeners_;  // by Binding text
    std::shared_ptr<std::size_t> open_connections_ = std::make_shared<std::size_t>(0);
    std::shared_ptr<bool> stopped_ = std::make_shared<bool>(false);
};

}  // namespace edge::metrics
