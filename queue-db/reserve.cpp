// The reserve file: allocated with fallocate(2) in 1 MiB steps, given back with
// ftruncate(2). Both free or take blocks at once on tmpfs, ext4 and XFS.
#include "reserve.hpp"

#include "private_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>

namespace edge::queue {

namespace {
constexpr std::size_t kStep = std::size_t{1} << 20;
}

Reserve::Reserve(const std::string& dir, std::size_t target) : dir_(dir), target_(target) {
    std::error_code ec;
    fd_ = open_file_no_follow(dir + "/" + kFileName, O_RDWR | O_CREAT, 0640, ec);
    if (fd_ < 0) {
        target_ = 0;  // no file (a symlink there, no room for an inode): no reserve
        return;
    }
    struct stat st {};
    if (::fstat(fd_, &st) == 0 && static_cast<std::size_t>(st.st_size) > target_)
        (void)!::ftruncate(fd_, static_cast<off_t>(target_));  // a smaller target: the rest goes back now
    // From 0: blocks an earlier run allocated are found again without taking new ones.
    top_up();
}

Reserve::~Reserve() {
    if (fd_ >= 0) ::close(fd_);
}

std::size_t Reserve::held() const {
    std::lock_guard lk(mu_);
    return held_;
}

bool Reserve::give_back() {
    std::lock_guard lk(mu_);
    if (fd_ < 0 || held_ == 0) return false;
    if (::ftruncate(fd_, 0) != 0) return false;
    held_ = 0;
    return true;
}

std::size_t Reserve::top_up() {
    std::lock_guard lk(mu_);
    if (fd_ < 0) return held_;
    // fallocate over blocks that exist takes nothing new: only what is missing is added.
    while (held_ < target_) {
        std::size_t step = std::min(kStep, target_ - held_);
        if (::fallocate(fd_, 0, static_cast<off_t>(held_), static_cast<off_t>(step)) != 0) break;
        held_ += step;
    }
    return held_;
}

std::size_t Reserve::volume_free() const {
    struct statvfs vfs {};
    if (::statvfs(dir_.c_str(), &vfs) != 0) return 0;
    return static_cast<std::size_t>(vfs.f_bavail) * vfs.f_frsize;
}

}  // namespace edge::queue
