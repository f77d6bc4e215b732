// Back pressure: the hysteresis rule, the checks between its settings (declared in the
// one settings table), the production readers (statvfs, /proc/self/status, sysconf), the monitor,
// and the event-style rendering of its figures.
#include "back_pressure.hpp"

#include "text_helpers.hpp"

#include <fmt/format.h>

#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <exception>
#include <fstream>
#include <limits>
#include <stdexcept>

namespace edge::backpressure {

const char* to_string(BackPressureLevel level) {
    switch (level) {
    case BackPressureLevel::Normal: return "Normal";
    case BackPressureLevel::Medium: return "Medium";
    case BackPressureLevel::High: return "High";
    }
    return "Unknown";
}

BackPressureLevel next_level(BackPressureLevel current, double value, const Thresholds& t) {
    if (value >= t.high) return BackPressureLevel::High;
    if (value < t.normal) return BackPressureLevel::Normal;
    switch (current) {
    case BackPressureLevel::Normal:
        return value >= t.medium ? BackPressureLevel::Medium : BackPressureLevel::Normal;
    case BackPressureLevel::Medium:
        return BackPressureLevel::Medium;
    case BackPressureLevel::High:
        return value >= t.medium ? BackPressureLevel::High : BackPressureLevel::Medium;
    }
    return current;
}

bool accepts_new_mail(BackPressureLevel level, bool hub_or_partner_session) {
    switch (level) {
    case BackPressureLevel::Normal: return true;
    case BackPressureLevel::Medium: return hub_or_partner_session;
    case BackPressureLevel::High: return false;
    }
    return false;
}

double default_disk_high_threshold(std::uint64_t volume_bytes) {
    if (volume_bytes <= kDiskSpaceReserveBytes) return 0;
    // floor(100·(size − R)/size) = 100 − ceil(100·R/size); 100·R fits easily in 64 bits,
    // 100·size would not for every size.
    const std::uint64_t scaled = 100 * kDiskSpaceReserveBytes;
    std::uint64_t ceil_share = scaled / volume_bytes;
    if (scaled % volume_bytes != 0) ++ceil_share;
    return static_cast<double>(100 - ceil_share);
}

// --- settings ---------------------------------------------------------------------------

namespace {

// The keys' names, for validate()'s messages; the keys are declared in the settings table.
constexpr std::string_view kEnable = "EnableResourceMonitoring";
constexpr std::string_view kInterval = "ResourceMonitoringInterval";
constexpr std::array<std::string_view, 3> kDiskKeys{  // normal, medium, high
    "PercentageDatabaseDiskSpaceUsedNormalThreshold", "PercentageDatabaseDiskSpaceUsedMediumThreshold",
    "PercentageDatabaseDiskSpaceUsedHighThreshold"};
constexpr std::array<std::string_view, 3> kPrivateBytesKeys{
    "PercentagePrivateBytesUsedNormalThreshold", "PercentagePrivateBytesUsedMediumThreshold",
    "PercentagePrivateBytesUsedHighThreshold"};
constexpr std::array<std::string_view, 3> kMapKeys{
    "DatabaseMapUsageNormalThreshold", "DatabaseMapUsageMediumThreshold", "DatabaseMapUsageHighThreshold"};
constexpr std::array<std::string_view, 3> kQueueKeys{
    "SubmissionQueueLengthNormalThreshold", "SubmissionQueueLengthMediumThreshold",
    "SubmissionQueueLengthHighThreshold"};

template <class T>
std::optional<T> parse_unsigned(std::string_view s) {
    T v{};
    if (s.empty() || s.front() == '-' || s.front() == '+') return std::nullopt;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return v;
}

// One family of three thresholds, resolved: {normal, medium, high}. `how` says, per
// value, how it was derived ("" = set by the administrator).
template <class T>
std::optional<std::string> check_family(const std::array<std::string_view, 3>& keys, const std::array<T, 3>& v,
                                        const std::array<std::string, 3>& how, T lo, T hi) {
    auto name = [&](std::size_t i) {
        return how[i].empty() ? fmt::format("{} ({})", keys[i], v[i]) : fmt::format("{} ({}, {})", keys[i], v[i], how[i]);
    };
    for (std::size_t i = 3; i-- > 0;) {
        if (v[i] < lo || v[i] > hi) return fmt::format("{} must be between {} and {}", name(i), lo, hi);
    }
    if (!(v[1] < v[2])) return fmt::format("{} must be below {}", name(1), name(2));
    if (!(v[0] < v[1])) return fmt::format("{} must be below {}", name(0), name(1));
    return std::nullopt;
}

}  // namespace

std::optional<std::string> validate(const BackPressureSettings& s) {
    using namespace std::chrono_literals;
    if (s.resource_monitoring_interval < 100ms || s.resource_monitoring_interval > 1h) {
        return fmt::format("{} ({} ms) must be between 100 ms and 1 hour", kInterval,
                           s.resource_monitoring_interval.count());
    }

    // Disk: 0 means derived. Medium/Normal may only be set with High: with the formula
    // the High they are compared with moves with the volume, so their order could not
    // be checked here.
    const int dh = s.percentage_database_disk_space_used_high_threshold;
    const int dm = s.percentage_database_disk_space_used_medium_threshold;
    const int dn = s.percentage_database_disk_space_used_normal_threshold;
    for (auto [key, v] : {std::pair{kDiskKeys[2], dh}, std::pair{kDiskKeys[1], dm}, std::pair{kDiskKeys[0], dn}}) {
        if (v < 0 || v > 100) return fmt::format("{} ({}) must be between 0 (derived) and 100", key, v);
    }
    if (dh == 0 && (dm != 0 || dn != 0)) {
        return fmt::format("{} is set, so {} must be set too (the formula's High moves with the volume size)",
                           dm != 0 ? kDiskKeys[1] : kDiskKeys[0], kDiskKeys[2]);
    }
    if (dh != 0) {
        const int m = dm != 0 ? dm : dh - 2;
        const int n = dn != 0 ? dn : m - 2;
        const std::array<std::string, 3> how{
            dn != 0 ? "" : dm != 0 ? fmt::format("derived: {} - 2", kDiskKeys[1]) : fmt::format("derived: {} - 4", kDiskKeys[2]),
            dm != 0 ? "" : fmt::format("derived: {} - 2", kDiskKeys[2]), ""};
        if (auto e = check_family<int>(kDiskKeys, {n, m, dh}, how, 1, 100)) return e;
    }

    const std::array<std::string, 3> none{};
    if (auto e = check_family<int>(kPrivateBytesKeys,
                                   {s.percentage_private_bytes_used_normal_threshold,
                                    s.percentage_private_bytes_used_medium_threshold,
                                    s.percentage_private_bytes_used_high_threshold},
                                   none, 1, 100)) {
        return e;
    }
    if (auto e = check_family<int>(kMapKeys,
                                   {s.database_map_usage_normal_threshold, s.database_map_usage_medium_threshold,
                                    s.database_map_usage_high_threshold},
                                   none, 1, 100)) {
        return e;
    }
    if (auto e = check_family<std::uint64_t>(kQueueKeys,
                                             {s.submission_queue_length_normal_threshold,
                                              s.submission_queue_length_medium_threshold,
                                              s.submission_queue_length_high_threshold},
                                             none, 1, std::numeric_limits<std::uint32_t>::max())) {
        return e;
    }
    return std::nullopt;
}

Thresholds disk_thresholds(const BackPressureSettings& s, std::uint64_t volume_bytes) {
    const double high = s.percentage_database_disk_space_used_high_threshold != 0
                            ? s.percentage_database_disk_space_used_high_threshold
                            : default_disk_high_threshold(volume_bytes);
    // Clamped at 0 only matters for the formula on a tiny volume (then always High).
    const double medium = s.percentage_database_disk_space_used_medium_threshold != 0
                              ? s.percentage_database_disk_space_used_medium_threshold
                              : std::max(0.0, high - 2);
    const double normal = s.percentage_database_disk_space_used_normal_threshold != 0
                              ? s.percentage_database_disk_space_used_normal_threshold
                              : std::max(0.0, medium - 2);
    return {normal, medium, high};
}

Thresholds map_usage_thresholds(const BackPressureSettings& s) {
    return {static_cast<double>(s.database_map_usage_normal_threshold),
            static_cast<double>(s.database_map_usage_medium_threshold),
            static_cast<double>(s.database_map_usage_high_threshold)};
}

Thresholds private_bytes_thresholds(const BackPressureSettings& s) {
    return {static_cast<double>(s.percentage_private_bytes_used_normal_threshold),
            static_cast<double>(s.percentage_private_bytes_used_medium_threshold),
            static_cast<double>(s.percentage_private_bytes_used_high_threshold)};
}

Thresholds submission_queue_length_thresholds(const BackPressureSettings& s) {
    return {static_cast<double>(s.submission_queue_length_normal_threshold),
            static_cast<double>(s.submission_queue_length_medium_threshold),
            static_cast<double>(s.submission_queue_length_high_threshold)};
}

// --- production readers -----------------------------------------------------------------

std::optional<DiskSpace> read_disk_space(const std::string& path) {
    struct statvfs st {};
    if (::statvfs(path.c_str(), &st) != 0) return std::nullopt;
    const std::uint64_t unit = st.f_frsize != 0 ? st.f_frsize : st.f_bsize;
    return DiskSpace{static_cast<std::uint64_t>(st.f_blocks) * unit, static_cast<std::uint64_t>(st.f_bavail) * unit};
}

std::optional<std::uint64_t> read_private_bytes() {
    std::ifstream in("/proc/self/status");
    if (!in) return std::nullopt;
    std::optional<std::uint64_t> anon;
    std::uint64_t swap = 0;
    std::string line;
    auto kib = [](std::string_view rest) -> std::optional<std::uint64_t> {
        rest = text::trim_space(rest);
        if (rest.size() < 3 || rest.substr(rest.size() - 3) != " kB") return std::nullopt;
        return parse_unsigned<std::uint64_t>(text::trim_space(rest.substr(0, rest.size() - 3)));
    };
    while (std::getline(in, line)) {
        std::string_view l = line;
        if (l.starts_with("RssAnon:")) {
            anon = kib(l.substr(8));
        } else if (l.starts_with("VmSwap:")) {
            swap = kib(l.substr(7)).value_or(0);
        }
    }
    if (!anon) return std::nullopt;
    return (*anon + swap) * 1024;
}

std::optional<std::uint64_t> read_physical_memory() {
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page_size = ::sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page_size <= 0) return std::nullopt;
    return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page_size);
}

