// The scheduler and the outbound connection driver. The scheduler decides which
// next-hop queue gets a connection; a worker owns one connection at a time to one
// next hop and feeds smtp::ClientSession (the pure client core) from the socket.
#include "delivery.hpp"

#include "client_session.hpp"
#include "dns_resolver.hpp"
#include "dsn.hpp"
#include "message_tracking.hpp"
#include "protocol_log.hpp"
#include "queue_db.hpp"
#include "run_blocking.hpp"
#include "text.hpp"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>

#include <fmt/format.h>

#include <map>
#include <mutex>
#include <optional>

namespace edge::send {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using queue::QueueId;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kLeaseBatch = 20;
constexpr auto kConnectTimeout = std::chrono::seconds(30);
constexpr auto kSweepInterval = std::chrono::seconds(30);
// A queue write that ends or moves a lease and failed on a full or failing disk is tried
// again after this, doubling up to kWriteRetryMax (issue 14: leases never stick).
constexpr auto kWriteRetryFirst = std::chrono::milliseconds(50);
constexpr auto kWriteRetryMax = std::chrono::seconds(2);
const std::string kExpiredStatus = "4.4.7";
const std::string kExpiredText = "550 4.4.7 QUEUE.Expired; message expired";
const std::string kNoConnector;
// Remove-Message -WithNDR. Exchange writes "550 4.3.2 QUEUE.Admin; message deleted by
// administrative action"; a failed Action needs a 5.x.x Status (RFC 3464 §2.3.4), so ours is 5.3.2.
const std::string kAdminRemovedStatus = "5.3.2";
const std::string kAdminRemovedText = "550 5.3.2 QUEUE.Admin; message deleted by administrative action";
// One NDR per message (ARCHITECTURE.md): failed recipients wait for the message's other
// recipients to have their attempt, but never longer than this (a recipient in a
// suspended queue, a queue in a long retry, the Unreachable queue).
constexpr auto kNdrHoldLimit = std::chrono::minutes(10);

// Where a next hop is: the connector that serves it and the hosts to try, in order.
struct Target {
    enum class Kind { Hosts, Permanent, Transient, Moved } kind = Kind::Transient;
    const SendConnector* connector = nullptr;
    struct Host {
        std::string name;  // for texts and TLS SNI: "mx1.contoso.com" or "[192.0.2.1]"
        std::vector<asio::ip::address> addresses;
    };
    std::vector<Host> hosts;
    std::string status;  // Permanent: the RFC 3463 code of the NDR
    std::string error;   // Permanent / Transient: the sentence for LastError and the NDR
};

bool is_address_literal(std::string_view host) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host.starts_with("IPv6:") || host.starts_with("ipv6:")) host.remove_prefix(5);
    boost::system::error_code ec;
    (void)asio::ip::make_address(std::string(host), ec);
    return !ec;
}

// LastError when addresses were refused: what, and which setting would allow them.
std::string refused_text(const SendConnector& c, const std::string& refused) {
    return fmt::format("not connecting to {}: internal{} addresses are not used by Send connector {} "
                       "(AllowPrivateTargetAddresses is $false)",
                       refused, c.internet_bound() ? " and private" : "", c.name);
}

std::string endpoint_text(const tcp::endpoint& e) {
    auto a = e.address();
    std::string ip = a.is_v6() && a.to_v6().is_v4_mapped() ? a.to_v6().to_v4().to_string() : a.to_string();
    return a.is_v6() && !a.to_v6().is_v4_mapped() ? fmt::format("[{}]:{}", ip, e.port())
                                                    : fmt::format("{}:{}", ip, e.port());
}

std::vector<asio::ip::udp::endpoint> dns_servers(const std::vector<std::string>& listed) {
    std::vector<asio::ip::udp::endpoint> out;
    for (const auto& s : listed)
        if (auto e = parse_dns_server(s)) out.push_back(*e);
    if (out.empty()) out = servers_from_resolv_conf();
    return out;
}

// A DSN about `envelope` for `rcpts`, routed, ready to commit; nullopt when none is
// due (null sender, NOTIFY). Pure: the NDR builder runs it on queue-db's committer.
std::optional<queue::NewMessage> make_dsn(const SendConfig& cfg, DsnKind kind, const queue::Envelope& envelope,
                                          std::string_view content, std::vector<DsnRecipient> rcpts, queue::Timestamp now) {
    if (rcpts.empty()) return std::nullopt;
    const auto& s = cfg.settings;
    DsnRequest req{kind, envelope, content, std::move(rcpts), cfg.server_fqdn, now, s.dsn_max_attach_size, cfg.server_fqdn,
                   kind == DsnKind::Failure ? s.ndr_copy_to : std::string(), s.postmaster};
    auto dsn = build_dsn(req);
    if (!dsn) return std::nullopt;
    dsn->envelope.expiration_time = now + (envelope.expiration_time - envelope.arrival_time);
    dsn->envelope.receive_connector = "DSN";
    for (auto& r : dsn->envelope.recipients) {
        auto [q, type] = cfg.queue_for(r.address);
        r.next_hop = q;
        r.delivery_type = type;
    }
    return dsn;
}

// The NDRs queue-db committed through an NdrBuilder, by original message, for the
// tracking log. Filled on the committer thread, read after the completion was posted
// back to the I/O thread; a re-run job overwrites its own entry.
struct NdrsMade {
    struct Made {
        std::string ndr_message_id;
        std::string original_message_id;
        std::string sender;
    };
    std::mutex mu;
    std::map<queue::MessageId, Made> by_message;
};

// The one NDR of a message, for every recipient queue-db holds as NDR-pending.
queue::NdrBuilder ndr_builder(std::shared_ptr<const SendConfig> cfg, std::shared_ptr<NdrsMade> made) {
    return [cfg = std::move(cfg), made = std::move(made)](queue::MessageId id, const queue::Envelope& envelope,
                                                          const std::vector<std::size_t>& recipients,
                                                          std::string_view original) -> std::optional<queue::NewMessage> {
        std::vector<DsnRecipient> rcpts;
        for (std::size_t i : recipients) {
            const auto& r = envelope.recipients.at(i);
            rcpts.push_back({i, r.ndr_status, r.last_response, r.next_hop.next_hop});
        }
        auto ndr = make_dsn(*cfg, DsnKind::Failure, envelope, original, std::move(rcpts), queue::now_timestamp());
        std::lock_guard lk(made->mu);
        if (ndr)
            made->by_message[id] = {ndr->envelope.internet_message_id, envelope.internet_message_id, envelope.sender};
        else
            made->by_message.erase(id);
        return ndr;
    };
}

