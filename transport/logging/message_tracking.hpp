// The message tracking log (Exchange 2007 MSGTRK, reference §6.2): one CSV line per
// thing that happens to a message — received, sent, deferred, failed, a DSN made,
// moved to the poison queue — in MSGTRKyyyymmdd-N.LOG files. The files, the buffer
// and the flusher are CsvLog's (csv_log.hpp), as for the protocol logs.
//
// Format decisions (fixed; edgectl Get-MessageTrackingLog depends on them):
//   - #Log-type: Message Tracking Log; #Fields: the 21 fields of kTrackingFields,
//     in Exchange 2007's order (none of the 2010+ fields).
//   - recipient-address and recipient-status hold one value per recipient, joined
//     with ';' as Exchange does. recipient-count is the number of recipients.
//     recipient-address is a CsvLog list: a ';' inside an address ("x;y"@z, legal
//     in a quoted local part) is written \x3B, so it never reads as a separator.
//     recipient-status is a reply list: Exchange's own statuses keep their ';'
//     ("550 4.4.7 QUEUE.Expired; message expired"); only a ';' that a reply code
//     follows separates, so only such a ';' inside a reply is escaped.
//   - connector-id (configuration's), source and event-id are our tokens (connector-id
//     keeps Exchange's HOST\connector backslash); the numbers are ours; every other field is
//     text (csv_log.hpp): control bytes and invalid UTF-8 as \xHH, a backslash as
//     \\, a leading = + - @ ' guarded by a ', so an ESC in a Subject or Message-ID
//     never reaches the file and a Subject "=HYPERLINK(…)" is no formula. The
//     reader undoes all of it: Get-MessageTrackingLog filters on the values as sent.
//     Empty fields stay empty, as Exchange leaves them.
//   - MessageTrackingLogSubjectLoggingEnabled $false leaves message-subject blank.
//   - When memory passes twice buffer_cap, lines are dropped and counted; the next
//     line written is preceded by one with event-id DROPPED, source
//     MessageTrackingLog, internal-message-id 0 and source-context "<n> message
//     tracking lines dropped" — our addition, not an Exchange event.
#pragma once

#include "csv_log.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::logging {

inline constexpr std::string_view kTrackingFields =
    "date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,event-id,"
    "internal-message-id,message-id,recipient-address,recipient-status,total-bytes,recipient-count,"
    "related-recipient-address,reference,message-subject,sender-address,return-path,message-info";

// Exchange 2007's event-id values that an Edge server writes (reference §6.2).
namespace tracking_event {
inline constexpr std::string_view Receive = "RECEIVE";              // committed to the queue
inline constexpr std::string_view Send = "SEND";                    // handed to the next server over SMTP
inline constexpr std::string_view Deliver = "DELIVER";
inline constexpr std::string_view Defer = "DEFER";                  // delivery postponed (4xx, no route yet)
inline constexpr std::string_view Fail = "FAIL";                    // given up: an NDR follows unless none is wanted
inline constexpr std::string_view Dsn = "DSN";                      // a delivery status notification was made
inline constexpr std::string_view PoisonMessage = "POISONMESSAGE";  // put in or taken out of the poison queue
inline constexpr std::string_view BadMail = "BADMAIL";
inline constexpr std::string_view Expand = "EXPAND";
inline constexpr std::string_view Resubmit = "RESUBMIT";
inline constexpr std::string_view Dropped = "DROPPED";              // ours: lines the log itself lost
}  // namespace tracking_event

// Exchange 2007's source values (reference §6.2).
namespace tracking_source {
inline constexpr std::string_view Smtp = "SMTP";
inline constexpr std::string_view Dsn = "DSN";
inline constexpr std::string_view Routing = "ROUTING";
inline constexpr std::string_view Admin = "ADMIN";    // Queue Viewer / edgectl, the Replay directory
inline constexpr std::string_view Agent = "AGENT";
inline constexpr std::string_view Pickup = "PICKUP";
inline constexpr std::string_view Gateway = "GATEWAY";
inline constexpr std::string_view StoreDriver = "STOREDRIVER";
}  // namespace tracking_source

