// MilterPeer: runs tests/support/milter_peer.py (a scripted milter speaking the raw v6
// wire protocol) on a loopback port, with the script given; the commands it received
// are in commands.jsonl for the test to read.
#pragma once

#include "child_process.hpp"
#include "temp_dir.hpp"

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#ifndef MILTER_PEER_SCRIPT
#error "define MILTER_PEER_SCRIPT as the path of tests/support/milter_peer.py"
#endif

namespace edge::test {

class MilterPeer {
public:
    explicit MilterPeer(const std::string& script_json) {
        pid_ = spawn_logged({"/usr/bin/python3", MILTER_PEER_SCRIPT, "--listen", "127.0.0.1:0", "--record", dir_.sub("record"),
                             "--script", script_json},
                            dir_.sub("peer.log"));
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (std::chrono::steady_clock::now() < until) {
            const std::string log = text(dir_.sub("peer.log"));
            if (auto at = log.find("READY 127.0.0.1:"); at != std::string::npos && log.find('\n', at) != std::string::npos) {
                port_ = static_cast<std::uint16_t>(std::stoul(log.substr(at + 16)));
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        stop_child(pid_, std::chrono::seconds(1));
        throw std::runtime_error("milter_peer did not get ready: " + text(dir_.sub("peer.log")));
    }
    ~MilterPeer() { stop_child(pid_, std::chrono::seconds(2)); }
    MilterPeer(const MilterPeer&) = delete;
    MilterPeer& operator=(const MilterPeer&) = delete;

    std::uint16_t port() const { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    // Every command received so far, one JSON object a line.
    std::string commands() const { return text(dir_.sub("record") + "/commands.jsonl"); }

private:
    static std::string text(const std::string& path) {
        std::ifstream in(path);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    TempDir dir_;
    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
};

}  // namespace edge::test
