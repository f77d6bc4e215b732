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

void append_joined(std::string& out, const std::vector<std::string>& values) {
    thread_local std::string joined;
    joined.clear();
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i != 0) joined += ';';
        joined += values[i];
    }
    append_csv_field(out, joined);
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

std::vector<std::string> split_addresses(std::string_view s) {
    std::vector<std::string> out;
    if (s.empty()) return out;
    for (;;) {
        auto semi = s.find(';');
        out.emplace_back(s.substr(0, semi));
        if (semi == std::string_view::npos) return out;
        s.remove_prefix(semi + 1);
    }
}

// "250 2.1.5 Recipient OK", "550-…", "421": three digits, then a space, a hyphen or the end.
bool starts_with_reply_code(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    if (s.size() < 3) return false;
    for (std::size_t i = 0; i < 3; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
    }
    return s.size() == 3 || s[3] == ' ' || s[3] == '-';
}

// Exchange's own statuses hold ';' ("550 4.4.7 QUEUE.Expired;message expired"), so a
// ';' separates two statuses only when a reply code follows it.
std::vector<std::string> split_statuses(std::string_view s) {
    std::vector<std::string> out;
    if (s.empty()) return out;
    std::size_t start = 0, from = 0;
    for (;;) {
        auto semi = s.find(';', from);
        if (semi == std::string_view::npos) {
            out.emplace_back(s.substr(start));
            return out;
        }
        if (starts_with_reply_code(s.substr(semi + 1))) {
            out.emplace_back(s.substr(start, semi - start));
            start = semi + 1;
        }
        from = semi + 1;
    }
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
    auto field = [&](std::string_view v) {
        rest += ',';
        append_csv_field(rest, v);
    };
    field(e.client_ip);
    field(e.client_hostname);
    field(e.server_ip);
    field(e.server_hostname);
    field(e.source_context);
    field(e.connector_id);
    field(e.source);
    field(e.event_id);
    fmt::format_to(std::back_inserter(rest), ",{}", e.internal_message_id);
    field(e.message_id);
    rest += ',';
    append_joined(rest, e.recipients);
    rest += ',';
    append_joined(rest, e.recipient_status);
    fmt::format_to(std::back_inserter(rest), ",{},{}", e.total_bytes, e.recipients.size());
    field(e.related_recipient);
    field(e.reference);
    field(impl_->subject_logging ? std::string_view(e.subject) : std::string_view());
    field(e.sender);
    field(e.return_path);
    field(e.message_info);
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
    e.client_ip = std::move((*f)[1]);
    e.client_hostname = std::move((*f)[2]);
    e.server_ip = std::move((*f)[3]);
    e.server_hostname = std::move((*f)[4]);
    e.source_context = std::move((*f)[5]);
    e.connector_id = std::move((*f)[6]);
    e.source = std::move((*f)[7]);
    e.event_id = std::move((*f)[8]);
    e.internal_message_id = *internal_id;
    e.message_id = std::move((*f)[10]);
    e.recipients = split_addresses((*f)[11]);
    e.recipient_status = split_statuses((*f)[12]);
    e.total_bytes = *total_bytes;
    e.recipient_count = *recipient_count;
    e.related_recipient = std::move((*f)[15]);
    e.reference = std::move((*f)[16]);
    e.subject = std::move((*f)[17]);
    e.sender = std::move((*f)[18]);
    e.return_path = std::move((*f)[19]);
    e.message_info = std::move((*f)[20]);
    return e;
}

std::vector<TrackingEvent> read_tracking_logs(const std::string& directory) {
    std::vector<TrackingEvent> out;
    for (const auto& path : csv_log_files(directory, "MSGTRK")) {
        std::ifstream in(path, std::ios::binary);
        for (std::string line; std::getline(in, line);) {
            if (auto e = parse_tracking_line(line)) out.push_back(std::move(*e));
        }
    }
    return out;
}

}  // namespace edge::logging
