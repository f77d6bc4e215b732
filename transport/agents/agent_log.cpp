// The agent log: a verdict becomes one AGENTLOG line; CsvLog does the files. Also the
// reader Get-AgentLog uses.
#include "agent_log.hpp"

#include <atomic>

namespace edge::agents {

namespace {
constexpr std::size_t kAgentLogFieldCount = 14;

logging::CsvLogFormat agent_log_format(std::string version) {
    logging::CsvLogFormat f;
    f.file_prefix = "AGENTLOG";
    f.log_type = "Agent Log";
    f.fields = std::string(kAgentLogFields);
    f.version = std::move(version);
    f.drop_notice = [](std::uint64_t n) {
        // After Timestamp: 6 empty fields, Agent, Event, Action, SmtpResponse, Reason, ReasonData, Diagnostics.
        return ",,,,,,,AgentLog,,DROPPED,,,," + std::to_string(n) + " agent log lines dropped\n";
    };
    return f;
}

logging::CsvLogLimits limits_of(const AgentLogSettings& s) {
    logging::CsvLogLimits l;
    l.directory = s.directory;
    l.max_file_size = s.max_file_size;
    l.max_directory_size = s.max_directory_size;
    l.max_age = s.max_age;
    return l;
}
}  // namespace

struct AgentLog::Impl {
    Impl(const AgentLogSettings& s, std::string version, std::chrono::milliseconds interval, std::size_t cap,
         logging::CsvLogClock clock)
        : enabled(s.enabled), log(agent_log_format(std::move(version)), limits_of(s), interval, cap, std::move(clock)) {}
    std::atomic<bool> enabled;
    logging::CsvLog log;
};

AgentLog::AgentLog(AgentLogSettings settings, std::string version, std::chrono::milliseconds flush_interval,
                   std::size_t buffer_cap, logging::CsvLogClock clock)
    : impl_(std::make_unique<Impl>(settings, std::move(version), flush_interval, buffer_cap, std::move(clock))) {}

AgentLog::~AgentLog() = default;

void AgentLog::set_settings(AgentLogSettings settings) {
    impl_->enabled = settings.enabled;
    impl_->log.set_limits(limits_of(settings));
}

void AgentLog::write(const AgentLogEntry& e) {
    if (!impl_->enabled) return;
    std::string rest;
    auto text = [&](std::string_view v) {
        rest += ',';
        logging::append_csv_text(rest, v);
    };
    auto token = [&](std::string_view v) {
        rest += ',';
        logging::append_csv_token(rest, v);
    };
    auto list = [&](const std::vector<std::string>& v) {
        rest += ',';
        logging::append_csv_list(rest, v);
    };
    token(e.session_id);
    text(e.ip_address);
    text(e.message_id);
    text(e.p1_from);
    list(e.p2_from);
    list(e.recipients);
    token(e.agent);
    token(e.event);
    token(e.action);
    text(e.smtp_response);
    token(e.reason);
    text(e.reason_data);
    text(e.diagnostics);
    rest += '\n';
    impl_->log.append(rest);
}

void AgentLog::record(const VerdictRecord& r) {
    AgentLogEntry e;
    e.session_id = r.session.session_id;
    e.ip_address = r.session.remote_ip;
    e.message_id = r.envelope.message_id;
    e.p1_from = r.envelope.sender;
    e.p2_from = r.envelope.header_from;
    if (r.event == AgentEvent::OnRcptCommand)
        e.recipients = {r.verdict.logged_recipient.empty() ? r.envelope.recipient : r.verdict.logged_recipient};
    else e.recipients = r.envelope.recipients;
    e.agent = std::string(r.agent);
    e.event = to_string(r.event);
    e.action = std::string(action_name(r.verdict.action, r.event));
    e.smtp_response = r.smtp_response;
    e.reason = r.verdict.reason;
    e.reason_data = r.verdict.reason_data;
    e.diagnostics = r.verdict.diagnostics;
    write(e);
}

void AgentLog::flush() { impl_->log.flush(); }
std::uint64_t AgentLog::dropped_lines() const { return impl_->log.dropped_lines(); }
std::string AgentLog::current_file() const { return impl_->log.current_file(); }

std::optional<AgentLogEntry> parse_agent_log_line(std::string_view line) {
    auto f = logging::parse_csv_line(line, kAgentLogFieldCount);
    if (!f) return std::nullopt;
    auto time = logging::parse_csv_log_time((*f)[0]);
    if (!time) return std::nullopt;
    AgentLogEntry e;
    e.timestamp = *time;
    e.session_id = std::move((*f)[1]);
    e.ip_address = logging::decode_csv_text((*f)[2]);
    e.message_id = logging::decode_csv_text((*f)[3]);
    e.p1_from = logging::decode_csv_text((*f)[4]);
    e.p2_from = logging::decode_csv_list((*f)[5]);
    e.recipients = logging::decode_csv_list((*f)[6]);
    e.agent = std::move((*f)[7]);
    e.event = std::move((*f)[8]);
    e.action = std::move((*f)[9]);
    e.smtp_response = logging::decode_csv_text((*f)[10]);
    e.reason = std::move((*f)[11]);
    e.reason_data = logging::decode_csv_text((*f)[12]);
    e.diagnostics = logging::decode_csv_text((*f)[13]);
    return e;
}

std::vector<AgentLogEntry> read_agent_logs(const std::string& directory) {
    std::vector<AgentLogEntry> out;
    logging::for_each_csv_log_line(directory, "AGENTLOG", [&](std::string_view line) {
        if (auto e = parse_agent_log_line(line)) out.push_back(std::move(*e));
    });
    return out;
}

}  // namespace edge::agents
