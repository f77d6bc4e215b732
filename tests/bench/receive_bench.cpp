// receive_bench: the SMTP load client behind tests/bench/receive_bench.sh. One client for
// every target (edge-transport, Postfix, smtp-sink), so the figures differ only by server.
//   load  S sessions send N messages of SIZE bytes in lock-step (no PIPELINING) and report
//         accepted msgs/s and p50/p99 latency from the write of the final "\r\n.\r\n" to
//         the reply; only 250 counts as accepted, other replies are refusals.
//         With --sink-counter FILE (a relay: the server passes each message on to an
//         smtp-sink started with -c, its output in FILE) it also waits until the sink has
//         counted every accepted message and reports end-to-end msgs/s: accepted messages
//         over the time from the phase's first connection to the sink's last count.
//         With --e2e-latency too (meant for one session: lock-step, so each message is
//         alone in flight), after each 250 it waits for the sink to count that message
//         and reports p50/p99 of the end-to-end latency, the server's 250 to the client
//         → the message's arrival at the sink (the sink's counter, polled every 20 µs).
//         With --starttls (issue 20's TLS cell) every connection says STARTTLS after EHLO,
//         makes a full TLS handshake (no session resumption, no certificate check: the
//         cost is the server's), and EHLOs again before MAIL.
//   idle  open C connections, read each 220 banner, leave them idle, and report the
//         server's VmRSS (/proc/<pid>/status) before and after.
#include <utility>  // before Asio: some Boost versions use std::exchange without it

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct Options {
    std::string mode;
    std::string label = "target";
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    int sessions = 1;
    std::uint64_t messages = 1000;
    std::uint64_t warmup = 0;
    std::size_t size = 4096;
    bool new_connection = false;  // default: reuse the connection, next MAIL right after the 250
    std::shared_ptr<asio::ssl::context> tls;  // --starttls: STARTTLS on every connection
    std::string mail_from = "bench@client.bench.test";
    std::string rcpt_to = "rcpt@bench.test";
    std::string helo = "client.bench.test";
    std::chrono::seconds timeout{60};
    int connections = 5000;  // idle
    int server_pid = 0;      // idle
    double settle = 2.0;     // idle: seconds to wait before reading VmRSS
    std::string sink_counter;  // load: smtp-sink -c output to wait on ("" = do not wait)
    std::chrono::seconds sink_timeout{600};
    bool e2e_latency = false;  // load with --sink-counter: wait for the sink after each 250
    // A message to send as it is (header and body, CRLF), every time: a DKIM-signed one
    // (issue 18) must not have its Message-ID patched. "" = make one of `size` bytes.
    std::string message_file;
};

[[noreturn]] void usage() {
    fmt::print(stderr,
               "usage: receive_bench load --port P [--host H] [--label NAME] [--sessions S] [--messages N]\n"
               "                          [--warmup W] [--size BYTES] [--new-connection] [--starttls] [--from ADDR]\n"
               "                          [--to ADDR] [--timeout SECONDS] [--message FILE]\n"
               "                          [--sink-counter SMTP_SINK_C_OUTPUT [--sink-timeout SECONDS] [--e2e-latency]]\n"
               "       receive_bench idle --port P --pid SERVER_PID [--connections C] [--settle SECONDS]\n");
    std::exit(2);
}

// ------------------------------------------------------------------ the message
// A message of exactly `size` bytes (headers and body, as the server will store it),
// lines of at most 78 characters ending in CRLF; every eighth body line begins with a dot
// so the dot-stuffing path (RFC 5321 §4.5.2) is exercised. Returned dot-stuffed and
// followed by the end-of-data marker, ready for the wire. `id_at` is where the 16 hex
// digits of the Message-ID are, patched for every message.
struct WireMessage {
    std::string bytes;
    std::size_t id_at = 0;
};