queue::RecipientOutcome::Kind to_kind(smtp::RecipientResult r) {
    switch (r) {
        case smtp::RecipientResult::Delivered: return queue::RecipientOutcome::Kind::Delivered;
        case smtp::RecipientResult::Failed: return queue::RecipientOutcome::Kind::Failed;
        case smtp::RecipientResult::Deferred: break;
    }
    return queue::RecipientOutcome::Kind::Deferred;
}

// One outbound SMTP connection: the socket, TLS once started, the protocol log and
// the client state machine. Its inactivity clock is the connector's
// ConnectionInactivityTimeOut.
class Outbound {
public:
    Outbound(tcp::socket sock, asio::ssl::context& tls, smtp::ClientPolicy policy, std::chrono::seconds inactivity,
             logging::ProtocolLogSession plog)
        : sock_(std::move(sock)), tls_ctx_(tls), client_(std::move(policy)), inactivity_(inactivity),
          plog_(std::move(plog)) {}

    smtp::ClientSession& client() { return client_; }
    const std::string& remote_host() const { return sni_; }
    logging::ProtocolLogSession& log() { return plog_; }
    bool usable() const { return !broken_ && client_.ready_for_message(); }
    bool tls_failed() const { return tls_failed_; }
    std::uint32_t messages_sent = 0;

    // Greeting, EHLO, STARTTLS: true when ready for a message.
    asio::awaitable<bool> open(const std::string& host_name) {
        sni_ = host_name;
        std::vector<smtp::ClientAction> none;
        co_await drive(std::move(none));
        co_return usable();
    }

    // One message: every recipient's outcome (Deferred ones when the connection broke).
    asio::awaitable<std::vector<smtp::RecipientOutcome>> send(const smtp::OutboundMessage& m) {
        auto actions = client_.begin_message(m);
        co_await drive(std::move(actions));
        if (auto r = client_.take_message_result()) {
            ++messages_sent;
            co_return std::move(*r);
        }
        // The state machine always decides every recipient once the connection ends.
        client_.on_connection_lost("the connection ended");
        auto r = client_.take_message_result();
        co_return r ? std::move(*r) : std::vector<smtp::RecipientOutcome>{};
    }

    asio::awaitable<void> quit() {
        if (!broken_) {
            auto actions = client_.quit();
            co_await drive(std::move(actions));
        }
        close("");
    }

    void close(std::string_view why) {
        if (closed_) return;
        closed_ = true;
        boost::system::error_code ec;
        sock_.shutdown(tcp::socket::shutdown_both, ec);
        sock_.close(ec);
        plog_.log(logging::LogEvent::Disconnect, "", why);
    }

private:
    // Performs actions, then reads replies and performs what they call for, until the
    // client owes nothing (no reply awaited) or the connection is gone.
    // Arguments are named objects passed by reference: GCC 12 destroys twice a
    // temporary with a destructor that lives in a co_await expression.
    asio::awaitable<void> drive(std::vector<smtp::ClientAction>&& actions) {
        while (true) {
            // By index: a StartTls appends the EHLO that follows the handshake.
            for (std::size_t i = 0; i < actions.size(); ++i) {
                if (broken_) break;
                smtp::ClientAction a = std::move(actions[i]);
                if (a.kind == smtp::ClientAction::Kind::Close) {
                    close("");
                    broken_ = true;
                } else if (a.kind == smtp::ClientAction::Kind::StartTls) {
                    if (!co_await start_tls()) {
                        tls_failed_ = true;
                        lost("TLS negotiation failed");
                    } else {
                        auto more = client_.on_tls_established();
                        actions.insert(actions.end(), more.begin(), more.end());
                    }
                } else {
                    log_sent(a);
                    if (!co_await write(a.bytes) || (!a.content.empty() && !co_await write(a.content)))
                        lost("write failed");
                }
            }
            actions.clear();
            if (broken_ || !client_.awaiting_reply()) co_return;
            auto reply = co_await read_reply();
            if (!reply) co_return;  // lost() told the client
            plog_.log(logging::LogEvent::Receive, reply->text());
            expecting_content_ = reply->code == 354;
            actions = client_.on_reply(*reply);
        }
    }

    void log_sent(const smtp::ClientAction& a) {
        if (!plog_.enabled()) return;
        if (expecting_content_) {  // message content is never logged, only that it went
            plog_.log(logging::LogEvent::Information, fmt::format("sending message content ({} bytes)", a.bytes.size()));
            expecting_content_ = false;
            return;
        }
        std::string_view rest = a.bytes;
        while (!rest.empty()) {
            auto nl = rest.find("\r\n");
            std::string_view line = rest.substr(0, nl);
            // Credentials never reach the log (the client marks what holds them).
            if (a.secret) plog_.log(logging::LogEvent::Send, line.starts_with("AUTH ") ? "AUTH ****" : "****");
            else plog_.log(logging::LogEvent::Send, line);
            if (nl == std::string_view::npos) break;
            rest.remove_prefix(nl + 2);
        }
        if (!a.content.empty())
            plog_.log(logging::LogEvent::Information, fmt::format("sending message content ({} bytes)", a.content.size()));
    }

    void lost(std::string_view why) {
        if (broken_) return;
        broken_ = true;
        client_.on_connection_lost(why);
        close(why);
    }

    template <class Op>
    asio::awaitable<std::optional<std::size_t>> timed(Op op) {
        asio::steady_timer timer(sock_.get_executor());
        timer.expires_after(inactivity_);
        auto r = co_await (std::move(op) || timer.async_wait(asio::as_tuple(asio::use_awaitable)));
        if (r.index() == 1) co_return std::nullopt;
        auto [ec, n] = std::get<0>(r);
        if (ec) co_return std::nullopt;
        co_return n;
    }

