// Real content scanners for tests, on loopback, from Debian's packages: rspamd (its proxy
// worker speaking milter, forwarding to its normal worker, no network lookups: DNS goes to
// a closed loopback port) and ClamAV (clamd with a signature database the fixture writes
// itself — the EICAR test file's MD5 and a body signature — plus clamav-milter). Each
// runs in the foreground from a private directory and stops with the fixture.
//
// Cost (2 cores, measured): clamd ~1 s to answer, clamav-milter at once; rspamd compiles
// its regular expressions at its first start (15-45 s), then reuses them from
// EDGE_RSPAMD_CACHE (a directory in the build tree; the files are named by their content's
// hash, so instances share them safely): ~4 s.
#pragma once

#include "child_process.hpp"
#include "edge_server.hpp"
#include "temp_dir.hpp"

#include <pwd.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace edge::test {

#ifndef EDGE_RSPAMD_PATH
#define EDGE_RSPAMD_PATH "/usr/bin/rspamd"
#endif
#ifndef EDGE_CLAMD_PATH
#define EDGE_CLAMD_PATH "/usr/sbin/clamd"
#endif
#ifndef EDGE_CLAMAV_MILTER_PATH
#define EDGE_CLAMAV_MILTER_PATH "/usr/sbin/clamav-milter"
#endif
#ifndef MILTER_PROBE_SCRIPT
#error "define MILTER_PROBE_SCRIPT as the path of tests/support/milter_probe.py"
#endif

// The GTUBE and EICAR test strings (spam and virus scanners' "detect me" patterns).
inline const std::string kGtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";
inline const std::string kEicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

inline std::string file_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// What milter_probe.py says a milter answers to `message` (its last line: "accept",
// "replycode 554 5.7.1 …"), or "" when it does not answer.
inline std::string probe_milter(const TempDir& dir, std::uint16_t port, const std::string& message) {
    const std::string path = dir.sub("probe.eml");
    std::ofstream(path, std::ios::binary) << message;
    std::string out;
    if (run_command("/usr/bin/python3 " + shell_quote(MILTER_PROBE_SCRIPT) + " 127.0.0.1:" + std::to_string(port) + " " +
                        shell_quote(path) + " 2>&1",
                    &out) != 0)
        return {};
    while (!out.empty() && out.back() == '\n') out.pop_back();
    auto lf = out.rfind('\n');
    return lf == std::string::npos ? out : out.substr(lf + 1);
}

class RspamdServer {
public:
    RspamdServer() : normal_(free_port()), controller_(free_port()), milter_(free_port()) {
        namespace fs = std::filesystem;
        for (const char* d : {"local/override.d", "local/local.d", "run", "db", "log"}) fs::create_directories(dir_.sub(d));
        write(dir_.sub("local/override.d/worker-normal.inc"), "bind_socket = \"127.0.0.1:" + std::to_string(normal_) + "\";\ncount = 1;\n");
        write(dir_.sub("local/override.d/worker-controller.inc"), "bind_socket = \"127.0.0.1:" + std::to_string(controller_) + "\";\n");
        // The milter side: the proxy worker, forwarding to the normal worker (wave2-notes:
        // self_scan alone did not scan).
        write(dir_.sub("local/override.d/worker-proxy.inc"),
              "bind_socket = \"127.0.0.1:" + std::to_string(milter_) + "\";\nmilter = yes;\ntimeout = 120s;\ncount = 1;\n"
              "upstream \"local\" { default = yes; hosts = \"127.0.0.1:" + std::to_string(normal_) + "\"; }\n"
              "spam_header = \"X-Spam\";\n");
        // No network: every DNS query goes to a closed loopback port and fails at once;
        // only the local filters run.
        write(dir_.sub("local/local.d/options.inc"),
              "dns { nameserver = [\"127.0.0.1:9\"]; timeout = 0.2s; retransmits = 1; }\nfilters = \"chartable,regexp\";\n");
        // Headers added through the milter, also for mail from 127.0.0.1 (rspamd skips local mail by default).
        write(dir_.sub("local/local.d/milter_headers.conf"),
              "use = [\"x-spamd-result\", \"x-spam-status\"];\nskip_local = false;\nskip_authenticated = false;\n");
        seed_cache();
        start();
    }
    ~RspamdServer() { stop(); }
    RspamdServer(const RspamdServer&) = delete;
    RspamdServer& operator=(const RspamdServer&) = delete;

