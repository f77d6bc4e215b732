// systemd's service notification protocol (sd_notify(3), Debian's libsystemd) for a
// Type=notify unit: READY=1 once we serve, STATUS= lines for `systemctl status`,
// RELOADING=1 … READY=1 around a reload, STOPPING=1, and WATCHDOG=1 keep-alives when the
// unit sets WatchdogSec=. Every call is a no-op when NOTIFY_SOCKET is unset (started by
// hand, by the tests, by another supervisor). Shared by edge-transport and edgesync.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace edge::server {

class ServiceNotifier {
public:
    // Reads NOTIFY_SOCKET and WATCHDOG_USEC (WATCHDOG_PID, when set, must be ours) once.
    // `say` hears the first failure to notify (then no more: a manager that went away
    // is not news every second).
    explicit ServiceNotifier(std::function<void(const std::string&)> say = {});

    bool enabled() const { return enabled_; }
    // Half of WATCHDOG_USEC, as sd_watchdog_enabled(3) advises; nullopt without a watchdog.
    std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_interval_; }

    void ready();
    // RELOADING=1 with MONOTONIC_USEC= (systemd 253's Type=notify-reload wants it; older
    // managers ignore it). Follow with ready().
    void reloading();
    void stopping();
    void watchdog();
    // STATUS=<text>, sent only when it differs from the last one sent.
    void status(std::string_view text);

private:
    void send(const std::string& state);

    std::function<void(const std::string&)> say_;
    bool enabled_ = false;
    bool failed_ = false;
    std::optional<std::chrono::microseconds> watchdog_interval_;
    std::string last_status_;
};

}  // namespace edge::server
