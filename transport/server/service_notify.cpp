// ServiceNotifier: sd_notify(3) through Debian's libsystemd (service_notify.hpp).
#include "service_notify.hpp"

#include <systemd/sd-daemon.h>

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <ctime>

namespace edge::server {

ServiceNotifier::ServiceNotifier(std::function<void(const std::string&)> say) : say_(std::move(say)) {
    const char* socket = std::getenv("NOTIFY_SOCKET");
    enabled_ = socket != nullptr && *socket != '\0';
    std::uint64_t usec = 0;
    // > 0: WATCHDOG_USEC is set (and WATCHDOG_PID, if set, names us).
    if (enabled_ && sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
        watchdog_interval_ = std::chrono::microseconds(usec / 2);
}

void ServiceNotifier::send(const std::string& state) {
    if (!enabled_) return;
    // The environment stays (unset_environment 0): the watchdog's WATCHDOG_PID check and
    // later notifications read it.
    const int r = sd_notify(0, state.c_str());
    if (r < 0 && !failed_) {
        failed_ = true;
        if (say_) say_(fmt::format("systemd notification failed ({}): {}", state.substr(0, state.find('\n')), std::strerror(-r)));
    }
}

void ServiceNotifier::ready() { send("READY=1"); }

void ServiceNotifier::reloading() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    const auto usec = static_cast<std::uint64_t>(ts.tv_sec) * 1000000u + static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
    send(fmt::format("RELOADING=1\nMONOTONIC_USEC={}", usec));
}

void ServiceNotifier::stopping() { send("STOPPING=1"); }

void ServiceNotifier::watchdog() { send("WATCHDOG=1"); }

void ServiceNotifier::status(std::string_view text) {
    if (!enabled_ || text == last_status_) return;
    last_status_ = std::string(text);
    send("STATUS=" + last_status_);
}

}  // namespace edge::server