ResourceSources make_system_sources(std::string data_directory, std::function<MapUsage()> map_usage,
                                    std::function<std::uint64_t()> submission_backlog) {
    ResourceSources out;
    out.data_directory = std::move(data_directory);
    out.disk = read_disk_space;
    if (map_usage) {
        out.map_usage = [f = std::move(map_usage)]() -> std::optional<MapUsage> { return f(); };
    }
    out.private_bytes = read_private_bytes;
    out.physical_memory = read_physical_memory;
    if (submission_backlog) {
        out.submission_backlog = [f = std::move(submission_backlog)]() -> std::optional<std::uint64_t> { return f(); };
    }
    return out;
}

// --- the monitor ------------------------------------------------------------------------

namespace {

// Calls a reader; nullopt with a reason when it is missing, says nothing or throws
// (a reader's failure must never take the server down: that is the point of the monitor).
template <class R, class... A>
auto call_reader(const std::function<R(A...)>& reader, std::string& failure, const std::remove_cvref_t<A>&... args)
    -> R {
    if (!reader) {
        failure = "no reader";
        return std::nullopt;
    }
    try {
        R r = reader(args...);
        if (!r) failure = "no reading";
        return r;
    } catch (const std::exception& e) {
        failure = fmt::format("reader failed: {}", e.what());
    } catch (...) {
        failure = "reader failed";
    }
    return std::nullopt;
}

double percent(std::uint64_t part, std::uint64_t whole) {
    return 100.0 * static_cast<double>(std::min(part, whole)) / static_cast<double>(whole);
}

}  // namespace

