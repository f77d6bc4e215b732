// Inside the server: the live configuration snapshot, the listeners, and the SMTP
// connection (the thin coroutine driver around smtp::Session). Private to receive/.
#pragma once

#include "agent_config.hpp"
#include "asio.hpp"
#include "back_pressure.hpp"
#include "categorizer.hpp"
#include "data_dir_lock.hpp"
#include "delivery.hpp"
#include "message_tracking.hpp"
#include "protocol_log.hpp"
#include "recipient_filter.hpp"
#include "queue_db.hpp"
#include "receive_connector.hpp"
#include "server.hpp"
#include "session.hpp"
#include "session_memory.hpp"
#include "sync_listener.hpp"

#include <atomic>
#include <chrono>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace edge::receive {

// Everything a session needs from the config store, read once per generation.
// Sessions keep the snapshot they started with (changes apply to new sessions).
struct ConfigSnapshot {
    std::uint64_t generation = 0;
    std::vector<ReceiveConnector> connectors;
    std::shared_ptr<const routing::Categorizer> categorizer;
    std::shared_ptr<const send::SendConfig> send;  // Send connectors and delivery settings (the same categorizer)
    std::shared_ptr<const agents::RecipientFilter> recipient_filter;  // RCPT TO, after relay control
    std::shared_ptr<const agents::Pipeline> agents;  // the transport agents (relay control first)
    agents::AgentLogSettings agent_log;
    logging::MessageTrackingSettings tracking;
    logging::ProtocolLogLimits receive_log_limits;
    std::chrono::seconds message_expiration{};
};

class Connection;

// The client's address as logs and headers show it: an IPv4 client on a dual-stack
// socket ("::ffff:192.0.2.1") as plain IPv4.
inline std::string address_text(const asio::ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped()) return a.to_v6().to_v4().to_string();
    return a.to_string();
}

struct Server::Impl {
    explicit Impl(ServerOptions options);
    ~Impl();

    // --- configuration -------------------------------------------------------------
    void ensure_first_start_objects();
    std::shared_ptr<const ConfigSnapshot> read_snapshot();
    void reload(bool forced);          // re-read the config store when its generation moved
    void reconcile_listeners();        // open new bindings, close the ones no connector uses
    asio::awaitable<void> poll_config();
    void say_reserve_changes();        // the queue reserve was given to delivery, or new mail flows again

    // --- connections ---------------------------------------------------------------
    struct Listener {
        explicit Listener(asio::io_context& io) : acceptor(io) {}
        tcp::acceptor acceptor;
        routing::Binding binding;
    };
    asio::awaitable<void> accept_loop(std::shared_ptr<Listener> l);
    void on_accept(tcp::socket sock);
    asio::awaitable<void> refuse_connection(tcp::socket sock, std::string reply);

    // --- back pressure ---------------------------------------------------------------
    asio::awaitable<void> monitor_resources();
    void sample_resources();  // one sample, written to the status file
    void yield_logs(const backpressure::Snapshot& snap);
    asio::awaitable<void> serve_status();  // Get-BackPressure's live answer, needing no disk
    bool accepting_mail(std::uint32_t permissions) const;

    // --- shutdown ----------------------------------------------------------------------
    void reload_bootstrap();
    asio::awaitable<void> wait_signals();
    asio::awaitable<void> shut_down();

    ServerOptions options;
    std::string data_directory;
    std::string server_fqdn;
    std::optional<queue::DataDirectoryLock> data_lock;  // held for the server's whole life
    std::unique_ptr<queue::QueueDb> db;
    // ReceiveSessionMemoryLimit: what all sessions hold together. Declared before
    // `io` and `connections`: it must outlive every session's share, even one in a
    // coroutine frame that the io_context destroys.
    std::unique_ptr<backpressure::SessionMemory> session_memory;
    // The queue volume's space for transactions under way (issue 14): each session's
    // reservation points into it, so it too outlives every session. The monitor feeds it.
    std::unique_ptr<backpressure::DiskAdmission> disk_admission;
    // Declared before io, so destroyed after it: destroying io destroys the coroutine frames
    // of sessions still pending, and each Connection gives its admission back as it goes
    // (ThreadSanitizer saw a heap-use-after-free here at shutdown when it came after io).
    ConnectionAccounting accounting;
    asio::io_context io{1};
    std::optional<asio::ssl::context> ssl;
    std::shared_ptr<const ConfigSnapshot> snapshot;
    std::map<std::string, std::shared_ptr<Listener>> listeners;  // by Binding text
    std::list<std::shared_ptr<Connection>> connections;
    std::unique_ptr<logging::ProtocolLog> receive_log;
    std::unique_ptr<logging::MessageTrackingLog> tracking;
    std::unique_ptr<agents::AgentLog> agent_log;
    std::unique_ptr<send::DeliveryService> delivery;
    std::unique_ptr<EdgeSyncListener> edgesync;  // while a subscription exists
    std::unique_ptr<backpressure::BackPressureMonitor> monitor;
    std::atomic<std::uint64_t> commits_in_flight{0};
    std::uint64_t admin_generation = 0;  // last seen; a change wakes the delivery scheduler
    queue::QueueDb::ReserveState reserve_seen{};  // last seen; changes are logged
    bool status_file_failed = false;
    std::uint64_t logs_dropped_before_pause = 0;  // logging::lines_dropped_while_paused() when the pause began
    bool stopping = false;
    std::chrono::seconds shutdown_timeout{10};
    std::chrono::seconds config_poll_interval{1};
};

