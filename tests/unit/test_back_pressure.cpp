// Back pressure: the disk formula, the hysteresis rule, the storage-full hold, failing
// readers, settings and their checks, the event text, the real readers on this host,
// and the status file edgectl Get-BackPressure reads.
#include "back_pressure.hpp"
#include "session_memory.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <limits>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include <unistd.h>

using namespace edge::backpressure;
using namespace std::chrono_literals;
using L = BackPressureLevel;

namespace {

constexpr std::uint64_t MiB = 1024ULL * 1024;
constexpr std::uint64_t GiB = 1024 * MiB;

// A machine whose figures the test sets. Percent setters pick the raw numbers.
struct FakeHost {
    std::optional<DiskSpace> disk = DiskSpace{100 * GiB, 50 * GiB};  // formula: 95/97/99
    std::optional<MapUsage> map = MapUsage{1000, 100};
    std::optional<std::uint64_t> private_bytes = 10;
    std::optional<std::uint64_t> physical_memory = 100;
    std::optional<std::uint64_t> backlog = 0;
    std::chrono::steady_clock::time_point now{};
    std::string path_asked;

    void disk_used(std::uint64_t percent) { disk = DiskSpace{100 * GiB, (100 - percent) * GiB}; }
    void map_used(std::size_t percent) { map = MapUsage{1000, percent * 10}; }
    void memory_used(std::uint64_t percent) { private_bytes = percent; }

    ResourceSources sources() {
        ResourceSources s;
        s.data_directory = "/var/lib/edge-transport";
        s.disk = [this](const std::string& p) {
            path_asked = p;
            return disk;
        };
        s.map_usage = [this] { return map; };
        s.private_bytes = [this] { return private_bytes; };
        s.physical_memory = [this] { return physical_memory; };
        s.submission_backlog = [this] { return backlog; };
        s.steady_now = [this] { return now; };
        s.system_now = [this] { return std::chrono::system_clock::time_point{} + (now - decltype(now){}); };
        return s;
    }
};

const ResourceReading& reading(const Snapshot& s, std::string_view name) {
    for (const auto& r : s.resources) {
        if (r.resource == name) return r;
    }
    throw std::logic_error("no such resource in the snapshot");
}

}  // namespace

TEST_CASE("the disk High threshold is Exchange 2007 SP1's formula, rounded down", "[backpressure]") {
    struct Row {
        std::uint64_t volume;
        double high;
    };
    // floor(100·(size − 500 MiB)/size)
    for (auto row : std::vector<Row>{
             {100 * GiB, 99},   // 99.51…
             {10 * GiB, 95},    // 95.11…
             {2000 * MiB, 75},  // exactly 75
             {1 * GiB, 51},     // 51.17…
             {1000 * MiB, 50},  // exactly 50
             {1001 * MiB, 50},  // 50.04…
             {501 * MiB, 0},    // 0.19…
             {16 * 1024 * GiB, 99},
             {std::numeric_limits<std::uint64_t>::max(), 99},
         }) {
        INFO("volume " << row.volume);
        CHECK(default_disk_high_threshold(row.volume) == row.high);
    }
}

TEST_CASE("a volume of 500 MB or less is always High under the formula, until High is set", "[backpressure]") {
    CHECK(default_disk_high_threshold(500 * MiB) == 0);
    CHECK(default_disk_high_threshold(400 * MiB) == 0);
    CHECK(default_disk_high_threshold(0) == 0);
    auto t = disk_thresholds(BackPressureSettings{}, 400 * MiB);
    CHECK(t.normal == 0);
    CHECK(t.medium == 0);
    CHECK(t.high == 0);

    FakeHost host;
    host.disk = DiskSpace{400 * MiB, 396 * MiB};  // 1 % used
    BackPressureMonitor formula({}, host.sources());
    CHECK(formula.sample().level == L::High);

    BackPressureSettings set;
    set.percentage_database_disk_space_used_high_threshold = 90;
    BackPressureMonitor overridden(set, host.sources());
    CHECK(overridden.sample().level == L::Normal);
}

TEST_CASE("Medium and Normal follow an overridden disk High threshold", "[backpressure]") {
    BackPressureSettings s;
    auto formula = disk_thresholds(s, 100 * GiB);
    CHECK(formula.high == 99);
    CHECK(formula.medium == 97);
    CHECK(formula.normal == 95);

    s.percentage_database_disk_space_used_high_threshold = 90;
    auto only_high = disk_thresholds(s, 100 * GiB);
    CHECK(only_high.high == 90);
    CHECK(only_high.medium == 88);
    CHECK(only_high.normal == 86);
    CHECK_FALSE(validate(s));

    s.percentage_database_disk_space_used_medium_threshold = 80;
    auto with_medium = disk_thresholds(s, 100 * GiB);
    CHECK(with_medium.medium == 80);
    CHECK(with_medium.normal == 78);

    s.percentage_database_disk_space_used_normal_threshold = 50;
    CHECK(disk_thresholds(s, 100 * GiB).normal == 50);
}

TEST_CASE("a resource rises at Medium and High and falls only below the level beneath", "[backpressure]") {
    const Thresholds t{71, 73, 75};
    struct Step {
        double value;
        L expected;
    };
    // One walk through every edge of the rule, each step from the previous level.
    const std::vector<Step> walk{
        {50, L::Normal},  {72.9, L::Normal}, {73, L::Medium},  {74, L::Medium},   {71, L::Medium},
        {70.9, L::Normal}, {75, L::High},    {74, L::High},    {73, L::High},     {72.9, L::Medium},
        {71, L::Medium},  {74.9, L::Medium}, {100, L::High},   {70, L::Normal},   {73.5, L::Medium},
        {99, L::High},    {72, L::Medium},   {75, L::High},    {0, L::Normal},
    };
    L level = L::Normal;
    for (std::size_t i = 0; i < walk.size(); ++i) {
        INFO("step " << i << ": " << walk[i].value << " from " << to_string(level));
        level = next_level(level, walk[i].value, t);
        CHECK(level == walk[i].expected);
    }
}

