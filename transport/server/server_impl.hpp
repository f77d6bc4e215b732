// Inside the server: the live configuration snapshot, the listeners, the sessions'
// registry, and the parts the server owns (queue, acceptance, delivery, EdgeSync
// listener, back-pressure monitor, logs). Private to server/.
#pragma once

#include "agent_config.hpp"
#include "asio.hpp"
#include "back_pressure.hpp"
#include "categorizer.hpp"
#include "data_dir_lock.hpp"
#include "delivery.hpp"
#include "http_endpoint.hpp"
#include "dkim_signing.hpp"
#include "message_acceptance.hpp"
#include "message_tracking.hpp"
#include "mta_sts.hpp"
#include "pickup_directory.hpp"
#include "protocol_log.hpp"
#include "recipient_filter.hpp"
#include "registry.hpp"
#include "reputation_service.hpp"
#include "queue_db.hpp"
#include "receive_connector.hpp"
#include "server.hpp"
#include "service_notify.hpp"
#include "session.hpp"
#include "session_memory.hpp"
#include "smtp_connection.hpp"
#include "sync_listener.hpp"
#include "tls_report_service.hpp"
#include "wait_group.hpp"

#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace edge::server {

using receive::Connection;
using receive::ConnectionAccounting;
using receive::ReceiveConnector;

// Everything the server reads from the config store, read once per generation: what
// sessions keep (receive::ReceiveSnapshot: connectors, accepted domains, the Recipient
// Filter) and what only the server's parts read.
struct ConfigSnapshot : receive::ReceiveSnapshot {
    std::shared_ptr<const send::SendConfig> send;  // Send connectors and delivery settings (the same categorizer)
    agents::AgentLogSettings agent_log;
    logging::MessageTrackingSettings tracking;
    logging::ProtocolLogLimits receive_log_limits;
    std::chrono::seconds message_expiration{};
    std::string auth_serv_id;                          // Set-DmarcConfig -AuthServId, else the server's FQDN
    std::shared_ptr<const DkimSigners> dkim_signers;   // New-DkimSigningConfig, keys loaded
    std::string tls_certificate_authority_file;        // Domain Security's trust, besides the system store
    std::vector<routing::Binding> metrics_bindings;     // Set-TransportServer -MetricsBindings (issue 21)
    PickupSettings pickup;                             // issue 21: PickupDirectory*
    std::chrono::seconds queue_max_idle_time{180};     // QueueMaxIdleTime
};

struct Server::Impl {
    explicit Impl(ServerOptions options);
    ~Impl();

    // --- configuration -------------------------------------------------------------
    void ensure_first_start_objects();
    std::shared_ptr<const ConfigSnapshot> read_snapshot();
    void apply_agent_services(const config::TransportServerSettings& ts);
    void apply_tls_policy(const config::TransportServerSettings& ts, std::shared_ptr<const send::SendConfig> send);
    void reload(bool forced);          // re-read the config store when its generation moved
    void reconcile_listeners();        // open new bindings, close the ones no connector uses
    asio::awaitable<void> poll_config();
    void say_reserve_changes();        // the queue reserve was given to delivery, or new mail flows again
    void sweep_ip_lists();             // expired IP Block/Allow List entries leave the store (issue 17)
    // Issue 20: STARTTLS's certificates (Enable-ExchangeCertificate) built into a new set
    // for new sessions when they or TlsCertificateAuthorityFile changed; and the daily
    // word on certificates within 30 days of NotAfter.
    // `forced` (SIGHUP): rebuilt even when the objects are the same, as their files may
    // have been renewed in place.
    void refresh_certificates(const std::string& ca_file, bool forced = false);
    void warn_expiring_certificates();
    // SIGHUP (systemctl reload): the configuration, the bootstrap file's live keys and
    // every certificate's files read again, between RELOADING=1 and READY=1.
    void reload_everything();
    void notice_admin_changes();  // the admin generation moved: delivery looks at its queues now

    // --- Exchange's operational files (issue 21) -------------------------------------
    // A Pickup directory file through the acceptance path (categorizer, no SMTP agents).
    asio::awaitable<PickupSubmitted> submit_pickup(PickupMessage message, std::string file);
    void track_bad_pickup(const std::string& file, const std::string& reason);  // BADMAIL, source PICKUP
    void track_poisoned();    // POISONMESSAGE for what this start's recovery moved to Poison
    void remove_idle_queues();  // QueueMaxIdleTime

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
    // The server's local sockets for edgectl (queue::server_socket_name): each client of
    // root or our own user gets answer() and the close. "status": Get-BackPressure's live
    // answer, needing no disk; "config": the applied configuration generation, after
    // applying a moved one (config/applied_generation.hpp, issue 21).
    asio::awaitable<void> serve_local_socket(std::string purpose, std::function<std::string()> answer);
    std::string answer_config_socket();
    bool accepting_mail(std::uint32_t permissions) const;

