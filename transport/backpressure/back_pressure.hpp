// Back pressure: the resource monitor that tells the receive side when to refuse new
// mail (452 4.3.1) because the queue volume, the queue map, the process's memory or
// the submission backlog is under pressure. No threads, no I/O of its own beyond the
// injected readers: the server calls sample() from its timer.
#pragma once

#include "disk_admission.hpp"
#include "typed_settings.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edge::backpressure {

// --- levels ---------------------------------------------------------------------------

// Exchange 2007 SP1's names (RTM printed "MediumHigh" for Medium).
enum class BackPressureLevel : std::uint8_t { Normal, Medium, High };
const char* to_string(BackPressureLevel);

// Three thresholds of one resource, in the resource's unit (percent or a count).
// A valid set has normal < medium < high.
struct Thresholds {
    double normal = 0;
    double medium = 0;
    double high = 0;
};

// The hysteresis rule, one step. `current` is the resource's level after the previous
// sample, `value` the new reading:
//
//   value >= high                      -> High              (from any level)
//   value <  normal                    -> Normal            (from any level)
//   otherwise (normal <= value < high):
//     current Normal: value >= medium  -> Medium, else Normal
//     current Medium:                  -> Medium
//     current High:   value >= medium  -> High,   else Medium
//
// So pressure rises at the Medium and High thresholds but falls back a level only
// below the threshold of the level under it (High -> Medium below Medium; anything
// -> Normal only below Normal). The overall level is the highest resource level.
BackPressureLevel next_level(BackPressureLevel current, double value, const Thresholds&);

// --- settings ---------------------------------------------------------------------------

// Exchange 2007 SP1 keeps this much free on the queue volume: 500 MB (binary, as
// Windows counts: 500 · 2^20 bytes).
inline constexpr std::uint64_t kDiskSpaceReserveBytes = 500ULL * 1024 * 1024;

// Exchange 2007 SP1's formula for the disk High threshold, percent used:
// floor(100 · (size − 500 MB) / size), computed in exact integers.
// A volume of 500 MB or less gives 0: it can never keep 500 MB free, so under the
// formula it is always at High (0 % used already reaches High). Run on such a volume
// (tests, small containers) by setting PercentageDatabaseDiskSpaceUsedHighThreshold.
double default_disk_high_threshold(std::uint64_t volume_bytes);

// The back-pressure keys of the bootstrap file, typed by the settings table
// (transport/config/typed_settings.hpp: one stem per key, member and doc).
using BackPressureSettings = config::BackPressureSettings;

// nullopt = valid. Otherwise one sentence naming the offending key, e.g.
// "PercentagePrivateBytesUsedMediumThreshold (80) must be below
// PercentagePrivateBytesUsedHighThreshold (75)". Rules: percentages in 1..100 (0 allowed
// only where it means "derived"), counts >= 1, normal < medium < high after
// derivation, ResourceMonitoringInterval in 100 ms .. 1 h.
std::optional<std::string> validate(const BackPressureSettings&);

// Resolved thresholds (what a reading is compared with).
Thresholds disk_thresholds(const BackPressureSettings&, std::uint64_t volume_bytes);
Thresholds map_usage_thresholds(const BackPressureSettings&);
Thresholds private_bytes_thresholds(const BackPressureSettings&);
Thresholds submission_queue_length_thresholds(const BackPressureSettings&);

// --- readings ---------------------------------------------------------------------------

// Resource names as Exchange prints them in events 15004/15005 and Get-BackPressure.
inline constexpr std::string_view kDiskSpaceResource = "Queue database and disk space";
inline constexpr std::string_view kMapUsageResource = "Queue database map usage";
inline constexpr std::string_view kPrivateBytesResource = "Private bytes";
inline constexpr std::string_view kSubmissionQueueResource = "Submission queue length";

struct ResourceReading {
    std::string resource;     // one of the k*Resource names
    double value = 0;         // last good value ("%" values are percent, "" a count)
    std::string unit;         // "%" or ""
    Thresholds thresholds;    // as compared
    BackPressureLevel level = BackPressureLevel::Normal;
    bool sample_failed = false;  // this sample's reader failed: value and level are the last good ones
    // Added:
    std::string detail;          // the disk resource's path, printed as ("…")
    std::string failure;         // why the sample failed, when it did
    bool storage_full_reported = false;  // held at High by report_storage_full()
};

struct Snapshot {
    BackPressureLevel level = BackPressureLevel::Normal;
    std::chrono::system_clock::time_point since{};  // when `level` began to hold
    std::vector<ResourceReading> resources;         // disk, map, private bytes, submission queue
    // Added:
    BackPressureLevel previous_level = BackPressureLevel::Normal;  // level before this sample
    std::chrono::system_clock::time_point sampled_at{};            // epoch = never sampled
    bool monitoring_enabled = true;                                // EnableResourceMonitoring
};