TEST_CASE("the monitor applies the hysteresis per resource across samples", "[backpressure]") {
    FakeHost host;
    BackPressureMonitor m({}, host.sources());
    host.memory_used(74);
    CHECK(m.sample().level == L::Medium);
    host.memory_used(72);  // between Normal and Medium: stays Medium
    CHECK(m.sample().level == L::Medium);
    host.memory_used(80);
    CHECK(m.sample().level == L::High);
    host.memory_used(73);  // not below Medium: stays High
    CHECK(m.sample().level == L::High);
    host.memory_used(72);
    CHECK(m.sample().level == L::Medium);
    host.memory_used(70);
    CHECK(m.sample().level == L::Normal);
    CHECK(m.level() == L::Normal);
}

TEST_CASE("the overall level is the highest resource level", "[backpressure]") {
    FakeHost host;
    BackPressureMonitor m({}, host.sources());
    auto s = m.sample();
    REQUIRE(s.resources.size() == 4);
    CHECK(s.level == L::Normal);

    host.backlog = 12000;  // Medium
    s = m.sample();
    CHECK(reading(s, kSubmissionQueueResource).level == L::Medium);
    CHECK(s.level == L::Medium);

    host.disk_used(99);  // High
    s = m.sample();
    CHECK(reading(s, kDiskSpaceResource).level == L::High);
    CHECK(reading(s, kMapUsageResource).level == L::Normal);
    CHECK(s.level == L::High);
    CHECK(m.level() == L::High);

    host.disk_used(50);
    s = m.sample();
    CHECK(s.level == L::Medium);
    host.backlog = 100;
    CHECK(m.sample().level == L::Normal);
}

TEST_CASE("a full map reads as High, never as a failure", "[backpressure]") {
    FakeHost host;
    BackPressureMonitor m({}, host.sources());
    host.map = MapUsage{1000, 1000};
    auto s = m.sample();
    CHECK(reading(s, kMapUsageResource).value == 100);
    CHECK(s.level == L::High);
    host.map = MapUsage{1000, 5000};  // more pages than the map: clamped, not a crash
    CHECK(reading(m.sample(), kMapUsageResource).value == 100);
}

TEST_CASE("a storage-full report forces High at once and clears by itself", "[backpressure]") {
    FakeHost host;
    BackPressureMonitor m({}, host.sources());  // interval 2 s
    host.map_used(40);
    CHECK(m.sample().level == L::Normal);

    m.report_storage_full();
    CHECK(m.level() == L::High);  // before any sample: the next MAIL FROM is refused

    auto s = m.sample();  // same instant: still held although the map reads 40 %
    CHECK(s.level == L::High);
    CHECK(reading(s, kMapUsageResource).storage_full_reported);
    CHECK(reading(s, kMapUsageResource).level == L::High);

    host.now += 1s;  // less than one interval
    CHECK(m.sample().level == L::High);

    host.now += 1s;
    host.map_used(94);  // an interval has passed but the map is not below Medium (93)
    CHECK(m.sample().level == L::High);

    host.map_used(92);  // below Medium, above Normal: the hold ends, the rule continues from High
    s = m.sample();
    CHECK_FALSE(reading(s, kMapUsageResource).storage_full_reported);
    CHECK(s.level == L::Medium);

    host.map_used(40);
    CHECK(m.sample().level == L::Normal);
    CHECK(m.level() == L::Normal);
}

TEST_CASE("a new storage-full report restarts the interval", "[backpressure]") {
    FakeHost host;
    BackPressureMonitor m({}, host.sources());
    host.map_used(10);
    m.report_storage_full();
    host.now += 1500ms;
    m.report_storage_full();
    host.now += 1500ms;  // 3 s after the first, 1.5 s after the last
    CHECK(m.sample().level == L::High);
    host.now += 500ms;
    CHECK(m.sample().level == L::Normal);
}

TEST_CASE("a failing reader keeps its resource's last level and is flagged", "[backpressure]") {
    FakeHost host;
    BackPressureMonitor m({}, host.sources());
    host.memory_used(74);
    CHECK(m.sample().level == L::Medium);

    host.private_bytes.reset();
    auto s = m.sample();
    const auto& r = reading(s, kPrivateBytesResource);
    CHECK(r.sample_failed);
    CHECK(r.level == L::Medium);
    CHECK(r.value == 74);
    CHECK_FALSE(r.failure.empty());
    CHECK(s.level == L::Medium);
    CHECK_FALSE(reading(s, kDiskSpaceResource).sample_failed);
    CHECK(describe(s).find("Private bytes = 74% [Medium] [Normal=71% Medium=73% High=75%] (sample failed:") !=
          std::string::npos);

    host.memory_used(10);
    s = m.sample();
    CHECK_FALSE(reading(s, kPrivateBytesResource).sample_failed);
    CHECK(s.level == L::Normal);

    host.physical_memory.reset();  // either half of the ratio failing fails the resource
    CHECK(reading(m.sample(), kPrivateBytesResource).sample_failed);
}

