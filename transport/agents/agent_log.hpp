// The agent log (Exchange 2007 SP1's AgentLog): one CSV line per agent verdict that
// is not Continue (and per agent that timed out), in AGENTLOGyyyymmdd-N.LOG files.
// The files, the buffer, rotation and the flusher are CsvLog's (transport/logging),
// as for the protocol and message tracking logs.
//
// Format decisions (edgectl Get-AgentLog depends on them):
//   - #Log-type: Agent Log; #Fields: the 14 fields of kAgentLogFields, Exchange's.
//   - Fields a client chooses (IPAddress, MessageId, P1FromAddress, P2FromAddresses,
//     Recipients, SmtpResponse, ReasonData, Diagnostics) are CsvLog text or lists:
//     CR, LF and other control bytes as \xHH, a leading = + - @ ' guarded, quoted
//     around commas. SessionId, Agent, Event, Action and Reason are our tokens.
//   - Recipients: at OnRcptCommand the recipient refused; at the end of data every
//     recipient of the message. P2FromAddresses is the From: header's addresses.
//   - Lost lines (memory past twice the buffer) are reported by a line with Agent
//     AgentLog, Action DROPPED and Diagnostics "<n> agent log lines dropped".
#pragma once

#include "csv_log.hpp"
#include "pipeline.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::agents {

inline constexpr std::string_view kAgentLogFields =
    "Timestamp,SessionId,IPAddress,MessageId,P1FromAddress,P2FromAddresses,Recipients,Agent,Event,Action,"
    "SmtpResponse,Reason,ReasonData,Diagnostics";

struct AgentLogEntry {
    std::chrono::system_clock::time_point timestamp{};  // set by the parser (the log stamps its own)
    std::string session_id, ip_address, message_id, p1_from;
    std::vector<std::string> p2_from, recipients;
    std::string agent, event, action, smtp_response, reason, reason_data, diagnostics;
};

// AgentLogEnabled, AgentLogPath, AgentLogMaxFileSize, AgentLogMaxDirectorySize,
// AgentLogMaxAge (settings table, TransportServer; Exchange 2007 SP1's defaults).
struct AgentLogSettings {
    bool enabled = true;
    std::string directory;                                       // empty path: <DataDirectory>/Logs/AgentLog
    std::uint64_t max_file_size = 10ull << 20;                   // 0 = unlimited
    std::uint64_t max_directory_size = 250ull << 20;             // 0 = unlimited
    std::chrono::seconds max_age = std::chrono::hours(24 * 7);  // by mtime; 0 = unlimited
};

// The server's one agent log; the pipeline's VerdictSink. Thread-safe.
// Caveats as MessageTrackingLog: write() never waits for the disk; disabled, nothing
// is written and no directory is created.
class AgentLog final : public VerdictSink {
public:
    AgentLog(AgentLogSettings settings, std::string version,
             std::chrono::milliseconds flush_interval = std::chrono::seconds(1), std::size_t buffer_cap = 4u << 20,
             logging::CsvLogClock clock = {});
    ~AgentLog() override;
    void set_settings(AgentLogSettings settings);
    void write(const AgentLogEntry& e);
    void record(const VerdictRecord& r) override;  // one verdict as one line
    void flush();
    std::uint64_t dropped_lines() const;
    std::string current_file() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// One line back (fields as written to write()); nullopt for a header line or a line
// that is not 14 fields with a timestamp.
std::optional<AgentLogEntry> parse_agent_log_line(std::string_view line);
// Every entry of every AGENTLOG file in `directory`, oldest first (for Get-AgentLog).
std::vector<AgentLogEntry> read_agent_logs(const std::string& directory);

}  // namespace edge::agents
