// The server: first start, live configuration, listeners and admission, back
// pressure, signals and graceful shutdown. One I/O thread runs every session (the
// queue's committer threads do the disk work); see ARCHITECTURE.md.
#include "server_impl.hpp"

#include "completion.hpp"

#include "accept_pause.hpp"
#include "applied_generation.hpp"
#include "bootstrap.hpp"
#include "config_store.hpp"
#include "dns_resolver.hpp"
#include "edge_state.hpp"
#include "host_name.hpp"
#include "ip_list_store.hpp"
#include "private_file.hpp"
#include "address.hpp"
#include "spawn.hpp"
#include "certificate_store.hpp"
#include "data_dir_lock.hpp"
#include "text_helpers.hpp"
#include "tls.hpp"
#include "version.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>

namespace edge::server {

namespace {
using namespace std::chrono_literals;
using receive::address_text;
using receive::select_connector;
using async::use_tuple;  // completion.hpp

void say(const std::string& line) {
    std::fprintf(stderr, "edge-transport: %s\n", line.c_str());
    std::fflush(stderr);
}

routing::IpAddress to_ip(const asio::ip::address& a) {
    return routing::IpAddress::parse(address_text(a)).value.value_or(routing::IpAddress{});
}

// Sessions may hold many descriptors (5,000 connections by default): take the hard limit.
void raise_descriptor_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
}


// The queue database as acceptance's queue.
class QueueDbSink final : public MessageQueue {
public:
    explicit QueueDbSink(queue::QueueDb& db) : db_(db) {}
    void enqueue_async(queue::NewMessage message, Done done) override { db_.enqueue_async(std::move(message), std::move(done)); }

private:
    queue::QueueDb& db_;
};

// What acceptance reads from a configuration snapshot.
AcceptanceSettings acceptance_settings(const ConfigSnapshot& s) {
    AcceptanceSettings a{s.categorizer, s.message_expiration, s.auth_serv_id, {}};
    if (s.dkim_signers && !s.dkim_signers->empty())
        a.dkim_sign = [signers = s.dkim_signers](std::string_view domain, const std::vector<std::string>& message) {
            return signers->sign(domain, message);
        };
    return a;
}

// The Recipient Filter agent as configured now: Set-RecipientFilterConfig, and the
// recipient hash key of the EdgeSync subscription (none: no recipient lookup).
std::shared_ptr<const agents::RecipientFilter> read_recipient_filter(const queue::QueueDb& db) {
    const config::RecipientFilterConfigSettings c =
        config::recipient_filter_config_settings(config::load_singleton(db, config::ObjectKind::RecipientFilterConfig));
    agents::RecipientFilterSettings s;
    s.enabled = c.enabled;
    s.external_mail_enabled = c.external_mail_enabled;
    s.internal_mail_enabled = c.internal_mail_enabled;
    s.block_list_enabled = c.block_list_enabled;
    s.blocked_recipients = c.blocked_recipients;
    s.recipient_validation_enabled = c.recipient_validation_enabled;
    auto subscription = edgesync::load_subscription(db);
    std::string key = subscription ? edgesync::from_hex(subscription->hash_key).value_or("") : std::string();
    const queue::QueueDb* store = &db;
    return std::make_shared<agents::RecipientFilter>(
        std::move(s), std::move(key), [store](std::string_view hash) { return store->recipient_known(hash); });
}
}  // namespace