// `text` dot-stuffed (RFC 5321 §4.5.2) and followed by the end-of-data marker.
WireMessage on_the_wire(std::string_view text, std::size_t id_at) {
    WireMessage wire;
    wire.id_at = id_at;
    std::size_t line_start = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (i == line_start && text[i] == '.') wire.bytes += '.';
        wire.bytes += text[i];
        if (text[i] == '\n') line_start = i + 1;
    }
    if (!wire.bytes.ends_with("\r\n")) wire.bytes += "\r\n";
    wire.bytes += ".\r\n";
    return wire;
}

WireMessage make_message(std::size_t size, std::string_view from, std::string_view to) {
    std::string text = fmt::format(
        "From: <{}>\r\nTo: <{}>\r\nSubject: receive_bench\r\n"
        "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <0000000000000000@client.bench.test>\r\n\r\n",
        from, to);
    std::size_t id_at = text.find("<0000000000000000@") + 1;
    // Full lines of 76 characters, then one last line that takes what is left (1..78).
    static constexpr std::string_view filler =
        "The quick brown fox jumps over the lazy dog while the edge queues the mail. 0123456789";
    for (int line = 0; text.size() + 2 < size; ++line) {
        std::size_t room = size - text.size() - 2;
        std::size_t len = room <= 78 ? room : (room < 76 + 2 + 3 ? room - 5 : 76);
        std::string content(filler.substr(0, len));
        if (line % 8 == 7) content[0] = '.';
        text += content;
        text += "\r\n";
    }

    return on_the_wire(text, id_at);
}

// The message in `path`, as it is, ready for the wire (dot-stuffed, end-of-data marker);
// no Message-ID to patch.
WireMessage message_from_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return on_the_wire(text, std::string::npos);
}

void stamp_message_id(WireMessage& m, std::uint64_t n) {
    if (m.id_at == std::string::npos) return;
    static constexpr char hex[] = "0123456789abcdef";
    for (int i = 15; i >= 0; --i, n >>= 4) m.bytes[m.id_at + static_cast<std::size_t>(i)] = hex[n & 15];
}

// ------------------------------------------------------------------ one connection
struct Reply {
    int code = 0;  // 0: no reply (I/O error, timeout, malformed)
};

class Connection {
public:
    explicit Connection(asio::any_io_executor ex, std::chrono::seconds timeout)
        : socket_(ex), timeout_(timeout), deadline_(Clock::now() + timeout) {}

    tcp::socket& socket() { return socket_; }
    bool timed_out() const { return timed_out_; }

    awaitable<bool> connect(const tcp::endpoint& ep) {
        arm();
        auto [ec] = co_await socket_.async_connect(ep, use_tuple);
        if (!ec) socket_.set_option(tcp::no_delay(true));
        co_return !ec;
    }

    // Reads one reply, multi-line or not (RFC 5321 §4.2.1: "xyz-" continues, "xyz " ends).
    awaitable<Reply> read_reply() {
        arm();
        for (;;) {
            auto [ec, n] = tls_ ? co_await asio::async_read_until(*tls_, asio::dynamic_buffer(in_), "\r\n", use_tuple)
                                : co_await asio::async_read_until(socket_, asio::dynamic_buffer(in_), "\r\n", use_tuple);
            if (ec) co_return Reply{};
            std::string_view line(in_.data(), n - 2);
            Reply r;
            bool last = line.size() < 4 || line[3] == ' ';
            if (line.size() >= 3 && line[0] >= '1' && line[0] <= '5') r.code = std::atoi(std::string(line.substr(0, 3)).c_str());
            in_.erase(0, n);
            if (last) co_return r;
        }
    }

    awaitable<bool> write(std::string_view bytes) {
        arm();
        auto [ec, n] = tls_ ? co_await asio::async_write(*tls_, asio::buffer(bytes.data(), bytes.size()), use_tuple)
                            : co_await asio::async_write(socket_, asio::buffer(bytes.data(), bytes.size()), use_tuple);
        co_return !ec;
    }