TEST_CASE("a reader that throws or is missing is a failed sample, not a crash", "[backpressure]") {
    FakeHost host;
    auto sources = host.sources();
    sources.disk = [](const std::string&) -> std::optional<DiskSpace> { throw std::runtime_error("EIO"); };
    sources.submission_backlog = nullptr;
    BackPressureMonitor m({}, std::move(sources));
    Snapshot s;
    REQUIRE_NOTHROW(s = m.sample());
    CHECK(reading(s, kDiskSpaceResource).sample_failed);
    CHECK(reading(s, kDiskSpaceResource).failure.find("EIO") != std::string::npos);
    CHECK(reading(s, kSubmissionQueueResource).sample_failed);
    CHECK(s.level == L::Normal);

    host.map = MapUsage{0, 0};  // a map size of 0 cannot give a percentage
    CHECK(reading(m.sample(), kMapUsageResource).sample_failed);
}

TEST_CASE("with EnableResourceMonitoring false the level is always Normal", "[backpressure]") {
    FakeHost host;
    host.disk_used(100);
    host.map_used(100);
    host.memory_used(100);
    host.backlog = 1'000'000;
    BackPressureSettings off;
    off.enable_resource_monitoring = false;
    BackPressureMonitor m(off, host.sources());
    auto s = m.sample();
    CHECK(s.level == L::Normal);
    CHECK_FALSE(s.monitoring_enabled);
    CHECK(s.resources.empty());
    m.report_storage_full();
    CHECK(m.level() == L::Normal);
    CHECK(m.sample().level == L::Normal);

    // Turned on live: High; turned off again: Normal at once, before any sample.
    m.set_settings({});
    CHECK(m.sample().level == L::High);
    m.set_settings(off);
    CHECK(m.level() == L::Normal);
    CHECK(m.sample().level == L::Normal);
}

TEST_CASE("on_level_change fires once per change with the figures that caused it", "[backpressure]") {
    FakeHost host;
    BackPressureMonitor m({}, host.sources());
    struct Change {
        L from, to;
        std::string text;
    };
    std::vector<Change> changes;
    m.on_level_change = [&](L from, L to, const Snapshot& s) {
        changes.push_back({from, to, describe(s)});
        CHECK(m.snapshot().level == to);  // no lock held: the callback may look
    };

    m.sample();
    CHECK(changes.empty());
    host.disk_used(99);
    m.sample();
    m.sample();
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].from == L::Normal);
    CHECK(changes[0].to == L::High);
    CHECK(changes[0].text.starts_with("Resource pressure increased from Normal to High. "
                                      "Queue database and disk space (\"/var/lib/edge-transport\") = 99% [High] "
                                      "[Normal=95% Medium=97% High=99%]"));

    host.disk_used(96);
    m.sample();  // High -> Medium
    host.disk_used(94);
    m.sample();  // Medium -> Normal
    m.sample();
    REQUIRE(changes.size() == 3);
    CHECK(changes[1].text.starts_with("Resource pressure decreased from High to Medium."));
    CHECK(changes[1].text.find("= 96% [Medium]") != std::string::npos);
    CHECK(changes[2].from == L::Medium);
    CHECK(changes[2].to == L::Normal);

    m.report_storage_full();
    CHECK(changes.size() == 3);  // logged by the next sample, with the reason
    m.sample();
    REQUIRE(changes.size() == 4);
    CHECK(changes[3].text.find("Queue database map usage = 10% [High] [Normal=91% Medium=93% High=95%] "
                               "(storage full reported by the queue)") != std::string::npos);
}

TEST_CASE("describe() renders every resource in the manner of Exchange's event text", "[backpressure]") {
    FakeHost host;
    host.disk_used(50);
    host.map_used(12);
    host.memory_used(3);
    host.backlog = 42;
    BackPressureMonitor m({}, host.sources());
    auto s = m.sample();
    CHECK(describe(s) ==
          "The resource pressure is constant at Normal. "
          "Queue database and disk space (\"/var/lib/edge-transport\") = 50% [Normal] [Normal=95% Medium=97% High=99%] "
          "Queue database map usage = 12% [Normal] [Normal=91% Medium=93% High=95%] "
          "Private bytes = 3% [Normal] [Normal=71% Medium=73% High=75%] "
          "Submission queue length = 42 [Normal] [Normal=2000 Medium=10000 High=15000]");
    CHECK(host.path_asked == "/var/lib/edge-transport");

    // Rounded down: 96.9 % is printed 96 %, never a threshold it has not reached.
    host.disk = DiskSpace{1000 * GiB, 31 * GiB};
    CHECK(describe(m.sample()).find("= 96% [Normal]") != std::string::npos);
}

TEST_CASE("snapshot() keeps the last sample and since when the level holds", "[backpressure]") {
    FakeHost host;
    BackPressureMonitor m({}, host.sources());
    CHECK(m.snapshot().resources.empty());
    CHECK(m.snapshot().level == L::Normal);

    host.now += 10s;
    m.sample();
    host.now += 2s;
    host.backlog = 20000;
    auto high = m.sample();
    const auto since = high.since;
    CHECK(since == std::chrono::system_clock::time_point{} + 12s);
    host.now += 2s;
    auto again = m.sample();
    CHECK(again.since == since);
    CHECK(again.sampled_at == std::chrono::system_clock::time_point{} + 14s);
    CHECK(m.snapshot().since == since);
    CHECK(m.snapshot().resources.size() == 4);
}