// The figures rendered in the manner of Exchange's events 15004/15005, on one line:
//   Resource pressure increased from Normal to High. Queue database and disk space
//   ("/var/lib/edge-transport") = 97% [High] [Normal=93% Medium=95% High=97%] ...
// "decreased" when the level fell, "The resource pressure is constant at <L>." when
// it held. Percentages are printed rounded down; failed samples and storage-full
// holds are said in parentheses after their resource.
std::string describe(const Snapshot&);

// --- the status file (edgectl Get-BackPressure) ----------------------------------------

// The server writes its last snapshot to <data>/BackPressure.status at start and after
// every sample; edgectl, another process, reads it. Text, one "Key=Value" per line:
//
//   Format=1
//   Level=Normal                   PreviousLevel=…, levels as to_string() prints them
//   PreviousLevel=Normal
//   Since=1714564800123456789      system_clock time, nanoseconds since 1970-01-01 UTC
//   SampledAt=1714564802123456789  (0 = never sampled)
//   MonitoringEnabled=true         true / false
//   Resource=Name=Queue database and disk space;Value=42.5;Unit=%;Normal=…;Medium=…;
//            High=…;Level=Normal;SampleFailed=false;Detail=/var/lib/…;Failure=;
//            StorageFullReported=false          (one line; one per resource, in order)
//   End=4                          the number of Resource lines: a cut file is refused
//
// Inside a Resource line every field is Key=Value, fields separated by ';'. Text
// values are escaped: '%', ';', '=', and every octet below 0x20 or 0x7F become %XX
// (upper-case hex); other octets, UTF-8 included, are written as they are. Numbers are
// written in the shortest form that reads back to the same double.
inline constexpr std::string_view kStatusFileName = "BackPressure.status";

// The text above. Every field of Snapshot and of each ResourceReading is in it.
std::string serialize_snapshot(const Snapshot&);
// The snapshot back, or nullopt when the text is not exactly that form: unknown or
// missing keys, a key twice, a value that does not parse, no End line or one that
// does not count the resources, anything after it.
std::optional<Snapshot> parse_snapshot(std::string_view text);

// Writes serialize_snapshot() to <data_dir>/BackPressure.status atomically: a temporary
// file in the same directory, then rename(2), so a reader sees the old file or the new
// one, never a part. Not fsync'd: the file says how things are now, it is not data.
// Throws std::system_error naming the file on failure; the caller logs it (a status
// file that cannot be written never stops the server).
void write_status_file(const std::string& data_dir, const Snapshot&);
// The last snapshot the server wrote, or nullopt when the file is absent, unreadable or
// damaged. The file stays after the server stops: SampledAt says how old it is, and
// queue::running_server_pid() whether a server runs.
std::optional<Snapshot> read_status_file(const std::string& data_dir);

// The status socket (issue 14): the status file needs free space on the queue volume,
// which is exactly what is missing when back pressure matters most. The server also
// answers on an abstract unix socket (Linux: no file, no free space needed), named
// after the data directory: a client connects and reads serialize_snapshot() of the
// live monitor until the server closes. edgectl asks it first and reads the file only
// when it gets no answer. The server answers root and its own user only (SO_PEERCRED).
std::string status_socket_name(const std::string& data_dir);  // starts with '\0'
// The server's live snapshot, or nullopt with `why`. Only a peer whose pid is
// `server_pid` (queue::running_server_pid()) is believed: anyone may bind an
// abstract name. Waits at most 2 s.
std::optional<Snapshot> read_status_socket(const std::string& data_dir, int server_pid, std::string* why);

// --- sources ----------------------------------------------------------------------------

struct DiskSpace {
    std::uint64_t total_bytes = 0;      // f_blocks · f_frsize
    std::uint64_t available_bytes = 0;  // f_bavail · f_frsize (what an unprivileged writer gets)
};
struct MapUsage {
    std::size_t map_size = 0;
    std::size_t used = 0;
    // Bytes inside the queue's files that LMDB writes again before it grows them
    // (QueueDb::Usage::free_bytes): not in use for the map, and available on the
    // volume, so a drained queue reads as drained (issue 14).
    std::size_t reusable = 0;
};

// The narrow edges the monitor reads through. nullopt (or an exception) = the read
// failed: that resource keeps its last level and its reading says sample_failed. An
// empty std::function counts as a reader that always fails.
struct ResourceSources {
    std::string data_directory;  // the queue database's directory: disk() is asked about it
    std::function<std::optional<DiskSpace>(const std::string& path)> disk;
    std::function<std::optional<MapUsage>()> map_usage;
    std::function<std::optional<std::uint64_t>()> private_bytes;    // bytes
    std::function<std::optional<std::uint64_t>()> physical_memory;  // bytes
    std::function<std::optional<std::uint64_t>()> submission_backlog;  // messages
    // Clocks, so tests can step time: steady for the storage-full hold, system for
    // Snapshot::since / sampled_at.
    std::function<std::chrono::steady_clock::time_point()> steady_now = [] {
        return std::chrono::steady_clock::now();
    };
    std::function<std::chrono::system_clock::time_point()> system_now = [] {
        return std::chrono::system_clock::now();
    };
};

