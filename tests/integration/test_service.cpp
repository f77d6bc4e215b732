// Run as a service (issue 21): systemd's notifications as a Type=notify unit sees them
// (a NOTIFY_SOCKET datagram socket of our own), `systemctl reload` re-reading the
// certificates, and edgectl returning once the running server has applied its change.
#include "edge_server.hpp"

#include "applied_generation.hpp"
#include "queue_db.hpp"

#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <vector>

using namespace edge::test;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

// What systemd's manager would hear: an AF_UNIX datagram socket in the test's directory,
// every datagram kept with its arrival time.
class NotifySocket {
public:
    struct Datagram {
        std::string text;  // "READY=1", "RELOADING=1\nMONOTONIC_USEC=…", …
        Clock::time_point at;
        bool has_line(std::string_view line) const {
            std::size_t start = 0;
            while (start <= text.size()) {
                auto end = text.find('\n', start);
                if (end == std::string::npos) end = text.size();
                if (std::string_view(text).substr(start, end - start) == line) return true;
                start = end + 1;
            }
            return false;
        }
    };

    explicit NotifySocket(std::string path) : path_(std::move(path)) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        REQUIRE(path_.size() < sizeof a.sun_path);
        std::memcpy(a.sun_path, path_.c_str(), path_.size() + 1);
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    }
    ~NotifySocket() { ::close(fd_); }
    const std::string& path() const { return path_; }
    const std::vector<Datagram>& received() const { return received_; }

    // Reads datagrams until one has `line` (the index of that datagram) or `limit` passed.
    std::optional<std::size_t> wait_for(std::string_view line, std::chrono::milliseconds limit) {
        for (std::size_t i = checked_; i < received_.size(); ++i)
            if (received_[i].has_line(line)) return checked_ = i + 1, i;
        checked_ = received_.size();
        const auto until = Clock::now() + limit;
        while (Clock::now() < until) {
            if (!receive(std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()))) continue;
            checked_ = received_.size();
            if (received_.back().has_line(line)) return received_.size() - 1;
        }
        return std::nullopt;
    }
    // Keeps reading for `span`.
    void collect(std::chrono::milliseconds span) {
        const auto until = Clock::now() + span;
        while (Clock::now() < until) receive(std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()));
    }

private:
    bool receive(std::chrono::milliseconds limit) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(std::max<long long>(limit.count(), 1))) <= 0) return false;
        char buf[4096];
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) return false;
        received_.push_back({std::string(buf, static_cast<std::size_t>(n)), Clock::now()});
        return true;
    }

    std::string path_;
    int fd_ = -1;
    std::vector<Datagram> received_;
    std::size_t checked_ = 0;  // wait_for() looks from here: each answer is a later datagram
};

// STARTTLS on a new session; the CN of the certificate the server presented.
std::string presented_common_name(const EdgeServer& s) {
    SmtpClient c(s.port());
    REQUIRE(c.reply().starts_with("220"));
    REQUIRE(c.command("EHLO client.test").starts_with("250"));
    REQUIRE(c.command("STARTTLS").starts_with("220"));
    REQUIRE(c.starttls());
    return c.peer_common_name();
}

std::uint64_t config_generation(const EdgeServer& s) {
    edge::queue::QueueDbOptions o;
    o.read_only = true;
    auto db = edge::queue::QueueDb::open(s.data(), o);
    REQUIRE(db);
    return (*db)->config_generation();
}

}  // namespace

TEST_CASE("edge-transport tells systemd READY=1 once its port accepts, RELOADING=1 then READY=1 around SIGHUP, "
          "STOPPING=1 at SIGTERM, and pings the watchdog every WATCHDOG_USEC/2",
          "[systemd][live]") {
    EdgeServer s;
    NotifySocket notify(s.dir().sub("notify"));
    s.set_environment("NOTIFY_SOCKET", notify.path());
    s.set_environment("WATCHDOG_USEC", "1000000");  // WatchdogSec=1: a ping every 0.5 s
    s.launch();

    auto ready = notify.wait_for("READY=1", 30s);
    INFO(s.server_log());
    REQUIRE(ready);
    {
        // The moment READY=1 arrives the port accepts and a session is served.
        SmtpClient c(s.port());
        CHECK(c.reply().starts_with("220"));
    }
    bool status_seen = false;
    for (std::size_t i = 0; i < *ready; ++i)
        status_seen |= notify.received()[i].text.starts_with("STATUS=Back pressure Normal; 0 messages queued");
    CHECK(status_seen);

    notify.collect(2200ms);
    std::vector<Clock::time_point> pings;
    for (const auto& d : notify.received())
        if (d.has_line("WATCHDOG=1")) pings.push_back(d.at);
    REQUIRE(pings.size() >= 3);
    std::vector<double> gaps;
    for (std::size_t i = 1; i < pings.size(); ++i) gaps.push_back(std::chrono::duration<double>(pings[i] - pings[i - 1]).count());
    std::sort(gaps.begin(), gaps.end());
    INFO("pings: " << pings.size() << ", median gap " << gaps[gaps.size() / 2] << " s");
    CHECK(gaps[gaps.size() / 2] > 0.35);
    CHECK(gaps[gaps.size() / 2] < 0.75);

    // systemctl reload: a certificate renewed in place (certbot's way) is served after it.
    CHECK(presented_common_name(s) == "edge.test.example");
    const std::string tls = s.data() + "/tls";
    std::string out;
    REQUIRE(run_command("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
                        "-subj /CN=renewed.test.example -keyout " + shell_quote(tls + "/new.key") + " -out " +
                            shell_quote(tls + "/new.crt"),
                        &out) == 0);
    std::filesystem::rename(tls + "/new.key", tls + "/edge.key");
    std::filesystem::rename(tls + "/new.crt", tls + "/edge.crt");
    CHECK(presented_common_name(s) == "edge.test.example");  // nothing re-reads it on its own
    s.signal(SIGHUP);
    auto reloading = notify.wait_for("RELOADING=1", 20s);
    REQUIRE(reloading);
    auto ready_again = notify.wait_for("READY=1", 20s);
    REQUIRE(ready_again);
    CHECK(*ready_again > *reloading);
    CHECK(presented_common_name(s) == "renewed.test.example");

    s.signal(SIGTERM);
    CHECK(notify.wait_for("STOPPING=1", 20s));
    CHECK(s.stop() == 0);
}

