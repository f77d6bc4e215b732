// The CSV log writer: the in-memory buffer on the callers' side; files, rotation and
// the directory sweep on the flusher thread's side. The two meet only under `mu`,
// and only to swap buffers.
#include "csv_log.hpp"
#include "registry.hpp"
#include "text_helpers.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <tuple>
#include <vector>

namespace edge::logging {

namespace {

constexpr auto kSweepEvery = std::chrono::hours(1);

// The yield switch (see the header): set by the server's monitor, read by every log.
constexpr std::uint64_t kNoVolume = ~std::uint64_t{0};
std::atomic<std::uint64_t> g_paused_volume{kNoVolume};  // kNoVolume: no pause
std::atomic<std::uint64_t> g_dropped_while_paused{0};

// yyyy-mm-ddThh:mm:ss.fffZ (24 characters for years 0000-9999), formatted on the
// stack: it is taken under the buffer's lock.
class Timestamp {
public:
    explicit Timestamp(std::chrono::system_clock::time_point tp) {
        using namespace std::chrono;
        auto ms = floor<milliseconds>(tp);
        auto day = floor<days>(ms);
        year_month_day ymd{day};
        hh_mm_ss hms{ms - day};
        auto r = fmt::format_to_n(text_, sizeof text_, "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                                  static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                                  static_cast<unsigned>(ymd.day()), hms.hours().count(), hms.minutes().count(),
                                  hms.seconds().count(), hms.subseconds().count());
        size_ = std::min(r.size, sizeof text_);
    }
    std::string_view view() const { return {text_, size_}; }
    std::string_view day() const { return view().substr(0, 10); }  // yyyy-mm-dd

private:
    char text_[40];
    std::size_t size_;
};

// Header values come from configuration, not peers, but still may not split a line.
CsvLogFormat without_line_breaks(CsvLogFormat f) {
    for (std::string* s : {&f.file_prefix, &f.log_type, &f.fields, &f.version}) {
        std::replace(s->begin(), s->end(), '\r', ' ');
        std::replace(s->begin(), s->end(), '\n', ' ');
    }
    return f;
}

// One of our files: PREFIX + yyyymmdd + '-' + N + ".LOG".
struct LogFileName {
    std::uint32_t date = 0;  // yyyymmdd as a number
    std::uint64_t instance = 0;
};

std::optional<LogFileName> parse_file_name(std::string_view name, std::string_view prefix) {
    if (name.size() < prefix.size() + 8 + 1 + 1 + 4 || name.substr(0, prefix.size()) != prefix) return std::nullopt;
    name.remove_prefix(prefix.size());
    if (name.substr(name.size() - 4) != ".LOG") return std::nullopt;
    name.remove_suffix(4);
    LogFileName out;
    for (std::size_t i = 0; i < 8; ++i) {
        if (name[i] < '0' || name[i] > '9') return std::nullopt;
        out.date = out.date * 10 + static_cast<std::uint32_t>(name[i] - '0');
    }
    if (name[8] != '-') return std::nullopt;
    std::string_view n = name.substr(9);
    if (n.empty() || n.size() > 9) return std::nullopt;
    for (char c : n) {
        if (c < '0' || c > '9') return std::nullopt;
        out.instance = out.instance * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return out;
}

bool write_all(int fd, const char* p, std::size_t n) {
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        metrics::process_counters().log_bytes.add(static_cast<std::uint64_t>(w));  // issue 21: what the logs cost the disk
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

}  // namespace

struct CsvLog::Impl {
    Impl(CsvLogFormat f, CsvLogLimits l, std::chrono::milliseconds interval, std::size_t cap, CsvLogClock c)
        : format(without_line_breaks(std::move(f))),
          flush_interval(std::max(interval, std::chrono::milliseconds(1))),
          buffer_cap(std::max<std::size_t>(cap, 1)),
          clock(c ? std::move(c) : CsvLogClock([] { return std::chrono::system_clock::now(); })),
          limits(std::move(l)) {}

    // --- fixed at construction ---
    const CsvLogFormat format;
    const std::chrono::milliseconds flush_interval;
    const std::size_t buffer_cap;
    const CsvLogClock clock;

    // --- shared, under mu ---
    mutable std::mutex mu;
    std::condition_variable wake;      // the flusher waits here
    std::condition_variable flushed;   // flush() waits here
    std::string buffer;                // complete lines, oldest first
    std::size_t in_flight = 0;         // bytes the flusher took and has not finished with
    std::uint64_t unreported_drops = 0;
    std::uint64_t flush_requested = 0, flush_taken = 0, flush_done = 0;
    bool stop = false;
    bool backoff = false;              // the last attempt failed: wait for the tick, not the cap
    std::optional<CsvLogLimits> new_limits;
    std::string current_path;          // copy for current_file()

    std::atomic<std::uint64_t> dropped{0};
    std::atomic<std::uint64_t> errors{0};
    std::atomic<std::uint64_t> volume{kNoVolume};  // of the directory lines go to (volume_of)
    bool yielding() const {
        const std::uint64_t v = volume.load(std::memory_order_relaxed);
        return v != kNoVolume && v == g_paused_volume.load(std::memory_order_acquire);
    }

    // --- the flusher's own ---
    CsvLogLimits limits;
    int fd = -1;
    std::string path;              // of fd
    std::string file_name;         // path's last component, for the sweep
    std::string file_day;          // yyyy-mm-dd of fd's creation (UTC)
    std::uint64_t file_size = 0;   // bytes in fd, always at a line boundary
    bool file_has_lines = false;
    std::chrono::steady_clock::time_point last_sweep{};
    std::string batch;             // what the flusher took; its capacity is reused

    std::thread flusher;  // last: starts after everything above exists

    void append_drop_notice_locked();
    void run();
    void write_out(std::string& data);
    bool open_file(std::string_view day);
    void close_file();
    void sweep();
    void set_current_path(const std::string& p) {
        std::lock_guard l(mu);
        current_path = p;
    }
};

void CsvLog::Impl::append_drop_notice_locked() {
    if (unreported_drops == 0) return;
    if (format.drop_notice) {
        buffer += Timestamp(clock()).view();
        buffer += format.drop_notice(unreported_drops);
    }
    unreported_drops = 0;
}

void CsvLog::Impl::run() {
    using steady = std::chrono::steady_clock;
    sweep();  // at open: old files go even if this log never writes a line
    auto next_tick = steady::now() + flush_interval;
    std::unique_lock l(mu);
    for (;;) {
        wake.wait_until(l, next_tick, [&] {
            return stop || flush_requested != flush_taken || (!backoff && buffer.size() >= buffer_cap);
        });
        if (steady::now() >= next_tick) {
            next_tick = steady::now() + flush_interval;
            backoff = false;
        }
        if (!yielding()) append_drop_notice_locked();  // writing resumes: say what was lost first
        batch.clear();
        batch.swap(buffer);
        in_flight = batch.size();
        const std::uint64_t serving = flush_requested;
        flush_taken = serving;
        const bool stopping = stop;
        std::optional<CsvLogLimits> changed = std::move(new_limits);
        new_limits.reset();
        l.unlock();

        bool sweep_now = steady::now() - last_sweep >= kSweepEvery;
        if (changed) {
            if (changed->directory != limits.directory) close_file();
            limits = std::move(*changed);
            sweep_now = true;
        }
        if (!batch.empty()) write_out(batch);
        if (sweep_now) sweep();

        l.lock();
        in_flight = 0;
        // What was not written stays, oldest first; until the next tick the cap no
        // longer wakes us, so a stuck disk is retried once per interval, not in a loop.
        backoff = !batch.empty();
        if (backoff) {
            batch.append(buffer);
            buffer.swap(batch);
        }
        flush_done = serving;
        flushed.notify_all();
        if (stopping) break;
    }
    l.unlock();
    close_file();
}

// Writes `data` (complete lines) to the current file, rotating by UTC day and size.
// On return `data` holds what could not be written.
void CsvLog::Impl::write_out(std::string& data) {
    if (fd >= 0) {
        struct stat st{};
        if (::fstat(fd, &st) != 0 || st.st_nlink == 0) close_file();  // deleted under us (or its directory)
    }
    std::size_t pos = 0;
    while (pos < data.size()) {
        const std::string_view line_day = std::string_view(data).substr(pos, 10);
        if (fd >= 0 && line_day > file_day) close_file();  // a new UTC day starts a new file
        if (fd < 0 && !open_file(line_day)) break;
        std::size_t end = pos;
        while (end < data.size()) {
            std::size_t nl = data.find('\n', end);
            std::size_t line_end = nl == std::string::npos ? data.size() : nl + 1;
            if (std::string_view(data).substr(end, 10) > file_day) break;
            const bool first_line = !file_has_lines && end == pos;
            if (limits.max_file_size != 0 && !first_line && file_size + (line_end - pos) > limits.max_file_size) break;
            end = line_end;
        }
        if (end == pos) {  // the next line belongs in a new file
            close_file();
            continue;
        }
        if (!write_all(fd, data.data() + pos, end - pos)) {
            ++errors;
            // Cut a partial batch off so the retry (perhaps in another file) starts at a line.
            if (::ftruncate(fd, static_cast<off_t>(file_size)) != 0) close_file();
            break;
        }
        file_size += end - pos;
        file_has_lines = true;
        pos = end;
    }
    data.erase(0, pos);
}

// Opens the next instance of today (UTC, by the clock) and writes the header.
bool CsvLog::Impl::open_file(std::string_view first_line_day) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(limits.directory, ec);  // also recreates a removed directory
    if (ec) {
        ++errors;
        return false;
    }
    const auto now = clock();
    const Timestamp created(now);
    // Named for its creation day (UTC). Lines wait at most a flush interval, so just
    // after midnight yesterday's last lines may open today's file; a line later than
    // now (the clock stepped back) names the file itself so days never go back.
    const std::string day(std::max(first_line_day, created.day()));
    std::string compact = day.substr(0, 4) + day.substr(5, 2) + day.substr(8, 2);
    const std::string_view prefix = format.file_prefix;

    std::uint64_t highest = 0;
    for (fs::directory_iterator it(limits.directory, ec), last; !ec && it != last; it.increment(ec)) {
        auto name = parse_file_name(it->path().filename().native(), prefix);
        if (name && fmt::format("{:08}", name->date) == compact) highest = std::max(highest, name->instance);
    }
    if (ec) {
        ++errors;
        return false;
    }
    for (std::uint64_t n = highest + 1; n < highest + 100; ++n) {
        std::string p = (fs::path(limits.directory) / fmt::format("{}{}-{}.LOG", prefix, compact, n)).native();
        int f = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0640);
        if (f < 0 && errno == EEXIST) continue;  // another writer took it
        if (f < 0) break;
        std::string header = fmt::format("#Software: edge-transport\n#Version: {}\n#Log-type: {}\n#Date: {}\n#Fields: {}\n",
                                         format.version, format.log_type, created.view(), format.fields);
        if (!write_all(f, header.data(), header.size())) {
            ::close(f);
            ::unlink(p.c_str());
            break;
        }
        fd = f;
        path = std::move(p);
        file_name = fs::path(path).filename().native();
        file_day = day;
        file_size = header.size();
        file_has_lines = false;
        set_current_path(path);
        sweep();  // at each open and rotation
        return true;
    }
    ++errors;
    return false;
}

void CsvLog::Impl::close_file() {
    if (fd < 0) return;
    ::close(fd);
    fd = -1;
    path.clear();
    file_name.clear();
    set_current_path({});
}

// Deletes our files older than MaxAge, then the oldest ones while the directory
// holds more than MaxDirectorySize. Never the current file; never another name.
void CsvLog::Impl::sweep() {
    namespace fs = std::filesystem;
    last_sweep = std::chrono::steady_clock::now();
    if (limits.max_age.count() == 0 && limits.max_directory_size == 0) return;
    struct Entry {
        LogFileName name;
        std::string path, file_name;
        std::uint64_t size;
        std::chrono::system_clock::time_point mtime;
    };
    std::vector<Entry> files;
    std::error_code ec;
    for (fs::directory_iterator it(limits.directory, ec), last; !ec && it != last; it.increment(ec)) {
        auto name = parse_file_name(it->path().filename().native(), format.file_prefix);
        if (!name) continue;
        struct stat st{};
        if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        auto mtime = std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
        files.push_back({*name, it->path().native(), it->path().filename().native(), static_cast<std::uint64_t>(st.st_size), mtime});
    }
    if (limits.max_age.count() != 0) {
        const auto oldest_kept = clock() - limits.max_age;
        std::erase_if(files, [&](const Entry& e) {
            if (e.file_name == file_name || e.mtime >= oldest_kept) return false;
            return ::unlink(e.path.c_str()) == 0 || errno == ENOENT;
        });
    }
    if (limits.max_directory_size != 0) {
        std::sort(files.begin(), files.end(), [](const Entry& a, const Entry& b) {
            return std::tie(a.name.date, a.name.instance) < std::tie(b.name.date, b.name.instance);
        });
        std::uint64_t total = 0;
        for (const auto& e : files) total += e.size;
        for (const auto& e : files) {
            if (total <= limits.max_directory_size) break;
            if (e.file_name == file_name) continue;
            if (::unlink(e.path.c_str()) == 0 || errno == ENOENT) total -= e.size;
        }
    }
}

CsvLog::CsvLog(CsvLogFormat format, CsvLogLimits limits, std::chrono::milliseconds flush_interval,
               std::size_t buffer_cap, CsvLogClock clock)
    : impl_(std::make_unique<Impl>(std::move(format), std::move(limits), flush_interval, buffer_cap,
                                   std::move(clock))) {
    impl_->volume = volume_of(impl_->limits.directory).value_or(kNoVolume);
    impl_->flusher = std::thread([impl = impl_.get()] { impl->run(); });
}

CsvLog::~CsvLog() {
    {
        std::lock_guard l(impl_->mu);
        impl_->stop = true;
    }
    impl_->wake.notify_one();
    impl_->flusher.join();
}

void CsvLog::set_limits(CsvLogLimits limits) {
    impl_->volume = volume_of(limits.directory).value_or(kNoVolume);
    std::lock_guard l(impl_->mu);
    impl_->new_limits = std::move(limits);
}

void CsvLog::append(std::string_view rest) {
    Impl& s = *impl_;
    std::lock_guard l(s.mu);
    if (s.yielding()) {
        // Back pressure on the queue volume: the queue's space comes first.
        ++s.dropped;
        ++s.unreported_drops;
        ++g_dropped_while_paused;
        return;
    }
    // The timestamp is taken under the lock so times never go back within a file.
    const Timestamp ts(s.clock());
    if (s.buffer.size() + s.in_flight + ts.view().size() + rest.size() > 2 * s.buffer_cap) {
        ++s.dropped;
        ++s.unreported_drops;
        return;
    }
    const std::size_t before = s.buffer.size();
    s.append_drop_notice_locked();
    s.buffer += ts.view();
    s.buffer += rest;
    if (before < s.buffer_cap && s.buffer.size() >= s.buffer_cap) s.wake.notify_one();
}

void CsvLog::flush() {
    Impl& s = *impl_;
    std::unique_lock l(s.mu);
    const std::uint64_t mine = ++s.flush_requested;
    s.wake.notify_one();
    s.flushed.wait(l, [&] { return s.flush_done >= mine; });
}

void pause_logs_on_volume(std::uint64_t device) { g_paused_volume.store(device, std::memory_order_release); }
void resume_logs() { g_paused_volume.store(kNoVolume, std::memory_order_release); }
bool logs_paused() { return g_paused_volume.load(std::memory_order_acquire) != kNoVolume; }
std::uint64_t lines_dropped_while_paused() { return g_dropped_while_paused.load(); }

std::optional<std::uint64_t> volume_of(const std::string& path) {
    std::error_code ec;
    std::filesystem::path p = std::filesystem::absolute(path, ec);
    if (ec || path.empty()) return std::nullopt;
    while (true) {
        struct stat st {};
        if (::stat(p.c_str(), &st) == 0) return static_cast<std::uint64_t>(st.st_dev);
        if (!p.has_parent_path() || p.parent_path() == p) return std::nullopt;
        p = p.parent_path();
    }
}

std::uint64_t CsvLog::dropped_lines() const { return impl_->dropped.load(); }
std::uint64_t CsvLog::write_errors() const { return impl_->errors.load(); }
std::string CsvLog::current_file() const {
    std::lock_guard l(impl_->mu);
    return impl_->current_path;
}


namespace {

constexpr char kHex[] = "0123456789ABCDEF";

void append_hex_byte(std::string& out, unsigned char c) {
    out += '\\';
    out += 'x';
    out += kHex[c >> 4];
    out += kHex[c & 15];
}

int hex_value(char c) { return text::hex_digit_value(c); }

// The one escape loop. `reversible`: a backslash is doubled (logs); otherwise it
// stays single (terminal display). Runs of plain bytes are copied in one append.
void escape_into(std::string& out, std::string_view text, std::string_view also, bool reversible) {
    std::size_t i = 0, plain = 0;
    auto flush_plain = [&] {
        out.append(text.substr(plain, i - plain));
    };
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            const bool control = c < 0x20 || c == 0x7F;
            const bool listed = !also.empty() && also.find(static_cast<char>(c)) != std::string_view::npos;
            if (control || listed || (reversible && c == '\\')) {
                flush_plain();
                if (control || listed)
                    append_hex_byte(out, c);
                else
                    out += "\\\\";
                plain = ++i;
            } else {
                ++i;
            }
            continue;
        }
        const text::Utf8Step step = text::next_utf8(text.substr(i));
        // C1 controls (U+0080..U+009F: C2 80..C2 9F) act on terminals as ESC does
        // (U+009B is CSI), so they are escaped like invalid bytes.
        const bool c1 = step.valid && step.size == 2 && c == 0xC2 && static_cast<unsigned char>(text[i + 1]) < 0xA0;
        if (!step.valid || c1) {
            flush_plain();
            for (std::size_t k = 0; k < step.size; ++k) append_hex_byte(out, static_cast<unsigned char>(text[i + k]));
            plain = i += step.size;
        } else {
            i += step.size;
        }
    }
    flush_plain();
}