BackPressureMonitor::BackPressureMonitor(BackPressureSettings settings, ResourceSources sources)
    : sources_(std::move(sources)), settings_(std::move(settings)) {
    if (auto e = validate(settings_)) throw std::invalid_argument(*e);
    if (!sources_.steady_now) sources_.steady_now = [] { return std::chrono::steady_clock::now(); };
    if (!sources_.system_now) sources_.system_now = [] { return std::chrono::system_clock::now(); };
    last_.since = sources_.system_now();
    last_.monitoring_enabled = settings_.enable_resource_monitoring;
}

BackPressureLevel BackPressureMonitor::level() const { return level_.load(std::memory_order_acquire); }

Snapshot BackPressureMonitor::snapshot() const {
    std::lock_guard lock(mutex_);
    return last_;
}

BackPressureSettings BackPressureMonitor::settings() const {
    std::lock_guard lock(mutex_);
    return settings_;
}

void BackPressureMonitor::set_settings(BackPressureSettings settings) {
    if (auto e = validate(settings)) throw std::invalid_argument(*e);
    std::lock_guard lock(mutex_);
    settings_ = std::move(settings);
    if (!settings_.enable_resource_monitoring) {
        for (auto& st : states_) st = ResourceState{};
        storage_full_ = false;
        if (ledger_ != nullptr) ledger_->disarm();
        level_.store(BackPressureLevel::Normal, std::memory_order_release);
    }
}

