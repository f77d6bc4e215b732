// The SMTP connection driver's face: what the server lends every connection
// (ConnectionServices), the part of the configuration a session keeps
// (ReceiveSnapshot), and the Connection itself, the thin coroutine driver around
// smtp::Session. The driver knows sockets, timers, the session and MessageAcceptance.
#pragma once

#include "acceptance.hpp"
#include "agent_log.hpp"
#include "asio.hpp"
#include "categorizer.hpp"
#include "disk_admission.hpp"
#include "protocol_log.hpp"
#include "receive_connector.hpp"
#include "pipeline.hpp"
#include "pre_greet.hpp"
#include "recipient_filter.hpp"
#include "session.hpp"
#include "session_memory.hpp"
#include "tls.hpp"
#include "registry.hpp"
#include "verdict_counters.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace edge::receive {

// What a session reads from the config store, read once per generation. Sessions keep
// the snapshot they started with (changes apply to new sessions). The server's
// snapshot (transport/server/server_impl.hpp) extends it with what only it reads.
struct ReceiveSnapshot {
    std::uint64_t generation = 0;
    std::vector<ReceiveConnector> connectors;
    std::shared_ptr<const routing::Categorizer> categorizer;          // accepted domains: relay control at RCPT
    std::shared_ptr<const agents::RecipientFilter> recipient_filter;  // RCPT TO, after relay control
    std::shared_ptr<const agents::Pipeline> agents;  // the transport agents (relay control first)
    // Domain Security (issue 20): Set-TransportConfig -TLSReceiveDomainSecureList, lower
    // case; held to it on connectors with DomainSecureEnabled.
    std::vector<std::string> domain_secure_domains;
};

// What the server lends every connection; it outlives them all.
struct ConnectionServices {
    // STARTTLS's certificates (none: not offered). The server swaps in a new set when the
    // administrator enables or removes one (issue 20); a session keeps the set it took.
    std::shared_ptr<const ServerCertificates> certificates;
    logging::ProtocolLog* receive_log = nullptr;        // SmtpReceive; none: not written
    std::string host_name;                              // the protocol log's "<host>\<connector>"
    backpressure::SessionMemory* session_memory = nullptr;   // ReceiveSessionMemoryLimit
    backpressure::DiskAdmission* disk_admission = nullptr;   // the queue volume's room (issue 14)
    std::function<bool(std::uint32_t permissions)> accepting_mail;  // back pressure at MAIL
    MessageAcceptance* acceptance = nullptr;            // where finished messages go
    agents::VerdictSink* agent_log = nullptr;           // agents' verdicts (the agent log); none: not written
    agents::VerdictCounters* verdict_counters = nullptr;  // agents' verdicts counted (the metrics issue)
    metrics::Registry* metrics = nullptr;  // issue 21: counted on the I/O thread; none: not counted
    // The pre-greet test (pre_greet.hpp): clients that passed (none: every client waits
    // each time), and where an early talker's address is told (Sender Reputation).
    PreGreetCache* pre_greet_cache = nullptr;
    std::function<void(const std::string& ip)> on_early_talker;
};

// The client's address as logs and headers show it: an IPv4 client on a dual-stack
// socket ("::ffff:192.0.2.1") as plain IPv4.
inline std::string address_text(const asio::ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped()) return a.to_v6().to_v4().to_string();
    return a.to_string();
}

// One SMTP connection: reads bytes, feeds the session, writes its replies, runs the
// tarpit, TLS, DATA/BDAT, hands the finished message to MessageAcceptance, and keeps
// the two clocks (ConnectionInactivityTimeout, ConnectionTimeout).
class Connection : public std::enable_shared_from_this<Connection> {
public:
    Connection(const ConnectionServices& services, tcp::socket sock, std::shared_ptr<const ReceiveSnapshot> snapshot,
               const ReceiveConnector& connector, ConnectionAccounting::Admission admission);
    asio::awaitable<void> run();
    // SIGTERM: an idle session is told 421 and closed now; one in a transaction
    // finishes it first.
    void begin_shutdown();
    void force_close();
    const std::string& session_id() const { return session_id_; }

    std::list<std::shared_ptr<Connection>>::iterator registry_entry;

private:
    enum class Outcome : std::uint8_t { Continue, Close };
    // Where this session's agent verdicts go: the agent log, the counters, and the
    // session's own protocol log (an Information line beside the reply it explains).
    class SessionVerdicts final : public agents::VerdictSink {
    public:
        explicit SessionVerdicts(Connection& c) : c_(c) {}
        void record(const agents::VerdictRecord& r) override;

    private:
        Connection& c_;
    };
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
    void count_commit(const AcceptanceOutcome& out, std::chrono::steady_clock::duration took);
    asio::awaitable<Outcome> pre_greet();  // the pre-greet test before the banner
    // The transport agents at an SMTP event (agents_for_command: the ones with I/O first).
    std::optional<smtp::AgentReply> run_agents(agents::AgentEvent e, const agents::Envelope& envelope);
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
    // Domain Security applies here: the connector has it on and partners are listed.
    bool domain_secure() const { return connector_.domain_secure_enabled && !snapshot_->domain_secure_domains.empty(); }

    const ConnectionServices& services_;
    tcp::socket sock_;
    std::shared_ptr<const ServerCertificates> certificates_;  // before tls_: outlives the stream
    std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
    std::shared_ptr<const ReceiveSnapshot> snapshot_;
    const ReceiveConnector& connector_;
    ConnectionAccounting::Admission admission_;
    std::string local_ip_, remote_ip_;
    std::string session_id_;
    logging::ProtocolLogSession plog_;
    std::optional<smtp::Session> session_;
    agents::AgentSession agents_;  // what the transport agents see of this session, and its message's agent state
    SessionVerdicts verdicts_{*this};
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