// OWASP (CSV injection): a cell starting with = + - @ (or TAB/CR, which the escape
// has already turned into "\x09"/"\x0D") is a formula to a spreadsheet; a leading '
// makes it text. A cell starting with ' gets one too, so a reader can always take
// exactly one away.
bool needs_formula_guard(std::string_view cell) {
    return !cell.empty() && std::string_view("=+-@'").find(cell.front()) != std::string_view::npos;
}

std::string_view without_formula_guard(std::string_view cell) {
    if (!cell.empty() && cell.front() == '\'') cell.remove_prefix(1);
    return cell;
}

// CSV quoting: a cell holding , or " (or, in a token, a line break we could not
// escape — never) is quoted, " doubled.
void append_quoted(std::string& out, std::string_view cell) {
    if (cell.find_first_of(",\"\r\n") == std::string_view::npos) {
        out.append(cell);
        return;
    }
    out += '"';
    for (char c : cell) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
}

// "250 2.1.5 …", "550-…", "421": three digits, then a space, a hyphen or the end
// (after leading spaces).
bool starts_with_reply_code(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    if (s.size() < 3) return false;
    for (std::size_t i = 0; i < 3; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
    }
    return s.size() == 3 || s[3] == ' ' || s[3] == '-';
}

}  // namespace

