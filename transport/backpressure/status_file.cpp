// The back-pressure status file: the server's last Snapshot as "Key=Value" lines in
// <data>/BackPressure.status, written atomically, read by edgectl Get-BackPressure.
// The format is stated in back_pressure.hpp.
#include "back_pressure.hpp"

#include "data_dir_lock.hpp"
#include "private_file.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>


#include <cerrno>
#include <charconv>
#include <cstdio>
#include <map>
#include <system_error>

namespace edge::backpressure {

namespace {

constexpr std::string_view kFormat = "1";

// --- values ---------------------------------------------------------------------------

std::string escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (c == '%' || c == ';' || c == '=' || u < 0x20 || u == 0x7F)
            out += fmt::format("%{:02X}", u);
        else
            out += c;
    }
    return out;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;  // lower case is not what escape() writes
}

std::optional<std::string> unescape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        auto u = static_cast<unsigned char>(c);
        if (c == ';' || c == '=' || u < 0x20 || u == 0x7F) return std::nullopt;  // would have been escaped
        if (c != '%') {
            out += c;
            continue;
        }
        if (i + 2 >= s.size()) return std::nullopt;
        int hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

std::string number(double v) { return fmt::format("{}", v); }

std::optional<double> parse_number(std::string_view s) {
    double v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return v;
}

std::string time_text(std::chrono::system_clock::time_point t) {
    return std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

std::optional<std::chrono::system_clock::time_point> parse_time(std::string_view s) {
    long long ns = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), ns);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(ns)));
}

std::optional<BackPressureLevel> parse_level(std::string_view s) {
    for (auto l : {BackPressureLevel::Normal, BackPressureLevel::Medium, BackPressureLevel::High})
        if (s == to_string(l)) return l;
    return std::nullopt;
}

const char* bool_text(bool b) { return b ? "true" : "false"; }

std::optional<bool> parse_bool(std::string_view s) {
    if (s == "true") return true;
    if (s == "false") return false;
    return std::nullopt;
}

// A field's parsed value; nullopt when the field is missing or does not parse.
template <class Parse>
auto parse_field(std::optional<std::string_view> field, Parse parse) -> decltype(parse(std::string_view{})) {
    if (!field) return std::nullopt;
    return parse(*field);
}

// Splits "Key=Value" at the first '='; nullopt without one or with an empty key.
std::optional<std::pair<std::string_view, std::string_view>> split_pair(std::string_view s) {
    auto eq = s.find('=');
    if (eq == std::string_view::npos || eq == 0) return std::nullopt;
    return std::pair{s.substr(0, eq), s.substr(eq + 1)};
}

// --- one resource line --------------------------------------------------------------------

std::string serialize_reading(const ResourceReading& r) {
    return fmt::format(
        "Name={};Value={};Unit={};Normal={};Medium={};High={};Level={};SampleFailed={};Detail={};Failure={};"
        "StorageFullReported={}",
        escape(r.resource), number(r.value), escape(r.unit), number(r.thresholds.normal), number(r.thresholds.medium),
        number(r.thresholds.high), to_string(r.level), bool_text(r.sample_failed), escape(r.detail), escape(r.failure),
        bool_text(r.storage_full_reported));
}

std::optional<ResourceReading> parse_reading(std::string_view line) {
    std::map<std::string_view, std::string_view, std::less<>> fields;
    while (true) {
        auto semi = line.find(';');
        auto kv = split_pair(line.substr(0, semi));
        if (!kv || !fields.emplace(kv->first, kv->second).second) return std::nullopt;
        if (semi == std::string_view::npos) break;
        line.remove_prefix(semi + 1);
    }
    if (fields.size() != 11) return std::nullopt;  // exactly the fields serialize_reading() writes
    auto get = [&](std::string_view key) -> std::optional<std::string_view> {
        auto it = fields.find(key);
        if (it == fields.end()) return std::nullopt;
        return it->second;
    };
    ResourceReading r;
    auto name = get("Name"), unit = get("Unit"), detail = get("Detail"), failure = get("Failure");
    if (!name || !unit || !detail || !failure) return std::nullopt;
    auto name_t = unescape(*name), unit_t = unescape(*unit), detail_t = unescape(*detail),
         failure_t = unescape(*failure);
    if (!name_t || !unit_t || !detail_t || !failure_t) return std::nullopt;
    r.resource = std::move(*name_t);
    r.unit = std::move(*unit_t);
    r.detail = std::move(*detail_t);
    r.failure = std::move(*failure_t);
    auto value = parse_field(get("Value"), parse_number);
    auto normal = parse_field(get("Normal"), parse_number);
    auto medium = parse_field(get("Medium"), parse_number);
    auto high = parse_field(get("High"), parse_number);
    auto level = parse_field(get("Level"), parse_level);
    auto failed = parse_field(get("SampleFailed"), parse_bool);
    auto held = parse_field(get("StorageFullReported"), parse_bool);
    if (!value || !normal || !medium || !high || !level || !failed || !held) return std::nullopt;
    r.value = *value;
    r.thresholds = {*normal, *medium, *high};
    r.level = *level;
    r.sample_failed = *failed;
    r.storage_full_reported = *held;
    return r;
}

