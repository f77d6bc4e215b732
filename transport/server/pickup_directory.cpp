// The Pickup directory watcher (pickup_directory.hpp): inotify through an Asio
// stream_descriptor, the per-minute budget, .bad renames.
#include "pickup_directory.hpp"

#include "completion.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <fmt/format.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>

namespace edge::server {

namespace {
using namespace boost::asio::experimental::awaitable_operators;
using async::use_tuple;

bool is_pickup_name(std::string_view n) {
    if (n.size() <= 4 || n.front() == '.') return false;
    std::string_view ext = n.substr(n.size() - 4);
    return ext.size() == 4 && ext[0] == '.' && (ext[1] | 0x20) == 'e' && (ext[2] | 0x20) == 'm' && (ext[3] | 0x20) == 'l';
}

// The file's bytes, at most `max` + 1 (so a larger one is known as such); nullopt with
// `why` when it cannot be read or is not a regular file (never through a symlink).
std::optional<std::string> read_pickup_file(const std::string& path, std::uint64_t max, std::string& why) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        why = std::strerror(errno);
        return std::nullopt;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        why = "not a regular file";
        return std::nullopt;
    }
    std::string out;
    out.resize(static_cast<std::size_t>(std::min<std::uint64_t>(static_cast<std::uint64_t>(st.st_size), max + 1)));
    std::size_t got = 0;
    while (got < out.size()) {
        ssize_t n = ::read(fd, out.data() + got, out.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    ::close(fd);
    out.resize(got);
    return out;
}
}  // namespace

struct PickupDirectory::Impl {
    asio::io_context& io;
    Say say;
    Submit submit;
    BadFile bad;
    MaySubmit may_submit;
    PickupSettings settings;
    bool reconfigured = false, stopping = false;
    int inotify_fd = -1;
    std::unique_ptr<asio::posix::stream_descriptor> events;
    std::string watched;                  // the directory the watch is on
    std::deque<std::string> ready;        // finished files, in the order we learnt of them
    std::set<std::string> ready_names;    // the same, to take each once
    std::chrono::steady_clock::time_point window_start{};
    std::uint64_t taken_in_window = 0;
    asio::steady_timer wake;
    bool watch_failed_said = false;

    Impl(asio::io_context& i, Say s, Submit sub, BadFile b, MaySubmit m)
        : io(i), say(std::move(s)), submit(std::move(sub)), bad(std::move(b)), may_submit(std::move(m)), wake(i) {}

    void add_ready(const std::string& name) {
        if (is_pickup_name(name) && ready_names.insert(name).second) ready.push_back(name);
    }

    void close_watch() {
        boost::system::error_code ec;
        if (events) events->close(ec);  // closes the inotify descriptor
        events.reset();
        inotify_fd = -1;
        watched.clear();
    }

    // Watches settings.directory (made, 0750, when missing) and takes the files in it.
    bool open_watch() {
        close_watch();
        ready.clear();
        ready_names.clear();
        const std::string& dir = settings.directory;
        if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
            if (!watch_failed_said) say(fmt::format("Pickup directory {}: cannot create it: {}", dir, std::strerror(errno)));
            watch_failed_said = true;
            return false;
        }
        int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (fd < 0 || ::inotify_add_watch(fd, dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF |
                                                             IN_ONLYDIR | IN_DONT_FOLLOW) < 0) {
            if (!watch_failed_said) say(fmt::format("Pickup directory {}: cannot watch it: {}", dir, std::strerror(errno)));
            watch_failed_said = true;
            if (fd >= 0) ::close(fd);
            return false;
        }
        watch_failed_said = false;
        inotify_fd = fd;
        events = std::make_unique<asio::posix::stream_descriptor>(io, fd);
        watched = dir;
        // Files written while nobody watched: taken as finished, oldest name first.
        std::set<std::string> present;
        if (DIR* d = ::opendir(dir.c_str())) {
            while (dirent* e = ::readdir(d)) present.insert(e->d_name);
            ::closedir(d);
        }
        for (const auto& n : present) add_ready(n);
        say(fmt::format("Pickup directory {}: watching ({} file(s) waiting)", dir, ready.size()));
        return true;
    }

    // inotify records: IN_CLOSE_WRITE / IN_MOVED_TO name a finished file; the directory
    // itself removed or moved ends the watch (it is made again at the next look).
    void take_events(const char* buf, std::size_t n) {
        std::size_t at = 0;
        while (at + sizeof(inotify_event) <= n) {
            inotify_event ev{};
            std::memcpy(&ev, buf + at, sizeof ev);
            const std::size_t rec = sizeof(inotify_event) + ev.len;
            if (at + rec > n) break;
            std::string name;
            if (ev.len > 0) name.assign(buf + at + sizeof(inotify_event), ::strnlen(buf + at + sizeof(inotify_event), ev.len));
            if ((ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) != 0) {
                reconfigured = true;  // the directory went away: watch it again
            } else if ((ev.mask & IN_Q_OVERFLOW) != 0) {
                // Events lost: what is there now is finished or will announce itself.
                reconfigured = true;
            } else if ((ev.mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) != 0 && !(ev.mask & IN_ISDIR)) {
                add_ready(name);
            }
            at += rec;
        }
    }