    // STARTTLS (RFC 3207) and the client's handshake; false when either fails.
    awaitable<bool> starttls(asio::ssl::context& ctx) {
        if ((co_await command("STARTTLS\r\n")).code != 220) co_return false;
        in_.clear();
        tls_.emplace(socket_, ctx);
        arm();
        auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::client, use_tuple);
        co_return !ec;
    }

    awaitable<Reply> command(std::string_view line) {
        bool written = co_await write(line);
        Reply r;
        if (written) r = co_await read_reply();
        co_return r;
    }

    // Closes the socket when an operation outlives its deadline, so every await above ends.
    // Runs beside the session (operator ||), which also bounds its lifetime by the session's.
    awaitable<void> watchdog() {
        asio::steady_timer timer(socket_.get_executor());
        for (;;) {
            timer.expires_at(deadline_);
            auto [ec] = co_await timer.async_wait(use_tuple);
            if (ec) co_return;
            if (deadline_ <= Clock::now()) {
                timed_out_ = true;
                boost::system::error_code ignored;
                socket_.close(ignored);
                co_return;
            }
        }
    }

private:
    void arm() { deadline_ = Clock::now() + timeout_; }

    tcp::socket socket_;
    std::optional<asio::ssl::stream<tcp::socket&>> tls_;
    std::string in_;
    std::chrono::seconds timeout_;
    Clock::time_point deadline_;
    bool timed_out_ = false;
};

// ------------------------------------------------------------------ load
struct Phase {
    std::uint64_t total = 0;
    std::uint64_t claimed = 0;
    std::uint64_t accepted = 0;
    std::uint64_t refused = 0;   // a reply other than the expected one, per message
    std::uint64_t errors = 0;    // a message lost to a dropped connection or a timeout
    std::uint64_t connections = 0;
    std::uint64_t refused_connections = 0;  // no 220 banner, or EHLO not accepted
    std::uint64_t timeouts = 0;
    std::vector<std::int64_t> latency_ns;
    // --e2e-latency: the sink's count, the count it must reach for the next message, and
    // each message's time from our 250 to its arrival there.
    std::function<std::uint64_t()> sink_messages;
    std::uint64_t sink_expected = 0;
    std::vector<std::int64_t> e2e_latency_ns;
    Clock::time_point start;
    Clock::time_point last_reply;

    bool claim() {
        if (claimed >= total) return false;
        ++claimed;
        return true;
    }
};

// One session: connect, EHLO, then messages until the phase has none left; a fresh
// connection per message with --new-connection. Returns false when the connection broke.
awaitable<bool> run_connection(Connection& c, const Options& opt, const tcp::endpoint& ep, Phase& phase,
                               WireMessage& msg, std::uint64_t& serial) {
    ++phase.connections;
    if (!co_await c.connect(ep)) co_return false;
    if ((co_await c.read_reply()).code != 220 ||
        (co_await c.command(fmt::format("EHLO {}\r\n", opt.helo))).code != 250) {
        ++phase.refused_connections;
        co_return false;
    }
    if (opt.tls && (!co_await c.starttls(*opt.tls) || (co_await c.command(fmt::format("EHLO {}\r\n", opt.helo))).code != 250)) {
        ++phase.refused_connections;
        co_return false;
    }
    const std::string mail = fmt::format("MAIL FROM:<{}>\r\n", opt.mail_from);
    const std::string rcpt = fmt::format("RCPT TO:<{}>\r\n", opt.rcpt_to);
    while (phase.claim()) {
        bool in_transaction = true;
        Reply r = co_await c.command(mail);
        if (r.code == 0) { ++phase.errors; co_return false; }
        if (r.code == 250) {
            r = co_await c.command(rcpt);
            if (r.code == 0) { ++phase.errors; co_return false; }
        }
        if (r.code == 250 || r.code == 251) {
            r = co_await c.command("DATA\r\n");
            if (r.code == 0) { ++phase.errors; co_return false; }
        }
        if (r.code == 354) {
            stamp_message_id(msg, ++serial);
            auto t0 = Clock::now();
            if (!co_await c.write(msg.bytes)) { ++phase.errors; co_return false; }
            r = co_await c.read_reply();
            auto t1 = Clock::now();
            if (r.code == 0) { ++phase.errors; co_return false; }
            in_transaction = false;
            phase.last_reply = t1;
            if (r.code == 250) {
                ++phase.accepted;
                phase.latency_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
                if (phase.sink_messages) {
                    // Blocks the client's only thread on purpose: one session, nothing else to do.
                    ++phase.sink_expected;
                    auto give_up = t1 + opt.sink_timeout;
                    while (phase.sink_messages() < phase.sink_expected && Clock::now() < give_up)
                        std::this_thread::sleep_for(std::chrono::microseconds(20));
                    auto t2 = Clock::now();
                    if (t2 < give_up)
                        phase.e2e_latency_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t2 - t1).count());
                }
            } else {
                ++phase.refused;
            }
        } else {
            ++phase.refused;
            phase.last_reply = Clock::now();
        }
        if (r.code == 421) co_return false;  // the server is closing this connection
        if (in_transaction && (co_await c.command("RSET\r\n")).code != 250) co_return false;
        if (opt.new_connection) break;
    }
    co_await c.command("QUIT\r\n");
    co_return true;
}