Server::Impl::Impl(ServerOptions opts) : options(std::move(opts)), notifier(say) {
    async::set_escaped_exception_log(say);  // a coroutine's escaped exception is our log line
    const config::BootstrapSettings b = config::bootstrap_settings(options.bootstrap);
    data_directory = b.data_directory;
    server_fqdn = b.server_fqdn.empty() ? config::host_fqdn() : b.server_fqdn;
    shutdown_timeout = b.shutdown_timeout;
    config_poll_interval = b.config_poll_interval;
    session_memory = std::make_unique<backpressure::SessionMemory>(b.receive_session_memory_limit);
    disk_admission = std::make_unique<backpressure::DiskAdmission>();
    // The queue, keys and logs live here: 0750 when we make it (an existing one is the
    // administrator's); files in it are created private (queue-db/private_file.hpp).
    if (auto ec = queue::make_directory(data_directory, 0750))
        throw std::runtime_error("data directory " + data_directory + ": " + ec.message());
    // One server per data directory: a second would lease the same queues.
    auto locked = queue::DataDirectoryLock::acquire(data_directory);
    if (!locked) {
        auto holder = queue::running_server_pid(data_directory);
        throw std::runtime_error(holder ? fmt::format("data directory {} is in use by edge-transport (pid {})",
                                                      data_directory, *holder)
                                        : fmt::format("data directory {}: {}", data_directory, locked.error().message()));
    }
    data_lock.emplace(std::move(*locked));
    queue::QueueDbOptions qo;
    qo.map_size = static_cast<std::size_t>(b.lmdb_map_size);
    qo.reserve_size = static_cast<std::size_t>(b.queue_database_reserve_size);
    // PoisonThreshold / PoisonMessageDetectionEnabled live in the config store, which is
    // in the queue database: read in the very transaction that recovers leases.
    qo.poison_config_kind = config::to_string(config::ObjectKind::TransportServer);
    qo.poison_config_name = std::string(config::kTransportServerName);
    qo.poison_settings = [](std::optional<std::string_view> record, std::uint32_t& threshold, bool& enabled) {
        config::TransportServerSettings ts;
        if (record)
            if (auto o = config::ConfigObject::deserialize(config::ObjectKind::TransportServer, *record, nullptr))
                ts = config::transport_server_settings(*o);
        threshold = static_cast<std::uint32_t>(ts.poison_threshold);
        enabled = ts.poison_message_detection_enabled;
    };
    auto opened = queue::QueueDb::open(data_directory, qo);
    if (!opened) throw std::runtime_error("queue database " + data_directory + ": " + opened.error().message());
    db = std::move(*opened);
    admin_generation = db->admin_generation();
    const auto& rec = db->recovery_report();
    if (rec.full_scan || rec.leases_returned || rec.poisoned || rec.quarantined)
        say(fmt::format("recovery{}: {} leases returned, {} messages poisoned, {} records quarantined, {} orphan bodies removed",
                        rec.full_scan ? " after an unclean stop (every record checked)" : "", rec.leases_returned,
                        rec.poisoned, rec.quarantined, rec.orphan_bodies_removed));
    ensure_first_start_objects();
    receive::TlsFiles files = receive::ensure_certificate(data_directory, server_fqdn, b.tls_certificate_file, b.tls_key_file);
    bootstrap_tls = std::make_shared<asio::ssl::context>(receive::make_server_context(files));
    bootstrap_certificate_file = files.certificate;
    bootstrap_tls_files = files;
    snapshot = read_snapshot();
    receive_log = std::make_unique<logging::ProtocolLog>(logging::ProtocolLogKind::SmtpReceive,
                                                         snapshot->receive_log_limits, kVersionText);
    tracking = std::make_unique<logging::MessageTrackingLog>(snapshot->tracking, kVersionText);
    agent_log = std::make_unique<agents::AgentLog>(snapshot->agent_log, kVersionText);
    track_poisoned();
    send::DeliveryOptions delivery_options;
    delivery_options.say = say;
    delivery_options.tls_hooks = send::TlsPolicyHooks{mta_sts.get(), tls_reports.get()};  // MTA-STS, TLS-RPT
    // Domain Security presents the receive certificate when a Send connector names none.
    delivery_options.receive_certificate_file = files.certificate;
    delivery_options.receive_key_file = files.key;
    delivery_options.metrics = &metrics;
    delivery = std::make_unique<send::DeliveryService>(io, *db, std::move(delivery_options), tracking.get());
    tls_reports->on_queued = [this] { delivery->notify(); };
    delivery->apply(snapshot->send);
    queue_sink = std::make_unique<QueueDbSink>(*db);
    AcceptanceHooks hooks;
    hooks.storage_full = [this] {
        if (monitor) monitor->report_storage_full();
    };
    hooks.track = [this](const logging::TrackingEvent& e) { tracking->write(e); };
    hooks.queued = [this] { delivery->notify(); };
    acceptance = std::make_unique<MessageAcceptance>(*queue_sink, std::move(hooks), acceptance_settings(*snapshot));
    acceptance->set_cpu_pool(&cpu);
    pickup = std::make_unique<PickupDirectory>(
        io, say, [this](PickupMessage m, std::string file) { return submit_pickup(std::move(m), std::move(file)); },
        [this](const std::string& file, const std::string& reason) { track_bad_pickup(file, reason); },
        [this] { return accepting_mail(0); });  // Exchange stops the Pickup directory from Medium
    pickup->configure(snapshot->pickup);
    refresh_certificates(snapshot->tls_certificate_authority_file);
    warn_expiring_certificates();
    services.receive_log = receive_log.get();
    services.host_name = options.host_name;
    services.session_memory = session_memory.get();
    services.disk_admission = disk_admission.get();
    services.accepting_mail = [this](std::uint32_t permissions) { return accepting_mail(permissions); };
    services.acceptance = acceptance.get();
    verdict_tee = std::make_unique<agents::ReputationVerdictTee>(agent_log.get(), agent_services.reputation);
    services.agent_log = verdict_tee.get();
    services.verdict_counters = &verdict_counters;
    services.metrics = &metrics;
    services.pre_greet_cache = &pre_greet_cache;
    services.on_early_talker = [this](const std::string& ip) {
        boost::system::error_code ec;
        auto address = asio::ip::make_address(ip, ec);
        if (!ec && agent_services.reputation) agent_services.reputation->record_early_talker(address);
    };
    // A replicated configuration is served before the agent hears OK (issue 15).
    edgesync = std::make_unique<EdgeSyncListener>(io, *db, data_directory, say, [this] { reload(false); });
    auto sources = backpressure::make_system_sources(
        data_directory,
        [this] {
            auto u = db->usage();
            return backpressure::MapUsage{u.map_size, u.used_bytes, u.free_bytes};
        },
        [this] { return acceptance->commits_in_flight(); });
    auto pressure = b.back_pressure;
    if (auto err = backpressure::validate(pressure)) throw std::runtime_error("back pressure: " + *err);
    monitor = std::make_unique<backpressure::BackPressureMonitor>(pressure, std::move(sources));
    monitor->feed(disk_admission.get());
    monitor->on_level_change = [](backpressure::BackPressureLevel, backpressure::BackPressureLevel,
                                  const backpressure::Snapshot& s) { say(backpressure::describe(s)); };
    sample_resources();
}

Server::Impl::~Impl() {
    // Order matters: the committer's completion handlers post into io, so the queue
    // closes (draining them) while io still exists.
    edgesync.reset();  // joins its thread pool
    pickup.reset();
    delivery.reset();  // joins its thread pool: no queue call is left running
    if (db) db->close();
    receive_log.reset();
    tracking.reset();
    agent_log.reset();
}

// First start: the default Receive connector (reference §1.3) and the transport
// server's settings object. A marker keeps an administrator's removal of the
// default connector from being undone at the next start.
void Server::Impl::ensure_first_start_objects() {
    if (db->config_get("Server", "FirstStart")) return;
    std::vector<queue::ConfigChange> changes;
    config::ConfigObject rc(config::ObjectKind::ReceiveConnector);
    std::string name = "Default internal receive connector " + options.host_name;
    rc.set("Name", name);
    std::string bindings;
    for (const auto& x : config::bootstrap_settings(options.bootstrap).default_receive_connector_bindings)
        bindings += (bindings.empty() ? "" : ",") + x.str();
    rc.set("Bindings", bindings);
    rc.set("PermissionGroups", "AnonymousUsers,ExchangeServers,Partners");
    rc.set("AuthMechanism", "Tls,ExchangeServer");
    if (!db->config_get(config::to_string(config::ObjectKind::ReceiveConnector), name))
        changes.push_back({config::to_string(config::ObjectKind::ReceiveConnector), name, rc.serialize()});
    if (!db->config_get(config::to_string(config::ObjectKind::TransportServer), config::kTransportServerName))
        changes.push_back({config::to_string(config::ObjectKind::TransportServer), std::string(config::kTransportServerName),
                           config::ConfigObject(config::ObjectKind::TransportServer).serialize()});
    changes.push_back({"Server", "FirstStart", fmt::format("{}", std::time(nullptr))});
    if (auto r = db->config_apply(std::move(changes)); !r)
        throw std::runtime_error("writing the first-start configuration: " + r.error().message());
}

// The agents' DNS asks InternalDNSServers (the perimeter's own resolvers; resolv.conf
// when none), as the send side does for connectors without UseExternalDNSServersEnabled.
// A new list empties the cache, so it is applied only when it changed.
void Server::Impl::apply_agent_services(const config::TransportServerSettings& ts) {
    if (!agent_services.dns) {
        agent_services.dns = std::make_shared<dns::DnsResolver>(io.get_executor(),
                                                                dns::DnsOptions{dns::configured_servers(ts.internal_dns_servers)});
        // Sender reputation's state lives as long as the server; its FCrDNS uses the same resolver.
        agent_services.reputation = std::make_shared<agents::SenderReputationService>(io.get_executor(), db.get(),
                                                                                     agent_services.dns);
        // Exchange: an address above SrlBlockThreshold goes onto the IP Block List as a
        // machine entry for SenderBlockingPeriod (MachineEntryRejectionResponse answers it).
        // One short config-store transaction on the I/O thread; the next config poll
        // rebuilds the Connection Filtering Agent's list with it.
        agent_services.reputation->on_block = [this](const asio::ip::address& a, std::chrono::system_clock::time_point until,
                                                     const std::string& why) {
            const std::string address =
                a.is_v6() && a.to_v6().is_v4_mapped() ? a.to_v6().to_v4().to_string() : a.to_string();
            auto added = agents::add_ip_list_entry(*db, agents::IpListKind::Block, address, until,
                                                   "Sender Reputation: " + why, /*machine=*/true);
            if (added.ok())
                say(fmt::format("sender reputation: {} blocked until {:%Y-%m-%dT%H:%M:%SZ} (IPBlockListEntry {}): {}", address,
                                std::chrono::time_point_cast<std::chrono::seconds>(until), added.identity, why));
            else
                say(fmt::format("sender reputation: {} could not be blocked: {}", address, added.error));
        };
    } else if (ts.internal_dns_servers != agent_dns_servers) {
        agent_services.dns->set_options(dns::DnsOptions{dns::configured_servers(ts.internal_dns_servers)});
    }
    agent_dns_servers = ts.internal_dns_servers;
}