    asio::awaitable<bool> write(std::string_view bytes) {
        std::optional<std::size_t> n;
        if (tls_)
            n = co_await timed(asio::async_write(*tls_, asio::buffer(bytes), asio::as_tuple(asio::use_awaitable)));
        else
            n = co_await timed(asio::async_write(sock_, asio::buffer(bytes), asio::as_tuple(asio::use_awaitable)));
        co_return n.has_value();
    }

    asio::awaitable<std::optional<smtp::Reply>> read_reply() {
        while (true) {
            if (auto r = reader_.next()) co_return r;
            if (reader_.failed()) {
                lost(reader_.error());
                co_return std::nullopt;
            }
            std::optional<std::size_t> n;
            if (tls_)
                n = co_await timed(tls_->async_read_some(asio::buffer(buf_), asio::as_tuple(asio::use_awaitable)));
            else
                n = co_await timed(sock_.async_read_some(asio::buffer(buf_), asio::as_tuple(asio::use_awaitable)));
            if (!n || *n == 0) {
                lost(n ? "the remote server closed the connection" : "the remote server did not answer in time");
                co_return std::nullopt;
            }
            reader_.feed(std::string_view(buf_.data(), *n));
        }
    }

    asio::awaitable<bool> start_tls() {
        // RFC 3207 §4.2 / CVE-2011-0411 on the client side: anything that arrived in
        // clear after the 220 must not be read as if it came over TLS.
        if (!reader_.empty()) co_return false;
        tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(sock_, tls_ctx_);
        if (!sni_.empty() && sni_.front() != '[')
            SSL_set_tlsext_host_name(tls_->native_handle(), sni_.c_str());
        asio::steady_timer timer(sock_.get_executor());
        timer.expires_after(inactivity_);
        auto r = co_await (tls_->async_handshake(asio::ssl::stream_base::client, asio::as_tuple(asio::use_awaitable)) ||
                           timer.async_wait(asio::as_tuple(asio::use_awaitable)));
        if (r.index() == 1 || std::get<0>(std::get<0>(r))) {
            tls_.reset();
            co_return false;
        }
        plog_.log(logging::LogEvent::Information,
                  fmt::format("TLS negotiated: {} {}", SSL_get_version(tls_->native_handle()),
                              SSL_get_cipher_name(tls_->native_handle())));
        co_return true;
    }

    tcp::socket sock_;
    asio::ssl::context& tls_ctx_;
    std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
    smtp::ClientSession client_;
    smtp::ReplyReader reader_;
    std::chrono::seconds inactivity_;
    logging::ProtocolLogSession plog_;
    std::string sni_;
    std::array<char, 16384> buf_{};
    bool broken_ = false, closed_ = false, tls_failed_ = false, expecting_content_ = false;
};

}  // namespace

struct DeliveryService::Impl {
    Impl(asio::io_context& io_, queue::QueueDb& db_, DeliveryOptions o, logging::MessageTrackingLog* t)
        : io(io_), db(db_), options(std::move(o)), tracking(t), wake(io_), tls(asio::ssl::context::tls_client) {
        tls.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
        // Opportunistic TLS, as Exchange and Postfix (smtp_tls_security_level = may) do
        // toward the internet: encrypt when offered, do not authenticate the peer.
        tls.set_verify_mode(asio::ssl::verify_none);
    }

    asio::io_context& io;
    queue::QueueDb& db;
    DeliveryOptions options;
    logging::MessageTrackingLog* tracking;
    asio::thread_pool pool{2};
    asio::steady_timer wake;
    asio::ssl::context tls;
    std::shared_ptr<const SendConfig> config;
    std::shared_ptr<DnsResolver> internal_dns, external_dns;
    std::vector<std::string> internal_servers_text, external_servers_text;
    std::unique_ptr<logging::ProtocolLog> send_log;

    struct HopState {
        std::uint32_t workers = 0;
        std::uint32_t failures = 0;  // consecutive connection failures (reset by a connection)
        bool may_have_error = true;  // LastError may be set in the store (cleared on connect)
    };
    std::map<std::string, HopState> hops;  // next-hop queues by name
    std::size_t connections = 0;
    bool kicked = false;
    bool stopping = false;
    // Remove-Message -WithNDR waits for us: at start (asked while we were down), after
    // an administrator's change, and while a delivery attempt still holds such a message.
    bool removals_due = true;
    Clock::time_point next_sweep = Clock::now();

    void say(const std::string& s) const {
        if (options.say) options.say("delivery: " + s);
    }

    // Blocking queue calls run on the pool (run_blocking.hpp).
    template <class F>
    asio::awaitable<std::invoke_result_t<F&>> blocking(F f) {
        co_return co_await run_blocking(io, pool, std::move(f));
    }

    // Whether a failed queue write may succeed later: the volume was full, the disk failed.
    static bool may_succeed_later(const std::error_code& ec) {
        return queue::is_storage_full(ec) || ec == queue::QueueError::io_error;
    }

    // Waits `wait` (doubled for the next time, up to kWriteRetryMax) unless stopping.
    asio::awaitable<void> back_off(Clock::duration& wait) {
        asio::steady_timer t(io, wait);
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        wait = std::min<Clock::duration>(wait * 2, kWriteRetryMax);
    }

    // A queue write no delivery may drop (issue 14): one that failed on a full or
    // failing disk is tried again with back-off until it succeeds or we stop; a lease
    // left then is returned by close(), or by the next open as after a crash.
    // `attempt` makes one try: an awaitable of a queue::Result.
    template <class Attempt>
    auto until_written(std::string what, Attempt attempt) -> std::invoke_result_t<Attempt&> {
        Clock::duration wait = kWriteRetryFirst;
        for (std::uint32_t tries = 1;; ++tries) {
            auto r = co_await attempt();
            if (r) {
                if (tries > 1) say(fmt::format("{}: written after {} tries", what, tries));
                co_return r;
            }
            if (!may_succeed_later(r.error()) || stopping) {
                say(fmt::format("{} failed: {}", what, r.error().message()));
                co_return r;
            }
            if (tries == 1) say(fmt::format("{} failed: {}; trying again until it is written", what, r.error().message()));
            co_await back_off(wait);
        }
    }
    // The same for a blocking QueueDb call, run on the pool.
    template <class F>
    asio::awaitable<std::invoke_result_t<F&>> until_written_blocking(std::string what, F f) {
        co_return co_await until_written(std::move(what), [this, &f] { return blocking(f); });
    }

