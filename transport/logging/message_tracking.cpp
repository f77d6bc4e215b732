// The message tracking log: an event becomes one MSGTRK line; the files, the buffer
// and the flusher are CsvLog's (csv_log.cpp). Also the reader edgectl uses.
#include "message_tracking.hpp"

#include <fmt/format.h>

#include <atomic>
#include <fstream>
#include <iterator>

namespace edge::logging {

namespace {

constexpr std::size_t kTrackingFieldCount = 21;

CsvLogFormat tracking_format(std::string version) {
    CsvLogFormat f;
    f.file_prefix = "MSGTRK";
    f.log_type = "Message Tracking Log";
    f.fields = std::string(kTrackingFields);
    f.version = std::move(version);
    // After date-time: source-context (5th field) says how many, source and event-id
    // (7th, 8th) name the log itself, the numbers (9th, 13th, 14th) are 0.
    f.drop_notice = [](std::uint64_t n) {
        return fmt::format(",,,,,{} message tracking lines dropped,,MessageTrackingLog,DROPPED,0,,,,0,0,,,,,,\n", n);
    };
    return f;
}

CsvLogLimits limits_of(const MessageTrackingSettings& s) {
    CsvLogLimits l;
    l.directory = s.directory;
    l.max_file_size = s.max_file_size;
    l.max_directory_size = s.max_directory_size;
    l.max_age = s.max_age;
    return l;
}

std::optional<std::uint64_t> parse_number(std::string_view s) {
    std::uint64_t v = 0;
    if (s.size() > 19) return std::nullopt;  // no overflow below 10^19
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return v;
}

}  // namespace

struct MessageTrackingLog::Impl {
    Impl(const MessageTrackingSettings& s, std::string version, std::chrono::milliseconds interval, std::size_t cap,
         CsvLogClock clock)
        : enabled(s.enabled),
          subject_logging(s.subject_logging_enabled),
          log(tracking_format(std::move(version)), limits_of(s), interval, cap, std::move(clock)) {}

    std::atomic<bool> enabled;
    std::atomic<bool> subject_logging;
    CsvLog log;
};

MessageTrackingLog::MessageTrackingLog(MessageTrackingSettings settings, std::string version,
                                       std::chrono::milliseconds flush_interval, std::size_t buffer_cap,
                                       CsvLogClock clock)
    : impl_(std::make_unique<Impl>(settings, std::move(version), flush_interval, buffer_cap, std::move(clock))) {}

MessageTrackingLog::~MessageTrackingLog() = default;

void MessageTrackingLog::set_settings(MessageTrackingSettings settings) {
    impl_->enabled = settings.enabled;
    impl_->subject_logging = settings.subject_logging_enabled;
    impl_->log.set_limits(limits_of(settings));
}

void MessageTrackingLog::write(const TrackingEvent& e) {
    if (!impl_->enabled) return;
    // Built outside the log's lock, in a buffer that keeps its capacity.
    thread_local std::string rest;
    rest.clear();
    // Per field (csv_log.hpp): connector-id (HOST\connector, Exchange's single
    // backslash), source and event-id are our tokens; the numbers are ours;
    // everything else may come from a peer (EHLO name, Message-ID, addresses,
    // subject, a remote server's reply, a host name from DNS) and is text.
    auto text = [&](std::string_view v) {
        rest += ',';
        append_csv_text(rest, v);
    };
    auto token = [&](std::string_view v) {
        rest += ',';
        append_csv_token(rest, v);
    };
    text(e.client_ip);
    text(e.client_hostname);
    text(e.server_ip);
    text(e.server_hostname);
    text(e.source_context);
    token(e.connector_id);
    token(e.source);
    token(e.event_id);
    fmt::format_to(std::back_inserter(rest), ",{}", e.internal_message_id);
    text(e.message_id);
    rest += ',';
    append_csv_list(rest, e.recipients);
    rest += ',';
    append_csv_reply_list(rest, e.recipient_status);
    fmt::format_to(std::back_inserter(rest), ",{},{}", e.total_bytes, e.recipients.size());
    text(e.related_recipient);
    text(e.reference);
    text(impl_->subject_logging ? std::string_view(e.subject) : std::string_view());
    text(e.sender);
    text(e.return_path);
    text(e.message_info);
    rest += '\n';
    impl_->log.append(rest);
}

void MessageTrackingLog::flush() { impl_->log.flush(); }
std::uint64_t MessageTrackingLog::dropped_lines() const { return impl_->log.dropped_lines(); }
std::uint64_t MessageTrackingLog::write_errors() const { return impl_->log.write_errors(); }
std::string MessageTrackingLog::current_file() const { return impl_->log.current_file(); }

std::optional<TrackingEvent> parse_tracking_line(std::string_view line) {
    auto f = parse_csv_line(line, kTrackingFieldCount);
    if (!f) return std::nullopt;
    auto time = parse_csv_log_time((*f)[0]);
    auto internal_id = parse_number((*f)[9]);
    auto total_bytes = parse_number((*f)[13]);
    auto recipient_count = parse_number((*f)[14]);
    if (!time || !internal_id || !total_bytes || !recipient_count) return std::nullopt;
    TrackingEvent e;
    e.time = *time;
    e.client_ip = decode_csv_text((*f)[1]);
    e.client_hostname = decode_csv_text((*f)[2]);
    e.server_ip = decode_csv_text((*f)[3]);
    e.server_hostname = decode_csv_text((*f)[4]);
    e.source_context = decode_csv_text((*f)[5]);
    e.connector_id = std::move((*f)[6]);
    e.source = std::move((*f)[7]);
    e.event_id = std::move((*f)[8]);
    e.internal_message_id = *internal_id;
    e.message_id = decode_csv_text((*f)[10]);
    e.recipients = decode_csv_list((*f)[11]);
    e.recipient_status = decode_csv_reply_list((*f)[12]);
    e.total_bytes = *total_bytes;
    e.recipient_count = *recipient_count;
    e.related_recipient = decode_csv_text((*f)[15]);
    e.reference = decode_csv_text((*f)[16]);
    e.subject = decode_csv_text((*f)[17]);
    e.sender = decode_csv_text((*f)[18]);
    e.return_path = decode_csv_text((*f)[19]);
    e.message_info = decode_csv_text((*f)[20]);
    return e;
}

std::vector<TrackingEvent> read_tracking_logs(const std::string& directory) {
    std::vector<TrackingEvent> out;
    for_each_csv_log_line(directory, "MSGTRK", [&](std::string_view line) {
        if (auto e = parse_tracking_line(line)) out.push_back(std::move(*e));
    });
    return out;
}

}  // namespace edge::logging
