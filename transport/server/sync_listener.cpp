// The EdgeSync listener (see sync_listener.hpp): one coroutine per agent connection,
// batches applied on a thread of their own, its own connection limits.
#include "sync_listener.hpp"

#include "completion.hpp"

#include "accept_pause.hpp"
#include "config_store.hpp"
#include "edge_state.hpp"
#include "queue_db.hpp"
#include "run_blocking.hpp"
#include "spawn.hpp"
#include "sync_protocol.hpp"
#include "tls.hpp"
#include "typed_settings.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <malloc.h>

#include <chrono>
#include <ctime>

namespace edge::server {

namespace {
using namespace std::chrono_literals;
using receive::make_server_context;
using receive::peer_certificate_sha256;
using receive::request_client_certificate;
using receive::TlsFiles;
using async::use_tuple;  // completion.hpp
// An agent that says nothing for this long is cut off (a batch of millions arrives
// line by line well within it).
constexpr auto kInactivity = 60s;
// The TLS handshake must be over within this. Issue 13: 19,990 idle TCP connections
// that never sent a TLS byte each held a descriptor and a TLS engine, for ever.
constexpr auto kHandshakeTimeout = 10s;
// Connections whose TLS handshake is not over. Past this a new connection is closed
// as soon as it is accepted, before any TLS object is made for it: a flood costs the
// edge a few descriptors, not its descriptor table (the SMTP listeners share it).
constexpr std::size_t kMaxHandshakes = 16;
// Connections past their handshake. An agent deployment has a handful of agents (one
// holds the sync lease at a time); more connected at once is not a deployment.
constexpr std::size_t kMaxAgentConnections = 8;

// Constant-time comparison: the secret's hash must not leak through timing.
bool same_secret(const std::string& a, const std::string& b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}
}  // namespace

SyncConnectionWatchdog::SyncConnectionWatchdog(asio::io_context& io, std::shared_ptr<Stream> stream)
    : timer_(io), stream_(std::move(stream)) {}

SyncConnectionWatchdog::~SyncConnectionWatchdog() { cancel(); }

void SyncConnectionWatchdog::arm(std::chrono::steady_clock::duration d) {
    timer_.expires_after(d);
    // The handler holds its own share of the stream: an expiry already queued when the
    // connection's coroutine ends (cancel() cannot take back a queued completion)
    // closes a socket that is still there, never a destroyed one.
    timer_.async_wait([stream = stream_](boost::system::error_code ec) {
        if (!ec) stream->lowest_layer().close(ec);
    });
}

void SyncConnectionWatchdog::cancel() { timer_.cancel(); }

struct EdgeSyncListener::Impl : std::enable_shared_from_this<Impl> {
    Impl(asio::io_context& i, queue::QueueDb& d, std::string dir, std::function<void(const std::string&)> s,
         std::function<void()> changed)
        : io(i), db(d), data_directory(std::move(dir)), say_fn(std::move(s)), config_changed(std::move(changed)) {}

    asio::io_context& io;
    queue::QueueDb& db;
    std::string data_directory;
    std::function<void(const std::string&)> say_fn;
    std::function<void()> config_changed;
    asio::thread_pool pool{1};  // one thread: leases and batches run in turn (ARCHITECTURE, "Sync lease")
    // When a refused LEASE was last said (pool thread): at most one line per 10 s.
    std::chrono::steady_clock::time_point lease_refusal_said{};
    std::shared_ptr<tcp::acceptor> acceptor;
    std::shared_ptr<asio::ssl::context> ctx;
    std::string bound;  // "address:port" listened on
    bool stopping = false;
    // The connection limits (all on the I/O thread).
    std::size_t handshaking = 0, agents = 0;
    std::uint64_t refused = 0;  // closed over the limits since the listener was last idle
    std::chrono::steady_clock::time_point refusal_said{};

    void say(const std::string& s) const {
        if (say_fn) say_fn("EdgeSync: " + s);
    }

    void close_acceptor() {
        if (acceptor) {
            boost::system::error_code ec;
            acceptor->close(ec);
        }
        acceptor.reset();
        bound.clear();
    }