// MTA-STS and TLS-RPT follow the transport server's settings and the send side's
// configuration (DNS servers, routing of report mail, the postmaster address).
void Server::Impl::apply_tls_policy(const config::TransportServerSettings& ts, std::shared_ptr<const send::SendConfig> send) {
    if (!sts_dns) {
        sts_dns = std::make_unique<sts::ResolverStsDns>(io.get_executor());
        mta_sts = std::make_unique<sts::MtaStsPolicySource>(io.get_executor(), db.get(), *sts_dns);
        tls_reports = std::make_unique<sts::TlsReportService>(io.get_executor(), db.get(), *sts_dns);
        mta_sts->set_log(say);
        mta_sts->set_results(tls_reports.get());
        tls_reports->say = say;
    }
    sts_dns->apply(ts.internal_dns_servers, ts.external_dns_servers);
    sts::MtaStsSettings m;
    m.enabled = ts.mta_sts_enabled;
    m.port = static_cast<std::uint16_t>(ts.mta_sts_policy_port);
    m.fetch_timeout = ts.mta_sts_fetch_timeout;
    m.ca_file = ts.tls_certificate_authority_file;
    mta_sts->configure(m);
    tls_reports->configure(ts.tls_reporting_enabled, std::move(send));
}

std::shared_ptr<const ConfigSnapshot> Server::Impl::read_snapshot() {
    auto snap = std::make_shared<ConfigSnapshot>();
    snap->generation = db->config_generation();
    std::vector<std::string> errors;
    const config::TransportConfigSettings organization =
        config::transport_config_settings(config::load_singleton(*db, config::ObjectKind::TransportConfig));
    for (auto& o : config::load_objects(*db, config::ObjectKind::ReceiveConnector, &errors)) {
        snap->connectors.push_back(ReceiveConnector::from_object(o.object, server_fqdn));
        snap->connectors.back().apply_organization_limits(organization);
    }
    auto send = send::load_send_config(*db, server_fqdn, data_directory, &errors);
    send->generation = snap->generation;
    snap->categorizer = send->categorizer;
    const config::TransportServerSettings ts =
        config::transport_server_settings(config::load_singleton(*db, config::ObjectKind::TransportServer));
    snap->send = send;
    snap->recipient_filter = read_recipient_filter(*db);
    apply_agent_services(ts);
    apply_tls_policy(ts, send);
    agent_services.reputation->configure(config::sender_reputation_config_settings(
        config::load_singleton(*db, config::ObjectKind::SenderReputationConfig)));
    agent_services.reputation->set_ours(server_fqdn, snap->categorizer);
    agent_services.server_fqdn = server_fqdn;
    agent_services.cpu = &cpu;
    snap->agents = agents::load_pipeline(*db, snap->categorizer, snap->recipient_filter, agent_services);
    const std::string auth_serv_id =
        config::dmarc_config_settings(config::load_singleton(*db, config::ObjectKind::DmarcConfig)).auth_serv_id;
    snap->auth_serv_id = auth_serv_id.empty() ? server_fqdn : auth_serv_id;
    snap->dkim_signers = load_dkim_signers(*db, &errors);
    for (const auto& d : config::transport_config_settings(config::load_singleton(*db, config::ObjectKind::TransportConfig))
                             .tls_receive_domain_secure_list)
        snap->domain_secure_domains.push_back(text::to_lower(d));
    snap->tls_certificate_authority_file = ts.tls_certificate_authority_file;
    snap->metrics_bindings = ts.metrics_bindings;
    snap->agent_log = agents::agent_log_settings(ts, data_directory);
    const std::string& tdir = ts.message_tracking_log_path;
    snap->tracking.enabled = ts.message_tracking_log_enabled;
    snap->tracking.directory = tdir.empty() ? data_directory + "/Logs/MessageTracking" : tdir;
    snap->tracking.subject_logging_enabled = ts.message_tracking_log_subject_logging_enabled;
    const std::string& dir = ts.receive_protocol_log_path;
    snap->receive_log_limits.directory = dir.empty() ? data_directory + "/Logs/ProtocolLog/SmtpReceive" : dir;
    auto limit = [](std::uint64_t v) { return v == config::kUnlimited ? 0 : v; };
    snap->receive_log_limits.max_file_size = limit(ts.receive_protocol_log_max_file_size);
    snap->receive_log_limits.max_directory_size = limit(ts.receive_protocol_log_max_directory_size);
    snap->receive_log_limits.max_age = ts.receive_protocol_log_max_age;
    snap->tracking.max_file_size = limit(ts.message_tracking_log_max_file_size);
    snap->tracking.max_directory_size = limit(ts.message_tracking_log_max_directory_size);
    snap->tracking.max_age = ts.message_tracking_log_max_age;
    snap->message_expiration = ts.message_expiration_timeout;
    snap->pickup.directory = ts.pickup_directory_path.empty() ? data_directory + "/Pickup" : ts.pickup_directory_path;
    snap->pickup.max_messages_per_minute = ts.pickup_directory_max_messages_per_minute;
    snap->pickup.limits.max_header_size = ts.pickup_directory_max_header_size;
    snap->pickup.limits.max_recipients = ts.pickup_directory_max_recipients_per_message;
    // TODO(issue 21 item 4): MaxReceiveSize of Set-TransportConfig once it exists; until
    // then Exchange 2007 SP1's default for it, 10 MB.
    snap->pickup.limits.max_size = 10u << 20;
    snap->queue_max_idle_time = ts.queue_max_idle_time;
    for (const auto& e : errors) say("config store: " + e);
    return snap;
}

void Server::Impl::reload(bool forced) {
    if (!forced && db->config_generation() == snapshot->generation) return;
    snapshot = read_snapshot();
    if (receive_log) receive_log->set_limits(snapshot->receive_log_limits);
    if (tracking) tracking->set_settings(snapshot->tracking);
    if (agent_log) agent_log->set_settings(snapshot->agent_log);
    if (delivery) delivery->apply(snapshot->send);
    if (acceptance) acceptance->apply(acceptance_settings(*snapshot));
    if (pickup) pickup->configure(snapshot->pickup);
    refresh_certificates(snapshot->tls_certificate_authority_file);
    reconcile_listeners();
    if (edgesync) edgesync->reconcile();
    if (metrics_http) metrics_http->reconcile(snapshot->metrics_bindings);
}