    // One try at writing an attempt's outcome with its DSNs (group commit: many
    // connections' reports share one sync).
    asio::awaitable<queue::Status> record_once(const queue::DeliveryReport& report) {
        auto done = std::make_shared<std::optional<std::error_code>>();
        asio::steady_timer signal(io, Clock::time_point::max());
        db.record_delivery_async(report, [this, done, &signal](std::error_code ec) {
            asio::post(io, [done, ec, &signal] {
                *done = ec;
                signal.cancel();
            });
        });
        while (!done->has_value()) co_await signal.async_wait(asio::as_tuple(asio::use_awaitable));
        if (**done) co_return queue::Status(**done);
        co_return queue::Status(queue::Done{});
    }

    // The outcome, tried again as until_written(): the same report, so a message the
    // peer took is not sent again.
    asio::awaitable<queue::Status> record(const queue::DeliveryReport& report) {
        co_return co_await until_written(fmt::format("recording the outcome of message {}", report.id),
                                         [this, &report] { return record_once(report); });
    }

    // --- configuration -------------------------------------------------------------
    void apply(std::shared_ptr<const SendConfig> c) {
        const auto& s = c->settings;
        if (!internal_dns || s.internal_dns_servers != internal_servers_text) {
            internal_dns = std::make_shared<DnsResolver>(io.get_executor(), DnsOptions{dns_servers(s.internal_dns_servers)});
            internal_servers_text = s.internal_dns_servers;
        }
        if (!external_dns || s.external_dns_servers != external_servers_text) {
            external_dns = std::make_shared<DnsResolver>(
                io.get_executor(),
                DnsOptions{dns_servers(s.external_dns_servers.empty() ? s.internal_dns_servers : s.external_dns_servers)});
            external_servers_text = s.external_dns_servers;
        }
        if (!send_log)
            send_log = std::make_unique<logging::ProtocolLog>(logging::ProtocolLogKind::SmtpSend, s.send_log_limits,
                                                              "edge-transport 0.1.0");
        else
            send_log->set_limits(s.send_log_limits);
        config = std::move(c);
        // Exchange resubmits the Unreachable queue when routing changes.
        asio::co_spawn(io, resubmit(QueueId::unreachable()), asio::detached);
        kick();
    }

    asio::awaitable<void> resubmit(QueueId q) {
        auto cfg = config;
        auto moved = co_await blocking([this, &q, &cfg] {
            return db.resubmit(q, [&](const queue::Recipient& r) { return cfg->queue_for(r.address); });
        });
        if (!moved) say(fmt::format("routing {} again failed: {}", q.name(), moved.error().message()));
        if (moved && *moved > 0) {
            say(fmt::format("{} message(s) of {} routed again", *moved, q.name()));
            kick();
        }
    }

    void kick() {
        kicked = true;
        wake.cancel();
    }

    // --- the scheduler -------------------------------------------------------------
    asio::awaitable<void> run() {
        while (!stopping) {
            kicked = false;
            auto due = co_await blocking([this] { return db.next_retry_due(); });
            if (due && *due <= queue::now_timestamp())
                co_await until_written_blocking("moving due messages from Retry to Ready",
                                       [this] { return db.promote_due(queue::now_timestamp()); });
            bool removals_held = false;
            if (removals_due && config) {
                removals_due = false;
                removals_held = co_await complete_removals();
            }
            if (config) co_await send_held_ndrs();
            if (config) {
                auto ready = co_await blocking([this] { return db.ready_queues(); });
                for (const auto& q : ready)
                    if (q.kind == queue::QueueKind::NextHop) start_worker(q);
                if (Clock::now() >= next_sweep) {
                    next_sweep = Clock::now() + kSweepInterval;
                    co_await expire_unreachable();
                }
            }
            if (stopping) break;
            if (kicked) continue;
            auto until = Clock::now() + kSweepInterval;
            due = co_await blocking([this] { return db.next_retry_due(); });
            auto held = co_await blocking([this] { return db.next_ndr_hold_due(); });
            for (const auto& when : {due, held}) {
                if (!when) continue;
                auto left = *when - queue::now_timestamp();
                until = std::min(until, Clock::now() + std::chrono::duration_cast<Clock::duration>(left) +
                                            std::chrono::milliseconds(5));
            }
            if (removals_held) {
                // The attempt that holds the message will end soon: look again then.
                removals_due = true;
                until = std::min(until, Clock::now() + std::chrono::seconds(1));
            }
            // A kick that came during the awaits above found no wait to cancel: look
            // again now instead of sleeping on it (no await between this test and the wait).
            if (kicked) continue;
            wake.expires_at(until);
            co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
        }
    }

    // NDRs that waited their longest for other recipients of their message go now.
    asio::awaitable<void> send_held_ndrs() {
        auto due = co_await blocking([this] { return db.next_ndr_hold_due(); });
        if (!due || *due > queue::now_timestamp()) co_return;
        auto made = std::make_shared<NdrsMade>();
        auto ndr = ndr_builder(config, made);
        auto sent = co_await until_written_blocking("sending held NDRs",
                                           [this, &ndr] { return db.send_held_ndrs(queue::now_timestamp(), ndr); });
        if (!sent) co_return;
        if (track_ndrs(*made)) kick();  // the NDRs wait in their queues
    }