    // Over a limit: the connection is closed at once, before a TLS object exists for it.
    // Said at most once every 10 s while it lasts, and once when it is over.
    void refuse(tcp::socket& sock) {
        boost::system::error_code ec;
        sock.close(ec);
        ++refused;
        const auto now = std::chrono::steady_clock::now();
        if (refused == 1 || now - refusal_said >= 10s) {
            refusal_said = now;
            say(fmt::format("closing new connections at once: {} TLS handshakes in progress (limit {}), {} agents "
                            "connected (limit {}); {} closed so far",
                            handshaking, kMaxHandshakes, agents, kMaxAgentConnections, refused));
        }
    }

    // The last connection ended. After a flood the heap that its connections used is
    // free but glibc keeps it: give it back to the system (issue 13: RSS stayed at
    // 1.77 GB after the connections were gone).
    void idle_again() {
        if (refused == 0) return;
        say(fmt::format("the connection flood is over: {} connections were closed over the limits", refused));
        refused = 0;
        ::malloc_trim(0);
    }

    // One connection's place in the limits, from accept to its end.
    struct ConnectionSlot {
        Impl& d;
        bool agent = false;
        explicit ConnectionSlot(Impl& impl) : d(impl) { ++d.handshaking; }
        ConnectionSlot(const ConnectionSlot&) = delete;
        ConnectionSlot& operator=(const ConnectionSlot&) = delete;
        void handshake_done() {
            --d.handshaking;
            ++d.agents;
            agent = true;
        }
        ~ConnectionSlot() {
            --(agent ? d.agents : d.handshaking);
            if (d.handshaking == 0 && d.agents == 0) d.idle_again();
        }
    };

    // The address the listener binds: Set-TransportServer -EdgeSyncListenAddress.
    std::string listen_address() const {
        return config::transport_server_settings(config::load_singleton(db, config::ObjectKind::TransportServer))
            .edge_sync_listen_address;
    }

    void reconcile() {
        if (stopping) return;
        auto sub = edgesync::load_subscription(db);
        const std::string address = sub ? listen_address() : std::string();
        // A new subscription (New-EdgeSubscription -Force) brings a new certificate:
        // listen again even on the same address and port.
        std::string want = sub ? fmt::format("{}:{} {}", address, sub->port, sub->hash_key.substr(0, 16)) : "";
        if (want == bound) return;
        close_acceptor();
        if (!sub) {
            say("no subscription: not listening");
            return;
        }
        try {
            TlsFiles files{data_directory + "/tls/edgesync.crt", data_directory + "/tls/edgesync.key"};
            ctx = std::make_shared<asio::ssl::context>(make_server_context(files));
            boost::system::error_code ec;
            auto addr = asio::ip::make_address(address, ec);
            if (ec) throw std::runtime_error("EdgeSyncListenAddress " + address + ": " + ec.message());
            tcp::endpoint ep(addr, sub->port);
            const std::string where = addr.is_v6() ? fmt::format("[{}]:{}", address, sub->port)
                                                   : fmt::format("{}:{}", address, sub->port);
            auto a = std::make_shared<tcp::acceptor>(io);
            a->open(ep.protocol());
            a->set_option(tcp::acceptor::reuse_address(true));
            a->bind(ep);
            a->listen();
            acceptor = a;
            bound = want;
            say("listening on " + where);
            async::spawn(io.get_executor(), accept_loop(shared_from_this(), a, where), "EdgeSync listener on " + where);
        } catch (const std::exception& e) {
            say(fmt::format("cannot listen on {}: {}", want, e.what()));
        }
    }

    static asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self, std::shared_ptr<tcp::acceptor> a,
                                             std::string where) {
        AcceptErrorPause errors("accept on " + where);
        while (a->is_open()) {
            auto [ec, sock] = co_await a->async_accept(use_tuple);
            if (ec == asio::error::operation_aborted || !a->is_open()) co_return;
            if (ec) {
                // Out of descriptors (EMFILE, ENFILE) or anything else: pause, never spin.
                if (auto line = errors.note(ec)) self->say(*line);
                co_await AcceptErrorPause::pause(self->io);
                continue;
            }
            if (self->handshaking >= kMaxHandshakes || self->agents >= kMaxAgentConnections) {
                self->refuse(sock);
                continue;
            }
            async::spawn(self->io.get_executor(), serve(self, std::move(sock)), "EdgeSync connection on " + where);
        }
    }