void BackPressureMonitor::report_storage_full() {
    std::lock_guard lock(mutex_);
    if (!settings_.enable_resource_monitoring) return;
    storage_full_ = true;
    storage_full_at_ = sources_.steady_now();
    level_.store(BackPressureLevel::High, std::memory_order_release);
}

Snapshot BackPressureMonitor::sample() {
    std::lock_guard sampling(sample_mutex_);
    const BackPressureSettings s = settings();
    const auto wall = sources_.system_now();
    const auto mono = sources_.steady_now();

    // Read outside mutex_: statvfs on a hung NFS mount must not block level() readers'
    // neighbours (snapshot(), report_storage_full()).
    std::array<std::optional<double>, kResourceCount> value{};
    std::array<std::string, kResourceCount> failure{};
    std::optional<std::uint64_t> volume_bytes;
    std::uint64_t queue_available = 0;  // bytes the queue can use on its volume
    if (s.enable_resource_monitoring) {
        // The map first: its reusable pages are space the queue has on the volume.
        std::uint64_t reusable = 0;
        if (auto m = call_reader(sources_.map_usage, failure[Map])) {
            if (m->map_size == 0) {
                failure[Map] = "the map size is 0";
            } else {
                reusable = m->reusable;
                value[Map] = percent(m->used - std::min(m->reusable, m->used), m->map_size);
            }
        }
        if (auto d = call_reader(sources_.disk, failure[Disk], sources_.data_directory)) {
            if (d->total_bytes == 0) {
                failure[Disk] = "the volume reports a size of 0";
            } else {
                volume_bytes = d->total_bytes;
                queue_available = std::min(d->total_bytes, d->available_bytes + std::min<std::uint64_t>(reusable, d->total_bytes));
                value[Disk] = percent(d->total_bytes - queue_available, d->total_bytes);
            }
        }
        auto priv = call_reader(sources_.private_bytes, failure[PrivateBytes]);
        std::string ram_failure;
        auto ram = call_reader(sources_.physical_memory, ram_failure);
        if (priv && ram && *ram != 0) {
            value[PrivateBytes] = percent(*priv, *ram);
        } else if (priv) {
            failure[PrivateBytes] = ram ? "physical memory reads 0" : "physical memory: " + ram_failure;
        }
        if (auto q = call_reader(sources_.submission_backlog, failure[SubmissionQueue])) {
            value[SubmissionQueue] = static_cast<double>(*q);
        }
    }

    Snapshot snap;
    snap.sampled_at = wall;
    snap.monitoring_enabled = s.enable_resource_monitoring;
    {
        std::lock_guard lock(mutex_);
        if (!s.enable_resource_monitoring) {
            for (auto& st : states_) st = ResourceState{};
            storage_full_ = false;
            if (ledger_ != nullptr) ledger_->disarm();
        } else {
            if (volume_bytes) disk_volume_bytes_ = *volume_bytes;
            const std::array<Thresholds, kResourceCount> thresholds{
                disk_thresholds(s, disk_volume_bytes_), map_usage_thresholds(s), private_bytes_thresholds(s),
                submission_queue_length_thresholds(s)};
            if (ledger_ != nullptr && volume_bytes) ledger_->on_sample(*volume_bytes, queue_available, thresholds[Disk].high);
            const std::array<std::string_view, kResourceCount> names{kDiskSpaceResource, kMapUsageResource,
                                                                     kPrivateBytesResource, kSubmissionQueueResource};
            for (std::size_t r = 0; r < kResourceCount; ++r) {
                auto& st = states_[r];
                st.thresholds = thresholds[r];
                if (value[r]) {
                    st.level = next_level(st.level, *value[r], st.thresholds);
                    st.value = *value[r];
                    st.has_value = true;
                }
                ResourceReading reading;
                reading.resource = names[r];
                reading.value = st.value;
                reading.unit = r == SubmissionQueue ? "" : "%";
                reading.thresholds = st.thresholds;
                reading.level = st.level;
                reading.sample_failed = !value[r];
                if (!value[r]) reading.failure = failure[r];
                if (r == Disk) reading.detail = sources_.data_directory;
                if (r == Map && storage_full_) {
                    // The hold ends once the map reads below Medium, an interval after the
                    // last report; then the ordinary rule continues from High.
                    const bool below = value[Map] && *value[Map] < st.thresholds.medium;
                    if (below && mono - storage_full_at_ >= s.resource_monitoring_interval) {
                        storage_full_ = false;
                    } else {
                        st.level = BackPressureLevel::High;
                        reading.level = BackPressureLevel::High;
                        reading.storage_full_reported = true;
                    }
                }
                snap.level = std::max(snap.level, reading.level);
                snap.resources.push_back(std::move(reading));
            }
        }
        snap.previous_level = last_.level;
        snap.since = snap.level != last_.level ? wall : last_.since;
        last_ = snap;
        // A report that arrived while the readers ran is already counted (the hold is
        // checked under this lock), so this store cannot lose it.
        level_.store(snap.level, std::memory_order_release);
    }
    if (snap.level != snap.previous_level && on_level_change) on_level_change(snap.previous_level, snap.level, snap);
    return snap;
}