    // --- metrics and health (issue 21, transport/metrics/) -------------------------------
    std::string render_metrics();                   // GET /metrics, on the I/O thread
    std::optional<std::string> not_ready() const;   // GET /readyz: why not, or nullopt

    // --- shutdown ----------------------------------------------------------------------
    void reload_bootstrap();
    asio::awaitable<void> wait_signals();
    asio::awaitable<void> shut_down();

    // --- systemd (issue 21) -----------------------------------------------------------------
    asio::awaitable<void> keep_watchdog();          // WATCHDOG=1 from the I/O thread: a wedged loop misses it
    asio::awaitable<void> report_service_status();  // STATUS=, when it changes, at most once a second
    std::string service_status() const;

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
    // Issue 21: the I/O thread's counters. Declared before io and every part that holds a
    // pointer to it (sessions, delivery), so it outlives them.
    metrics::Registry metrics;
    asio::io_context io{1};
    // STARTTLS: the bootstrap file's certificate (or the first-start one), the default
    // while no certificate is enabled for SMTP; the live set is services.certificates.
    std::shared_ptr<asio::ssl::context> bootstrap_tls;
    std::string bootstrap_certificate_file;
    receive::TlsFiles bootstrap_tls_files;  // read again on SIGHUP (a certificate renewed in place)
    std::string certificates_source;  // what services.certificates was built from: a change rebuilds it
    std::chrono::system_clock::time_point next_expiry_check{};
    std::shared_ptr<const ConfigSnapshot> snapshot;
    std::map<std::string, std::shared_ptr<Listener>> listeners;  // by Binding text
    std::list<std::shared_ptr<Connection>> connections;
    std::unique_ptr<logging::ProtocolLog> receive_log;
    std::unique_ptr<logging::MessageTrackingLog> tracking;
    std::unique_ptr<agents::AgentLog> agent_log;
    agents::VerdictCounters verdict_counters;  // by agent and action, for the metrics issue
    // The agents' shared services: the receive side's DNS resolver (InternalDNSServers;
    // retuned when they change, see apply_agent_services).
    // CPU work taken off the I/O thread (issue 18: DKIM verification and signing). One
    // thread: the I/O thread and the commit thread have the other core's worth. Declared
    // after `io`, so it is joined (destroyed) first and never posts to a dead context.
    asio::thread_pool cpu{1};
    agents::AgentServices agent_services;
    std::vector<std::string> agent_dns_servers;  // as configured, to see a change
    // Other agents' refusals go to sender reputation, then on to the agent log.
    std::unique_ptr<agents::ReputationVerdictTee> verdict_tee;
    // MTA-STS and TLS-RPT (issue 20, transport/sts/): the delivery service's TLS policy
    // hooks, so declared before it (they must outlive it).
    std::unique_ptr<sts::ResolverStsDns> sts_dns;
    std::unique_ptr<sts::MtaStsPolicySource> mta_sts;
    std::unique_ptr<sts::TlsReportService> tls_reports;
    std::unique_ptr<send::DeliveryService> delivery;
    std::unique_ptr<MessageQueue> queue_sink;       // the queue database, as acceptance sees it
    std::unique_ptr<MessageAcceptance> acceptance;  // every finished message, from every session
    receive::ConnectionServices services;           // what every session borrows from us
    receive::PreGreetCache pre_greet_cache;         // clients that passed the pre-greet test (in memory, bounded)
    async::WaitGroup sessions{io.get_executor()};   // sessions still running: shutdown waits on it
    std::unique_ptr<EdgeSyncListener> edgesync;  // while a subscription exists
    std::unique_ptr<backpressure::BackPressureMonitor> monitor;
    std::unique_ptr<metrics::HttpEndpoint> metrics_http;  // /metrics, /healthz, /readyz on -MetricsBindings
    std::uint64_t admin_generation = 0;  // last seen; a change wakes the delivery scheduler
    // When poll_config next sweeps expired IP Block/Allow List entries from the store
    // (they stop matching at their ExpirationTime anyway; this only tidies).
    std::chrono::system_clock::time_point next_ip_list_sweep{};
    queue::QueueDb::ReserveState reserve_seen{};  // last seen; changes are logged
    bool status_file_failed = false;
    std::uint64_t logs_dropped_before_pause = 0;  // logging::lines_dropped_while_paused() when the pause began
    // The Pickup directory (issue 21); declared after `acceptance`, whose path it uses.
    std::unique_ptr<PickupDirectory> pickup;
    std::uint64_t pickup_count = 0;  // receive ids of pickup files: "Pickup.<n>"
    // QueueMaxIdleTime: when each next-hop queue was first seen empty (in memory: a
    // restart starts the wait again), and when poll_config looks next.
    std::map<std::string, std::chrono::steady_clock::time_point> queue_empty_since;
    std::chrono::steady_clock::time_point next_idle_sweep{};
    bool stopping = false;
    ServiceNotifier notifier;  // systemd: a no-op without NOTIFY_SOCKET
    std::chrono::seconds shutdown_timeout{10};
    std::chrono::seconds config_poll_interval{1};
};

}  // namespace edge::server
