// The server: first start, live configuration, listeners and admission, back
// pressure, signals and graceful shutdown. One I/O thread runs every session (the
// queue's committer threads do the disk work); see ARCHITECTURE.md.
#include "server_impl.hpp"

#include "completion.hpp"

#include "accept_pause.hpp"
#include "bootstrap.hpp"
#include "config_store.hpp"
#include "dns_resolver.hpp"
#include "edge_state.hpp"
#include "host_name.hpp"
#include "ip_list_store.hpp"
#include "private_file.hpp"
#include "spawn.hpp"
#include "certificate_store.hpp"
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

Server::Impl::Impl(ServerOptions opts) : options(std::move(opts)) {
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
    auto opened = queue::QueueDb::open(data_directory, qo);
    if (!opened) throw std::runtime_error("queue database " + data_directory + ": " + opened.error().message());
    db = std::move(*opened);
    admin_generation = db->admin_generation();
    const auto& rec = db->recovery_report();
    if (rec.leases_returned || rec.poisoned || rec.quarantined)
        say(fmt::format("recovery: {} leases returned, {} messages poisoned, {} records quarantined", rec.leases_returned,
                        rec.poisoned, rec.quarantined));
    ensure_first_start_objects();
    receive::TlsFiles files = receive::ensure_certificate(data_directory, server_fqdn, b.tls_certificate_file, b.tls_key_file);
    bootstrap_tls = std::make_shared<asio::ssl::context>(receive::make_server_context(files));
    bootstrap_certificate_file = files.certificate;
    snapshot = read_snapshot();
    receive_log = std::make_unique<logging::ProtocolLog>(logging::ProtocolLogKind::SmtpReceive,
                                                         snapshot->receive_log_limits, kVersionText);
    tracking = std::make_unique<logging::MessageTrackingLog>(snapshot->tracking, kVersionText);
    agent_log = std::make_unique<agents::AgentLog>(snapshot->agent_log, kVersionText);
    send::DeliveryOptions delivery_options;
    delivery_options.say = say;
    delivery_options.tls_hooks = send::TlsPolicyHooks{mta_sts.get(), tls_reports.get()};  // MTA-STS, TLS-RPT
    // Domain Security presents the receive certificate when a Send connector names none.
    delivery_options.receive_certificate_file = files.certificate;
    delivery_options.receive_key_file = files.key;
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
    refresh_certificates(snapshot->tls_certificate_authority_file);
    reconcile_listeners();
    if (edgesync) edgesync->reconcile();
}

asio::awaitable<void> Server::Impl::poll_config() {
    asio::steady_timer t(io);
    while (!stopping) {
        t.expires_after(config_poll_interval);
        co_await t.async_wait(use_tuple);
        if (stopping) co_return;
        reload(false);
        // An administrator changed the queue (Retry-Queue, Resume-Queue, Remove-Message…):
        // the scheduler looks now rather than at its own timer.
        if (auto g = db->admin_generation(); g != admin_generation) {
            admin_generation = g;
            if (delivery) delivery->administrator_changed();
        }
        say_reserve_changes();
        sweep_ip_lists();
        warn_expiring_certificates();
    }
}

void Server::Impl::refresh_certificates(const std::string& ca_file) {
    std::vector<std::string> errors;
    auto stored = config::load_objects(*db, config::ObjectKind::ExchangeCertificate, &errors);
    std::string source = ca_file + "\n";
    for (const auto& o : stored) source += o.name + "\n" + o.object.serialize() + "\n";
    if (services.certificates && source == certificates_source) return;
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

// The status socket (issue 14): Get-BackPressure's live answer, which needs no free
// space. Each client gets the monitor's last snapshot and the close; a client of
// another user (not root) gets only the close. The answer is about 1 KB, far below a
// unix socket's buffer: the non-blocking write never waits.
asio::awaitable<void> Server::Impl::serve_status() {
    using local = asio::local::stream_protocol;
    local::acceptor acceptor(io);
    boost::system::error_code ec;
    acceptor.open(local(), ec);
    if (!ec) acceptor.bind(local::endpoint(backpressure::status_socket_name(data_directory)), ec);
    if (!ec) acceptor.listen(16, ec);
    if (ec) {
        say("back pressure status socket: " + ec.message() + "; edgectl Get-BackPressure reads the status file");
        co_return;
    }
    AcceptErrorPause errors("accept on the status socket");
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
        const std::string text = backpressure::serialize_snapshot(monitor->snapshot());
        sock.non_blocking(true, ec);
        if (!ec) sock.write_some(asio::buffer(text), ec);
        sock.shutdown(local::socket::shutdown_both, ec);
    }
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
            say("SIGHUP: reloading the configuration");
            reload(true);
            reload_bootstrap();
            continue;
        }
        say(fmt::format("signal {}: shutting down", sig));
        co_await shut_down();
        co_return;
    }
}

// Polite cancel, bounded wait, forced close (style.md §6).
asio::awaitable<void> Server::Impl::shut_down() {
    stopping = true;
    reconcile_listeners();  // closes every acceptor
    if (edgesync) edgesync->stop();
    for (auto& c : connections) c->begin_shutdown();
    if (!co_await sessions.wait_until(std::chrono::steady_clock::now() + shutdown_timeout)) {
        for (auto& c : connections) c->force_close();
        co_await sessions.wait();
    }
    // Outbound connections finish the message in flight; the rest of their leases go back.
    if (delivery) co_await delivery->stop();
    io.stop();
}

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Server::~Server() = default;

int Server::run() {
    raise_descriptor_limit();
    Impl& d = *impl_;
    d.reconcile_listeners();
    if (d.listeners.empty()) say("warning: no Receive connector is listening");
    d.edgesync->reconcile();
    auto ex = d.io.get_executor();
    async::spawn(ex, d.poll_config(), "config poll");
    async::spawn(ex, d.monitor_resources(), "back-pressure monitor");
    async::spawn(ex, d.serve_status(), "back-pressure status socket");
    async::spawn(ex, d.wait_signals(), "signal handler");
    async::spawn(ex, d.delivery->run(), "delivery scheduler");
    async::spawn(ex, d.agent_services.reputation->run_flusher(), "sender reputation flush");
    async::spawn(ex, d.tls_reports->run(), "TLS-RPT counts and daily reports");
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
