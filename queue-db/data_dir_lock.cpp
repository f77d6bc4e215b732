// DataDirectoryLock and running_server_pid: flock(2) on <data>/edge-transport.lock.
#include "data_dir_lock.hpp"

#include "private_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
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

}  // namespace edge::queue