TEST_CASE("validate() rejects bad settings naming the key", "[backpressure]") {
    CHECK_FALSE(validate(BackPressureSettings{}));
    struct Case {
        const char* why;
        void (*change)(BackPressureSettings&);
        const char* key;
    };
    const std::vector<Case> cases{
        {"interval zero", [](BackPressureSettings& s) { s.resource_monitoring_interval = 0ms; },
         "ResourceMonitoringInterval"},
        {"interval too long", [](BackPressureSettings& s) { s.resource_monitoring_interval = 2h; },
         "ResourceMonitoringInterval"},
        {"disk above 100", [](BackPressureSettings& s) { s.percentage_database_disk_space_used_high_threshold = 101; },
         "PercentageDatabaseDiskSpaceUsedHighThreshold"},
        {"disk negative", [](BackPressureSettings& s) { s.percentage_database_disk_space_used_normal_threshold = -1; },
         "PercentageDatabaseDiskSpaceUsedNormalThreshold"},
        {"disk medium without high",
         [](BackPressureSettings& s) { s.percentage_database_disk_space_used_medium_threshold = 80; },
         "PercentageDatabaseDiskSpaceUsedMediumThreshold"},
        {"disk high so low the derived normal is below 1",
         [](BackPressureSettings& s) { s.percentage_database_disk_space_used_high_threshold = 4; },
         "PercentageDatabaseDiskSpaceUsedHighThreshold"},
        {"disk medium above high",
         [](BackPressureSettings& s) {
             s.percentage_database_disk_space_used_high_threshold = 90;
             s.percentage_database_disk_space_used_medium_threshold = 95;
         },
         "PercentageDatabaseDiskSpaceUsedMediumThreshold"},
        {"private bytes medium = high",
         [](BackPressureSettings& s) { s.percentage_private_bytes_used_medium_threshold = 75; },
         "PercentagePrivateBytesUsedMediumThreshold"},
        {"private bytes high lowered alone",
         [](BackPressureSettings& s) { s.percentage_private_bytes_used_high_threshold = 60; },
         "PercentagePrivateBytesUsedHighThreshold"},
        {"private bytes zero", [](BackPressureSettings& s) { s.percentage_private_bytes_used_normal_threshold = 0; },
         "PercentagePrivateBytesUsedNormalThreshold"},
        {"map normal above medium", [](BackPressureSettings& s) { s.database_map_usage_normal_threshold = 94; },
         "DatabaseMapUsageNormalThreshold"},
        {"map over 100", [](BackPressureSettings& s) { s.database_map_usage_high_threshold = 120; },
         "DatabaseMapUsageHighThreshold"},
        {"queue normal zero", [](BackPressureSettings& s) { s.submission_queue_length_normal_threshold = 0; },
         "SubmissionQueueLengthNormalThreshold"},
        {"queue medium above high",
         [](BackPressureSettings& s) { s.submission_queue_length_medium_threshold = 20000; },
         "SubmissionQueueLengthMediumThreshold"},
    };
    for (const auto& c : cases) {
        INFO(c.why);
        BackPressureSettings s;
        c.change(s);
        auto error = validate(s);
        REQUIRE(error);
        INFO(*error);
        CHECK(error->find(c.key) != std::string::npos);
        CHECK_THROWS_AS(BackPressureMonitor(s, FakeHost{}.sources()), std::invalid_argument);
    }
}

TEST_CASE("accepts_new_mail: Normal everyone, Medium only hub or partner sessions, High no one", "[backpressure]") {
    CHECK(accepts_new_mail(L::Normal, false));
    CHECK(accepts_new_mail(L::Normal, true));
    CHECK_FALSE(accepts_new_mail(L::Medium, false));
    CHECK(accepts_new_mail(L::Medium, true));
    CHECK_FALSE(accepts_new_mail(L::High, false));
    CHECK_FALSE(accepts_new_mail(L::High, true));
    CHECK(std::string(to_string(L::Medium)) == "Medium");
}

TEST_CASE("the settings table's defaults are the struct's, and every key parses", "[backpressure]") {
    // The keys are rows of the one settings table (transport/config); the monitor
    // reads the typed struct bound to them.
    using edge::config::ConfigObject;
    using edge::config::ObjectKind;
    ConfigObject bootstrap(ObjectKind::Bootstrap);
    CHECK(edge::config::bootstrap_settings(bootstrap).back_pressure == BackPressureSettings{});
    const std::vector<std::pair<const char*, const char*>> changes{
        {"EnableResourceMonitoring", "$false"},
        {"ResourceMonitoringInterval", "00:00:09"},
        {"PercentageDatabaseDiskSpaceUsedHighThreshold", "50"},
        {"PercentageDatabaseDiskSpaceUsedMediumThreshold", "40"},
        {"PercentageDatabaseDiskSpaceUsedNormalThreshold", "30"},
        {"PercentagePrivateBytesUsedHighThreshold", "50"},
        {"PercentagePrivateBytesUsedMediumThreshold", "40"},
        {"PercentagePrivateBytesUsedNormalThreshold", "30"},
        {"DatabaseMapUsageHighThreshold", "50"},
        {"DatabaseMapUsageMediumThreshold", "40"},
        {"DatabaseMapUsageNormalThreshold", "30"},
        {"SubmissionQueueLengthHighThreshold", "5"},
        {"SubmissionQueueLengthMediumThreshold", "4"},
        {"SubmissionQueueLengthNormalThreshold", "3"},
    };
    for (auto [key, value] : changes) {
        INFO(key);
        const auto* d = edge::config::find_setting(ObjectKind::Bootstrap, key);
        REQUIRE(d != nullptr);
        CHECK_FALSE(d->meaning.empty());
        REQUIRE(bootstrap.set(key, value).empty());
    }
    BackPressureSettings changed = edge::config::bootstrap_settings(bootstrap).back_pressure;
    CHECK_FALSE(changed.enable_resource_monitoring);
    CHECK(changed.resource_monitoring_interval == 9s);
    CHECK(changed.percentage_database_disk_space_used_high_threshold == 50);
    CHECK(changed.percentage_private_bytes_used_normal_threshold == 30);
    CHECK(changed.database_map_usage_medium_threshold == 40);
    CHECK(changed.submission_queue_length_normal_threshold == 3);
    CHECK_FALSE(validate(changed));
}

