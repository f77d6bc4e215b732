// The connectivity log (Exchange 2007 SP1's, Set-TransportServer ConnectivityLog*): one
// CSV line per event of an outbound connection — the session made for a next hop, the
// DNS answer, each address tried, the TLS outcome, the failure reason, the close — in
// CONNECTLOGyyyymmdd-N.LOG files. The files, the buffer and the flusher are CsvLog's
// (csv_log.hpp), as for the protocol and tracking logs.
//
// Format decisions (fixed; tools depend on them):
//   - #Log-type: Transport Connectivity Log; #Fields:
//     date-time,session,source,Destination,direction,description (Exchange's names,
//     Destination capitalised as Exchange writes it).
//   - session: 16 hex digits (new_session_id()), one per connection attempt sequence
//     to a next hop; source: SMTP; Destination: the next hop (domain or smart-host set).
//   - direction: + a session starts, - it ends, > an address is tried, * information
//     (DNS answer, established or failed connection, TLS outcome) — Exchange's codes.
//   - session, source and direction are our tokens; Destination and description are text
//     (host names and replies come from DNS and peers): escaped as csv_log.hpp says.
//   - Lost lines (memory past twice the cap): a "*" line with empty session, source
//     ConnectivityLog and description "<n> connectivity log lines dropped".
#pragma once

#include "csv_log.hpp"

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace edge::logging {

inline constexpr std::string_view kConnectivityFields = "date-time,session,source,Destination,direction,description";

enum class ConnectivityDirection : char { Connect = '+', Disconnect = '-', Send = '>', Receive = '<', Information = '*' };

// Set-TransportServer ConnectivityLog*.
struct ConnectivityLogSettings {
    bool enabled = false;  // ConnectivityLogEnabled ($false, as Exchange 2007 SP1)
    CsvLogLimits limits{{}, 10ull << 20, 1000ull << 20, std::chrono::hours(24 * 30)};
};

// The server's one connectivity log. Thread-safe; neither copyable nor movable.
// Caveats as CsvLog's; disabled, write() does nothing and no directory is made.
class ConnectivityLog {
public:
    ConnectivityLog(ConnectivityLogSettings settings, std::string version,
                    std::chrono::milliseconds flush_interval = std::chrono::seconds(1), std::size_t buffer_cap = 4u << 20,
                    CsvLogClock clock = {});
    ~ConnectivityLog();
    ConnectivityLog(const ConnectivityLog&) = delete;
    ConnectivityLog& operator=(const ConnectivityLog&) = delete;

    void set_settings(ConnectivityLogSettings settings);
    bool enabled() const;
    void write(std::string_view session, std::string_view source, std::string_view destination,
               ConnectivityDirection direction, std::string_view description);
    void flush();
    std::string current_file() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// One sequence of connection attempts to a next hop: remembers session and Destination.
// Copyable and cheap; a default one (or one over a disabled log) logs nothing. The log
// must outlive it.
class ConnectivityLogSession {
public:
    ConnectivityLogSession() = default;
    ConnectivityLogSession(ConnectivityLog* log, std::string destination);
    void log(ConnectivityDirection direction, std::string_view description) const;
    bool enabled() const { return log_ != nullptr; }

private:
    ConnectivityLog* log_ = nullptr;
    std::string session_, destination_;
};

// One event line back into its six fields, Destination and description decoded; nullopt
// for a header line or another shape. For tests and tools.
std::optional<std::array<std::string, 6>> parse_connectivity_line(std::string_view line);

}  // namespace edge::logging
