// The queue's reserve: <data>/queue-reserve, a file whose blocks are allocated
// (fallocate) and never written, on the queue's volume. Only delivery and recovery
// may have them: when one of their writes finds the volume full, the reserve is
// given back (truncated) and the write tried again; new mail never gets them.
// Policy (when to give back, when to take again) lives in queue_db.cpp.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>

namespace edge::queue {

class Reserve {
public:
    static constexpr const char* kFileName = "queue-reserve";

    // Opens (creating, 0640, never through a symlink) `<dir>/queue-reserve` and
    // allocates toward `target` bytes as far as the volume allows. target 0: no reserve,
    // and an existing file is emptied.
    Reserve(const std::string& dir, std::size_t target);
    ~Reserve();
    Reserve(const Reserve&) = delete;
    Reserve& operator=(const Reserve&) = delete;

    std::size_t target() const { return target_; }
    std::size_t held() const;  // bytes allocated now
    // Frees every block of the reserve for the queue; true when it held any.
    bool give_back();
    // Allocates toward the target in steps while the volume has room; returns held().
    std::size_t top_up();
    // Free bytes on the volume outside the reserve (statvfs, for the unprivileged).
    std::size_t volume_free() const;

private:
    std::string dir_;
    std::size_t target_;
    mutable std::mutex mu_;
    int fd_ = -1;
    std::size_t held_ = 0;
};

}  // namespace edge::queue