    // One agent connection. Every reply is one line; a refusal of trust or a broken
    // batch ends the connection.
    static asio::awaitable<void> serve(std::shared_ptr<Impl> self, tcp::socket sock) {
        Impl& d = *self;
        ConnectionSlot slot(d);
        std::string peer;
        boost::system::error_code pe;
        auto rep = sock.remote_endpoint(pe);
        if (!pe) peer = rep.address().to_string();
        auto ctx = d.ctx;
        auto stream = std::make_shared<SyncConnectionWatchdog::Stream>(std::move(sock), *ctx);
        auto& s = *stream;
        request_client_certificate(s.native_handle());
        SyncConnectionWatchdog watchdog(d.io, stream);
        watchdog.arm(kHandshakeTimeout);
        auto [hec] = co_await s.async_handshake(asio::ssl::stream_base::server, use_tuple);
        if (hec) {
            boost::system::error_code ec;
            s.lowest_layer().close(ec);
            co_return;
        }
        slot.handshake_done();
        const std::string fingerprint = peer_certificate_sha256(s.native_handle());
        // Re-armed at most once a second, not once per line: a batch of a million lines
        // would otherwise cancel and restart the timer a million times.
        auto armed_at = std::chrono::steady_clock::time_point{};
        auto arm = [&] {
            const auto now = std::chrono::steady_clock::now();
            if (now - armed_at < 1s) return;
            armed_at = now;
            watchdog.arm(kInactivity);
        };
        arm();

        std::string buf;
        auto read_line = [&]() -> asio::awaitable<std::optional<std::string>> {
            arm();
            auto [ec, n] = co_await asio::async_read_until(s, asio::dynamic_buffer(buf, edgesync::kMaxLine + 1), '\n',
                                                            use_tuple);
            if (ec) co_return std::nullopt;  // closed, timed out, or a line over kMaxLine
            std::string line = buf.substr(0, n - 1);
            buf.erase(0, n);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            co_return line;
        };
        auto reply = [&](std::string line) -> asio::awaitable<bool> {
            line += "\n";
            auto [ec, n] = co_await asio::async_write(s, asio::buffer(line), use_tuple);
            co_return !ec;
        };

        std::string lease_holder;  // the holder id this connection took the lease with
        bool trusted = false;
        while (true) {
            auto line = co_await read_line();
            if (!line) break;
            auto parsed = edgesync::parse_request(*line);
            if (auto* err = std::get_if<std::string>(&parsed)) {
                co_await reply("ERR 500 " + *err);
                break;
            }
            auto& req = std::get<edgesync::Request>(parsed);
            if (auto* e = std::get_if<edgesync::Enroll>(&req)) {
                auto answer = co_await async::run_blocking(d.io, d.pool, [&] { return d.enroll(e->secret, fingerprint); });
                trusted = answer.starts_with("OK");
                d.say(fmt::format("enrollment from {}: {}", peer, trusted ? "accepted, certificate pinned" : answer));
                co_await reply(answer);
                if (!trusted) break;
                continue;
            }
            if (std::holds_alternative<edgesync::Hello>(req)) {
                auto sub = edgesync::load_subscription(d.db);
                trusted = sub && !sub->agent_certificate.empty() && !fingerprint.empty() &&
                          same_secret(sub->agent_certificate, fingerprint);
                if (!trusted) {
                    d.say(fmt::format("refused {}: its certificate is not the enrolled one", peer));
                    co_await reply("ERR 530 this certificate is not enrolled; enroll with the subscription file's secret");
                    break;
                }
                co_await reply("OK");
                continue;
            }
            if (std::holds_alternative<edgesync::Quit>(req)) {
                co_await reply("OK");
                break;
            }
            if (!trusted) {
                co_await reply("ERR 530 say EDGESYNC 1 ENROLL or HELLO first");
                break;
            }
            if (auto* l = std::get_if<edgesync::Lease>(&req)) {
                auto answer =
                    co_await async::run_blocking(d.io, d.pool, [&] { return d.take_lease(*l, peer); });
                if (answer.starts_with("OK")) lease_holder = l->holder;
                co_await reply(answer);
                continue;
            }
            if (std::holds_alternative<edgesync::Release>(req)) {
                auto answer = co_await async::run_blocking(d.io, d.pool, [&] { return d.release_lease(lease_holder); });
                lease_holder.clear();
                co_await reply(answer);
                continue;
            }
            if (std::holds_alternative<edgesync::Status>(req)) {
                auto sub = edgesync::load_subscription(d.db);
                if (!sub) {
                    co_await reply("ERR 530 the subscription was removed");
                    break;
                }
                co_await reply(fmt::format("OK version={} config={} recipients={} count={}", sub->recipient_version,
                                           sub->last_config_sync, sub->last_recipient_sync, d.db.recipient_count()));
                continue;
            }
            auto start = std::get<edgesync::BatchStart>(req);
            edgesync::BatchReader batch(start);
            std::optional<std::string> problem;
            while (!problem && !batch.complete()) {
                auto rec = co_await read_line();
                if (!rec) problem = "the batch ended early";
                else problem = batch.add_record(*rec);
            }
            if (!problem) {
                auto end = co_await read_line();
                problem = end ? batch.finish(*end) : std::optional<std::string>("the batch ended before END");
            }
            if (problem) {
                d.say(fmt::format("refused a batch from {}: {}; nothing of it applied", peer, *problem));
                co_await reply("ERR 400 " + *problem + "; nothing of it applied");
                break;
            }
            bool changed = false;
            auto answer =
                co_await async::run_blocking(d.io, d.pool, [&] { return d.apply(batch, lease_holder, &changed); });
            // Back on the I/O thread: the server takes the new configuration before the
            // agent hears OK, so the next RCPT sees it.
            if (changed && d.config_changed) d.config_changed();
            d.say(fmt::format("{} batch from {} ({} records): {}",
                              start.kind == edgesync::BatchKind::Config ? "configuration" : "recipient", peer, start.count,
                              answer));
            co_await reply(answer);
        }
        watchdog.cancel();
        boost::system::error_code ec;
        s.lowest_layer().close(ec);
    }

