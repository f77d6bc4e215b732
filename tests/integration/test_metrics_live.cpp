// Metrics and health over HTTP (issue 21) against the real binary: Debian's Prometheus
// scrapes our /metrics on loopback and counts the test's messages through PromQL,
// promtool accepts the exposition, and /readyz follows back pressure (High: 503,
// Normal again: 200). One server start for all of it (the test-time budget).
#include "child_process.hpp"
#include "edge_server.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <string>

using namespace edge::test;

namespace {

// One HTTP/1.1 GET on loopback with Connection: close: the whole answer (status line,
// header, body), or "" when nobody answered.
std::string http_get(std::uint16_t port, const std::string& target) {
    int fd = connect_loopback(port);
    if (fd < 0) return "";
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    std::string out;
    char buf[8192];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    return out;
}

std::string body_of(const std::string& response) {
    auto at = response.find("\r\n\r\n");
    return at == std::string::npos ? "" : response.substr(at + 4);
}

std::string url_encode(const std::string& s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == '~') out += static_cast<char>(c);
        else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

// Debian's Prometheus on loopback with its own storage, scraping `target` every second.
class Prometheus {
public:
    Prometheus(const TempDir& dir, std::uint16_t target) : port_(free_port()) {
        const std::string conf = dir.path() + "/prometheus.yml";
        std::ofstream(conf) << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                            << "scrape_configs:\n  - job_name: edge\n    scrape_interval: 1s\n    scrape_timeout: 1s\n"
                            << "    static_configs:\n      - targets: ['127.0.0.1:" << target << "']\n";
        log_ = dir.path() + "/prometheus.log";
        pid_ = spawn_logged({"/usr/bin/prometheus", "--config.file=" + conf, "--storage.tsdb.path=" + dir.path() + "/tsdb",
                             "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"},
                            log_);
        if (!wait_until([&] { return http_get(port_, "/-/ready").find(" 200 ") != std::string::npos; },
                        std::chrono::seconds(30)))
            throw std::runtime_error("prometheus did not become ready");
    }
    ~Prometheus() { stop_child(pid_, std::chrono::seconds(5)); }
    std::string api(const std::string& target) const { return body_of(http_get(port_, target)); }
    std::string query(const std::string& promql) const { return api("/api/v1/query?query=" + url_encode(promql)); }

private:
    std::uint16_t port_;
    std::string log_;
    pid_t pid_ = -1;
};

}  // namespace