// One line. write() takes every field but `time` (it stamps its clock's time) and
// recipient-count (recipients.size()); the parser fills all of them.
struct TrackingEvent {
    std::chrono::system_clock::time_point time{};  // date-time (set by the parser)
    std::string client_ip, client_hostname, server_ip, server_hostname;
    std::string source_context;
    std::string connector_id;
    std::string source;                  // tracking_source::…
    std::string event_id;                // tracking_event::…
    std::uint64_t internal_message_id = 0;  // the queue's MessageId
    std::string message_id;              // Message-ID header, <…>
    std::vector<std::string> recipients;        // recipient-address, one per recipient
    std::vector<std::string> recipient_status;  // recipient-status, one per recipient or empty
    std::uint64_t total_bytes = 0;
    std::uint64_t recipient_count = 0;   // set by the parser; write() writes recipients.size()
    std::string related_recipient, reference, subject, sender, return_path, message_info;
};

// Set-TransportServer MessageTrackingLog*.
struct MessageTrackingSettings {
    bool enabled = true;                                          // MessageTrackingLogEnabled
    std::string directory;                                        // MessageTrackingLogPath
    std::uint64_t max_file_size = 10ull << 20;                    // MessageTrackingLogMaxFileSize; 0 = unlimited
    std::uint64_t max_directory_size = 250ull << 20;              // MessageTrackingLogMaxDirectorySize; 0 = unlimited
    std::chrono::seconds max_age = std::chrono::hours(24 * 30);  // MessageTrackingLogMaxAge (by mtime); 0 = unlimited
    bool subject_logging_enabled = true;                          // MessageTrackingLogSubjectLoggingEnabled
};

// The server's one message tracking log. Thread-safe; neither copyable nor movable.
//
// Caveats:
//   - As CsvLog: write() never waits for the disk; disk trouble is counted, never
//     thrown; rotation by size and UTC day, deletion by directory size and age, of
//     MSGTRK files only.
//   - Disabled (enabled = false), write() does nothing and no file or directory is
//     created; the age and size sweep of existing files still runs.
//   - Never pass secrets: the subject is the only message content logged, and only
//     while subject logging is enabled.
class MessageTrackingLog {
public:
    MessageTrackingLog(MessageTrackingSettings settings, std::string version,
                       std::chrono::milliseconds flush_interval = std::chrono::seconds(1),
                       std::size_t buffer_cap = 8u << 20, CsvLogClock clock = {});
    ~MessageTrackingLog();  // flushes everything (one attempt), joins the flusher
    MessageTrackingLog(const MessageTrackingLog&) = delete;
    MessageTrackingLog& operator=(const MessageTrackingLog&) = delete;

    // Enabled and subject logging apply from the next write(); the directory and
    // limits at the next flush (see CsvLog::set_limits).
    void set_settings(MessageTrackingSettings settings);

    void write(const TrackingEvent& event);

    // Synchronous, as CsvLog::flush().
    void flush();

    std::uint64_t dropped_lines() const;
    std::uint64_t write_errors() const;
    std::string current_file() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// One event line back into an event. nullopt for a header line, a line that is not
// 21 fields, a bad date-time, or a number field that is not a number (blank numbers
// read as 0). Text fields come back as written to write() (decode_csv_text);
// recipient-address splits at every raw ';' (decode_csv_list); recipient-status at a
// ';' followed (after spaces) by an SMTP reply code (decode_csv_reply_list), so
// "550 4.4.7 QUEUE.Expired;message expired" stays one status. Empty fields give
// empty vectors.
std::optional<TrackingEvent> parse_tracking_line(std::string_view line);

// Every event of every MSGTRK file in `directory`, oldest file first, in file order.
// Header lines and lines that do not parse are skipped. For edgectl
// Get-MessageTrackingLog and tests; reads files a running server may be appending to.
std::vector<TrackingEvent> read_tracking_logs(const std::string& directory);

}  // namespace edge::logging