awaitable<void> run_session(const Options& opt, tcp::endpoint ep, Phase& phase, std::uint64_t serial_base) {
    auto ex = co_await asio::this_coro::executor;
    WireMessage msg =
        opt.message_file.empty() ? make_message(opt.size, opt.mail_from, opt.rcpt_to) : message_from_file(opt.message_file);
    std::uint64_t serial = serial_base;
    int failures_in_a_row = 0;
    while (phase.claimed < phase.total) {
        Connection c(ex, opt.timeout);
        std::uint64_t done_before = phase.accepted + phase.refused;
        auto result = co_await (run_connection(c, opt, ep, phase, msg, serial) || c.watchdog());
        if (c.timed_out()) ++phase.timeouts;
        bool ok = result.index() == 0 && std::get<0>(result);
        if (ok || phase.accepted + phase.refused > done_before) {
            failures_in_a_row = 0;
        } else if (++failures_in_a_row == 100) {
            fmt::print(stderr, "receive_bench: {}: a session gave up after 100 failed connections\n", opt.label);
            co_return;
        }
        if (!ok) {
            // Back off a little so a refusing server is not hammered in a tight loop.
            asio::steady_timer pause(ex, std::chrono::milliseconds(10));
            co_await pause.async_wait(use_tuple);
        }
    }
}

Phase run_phase(const Options& opt, std::uint64_t messages, std::uint64_t serial_base,
                std::function<std::uint64_t()> sink_messages = {}) {
    asio::io_context io(1);
    tcp::endpoint ep(asio::ip::make_address(opt.host), opt.port);
    Phase phase;
    phase.total = messages;
    if (sink_messages) {
        phase.sink_expected = sink_messages();
        phase.sink_messages = std::move(sink_messages);
    }
    phase.latency_ns.reserve(messages);
    phase.start = Clock::now();
    phase.last_reply = phase.start;
    for (int s = 0; s < opt.sessions; ++s) {
        asio::co_spawn(io, run_session(opt, ep, phase, serial_base + (static_cast<std::uint64_t>(s) << 32)),
                       [](std::exception_ptr e) {
                           if (!e) return;
                           try {
                               std::rethrow_exception(e);
                           } catch (const std::exception& x) {
                               fmt::print(stderr, "receive_bench: session failed: {}\n", x.what());
                           }
                       });
    }
    io.run();
    return phase;
}

double percentile_ms(std::vector<std::int64_t>& v, double p) {
    if (v.empty()) return 0.0;
    auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return static_cast<double>(v[k]) / 1e6;
}