    void mark_bad(const std::string& name, const std::string& reason) {
        const std::string from = watched + "/" + name, to = from + ".bad";
        if (::rename(from.c_str(), to.c_str()) != 0) {
            say(fmt::format("Pickup directory: {} is bad ({}) and cannot be renamed: {}", from, reason, std::strerror(errno)));
            ::unlink(from.c_str());  // never taken again and again
        } else {
            say(fmt::format("Pickup directory: {} renamed {}.bad: {}", from, name, reason));
        }
        bad(name, reason);
    }

    // One file: read, parse, submit; deleted when queued, .bad when it cannot be.
    // False when it must wait (back pressure, no room): it stays first in line.
    asio::awaitable<bool> take(const std::string& name) {
        const std::string path = watched + "/" + name;
        std::string why;
        auto bytes = read_pickup_file(path, settings.limits.max_size, why);
        if (!bytes) {
            if (why != std::strerror(ENOENT)) mark_bad(name, "cannot read it: " + why);
            co_return true;  // gone meanwhile: nothing to do
        }
        PickupParse parsed = parse_pickup_file(*bytes, settings.limits);
        if (!parsed.message) {
            mark_bad(name, parsed.error);
            co_return true;
        }
        PickupSubmitted r = co_await submit(std::move(*parsed.message), name);
        if (r.result == PickupSubmitted::Result::TryLater) co_return false;
        if (r.result == PickupSubmitted::Result::Bad) {
            mark_bad(name, r.reason);
            co_return true;
        }
        if (::unlink(path.c_str()) != 0 && errno != ENOENT)
            say(fmt::format("Pickup directory: {} was queued but cannot be deleted: {}", path, std::strerror(errno)));
        co_return true;
    }

    // Takes what the minute's budget allows. Returns when to look again (nullopt: at the
    // next event).
    asio::awaitable<std::optional<std::chrono::steady_clock::time_point>> take_ready() {
        using namespace std::chrono_literals;
        while (!ready.empty() && !stopping && !reconfigured) {
            const auto now = std::chrono::steady_clock::now();
            if (now - window_start >= 60s) {
                window_start = now;
                taken_in_window = 0;
            }
            if (taken_in_window >= settings.max_messages_per_minute) co_return window_start + 60s;
            if (may_submit && !may_submit()) co_return now + 2s;  // back pressure: the files wait
            const std::string name = ready.front();
            const bool done = co_await take(name);
            if (!done) co_return std::chrono::steady_clock::now() + 2s;
            ready.pop_front();
            ready_names.erase(name);
            ++taken_in_window;
        }
        co_return std::nullopt;
    }
};

PickupDirectory::PickupDirectory(asio::io_context& io, Say say, Submit submit, BadFile bad, MaySubmit may_submit)
    : impl_(std::make_unique<Impl>(io, std::move(say), std::move(submit), std::move(bad), std::move(may_submit))) {}

PickupDirectory::~PickupDirectory() { impl_->close_watch(); }

void PickupDirectory::configure(PickupSettings settings) {
    Impl& d = *impl_;
    if (settings == d.settings) return;
    const bool moved = settings.directory != d.settings.directory;
    d.settings = std::move(settings);
    if (moved) {
        d.reconfigured = true;
        d.wake.cancel();
        boost::system::error_code ec;
        if (d.events) d.events->cancel(ec);
    }
}

void PickupDirectory::stop() {
    Impl& d = *impl_;
    d.stopping = true;
    d.wake.cancel();
    boost::system::error_code ec;
    if (d.events) d.events->cancel(ec);
}

asio::awaitable<void> PickupDirectory::run() {
    using namespace std::chrono_literals;
    Impl& d = *impl_;
    std::array<char, 16 * 1024> buf{};
    d.reconfigured = true;
    while (!d.stopping) {
        if (d.reconfigured || !d.events) {
            d.reconfigured = false;
            if (!d.open_watch()) {
                // Not there and not makeable (yet): look again in a while.
                d.wake.expires_after(10s);
                co_await d.wake.async_wait(use_tuple);
                d.reconfigured = true;
                continue;
            }
        }
        auto again = co_await d.take_ready();
        if (d.stopping) break;
        if (d.reconfigured) continue;
        d.wake.expires_at(again.value_or(std::chrono::steady_clock::now() + 24h));
        auto r = co_await (d.events->async_read_some(asio::buffer(buf), use_tuple) || d.wake.async_wait(use_tuple));
        if (r.index() == 0) {
            auto [ec, n] = std::get<0>(r);
            if (ec == asio::error::operation_aborted) continue;
            if (ec) {
                d.say(fmt::format("Pickup directory {}: reading its events failed: {}", d.watched, ec.message()));
                d.reconfigured = true;
                continue;
            }
            d.take_events(buf.data(), n);
        }
    }
    d.close_watch();
}

}  // namespace edge::server
