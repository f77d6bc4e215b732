// The metrics exposition (issue 21): the renderer's rules of the Prometheus text
// format, the registry's counters and histograms, and the HTTP endpoint's bounds
// against a hostile scraper (on loopback, in-process).
#include "exposition.hpp"
#include "http_endpoint.hpp"
#include "registry.hpp"
#include "loopback_socket.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

using namespace edge::metrics;

TEST_CASE("a label value's backslash, quote and newline are escaped, nothing else", "[metrics]") {
    CHECK(escape_label_value(R"(a\b"c)") == R"(a\\b\"c)");
    CHECK(escape_label_value("line1\nline2") == R"(line1\nline2)");
    CHECK(escape_label_value("Default internal receive connector EDGE1") == "Default internal receive connector EDGE1");
    CHECK(escape_help("a\\b\nc \"q\"") == "a\\\\b\\nc \"q\"");
}

TEST_CASE("a counter family renders HELP, TYPE and one line per label set", "[metrics]") {
    CounterVec c("edge_transport_receive_messages_total", "Messages", {"connector", "class"});
    c.add({"Internet \"in\"", "2xx"}, 3);
    c.add({"Internet \"in\"", "5xx"});
    c.add({"Internet \"in\"", "2xx"});
    CHECK(c.value({"Internet \"in\"", "2xx"}) == 4);
    CHECK(c.value({"other", "2xx"}) == 0);
    const std::string text = render({c.collect()});
    CHECK(text ==
          "# HELP edge_transport_receive_messages_total Messages\n"
          "# TYPE edge_transport_receive_messages_total counter\n"
          "edge_transport_receive_messages_total{connector=\"Internet \\\"in\\\"\",class=\"2xx\"} 4\n"
          "edge_transport_receive_messages_total{connector=\"Internet \\\"in\\\"\",class=\"5xx\"} 1\n");
}

TEST_CASE("histogram buckets are cumulative, end at +Inf and agree with _count", "[metrics]") {
    HistogramVec h("edge_transport_receive_accept_latency_seconds", "Accept", {"connector"}, {0.25, 0.5, 1});
    // Binary fractions: the sum is exact.
    for (double v : {0.125, 0.25, 0.375, 0.75, 4.0}) h.observe({"in"}, v);
    const std::string text = render({h.collect()});
    CHECK(text ==
          "# HELP edge_transport_receive_accept_latency_seconds Accept\n"
          "# TYPE edge_transport_receive_accept_latency_seconds histogram\n"
          "edge_transport_receive_accept_latency_seconds_bucket{connector=\"in\",le=\"0.25\"} 2\n"
          "edge_transport_receive_accept_latency_seconds_bucket{connector=\"in\",le=\"0.5\"} 3\n"
          "edge_transport_receive_accept_latency_seconds_bucket{connector=\"in\",le=\"1\"} 4\n"
          "edge_transport_receive_accept_latency_seconds_bucket{connector=\"in\",le=\"+Inf\"} 5\n"
          "edge_transport_receive_accept_latency_seconds_sum{connector=\"in\"} 5.5\n"
          "edge_transport_receive_accept_latency_seconds_count{connector=\"in\"} 5\n");
}

TEST_CASE("a histogram without labels has only le on its buckets", "[metrics]") {
    HistogramVec h("x_seconds", "x", {}, {1});
    h.observe({}, 2);
    const std::string text = render({h.collect()});
    CHECK(text.find("x_seconds_bucket{le=\"1\"} 0\n") != std::string::npos);
    CHECK(text.find("x_seconds_bucket{le=\"+Inf\"} 1\n") != std::string::npos);
    CHECK(text.find("x_seconds_sum 2\n") != std::string::npos);
}

TEST_CASE("values: integers plain, fractions shortest, infinities and NaN as the format spells them", "[metrics]") {
    CHECK(format_value(0) == "0");
    CHECK(format_value(1234567890123) == "1234567890123");
    CHECK(format_value(0.25) == "0.25");
    CHECK(format_value(-3) == "-3");
    CHECK(format_value(1.0 / 0.0) == "+Inf");
    CHECK(format_value(-1.0 / 0.0) == "-Inf");
    CHECK(format_value(0.0 / 0.0) == "NaN");
}

TEST_CASE("reply classes are 2xx, 4xx and 5xx", "[metrics]") {
    CHECK(reply_class(250) == "2xx");
    CHECK(reply_class(452) == "4xx");
    CHECK(reply_class(554) == "5xx");
    CHECK(reply_class(0) == "other");
}

TEST_CASE("every family the registry declares is named by Prometheus's conventions", "[metrics]") {
    Registry r;
    for (const Family& f : r.collect()) {
        INFO(f.name);
        CHECK(f.name.rfind("edge_transport_", 0) == 0);
        if (f.type == MetricType::Counter) CHECK(f.name.ends_with("_total"));
        if (f.type == MetricType::Histogram) CHECK(f.name.ends_with("_seconds"));
    }
}

namespace {
// The loopback connection of every test, with a receive timeout so a silent server fails
// the test instead of hanging it.
int connect_to(std::uint16_t port) {
    int fd = edge::test::connect_loopback(port);
    if (fd < 0) return -1;
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}
std::string http_exchange(std::uint16_t port, const std::string& request) {
    int fd = connect_to(port);
    if (fd < 0) return "connect failed";
    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    return out;
}
std::uint16_t unused_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}
}  // namespace

