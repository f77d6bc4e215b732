// The receive side's memory and clocks under a hostile client (issue 13): the real
// edge-transport binary on loopback, its memory (VmRSS) and CPU time (utime + stime)
// read from /proc, clients written with raw sockets so the test is not the bottleneck.
#include "edge_server.hpp"
#include "queue_db.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

using namespace edge::test;
using namespace std::chrono_literals;

namespace {

std::uint64_t status_kb(pid_t pid, std::string_view key) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.starts_with(key)) return std::stoull(line.substr(key.size()));
    return 0;
}
std::uint64_t rss_kb(pid_t pid) { return status_kb(pid, "VmRSS:"); }

// The process's CPU time (user + system), in seconds.
double cpu_seconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));  // after "pid (comm) "
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; rest >> field; ++i) {  // field 3 is the state
        if (i == 14) utime = std::stoull(field);
        if (i == 15) {
            stime = std::stoull(field);
            break;
        }
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// A raw client for floods: one thread writes, the caller reads.
class RawClient {
public:
    explicit RawClient(std::uint16_t port) {
        fd_ = connect_loopback(port);
        if (fd_ < 0) throw std::runtime_error("connect");
    }
    ~RawClient() { ::close(fd_); }
    void send_all(std::string_view bytes) {
        while (!bytes.empty()) {
            long n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0) throw std::runtime_error("send failed");
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
    }
    // Reads lines until one equals `want` (or EOF / 60 s); returns the last line read.
    std::string read_until(std::string_view want) {
        std::string line;
        do line = read_lines(1);
        while (!line.empty() && line != want);
        return line;
    }
    // Reads until `lines` CRLF-terminated lines have arrived (or EOF / `wait`); returns the last one.
    std::string read_lines(std::size_t lines, std::chrono::seconds wait = 60s) {
        std::string last;
        char buf[65536];
        auto until = std::chrono::steady_clock::now() + wait;
        while (true) {
            std::size_t start = 0, last_start = 0, last_end = std::string::npos;
            for (auto e = buf_.find("\r\n"); e != std::string::npos && lines > 0; e = buf_.find("\r\n", start)) {
                last_start = start;
                last_end = e;
                start = e + 2;
                --lines;
            }
            if (last_end != std::string::npos) last = buf_.substr(last_start, last_end - last_start);
            buf_.erase(0, start);
            if (lines == 0 || std::chrono::steady_clock::now() >= until) return last;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 1000) <= 0) continue;
            long n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) return last;
            buf_.append(buf, static_cast<std::size_t>(n));
        }
    }

private:
    int fd_ = -1;
    std::string buf_;
};

}  // namespace

TEST_CASE("two million one-byte BDAT chunks grow the server's memory by less than 3 x the body + 16 MB",
          "[receive][limits][security][bdat]") {
    EdgeServer s;
    basic_setup(s);
    RawClient c(s.port());
    REQUIRE(c.read_lines(1).starts_with("220 "));
    c.send_all("EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<u@contoso.test>\r\n");
    REQUIRE(c.read_until("250 2.1.5 Recipient OK") == "250 2.1.5 Recipient OK");
    const std::string header = "Subject: many chunks\r\n\r\n";
    c.send_all("BDAT " + std::to_string(header.size()) + "\r\n" + header);
    REQUIRE(c.read_lines(1).starts_with("250 2.0.0 "));
    const std::uint64_t before = rss_kb(s.pid());

    constexpr std::size_t kChunks = 2000000;
    std::atomic<bool> sent{false};
    std::thread writer([&] {
        try {
            std::string batch;
            for (std::size_t i = 0; i < kChunks; ++i) {
                batch += "BDAT 1\r\nx";
                if (batch.size() >= 256 * 1024) {
                    c.send_all(batch);
                    batch.clear();
                }
            }
            c.send_all(batch);
            sent = true;
        } catch (const std::exception&) {
            // the server closed the connection: the checks below say so
        }
    });
    // Under ASan on a loaded 2-core machine the server takes 15-60 s for the flood.
    std::string last = c.read_lines(kChunks, 200s);
    writer.join();
    CHECK(sent);
    const std::uint64_t after = rss_kb(s.pid());
    CHECK(last == "250 2.0.0 " + std::to_string(header.size() + kChunks) + " octets received");
    c.send_all("BDAT 2 LAST\r\n\r\n");
    std::string queued_reply = c.read_lines(1);
    INFO(queued_reply);
    CHECK(queued_reply.starts_with("250 2.6.0 "));
    const std::uint64_t body_kb = kChunks / 1024;
    INFO("RSS before " << before << " kB, after the chunks " << after << " kB, peak " << status_kb(s.pid(), "VmHWM:")
                       << " kB");
    CHECK(after < before + 3 * body_kb + 16 * 1024);
    auto msgs = queued(s);
    REQUIRE(msgs.size() == 1);
    CHECK(msgs[0].envelope.size > kChunks);
}

TEST_CASE("a tarpitted session is still cut at ConnectionTimeout with 421 4.4.1, and no timer spins",
          "[receive][timeouts][tarpit][security]") {
    EdgeServer s;
    basic_setup(s, "-TarpitInterval 00:00:02 -ConnectionTimeout 00:00:03 -ConnectionInactivityTimeout 00:00:02");
    SmtpClient c(s.port());
    c.reply();
    c.command("EHLO client.example");
    REQUIRE(c.command("MAIL FROM:<a@example.org>") == "250 2.1.0 Sender OK");
    const double cpu_before = cpu_seconds(s.pid());
    auto t0 = std::chrono::steady_clock::now();
    std::string rcpts;
    for (int i = 0; i < 10; ++i) rcpts += "RCPT TO:<x" + std::to_string(i) + "@elsewhere.example>\r\n";
    c.send_raw(rcpts);  // ten relay denials, each tarpitted 2 s
    CHECK(c.reply() == "550 5.7.1 Unable to relay");
    CHECK(seconds_since(t0) >= 1.8);
    // The second tarpit would end at 4 s; the deadline (3 s from the connect) comes first.
    CHECK(c.reply() == "421 4.4.1 Connection timed out");
    const double cut_at = seconds_since(t0);
    CHECK(cut_at < 3.5);
    CHECK(c.closed_by_server());
    // The server stays idle after it: nothing waits on a timer in the past.
    std::this_thread::sleep_for(2s);
    const double cpu = cpu_seconds(s.pid()) - cpu_before;
    INFO("cut after " << cut_at << " s; server CPU " << cpu << " s over " << seconds_since(t0) << " s");
    CHECK(cpu < 0.5);
}