std::string status_path(const std::string& data_dir) { return data_dir + "/" + std::string(kStatusFileName); }

}  // namespace

std::string serialize_snapshot(const Snapshot& s) {
    std::string out = fmt::format("Format={}\nLevel={}\nPreviousLevel={}\nSince={}\nSampledAt={}\nMonitoringEnabled={}\n",
                                  kFormat, to_string(s.level), to_string(s.previous_level), time_text(s.since),
                                  time_text(s.sampled_at), bool_text(s.monitoring_enabled));
    for (const auto& r : s.resources) out += "Resource=" + serialize_reading(r) + "\n";
    out += fmt::format("End={}\n", s.resources.size());
    return out;
}

std::optional<Snapshot> parse_snapshot(std::string_view text) {
    Snapshot s;
    std::map<std::string_view, std::string_view, std::less<>> header;
    bool ended = false;
    while (!text.empty()) {
        if (ended) return std::nullopt;  // nothing may follow End
        auto nl = text.find('\n');
        if (nl == std::string_view::npos) return std::nullopt;  // a cut last line
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl + 1);
        auto kv = split_pair(line);
        if (!kv) return std::nullopt;
        auto [key, value] = *kv;
        if (key == "Resource") {
            auto r = parse_reading(value);
            if (!r) return std::nullopt;
            s.resources.push_back(std::move(*r));
        } else if (key == "End") {
            std::size_t n = 0;
            auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
            if (value.empty() || ec != std::errc{} || end != value.data() + value.size() || n != s.resources.size())
                return std::nullopt;
            ended = true;
        } else if (!header.emplace(key, value).second) {
            return std::nullopt;
        }
    }
    if (!ended || header.size() != 6) return std::nullopt;
    auto get = [&](std::string_view key) -> std::optional<std::string_view> {
        auto it = header.find(key);
        if (it == header.end()) return std::nullopt;
        return it->second;
    };
    if (get("Format") != kFormat) return std::nullopt;
    auto level = parse_field(get("Level"), parse_level);
    auto previous = parse_field(get("PreviousLevel"), parse_level);
    auto since = parse_field(get("Since"), parse_time);
    auto sampled = parse_field(get("SampledAt"), parse_time);
    auto enabled = parse_field(get("MonitoringEnabled"), parse_bool);
    if (!level || !previous || !since || !sampled || !enabled) return std::nullopt;
    s.level = *level;
    s.previous_level = *previous;
    s.since = *since;
    s.sampled_at = *sampled;
    s.monitoring_enabled = *enabled;
    return s;
}

void write_status_file(const std::string& data_dir, const Snapshot& snapshot) {
    const std::string path = status_path(data_dir);
    // The one file writer (queue-db/private_file.hpp): an unpredictable temporary name
    // created exclusively (the old "<path>.tmp.<pid>" could be planted, as a symlink too,
    // and was opened with O_TRUNC), fsync'ed, renamed into place. 0640: edgectl reads it
    // as the server's user or group.
    if (auto ec = queue::write_file_atomically(path, serialize_snapshot(snapshot), 0640))
        throw std::system_error(ec, "cannot write " + path);
}

std::optional<Snapshot> read_status_file(const std::string& data_dir) {
    // The file is a few hundred bytes; anything much larger is not ours.
    constexpr std::size_t kLimit = 64 * 1024;
    int fd = ::open(status_path(data_dir).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::string text;
    char buf[4096];
    while (true) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 || text.size() + static_cast<std::size_t>(n) > kLimit) {
            ::close(fd);
            return std::nullopt;
        }
        if (n == 0) break;
        text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return parse_snapshot(text);
}

// --- the status socket -------------------------------------------------------------------

std::string status_socket_name(const std::string& data_dir) { return queue::server_socket_name(data_dir, "status"); }

std::optional<Snapshot> read_status_socket(const std::string& data_dir, int server_pid, std::string* why) {
    // The snapshot is about 1 KB; anything much larger is not ours.
    auto text = queue::read_server_socket(status_socket_name(data_dir), server_pid, std::chrono::seconds(2), 64 * 1024, why);
    if (!text) return std::nullopt;
    auto fail = [&](std::string reason) -> std::optional<Snapshot> {
        if (why) *why = std::move(reason);
        return std::nullopt;
    };
    if (text->empty()) return fail("it closed without an answer: it answers root and its own user only");
    auto snap = parse_snapshot(*text);
    if (!snap) return fail("it sent a damaged snapshot");
    return snap;
}

}  // namespace edge::backpressure