TEST_CASE("set_setting parses Exchange's value forms and names the key when it cannot", "[backpressure]") {
    // The bootstrap file's values go through the settings table (no second parser here).
    using edge::config::ConfigObject;
    using edge::config::ObjectKind;
    ConfigObject b(ObjectKind::Bootstrap);
    CHECK(b.set("ResourceMonitoringInterval", "00:01:30").empty());
    CHECK(edge::config::bootstrap_settings(b).back_pressure.resource_monitoring_interval == 90s);
    CHECK(b.set("EnableResourceMonitoring", "False").empty());
    CHECK_FALSE(edge::config::bootstrap_settings(b).back_pressure.enable_resource_monitoring);
    CHECK(b.set("SubmissionQueueLengthHighThreshold", "30000").empty());
    CHECK(edge::config::bootstrap_settings(b).back_pressure.submission_queue_length_high_threshold == 30000);

    for (auto [key, value] : std::vector<std::pair<const char*, const char*>>{
             {"ResourceMonitoringInterval", "00:61:00"},
             {"ResourceMonitoringInterval", "2s"},
             {"ResourceMonitoringInterval", "1:2"},
             {"EnableResourceMonitoring", "yes"},
             {"PercentagePrivateBytesUsedHighThreshold", "-5"},
             {"PercentagePrivateBytesUsedHighThreshold", "75%"},
             {"DatabaseMapUsageHighThreshold", ""},
             {"SubmissionQueueLengthHighThreshold", "1e6"},
         }) {
        INFO(key << " = " << value);
        auto e = b.set(key, value);
        REQUIRE_FALSE(e.empty());
        CHECK(e.find(key) != std::string::npos);
    }
    auto unknown = b.set("VersionBucketsHighThreshold", "200");
    REQUIRE_FALSE(unknown.empty());
    CHECK(unknown.find("VersionBucketsHighThreshold") != std::string::npos);
}

TEST_CASE("the real statvfs and /proc readers return plausible numbers on this machine", "[backpressure]") {
    const auto here = std::filesystem::temp_directory_path().string();
    auto disk = read_disk_space(here);
    REQUIRE(disk);
    CHECK(disk->total_bytes > 0);
    CHECK(disk->available_bytes <= disk->total_bytes);
    CHECK_FALSE(read_disk_space("/nonexistent/edge-transport/queue"));

    auto ram = read_physical_memory();
    REQUIRE(ram);
    CHECK(*ram >= 64 * MiB);
    CHECK(*ram < (1ULL << 50));

    auto priv = read_private_bytes();
    REQUIRE(priv);
    CHECK(*priv >= 1 * MiB);  // at least this test's own heap
    // Growing the heap shows: touch 64 MiB and read again.
    std::vector<char> ballast(64 * MiB, 'x');
    auto grown = read_private_bytes();
    REQUIRE(grown);
    CHECK(*grown >= *priv + 32 * MiB);
    CHECK(ballast[ballast.size() / 2] == 'x');

    std::size_t backlog_calls = 0;
    auto sources = make_system_sources(
        here, [] { return MapUsage{1 << 20, 1 << 18, 0}; },
        [&] {
            ++backlog_calls;
            return std::uint64_t{7};
        });
    BackPressureSettings s;
    s.percentage_database_disk_space_used_high_threshold = 100;  // this host's disk is not under test
    s.percentage_private_bytes_used_high_threshold = 100;        // nor its memory (ASan reserves a lot)
    s.percentage_private_bytes_used_medium_threshold = 99;
    s.percentage_private_bytes_used_normal_threshold = 98;
    BackPressureMonitor m(s, std::move(sources));
    auto snap = m.sample();
    INFO(describe(snap));
    for (const auto& r : snap.resources) {
        INFO(r.resource);
        CHECK_FALSE(r.sample_failed);
        CHECK(r.value >= 0);
    }
    CHECK(reading(snap, kDiskSpaceResource).value <= 100);
    CHECK(reading(snap, kPrivateBytesResource).value > 0);
    CHECK(reading(snap, kPrivateBytesResource).value < 100);
    CHECK(reading(snap, kMapUsageResource).value == 25);
    CHECK(reading(snap, kSubmissionQueueResource).value == 7);
    CHECK(backlog_calls == 1);
    CHECK(snap.level == L::Normal);
}

// --- the status file (edgectl Get-BackPressure) --------------------------------------------

