// A small tmpfs for a test that needs a full volume: mounted (as root, as CI runs) in a
// directory the test creates, unmounted and removed in the destructor, so also when the
// test fails. Without root, mounted() is false and the test says it skipped.
#pragma once

#include "temp_dir.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstddef>
#include <string>
#include <vector>

namespace edge::test {

class TmpfsMount {
public:
    // A tmpfs of `bytes` on a directory of its own, or on `at` (an empty directory the
    // test made, e.g. a server's data directory).
    explicit TmpfsMount(std::size_t bytes, std::string at = {}) : path_(at.empty() ? dir_.sub("volume") : at) {
        if (::geteuid() != 0 || (at.empty() && ::mkdir(path_.c_str(), 0750) != 0)) return;
        std::string opts = "size=" + std::to_string(bytes) + ",mode=0750";
        mounted_ = ::mount("tmpfs", path_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) == 0;
    }
    ~TmpfsMount() {
        // MNT_DETACH: a process of the test still holding a file there (a server that
        // did not stop) cannot keep the mount alive after us.
        if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
    }
    TmpfsMount(const TmpfsMount&) = delete;
    TmpfsMount& operator=(const TmpfsMount&) = delete;

    bool mounted() const { return mounted_; }
    const std::string& path() const { return path_; }
    std::string sub(const std::string& name) const { return path_ + "/" + name; }

    // The administrator grows (or shrinks) the volume while it is in use.
    bool resize(std::size_t bytes) const {
        std::string opts = "size=" + std::to_string(bytes);
        return mounted_ && ::mount("tmpfs", path_.c_str(), "tmpfs", MS_REMOUNT | MS_NOSUID | MS_NODEV, opts.c_str()) == 0;
    }

    // Bytes an unprivileged writer may still use.
    std::size_t free_bytes() const {
        struct statvfs v {};
        return ::statvfs(path_.c_str(), &v) == 0 ? static_cast<std::size_t>(v.f_bavail) * v.f_frsize : 0;
    }

    // Writes `name` until the volume has no room left (ENOSPC), or `max` bytes; returns
    // the bytes written.
    std::size_t fill(const std::string& name = "filler", std::size_t max = SIZE_MAX) const {
        int fd = ::open(sub(name).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0) return 0;
        std::vector<char> block(4096, 'x');
        std::size_t written = 0;
        while (written < max) {
            ssize_t n = ::write(fd, block.data(), std::min(block.size(), max - written));
            if (n <= 0) break;
            written += static_cast<std::size_t>(n);
        }
        ::close(fd);
        return written;
    }

private:
    TempDir dir_;
    std::string path_;
    bool mounted_ = false;
};

}  // namespace edge::test
