// The file machinery every Exchange-style CSV log here shares (the SmtpReceive and
// SmtpSend protocol logs, the message tracking log): header lines, PREFIXyyyymmdd-N.LOG
// names, rotation by size and UTC day, deletion by directory size and age, the
// in-memory buffer, the flusher thread and dropped-line accounting.
//
// Format decisions (fixed; tools depend on them):
//   - Lines end with LF. Header lines start with '#': #Software: edge-transport,
//     #Version, #Log-type, #Date (the file's creation, UTC), #Fields.
//   - Every event line starts with date-time, yyyy-mm-ddThh:mm:ss.fffZ (UTC), stamped
//     by CsvLog under its lock so times never go back within a file.
//   - Each field is written as one of three kinds (the format decides per field):
//       text  — anything a peer may have chosen (commands, replies, addresses,
//               subjects, host names): escaped with the log escape below, then a
//               cell beginning with = + - @ or ' gets a leading ' (OWASP, CSV
//               injection), so no spreadsheet reads it as a formula;
//       token — our own fixed values (the protocol log's event column + - > < *,
//               event ids, session ids, endpoints, HOST\connector): written as they
//               are, never neutralised; a control byte or invalid UTF-8 in one (never
//               expected) still becomes \xHH, a backslash stays as it is;
//       list  — text items joined with ';' (the tracking log's recipient-address),
//               a ';' inside an item escaped so it is never a separator.
//   - The log escape (append_log_escaped): '\' becomes "\\"; C0 controls (CR, LF and
//     TAB included), DEL, C1 controls (U+0080..U+009F, each of their two UTF-8 bytes)
//     and every byte that is not part of well-formed UTF-8 become "\xHH" (two
//     upper-case hex digits). So a log line never holds a raw control byte (no
//     terminal escape sequence, no forged line) and decode_csv_text() gives back the
//     exact bytes.
//   - A field is then quoted ("...") when it holds a comma or a double quote; a
//     double quote inside is doubled. parse_csv_line() undoes the quoting;
//     decode_csv_text() / decode_csv_list() undo the neutralising and the escape.
//   - Files are never reopened: each CsvLog starts a new file, instance number one
//     above the highest of that UTC day in the directory, so a restart never appends
//     to (or clobbers) an older file.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::logging {

// Size and age limits of one log directory (Set-TransportServer …LogPath,
// …LogMaxFileSize, …LogMaxDirectorySize, …LogMaxAge).
struct CsvLogLimits {
    std::string directory;                                        // created (with parents) if missing
    std::uint64_t max_file_size = 10ull << 20;                    // 0 = unlimited
    std::uint64_t max_directory_size = 250ull << 20;              // 0 = unlimited
    std::chrono::seconds max_age = std::chrono::hours(24 * 30);  // by mtime; 0 = unlimited
};

// Where time comes from: line timestamps, file dates, MaxAge. Empty = system_clock.
// Called on writers' threads and on the flusher, so it must be thread-safe.
using CsvLogClock = std::function<std::chrono::system_clock::time_point()>;

// What makes one log different from another.
struct CsvLogFormat {
    std::string file_prefix;  // RECV, SEND, MSGTRK: files PREFIXyyyymmdd-N.LOG
    std::string log_type;     // "#Log-type: …"
    std::string fields;       // "#Fields: …", starting with date-time
    std::string version;      // "#Version: …" (CR and LF become spaces)
    // The line that reports n lost lines, after its date-time: from the comma that
    // follows date-time through the closing LF. Called under the buffer's lock.
    std::function<std::string(std::uint64_t n)> drop_notice;
};

// One log directory's writer. Thread-safe; neither copyable nor movable.
//
// Caveats:
//   - append() never does I/O and never waits for the disk. It takes a mutex that
//     the flusher holds only to swap buffers, never across a write(2).
//   - Disk errors (full, directory removed, permission) never reach callers: they
//     are counted in write_errors() and the lines stay in memory for the next
//     attempt (a vanished directory is recreated). Memory stays under about twice
//     buffer_cap; past that lines are dropped and counted in dropped_lines(), and the
//     next append or flush adds the format's drop_notice line first.
//   - Rotation and deletion (checked when a file is opened, when limits change and
//     once an hour) touch only files named like this log's own (PREFIXyyyymmdd-N.LOG)
//     and never the current file. The directory may pass MaxDirectorySize by up to
//     one file between two checks. The first sweep runs when the log is created.
//   - A single line longer than MaxFileSize gets a file of its own, over the limit.
//   - Nothing is fsync'd: a crash may lose the last flush interval of lines.
class CsvLog {
public:
    CsvLog(CsvLogFormat format, CsvLogLimits limits, std::chrono::milliseconds flush_interval,
           std::size_t buffer_cap, CsvLogClock clock);
    ~CsvLog();  // flushes everything (one attempt), joins the flusher
    CsvLog(const CsvLog&) = delete;
    CsvLog& operator=(const CsvLog&) = delete;