namespace {

// Every field away from its default, and text that needs escaping.
Snapshot odd_snapshot() {
    Snapshot s;
    s.level = L::High;
    s.previous_level = L::Medium;
    s.since = std::chrono::system_clock::time_point{} + 1714564800123456789ns;
    s.sampled_at = std::chrono::system_clock::time_point{} + 1714564802987654321ns;
    s.monitoring_enabled = false;
    ResourceReading disk;
    disk.resource = std::string(kDiskSpaceResource);
    disk.value = 97.123456789012345;
    disk.unit = "%";
    disk.thresholds = {95.5, 97, 99.25};
    disk.level = L::High;
    disk.detail = "/var/lib/a;b=c%d\nnext line\x7f é";
    ResourceReading queue;
    queue.resource = std::string(kSubmissionQueueResource);
    queue.value = 1e20;
    queue.unit = "";
    queue.thresholds = {2000, 10000, 15000};
    queue.level = L::Medium;
    queue.sample_failed = true;
    queue.failure = "reader threw: bad\r\nthing; x=1";
    queue.storage_full_reported = true;
    s.resources = {disk, queue};
    return s;
}

void check_same(const Snapshot& a, const Snapshot& b) {
    CHECK(a.level == b.level);
    CHECK(a.previous_level == b.previous_level);
    CHECK(a.since == b.since);
    CHECK(a.sampled_at == b.sampled_at);
    CHECK(a.monitoring_enabled == b.monitoring_enabled);
    REQUIRE(a.resources.size() == b.resources.size());
    for (std::size_t i = 0; i < a.resources.size(); ++i) {
        const auto& x = a.resources[i];
        const auto& y = b.resources[i];
        CHECK(x.resource == y.resource);
        CHECK(x.value == y.value);
        CHECK(x.unit == y.unit);
        CHECK(x.thresholds.normal == y.thresholds.normal);
        CHECK(x.thresholds.medium == y.thresholds.medium);
        CHECK(x.thresholds.high == y.thresholds.high);
        CHECK(x.level == y.level);
        CHECK(x.sample_failed == y.sample_failed);
        CHECK(x.detail == y.detail);
        CHECK(x.failure == y.failure);
        CHECK(x.storage_full_reported == y.storage_full_reported);
    }
}

struct StatusDir {
    std::string path;
    StatusDir() {
        path = (std::filesystem::temp_directory_path() / ("edge-bp-" + std::to_string(::getpid()))).string();
        std::filesystem::create_directories(path);
    }
    ~StatusDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

}  // namespace

TEST_CASE("a snapshot survives the status text field for field, escapes included", "[backpressure][status]") {
    const Snapshot s = odd_snapshot();
    const std::string text = serialize_snapshot(s);
    INFO(text);
    CHECK(text.starts_with("Format=1\nLevel=High\nPreviousLevel=Medium\nSince=1714564800123456789\n"));
    CHECK(text.ends_with("\nEnd=2\n"));
    CHECK(text.find("Detail=/var/lib/a%3Bb%3Dc%25d%0Anext line%7F é;") != std::string::npos);
    auto back = parse_snapshot(text);
    REQUIRE(back);
    check_same(s, *back);
    CHECK(serialize_snapshot(*back) == text);

    SECTION("a monitor's real sample, and a snapshot before any sample") {
        FakeHost host;
        host.now += 5s;
        BackPressureMonitor m({}, host.sources());
        auto before = parse_snapshot(serialize_snapshot(m.snapshot()));
        REQUIRE(before);
        check_same(m.snapshot(), *before);
        auto sampled = m.sample();
        auto after = parse_snapshot(serialize_snapshot(sampled));
        REQUIRE(after);
        check_same(sampled, *after);
    }
}

TEST_CASE("a damaged status text is refused, never half read", "[backpressure][status]") {
    const std::string good = serialize_snapshot(odd_snapshot());
    REQUIRE(parse_snapshot(good));
    auto replaced = [&](std::string_view from, std::string_view to) {
        std::string t = good;
        auto at = t.find(from);
        REQUIRE(at != std::string::npos);
        t.replace(at, from.size(), to);
        return t;
    };
    // Cut anywhere: no End line, or a last line without its newline.
    for (std::size_t n = 0; n < good.size(); ++n) {
        INFO("cut at " << n);
        CHECK_FALSE(parse_snapshot(std::string_view(good).substr(0, n)));
    }
    CHECK_FALSE(parse_snapshot(good + "Level=High\n"));                    // after End
    CHECK_FALSE(parse_snapshot(replaced("End=2", "End=3")));              // miscounted
    CHECK_FALSE(parse_snapshot(replaced("Format=1", "Format=2")));        // a format we do not know
    CHECK_FALSE(parse_snapshot(replaced("Level=High\n", "Level=Severe\n")));
    CHECK_FALSE(parse_snapshot(replaced("Level=High\n", "Level=High\nLevel=High\n")));  // twice
    CHECK_FALSE(parse_snapshot(replaced("MonitoringEnabled=false", "MonitoringEnabled=no")));
    CHECK_FALSE(parse_snapshot(replaced("MonitoringEnabled=false", "Colour=blue")));    // unknown key
    CHECK_FALSE(parse_snapshot(replaced("Since=1714564800123456789", "Since=17145648x")));
    CHECK_FALSE(parse_snapshot(replaced("Value=1e+20", "Value=lots")));
    CHECK_FALSE(parse_snapshot(replaced(";StorageFullReported=true", "")));             // a field missing
    CHECK_FALSE(parse_snapshot(replaced("%3B", "%3")));                                  // a cut escape
    CHECK_FALSE(parse_snapshot(replaced("%3B", "%zz")));
    CHECK_FALSE(parse_snapshot(replaced("PreviousLevel=Medium\n", "PreviousLevel=Medium\r\n")));
    CHECK_FALSE(parse_snapshot(""));
    CHECK_FALSE(parse_snapshot(std::string(100, '\0')));
}

TEST_CASE("the status file is replaced whole, and an absent or damaged one reads as nothing", "[backpressure][status]") {
    StatusDir dir;
    CHECK_FALSE(read_status_file(dir.path));
    const Snapshot s = odd_snapshot();
    write_status_file(dir.path, s);
    auto back = read_status_file(dir.path);
    REQUIRE(back);
    check_same(s, *back);

    Snapshot next = s;
    next.level = L::Normal;
    next.resources.pop_back();
    write_status_file(dir.path, next);
    back = read_status_file(dir.path);
    REQUIRE(back);
    check_same(next, *back);
    std::size_t files = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path)) ++files;
    CHECK(files == 1);  // no temporary left behind

    const std::string path = dir.path + "/BackPressure.status";
    std::filesystem::resize_file(path, std::filesystem::file_size(path) - 3);
    CHECK_FALSE(read_status_file(dir.path));
    CHECK_THROWS_AS(write_status_file(dir.path + "/missing", s), std::system_error);
}