    std::uint16_t milter_port() const { return milter_; }
    std::string milter_address() const { return "127.0.0.1:" + std::to_string(milter_); }
    double start_seconds() const { return start_seconds_; }
    bool running() const { return pid_ > 0; }

    // Starts rspamd and returns once GTUBE through its milter is answered as a reject.
    void start() {
        if (pid_ > 0) return;
        std::vector<std::string> argv{EDGE_RSPAMD_PATH, "-f", "-c", "/etc/rspamd/rspamd.conf",
                                      "--var=LOCAL_CONFDIR=" + dir_.sub("local"), "--var=RUNDIR=" + dir_.sub("run"),
                                      "--var=DBDIR=" + dir_.sub("db"), "--var=LOGDIR=" + dir_.sub("log")};
        if (::geteuid() == 0) {
            // rspamd does not run as root: its own user owns the directories.
            if (const passwd* pw = ::getpwnam("_rspamd")) {
                for (auto& e : std::filesystem::recursive_directory_iterator(dir_.path()))
                    (void)::chown(e.path().c_str(), pw->pw_uid, pw->pw_gid);
                (void)::chown(dir_.path().c_str(), pw->pw_uid, pw->pw_gid);
            }
            argv.insert(argv.begin() + 2, {"-u", "_rspamd", "-g", "_rspamd"});
        }
        const auto t0 = std::chrono::steady_clock::now();
        pid_ = spawn_logged(argv, dir_.sub("rspamd.out"));
        const std::string gtube = "From: a@fabrikam.test\r\nTo: b@contoso.test\r\nSubject: gtube\r\n\r\n" + kGtube + "\r\n";
        auto until = t0 + std::chrono::seconds(120);
        while (std::chrono::steady_clock::now() < until) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                throw std::runtime_error("rspamd exited at start: " + log_text());
            }
            if (connect_ok(milter_) && probe_milter(dir_, milter_, gtube).starts_with("replycode 554")) {
                start_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                keep_cache();
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(250));
        }
        stop();
        throw std::runtime_error("rspamd did not answer GTUBE on " + milter_address() + ": " + log_text());
    }
    void stop() { stop_child(pid_, std::chrono::seconds(10)); }
    std::string log_text() const { return file_text(dir_.sub("rspamd.out")) + file_text(dir_.sub("log/rspamd.log")); }

private:
    static void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }
    static bool connect_ok(std::uint16_t port) {
        int fd = connect_loopback(port);
        if (fd < 0) return false;
        ::close(fd);
        return true;
    }
    // Compiled regular expressions from an earlier run (named by their hash).
    void seed_cache() const {
#ifdef EDGE_RSPAMD_CACHE
        namespace fs = std::filesystem;
        std::error_code ec;
        for (auto& e : fs::directory_iterator(EDGE_RSPAMD_CACHE, ec))
            fs::copy_file(e.path(), dir_.sub("db") + "/" + e.path().filename().string(), fs::copy_options::skip_existing, ec);
#endif
    }
    void keep_cache() const {
#ifdef EDGE_RSPAMD_CACHE
        namespace fs = std::filesystem;
        std::error_code ec;
        fs::create_directories(EDGE_RSPAMD_CACHE, ec);
        for (auto& e : fs::directory_iterator(dir_.sub("db"), ec)) {
            const std::string name = e.path().filename().string();
            if (name.find(".hs") == std::string::npos) continue;
            const fs::path to = fs::path(EDGE_RSPAMD_CACHE) / name;
            if (fs::exists(to)) continue;
            const fs::path tmp = fs::path(EDGE_RSPAMD_CACHE) / (name + ".tmp" + std::to_string(::getpid()));
            if (fs::copy_file(e.path(), tmp, ec)) fs::rename(tmp, to, ec);
        }
#endif
    }

    TempDir dir_;
    std::uint16_t normal_, controller_, milter_;
    pid_t pid_ = -1;
    double start_seconds_ = 0;
};

