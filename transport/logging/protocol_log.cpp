// The protocol log: one line per SMTP event, in the SmtpReceive/SmtpSend format. The
// files, the buffer and the flusher are CsvLog's (csv_log.cpp).
#include "protocol_log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <iterator>

namespace edge::logging {

namespace {

CsvLogFormat protocol_log_format(ProtocolLogKind kind, std::string version) {
    CsvLogFormat f;
    f.file_prefix = kind == ProtocolLogKind::SmtpReceive ? "RECV" : "SEND";
    f.log_type = kind == ProtocolLogKind::SmtpReceive ? "SMTP Receive Protocol Log" : "SMTP Send Protocol Log";
    f.fields = "date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context";
    f.version = std::move(version);
    // Empty connector, session and sequence: an Information line of the log itself.
    f.drop_notice = [](std::uint64_t n) { return fmt::format(",,,,,,*,{} protocol log lines dropped,ProtocolLog\n", n); };
    return f;
}

}  // namespace

ProtocolLog::ProtocolLog(ProtocolLogKind kind, ProtocolLogLimits limits, std::string version,
                         std::chrono::milliseconds flush_interval, std::size_t buffer_cap, ProtocolLogClock clock)
    : log_(protocol_log_format(kind, std::move(version)), std::move(limits), flush_interval, buffer_cap,
           std::move(clock)) {}

ProtocolLog::~ProtocolLog() = default;

void ProtocolLog::set_limits(ProtocolLogLimits limits) { log_.set_limits(std::move(limits)); }

void ProtocolLog::write(std::string_view connector_id, std::string_view session_id, std::uint64_t sequence,
                        std::string_view local_endpoint, std::string_view remote_endpoint, LogEvent event,
                        std::string_view data, std::string_view context) {
    // Everything after the timestamp is built outside the lock; the buffer keeps
    // its capacity between threads' calls, so this is usually allocation-free too.
    thread_local std::string rest;
    rest.clear();
    // Ours (tokens): HOST\connector as Exchange writes it, our session id, the
    // endpoints we formatted, the event character. A peer's (text): data and context
    // (commands, replies, host names from DNS), escaped and guarded against formulas.
    rest += ',';
    append_csv_token(rest, connector_id);
    rest += ',';
    append_csv_token(rest, session_id);
    rest += ',';
    fmt::format_to(std::back_inserter(rest), "{}", sequence);
    rest += ',';
    append_csv_token(rest, local_endpoint);
    rest += ',';
    append_csv_token(rest, remote_endpoint);
    rest += ',';
    rest += static_cast<char>(event);
    rest += ',';
    append_csv_text(rest, data);
    rest += ',';
    append_csv_text(rest, context);
    rest += '\n';
    log_.append(rest);
}

void ProtocolLog::flush() { log_.flush(); }
std::uint64_t ProtocolLog::dropped_lines() const { return log_.dropped_lines(); }
std::uint64_t ProtocolLog::write_errors() const { return log_.write_errors(); }
std::string ProtocolLog::current_file() const { return log_.current_file(); }

ProtocolLogSession::ProtocolLogSession(ProtocolLog* log, std::string connector_id, std::string session_id,
                                       std::string local_endpoint, std::string remote_endpoint)
    : log_(log),
      connector_id_(std::move(connector_id)),
      session_id_(std::move(session_id)),
      local_endpoint_(std::move(local_endpoint)),
      remote_endpoint_(std::move(remote_endpoint)) {}

void ProtocolLogSession::log(LogEvent event, std::string_view data, std::string_view context) {
    if (log_ == nullptr) return;
    log_->write(connector_id_, session_id_, sequence_++, local_endpoint_, remote_endpoint_, event, data, context);
}

std::string new_session_id() {
    // .NET ticks (100 ns since 0001-01-01), as Exchange's ids are.
    using ticks = std::chrono::duration<std::int64_t, std::ratio<1, 10'000'000>>;
    constexpr std::uint64_t kTicksTo1970 = 621'355'968'000'000'000ull;
    static std::atomic<std::uint64_t> last{0};
    const auto now = static_cast<std::uint64_t>(
                         std::chrono::duration_cast<ticks>(std::chrono::system_clock::now().time_since_epoch()).count()) +
                     kTicksTo1970;
    std::uint64_t prev = last.load();
    std::uint64_t next = 0;
    do {
        next = std::max(now, prev + 1);
    } while (!last.compare_exchange_weak(prev, next));
    return fmt::format("{:016X}", next);
}

std::optional<std::array<std::string, 9>> parse_protocol_log_line(std::string_view line) {
    auto fields = parse_csv_line(line, 9);
    if (!fields) return std::nullopt;
    std::array<std::string, 9> out;
    std::move(fields->begin(), fields->end(), out.begin());
    out[7] = decode_csv_text(out[7]);  // data and context are text cells: the bytes as sent
    out[8] = decode_csv_text(out[8]);
    return out;
}

}  // namespace edge::logging