TEST_CASE("the session memory total follows every share and bounds them together", "[backpressure][memory]") {
    edge::backpressure::SessionMemory total(1000);
    {
        auto a = total.share();
        auto b = total.share();
        a.set(400);
        b.set(400);
        CHECK(total.held() == 800);
        CHECK_FALSE(total.under_pressure());  // below 90 %
        CHECK(a.room_for(200));
        CHECK_FALSE(a.room_for(201));  // past the limit: not stored
        b.set(500);
        CHECK(total.under_pressure());  // 900 of 1000: new MAIL and connections wait
        b.set(100);
        CHECK(total.held() == 500);
        auto moved = std::move(a);
        CHECK(total.held() == 500);  // a move neither adds nor gives back
        moved.set(0);
        CHECK(total.held() == 100);
        moved.set(50);
    }
    CHECK(total.held() == 0);  // a share gives back what it held when its session ends
}

// Found by the status_file fuzz target: edgectl reads the figures from a file, so a
// value may be any double; converting one outside long long's range to print it was
// undefined behaviour (x86 printed -9223372036854775808%).
TEST_CASE("a figure too large for an integer is printed as it is, never converted out of range", "[backpressure][status]") {
    Snapshot s;
    ResourceReading r;
    r.resource = "Queue database and disk space";
    r.value = 1e30;
    r.unit = "%";
    r.thresholds = {93, 95, 97};
    s.resources.push_back(r);
    std::string text = describe(s);
    CHECK(text.find("1000000000000000019884624838656%") != std::string::npos);
    CHECK(text.find("-9223372036854775808") == std::string::npos);
}

// --- issue 14: space the queue can really use, admission at the commit ----------------

TEST_CASE("the queue's reusable pages count as available on the disk and as free in the map", "[backpressure][issue14]") {
    FakeHost host;
    BackPressureSettings s;
    s.percentage_database_disk_space_used_high_threshold = 70;  // Medium 68, Normal 66
    host.disk = DiskSpace{100 * MiB, 20 * MiB};                  // 80 % used by statvfs
    host.map = MapUsage{1000 * MiB, 60 * MiB, 0};
    BackPressureMonitor m(s, host.sources());
    auto snap = m.sample();
    CHECK(reading(snap, kDiskSpaceResource).value == Approx(80));
    CHECK(reading(snap, kDiskSpaceResource).level == L::High);
    // The queue drained: its files keep their size, but 55 MB of their pages are free.
    host.map = MapUsage{1000 * MiB, 60 * MiB, 55 * MiB};
    snap = m.sample();
    CHECK(reading(snap, kDiskSpaceResource).value == Approx(25));
    CHECK(reading(snap, kDiskSpaceResource).level == L::Normal);
    CHECK(reading(snap, kMapUsageResource).value == Approx(0.5));
    CHECK(snap.level == L::Normal);
    // More reusable than in use (a damaged reading) is clamped, never negative.
    host.map = MapUsage{1000 * MiB, 10 * MiB, 55 * MiB};
    snap = m.sample();
    CHECK(reading(snap, kMapUsageResource).value == 0);
    CHECK(reading(snap, kDiskSpaceResource).value >= 0);
}

TEST_CASE("the admission ledger: sampled space minus commits since and reservations, against High", "[backpressure][issue14]") {
    constexpr std::uint64_t P = DiskAdmission::kPageBytes;
    CHECK(DiskAdmission::charge(0) == DiskAdmission::kCommitOverheadBytes);
    CHECK(DiskAdmission::charge(1) == P + DiskAdmission::kCommitOverheadBytes);
    CHECK(DiskAdmission::charge(P) == P + DiskAdmission::kCommitOverheadBytes);
    CHECK(DiskAdmission::charge(P + 1) == 2 * P + DiskAdmission::kCommitOverheadBytes);
    CHECK(DiskAdmission::charge(std::numeric_limits<std::uint64_t>::max()) == std::numeric_limits<std::uint64_t>::max());

    DiskAdmission ledger;
    // Before any sample (or with monitoring off) nothing is refused.
    CHECK(ledger.admits(std::numeric_limits<std::uint64_t>::max()));
    // 100 MiB volume, 50 MiB available, High 70 %: 30 MiB must stay free, 20 MiB of room.
    ledger.on_sample(100 * MiB, 50 * MiB, 70);
    auto f = ledger.figures();
    CHECK(f.armed);
    CHECK(f.room_bytes == 20 * MiB);
    const std::uint64_t overhead = DiskAdmission::kCommitOverheadBytes;
    CHECK(ledger.admits(20 * MiB - overhead - P));          // charged 20 MiB − 4 KiB: below High
    CHECK_FALSE(ledger.admits(20 * MiB - overhead - P + 1));  // charged 20 MiB: exactly at High is High

    auto a = ledger.reservation();
    auto b = ledger.reservation();
    REQUIRE(a.reserve(8 * MiB));
    CHECK(a.held() == 8 * MiB + overhead);
    REQUIRE(b.reserve(8 * MiB));
    CHECK(ledger.figures().reserved_bytes == 16 * MiB + 2 * overhead);
    CHECK_FALSE(ledger.admits(4 * MiB));
    // A hold that cannot grow keeps what it held; shrinking is always allowed.
    CHECK_FALSE(b.reserve(12 * MiB));
    CHECK(b.held() == 8 * MiB + overhead);
    CHECK(b.reserve(1 * MiB));
    CHECK(b.held() == 1 * MiB + overhead);

    // A commit moves the hold into committed space, charged at the stored size.
    a.commit(9 * MiB);
    CHECK(a.held() == 0);
    f = ledger.figures();
    CHECK(f.committed_bytes == 9 * MiB + overhead);
    CHECK(f.reserved_bytes == 1 * MiB + overhead);
    CHECK(f.room_bytes == 20 * MiB - 10 * MiB - 2 * overhead);
    // The next sample sees the commit on disk: committed is forgotten, holds stay.
    ledger.on_sample(100 * MiB, 41 * MiB, 70);
    f = ledger.figures();
    CHECK(f.committed_bytes == 0);
    CHECK(f.reserved_bytes == 1 * MiB + overhead);
    CHECK(f.room_bytes == 11 * MiB - 1 * MiB - overhead);
    // Available above the volume (a racing reading) is clamped.
    ledger.on_sample(100 * MiB, 200 * MiB, 70);
    CHECK(ledger.figures().available_bytes == 100 * MiB);
    ledger.disarm();
    CHECK(ledger.admits(std::numeric_limits<std::uint64_t>::max()));
}

