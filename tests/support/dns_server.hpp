// A real DNS server for tests: NSD (Debian's nsd package), authoritative for the zones
// a test hands it, on 127.0.0.1 at a free port (UDP and TCP), run unprivileged in the
// foreground from a private directory, and stopped when the fixture goes.
#pragma once

#include "child_process.hpp"
#include "temp_dir.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace edge::test {

#ifndef EDGE_NSD_PATH
#define EDGE_NSD_PATH "/usr/sbin/nsd"
#endif

struct DnsZone {
    std::string name;  // "example.test"
    // Zone-file text, read with $ORIGIN at the zone and $TTL 300 (the text may set its
    // own $TTL). Without an SOA line the fixture adds one (negative TTL 60) and an NS.
    std::string text;
};

class NsdServer {
public:
    explicit NsdServer(std::vector<DnsZone> zones) : zones_(std::move(zones)) {
        if (zones_.empty()) throw std::invalid_argument("NsdServer: no zone");
        // Another test may take the port between our check and NSD's bind: try again.
        for (int attempt = 0;; ++attempt) {
            port_ = free_udp_tcp_port();
            write_files();
            try {
                start();
                return;
            } catch (const std::exception&) {
                if (attempt >= 4) throw;
            }
        }
    }
    ~NsdServer() { stop(); }
    NsdServer(const NsdServer&) = delete;
    NsdServer& operator=(const NsdServer&) = delete;

    std::uint16_t port() const { return port_; }
    std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
    const std::string& directory() const { return dir_.path(); }
    bool running() const { return pid_ > 0; }

    // Replaces (or adds) a zone and restarts NSD on the same port, so the next query
    // sees the new data.
    void set_zone(const std::string& name, const std::string& text) {
        bool found = false;
        for (auto& z : zones_)
            if (z.name == name) {
                z.text = text;
                found = true;
            }
        if (!found) zones_.push_back({name, text});
        stop();
        write_files();
        start();
    }

    // Starts NSD and returns once it answers for the first zone over UDP and accepts
    // TCP. Throws with NSD's log when it does not within 10 s.
    void start() {
        if (pid_ > 0) return;
        pid_ = spawn_logged({EDGE_NSD_PATH, "-d", "-c", dir_.sub("nsd.conf")}, dir_.sub("nsd.out"));
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < until) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                throw std::runtime_error("nsd exited at start: " + log_text());
            }
            if (answers_soa(zones_.front().name) && accepts_tcp()) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        stop();
        throw std::runtime_error("nsd did not answer on " + endpoint() + ": " + log_text());
    }

    // SIGTERM to the NSD we started (it stops its own children) and wait; SIGKILL after 5 s.
    void stop() { stop_child(pid_, std::chrono::seconds(5)); }

    // What NSD wrote (its own log file and its stdout/stderr), for failure messages.
    std::string log_text() const {
        std::string all;
        for (const char* name : {"nsd.log", "nsd.out"}) {
            std::ifstream in(dir_.sub(name));
            std::stringstream s;
            s << in.rdbuf();
            all += s.str();
        }
        return all;
    }

    // A port free on 127.0.0.1 for both UDP and TCP at the time of asking.
    static std::uint16_t free_udp_tcp_port() {
        for (int attempt = 0; attempt < 50; ++attempt) {
            int t = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            socklen_t len = sizeof a;
            if (::bind(t, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
                ::getsockname(t, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
                ::close(t);
                continue;
            }
            int u = ::socket(AF_INET, SOCK_DGRAM, 0);
            bool both = ::bind(u, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
            ::close(u);
            ::close(t);
            if (both) return ntohs(a.sin_port);
        }
        throw std::runtime_error("no port free for both UDP and TCP");
    }

private:
    // NSD without root: no user switch, no chroot, every file it writes in our
    // directory, no zone database (NSD 4 reads the zone files), no remote control.
    void write_files() {
        const std::string& d = dir_.path();
        std::ofstream conf(dir_.sub("nsd.conf"));
        conf << "server:\n"
             << "  ip-address: 127.0.0.1@" << port_ << "\n"
             << "  port: " << port_ << "\n"
             << "  do-ip6: no\n"
             << "  username: \"\"\n"
             << "  chroot: \"\"\n"
             << "  zonesdir: \"" << d << "\"\n"
             << "  database: \"\"\n"
             << "  zonelistfile: \"" << d << "/zone.list\"\n"
             << "  pidfile: \"" << d << "/nsd.pid\"\n"
             << "  xfrdfile: \"" << d << "/xfrd.state\"\n"
             << "  xfrdir: \"" << d << "\"\n"
             << "  logfile: \"" << d << "/nsd.log\"\n"
             << "  server-count: 1\n"
             << "  reuseport: no\n"
             << "  hide-version: yes\n"
             << "  verbosity: 1\n"
             << "remote-control:\n"
             << "  control-enable: no\n";
        for (const auto& z : zones_) {
            conf << "zone:\n  name: \"" << z.name << "\"\n  zonefile: \"" << z.name << ".zone\"\n";
            std::ofstream zone(dir_.sub(z.name + ".zone"));
            zone << "$ORIGIN " << z.name << ".\n$TTL 300\n";
            if (z.text.find("SOA") == std::string::npos)
                zone << "@ IN SOA ns." << z.name << ". hostmaster." << z.name << ". 1 3600 600 86400 60\n"
                     << "@ IN NS ns." << z.name << ".\n";
            zone << z.text << "\n";
        }
    }

    // A hand-made SOA query (no resolver under test involved): true when NSD answers
    // it NOERROR with the AA bit, i.e. it has loaded the zone.
    bool answers_soa(const std::string& zone) const {
        std::string q = {'\x4e', '\x53', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
        std::stringstream labels(zone);
        std::string label;
        while (std::getline(labels, label, '.')) q += static_cast<char>(label.size()) + label;
        q += std::string{0, 0, 6, 0, 1};
        int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port_);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bool ok = false;
        if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::send(fd, q.data(), q.size(), 0) > 0) {
            pollfd p{fd, POLLIN, 0};
            unsigned char r[512];
            if (::poll(&p, 1, 200) == 1) {
                auto n = ::recv(fd, r, sizeof r, 0);
                ok = n >= 12 && r[0] == 0x4e && r[1] == 0x53 && (r[2] & 0x80) && (r[2] & 0x04) && (r[3] & 0x0f) == 0;
            }
        }
        ::close(fd);
        return ok;
    }

    bool accepts_tcp() const {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port_);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        ::close(fd);
        return ok;
    }

    TempDir dir_;
    std::vector<DnsZone> zones_;
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace edge::test