void append_log_escaped(std::string& out, std::string_view text, std::string_view also) {
    escape_into(out, text, also, true);
}

void append_display_escaped(std::string& out, std::string_view text) { escape_into(out, text, {}, false); }

std::string unescape_log_text(std::string_view t) {
    if (t.find('\\') == std::string_view::npos) return std::string(t);
    std::string out;
    out.reserve(t.size());
    for (std::size_t i = 0; i < t.size();) {
        if (t[i] == '\\' && i + 1 < t.size()) {
            if (t[i + 1] == '\\') {
                out += '\\';
                i += 2;
                continue;
            }
            if (t[i + 1] == 'x' && i + 3 < t.size() && hex_value(t[i + 2]) >= 0 && hex_value(t[i + 3]) >= 0) {
                out += static_cast<char>(hex_value(t[i + 2]) * 16 + hex_value(t[i + 3]));
                i += 4;
                continue;
            }
        }
        out += t[i++];
    }
    return out;
}

void append_csv_text(std::string& out, std::string_view field) {
    thread_local std::string cell;
    cell.clear();
    if (needs_formula_guard(field)) cell += '\'';  // the escape keeps these first bytes as they are
    append_log_escaped(cell, field);
    append_quoted(out, cell);
}

void append_csv_token(std::string& out, std::string_view field) {
    thread_local std::string cell;
    cell.clear();
    append_display_escaped(cell, field);
    append_quoted(out, cell);
}