// ------------------------------------------------------------------ the sink's counter
// smtp-sink -c writes "sess=N quit=N mesg=N\r" to its output after every event; `mesg` is
// the number of messages it has received since it started. Reads the last complete
// record (one ending in \r: a record being written is not yet complete); 0 before any.
// A FILE ending in .jsonl is instead a sink that writes one line per message it took
// (tests/support/smtp_peer.py's messages.jsonl: a sink that offers CHUNKING and
// STARTTLS, which smtp-sink does not): its count is the number of complete lines.
class SinkCounter {
public:
    explicit SinkCounter(const std::string& path)
        : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)), path_(path), lines_(path.ends_with(".jsonl")) {}
    ~SinkCounter() {
        if (fd_ >= 0) ::close(fd_);
    }
    SinkCounter(const SinkCounter&) = delete;
    SinkCounter& operator=(const SinkCounter&) = delete;
    bool ok() const { return fd_ >= 0; }
    const std::string& path() const { return path_; }

    std::uint64_t messages() const {
        if (lines_) return count_lines();
        struct stat st {};
        if (::fstat(fd_, &st) != 0 || st.st_size == 0) return 0;
        char buf[256];
        off_t from = st.st_size > static_cast<off_t>(sizeof buf) ? st.st_size - static_cast<off_t>(sizeof buf) : 0;
        long n = ::pread(fd_, buf, static_cast<std::size_t>(st.st_size - from), from);
        if (n <= 0) return 0;
        std::string_view tail(buf, static_cast<std::size_t>(n));
        auto end = tail.rfind('\r');
        if (end == std::string_view::npos) return 0;
        auto at = tail.rfind("mesg=", end);
        if (at == std::string_view::npos) return 0;
        return std::strtoull(std::string(tail.substr(at + 5, end - at - 5)).c_str(), nullptr, 10);
    }

    // Polls (every 2 ms) until the count reaches `target`; the moment it did, or nullopt
    // when `timeout` passed first.
    std::optional<Clock::time_point> wait_for(std::uint64_t target, std::chrono::seconds timeout) const {
        auto until = Clock::now() + timeout;
        for (;;) {
            if (messages() >= target) return Clock::now();
            if (Clock::now() > until) return std::nullopt;
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    }

private:
    // Reads only what was appended since the last call.
    std::uint64_t count_lines() const {
        char buf[65536];
        for (;;) {
            long n = ::pread(fd_, buf, sizeof buf, read_);
            if (n <= 0) return newlines_;
            read_ += n;
            newlines_ += static_cast<std::uint64_t>(std::count(buf, buf + n, '\n'));
        }
    }

    int fd_;
    std::string path_;
    bool lines_;
    mutable off_t read_ = 0;
    mutable std::uint64_t newlines_ = 0;
};

