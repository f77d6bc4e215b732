// The "accept at once" milter for receive_bench's milter cell: the edge's own cost of
// asking a milter, with the milter's work taken out. It negotiates (version 6, no
// actions, no steps skipped) and answers SMFIR_ACCEPT at connect — the same per-message
// cost for Postfix's smtpd_milters and for the Milter Agent: a connection, option
// negotiation, connect, accept, quit. Served by a fixed pool of threads (below). (Postfix keeps one milter connection per SMTP
// session while the edge opens one per message; with one message per session, as
// receive_bench sends, the two do the same work.)
//   milter_accept 127.0.0.1:PORT     (prints "READY 127.0.0.1:PORT")
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kThreads = 128;

bool read_exact(int fd, char* p, std::size_t n) {
    while (n > 0) {
        ssize_t r = ::read(fd, p, n);
        if (r <= 0) return false;
        p += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

bool send_packet(int fd, char code, const std::string& data = {}) {
    std::string out(4, '\0');
    const auto len = static_cast<std::uint32_t>(data.size() + 1);
    out[0] = static_cast<char>(len >> 24), out[1] = static_cast<char>(len >> 16), out[2] = static_cast<char>(len >> 8),
    out[3] = static_cast<char>(len);
    out.push_back(code);
    out += data;
    return ::write(fd, out.data(), out.size()) == static_cast<ssize_t>(out.size());
}

void serve(int fd) {
    std::string buf;
    for (;;) {
        unsigned char head[4];
        if (!read_exact(fd, reinterpret_cast<char*>(head), 4)) break;
        const std::uint32_t len = std::uint32_t{head[0]} << 24 | std::uint32_t{head[1]} << 16 | std::uint32_t{head[2]} << 8 | head[3];
        if (len == 0 || len > (1u << 20)) break;
        buf.resize(len);
        if (!read_exact(fd, buf.data(), len)) break;
        const char cmd = buf[0];
        if (cmd == 'O') {
            // version 6, no actions, no protocol flags
            if (!send_packet(fd, 'O', std::string("\0\0\0\6\0\0\0\0\0\0\0\0", 12))) break;
        } else if (cmd == 'Q') {
            break;
        } else if (cmd == 'D' || cmd == 'A' || cmd == 'K') {
            continue;  // macros, abort, quit-new-connection: never answered
        } else if (!send_packet(fd, cmd == 'C' ? 'a' : 'c')) {
            break;
        }
    }
    ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
    const std::string where = argc > 1 ? argv[1] : "127.0.0.1:0";
    const auto colon = where.rfind(':');
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(where.substr(colon + 1))));
    if (::inet_pton(AF_INET, where.substr(0, colon).c_str(), &a.sin_addr) != 1) return 2;
    const int srv = ::socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    ::setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(srv, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(srv, 512) != 0) {
        std::perror("milter_accept");
        return 1;
    }
    socklen_t alen = sizeof a;
    ::getsockname(srv, reinterpret_cast<sockaddr*>(&a), &alen);
    std::printf("READY %s:%u\n", where.substr(0, colon).c_str(), ntohs(a.sin_port));
    std::fflush(stdout);
    // A fixed pool of threads, each accepting and serving one connection at a time: a
    // thread created per connection cost more than the conversation itself and capped
    // the cell near 2,500 conversations/s (the accept loop waited on thread creation).
    // More threads than the benchmark's 50 sessions, so no conversation waits for one.
    std::vector<std::thread> pool;
    for (int i = 0; i < kThreads; ++i)
        pool.emplace_back([srv] {
            const int on = 1;
            for (;;) {
                const int fd = ::accept(srv, nullptr, nullptr);
                if (fd < 0) continue;
                ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
                serve(fd);
            }
        });
    for (auto& t : pool) t.join();
}
