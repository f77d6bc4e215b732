// The connectivity log: an outbound connection event becomes one CONNECTLOG line; the
// files, the buffer and the flusher are CsvLog's (csv_log.cpp).
#include "connectivity_log.hpp"

#include "protocol_log.hpp"  // new_session_id()

#include <fmt/format.h>

#include <atomic>

namespace edge::logging {

namespace {

CsvLogFormat connectivity_format(std::string version) {
    CsvLogFormat f;
    f.file_prefix = "CONNECTLOG";  // Exchange's CONNECTLOGyyyymmdd-N.LOG
    f.log_type = "Transport Connectivity Log";
    f.fields = std::string(kConnectivityFields);
    f.version = std::move(version);
    f.drop_notice = [](std::uint64_t n) { return fmt::format(",,ConnectivityLog,,*,{} connectivity log lines dropped\n", n); };
    return f;
}

}  // namespace

struct ConnectivityLog::Impl {
    Impl(const ConnectivityLogSettings& s, std::string version, std::chrono::milliseconds interval, std::size_t cap,
         CsvLogClock clock)
        : enabled(s.enabled), log(connectivity_format(std::move(version)), s.limits, interval, cap, std::move(clock)) {}
    std::atomic<bool> enabled;
    CsvLog log;
};

ConnectivityLog::ConnectivityLog(ConnectivityLogSettings settings, std::string version,
                                 std::chrono::milliseconds flush_interval, std::size_t buffer_cap, CsvLogClock clock)
    : impl_(std::make_unique<Impl>(settings, std::move(version), flush_interval, buffer_cap, std::move(clock))) {}

ConnectivityLog::~ConnectivityLog() = default;

void ConnectivityLog::set_settings(ConnectivityLogSettings settings) {
    impl_->enabled = settings.enabled;
    impl_->log.set_limits(std::move(settings.limits));
}

bool ConnectivityLog::enabled() const { return impl_->enabled; }

void ConnectivityLog::write(std::string_view session, std::string_view source, std::string_view destination,
                            ConnectivityDirection direction, std::string_view description) {
    if (!impl_->enabled) return;
    thread_local std::string rest;
    rest.clear();
    rest += ',';
    append_csv_token(rest, session);
    rest += ',';
    append_csv_token(rest, source);
    rest += ',';
    append_csv_text(rest, destination);
    rest += ',';
    rest += static_cast<char>(direction);
    rest += ',';
    append_csv_text(rest, description);
    rest += '\n';
    impl_->log.append(rest);
}

void ConnectivityLog::flush() { impl_->log.flush(); }

std::string ConnectivityLog::current_file() const { return impl_->log.current_file(); }

ConnectivityLogSession::ConnectivityLogSession(ConnectivityLog* log, std::string destination)
    : log_(log != nullptr && log->enabled() ? log : nullptr), destination_(std::move(destination)) {
    if (log_ != nullptr) session_ = new_session_id();
}

void ConnectivityLogSession::log(ConnectivityDirection direction, std::string_view description) const {
    if (log_ != nullptr) log_->write(session_, "SMTP", destination_, direction, description);
}

std::optional<std::array<std::string, 6>> parse_connectivity_line(std::string_view line) {
    auto f = parse_csv_line(line, 6);
    if (!f) return std::nullopt;
    std::array<std::string, 6> out;
    for (std::size_t i = 0; i < 6; ++i) out[i] = std::move((*f)[i]);
    out[3] = decode_csv_text(out[3]);
    out[5] = decode_csv_text(out[5]);
    return out;
}

}  // namespace edge::logging