    // --- the decisions, on the pool thread (they write) ------------------------------

    std::string enroll(const std::string& secret, const std::string& fingerprint) {
        const auto generation = db.config_generation();
        auto sub = edgesync::load_subscription(db);
        if (!sub) return "ERR 530 this edge has no subscription";
        if (sub->secret_sha256.empty()) return "ERR 530 the enrollment secret was used already; make a new subscription";
        if (edgesync::unix_now() > sub->secret_expires) return "ERR 530 the enrollment secret has expired; make a new subscription";
        if (!same_secret(edgesync::enrollment_secret_hash(secret), sub->secret_sha256)) return "ERR 530 wrong enrollment secret";
        if (fingerprint.empty()) return "ERR 530 enrollment needs a client certificate";
        sub->agent_certificate = fingerprint;
        sub->secret_sha256.clear();  // once only
        auto r = db.config_apply({edgesync::subscription_change(*sub)}, generation);
        if (!r) return "ERR 451 the subscription changed meanwhile; try again";
        return "OK " + sub->hash_key;
    }

    // Writes the subscription record alone: bookkeeping, no server reloads for it.
    bool save_subscription(const edgesync::Subscription& sub, std::uint64_t generation) {
        queue::QueueDb::SyncBatch b;
        b.expected_generation = generation;
        b.bookkeeping.push_back(edgesync::subscription_change(sub));
        return static_cast<bool>(db.apply_sync_batch(b));
    }

    // One lease per subscription, held by one agent process (its holder id), whatever
    // the agents' names. A refusal tells the agent how long to wait, and is counted.
    std::string take_lease(const edgesync::Lease& l, const std::string& peer) {
        const auto generation = db.config_generation();
        auto sub = edgesync::load_subscription(db);
        if (!sub) return "ERR 530 the subscription was removed";
        const auto now = edgesync::unix_now();
        if (sub->lease_until > now && sub->lease_holder_id != l.holder) {
            const std::string answer = edgesync::lease_refusal(sub->lease_holder, sub->lease_until - now);
            sub->lease_refusals += 1;
            sub->last_lease_refusal = now;
            save_subscription(*sub, generation);  // a lost count on a conflict is no harm
            const auto steady = std::chrono::steady_clock::now();
            if (sub->lease_refusals == 1 || steady - lease_refusal_said >= 10s) {
                lease_refusal_said = steady;
                say(fmt::format("refused the sync lease to {} from {}: {} holds it for {} more seconds ({} refused "
                                "lease requests so far)",
                                l.agent, peer, sub->lease_holder, sub->lease_until - now, sub->lease_refusals));
            }
            return answer;
        }
        sub->lease_holder = l.agent;
        sub->lease_holder_id = l.holder;
        sub->lease_until = now + l.seconds;
        if (!save_subscription(*sub, generation)) return "ERR 451 the subscription changed meanwhile; try again";
        return "OK";
    }

