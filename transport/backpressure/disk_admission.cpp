// The admission ledger: sampled space, commits since the sample, reservations.
#include "disk_admission.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace edge::backpressure {

namespace {
std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
    return a > std::numeric_limits<std::uint64_t>::max() - b ? std::numeric_limits<std::uint64_t>::max() : a + b;
}
}  // namespace

std::uint64_t DiskAdmission::charge(std::uint64_t bytes) {
    const std::uint64_t pages = bytes / kPageBytes + (bytes % kPageBytes != 0 ? 1 : 0);
    return saturating_add(pages > std::numeric_limits<std::uint64_t>::max() / kPageBytes
                              ? std::numeric_limits<std::uint64_t>::max()
                              : pages * kPageBytes,
                          kCommitOverheadBytes);
}

void DiskAdmission::on_sample(std::uint64_t volume_bytes, std::uint64_t available_bytes, double high_percent) {
    std::lock_guard lock(mutex_);
    armed_ = volume_bytes != 0;
    volume_ = volume_bytes;
    available_ = std::min(available_bytes, volume_bytes);
    high_ = std::clamp(high_percent, 0.0, 100.0);
    // Used reaches High when free space falls to (100 − High) % of the volume; that
    // much must stay free. Rounded up: never admit what would touch the threshold.
    keep_ = static_cast<std::uint64_t>(std::ceil(static_cast<double>(volume_bytes) * (100.0 - high_) / 100.0));
    committed_ = 0;
}

void DiskAdmission::disarm() {
    std::lock_guard lock(mutex_);
    armed_ = false;
    committed_ = 0;
}

bool DiskAdmission::fits_locked(std::uint64_t extra) const {
    if (!armed_) return true;
    const std::uint64_t need = saturating_add(saturating_add(saturating_add(committed_, reserved_), extra), keep_);
    return available_ > need;
}

std::uint64_t DiskAdmission::room_locked() const {
    const std::uint64_t need = saturating_add(saturating_add(committed_, reserved_), keep_);
    return available_ > need ? available_ - need : 0;
}

bool DiskAdmission::admits(std::uint64_t more) const {
    std::lock_guard lock(mutex_);
    return fits_locked(charge(more));
}

DiskAdmission::Figures DiskAdmission::figures() const {
    std::lock_guard lock(mutex_);
    return {armed_, volume_, available_, committed_, reserved_, high_, room_locked()};
}

DiskAdmission::Reservation& DiskAdmission::Reservation::operator=(Reservation&& o) noexcept {
    if (this != &o) {
        release();
        owner_ = o.owner_;
        held_ = o.held_;
        o.owner_ = nullptr;
        o.held_ = 0;
    }
    return *this;
}

bool DiskAdmission::Reservation::reserve(std::uint64_t bytes) {
    if (owner_ == nullptr) return true;
    const std::uint64_t want = charge(bytes);
    std::lock_guard lock(owner_->mutex_);
    if (want <= held_) {
        owner_->reserved_ -= held_ - want;
        held_ = want;
        return true;
    }
    if (!owner_->fits_locked(want - held_)) return false;
    owner_->reserved_ += want - held_;
    held_ = want;
    return true;
}

void DiskAdmission::Reservation::commit(std::uint64_t stored_bytes) {
    if (owner_ == nullptr) return;
    std::lock_guard lock(owner_->mutex_);
    owner_->reserved_ -= held_;
    held_ = 0;
    owner_->committed_ = saturating_add(owner_->committed_, charge(stored_bytes));
}

void DiskAdmission::Reservation::release() {
    if (owner_ == nullptr || held_ == 0) return;
    std::lock_guard lock(owner_->mutex_);
    owner_->reserved_ -= held_;
    held_ = 0;
}

}  // namespace edge::backpressure