void append_csv_list(std::string& out, const std::vector<std::string>& items) {
    thread_local std::string cell;
    cell.clear();
    if (!items.empty() && needs_formula_guard(items.front())) cell += '\'';
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i != 0) cell += ';';
        append_log_escaped(cell, items[i], ";");
    }
    append_quoted(out, cell);
}

void append_csv_reply_list(std::string& out, const std::vector<std::string>& replies) {
    thread_local std::string cell, item;
    cell.clear();
    if (!replies.empty() && needs_formula_guard(replies.front())) cell += '\'';
    for (std::size_t i = 0; i < replies.size(); ++i) {
        if (i != 0) cell += ';';
        item.clear();
        append_log_escaped(item, replies[i]);
        // The reader splits at a ';' followed by a reply code; checking against the
        // item alone (its end counting as the end of the text) escapes every ';' the
        // reader could take for a separator, and perhaps a few more — harmless.
        for (std::size_t k = 0; k < item.size(); ++k) {
            if (item[k] == ';' && starts_with_reply_code(std::string_view(item).substr(k + 1)))
                cell += "\\x3B";
            else
                cell += item[k];
        }
    }
    append_quoted(out, cell);
}

std::string decode_csv_text(std::string_view cell) { return unescape_log_text(without_formula_guard(cell)); }