int run_load(const Options& opt) {
    std::optional<SinkCounter> sink;
    if (!opt.sink_counter.empty()) {
        sink.emplace(opt.sink_counter);
        if (!sink->ok()) {
            fmt::print(stderr, "receive_bench: cannot read the sink counter {}\n", opt.sink_counter);
            return 1;
        }
    }
    std::uint64_t serial_base = static_cast<std::uint64_t>(::getpid()) << 48;
    std::uint64_t warmup_accepted = 0;
    if (opt.warmup > 0) {
        std::uint64_t base = sink ? sink->messages() : 0;
        Phase w = run_phase(opt, opt.warmup, serial_base);
        warmup_accepted = w.accepted;
        if (w.accepted == 0) {
            fmt::print(stderr, "receive_bench: {}: warm-up accepted nothing (refused={} errors={})\n", opt.label,
                       w.refused, w.errors);
            return 1;
        }
        // The measured phase starts with the warm-up relayed, not with a backlog.
        if (sink && !sink->wait_for(base + w.accepted, opt.sink_timeout)) {
            fmt::print(stderr, "receive_bench: {}: the sink counted {} of the warm-up's {} messages in {} s\n",
                       opt.label, sink->messages() - base, w.accepted, opt.sink_timeout.count());
            return 1;
        }
    }
    std::uint64_t sink_base = sink ? sink->messages() : 0;
    std::function<std::uint64_t()> per_message;
    if (sink && opt.e2e_latency) per_message = [&sink] { return sink->messages(); };
    Phase p = run_phase(opt, opt.messages, serial_base + (1ULL << 40), per_message);
    std::string e2e;
    bool sink_complete = true;
    if (sink) {
        auto reached = sink->wait_for(sink_base + p.accepted, opt.sink_timeout);
        sink_complete = reached.has_value();
        double e2e_secs = reached ? std::chrono::duration<double>(*reached - p.start).count() : 0.0;
        e2e = fmt::format(" sink_msgs={} e2e_secs={:.3f} e2e_msgs_per_s={:.1f}{}", sink->messages() - sink_base,
                          e2e_secs, e2e_secs > 0 ? static_cast<double>(p.accepted) / e2e_secs : 0.0,
                          reached ? "" : " SINK_TIMEOUT");
        if (opt.e2e_latency)
            e2e += fmt::format(" e2e_latency_msgs={} e2e_p50_ms={:.3f} e2e_p99_ms={:.3f}", p.e2e_latency_ns.size(),
                               percentile_ms(p.e2e_latency_ns, 0.50), percentile_ms(p.e2e_latency_ns, 0.99));
    }
    double secs = std::chrono::duration<double>(p.last_reply - p.start).count();
    double rate = secs > 0 ? static_cast<double>(p.accepted) / secs : 0.0;
    double p50 = percentile_ms(p.latency_ns, 0.50);
    double p99 = percentile_ms(p.latency_ns, 0.99);
    double max = p.latency_ns.empty() ? 0.0 : static_cast<double>(*std::max_element(p.latency_ns.begin(), p.latency_ns.end())) / 1e6;
    fmt::print("cell target={} sessions={} size={} mode={} msgs={} accepted={} refused={} errors={} timeouts={} "
               "connections={} refused_connections={} warmup_accepted={} secs={:.3f} msgs_per_s={:.1f} p50_ms={:.3f} "
               "p99_ms={:.3f} max_ms={:.3f}{}\n",
               opt.label, opt.sessions, opt.size, std::string(opt.new_connection ? "new-connection" : "reuse") + (opt.tls ? "+starttls" : ""), opt.messages,
               p.accepted, p.refused, p.errors, p.timeouts, p.connections, p.refused_connections, warmup_accepted, secs, rate, p50, p99, max,
               e2e);
    return p.accepted == opt.messages && sink_complete ? 0 : 1;
}

// ------------------------------------------------------------------ idle
// VmRSS of a process in MiB, from /proc/<pid>/status; nullopt if it is gone.
std::optional<double> rss_mb(int pid, std::string_view key = "VmRSS:") {
    std::ifstream in(fmt::format("/proc/{}/status", pid));
    std::string line;
    while (std::getline(in, line)) {
        if (line.starts_with(key)) return std::strtod(line.c_str() + key.size(), nullptr) / 1024.0;  // kB
    }
    return std::nullopt;
}

void raise_nofile(rlim_t wanted) {
    rlimit lim{};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    if (lim.rlim_cur >= wanted) return;
    if (lim.rlim_max < wanted) lim.rlim_max = wanted;  // works as root; otherwise fails below
    lim.rlim_cur = wanted;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
        ::getrlimit(RLIMIT_NOFILE, &lim);
        lim.rlim_cur = lim.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &lim);
        fmt::print(stderr, "receive_bench: RLIMIT_NOFILE is capped at {}\n", lim.rlim_max);
    }
}

