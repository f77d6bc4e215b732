// The global bound on what receive sessions hold: the running total of their input
// and output buffers, bodies in flight and bodies waiting for their commit, against
// ReceiveSessionMemoryLimit. Per-session limits (MaxMessageSize, the line and read
// sizes) bound one client; this bounds them all together. No I/O, no threads: the
// receive side calls it from its one io_context thread (the total is atomic so
// the status file may read it from elsewhere).
#pragma once

#include <atomic>
#include <cstdint>

namespace edge::backpressure {

class SessionMemory {
public:
    explicit SessionMemory(std::uint64_t limit) : limit_(limit) {}
    SessionMemory(const SessionMemory&) = delete;
    SessionMemory& operator=(const SessionMemory&) = delete;

    // One session's part of the total. Move-only; gives back what it holds when
    // destroyed, so a session that ends in any way leaves nothing counted.
    class Share {
    public:
        Share() = default;
        explicit Share(SessionMemory& owner) : owner_(&owner) {}
        Share(Share&& o) noexcept : owner_(o.owner_), held_(o.held_) { o.owner_ = nullptr; o.held_ = 0; }
        Share& operator=(Share&& o) noexcept {
            if (this != &o) {
                set(0);
                owner_ = o.owner_;
                held_ = o.held_;
                o.owner_ = nullptr;
                o.held_ = 0;
            }
            return *this;
        }
        ~Share() { set(0); }

        // The session now holds `bytes`.
        void set(std::uint64_t bytes) {
            if (owner_ == nullptr || bytes == held_) return;
            if (bytes > held_) owner_->held_ += bytes - held_;
            else owner_->held_ -= held_ - bytes;
            held_ = bytes;
        }
        std::uint64_t held() const { return held_; }
        // Whether this session may hold `more` bytes beyond what it holds now
        // without the total passing the limit.
        bool room_for(std::uint64_t more) const { return owner_ == nullptr || owner_->room_for(more); }

    private:
        SessionMemory* owner_ = nullptr;
        std::uint64_t held_ = 0;
    };

    Share share() { return Share(*this); }

    std::uint64_t held() const { return held_.load(std::memory_order_relaxed); }
    std::uint64_t limit() const { return limit_; }
    bool room_for(std::uint64_t more) const { return held() + more <= limit_; }
    // Above kPressurePercent of the limit new work waits: MAIL gets 452 4.3.1 and new
    // connections 421 4.3.2, so the room left is for the transactions under way.
    bool under_pressure() const { return held() * 100 >= limit_ * kPressurePercent; }
    static constexpr std::uint64_t kPressurePercent = 90;

private:
    std::uint64_t limit_;
    std::atomic<std::uint64_t> held_{0};
};

}  // namespace edge::backpressure
