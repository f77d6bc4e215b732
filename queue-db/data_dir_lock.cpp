// DataDirectoryLock and running_server_pid: flock(2) on <data>/edge-transport.lock;
// the names of the running server's local sockets and their one client.
#include "data_dir_lock.hpp"

#include "private_file.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <thread>
#include <utility>

namespace edge::queue {

namespace {

using namespace std::chrono_literals;

std::string lock_path(const std::string& data_dir) { return data_dir + "/" + std::string(kDataDirectoryLockFile); }

std::error_code last_error() { return {errno, std::system_category()}; }

int flock_retrying(int fd, int op) {
    int rc;
    do rc = ::flock(fd, op);
    while (rc != 0 && errno == EINTR);
    return rc;
}

// "<pid>\n" as the holder wrote it; nullopt while the file is empty or not a pid.
std::optional<pid_t> read_pid(int fd) {
    char buf[32];
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return std::nullopt;
    std::string_view text(buf, static_cast<std::size_t>(n));
    auto nl = text.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;  // not all written yet
    long long pid = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + nl, pid);
    if (ec != std::errc{} || end != text.data() + nl || pid <= 0 || pid > 0x3fffffff) return std::nullopt;
    return static_cast<pid_t>(pid);
}

}  // namespace

Result<DataDirectoryLock> DataDirectoryLock::acquire(const std::string& data_dir) {
    std::string path = lock_path(data_dir);
    // Never through a symlink planted at the name (it would truncate its target).
    std::error_code open_error;
    int fd = open_file_no_follow(path, O_RDWR | O_CREAT, 0640, open_error);
    if (fd < 0) return open_error;
    // A probe by running_server_pid() holds a shared lock for microseconds: look again
    // for a moment before calling the directory busy.
    auto until = std::chrono::steady_clock::now() + 200ms;
    while (flock_retrying(fd, LOCK_EX | LOCK_NB) != 0) {
        std::error_code ec = last_error();
        if (errno != EWOULDBLOCK || std::chrono::steady_clock::now() >= until) {
            ::close(fd);
            return ec;
        }
        std::this_thread::sleep_for(5ms);
    }
    std::string text = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
        std::error_code ec = last_error();
        ::close(fd);
        return ec;
    }
    return DataDirectoryLock(fd, std::move(path));
}

DataDirectoryLock::DataDirectoryLock(DataDirectoryLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

DataDirectoryLock& DataDirectoryLock::operator=(DataDirectoryLock&& other) noexcept {
    if (this != &other) {
        release();
        fd_ = std::exchange(other.fd_, -1);
        path_ = std::move(other.path_);
    }
    return *this;
}

DataDirectoryLock::~DataDirectoryLock() { release(); }

void DataDirectoryLock::release() noexcept {
    if (fd_ < 0) return;
    // Still holding the lock: nobody reads a half-emptied file as ours.
    (void)!::ftruncate(fd_, 0);
    ::close(fd_);  // releases the flock
    fd_ = -1;
}

std::optional<pid_t> running_server_pid(const std::string& data_dir) {
    std::error_code open_error;
    int fd = open_file_no_follow(lock_path(data_dir), O_RDONLY, 0, open_error);
    if (fd < 0) return std::nullopt;
    auto until = std::chrono::steady_clock::now() + 500ms;
    std::optional<pid_t> holder;
    while (true) {
        if (flock_retrying(fd, LOCK_SH | LOCK_NB) == 0) {
            ::flock(fd, LOCK_UN);
            break;  // nobody holds it exclusively: no server
        }
        if (errno != EWOULDBLOCK) break;
        holder = read_pid(fd);
        if (holder) break;
        if (std::chrono::steady_clock::now() >= until) {
            holder = 0;  // held, but the pid is not written (yet)
            break;
        }
        std::this_thread::sleep_for(5ms);
    }
    ::close(fd);
    return holder;
}

std::string server_socket_name(const std::string& data_dir, std::string_view purpose) {
    std::string path = data_dir;
    if (char* real = ::realpath(data_dir.c_str(), nullptr)) {
        path = real;
        std::free(real);
    }
    // FNV-1a keeps the name short (abstract names end at 107 bytes).
    std::uint64_t h = 14695981039346656037ULL;
    for (unsigned char c : path) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    return fmt::format("{}edge-transport-{}-{:016x}", '\0', purpose, h);
}

std::optional<std::string> read_server_socket(const std::string& name, pid_t server_pid, std::chrono::milliseconds timeout,
                                              std::size_t limit, std::string* why) {
    auto fail = [&](std::string reason) -> std::optional<std::string> {
        if (why) *why = std::move(reason);
        return std::nullopt;
    };
    sockaddr_un addr{};
    if (name.size() > sizeof addr.sun_path) return fail("the socket name is too long");
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(std::string("socket: ") + std::strerror(errno));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0)
        return fail(std::string("connect: ") + std::strerror(errno));
    ucred cred{};
    socklen_t cl = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0 || cred.pid != server_pid)
        return fail(fmt::format("it is held by pid {}, not by the server (pid {})", cred.pid, server_pid));
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string text;
    char buf[4096];
    while (true) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return fail(fmt::format("no answer within {} ms", timeout.count()));
        pollfd p{fd, POLLIN, 0};
        int ready = ::poll(&p, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) return fail(std::string("poll: ") + std::strerror(errno));
        if (ready == 0) continue;  // the deadline check above says it
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(std::string("read: ") + std::strerror(errno));
        if (n == 0) break;
        if (text.size() + static_cast<std::size_t>(n) > limit) return fail(fmt::format("it sent more than {} bytes", limit));
        text.append(buf, static_cast<std::size_t>(n));
    }
    return text;
}

}  // namespace edge::queue