int run_idle(const Options& opt) {
    if (opt.server_pid <= 0) usage();
    raise_nofile(static_cast<rlim_t>(opt.connections) + 64);
    auto before = rss_mb(opt.server_pid);
    if (!before) {
        fmt::print(stderr, "receive_bench: no process {}\n", opt.server_pid);
        return 1;
    }
    asio::io_context io(1);
    tcp::endpoint ep(asio::ip::make_address(opt.host), opt.port);
    std::vector<std::unique_ptr<Connection>> open;
    open.reserve(static_cast<std::size_t>(opt.connections));
    int next = 0, banners = 0, failed = 0;
    // A few openers at a time, so the listen backlog never overflows.
    constexpr int openers = 64;
    for (int i = 0; i < openers; ++i) {
        asio::co_spawn(io, [&]() -> awaitable<void> {
            while (next < opt.connections) {
                ++next;
                auto c = std::make_unique<Connection>(co_await asio::this_coro::executor, opt.timeout);
                auto greeted = [&]() -> awaitable<bool> {
                    bool connected = co_await c->connect(ep);
                    Reply banner;
                    if (connected) banner = co_await c->read_reply();
                    co_return banner.code == 220;
                };
                auto result = co_await (greeted() || c->watchdog());
                if (result.index() == 0 && std::get<0>(result)) {
                    ++banners;
                    open.push_back(std::move(c));
                } else {
                    ++failed;
                }
            }
        }, asio::detached);
    }
    io.run();  // returns once every connection has its banner: idle sockets have no pending work
    std::this_thread::sleep_for(std::chrono::duration<double>(opt.settle));
    auto after = rss_mb(opt.server_pid);
    auto anon = rss_mb(opt.server_pid, "RssAnon:");
    if (!after) {
        fmt::print(stderr, "receive_bench: server {} died during the idle cell\n", opt.server_pid);
        return 1;
    }
    fmt::print("idle banners={} failed={} rss_before_mb={:.1f} rss_anon_after_mb={:.1f} per_connection_kb={:.1f}\n",
               banners, failed, *before, anon.value_or(0.0),
               banners > 0 ? (*after - *before) * 1024.0 / banners : 0.0);
    fmt::print("idle_connections={} rss_delta_mb={:.1f} rss_total_mb={:.1f}\n", banners, *after - *before, *after);
    open.clear();
    return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) usage();
    Options opt;
    opt.mode = argv[1];
    for (int i = 2; i < argc; ++i) {
        std::string_view a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage();
            return argv[++i];
        };
        if (a == "--port") opt.port = static_cast<std::uint16_t>(std::stoul(value()));
        else if (a == "--host") opt.host = value();
        else if (a == "--label") opt.label = value();
        else if (a == "--sessions") opt.sessions = std::stoi(value());
        else if (a == "--messages") opt.messages = std::stoull(value());
        else if (a == "--warmup") opt.warmup = std::stoull(value());
        else if (a == "--size") opt.size = std::stoul(value());
        else if (a == "--new-connection") opt.new_connection = true;
        else if (a == "--starttls") {
            opt.tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
            opt.tls->set_verify_mode(asio::ssl::verify_none);  // the bench measures the servers, not trust
        }
        else if (a == "--from") opt.mail_from = value();
        else if (a == "--to") opt.rcpt_to = value();
        else if (a == "--message") opt.message_file = value();
        else if (a == "--timeout") opt.timeout = std::chrono::seconds(std::stoi(value()));
        else if (a == "--connections") opt.connections = std::stoi(value());
        else if (a == "--pid") opt.server_pid = std::stoi(value());
        else if (a == "--settle") opt.settle = std::stod(value());
        else if (a == "--sink-counter") opt.sink_counter = value();
        else if (a == "--sink-timeout") opt.sink_timeout = std::chrono::seconds(std::stoi(value()));
        else if (a == "--e2e-latency") opt.e2e_latency = true;
        else usage();
    }
    if (opt.port == 0 || opt.sessions < 1 || opt.size < 256) usage();
    if (opt.mode == "load") return run_load(opt);
    if (opt.mode == "idle") return run_idle(opt);
    usage();
}