    void start_worker(const QueueId& q) {
        if (stopping || !config) return;
        const auto& s = config->settings;
        HopState& st = hops[q.next_hop];
        if (s.max_per_domain_connections != 0 && st.workers >= s.max_per_domain_connections) return;
        if (s.max_outbound_connections != 0 && connections >= s.max_outbound_connections) return;
        ++st.workers;
        ++connections;
        asio::co_spawn(io, worker(q), [this, q](std::exception_ptr e) {
            --hops[q.next_hop].workers;
            --connections;
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& x) {
                    say("delivery to " + q.name() + " ended with an error: " + x.what());
                }
            }
        });
    }

    // Remove-Message -WithNDR $true: edgectl marked the message; here its NDR is built
    // (we know ServerFqdn and the routes) and committed with the deletion. Returns
    // whether a delivery attempt still holds one of them (it is done when that ends).
    asio::awaitable<bool> complete_removals() {
        auto cfg = config;
        auto pending = co_await blocking([this] { return db.pending_ndr_removals(); });
        for (const auto& info : pending) {
            auto content = co_await blocking([this, id = info.id] { return db.export_message(id); });
            std::vector<DsnRecipient> failed;
            for (std::size_t i = 0; i < info.envelope.recipients.size(); ++i) {
                const auto& r = info.envelope.recipients[i];
                if (r.status == queue::RecipientStatus::Pending)
                    failed.push_back({i, kAdminRemovedStatus, kAdminRemovedText, std::string()});
                else if (r.ndr_pending)  // failed earlier, its NDR held: reported once, here
                    failed.push_back({i, r.ndr_status, r.last_response, r.next_hop.next_hop});
            }
            const auto now = queue::now_timestamp();
            auto ndr = make_dsn(*cfg, DsnKind::Failure, info.envelope, content ? *content : std::string(),
                                std::move(failed), now);
            std::optional<std::string> ndr_id;
            if (ndr) ndr_id = ndr->envelope.internet_message_id;
            auto st = co_await blocking([this, id = info.id, &ndr] { return db.complete_removal(id, std::move(ndr)); });
            if (!st) {
                say(fmt::format("removing message {} with an NDR failed: {}", info.id, st.error().message()));
                if (may_succeed_later(st.error())) removals_due = true;  // the next pass tries again
                continue;
            }
            say(fmt::format("message {} removed by an administrator{}", info.id, ndr_id ? ", NDR sent" : ""));
            if (ndr_id) track_dsn(info.id, info.envelope.internet_message_id, info.envelope.sender, *ndr_id);
            kick();  // the NDR waits in a queue
        }
        auto held = co_await blocking([this] { return db.ndr_removals_in_delivery(); });
        co_return held > 0;
    }

    // Messages in the Unreachable queue expire on the normal timeout (NDR 4.4.7).
    // Arrival order is expiry order, so the scan stops at the first live message.
    asio::awaitable<void> expire_unreachable() {
        auto cfg = config;
        while (!stopping) {
            auto leased = co_await blocking([this] { return db.lease_for_delivery(QueueId::unreachable(), kLeaseBatch); });
            if (!leased || leased->empty()) co_return;
            bool live_seen = false;
            for (auto& m : *leased) {
                if (queue::now_timestamp() < m.envelope.expiration_time) {
                    live_seen = true;
                    co_await release(m);
                    continue;
                }
                co_await fail_locally(*cfg, m, kExpiredStatus, kExpiredText, nullptr, kNoConnector);
            }
            if (live_seen) co_return;
        }
    }

    // --- where a next hop is ---------------------------------------------------------
    asio::awaitable<Target> resolve_target(const SendConfig& cfg, const QueueId& q) {
        Target t;
        const SendConnector* smart = cfg.connector(q.next_hop);
        if (smart != nullptr && !smart->dns_routing_enabled) {
            t.connector = smart;
            auto resolver = smart->use_external_dns ? external_dns : internal_dns;
            std::string errors;
            std::vector<MxHost> named;  // smart hosts given by name, checked below
            for (const auto& h : smart->smart_hosts) {
                auto lookup = resolver->resolve_address(h);
                auto r = co_await std::move(lookup);
                if (r.status != DnsStatus::Ok)
                    errors += (errors.empty() ? "" : "; ") + (r.error.empty() ? h + ": " + std::string(to_string(r.status)) : r.error);
                else if (is_address_literal(h))
                    t.hosts.push_back({h, r.addresses});  // the administrator named this address
                else
                    named.push_back({h, 0, r.addresses, false});
            }
            // A smart host's name is looked up in DNS like an MX host: it may lead to a
            // private address (an internal relay) but not, unless allowed, to this host.
            const TargetAddressPolicy policy{smart->allow_private_target_addresses, true};
            std::string refused = filter_target_addresses(named, policy);
            for (auto& h : named) t.hosts.push_back({h.name, std::move(h.addresses)});
            t.kind = t.hosts.empty() ? Target::Kind::Transient : Target::Kind::Hosts;
            if (!refused.empty()) {
                refused = refused_text(*smart, refused);
                if (t.hosts.empty()) t.error = "451 4.4.0 " + refused;
                else say(q.name() + ": " + refused);
            } else if (t.hosts.empty()) {
                t.error = "451 4.4.0 DNS query failed for the smart hosts: " + errors;
            }
            co_return t;
        }
        routing::Route route = cfg.categorizer->route(q.next_hop);
        if (route.kind == routing::RouteKind::Unreachable || route.delivery != routing::DeliveryKind::Dns ||
            route.next_hop_domain != q.next_hop) {
            t.kind = Target::Kind::Moved;  // the configuration changed: route the queue again
            co_return t;
        }
        t.connector = cfg.connector(route.connector);
        if (t.connector == nullptr) {
            t.kind = Target::Kind::Moved;
            co_return t;
        }
        auto resolver = t.connector->use_external_dns ? external_dns : internal_dns;
        auto lookup = resolver->resolve_mx(q.next_hop);
        auto mx = co_await std::move(lookup);
        switch (mx.status) {
            case DnsStatus::Ok: {
                // RFC 5321 §5.1 lets a domain name any host; a stranger's domain (a forged
                // sender we owe an NDR) must not aim us at our own host or network.
                const TargetAddressPolicy policy{t.connector->allow_private_target_addresses,
                                                 t.connector->allow_private_target_addresses || !t.connector->internet_bound()};
                std::string refused = filter_target_addresses(mx.hosts, policy);
                for (auto& h : mx.hosts) t.hosts.push_back({h.name, h.addresses});
                t.kind = Target::Kind::Hosts;
                if (refused.empty()) break;
                refused = refused_text(*t.connector, refused);
                if (!t.hosts.empty()) {
                    say(q.name() + ": " + refused);
                    break;
                }
                // No usable host is left: the mail waits (Retry, LastError saying why) and
                // expires with NDR 4.4.7 unless the administrator allows the addresses —
                // never a permanent failure that a configuration change could have saved.
                t.kind = Target::Kind::Transient;
                t.error = "451 4.4.0 " + refused;
                break;
            }
            case DnsStatus::NullMx:
                t.kind = Target::Kind::Permanent;
                t.status = "5.1.10";
                t.error = "556 5.1.10 " + q.next_hop + " does not accept mail (null MX, RFC 7505)";
                break;
            case DnsStatus::NoSuchDomain:
            case DnsStatus::NoData:
                t.kind = Target::Kind::Permanent;
                t.status = "5.4.4";
                t.error = "550 5.4.4 SMTPSEND.DNS.NonExistentDomain; nonexistent domain " + q.next_hop;
                break;
            case DnsStatus::Transient:
                t.kind = Target::Kind::Transient;
                t.error = "451 4.4.0 DNS query failed: " + mx.error;
                break;
        }
        co_return t;
    }

    // --- one connection at a time to one next hop ---------------------------------------
    asio::awaitable<std::unique_ptr<Outbound>> connect(const SendConfig& cfg, const Target& t, std::string& error) {
        const SendConnector& c = *t.connector;
        boost::system::error_code ec;
        auto source = asio::ip::make_address(c.source_ip, ec);
        const bool bind_source = !ec && !source.is_unspecified();
        for (const auto& host : t.hosts) {
            for (const auto& addr : host.addresses) {
                if (bind_source && source.is_v4() != addr.is_v4()) continue;
                for (bool tls_possible : {true, false}) {
                    tcp::endpoint remote(addr, c.port);
                    tcp::socket sock(io);
                    sock.open(remote.protocol(), ec);
                    // design.md pitfall: bind first, then the socket's own async_connect;
                    // the free async_connect reopens the socket and drops the bind.
                    if (!ec && bind_source) sock.bind(tcp::endpoint(source, 0), ec);
                    if (ec) {
                        error = fmt::format("451 4.4.0 cannot use SourceIPAddress {}: {}", c.source_ip, ec.message());
                        co_return nullptr;
                    }
                    asio::steady_timer timer(io);
                    timer.expires_after(kConnectTimeout);
                    auto r = co_await (sock.async_connect(remote, asio::as_tuple(asio::use_awaitable)) ||
                                       timer.async_wait(asio::as_tuple(asio::use_awaitable)));
                    if (r.index() == 1 || std::get<0>(std::get<0>(r))) {
                        error = fmt::format("451 4.4.0 Failed to connect to {} ({}): {}", host.name, endpoint_text(remote),
                                            r.index() == 1 ? std::string("timed out")
                                                           : std::get<0>(std::get<0>(r)).message());
                        break;  // next address
                    }
                    smtp::ClientPolicy policy;
                    policy.fqdn = c.fqdn;
                    policy.remote_host = host.name;
                    policy.force_helo = c.force_helo;
                    policy.ignore_starttls = c.ignore_starttls;
                    policy.require_tls = c.require_tls;
                    policy.tls_possible = tls_possible;
                    if (c.smart_host_auth == config::SmartHostAuthMechanism::BasicAuth ||
                        c.smart_host_auth == config::SmartHostAuthMechanism::BasicAuthRequireTLS) {
                        policy.auth_user = c.auth_user;
                        policy.auth_password = c.auth_password;
                        policy.auth_require_tls = c.smart_host_auth == config::SmartHostAuthMechanism::BasicAuthRequireTLS;
                    }
                    logging::ProtocolLogSession plog;
                    auto local = sock.local_endpoint(ec);
                    if (c.protocol_logging && send_log)
                        plog = logging::ProtocolLogSession(send_log.get(), c.name, logging::new_session_id(),
                                                           endpoint_text(local), endpoint_text(remote));
                    plog.log(logging::LogEvent::Connect, "", "");
                    plog.log(logging::LogEvent::Information, "", fmt::format("attempting to connect to {} for {}", host.name, cfg.server_fqdn));
                    auto out = std::make_unique<Outbound>(std::move(sock), tls, policy, c.inactivity_timeout, std::move(plog));
                    if (co_await out->open(host.name)) co_return out;
                    error = out->client().failure().empty() ? "451 4.4.0 " + host.name + " did not complete the greeting"
                                                            : out->client().failure();
                    const bool retry_in_clear = out->tls_failed() && !c.require_tls && tls_possible;
                    out->close("");
                    if (!retry_in_clear) break;  // opportunistic TLS failed: the same host once more in clear
                }
            }
        }
        if (error.empty()) error = "451 4.4.0 no address of the next hop can be reached from SourceIPAddress " + c.source_ip;
        co_return nullptr;
    }

    asio::awaitable<void> worker(QueueId q) {
        auto cfg = config;
        Target t = co_await resolve_target(*cfg, q);
        if (t.kind == Target::Kind::Moved) {
            auto again = resubmit(q);
            co_await std::move(again);
            co_return;
        }
        if (t.kind == Target::Kind::Transient) {
            co_await defer(q, t.error, {});  // nothing leased yet
            co_return;
        }
        std::unique_ptr<Outbound> conn;
        const std::string connector_name = t.connector ? t.connector->name : std::string();
        const std::uint32_t per_connection = t.connector ? t.connector->max_messages_per_connection : 1;
        while (!stopping) {
            std::size_t want = kLeaseBatch;
            if (conn) want = std::min<std::size_t>(want, per_connection - conn->messages_sent);
            auto leased = co_await until_written_blocking("leasing from " + q.name(),
                                                 [this, &q, want] { return db.lease_for_delivery(q, want); });
            if (!leased || leased->empty()) break;
            if (leased->size() == want) start_worker(q);  // more waiting: open another connection
            std::size_t i = 0;
            for (; i < leased->size() && !stopping; ++i) {
                auto& m = (*leased)[i];
                auto content = co_await blocking([this, id = m.id] { return db.export_message(id); });
                if (!content) continue;  // removed meanwhile
                if (t.kind == Target::Kind::Permanent) {
                    co_await fail_locally(*cfg, m, t.status, t.error, &*content, connector_name);
                    continue;
                }
                if (queue::now_timestamp() >= m.envelope.expiration_time) {
                    co_await fail_locally(*cfg, m, kExpiredStatus, kExpiredText, &*content, connector_name);
                    continue;
                }
                if (t.connector->max_message_size != 0 && content->size() > t.connector->max_message_size) {
                    // The winner's limit holds: never fall through to a less specific connector.
                    const std::string status = "5.3.4";
                    const std::string text =
                        fmt::format("552 5.3.4 Message size {} exceeds the MaxMessageSize {} of Send connector {}",
                                    content->size(), t.connector->max_message_size, t.connector->name);
                    co_await fail_locally(*cfg, m, status, text, &*content, connector_name);
                    continue;
                }
                if (!conn || !conn->usable()) {
                    std::string error;
                    conn = co_await connect(*cfg, t, error);
                    if (!conn) {
                        // Returns this connection's leases (this one and the rest of the
                        // batch) to Ready; other connections' leases are theirs to end.
                        std::vector<queue::MessageId> mine;
                        for (std::size_t k = i; k < leased->size(); ++k) mine.push_back((*leased)[k].id);
                        co_await defer(q, error, mine);
                        co_return;
                    }
                    co_await connected(q);
                }
                co_await deliver(*cfg, *conn, m, *content, connector_name);
                if (conn->messages_sent >= per_connection) {
                    co_await conn->quit();
                    conn.reset();
                }
            }
            for (; i < leased->size(); ++i) {
                auto& m = (*leased)[i];
                co_await release(m);
            }
        }
        if (conn) co_await conn->quit();
    }

    asio::awaitable<void> defer(const QueueId& q, const std::string& error, std::vector<queue::MessageId> leases) {
        HopState& st = hops[q.next_hop];
        st.failures += 1;
        st.may_have_error = true;
        auto wait = config->settings.connection_retry_interval(st.failures);
        auto next = queue::now_timestamp() + std::chrono::duration_cast<std::chrono::microseconds>(wait);
        auto made = std::make_shared<NdrsMade>();
        auto ndr = ndr_builder(config, made);
        // Returns our leases in the queue to Ready: never dropped, or they would stay Active.
        auto deferred = co_await until_written_blocking("deferring " + q.name(), [this, &q, next, &error, &ndr, &leases] {
            return db.defer_queue(q, next, error, ndr, &leases);
        });
        if (deferred) track_ndrs(*made);
        kick();  // the retry index changed
        say(fmt::format("{}: {} (retry {} in {})", q.name(), error, st.failures, config::format_time_span(wait)));
    }

    asio::awaitable<void> connected(const QueueId& q) {
        HopState& st = hops[q.next_hop];
        st.failures = 0;
        if (!st.may_have_error) co_return;
        st.may_have_error = false;
        auto marked = co_await blocking([this, &q] { return db.mark_queue_connected(q); });
        if (!marked) {
            // Not a lease: the next connection tries again.
            hops[q.next_hop].may_have_error = true;
            say(fmt::format("{}: clearing LastError failed: {}", q.name(), marked.error().message()));
        }
    }

    // Ends a lease without an attempt; never dropped, or the message would stay Active.
    asio::awaitable<void> release(const queue::LeasedMessage& m) {
        co_await until_written_blocking(fmt::format("returning message {} to {}", m.id, m.queue.name()),
                               [this, &m] { return db.release_lease(m.id, m.queue); });
    }

    // --- outcomes, DSNs, tracking ---------------------------------------------------------
    asio::awaitable<void> deliver(const SendConfig& cfg, Outbound& conn, const queue::LeasedMessage& m,
                                  const std::string& content, const std::string& connector_name) {
        smtp::OutboundMessage out;
        out.sender = m.envelope.sender;
        out.content = content;
        // The queue keeps ENVID and ORCPT as received (xtext, RFC 3461 §4); the client
        // takes them decoded and encodes them once.
        out.envid = smtp::xtext_decode(m.envelope.dsn_envid).value_or(m.envelope.dsn_envid);
        out.ret = m.envelope.dsn_ret == queue::DsnRet::Full      ? smtp::OutboundMessage::Ret::Full
                  : m.envelope.dsn_ret == queue::DsnRet::Headers ? smtp::OutboundMessage::Ret::Headers
                                                                 : smtp::OutboundMessage::Ret::Unspecified;
        for (std::size_t idx : m.recipients) {
            const auto& r = m.envelope.recipients[idx];
            out.recipients.push_back({idx, r.address, smtp::orcpt_decoded(r.orcpt), r.notify});
        }
        auto results = co_await conn.send(out);
        const bool peer_dsn = conn.client().extensions().dsn;
        std::vector<Decided> decided;
        for (auto& r : results) decided.push_back({r.index, to_kind(r.result), r.response, r.status});
        co_await report(cfg, m, content, decided, peer_dsn, connector_name, conn.remote_host(), conn.log().session_id());
    }

    struct Decided {
        std::size_t index;
        queue::RecipientOutcome::Kind kind;
        std::string response;
        std::string status;
    };

    asio::awaitable<void> fail_locally(const SendConfig& cfg, const queue::LeasedMessage& m, const std::string& status,
                                       const std::string& text, const std::string* content,
                                       const std::string& connector_name) {
        std::optional<std::string> body;
        if (content == nullptr) {
            body = co_await blocking([this, id = m.id] { return db.export_message(id); });
            content = body ? &*body : nullptr;
        }
        std::vector<Decided> decided;
        for (std::size_t idx : m.recipients) decided.push_back({idx, queue::RecipientOutcome::Kind::Failed, text, status});
        static const std::string empty;
        co_await report(cfg, m, content ? *content : empty, decided, true, connector_name, empty, empty);
    }

    // Writes the outcomes with the DSNs they call for in one commit, and the tracking lines.
    asio::awaitable<void> report(const SendConfig& cfg, const queue::LeasedMessage& m, const std::string& content,
                                 const std::vector<Decided>& decided, bool peer_took_dsn, const std::string& connector_name,
                                 const std::string& remote_host, const std::string& session) {
        const auto now = queue::now_timestamp();
        const auto& s = cfg.settings;
        queue::DeliveryReport rep;
        rep.id = m.id;
        rep.queue = m.queue;
        std::vector<DsnRecipient> delayed, relayed;
        bool any_deferred = false;
        const bool delay_due = s.delay_dsn_enabled &&
                               now - m.envelope.arrival_time >= std::chrono::duration_cast<std::chrono::microseconds>(
                                                                    s.delay_notification_timeout);
        for (const auto& d : decided) {
            const auto& r = m.envelope.recipients[d.index];
            queue::RecipientOutcome o{d.index, d.kind, d.response, false, d.status};
            if (d.kind == queue::RecipientOutcome::Kind::Deferred) {
                any_deferred = true;
                if (delay_due && !r.delay_notified) {
                    delayed.push_back({d.index, d.status, d.response, m.queue.next_hop});
                    o.delay_notified = true;
                }
            }
            if (d.kind == queue::RecipientOutcome::Kind::Delivered && !peer_took_dsn &&
                (r.notify & queue::notify::Success) != 0)
                relayed.push_back({d.index, d.status.empty() ? "2.0.0" : d.status, d.response, m.queue.next_hop});
            rep.outcomes.push_back(std::move(o));
        }
        if (any_deferred)
            rep.next_retry_time = now + std::chrono::duration_cast<std::chrono::microseconds>(s.message_retry_interval);
        auto add_dsn = [&](DsnKind kind, std::vector<DsnRecipient> rcpts) {
            if (auto dsn = make_dsn(cfg, kind, m.envelope, content, std::move(rcpts), now)) rep.dsns.push_back(std::move(*dsn));
        };
        // Failures are not reported here: queue-db holds them as NDR-pending and builds the
        // message's one NDR, for the failed recipients of every queue, when it is due.
        auto made = std::make_shared<NdrsMade>();
        rep.ndr = ndr_builder(config, made);
        rep.ndr_hold_until = now + std::chrono::duration_cast<std::chrono::microseconds>(kNdrHoldLimit);
        add_dsn(DsnKind::Delay, std::move(delayed));
        add_dsn(DsnKind::Success, std::move(relayed));
        bool made_dsn = !rep.dsns.empty();
        std::vector<std::string> dsn_ids;
        for (const auto& d : rep.dsns) dsn_ids.push_back(d.envelope.internet_message_id);
        // Fails only when stopping or refused outright (the lease is gone; said by
        // record()): close() or the next open returns a lease that is left.
        if (!co_await record(rep)) co_return;
        made_dsn = track_ndrs(*made) || made_dsn;
        track(m, decided, connector_name, remote_host, session, dsn_ids);
        // A DSN waits in a queue; a deferral changed the retry index: both need the
        // scheduler to look again.
        if (made_dsn || any_deferred) kick();
    }

    void track(const queue::LeasedMessage& m, const std::vector<Decided>& decided, const std::string& connector,
               const std::string& remote_host, const std::string& session, const std::vector<std::string>& dsn_ids) {
        if (tracking == nullptr) return;
        auto line = [&](std::string_view event, queue::RecipientOutcome::Kind kind) {
            logging::TrackingEvent e;
            e.event_id = std::string(event);
            e.source = std::string(logging::tracking_source::Smtp);
            e.server_hostname = remote_host.empty() ? m.queue.next_hop : remote_host;
            e.client_hostname = config ? config->server_fqdn : std::string();
            e.source_context = session;
            e.connector_id = connector;
            e.internal_message_id = m.id;
            e.message_id = m.envelope.internet_message_id;
            e.total_bytes = m.envelope.size;
            e.subject = m.envelope.subject;
            e.sender = m.envelope.sender;
            e.return_path = m.envelope.sender;
            for (const auto& d : decided)
                if (d.kind == kind) {
                    e.recipients.push_back(m.envelope.recipients[d.index].address);
                    e.recipient_status.push_back(d.response);
                }
            if (!e.recipients.empty()) tracking->write(e);
        };
        line(logging::tracking_event::Send, queue::RecipientOutcome::Kind::Delivered);
        line(logging::tracking_event::Defer, queue::RecipientOutcome::Kind::Deferred);
        line(logging::tracking_event::Fail, queue::RecipientOutcome::Kind::Failed);
        for (const auto& id : dsn_ids) track_dsn(m.id, m.envelope.internet_message_id, m.envelope.sender, id);
    }

    void track_dsn(queue::MessageId about, const std::string& original_message_id, const std::string& original_sender,
                   const std::string& dsn_id) {
        if (tracking == nullptr) return;
        logging::TrackingEvent e;
        e.event_id = std::string(logging::tracking_event::Dsn);
        e.source = std::string(logging::tracking_source::Dsn);
        e.internal_message_id = about;
        e.message_id = dsn_id;
        e.reference = original_message_id;
        e.sender = "";
        e.recipients.push_back(original_sender);
        tracking->write(e);
    }

    // The NDRs an NdrBuilder made in a commit that succeeded: tracked; true when any.
    bool track_ndrs(NdrsMade& made) {
        std::lock_guard lk(made.mu);
        for (const auto& [id, m] : made.by_message) track_dsn(id, m.original_message_id, m.sender, m.ndr_message_id);
        return !made.by_message.empty();
    }
};