asio::awaitable<void> Server::Impl::poll_config() {
    asio::steady_timer t(io);
    while (!stopping) {
        t.expires_after(config_poll_interval);
        co_await t.async_wait(use_tuple);
        if (stopping) co_return;
        reload(false);
        notice_admin_changes();
        say_reserve_changes();
        sweep_ip_lists();
        warn_expiring_certificates();
        remove_idle_queues();
    }
}

// An administrator changed the queue (Retry-Queue, Resume-Queue, Remove-Message…): the
// scheduler looks now rather than at its own timer.
void Server::Impl::notice_admin_changes() {
    if (auto g = db->admin_generation(); g != admin_generation) {
        admin_generation = g;
        if (delivery) delivery->administrator_changed();
    }
}

// Pickup directory files enter by the one acceptance path, as Exchange's do through the
// categorizer: no SMTP receive agent runs (there is no SMTP session for them to see), the
// end-of-data agents neither. They are the organisation's own mail: DKIM-signed when a
// signing configuration matches (BypassAntiSpam), but organisation headers are a
// stranger's (no AcceptOrganizationHeaders): whoever can write the directory is not trusted
// to set an SCL.
asio::awaitable<PickupSubmitted> Server::Impl::submit_pickup(PickupMessage pm, std::string file) {
    smtp::Transaction txn;
    if (!pm.sender.empty())
        if (auto mb = smtp::split_mailbox(pm.sender)) txn.sender = std::move(*mb);
    for (const auto& r : pm.recipients)
        if (auto mb = smtp::split_mailbox(r)) {
            smtp::TransactionRecipient tr;
            tr.address = std::move(*mb);
            txn.recipients.push_back(std::move(tr));
        }
    txn.message.append(pm.message);
    receive::FinishedMessage m;
    m.transaction = &txn;
    m.session_id = logging::new_session_id();
    m.receive_id = m.session_id + ".Pickup";
    m.connector_name = "Pickup";  // Get-Message MessageSourceName, as Exchange shows it
    m.connector_fqdn = server_fqdn;
    m.max_header_size = snapshot->pickup.limits.max_header_size;
    m.max_hop_count = static_cast<std::uint32_t>(config::ReceiveConnectorSettings{}.max_hop_count);
    m.permissions = smtp::permission::BypassAntiSpam;
    m.pickup = true;
    receive::AcceptanceOutcome out = co_await acceptance->accept(std::move(m));
    PickupSubmitted r;
    switch (out.result) {
        case receive::AcceptanceOutcome::Result::Queued:
        case receive::AcceptanceOutcome::Result::Deleted: r.result = PickupSubmitted::Result::Queued; break;
        case receive::AcceptanceOutcome::Result::Refused:
            r.result = PickupSubmitted::Result::Bad;
            r.reason = smtp::render(out.refusal, {out.refusal_text});
            break;
        case receive::AcceptanceOutcome::Result::Failed:
            r.result = PickupSubmitted::Result::TryLater;
            r.reason = out.error;
            say(fmt::format("Pickup directory: {} waits: the queue did not take it: {}", file, out.error));
            break;
    }
    co_return r;
}

// Exchange writes BADMAIL for a Pickup file it cannot submit; the reason is in
// source-context ("<file>: <why>"), where Get-MessageTrackingLog -EventId BADMAIL shows it.
void Server::Impl::track_bad_pickup(const std::string& file, const std::string& reason) {
    logging::TrackingEvent e;
    e.event_id = std::string(logging::tracking_event::BadMail);
    e.source = std::string(logging::tracking_source::Pickup);
    e.server_hostname = server_fqdn;
    e.source_context = file + ": " + reason;
    e.reference = file;
    tracking->write(e);
}

// Messages this start's crash recovery moved to the Poison queue (PoisonThreshold).
void Server::Impl::track_poisoned() {
    for (queue::MessageId id : db->recovery_report().poisoned_ids) {
        auto info = db->get_message(id, queue::QueueId::poison());
        if (!info) continue;
        logging::TrackingEvent e;
        e.event_id = std::string(logging::tracking_event::PoisonMessage);
        e.source = std::string(logging::tracking_source::Routing);
        e.server_hostname = server_fqdn;
        e.source_context = fmt::format("the transport stopped {} time(s) while delivering it: moved to the Poison queue",
                                       info->crash_count);
        e.internal_message_id = id;
        e.message_id = info->envelope.internet_message_id;
        for (const auto& r : info->envelope.recipients)
            if (r.status == queue::RecipientStatus::Pending) e.recipients.push_back(r.address);
        e.total_bytes = info->envelope.size;
        e.subject = info->envelope.subject;
        e.sender = info->envelope.sender;
        e.return_path = info->envelope.sender;
        tracking->write(e);
        say(fmt::format("message {} ({}) moved to the Poison queue after {} crash(es) during its delivery", id,
                        info->envelope.internet_message_id, info->crash_count));
    }
}

// QueueMaxIdleTime (Exchange: an empty delivery queue persists three minutes): a next-hop
// queue seen empty at every look for that long is removed. One short read per look
// (every half QueueMaxIdleTime, at most 30 s); a write only when a queue goes.
void Server::Impl::remove_idle_queues() {
    using namespace std::chrono;
    const auto now = steady_clock::now();
    if (now < next_idle_sweep) return;
    const seconds idle = snapshot->queue_max_idle_time;
    next_idle_sweep = now + std::clamp<steady_clock::duration>(idle / 2, 1s, 30s);
    std::map<std::string, steady_clock::time_point> still_empty;
    for (const auto& q : db->list_queues()) {
        if (q.id.kind != queue::QueueKind::NextHop || q.message_count > 0 || q.status == queue::QueueStatus::Suspended)
            continue;
        const std::string key = q.id.name();
        auto it = queue_empty_since.find(key);
        const auto since = it == queue_empty_since.end() ? now : it->second;
        if (now - since < idle) {
            still_empty.emplace(key, since);
            continue;
        }
        auto removed = db->remove_queue_if_empty(q.id);
        if (!removed) say(fmt::format("queue {}: removing it after QueueMaxIdleTime failed: {}", key, removed.error().message()));
    }
    queue_empty_since = std::move(still_empty);
}