TEST_CASE("the endpoint answers /metrics, /healthz and /readyz and closes on a request past its bounds", "[metrics]") {
    boost::asio::io_context io;
    bool ready = true;
    HttpLimits limits;
    limits.io_timeout = std::chrono::milliseconds(500);
    HttpEndpoint endpoint(
        io, HttpHandlers{[] { return std::string("edge_transport_up 1\n"); },
                         [&ready]() -> std::optional<std::string> {
                             if (ready) return std::nullopt;
                             return std::string("back pressure is High");
                         }},
        [](const std::string&) {}, limits);
    const std::uint16_t port = unused_port();
    endpoint.reconcile({*edge::routing::Binding::parse("127.0.0.1:" + std::to_string(port)).value});
    REQUIRE(endpoint.listening() == 1);
    std::thread runner([&io] {
        auto guard = boost::asio::make_work_guard(io);
        io.run();
    });

    const std::string metrics = http_exchange(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(metrics.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(metrics.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n") != std::string::npos);
    CHECK(metrics.ends_with("\r\n\r\nedge_transport_up 1\n"));
    CHECK(http_exchange(port, "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n").ends_with("\r\n\r\nok\n"));
    CHECK(http_exchange(port, "GET /readyz HTTP/1.1\r\nConnection: close\r\n\r\n").rfind("HTTP/1.1 200", 0) == 0);
    boost::asio::post(io, [&ready] { ready = false; });
    const std::string unready = http_exchange(port, "GET /readyz HTTP/1.1\r\nConnection: close\r\n\r\n");
    CHECK(unready.rfind("HTTP/1.1 503", 0) == 0);
    CHECK(unready.ends_with("\r\n\r\nnot ready: back pressure is High\n"));
    CHECK(http_exchange(port, "GET /other HTTP/1.1\r\nConnection: close\r\n\r\n").rfind("HTTP/1.1 404", 0) == 0);
    CHECK(http_exchange(port, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").rfind("HTTP/1.1 405", 0) == 0);

    // 9 KB of header fields: past the 8 KB bound, closed with no answer.
    std::string big = "GET /metrics HTTP/1.1\r\n";
    while (big.size() < 9000) big += "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    CHECK(http_exchange(port, big + "\r\n").empty());
    // A body on a GET: closed with no answer.
    CHECK(http_exchange(port, "GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello").empty());
    // A scraper that says nothing is closed after the read timeout (here 0.5 s), not held.
    const auto began = std::chrono::steady_clock::now();
    CHECK(http_exchange(port, "GET /met").empty());
    CHECK(std::chrono::steady_clock::now() - began < std::chrono::seconds(5));

    boost::asio::post(io, [&] {
        endpoint.stop();
        io.stop();
    });
    runner.join();
}