    // Takes effect at the next flush (a new directory: the next line opens a new
    // file there; the sweep runs against the new limits).
    void set_limits(CsvLogLimits limits);

    // Appends one line to memory: the date-time now, then `rest`, which must start
    // with the comma after date-time, end with LF and hold no other LF (build it with
    // append_csv_text(), append_csv_token() and append_csv_list()).
    void append(std::string_view rest);

    // Synchronous: every line appended before the call has been handed to write(2)
    // when it returns — unless that failed, in which case write_errors() grew and
    // the lines stay buffered for the next attempt. Never throws.
    void flush();

    std::uint64_t dropped_lines() const;
    std::uint64_t write_errors() const;
    // The file lines go to now (full path); empty before the first line is on disk.
    std::string current_file() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// --- Logs yield to the queue (issue 14) ---------------------------------------------
//
// One switch for the process. While it is set, every CsvLog whose directory is on the
// file system `device` (stat(2)'s st_dev) drops the lines it is given instead of
// buffering them, counting each in its dropped_lines(); the format's drop_notice
// line says how many once writing resumes. The server sets it when back pressure on
// the queue volume reaches Medium and clears it at Normal, so the protocol and
// tracking logs never take the queue's last megabytes; logs on another volume (see
// README.md, the …LogPath settings) keep writing.
void pause_logs_on_volume(std::uint64_t device);
void resume_logs();
bool logs_paused();
// Lines dropped by pauses since the process started, every log together.
std::uint64_t lines_dropped_while_paused();
// The file system `path` is on: its own, or its nearest existing ancestor's (a log
// directory is created at its first line). nullopt when none can be read.
std::optional<std::uint64_t> volume_of(const std::string& path);

// --- The log escape (shared by every log here and by edgectl's terminal output) ---


// Appends `text` escaped as the header comment says: "\\", "\xHH" for C0, DEL, C1,
// invalid UTF-8 and every byte listed in `also`; everything else as it is.
void append_log_escaped(std::string& out, std::string_view text, std::string_view also = {});
// The inverse: "\\" is one backslash, "\xHH" (either case) one byte; any other
// backslash is kept as it is (so text written by other tools reads as it was).
std::string unescape_log_text(std::string_view text);
// For a terminal (edgectl tables and lists): control bytes and invalid UTF-8 as
// "\xHH" as in the logs, but a backslash stays single (EDGE\contoso.com reads as
// Exchange shows it). For display only: not reversible.
void append_display_escaped(std::string& out, std::string_view text);

// --- Cells ---

// A field a peer may have chosen: escaped, neutralised against formulas, quoted.
void append_csv_text(std::string& out, std::string_view field);
// One of our own fixed values: quoted when needed, never neutralised (see above).
void append_csv_token(std::string& out, std::string_view field);
// A list: each item escaped (';' included), joined with ';', neutralised, quoted.
// An empty list is an empty field (so is a list of one empty item).
void append_csv_list(std::string& out, const std::vector<std::string>& items);
// A list of SMTP replies (the tracking log's recipient-status), as Exchange writes
// it: joined with ';', and a ';' inside a reply stays as it is ("550 4.4.7
// QUEUE.Expired; message expired") unless a reply code follows it (after spaces) —
// only such a ';' separates two replies, so that one is escaped. Each item must
// start with a reply code (every SMTP reply does); one that does not reads back
// joined to the one before (its bytes are kept, the split is lost).
void append_csv_reply_list(std::string& out, const std::vector<std::string>& replies);
// The bytes a peer sent, back from a text cell (after parse_csv_line()).
std::string decode_csv_text(std::string_view cell);
// The items back from a list cell; an empty cell is an empty list.
std::vector<std::string> decode_csv_list(std::string_view cell);
std::vector<std::string> decode_csv_reply_list(std::string_view cell);

// Splits one event line (LF or CRLF end optional) into exactly `fields` fields and
// undoes the quoting. nullopt for a header line ('#'), another number of fields, an
// unclosed quote, text after a closing quote, or a quote inside an unquoted field.
std::optional<std::vector<std::string>> parse_csv_line(std::string_view line, std::size_t fields);

// yyyy-mm-ddThh:mm:ss.fffZ back to a time; nullopt when it has another shape.
std::optional<std::chrono::system_clock::time_point> parse_csv_log_time(std::string_view text);

// The files of one log (PREFIXyyyymmdd-N.LOG) in `directory`, full paths, oldest
// first (by day, then N). Empty when the directory cannot be read.
std::vector<std::string> csv_log_files(const std::string& directory, std::string_view prefix);

// Every line of every file of one log, oldest file first, in file order (header lines
// included: parse_csv_line() refuses them). The one reader of the logs' files: the
// tracking log's and the agent log's readers are built on it. Reads files a running
// server may be appending to; a last line without its LF is given as it is.
void for_each_csv_log_line(const std::string& directory, std::string_view prefix,
                           const std::function<void(std::string_view line)>& fn);

}  // namespace edge::logging