// The production readers.
std::optional<DiskSpace> read_disk_space(const std::string& path);  // statvfs(3)
// RssAnon + VmSwap from /proc/self/status: anonymous memory, resident or swapped,
// i.e. what the process itself allocated (Linux >= 4.5). File-backed pages (the LMDB
// map, the binary) are not counted: the kernel can drop them.
std::optional<std::uint64_t> read_private_bytes();
// sysconf(_SC_PHYS_PAGES) · page size. TODO(cgroup): a memory.max below it is not seen.
std::optional<std::uint64_t> read_physical_memory();

// The sources the server uses: the readers above for disk and memory, plus the two
// the monitor cannot know — `map_usage` returns {map_size, used, reusable} (pass
// QueueDb::usage()), `submission_backlog` the number of messages waiting to be
// committed. Either may throw; that counts as a failed sample.
ResourceSources make_system_sources(std::string data_directory, std::function<MapUsage()> map_usage,
                                    std::function<std::uint64_t()> submission_backlog);

// --- the monitor ------------------------------------------------------------------------

// Threads: sample() is meant to be called from one timer (calls are serialized);
// level() is a lock-free atomic read for the session hot path; snapshot(),
// report_storage_full() and set_settings() may be called from any thread.
// on_level_change must be set before the first sample() and is called from inside
// sample(), on its thread, with no internal lock held (it may call snapshot()).
class BackPressureMonitor {
public:
    // Throws std::invalid_argument with validate()'s message on invalid settings.
    BackPressureMonitor(BackPressureSettings, ResourceSources);
    BackPressureMonitor(const BackPressureMonitor&) = delete;
    BackPressureMonitor& operator=(const BackPressureMonitor&) = delete;

    // Reads every source now, applies the hysteresis rule, stores and returns the
    // snapshot, and calls on_level_change if the overall level changed. With
    // EnableResourceMonitoring false nothing is read and the level is Normal.
    Snapshot sample();

    BackPressureLevel level() const;  // atomic
    Snapshot snapshot() const;        // the last sample; before any, Normal with no resources

    // The queue answered QueueError::storage_full (MDB_MAP_FULL, ENOSPC, EDQUOT…) to a
    // commit. level() becomes High at once (the next MAIL FROM gets 452 4.3.1); the
    // map resource is held at High until a sample shows the map below its Medium
    // threshold and at least one ResourceMonitoringInterval has passed since the last
    // report. The change is logged (on_level_change) by the next sample(). Ignored
    // while EnableResourceMonitoring is false: the commit's own 452 is then the only
    // defence.
    void report_storage_full();

    // Live change (throws std::invalid_argument like the constructor). Thresholds apply
    // from the next sample; each resource keeps its level and continues from it.
    // Turning monitoring off makes level() Normal at once and forgets all levels.
    void set_settings(BackPressureSettings);
    BackPressureSettings settings() const;

    std::function<void(BackPressureLevel from, BackPressureLevel to, const Snapshot&)> on_level_change;

    // Every sample from now on gives `ledger` the queue volume's figures and the disk
    // High threshold (DiskAdmission::on_sample), or disarms it while monitoring is
    // off. A disk reading that fails leaves it as it was. Set before the first
    // sample; the ledger must outlive the monitor.
    void feed(DiskAdmission* ledger) { ledger_ = ledger; }

private:
    struct ResourceState {
        BackPressureLevel level = BackPressureLevel::Normal;
        double value = 0;
        Thresholds thresholds;
        bool has_value = false;
    };
    enum Resource : std::size_t { Disk, Map, PrivateBytes, SubmissionQueue, kResourceCount };

    ResourceSources sources_;
    std::mutex sample_mutex_;  // serializes sample(); held while the readers run
    mutable std::mutex mutex_;  // everything below
    BackPressureSettings settings_;
    ResourceState states_[kResourceCount];
    std::uint64_t disk_volume_bytes_ = 0;  // last good size of the queue volume
    bool storage_full_ = false;
    std::chrono::steady_clock::time_point storage_full_at_{};
    Snapshot last_;
    std::atomic<BackPressureLevel> level_{BackPressureLevel::Normal};
    DiskAdmission* ledger_ = nullptr;
};

// The admission rule at MAIL FROM. Normal: every session; Medium: only sessions
// holding the ExchangeServers or Partners permission (hub/partner); High: none.
// Exchange 2007 let "senders in the authoritative domain" through at Medium — a
// forgeable address; we decide by the session's permission group instead.
bool accepts_new_mail(BackPressureLevel level, bool hub_or_partner_session);

}  // namespace edge::backpressure