// --- rendering ------------------------------------------------------------------------

namespace {

// Exchange prints whole numbers; round down so a figure never shows a threshold it
// has not reached.
std::string figure(double v, std::string_view unit) {
    double whole = std::floor(v);
    // edgectl reads the figures from the status file, where any double may stand:
    // converting one outside long long's range is undefined behaviour (found by the
    // status_file fuzz target), so those are printed as the double they are.
    if (!(whole >= -9.2e18 && whole <= 9.2e18)) return fmt::format("{:.0f}{}", whole, unit);
    return fmt::format("{}{}", static_cast<long long>(whole), unit);
}

}  // namespace

std::string describe(const Snapshot& snap) {
    std::string out;
    if (snap.level > snap.previous_level) {
        out = fmt::format("Resource pressure increased from {} to {}.", to_string(snap.previous_level),
                          to_string(snap.level));
    } else if (snap.level < snap.previous_level) {
        out = fmt::format("Resource pressure decreased from {} to {}.", to_string(snap.previous_level),
                          to_string(snap.level));
    } else {
        out = fmt::format("The resource pressure is constant at {}.", to_string(snap.level));
    }
    if (!snap.monitoring_enabled) {
        out += fmt::format(" Resource monitoring is off ({} is false).", kEnable);
        return out;
    }
    for (const auto& r : snap.resources) {
        out += ' ';
        out += r.resource;
        if (!r.detail.empty()) out += fmt::format(" (\"{}\")", r.detail);
        out += fmt::format(" = {} [{}] [Normal={} Medium={} High={}]", figure(r.value, r.unit), to_string(r.level),
                           figure(r.thresholds.normal, r.unit), figure(r.thresholds.medium, r.unit),
                           figure(r.thresholds.high, r.unit));
        if (r.sample_failed) out += fmt::format(" (sample failed: {})", r.failure.empty() ? "no reading" : r.failure);
        if (r.storage_full_reported) out += " (storage full reported by the queue)";
    }
    return out;
}

}  // namespace edge::backpressure
