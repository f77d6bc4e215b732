// The EdgeSync listener's limits, against the real edge-transport binary (issue 13,
// weakness 2): a flood of idle TCP connections to the sync port costs the server a few
// descriptors, no CPU and no memory it keeps; the SMTP port answers through it; the
// acceptor pauses instead of spinning when the process is out of descriptors; the
// listener binds 127.0.0.1 unless the administrator says otherwise.
#include "edge_server.hpp"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <dirent.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

using namespace edge::test;
using namespace std::chrono_literals;

namespace {

// Descriptors the process holds now.
std::size_t descriptor_count(pid_t pid) {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
        (void)e;
        ++n;
    }
    return n;
}

// User + system CPU time of the process, in seconds (/proc/<pid>/stat fields 14, 15).
double cpu_seconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::istringstream rest(text.substr(text.rfind(')') + 2));  // after "(comm) "
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15; ++i) {
        rest >> field;
        if (i == 14) utime = std::stoull(field);
        if (i == 15) stime = std::stoull(field);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Resident memory of the process, in bytes.
std::size_t rss_bytes(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.starts_with("VmRSS:")) return std::stoull(line.substr(6)) * 1024;
    return 0;
}

// The test process opens thousands of sockets: its own limit must allow them.
void raise_own_descriptor_limit(rlim_t want) {
    rlimit rl{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &rl) == 0);
    if (rl.rlim_cur >= want) return;
    rl.rlim_cur = want;
    if (rl.rlim_max < want) rl.rlim_max = want;  // allowed as root
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &rl) == 0);
}

// A TCP connection that says nothing: what the flood is made of.
int idle_connection(const char* address, std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, address, &a.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

bool accepts(const char* address, std::uint16_t port) {
    int fd = idle_connection(address, port);
    if (fd < 0) return false;
    ::close(fd);
    return true;
}

// Connections opened from a few threads at once, closed together.
struct Flood {
    std::vector<int> fds;
    Flood(std::uint16_t port, std::size_t count) {
        constexpr std::size_t kThreads = 4;
        std::vector<std::vector<int>> parts(kThreads);
        std::vector<std::thread> threads;
        for (std::size_t t = 0; t < kThreads; ++t)
            threads.emplace_back([&, t] {
                for (std::size_t i = t; i < count; i += kThreads)
                    if (int fd = idle_connection("127.0.0.1", port); fd >= 0) parts[t].push_back(fd);
            });
        for (auto& th : threads) th.join();
        for (auto& p : parts) fds.insert(fds.end(), p.begin(), p.end());
    }
    ~Flood() { close(); }
    void close() {
        for (int fd : fds) ::close(fd);
        fds.clear();
    }
};

// A subscribed edge with its sync port; the listener binds the default address.
struct SyncEdge {
    EdgeServer edge;
    std::uint16_t sync_port = free_port();
    explicit SyncEdge(bool quiet = false) {
        if (quiet) {
            // No resource sampling (the status file needs a descriptor each second).
            edge.rewrite_conf("ServerFqdn = edge.test.example\nDefaultReceiveConnectorBindings = 127.0.0.1:" +
                              std::to_string(edge.port()) + "\nResourceMonitoringInterval = 01:00:00\n" +
                              "ShutdownTimeout = 00:00:03\n");
        }
        edge.must_edgectl("New-EdgeSubscription -FileName " + shell_quote(edge.dir().sub("edge.sub")) + " -Port " +
                          std::to_string(sync_port));
        edge.start(sync_port);
    }
};

// How long the SMTP banner takes to come.
std::chrono::milliseconds banner_time(std::uint16_t port) {
    const auto t0 = std::chrono::steady_clock::now();
    SmtpClient c(port, nullptr, 10000);
    const std::string banner = c.reply();
    CHECK(banner.starts_with("220 "));
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
}

}  // namespace