TEST_CASE("a client's long Message-ID with control bytes comes back bounded and clean in the 250",
          "[receive][security]") {
    EdgeServer s;
    basic_setup(s);
    SmtpClient c(s.port());
    c.reply();
    c.command("EHLO client.example");
    std::string id = "<" + std::string(3000, 'm') + "\x1b]0;PWNED\x07@client.example>";
    std::string body = "From: a@example.org\r\nSubject: long id\r\nMessage-ID: " + id + "\r\n\r\nHello.\r\n";
    std::string r = c.send_mail("a@example.org", {"u@contoso.test"}, body);
    INFO(r);
    CHECK(r.starts_with("250 2.6.0 <mmmm"));
    CHECK(r.ends_with("... Queued mail for delivery"));
    CHECK(r.size() + 2 <= 512);  // RFC 5321 §4.5.3.1.5
    for (char ch : r) CHECK((ch >= 0x20 && ch < 0x7f));
    CHECK(queued(s).size() == 1);  // the message itself is queued as sent
}

TEST_CASE("Received fields count toward MaxHopCount however their name is spelled", "[receive][limits][security]") {
    EdgeServer s;
    basic_setup(s);
    SmtpClient c(s.port());
    c.reply();
    c.command("EHLO client.example");
    std::string hops;
    for (int i = 0; i < 40; ++i)
        hops += std::string(i % 2 ? "Received : " : "received\t:") + "from hop" + std::to_string(i) +
                " by x; Mon, 1 Jan 2024 00:00:00 +0000\r\n";
    CHECK(c.send_mail("a@example.org", {"u@contoso.test"}, hops + simple_body("loop")) ==
          "554 5.4.6 Hop count exceeded - possible mail loop");
    CHECK(queued(s).empty());
}

TEST_CASE("ReceiveSessionMemoryLimit: sessions together reach it, new mail and connections wait, and mail flows after",
          "[receive][limits][backpressure][security]") {
    EdgeServer s;
    s.append_conf("ReceiveSessionMemoryLimit = 32MB\n");
    basic_setup(s);
    const std::uint64_t before = rss_kb(s.pid());
    SmtpClient probe(s.port());  // connected before the limit is near
    probe.reply();
    probe.command("EHLO probe.example");

    // Eight clients, each well inside MaxMessageSize (10 MB), send 6 MB bodies without
    // ending them: 48 MB offered against a 32 MB limit.
    constexpr int kClients = 8;
    const std::string part(1 << 20, 'b');
    std::vector<std::unique_ptr<SmtpClient>> fill;
    for (int i = 0; i < kClients; ++i) {
        auto c = std::make_unique<SmtpClient>(s.port());
        c->reply();
        c->command("EHLO fill.example");
        REQUIRE(c->command("MAIL FROM:<a@example.org>") == "250 2.1.0 Sender OK");
        REQUIRE(c->command("RCPT TO:<u@contoso.test>") == "250 2.1.5 Recipient OK");
        REQUIRE(c->command("DATA").starts_with("354"));
        fill.push_back(std::move(c));
    }
    std::string lines;
    for (std::size_t off = 0; off < part.size(); off += 1000) lines += part.substr(0, 998) + "\r\n";
    for (int i = 0; i < kClients; ++i) {
        fill[static_cast<std::size_t>(i)]->send_raw("Subject: fill " + std::to_string(i) + "\r\n\r\n");
        for (int mb = 0; mb < 6; ++mb) fill[static_cast<std::size_t>(i)]->send_raw(lines);
    }
    std::this_thread::sleep_for(500ms);  // the server has read what was sent
    const std::uint64_t during = rss_kb(s.pid());

    CHECK(probe.command("MAIL FROM:<a@example.org>") == "452 4.3.1 Insufficient system resources");
    SmtpClient late(s.port());
    CHECK(late.reply() == "421 4.3.2 Service not available, closing transmission channel");
    INFO("RSS before " << before << " kB, with the bodies held " << during << " kB");
    CHECK(during < before + 32 * 1024 + 16 * 1024);

    // The bodies end: those stored whole are queued, those that would have passed the
    // limit get 452 4.3.1; every session is still in step with its client.
    int ok = 0, refused = 0;
    for (auto& c : fill) {
        c->send_raw(".\r\n");
        std::string r = c->reply();
        if (r.starts_with("250 2.6.0")) ++ok;
        else if (r == "452 4.3.1 Insufficient system resources") ++refused;
        else FAIL("unexpected reply: " << r);
        CHECK(c->command("NOOP") == "250 2.0.0 OK");
        c->command("QUIT");
    }
    CHECK(ok >= 4);
    CHECK(refused >= 1);
    fill.clear();
    std::this_thread::sleep_for(300ms);
    CHECK(probe.send_mail("a@example.org", {"u@contoso.test"}, simple_body("after")).starts_with("250 2.6.0"));
    SmtpClient again(s.port());
    CHECK(again.reply().starts_with("220 "));
}