// One SMTP connection: reads bytes, feeds the session, writes its replies, runs the
// tarpit, TLS, DATA/BDAT and the commit, and keeps the two clocks
// (ConnectionInactivityTimeout, ConnectionTimeout).
class Connection : public std::enable_shared_from_this<Connection> {
public:
    Connection(Server::Impl& server, tcp::socket sock, std::shared_ptr<const ConfigSnapshot> snapshot,
               const ReceiveConnector& connector, ConnectionAccounting::Admission admission);
    asio::awaitable<void> run();
    // SIGTERM: an idle session is told 421 and closed now; one in a transaction
    // finishes it first.
    void begin_shutdown();
    void force_close();

    std::list<std::shared_ptr<Connection>>::iterator registry_entry;

private:
    enum class Outcome : std::uint8_t { Continue, Close };
    // Whom the session is waiting for: the client (both clocks run), or us — a
    // tarpit (it ends at the ConnectionTimeout deadline by itself) or a commit (never
    // cut: its reply is owed). While we are waited for, the watchdog sleeps until
    // set_waiting() wakes it.
    enum class Waiting : std::uint8_t { Client, Tarpit, Commit };
    asio::awaitable<Outcome> perform(smtp::Step step);
    asio::awaitable<bool> read_more();  // false: closed, timed out or cancelled
    asio::awaitable<bool> flush();
    asio::awaitable<Outcome> read_data();
    asio::awaitable<Outcome> read_chunk(std::uint64_t size);
    asio::awaitable<Outcome> start_tls();
    asio::awaitable<Outcome> commit();
    // The transport agents at an SMTP event (agents_for_command: the ones with I/O first).
    std::optional<smtp::ReplyId> run_agents(agents::AgentEvent e, const agents::Envelope& envelope);
    asio::awaitable<void> agents_for_command(std::string_view line);
    void see_session_for_agents();
    agents::Envelope envelope_so_far() const;
    asio::awaitable<void> watchdog();
    asio::awaitable<void> say_goodbye(smtp::ReplyId reply);
    std::optional<std::string> next_line(bool* too_long);
    void queue_replies(const std::vector<std::string>& replies);
    void touch() { last_activity_ = std::chrono::steady_clock::now(); }
    void set_waiting(Waiting w);
    bool past_deadline() const { return std::chrono::steady_clock::now() >= deadline_; }
    // The last 5 s: what we still write (a 421) must go out by then, or the socket is closed.
    void begin_final_grace();
    // Tells the session memory total what this session holds now.
    void account();
    void log(logging::LogEvent e, std::string_view data, std::string_view context = {}) { plog_.log(e, data, context); }

    Server::Impl& server_;
    tcp::socket sock_;
    std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
    std::shared_ptr<const ConfigSnapshot> snapshot_;
    const ReceiveConnector& connector_;
    ConnectionAccounting::Admission admission_;
    std::string local_ip_, remote_ip_;
    std::string session_id_;
    logging::ProtocolLogSession plog_;
    std::optional<smtp::Session> session_;
    agents::AgentSession agents_;  // what the transport agents see of this session, and its message's agent state
    std::string in_;
    std::size_t in_pos_ = 0;
    std::string out_;
    asio::steady_timer watchdog_timer_;
    std::chrono::steady_clock::time_point last_activity_, deadline_, grace_end_;
    backpressure::SessionMemory::Share memory_;
    backpressure::DiskAdmission::Reservation disk_;  // this transaction's room on the queue volume
    const smtp::DataReader* reader_ = nullptr;  // during DATA: the body being read
    std::uint64_t committing_bytes_ = 0;        // the body handed to the queue, until its commit ends
    std::uint32_t transactions_ = 0;
    bool timed_out_ = false;
    bool final_grace_ = false;
    Waiting waiting_ = Waiting::Client;
    bool idle_read_ = false;     // waiting for a command: shutdown may interrupt
    bool shutdown_asked_ = false;
    bool closed_ = false;
    bool remote_closed_ = false;
    bool skipping_long_line_ = false;  // inside a line longer than kMaxCommandLine
};

}  // namespace edge::receive