TEST_CASE("metrics: Prometheus scrapes /metrics and counts the messages, promtool accepts it, /readyz follows back pressure",
          "[metrics][live]") {
    const auto began = std::chrono::steady_clock::now();
    EdgeServer s;
    const std::uint16_t metrics_port = free_port();
    s.must_edgectl("Set-TransportServer -MetricsBindings 127.0.0.1:" + std::to_string(metrics_port));
    s.must_edgectl("New-AcceptedDomain -Name Contoso -DomainName contoso.test -DomainType Authoritative");
    const std::string base = "ServerFqdn = edge.test.example\nDefaultReceiveConnectorBindings = 127.0.0.1:" +
                             std::to_string(s.port()) + "\nResourceMonitoringInterval = 00:00:01\nShutdownTimeout = 00:00:03\n";
    const std::string normal = "PercentageDatabaseDiskSpaceUsedHighThreshold = 100\n"
                               "PercentageDatabaseDiskSpaceUsedMediumThreshold = 99\n"
                               "PercentageDatabaseDiskSpaceUsedNormalThreshold = 98\n";
    s.rewrite_conf(base + normal);
    s.start();
    REQUIRE(wait_until([&] { return http_get(metrics_port, "/readyz").find(" 200 ") != std::string::npos; }));
    CHECK(body_of(http_get(metrics_port, "/healthz")) == "ok\n");

    constexpr int kMessages = 3;
    {
        SmtpClient c(s.port());
        REQUIRE(c.reply().starts_with("220"));
        REQUIRE(c.command("EHLO client.test").starts_with("250"));
        for (int i = 0; i < kMessages; ++i)
            REQUIRE(c.send_mail("a@example.org", {"u@contoso.test"},
                                "Subject: m" + std::to_string(i) + "\r\n\r\nHello.\r\n")
                        .starts_with("250"));
        c.command("QUIT");
    }
    const std::string exposition = body_of(http_get(metrics_port, "/metrics"));
    INFO(exposition);
    const std::string connector = s.default_connector();
    CHECK(exposition.find("edge_transport_receive_messages_total{connector=\"" + connector + "\",class=\"2xx\"} " +
                          std::to_string(kMessages) + "\n") != std::string::npos);
    CHECK(exposition.find("edge_transport_receive_accept_latency_seconds_count{connector=\"" + connector + "\"} " +
                          std::to_string(kMessages) + "\n") != std::string::npos);
    // Two sessions: start()'s probe that the port accepts, and ours.
    CHECK(exposition.find("edge_transport_receive_sessions_accepted_total{connector=\"" + connector + "\"} 2\n") !=
          std::string::npos);
    CHECK(exposition.find("edge_transport_back_pressure_level 0\n") != std::string::npos);
    // The group commit's histograms: at least the 3 messages' commits, each in a bucket.
    const auto inf = exposition.find("edge_transport_queue_commit_duration_seconds_bucket{le=\"+Inf\"} ");
    REQUIRE(inf != std::string::npos);
    CHECK(std::stoull(exposition.substr(inf + std::string_view("edge_transport_queue_commit_duration_seconds_bucket{le=\"+Inf\"} ").size())) >= kMessages);

    // The oldest message's age per queue (issue 21 item 7): 0 for the empty Submission
    // queue, above 0 for the queue holding the three messages.
    CHECK(exposition.find("edge_transport_queue_oldest_message_age_seconds{queue=\"Submission\"} 0\n") != std::string::npos);
    {
        const std::string family = "edge_transport_queue_oldest_message_age_seconds{queue=\"";
        bool some_aged = false;
        for (auto at = exposition.find(family); at != std::string::npos; at = exposition.find(family, at + 1)) {
            const auto value = exposition.find("} ", at);
            if (value != std::string::npos && std::stod(exposition.substr(value + 2)) > 0) some_aged = true;
        }
        CHECK(some_aged);
    }

    // promtool (Debian's prometheus package) reads it as Prometheus would, lint included.
    const std::string file = s.dir().path() + "/metrics.txt";
    std::ofstream(file) << exposition;
    std::string lint;
    CHECK(run_command("/usr/bin/promtool check metrics < " + shell_quote(file), &lint) == 0);
    INFO("promtool: " << lint);

    {
        Prometheus prometheus(s.dir(), metrics_port);
        std::string targets;
        CHECK(wait_until([&] {
            targets = prometheus.api("/api/v1/targets");
            return targets.find("\"health\":\"up\"") != std::string::npos;
        }, std::chrono::seconds(30)));
        INFO("targets: " << targets);
        CHECK(targets.find("\"lastError\":\"\"") != std::string::npos);
        std::string answer;
        CHECK(wait_until([&] {
            answer = prometheus.query("sum(edge_transport_receive_messages_total{class=\"2xx\"})");
            return answer.find(",\"" + std::to_string(kMessages) + "\"]") != std::string::npos;
        }, std::chrono::seconds(30)));
        INFO("query: " << answer);
        CHECK(answer.find("\"status\":\"success\"") != std::string::npos);
    }

    // The queue volume is surely more than 3 % used: High, so not ready; then Normal again.
    s.rewrite_conf(base + "PercentageDatabaseDiskSpaceUsedHighThreshold = 3\n"
                          "PercentageDatabaseDiskSpaceUsedMediumThreshold = 2\n"
                          "PercentageDatabaseDiskSpaceUsedNormalThreshold = 1\n");
    s.signal(SIGHUP);
    std::string unready;
    CHECK(wait_until([&] {
        unready = http_get(metrics_port, "/readyz");
        return unready.find(" 503 ") != std::string::npos;
    }));
    CHECK(body_of(unready) == "not ready: back pressure is High\n");
    CHECK(http_get(metrics_port, "/healthz").find(" 200 ") != std::string::npos);  // alive all the same
    CHECK(body_of(http_get(metrics_port, "/metrics")).find("edge_transport_back_pressure_level 2\n") != std::string::npos);
    s.rewrite_conf(base + normal);
    s.signal(SIGHUP);
    CHECK(wait_until([&] { return http_get(metrics_port, "/readyz").find(" 200 ") != std::string::npos; }));

    // Set-TransportServer -MetricsBindings applies live: an empty list turns it off.
    s.must_edgectl("Set-TransportServer -MetricsBindings ''");
    CHECK(wait_until([&] {
        int fd = connect_loopback(metrics_port);
        if (fd >= 0) ::close(fd);
        return fd < 0;
    }));
    WARN("metrics live test wall time: "
         << std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count() << " s");
}