void Server::Impl::refresh_certificates(const std::string& ca_file, bool forced) {
    std::vector<std::string> errors;
    auto stored = config::load_objects(*db, config::ObjectKind::ExchangeCertificate, &errors);
    std::string source = ca_file + "\n";
    for (const auto& o : stored) source += o.name + "\n" + o.object.serialize() + "\n";
    if (services.certificates && source == certificates_source && !forced) return;
    std::vector<receive::ServerCertificates::Enabled> enabled;
    for (const auto& o : stored) {
        const config::ExchangeCertificateSettings c = config::exchange_certificate_settings(o.object);
        if (!c.services.has(config::CertificateService::SMTP)) continue;
        try {
            receive::TlsFiles files{tls::certificate_path(data_directory, c.thumbprint), tls::key_path(data_directory, c.thumbprint)};
            auto context = std::make_shared<asio::ssl::context>(receive::make_server_context(files));
            const tls::CertificateInfo info = tls::read_stored_certificate(data_directory, c.thumbprint);
            enabled.push_back({c.thumbprint, info.domains, info.not_before, std::move(context)});
        } catch (const std::exception& e) {
            // A broken file never takes STARTTLS away: the others (or the bootstrap one) serve.
            say(fmt::format("certificate {} is enabled for SMTP but is not offered: {}", c.thumbprint, e.what()));
        }
    }
    for (const auto& e : errors) say("config store: " + e);
    const std::size_t count = enabled.size();
    auto set = std::make_shared<const receive::ServerCertificates>(bootstrap_tls, std::move(enabled), ca_file);
    if (!set->trust_problem().empty()) say("Domain Security: " + set->trust_problem() + "; the system store alone is trusted");
    const bool first = !services.certificates;
    services.certificates = std::move(set);
    certificates_source = std::move(source);
    if (count == 0 && first) return;  // the bootstrap certificate, as before issue 20: nothing to say
    say(count == 0 ? std::string("STARTTLS: no certificate is enabled for SMTP; new sessions get the bootstrap certificate")
                   : fmt::format("STARTTLS: {} certificate(s) enabled for SMTP; new sessions get them (SNI chooses)", count));
}

// At start and then daily: each certificate within 30 days of its NotAfter (or past
// it) is said in the server log, as Exchange's event log warns.
void Server::Impl::warn_expiring_certificates() {
    const auto now = std::chrono::system_clock::now();
    if (now < next_expiry_check) return;
    next_expiry_check = now + std::chrono::hours(24);
    auto warn = [&](const std::string& what, std::chrono::system_clock::time_point not_after) {
        if (not_after - now > std::chrono::days(30)) return;
        const auto days = std::chrono::duration_cast<std::chrono::days>(not_after - now).count();
        say(not_after <= now ? fmt::format("warning: certificate {} expired on {}", what, tls::format_utc(not_after))
                             : fmt::format("warning: certificate {} expires on {} (in {} days)", what,
                                           tls::format_utc(not_after), days));
    };
    for (const auto& o : config::load_objects(*db, config::ObjectKind::ExchangeCertificate)) {
        const auto c = config::exchange_certificate_settings(o.object);
        try {
            warn(c.thumbprint, tls::read_stored_certificate(data_directory, c.thumbprint).not_after);
        } catch (const std::exception&) {
            // its absence is said where it matters: refresh_certificates, Get-ExchangeCertificate
        }
    }
    try {
        warn(bootstrap_certificate_file + " (the bootstrap certificate)", tls::read_certificate_file(bootstrap_certificate_file).not_after);
    } catch (const std::exception&) {
    }
}

// Expired IP Block/Allow List entries leave the store at the earliest ExpirationTime
// stored, and at least every 10 minutes (an entry added meanwhile may expire sooner).
void Server::Impl::sweep_ip_lists() {
    const auto now = std::chrono::system_clock::now();
    if (now < next_ip_list_sweep) return;
    const agents::IpListSweep s = agents::sweep_expired_ip_list_entries(*db, now);
    next_ip_list_sweep = std::min(s.next.value_or(now + std::chrono::minutes(10)), now + std::chrono::minutes(10));
    if (s.removed > 0) say(fmt::format("connection filtering: {} expired IP list entries removed", s.removed));
}

// The queue's reserve for a full volume (issue 14): the administrator hears when
// delivery took it, so new mail waits, and when new mail is taken again.
void Server::Impl::say_reserve_changes() {
    auto r = db->reserve_state();
    if (r.given_back != reserve_seen.given_back)
        say(fmt::format("queue: the volume is full: the reserve ({} MB) went to delivery and recovery; new mail gets "
                        "452 4.3.1 until space returns",
                        r.target >> 20));
    else if (reserve_seen.new_mail_refused && !r.new_mail_refused)
        say(fmt::format("queue: space is back: new mail is accepted (reserve {} of {} MB held)", r.held >> 20,
                        r.target >> 20));
    reserve_seen = r;
}

void Server::Impl::reconcile_listeners() {
    std::map<std::string, routing::Binding> wanted;
    for (const auto& c : snapshot->connectors)
        if (c.enabled)
            for (const auto& b : c.bindings) wanted.emplace(b.str(), b);
    for (auto it = listeners.begin(); it != listeners.end();) {
        if (stopping || !wanted.contains(it->first)) {
            boost::system::error_code ec;
            it->second->acceptor.close(ec);
            it = listeners.erase(it);
        } else {
            ++it;
        }
    }
    if (stopping) return;
    for (const auto& [key, binding] : wanted) {
        if (listeners.contains(key)) continue;
        auto l = std::make_shared<Listener>(io);
        l->binding = binding;
        boost::system::error_code ec;
        auto addr = asio::ip::make_address(binding.address.str(), ec);
        tcp::endpoint ep(addr, binding.port);
        l->acceptor.open(ep.protocol(), ec);
        if (!ec) l->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec && ep.protocol() == tcp::v6()) l->acceptor.set_option(asio::ip::v6_only(true), ec);
        if (!ec) l->acceptor.bind(ep, ec);
        if (!ec) l->acceptor.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) {
            say(fmt::format("cannot listen on {}: {}", key, ec.message()));
            continue;
        }
        say(fmt::format("listening on {}", key));
        listeners.emplace(key, l);
        async::spawn(io.get_executor(), accept_loop(l), "listener on " + key);
    }
}

asio::awaitable<void> Server::Impl::accept_loop(std::shared_ptr<Listener> l) {
    AcceptErrorPause errors("accept on " + l->binding.str());
    while (l->acceptor.is_open()) {
        auto [ec, sock] = co_await l->acceptor.async_accept(use_tuple);
        if (ec == asio::error::operation_aborted || !l->acceptor.is_open()) co_return;
        if (ec) {
            // Out of descriptors or memory: wait a little rather than spin.
            if (auto line = errors.note(ec)) say(*line);
            co_await AcceptErrorPause::pause(io);
            continue;
        }
        on_accept(std::move(sock));
    }
}