    // edgesync --once at its end, and a stopped daemon, give the lease back: another
    // agent need not wait for its expiry.
    std::string release_lease(const std::string& holder) {
        const auto generation = db.config_generation();
        auto sub = edgesync::load_subscription(db);
        if (!sub) return "ERR 530 the subscription was removed";
        if (holder.empty() || sub->lease_holder_id != holder) return "OK not held";
        sub->lease_holder.clear();
        sub->lease_holder_id.clear();
        sub->lease_until = 0;
        if (!save_subscription(*sub, generation)) return "ERR 451 the subscription changed meanwhile; try again";
        return "OK";
    }

    // What of `changes` would change the store: a sync of the same data writes nothing.
    std::vector<queue::ConfigChange> actual_changes(std::vector<queue::ConfigChange> changes) const {
        std::erase_if(changes, [&](const queue::ConfigChange& c) { return db.config_get(c.kind, c.name) == c.value; });
        return changes;
    }

    std::string apply(const edgesync::BatchReader& batch, const std::string& holder, bool* config_changed_out) {
        queue::QueueDb::SyncBatch out;
        out.expected_generation = db.config_generation();
        auto sub = edgesync::load_subscription(db);
        if (!sub) return "ERR 530 the subscription was removed";
        const auto now = edgesync::unix_now();
        if (holder.empty() || sub->lease_holder_id != holder || sub->lease_until <= now)
            return "ERR 450 take the LEASE first (or it expired)";
        if (batch.start().kind == edgesync::BatchKind::Config) {
            std::vector<std::string> replicated;
            try {
                out.config = actual_changes(edgesync::replicated_config_changes(db, batch.config(), &replicated));
            } catch (const std::exception& e) {
                return std::string("ERR 400 ") + e.what() + "; nothing of it applied";
            }
            sub->site = batch.config().site;
            sub->replicated = std::move(replicated);
            sub->last_config_sync = now;
        } else {
            if (batch.start().mode == edgesync::BatchMode::Delta && batch.start().base_version != sub->recipient_version)
                return fmt::format("ERR 409 this edge has recipient version {}, not {}: send FULL", sub->recipient_version,
                                   batch.start().base_version);
            out.full_recipient_set = batch.start().mode == edgesync::BatchMode::Full;
            out.recipients_added = batch.recipients().added;
            out.recipients_removed = batch.recipients().removed;
            // A DELTA of nothing (+0 -0) is the same version: nothing to reload, nothing new.
            if (out.full_recipient_set || !out.recipients_added.empty() || !out.recipients_removed.empty())
                sub->recipient_version += 1;
            sub->last_recipient_sync = now;
        }
        // The subscription (sync times, version, site) is bookkeeping: the generation
        // moves only when accepted domains or connectors did (issue 15: every connected
        // server reloaded after a sync that changed nothing).
        out.bookkeeping.push_back(edgesync::subscription_change(*sub));
        auto st = db.apply_sync_batch(out);
        if (!st) return "ERR 451 " + st.error().message() + "; nothing of it applied";
        *config_changed_out = !out.config.empty();
        return fmt::format("OK {}", sub->recipient_version);
    }
};

EdgeSyncListener::EdgeSyncListener(asio::io_context& io, queue::QueueDb& db, std::string data_directory,
                                   std::function<void(const std::string&)> say, std::function<void()> config_changed)
    : impl_(std::make_shared<Impl>(io, db, std::move(data_directory), std::move(say), std::move(config_changed))) {}

EdgeSyncListener::~EdgeSyncListener() {
    impl_->stopping = true;
    impl_->close_acceptor();
    impl_->pool.join();
}

void EdgeSyncListener::reconcile() { impl_->reconcile(); }

void EdgeSyncListener::stop() {
    impl_->stopping = true;
    impl_->close_acceptor();
}

std::uint16_t EdgeSyncListener::port() const {
    return impl_->acceptor ? impl_->acceptor->local_endpoint().port() : 0;
}

}  // namespace edge::server