std::vector<std::string> decode_csv_list(std::string_view cell) {
    cell = without_formula_guard(cell);
    std::vector<std::string> out;
    if (cell.empty()) return out;
    for (;;) {
        auto semi = cell.find(';');
        out.push_back(unescape_log_text(cell.substr(0, semi)));
        if (semi == std::string_view::npos) return out;
        cell.remove_prefix(semi + 1);
    }
}

std::vector<std::string> decode_csv_reply_list(std::string_view cell) {
    cell = without_formula_guard(cell);
    std::vector<std::string> out;
    if (cell.empty()) return out;
    std::size_t start = 0, from = 0;
    for (;;) {
        auto semi = cell.find(';', from);
        if (semi == std::string_view::npos) {
            out.push_back(unescape_log_text(cell.substr(start)));
            return out;
        }
        if (starts_with_reply_code(cell.substr(semi + 1))) {
            out.push_back(unescape_log_text(cell.substr(start, semi - start)));
            start = semi + 1;
        }
        from = semi + 1;
    }
}

std::optional<std::vector<std::string>> parse_csv_line(std::string_view line, std::size_t fields) {
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#' || fields == 0) return std::nullopt;
    std::vector<std::string> out;
    out.reserve(fields);
    std::size_t i = 0;
    for (;;) {
        if (out.size() == fields) return std::nullopt;  // too many fields
        std::string& f = out.emplace_back();
        if (i < line.size() && line[i] == '"') {
            ++i;
            bool closed = false;
            while (i < line.size()) {
                char c = line[i++];
                if (c == '"') {
                    if (i < line.size() && line[i] == '"') {
                        f += '"';
                        ++i;
                    } else {
                        closed = true;
                        break;
                    }
                } else if (c == '\r' || c == '\n') {
                    return std::nullopt;
                } else {
                    f += c;
                }
            }
            if (!closed || (i < line.size() && line[i] != ',')) return std::nullopt;
        } else {
            while (i < line.size() && line[i] != ',') {
                char c = line[i++];
                if (c == '"' || c == '\r' || c == '\n') return std::nullopt;
                f += c;
            }
        }
        if (i == line.size()) break;
        ++i;  // the comma
    }
    if (out.size() != fields) return std::nullopt;
    return out;
}