void Server::Impl::on_accept(tcp::socket sock) {
    boost::system::error_code ec;
    auto local = sock.local_endpoint(ec);
    auto remote = sock.remote_endpoint(ec);
    if (ec) return;
    const ReceiveConnector* c =
        select_connector(snapshot->connectors, to_ip(local.address()), local.port(), to_ip(remote.address()));
    if (c == nullptr) return;  // no connector serves this client: the connection is closed unanswered
    if (session_memory->under_pressure()) {
        // ReceiveSessionMemoryLimit: the sessions we have hold nearly all it allows; a
        // new one is told to come back later, from the acceptor, with no session built.
        say(fmt::format("Receive connector '{}' rejected an incoming connection from IP address '{}': sessions hold {} bytes, "
                        "at least {} % of ReceiveSessionMemoryLimit",
                        c->name, remote.address().to_string(), session_memory->held(),
                        backpressure::SessionMemory::kPressurePercent));
        async::spawn(io.get_executor(),
                     refuse_connection(std::move(sock), smtp::render(smtp::ReplyId::ServiceNotAvailable, {}, c->enhanced_status_codes)),
                     "refusal on " + c->name);
        return;
    }
    ConnectionAccounting::Refusal why{};
    auto admission = accounting.admit(*c, to_ip(remote.address()), &why);
    if (!admission) {
        // Reference §1.6: answered from the acceptor, no session is built.
        say(fmt::format("Receive connector '{}' rejected an incoming connection from IP address '{}': {}", c->name,
                        remote.address().to_string(),
                        why == ConnectionAccounting::Refusal::SourceLimit ? "the maximum number of connections per source has been reached"
                                                                          : "the maximum number of connections has been reached"));
        async::spawn(io.get_executor(),
                     refuse_connection(std::move(sock), smtp::render(smtp::ReplyId::TooManyConnections, {}, c->enhanced_status_codes)),
                     "refusal on " + c->name);
        return;
    }
    metrics.sessions_accepted.add({c->name});
    auto conn = std::make_shared<Connection>(services, std::move(sock), snapshot, *c, std::move(admission));
    connections.push_front(conn);
    conn->registry_entry = connections.begin();
    sessions.add();
    async::spawn(io.get_executor(), conn->run(), "SMTP session " + conn->session_id(), [this, conn] {
        connections.erase(conn->registry_entry);
        sessions.done();
    });
}

asio::awaitable<void> Server::Impl::refuse_connection(tcp::socket sock, std::string reply) {
    reply += "\r\n";
    // The guard's handler owns the socket too: an expiry already queued when the write
    // completes runs after this frame is gone and must not close a destroyed socket
    // (the same class as the EdgeSync watchdog's, issue 13).
    auto s = std::make_shared<tcp::socket>(std::move(sock));
    asio::steady_timer guard(io);
    guard.expires_after(5s);
    guard.async_wait([s](boost::system::error_code e) {
        if (!e) s->close(e);
    });
    co_await asio::async_write(*s, asio::buffer(reply), use_tuple);
    guard.cancel();
    boost::system::error_code ec;
    s->shutdown(tcp::socket::shutdown_both, ec);
    s->close(ec);
}

// The back-pressure keys of the bootstrap file apply live on SIGHUP, as Exchange's
// would after a service restart; a file with errors changes nothing.
void Server::Impl::reload_bootstrap() {
    if (options.config_path.empty()) return;
    auto loaded = config::load_bootstrap(options.config_path, options.overrides);
    for (const auto& e : loaded.errors) say("SIGHUP: " + e);
    if (!loaded.errors.empty()) return;
    auto settings = config::bootstrap_settings(loaded.settings).back_pressure;
    if (auto err = backpressure::validate(settings)) {
        say("SIGHUP: " + *err);
        return;
    }
    options.bootstrap = std::move(loaded.settings);
    monitor->set_settings(settings);
    sample_resources();
}

bool Server::Impl::accepting_mail(std::uint32_t permissions) const {
    if (session_memory->under_pressure()) return false;  // ReceiveSessionMemoryLimit, for every session alike
    return backpressure::accepts_new_mail(monitor->level(), (permissions & smtp::permission::HubOrPartner) != 0);
}

asio::awaitable<void> Server::Impl::monitor_resources() {
    asio::steady_timer t(io);
    while (!stopping) {
        t.expires_after(monitor->settings().resource_monitoring_interval);
        co_await t.async_wait(use_tuple);
        if (stopping) co_return;
        sample_resources();
    }
}

// Every sample is also written to <data>/BackPressure.status for edgectl
// Get-BackPressure; a file that cannot be written is said once and never stops us.
void Server::Impl::sample_resources() {
    auto snap = monitor->sample();
    yield_logs(snap);
    try {
        backpressure::write_status_file(data_directory, snap);
        status_file_failed = false;
    } catch (const std::exception& e) {
        if (!status_file_failed) say(std::string("back pressure status file: ") + e.what());
        status_file_failed = true;
    }
}

