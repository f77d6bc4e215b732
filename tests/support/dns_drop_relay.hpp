// A DNS server that never answers for some zones, for tests: a UDP relay on 127.0.0.1
// that forwards every query to a real server (NSD, dns_server.hpp) and its answers
// back, except queries under the zones it is told to drop, which it swallows — a
// DNSBL that is down, as NSD (which always answers) cannot be. UDP only: the answers
// our tests ask for are small. One thread; stopped and joined by the destructor.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace edge::test {

class DnsDropRelay {
public:
    DnsDropRelay(std::uint16_t upstream_port, std::vector<std::string> dropped_zones)
        : dropped_(std::move(dropped_zones)) {
        for (auto& z : dropped_)
            for (auto& c : z) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        listen_ = bound_udp_socket();
        upstream_ = bound_udp_socket();
        sockaddr_in up = loopback(upstream_port);
        if (::connect(upstream_, reinterpret_cast<sockaddr*>(&up), sizeof up) != 0) throw std::runtime_error("relay: connect");
        sockaddr_in a{};
        socklen_t len = sizeof a;
        ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] { run(); });
    }
    ~DnsDropRelay() {
        stop_ = true;
        thread_.join();
        ::close(listen_);
        ::close(upstream_);
    }
    DnsDropRelay(const DnsDropRelay&) = delete;
    DnsDropRelay& operator=(const DnsDropRelay&) = delete;

    std::uint16_t port() const { return port_; }
    std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
    // Queries swallowed so far, and passed on (a cached answer is asked for no more).
    int dropped() const { return dropped_count_; }
    int forwarded() const { return forwarded_count_; }

private:
    static sockaddr_in loopback(std::uint16_t port) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return a;
    }
    static int bound_udp_socket() {
        int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_in a = loopback(0);
        if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("relay: bind");
        return fd;
    }

    // The question's name, lower case, dotted, without the root ("2.0.0.127.zen.test").
    static std::string question_name(const unsigned char* p, std::size_t n) {
        std::string name;
        for (std::size_t i = 12; i < n && p[i] != 0;) {
            const std::size_t len = p[i];
            if (len > 63 || i + 1 + len > n) return {};
            if (!name.empty()) name += '.';
            for (std::size_t k = 0; k < len; ++k) name += static_cast<char>(std::tolower(p[i + 1 + k]));
            i += 1 + len;
        }
        return name;
    }

    bool drops(const std::string& name) const {
        for (const auto& z : dropped_)
            if (name == z || (name.size() > z.size() && name.ends_with("." + z))) return true;
        return false;
    }

    void run() {
        unsigned char buf[65536];
        while (!stop_) {
            pollfd fds[2] = {{listen_, POLLIN, 0}, {upstream_, POLLIN, 0}};
            if (::poll(fds, 2, 20) <= 0) continue;
            if (fds[0].revents & POLLIN) {
                sockaddr_in from{};
                socklen_t len = sizeof from;
                auto n = ::recvfrom(listen_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
                if (n >= 12) {
                    if (drops(question_name(buf, static_cast<std::size_t>(n)))) {
                        ++dropped_count_;
                    } else {
                        ++forwarded_count_;
                        clients_[static_cast<std::uint16_t>(buf[0] << 8 | buf[1])] = from;
                        (void)::send(upstream_, buf, static_cast<std::size_t>(n), 0);
                    }
                }
            }
            if (fds[1].revents & POLLIN) {
                auto n = ::recv(upstream_, buf, sizeof buf, 0);
                if (n >= 12) {
                    auto it = clients_.find(static_cast<std::uint16_t>(buf[0] << 8 | buf[1]));
                    if (it != clients_.end()) {
                        (void)::sendto(listen_, buf, static_cast<std::size_t>(n), 0,
                                       reinterpret_cast<const sockaddr*>(&it->second), sizeof it->second);
                        clients_.erase(it);
                    }
                }
            }
        }
    }

    std::vector<std::string> dropped_;
    int listen_ = -1, upstream_ = -1;
    std::uint16_t port_ = 0;
    std::map<std::uint16_t, sockaddr_in> clients_;  // query id -> who asked
    std::atomic<bool> stop_{false};
    std::atomic<int> dropped_count_{0};
    std::atomic<int> forwarded_count_{0};
    std::thread thread_;
};

}  // namespace edge::test