TEST_CASE("reservations cannot leak: release, destruction, moves and a released commit leave nothing held",
          "[backpressure][issue14]") {
    DiskAdmission ledger;
    ledger.on_sample(100 * MiB, 100 * MiB, 90);
    {
        auto r = ledger.reservation();
        REQUIRE(r.reserve(1 * MiB));
        auto moved = std::move(r);
        CHECK(r.held() == 0);
        CHECK(moved.held() > 0);
        DiskAdmission::Reservation assigned;
        REQUIRE(assigned.reserve(5 * GiB));  // unowned: always yes, holds nothing
        CHECK(assigned.held() == 0);
        assigned = std::move(moved);
        CHECK(ledger.figures().reserved_bytes == DiskAdmission::charge(1 * MiB));
        auto other = ledger.reservation();
        REQUIRE(other.reserve(2 * MiB));
        assigned = std::move(other);  // the first hold is given back on assignment
        CHECK(ledger.figures().reserved_bytes == DiskAdmission::charge(2 * MiB));
    }  // destroyed: given back
    CHECK(ledger.figures().reserved_bytes == 0);
    auto r = ledger.reservation();
    REQUIRE(r.reserve(3 * MiB));
    r.release();
    r.release();  // twice is once
    CHECK(ledger.figures().reserved_bytes == 0);
    REQUIRE(r.reserve(3 * MiB));
    r.commit(3 * MiB);
    r.release();  // after the commit nothing is held: committed space stays counted
    CHECK(ledger.figures().reserved_bytes == 0);
    CHECK(ledger.figures().committed_bytes == DiskAdmission::charge(3 * MiB));
}

TEST_CASE("the monitor feeds the ledger the queue volume's space, reusable pages included, and its High",
          "[backpressure][issue14]") {
    FakeHost host;
    BackPressureSettings s;
    s.percentage_database_disk_space_used_high_threshold = 70;
    host.disk = DiskSpace{100 * MiB, 20 * MiB};
    host.map = MapUsage{1000 * MiB, 60 * MiB, 30 * MiB};
    DiskAdmission ledger;
    BackPressureMonitor m(s, host.sources());
    m.feed(&ledger);
    m.sample();
    auto f = ledger.figures();
    CHECK(f.armed);
    CHECK(f.volume_bytes == 100 * MiB);
    CHECK(f.available_bytes == 50 * MiB);
    CHECK(f.high_percent == 70);
    CHECK(f.room_bytes == 20 * MiB);
    // A failed disk reading leaves the ledger as it was.
    host.disk.reset();
    m.sample();
    CHECK(ledger.figures().available_bytes == 50 * MiB);
    // Monitoring off: nothing is refused.
    s.enable_resource_monitoring = false;
    m.set_settings(s);
    CHECK_FALSE(ledger.figures().armed);
}

// The real QueueDb: a drained queue keeps its files, and usage() says how much of
// them LMDB will write again.
TEST_CASE("QueueDb::usage counts the free pages a drained queue leaves in its files", "[backpressure][issue14][queue-db]") {
    edge::test::TempDir dir;
    auto db = edge::test::open_queue(dir);
    const auto empty = db->usage();
    std::vector<edge::queue::MessageId> ids;
    for (std::uint64_t i = 0; i < 40; ++i) {
        auto id = db->enqueue(edge::test::make_message(i, 100 * 1024));  // body stores
        REQUIRE(id);
        ids.push_back(*id);
    }
    for (std::uint64_t i = 0; i < 40; ++i) {
        auto id = db->enqueue(edge::test::make_message(100 + i, 2 * 1024));  // the main environment
        REQUIRE(id);
        ids.push_back(*id);
    }
    const auto full = db->usage();
    CHECK(full.used_bytes >= empty.used_bytes + 40 * 100 * 1024);
    CHECK(full.free_bytes < 40 * 100 * 1024);
    for (auto id : ids) REQUIRE(db->remove_message(id, edge::queue::WithNdr::no));
    // Store bodies go once the deletion is durable, on the stores' own committers.
    auto drained = db->usage();
    for (int i = 0; i < 100 && drained.free_bytes < 40 * 100 * 1024; ++i) {
        std::this_thread::sleep_for(50ms);
        drained = db->usage();
    }
    INFO("used " << drained.used_bytes << " free " << drained.free_bytes);
    CHECK(drained.used_bytes >= full.used_bytes);            // the files did not shrink
    CHECK(drained.free_bytes >= 40 * 100 * 1024);             // but the bodies' pages are free
    CHECK(drained.used_bytes - drained.free_bytes < full.used_bytes - 40 * 100 * 1024);
}