// clamd with a database of the EICAR test file only, and clamav-milter in front of it
// (OnInfected Reject: "550 5.7.1 Virus found: <name>", as clamav-milter answers).
class ClamavServers {
public:
    ClamavServers() : clamd_(free_port()), milter_(free_port()) {
        std::filesystem::create_directories(dir_.sub("db"));
        // A body signature (.ndb: any file type, offset any, the hex of the test string).
        std::string hex;
        static const char digits[] = "0123456789abcdef";
        for (unsigned char c : std::string("EICAR-STANDARD-ANTIVIRUS-TEST-FILE")) {
            hex += digits[c >> 4];
            hex += digits[c & 15];
        }
        std::ofstream(dir_.sub("db/test.ndb")) << "Eicar-Test-Body:0:*:" << hex << "\n";
        const std::string user = ::geteuid() == 0 ? "User root\n" : "";
        std::ofstream(dir_.sub("clamd.conf")) << "Foreground yes\nDatabaseDirectory " << dir_.sub("db") << "\nTCPSocket "
                                              << clamd_ << "\nTCPAddr 127.0.0.1\nLogFile " << dir_.sub("clamd.log")
                                              << "\nTemporaryDirectory " << dir_.path() << "\n" << user;
        std::ofstream(dir_.sub("milter.conf")) << "Foreground yes\nMilterSocket inet:" << milter_ << "@127.0.0.1\nClamdSocket tcp:127.0.0.1:"
                                               << clamd_ << "\nLogFile " << dir_.sub("milter.log")
                                               << "\nOnInfected Reject\nOnFail Defer\nAddHeader Replace\nRejectMsg Virus found: %v\n"
                                               << user;
        const auto t0 = std::chrono::steady_clock::now();
        clamd_pid_ = spawn_logged({EDGE_CLAMD_PATH, "-c", dir_.sub("clamd.conf")}, dir_.sub("clamd.out"));
        milter_pid_ = spawn_logged({EDGE_CLAMAV_MILTER_PATH, "-c", dir_.sub("milter.conf")}, dir_.sub("milter.out"));
        const std::string virus = "From: a@fabrikam.test\r\nTo: b@contoso.test\r\nSubject: v\r\n\r\n" + kEicar + "\r\n";
        auto until = t0 + std::chrono::seconds(60);
        while (std::chrono::steady_clock::now() < until) {
            if (probe_milter(dir_, milter_, virus).starts_with("replycode 550")) {
                start_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        stop();
        throw std::runtime_error("clamav-milter did not find EICAR: " + file_text(dir_.sub("clamd.out")) +
                                 file_text(dir_.sub("milter.out")) + file_text(dir_.sub("milter.log")));
    }
    ~ClamavServers() { stop(); }
    ClamavServers(const ClamavServers&) = delete;
    ClamavServers& operator=(const ClamavServers&) = delete;

    std::string milter_address() const { return "127.0.0.1:" + std::to_string(milter_); }
    std::uint16_t milter_port() const { return milter_; }
    double start_seconds() const { return start_seconds_; }
    void stop() {
        stop_child(milter_pid_, std::chrono::seconds(5));
        stop_child(clamd_pid_, std::chrono::seconds(5));
    }

private:
    TempDir dir_;
    std::uint16_t clamd_, milter_;
    pid_t clamd_pid_ = -1, milter_pid_ = -1;
    double start_seconds_ = 0;
};

}  // namespace edge::test