TEST_CASE("3,000 idle connections to the sync port: the SMTP port answers at once, few descriptors, an idle CPU, "
          "and memory comes back",
          "[edgesync][limits]") {
    raise_own_descriptor_limit(8192);
    SyncEdge s;
    const pid_t pid = s.edge.pid();
    CHECK(banner_time(s.edge.port()) < 2s);  // warm: the first session's allocations are not the flood's
    std::this_thread::sleep_for(300ms);
    const std::size_t rss_before = rss_bytes(pid);
    const std::size_t fds_before = descriptor_count(pid);

    Flood flood(s.sync_port, 3000);
    REQUIRE(flood.fds.size() >= 2900);  // the kernel took them; the server decides what to keep
    std::this_thread::sleep_for(500ms);  // the accept loop works through its backlog
    const double cpu0 = cpu_seconds(pid);
    std::this_thread::sleep_for(2s);
    const double idle_cpu = cpu_seconds(pid) - cpu0;
    const std::size_t fds_during = descriptor_count(pid);
    const auto banner = banner_time(s.edge.port());
    const std::size_t rss_during = rss_bytes(pid);
    INFO("descriptors before " << fds_before << ", during the flood " << fds_during << "; CPU over 2 s of flood "
                               << idle_cpu << " s; RSS before " << rss_before / 1024 << " KiB, during "
                               << rss_during / 1024 << " KiB; banner in " << banner.count() << " ms");
    CHECK(fds_during < fds_before + 100);
    CHECK(fds_during < 300);
    CHECK(idle_cpu < 0.3);
    CHECK(banner < 1s);

    flood.close();
    std::this_thread::sleep_for(1s);  // the handshakes in progress see EOF and end
    const std::size_t rss_after = rss_bytes(pid);
    INFO("RSS after the flood " << rss_after / 1024 << " KiB");
    CHECK(rss_after < rss_before + 16 * 1024 * 1024);
    CHECK(descriptor_count(pid) < fds_before + 10);
    CHECK(s.edge.server_log().find("the connection flood is over") != std::string::npos);
    CHECK(banner_time(s.edge.port()) < 1s);
}

TEST_CASE("the EdgeSync acceptor pauses instead of spinning when the server is out of descriptors", "[edgesync][limits]") {
    // Under UBSan the first vptr check of a type probes memory through a pipe(2); with
    // the table full that fails and it reports a valid object as "invalid vptr" and
    // aborts. So the server samples no resources (a status file a second), and runs its
    // start-up work (delivery's first pass, a session) while it has descriptors: the
    // checks of the window below hit UBSan's cache.
    SyncEdge s(true);
    const pid_t pid = s.edge.pid();
    CHECK(banner_time(s.edge.port()) < 2s);
    std::this_thread::sleep_for(3s);
    // The running server's own limit, lowered from outside to a few more descriptors
    // than it holds: the flood below fills its table.
    const std::size_t held = descriptor_count(pid);
    rlimit original{};
    REQUIRE(::prlimit(pid, RLIMIT_NOFILE, nullptr, &original) == 0);
    rlimit low = original;
    low.rlim_cur = static_cast<rlim_t>(held + 6);  // the soft limit: given back below
    REQUIRE(::prlimit(pid, RLIMIT_NOFILE, &low, nullptr) == 0);

    Flood flood(s.sync_port, 30);  // 6 fill the table, the rest wait in the backlog
    std::this_thread::sleep_for(500ms);
    const double cpu0 = cpu_seconds(pid);
    std::this_thread::sleep_for(3s);
    const double used = cpu_seconds(pid) - cpu0;
    INFO("CPU over 3 s with the descriptor table full and connections waiting: " << used << " s; descriptors "
                                                                                  << descriptor_count(pid));
    CHECK(used < 0.5);
    const std::string log = s.edge.server_log();
    CHECK(log.find("Too many open files; pausing") != std::string::npos);

    // Once descriptors are free again, the server serves as before.
    flood.close();
    REQUIRE(::prlimit(pid, RLIMIT_NOFILE, &original, nullptr) == 0);
    std::this_thread::sleep_for(500ms);
    CHECK(banner_time(s.edge.port()) < 2s);
    CHECK(accepts("127.0.0.1", s.sync_port));
}

TEST_CASE("the sync listener binds 127.0.0.1 unless the administrator sets EdgeSyncListenAddress", "[edgesync][limits]") {
    SyncEdge s;
    CHECK(accepts("127.0.0.1", s.sync_port));
    CHECK_FALSE(accepts("127.0.0.2", s.sync_port));  // not every interface

    // The administrator chooses the edge's internal address: the listener moves there live.
    s.edge.must_edgectl("Set-TransportServer -EdgeSyncListenAddress 127.0.0.2");
    bool moved = false;
    for (int i = 0; i < 50 && !moved; ++i) {
        std::this_thread::sleep_for(100ms);
        moved = accepts("127.0.0.2", s.sync_port) && !accepts("127.0.0.1", s.sync_port);
    }
    CHECK(moved);

    std::string out;
    s.edge.edgectl("Test-EdgeSynchronization -Format List", &out);
    CHECK(out.find("127.0.0.2:" + std::to_string(s.sync_port)) != std::string::npos);
    s.edge.must_edgectl("Set-TransportServer -EdgeSyncListenAddress 127.0.0.1");
    s.edge.edgectl("Test-EdgeSynchronization -Format List", &out);
    CHECK(out.find("this host only") != std::string::npos);
    CHECK(s.edge.edgectl("Set-TransportServer -EdgeSyncListenAddress somewhere", &out) != 0);
}
