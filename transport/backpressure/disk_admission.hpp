// Admission at the commit (issue 14): the queue volume's space as the last sample saw
// it, minus what was committed since, minus what the transactions under way have
// reserved. A transaction that would take the volume to the disk High threshold is
// refused (452 4.3.1) whatever the sampled level says, so a burst cannot run the
// volume full between two samples. The sampler still drives the levels; this only
// refuses. No I/O, no threads of its own.
#pragma once

#include <cstdint>
#include <mutex>

namespace edge::backpressure {

class DiskAdmission {
public:
    // What committing a body of `bytes` costs on the volume, counted before the next
    // sample sees it: the body rounded up to 4 KiB pages (LMDB stores a large value on
    // whole overflow pages) plus kCommitOverheadBytes for the envelope record, the
    // index entries and the pages one commit copies (LMDB is copy-on-write).
    static constexpr std::uint64_t kPageBytes = 4096;
    static constexpr std::uint64_t kCommitOverheadBytes = 4 * kPageBytes;
    static std::uint64_t charge(std::uint64_t bytes);

    DiskAdmission() = default;
    DiskAdmission(const DiskAdmission&) = delete;
    DiskAdmission& operator=(const DiskAdmission&) = delete;

    // A sample of the queue volume: its size, the space the queue can use now (free
    // blocks for an unprivileged writer plus the queue's reusable pages, see
    // QueueDb::Usage::free_bytes) and the disk High threshold in percent used. The
    // commits counted since the previous sample are forgotten: this one sees them.
    void on_sample(std::uint64_t volume_bytes, std::uint64_t available_bytes, double high_percent);
    // No figures to judge by (monitoring off): everything is admitted.
    void disarm();

    // Whether `more` bytes (charged as above) fit without the volume reaching High.
    bool admits(std::uint64_t more) const;

    struct Figures {
        bool armed = false;
        std::uint64_t volume_bytes = 0;
        std::uint64_t available_bytes = 0;  // at the last sample
        std::uint64_t committed_bytes = 0;  // charged since the last sample
        std::uint64_t reserved_bytes = 0;   // held by transactions under way
        double high_percent = 0;
        // Space left before High after commits and reservations (0 when there is none).
        std::uint64_t room_bytes = 0;
    };
    Figures figures() const;

    // One transaction's hold. Move-only; gives back what it holds when destroyed, so
    // a session that ends in any way (RSET, QUIT, a dropped connection, a failed
    // commit) leaves nothing reserved.
    class Reservation {
    public:
        Reservation() = default;
        explicit Reservation(DiskAdmission& owner) : owner_(&owner) {}
        Reservation(Reservation&& o) noexcept : owner_(o.owner_), held_(o.held_) {
            o.owner_ = nullptr;
            o.held_ = 0;
        }
        Reservation& operator=(Reservation&& o) noexcept;
        Reservation(const Reservation&) = delete;
        Reservation& operator=(const Reservation&) = delete;
        ~Reservation() { release(); }

        // The transaction needs room for a body of `bytes` in all (the bytes
        // received or BDAT-announced so far). True when it holds that now; false (holding what it
        // held before) when the volume would reach High. Never refuses to shrink.
        bool reserve(std::uint64_t bytes);
        // The body is committed (`stored_bytes` as stored): the hold becomes
        // committed space until the next sample.
        void commit(std::uint64_t stored_bytes);
        // The transaction ended without a commit.
        void release();
        std::uint64_t held() const { return held_; }  // charged bytes

    private:
        DiskAdmission* owner_ = nullptr;
        std::uint64_t held_ = 0;
    };
    Reservation reservation() { return Reservation(*this); }

private:
    bool fits_locked(std::uint64_t extra) const;
    std::uint64_t room_locked() const;

    mutable std::mutex mutex_;
    bool armed_ = false;
    std::uint64_t volume_ = 0;
    std::uint64_t available_ = 0;
    std::uint64_t keep_ = 0;  // bytes that must stay free: below them the volume is at High
    double high_ = 0;
    std::uint64_t committed_ = 0;
    std::uint64_t reserved_ = 0;
};

}  // namespace edge::backpressure