DeliveryService::DeliveryService(asio::io_context& io, queue::QueueDb& db, DeliveryOptions options,
                                 logging::MessageTrackingLog* tracking)
    : impl_(std::make_unique<Impl>(io, db, std::move(options), tracking)) {}

DeliveryService::~DeliveryService() {
    impl_->pool.join();
}

void DeliveryService::apply(std::shared_ptr<const SendConfig> config) { impl_->apply(std::move(config)); }

void DeliveryService::notify() {
    if (!impl_->kicked) impl_->kick();
}

void DeliveryService::administrator_changed() {
    impl_->removals_due = true;
    impl_->kick();
}

asio::awaitable<void> DeliveryService::run() { co_await impl_->run(); }

asio::awaitable<void> DeliveryService::stop() {
    impl_->stopping = true;
    impl_->wake.cancel();
    asio::steady_timer t(impl_->io);
    // Bounded: a peer that stalls mid-message cannot hold the shutdown. Leases still
    // held go back to Ready when the queue closes cleanly.
    auto until = Clock::now() + std::chrono::seconds(10);
    while (impl_->connections > 0 && Clock::now() < until) {
        t.expires_after(std::chrono::milliseconds(20));
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (impl_->send_log) impl_->send_log->flush();
}

std::size_t DeliveryService::active_connections() const { return impl_->connections; }

}  // namespace edge::send