// The server's local sockets (issue 14's status socket; issue 21's config socket): each
// client gets answer() and the close; a client of another user (not root) gets only the
// close. Answers are at most about 1 KB, far below a unix socket's buffer: the
// non-blocking write never waits.
asio::awaitable<void> Server::Impl::serve_local_socket(std::string purpose, std::function<std::string()> answer) {
    using local = asio::local::stream_protocol;
    local::acceptor acceptor(io);
    boost::system::error_code ec;
    acceptor.open(local(), ec);
    if (!ec) acceptor.bind(local::endpoint(queue::server_socket_name(data_directory, purpose)), ec);
    if (!ec) acceptor.listen(16, ec);
    if (ec) {
        say(fmt::format("{} socket: {}; {}", purpose, ec.message(),
                        purpose == "status" ? "edgectl Get-BackPressure reads the status file"
                                            : "edgectl cannot confirm that a change is applied (the 1 s poll applies it)"));
        co_return;
    }
    AcceptErrorPause errors("accept on the " + purpose + " socket");
    while (!stopping) {
        auto [e, sock] = co_await acceptor.async_accept(use_tuple);
        if (e == asio::error::operation_aborted || stopping) co_return;
        if (e) {
            if (auto line = errors.note(e)) say(*line);
            co_await AcceptErrorPause::pause(io);
            continue;
        }
        ucred cred{};
        socklen_t cl = sizeof cred;
        if (::getsockopt(sock.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0 ||
            (cred.uid != 0 && cred.uid != ::geteuid()))
            continue;  // closed unanswered
        const std::string text = answer();
        sock.non_blocking(true, ec);
        if (!ec) sock.write_some(asio::buffer(text), ec);
        sock.shutdown(local::socket::shutdown_both, ec);
    }
}

// edgectl has just changed the config store (or asks what is applied): a moved generation
// is applied now, on this thread as the poll would, so the answer means "live for the next
// session". Only root and our own user get here; an unchanged generation costs one read.
std::string Server::Impl::answer_config_socket() {
    if (!stopping) {
        reload(false);
        notice_admin_changes();
    }
    return config::format_applied_generation(snapshot->generation);
}

// Logs yield to the queue (issue 14): from Medium on the queue volume's resource, the
// protocol and tracking logs on that volume drop their lines (counted); at Normal they
// write again, and we say how many lines were lost.
void Server::Impl::yield_logs(const backpressure::Snapshot& snap) {
    auto level = backpressure::BackPressureLevel::Normal;
    for (const auto& r : snap.resources)
        if (r.resource == backpressure::kDiskSpaceResource) level = r.level;
    if (level >= backpressure::BackPressureLevel::Medium && !logging::logs_paused()) {
        auto volume = logging::volume_of(data_directory);
        if (!volume) return;
        logs_dropped_before_pause = logging::lines_dropped_while_paused();
        logging::pause_logs_on_volume(*volume);
        say(fmt::format("{} is at {}: protocol and message tracking log lines on the queue volume are dropped "
                        "(and counted) until it is Normal again",
                        backpressure::kDiskSpaceResource, backpressure::to_string(level)));
    } else if (level == backpressure::BackPressureLevel::Normal && logging::logs_paused()) {
        logging::resume_logs();
        say(fmt::format("{} is Normal: protocol and message tracking logs write again; {} lines were dropped",
                        backpressure::kDiskSpaceResource,
                        logging::lines_dropped_while_paused() - logs_dropped_before_pause));
    }
}

asio::awaitable<void> Server::Impl::wait_signals() {
    asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
    while (true) {
        auto [ec, sig] = co_await signals.async_wait(use_tuple);
        if (ec) co_return;
        if (sig == SIGHUP) {
            say("SIGHUP: reloading the configuration and certificates");
            reload_everything();
            continue;
        }
        say(fmt::format("signal {}: shutting down", sig));
        notifier.stopping();
        co_await shut_down();
        co_return;
    }
}

// systemctl reload: the config store (even at the same generation), the bootstrap file's
// live keys, the bootstrap certificate's files and every enabled certificate's, so a
// certificate renewed in place (certbot's deploy hook runs `systemctl reload`) is served
// to new sessions. A file that no longer loads keeps the one loaded before.
void Server::Impl::reload_everything() {
    notifier.reloading();
    try {
        bootstrap_tls = std::make_shared<asio::ssl::context>(receive::make_server_context(bootstrap_tls_files));
    } catch (const std::exception& e) {
        say(fmt::format("SIGHUP: the certificate {} was not reloaded: {}", bootstrap_tls_files.certificate, e.what()));
    }
    reload(true);
    refresh_certificates(snapshot->tls_certificate_authority_file, /*forced=*/true);
    reload_bootstrap();
    notifier.status(service_status());
    notifier.ready();
}

// What `systemctl status` shows under the unit: the back-pressure level and the messages
// in the queue database (one mdb_stat, no walk).
std::string Server::Impl::service_status() const {
    return fmt::format("Back pressure {}; {} messages queued; configuration generation {}",
                       backpressure::to_string(monitor->level()), db->message_count(), snapshot->generation);
}

asio::awaitable<void> Server::Impl::report_service_status() {
    asio::steady_timer t(io);
    while (!stopping) {
        notifier.status(service_status());  // sent only when it changed
        t.expires_after(1s);
        co_await t.async_wait(use_tuple);
    }
}

asio::awaitable<void> Server::Impl::keep_watchdog() {
    const auto interval = *notifier.watchdog_interval();
    asio::steady_timer t(io);
    // Through shutdown too: a shutdown waiting on sessions is not wedged.
    while (true) {
        notifier.watchdog();
        t.expires_after(interval);
        auto [ec] = co_await t.async_wait(use_tuple);
        if (ec) co_return;
    }
}

// Polite cancel, bounded wait, forced close (style.md §6).
asio::awaitable<void> Server::Impl::shut_down() {
    stopping = true;
    reconcile_listeners();  // closes every acceptor
    if (metrics_http) metrics_http->stop();
    if (edgesync) edgesync->stop();
    if (pickup) pickup->stop();
    for (auto& c : connections) c->begin_shutdown();
    if (!co_await sessions.wait_until(std::chrono::steady_clock::now() + shutdown_timeout)) {
        for (auto& c : connections) c->force_close();
        co_await sessions.wait();
    }
    // Outbound connections finish the message in flight; the rest of their leases go back.
    if (delivery) co_await delivery->stop();
    io.stop();
}

// GET /metrics: the I/O thread's counters, the process counters of the other threads,
// and what is read now — sessions open, queues, back pressure, agents' verdicts, the
// group commit. Runs on the I/O thread, so the plain counters need no lock.
std::string Server::Impl::render_metrics() {
    using metrics::Family;
    using metrics::MetricType;
    std::vector<Family> out = metrics.collect();
    auto gauge = [&](std::string name, std::string help) -> Family& {
        out.push_back(Family{std::move(name), std::move(help), MetricType::Gauge, {}, {}, {}});
        return out.back();
    };
    auto counter = [&](std::string name, std::string help) -> Family& {
        out.push_back(Family{std::move(name), std::move(help), MetricType::Counter, {}, {}, {}});
        return out.back();
    };
    auto n = [](std::uint64_t v) { return static_cast<double>(v); };
    {
        Family& f = gauge("edge_transport_receive_sessions_open", "SMTP sessions open now, by Receive connector");
        for (const auto& c : snapshot->connectors) f.samples.push_back({{{"connector", c.name}}, n(accounting.total(c.name))});
    }
    {
        Family& f = counter("edge_transport_agent_verdicts_total",
                            "Transport agents' verdicts other than Continue, by agent and action (Exchange's words)");
        for (const auto& r : verdict_counters.rows()) f.samples.push_back({{{"agent", r.agent}, {"action", r.action}}, n(r.count)});
    }
    {
        // Counts kept by the queue's own transactions and the oldest message found by one
        // seek per status: a scrape costs the same with ten messages queued as a million.
        const auto queues = db->list_queues();
        Family& f = gauge("edge_transport_queue_messages", "Messages in each queue, by status (Get-Queue's counts)");
        for (const auto& q : queues) {
            const std::string name = q.id.name();
            f.samples.push_back({{{"queue", name}, {"status", "Active"}}, n(q.active_count)});
            f.samples.push_back({{{"queue", name}, {"status", "Ready"}}, n(q.ready_count)});
            f.samples.push_back({{{"queue", name}, {"status", "Retry"}}, n(q.retry_count)});
            f.samples.push_back({{{"queue", name}, {"status", "Suspended"}}, n(q.suspended_count)});
            f.samples.push_back({{{"queue", name}, {"status", "PendingRemove"}}, n(q.pending_remove_count)});
        }
        Family& age = gauge("edge_transport_queue_oldest_message_age_seconds",
                            "Seconds since the oldest message in each queue arrived (0 when it is empty)");
        const auto now = queue::now_timestamp();
        for (const auto& q : queues) {
            double seconds = 0;
            if (q.oldest_arrival && *q.oldest_arrival < now)
                seconds = std::chrono::duration<double>(now - *q.oldest_arrival).count();
            age.samples.push_back({{{"queue", q.id.name()}}, seconds});
        }
    }
    {
        const auto cs = db->commit_stats();
        counter("edge_transport_queue_commits_total", "Queue database write transactions committed (group commits)")
            .samples.push_back({{}, n(cs.commits)});
        counter("edge_transport_queue_commit_writes_total",
                "Writes those transactions carried: its rate over the commits' rate is the group-commit batch size")
            .samples.push_back({{}, n(cs.writes)});
        Family batch{"edge_transport_queue_commit_batch_writes", "Writes carried by each group commit (its batch size)",
                     MetricType::Histogram, {}, cs.batch_size_bounds, {}};
        batch.histograms.push_back({{}, cs.batch_size_counts, cs.writes_sum, cs.commits});
        out.push_back(std::move(batch));
        Family latency{"edge_transport_queue_commit_duration_seconds",
                       "Each group commit from its write transaction's start to the fsync'd commit", MetricType::Histogram,
                       {}, cs.commit_seconds_bounds, {}};
        latency.histograms.push_back({{}, cs.commit_seconds_counts, cs.commit_seconds_sum, cs.commits});
        out.push_back(std::move(latency));
        gauge("edge_transport_queue_commits_in_flight", "Messages waiting for their commit (the submission backlog)")
            .samples.push_back({{}, n(acceptance->commits_in_flight())});
    }
    {
        const backpressure::Snapshot bp = monitor->snapshot();
        gauge("edge_transport_back_pressure_level", "Back pressure: 0 Normal, 1 Medium, 2 High")
            .samples.push_back({{}, static_cast<double>(bp.level)});
        Family& value = gauge("edge_transport_back_pressure_resource_value",
                              "Each monitored resource's last reading, in its unit (percent, or messages)");
        Family& level = gauge("edge_transport_back_pressure_resource_level", "Each resource's level: 0 Normal, 1 Medium, 2 High");
        Family& threshold = gauge("edge_transport_back_pressure_resource_threshold",
                                  "Each resource's thresholds, in its unit: the level it is for");
        for (const auto& r : bp.resources) {
            const std::string unit = r.unit == "%" ? "percent" : "messages";
            value.samples.push_back({{{"resource", r.resource}, {"unit", unit}}, r.value});
            level.samples.push_back({{{"resource", r.resource}}, static_cast<double>(r.level)});
            threshold.samples.push_back({{{"resource", r.resource}, {"level", "Normal"}}, r.thresholds.normal});
            threshold.samples.push_back({{{"resource", r.resource}, {"level", "Medium"}}, r.thresholds.medium});
            threshold.samples.push_back({{{"resource", r.resource}, {"level", "High"}}, r.thresholds.high});
        }
    }
    const auto& pc = metrics::process_counters();
    counter("edge_transport_dns_queries_total", "DNS questions asked of the servers (cache misses), every resolver")
        .samples.push_back({{}, n(pc.dns_queries.value())});
    counter("edge_transport_dns_failures_total", "DNS questions that got no usable answer (timeout, SERVFAIL, network)")
        .samples.push_back({{}, n(pc.dns_failures.value())});
    {
        Family& f = counter("edge_transport_tls_sessions_total",
                            "TLS handshakes: inbound STARTTLS and outbound by Send connectors, by result");
        f.samples.push_back({{{"direction", "inbound"}, {"result", "ok"}}, n(pc.tls_inbound_ok.value())});
        f.samples.push_back({{{"direction", "inbound"}, {"result", "failed"}}, n(pc.tls_inbound_failed.value())});
        f.samples.push_back({{{"direction", "outbound"}, {"result", "ok"}}, n(pc.tls_outbound_ok.value())});
        f.samples.push_back({{{"direction", "outbound"}, {"result", "failed"}}, n(pc.tls_outbound_failed.value())});
    }
    counter("edge_transport_tls_verification_failures_total",
            "Outbound TLS peers that did not prove what the policy asks (certificate, name, DANE)")
        .samples.push_back({{}, n(pc.tls_outbound_verification_failures.value())});
    counter("edge_transport_log_written_bytes_total", "Bytes written to the logs (protocol, message tracking, agent)")
        .samples.push_back({{}, n(pc.log_bytes.value())});
    gauge("edge_transport_ready", "1 when /readyz answers 200").samples.push_back({{}, not_ready() ? 0.0 : 1.0});
    gauge("edge_transport_build_info", "The running version").samples.push_back({{{"version", kVersion}}, 1});
    return metrics::render(out);
}

// GET /readyz: listening, the queue open, back pressure below High.
std::optional<std::string> Server::Impl::not_ready() const {
    if (stopping) return "shutting down";
    if (listeners.empty()) return "no Receive connector is listening";
    if (!db) return "the queue database is not open";
    if (monitor->level() >= backpressure::BackPressureLevel::High) return "back pressure is High";
    return std::nullopt;
}

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Server::~Server() = default;

int Server::run() {
    raise_descriptor_limit();
    Impl& d = *impl_;
    d.reconcile_listeners();
    if (d.listeners.empty()) say("warning: no Receive connector is listening");
    d.edgesync->reconcile();
    // After the Receive listeners: /readyz is 200 only once they listen.
    d.metrics_http = std::make_unique<metrics::HttpEndpoint>(
        d.io, metrics::HttpHandlers{[&d] { return d.render_metrics(); }, [&d] { return d.not_ready(); }}, say);
    d.metrics_http->reconcile(d.snapshot->metrics_bindings);
    auto ex = d.io.get_executor();
    async::spawn(ex, d.poll_config(), "config poll");
    async::spawn(ex, d.monitor_resources(), "back-pressure monitor");
    async::spawn(ex, d.serve_local_socket("status", [&d] { return backpressure::serialize_snapshot(d.monitor->snapshot()); }),
                 "back-pressure status socket");
    async::spawn(ex, d.serve_local_socket("config", [&d] { return d.answer_config_socket(); }), "config socket");
    if (d.notifier.enabled()) {
        async::spawn(ex, d.report_service_status(), "systemd status");
        if (d.notifier.watchdog_interval()) async::spawn(ex, d.keep_watchdog(), "systemd watchdog");
        // READY=1 from the running loop: the listeners above are open (the kernel queues
        // connections), the sockets for edgectl are being bound, sessions are served.
        asio::post(d.io, [&d] {
            d.notifier.status(d.service_status());
            d.notifier.ready();
        });
    }
    async::spawn(ex, d.wait_signals(), "signal handler");
    async::spawn(ex, d.delivery->run(), "delivery scheduler");
    async::spawn(ex, d.agent_services.reputation->run_flusher(), "sender reputation flush");
    async::spawn(ex, d.tls_reports->run(), "TLS-RPT counts and daily reports");
    async::spawn(ex, d.pickup->run(), "Pickup directory");
    d.io.run();
    d.agent_services.reputation->flush_now();  // what the last interval gathered
    d.tls_reports->flush_now();
    if (d.receive_log) d.receive_log->flush();
    if (d.tracking) d.tracking->flush();
    if (d.agent_log) d.agent_log->flush();
    if (d.verdict_counters.total() > 0) say("agent verdicts: " + agents::counters_text(d.verdict_counters.rows()));
    say("stopped");
    return 0;
}

}  // namespace edge::server