TEST_CASE("New-AcceptedDomain followed at once by a message to that domain is accepted: edgectl returns once the "
          "running server has applied the change",
          "[edgectl][live]") {
    EdgeServer s;
    s.start();
    // No tarpit on the refusals below (the connector exists from the first start on).
    s.must_edgectl("Set-ReceiveConnector " + shell_quote(s.default_connector()) + " -TarpitInterval 00:00:00");
    // Three rounds: one could meet the server's own 1 s poll by chance.
    for (const std::string domain : {"fabrikam.test", "tailspin.test", "wingtip.test"}) {
        {
            SmtpClient c(s.port());
            REQUIRE(c.reply().starts_with("220"));
            REQUIRE(c.command("EHLO client.test").starts_with("250"));
            REQUIRE(c.command("MAIL FROM:<a@client.test>").starts_with("250"));
            CHECK(c.command("RCPT TO:<b@" + domain + ">").starts_with("550"));  // not ours yet
        }
        std::string out;
        CHECK(s.edgectl("New-AcceptedDomain -Name " + domain + " -DomainName " + domain + " -DomainType Authoritative", &out) == 0);
        CHECK(out.empty());  // applied: nothing more to say
        SmtpClient c(s.port());
        REQUIRE(c.reply().starts_with("220"));
        REQUIRE(c.command("EHLO client.test").starts_with("250"));
        CHECK(c.send_mail("a@client.test", {"b@" + domain}, simple_body("to " + domain)).starts_with("250"));
    }

    // The wait itself, shortened: a generation the server cannot have applied is reported
    // with what it has applied; a server that does not answer (stopped) is reported too.
    const std::uint64_t applied = config_generation(s);
    auto w = edge::config::wait_until_applied(s.data(), applied, 2s);
    CHECK(w.outcome == edge::config::ApplyWait::Outcome::applied);
    CHECK(w.applied == applied);
    w = edge::config::wait_until_applied(s.data(), applied + 1, 300ms);
    CHECK(w.outcome == edge::config::ApplyWait::Outcome::not_applied);
    CHECK(w.server_pid == s.pid());
    CHECK(w.why == "it has applied generation " + std::to_string(applied) + ", this change is generation " +
                       std::to_string(applied + 1));
    ::kill(s.pid(), SIGSTOP);
    w = edge::config::wait_until_applied(s.data(), applied, 300ms);
    ::kill(s.pid(), SIGCONT);
    CHECK(w.outcome == edge::config::ApplyWait::Outcome::not_applied);
    CHECK(w.why.find("no answer within") != std::string::npos);

    CHECK(s.stop() == 0);
    w = edge::config::wait_until_applied(s.data(), applied, 300ms);
    CHECK(w.outcome == edge::config::ApplyWait::Outcome::no_server);
}

TEST_CASE("edgectl with the server stopped changes the configuration and, at a terminal, says it takes effect at start",
          "[edgectl]") {
    EdgeServer s;  // never started
    const std::string change = "New-AcceptedDomain -Name Contoso -DomainName contoso.test -DomainType Authoritative";
    std::string out;
    // script(1) gives edgectl a terminal, as an administrator's shell does.
    REQUIRE(run_command("script -qec " + shell_quote(std::string(EDGECTL_PATH) + " --data " + shell_quote(s.data()) + " " + change) +
                            " /dev/null",
                        &out) == 0);
    CHECK(out.find("edgectl: the server is not running on " + s.data() + "; the change takes effect when it starts") !=
          std::string::npos);
    // Not a terminal (scripts, the transcripts): the change, and no extra line.
    CHECK(s.edgectl("Set-AcceptedDomain Contoso -DomainType InternalRelay", &out) == 0);
    CHECK(out.empty());
    CHECK(s.edgectl("Get-AcceptedDomain Contoso", &out) == 0);
    CHECK(out.find("InternalRelay") != std::string::npos);
}
