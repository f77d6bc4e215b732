// The server's claim on a data directory: one exclusive flock(2) on
// <data>/edge-transport.lock, held for the server's whole life, with its pid in the
// file. Two servers on one data directory would lease the same queues and fight over
// them; the second is refused at start. edgectl asks running_server_pid() whether a
// server is running (it works with the server down, and says so).
//
// Caveats
//   - flock(2) locks belong to the open file description: a lock held by one process
//     is not seen through a descriptor it inherited to a child, and NFS may not honour
//     it. The data directory is local (LMDB needs that too).
//   - The lock ends with the process, however it ends (SIGKILL included): a stale pid
//     left in the file means nothing, only the lock counts.
//   - running_server_pid() takes a shared lock for an instant. A server starting at
//     that very instant would see the directory as busy, so acquire() tries again for
//     a moment before it refuses.
#pragma once

#include "errors.hpp"

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace edge::queue {

// The lock file's name inside the data directory.
inline constexpr std::string_view kDataDirectoryLockFile = "edge-transport.lock";

class DataDirectoryLock {
public:
    // Takes the exclusive lock on <data_dir>/edge-transport.lock without blocking
    // (creating the file, mode 0640; never through a symlink: private_file.hpp) and
    // writes our pid into it ("<pid>\n"). Fails
    // with std::errc::resource_unavailable_try_again when another process holds it
    // (running_server_pid() names that process), or with the errno of open(2),
    // flock(2) or write(2). The directory must exist.
    static Result<DataDirectoryLock> acquire(const std::string& data_dir);

    DataDirectoryLock(DataDirectoryLock&& other) noexcept;
    DataDirectoryLock& operator=(DataDirectoryLock&& other) noexcept;
    DataDirectoryLock(const DataDirectoryLock&) = delete;
    DataDirectoryLock& operator=(const DataDirectoryLock&) = delete;
    // Empties the file (no stale pid after a clean stop) and releases the lock.
    ~DataDirectoryLock();

    const std::string& path() const { return path_; }

private:
    DataDirectoryLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    void release() noexcept;
    int fd_ = -1;
    std::string path_;
};

// The pid of the process holding <data_dir>'s lock — the running server — or nullopt
// when no process holds it (no server runs; also when the file does not exist or
// cannot be opened). A holder that took the lock this instant and has not yet written
// its pid is waited for briefly; if the pid still cannot be read, 0 is returned:
// a server runs, its pid unknown.
std::optional<pid_t> running_server_pid(const std::string& data_dir);

// --- the running server's local sockets ---------------------------------------------------
// The server answers edgectl on abstract unix sockets (Linux: no file, so no free space
// needed and nothing to clean up), one per purpose ("status": back pressure, issue 14;
// "config": the configuration generation it has applied, issue 21). Each is named after
// the data directory as the kernel resolves it, so the server and edgectl agree whatever
// path each was given. The name starts with '\0'.
std::string server_socket_name(const std::string& data_dir, std::string_view purpose);
// Connects to the server's socket `name` and reads until the server closes. Anyone may
// bind an abstract name: only a peer whose pid is `server_pid` (running_server_pid()) is
// believed. At most `limit` bytes and `timeout` in all; nullopt with `why` (connect:
// <errno text>, another pid, a read error, too much, too slow) otherwise. An empty
// answer is returned as it is (the server closes unanswered a client of another user).
std::optional<std::string> read_server_socket(const std::string& name, pid_t server_pid, std::chrono::milliseconds timeout,
                                              std::size_t limit, std::string* why);

}  // namespace edge::queue
