// The SmtpReceive and SmtpSend protocol logs: Exchange 2007's CSV format, one
// directory per direction, rotated by file size, directory size, age and UTC day.
// Callers only append to memory; one flusher thread per log does every disk write
// (the shared machinery is CsvLog, csv_log.hpp).
//
// Format decisions (fixed; tools depend on them):
//   - Lines end with LF. Header lines start with '#'.
//   - Fields are written as CsvLog's kinds (csv_log.hpp): connector-id, session-id,
//     the endpoints and the event column are our tokens (HOST\connector keeps its
//     single backslash; the event stays + - > < * as Exchange writes it); data and
//     context are text: control bytes (CR, LF, TAB, ESC, BEL …, DEL, C1) and invalid
//     UTF-8 become \xHH, a backslash \\, and a cell beginning = + - @ ' gets a
//     leading ' — so nothing a peer sends can split a line, forge one, reach a
//     terminal that views the file or run as a spreadsheet formula.
//     parse_protocol_log_line() undoes the quoting, and for data and context the
//     guard and the escape.
//   - Files are never reopened: each ProtocolLog starts a new file, instance number
//     one above the highest of that UTC day in the directory, so a restart never
//     appends to (or clobbers) an older file.
//   - When memory passes twice buffer_cap (the disk is stuck), lines are dropped and
//     counted; the next write or flush adds a '*' line with empty connector, session
//     and sequence fields, data "<n> protocol log lines dropped", context
//     "ProtocolLog" (n counts the lines lost since the previous such line).
#pragma once

#include "csv_log.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace edge::logging {

enum class ProtocolLogKind : std::uint8_t { SmtpReceive, SmtpSend };

// The event column.
enum class LogEvent : char { Connect = '+', Disconnect = '-', Send = '>', Receive = '<', Information = '*' };

// Set-TransportServer ReceiveProtocolLog* / SendProtocolLog*: directory is
// …ProtocolLogPath, max_file_size …ProtocolLogMaxFileSize (10 MB), max_directory_size
// …ProtocolLogMaxDirectorySize (250 MB), max_age …ProtocolLogMaxAge (30 days, by
// mtime); 0 = unlimited for each.
using ProtocolLogLimits = CsvLogLimits;

// Where time comes from: line timestamps, file dates, MaxAge. Empty = system_clock.
// Called on writers' threads and on the flusher, so it must be thread-safe.
using ProtocolLogClock = CsvLogClock;

// One protocol log (one direction). Thread-safe; neither copyable nor movable.
//
// Caveats:
//   - write() never does I/O and never waits for the disk. It takes a mutex that
//     the flusher holds only to swap buffers, never across a write(2).
//   - Disk errors (full, directory removed, permission) never reach callers: they
//     are counted in write_errors() and the lines stay in memory for the next
//     attempt (a vanished directory is recreated). Memory stays under about twice
//     buffer_cap; past that lines are dropped and counted in dropped_lines().
//   - Rotation and deletion (checked when a file is opened, when limits change and
//     once an hour) touch only files named like this log's own files
//     (RECVyyyymmdd-N.LOG or SENDyyyymmdd-N.LOG) and never the current file. The
//     directory may pass MaxDirectorySize by up to one file between two checks.
//   - A single line longer than MaxFileSize gets a file of its own, over the limit.
//   - Nothing is fsync'd: a crash may lose the last flush interval of lines.
class ProtocolLog {
public:
    ProtocolLog(ProtocolLogKind kind, ProtocolLogLimits limits, std::string version,
                std::chrono::milliseconds flush_interval = std::chrono::seconds(1),
                std::size_t buffer_cap = 8u << 20, ProtocolLogClock clock = {});
    ~ProtocolLog();  // flushes everything (one attempt), joins the flusher
    ProtocolLog(const ProtocolLog&) = delete;
    ProtocolLog& operator=(const ProtocolLog&) = delete;

    // Takes effect at the next flush (a new directory: the next line opens a new
    // file there; the sweep runs against the new limits).
    void set_limits(ProtocolLogLimits limits);

    // Appends one line to memory, timestamped now (UTC, milliseconds).
    void write(std::string_view connector_id, std::string_view session_id, std::uint64_t sequence,
               std::string_view local_endpoint, std::string_view remote_endpoint, LogEvent event,
               std::string_view data, std::string_view context);

    // Synchronous: every line written before the call has been handed to write(2)
    // when it returns — unless that failed, in which case write_errors() grew and
    // the lines stay buffered for the next attempt. Never throws.
    void flush();

    std::uint64_t dropped_lines() const;
    std::uint64_t write_errors() const;
    // The file lines go to now (full path); empty before the first line is on disk.
    std::string current_file() const;

private:
    CsvLog log_;
};

// One SMTP session's view of a log: remembers the connector id, session id,
// endpoints and the sequence number (0-based, +1 per line). Not thread-safe: it
// belongs to one session. The ProtocolLog must outlive it.
class ProtocolLogSession {
public:
    ProtocolLogSession() = default;  // disabled: log() does nothing (ProtocolLoggingLevel None)
    ProtocolLogSession(ProtocolLog* log, std::string connector_id, std::string session_id,
                       std::string local_endpoint, std::string remote_endpoint);

    bool enabled() const { return log_ != nullptr; }
    void log(LogEvent event, std::string_view data, std::string_view context = {});
    std::uint64_t next_sequence() const { return sequence_; }
    const std::string& session_id() const { return session_id_; }

private:
    ProtocolLog* log_ = nullptr;
    std::string connector_id_, session_id_, local_endpoint_, remote_endpoint_;
    std::uint64_t sequence_ = 0;
};

// 16 upper-case hex digits, like Exchange's 08D675E58CA1DA38: the current time in
// 100 ns ticks since 0001-01-01 UTC, bumped by one when it would not be greater than
// the previous id. Unique and increasing within the process; a later process starts
// above it unless the clock went back.
std::string new_session_id();

// Splits one event line (LF or CRLF end optional) into its 9 fields and undoes the
// quoting; data and context come back as the bytes that were logged (decode_csv_text). nullopt for a header line ('#'), a wrong number of fields, an unclosed
// quote, text after a closing quote, or a quote inside an unquoted field.
std::optional<std::array<std::string, 9>> parse_protocol_log_line(std::string_view line);

}  // namespace edge::logging