std::optional<std::chrono::system_clock::time_point> parse_csv_log_time(std::string_view t) {
    // yyyy-mm-ddThh:mm:ss.fffZ, 24 characters, as Timestamp writes it.
    constexpr std::string_view shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (t.size() != shape.size()) return std::nullopt;
    for (std::size_t i = 0; i < t.size(); ++i) {
        const bool digit = t[i] >= '0' && t[i] <= '9';
        if (shape[i] == 'd' ? !digit : t[i] != shape[i]) return std::nullopt;
    }
    auto num = [&](std::size_t at, std::size_t n) {
        int v = 0;
        for (std::size_t i = at; i < at + n; ++i) v = v * 10 + (t[i] - '0');
        return v;
    };
    using namespace std::chrono;
    const year_month_day ymd{year{num(0, 4)}, month{static_cast<unsigned>(num(5, 2))},
                             day{static_cast<unsigned>(num(8, 2))}};
    if (!ymd.ok() || num(11, 2) > 23 || num(14, 2) > 59 || num(17, 2) > 60) return std::nullopt;
    return sys_days{ymd} + hours{num(11, 2)} + minutes{num(14, 2)} + seconds{num(17, 2)} + milliseconds{num(20, 3)};
}

std::vector<std::string> csv_log_files(const std::string& directory, std::string_view prefix) {
    namespace fs = std::filesystem;
    std::vector<std::pair<LogFileName, std::string>> found;
    std::error_code ec;
    for (fs::directory_iterator it(directory, ec), last; !ec && it != last; it.increment(ec)) {
        auto name = parse_file_name(it->path().filename().native(), prefix);
        if (name) found.emplace_back(*name, it->path().native());
    }
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
        return std::tie(a.first.date, a.first.instance) < std::tie(b.first.date, b.first.instance);
    });
    std::vector<std::string> out;
    out.reserve(found.size());
    for (auto& f : found) out.push_back(std::move(f.second));
    return out;
}

void for_each_csv_log_line(const std::string& directory, std::string_view prefix,
                           const std::function<void(std::string_view line)>& fn) {
    for (const auto& path : csv_log_files(directory, prefix)) {
        std::ifstream in(path, std::ios::binary);
        for (std::string line; std::getline(in, line);) fn(line);
    }
}

}  // namespace edge::logging
