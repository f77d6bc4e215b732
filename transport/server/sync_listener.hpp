// The edge's EdgeSync listener: the internal side's `edgesync` agent connects in over
// mutual TLS (the edge never connects inward) and pushes configuration and hashed
// recipients; each batch is read whole, checked, and applied in one queue-db
// transaction, so the edge never acts on half a sync. The protocol is
// edgesync/sync_protocol.hpp; the state is edgesync/edge_state.hpp.
//
// Trust: the agent pins our certificate (it is in the subscription file). We pin the
// agent's: the first connection presents the one-time enrollment secret (valid
// EnrollmentLifetime, never twice) and its client certificate, whose fingerprint we
// keep; every later connection must present that certificate, or it is refused
// before any request is read.
//
// Limits (issue 13): at most 16 connections in their TLS handshake and 8 past it; a
// connection over either is closed as soon as it is accepted, before any TLS object
// is made. The handshake must be over in 10 s; an agent that then says nothing for
// 60 s is cut. A failed accept pauses (accept_pause.hpp). The listener binds the
// TransportServer's EdgeSyncListenAddress (default 127.0.0.1: not every interface
// unless the administrator says so).
#pragma once

#include "asio.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace edge::queue {
class QueueDb;
}

namespace edge::server {

// The clock of one agent connection: when it expires it closes the connection's
// socket, which ends whatever the connection's coroutine awaits. It holds a share of
// the stream, so an expiry already queued when the coroutine ends (cancel() cannot
// take back a completion that is queued) closes a socket that still exists, never a
// destroyed one (issue 13, weakness 11).
class SyncConnectionWatchdog {
public:
    using Stream = asio::ssl::stream<tcp::socket>;
    SyncConnectionWatchdog(asio::io_context& io, std::shared_ptr<Stream> stream);
    ~SyncConnectionWatchdog();
    SyncConnectionWatchdog(const SyncConnectionWatchdog&) = delete;
    SyncConnectionWatchdog& operator=(const SyncConnectionWatchdog&) = delete;
    // (Re)starts the clock: the socket is closed `d` from now unless armed again first.
    void arm(std::chrono::steady_clock::duration d);
    void cancel();

private:
    asio::steady_timer timer_;
    std::shared_ptr<Stream> stream_;
};

class EdgeSyncListener {
public:
    // `say` writes a line to the server's log. `config_changed` is called on the I/O
    // thread after a batch changed the configuration and before the agent is answered:
    // the server reloads there, so a domain the agent was told is replicated is served
    // by the next RCPT (issue 15: 550 5.7.1 during the one-second config poll).
    EdgeSyncListener(asio::io_context& io, queue::QueueDb& db, std::string data_directory,
                     std::function<void(const std::string&)> say, std::function<void()> config_changed = {});
    ~EdgeSyncListener();
    EdgeSyncListener(const EdgeSyncListener&) = delete;
    EdgeSyncListener& operator=(const EdgeSyncListener&) = delete;

    // Called at start and after every config change: listens while a subscription
    // exists (on EdgeSyncListenAddress and the subscription's port), stops when it is
    // removed, moves when the address changes.
    void reconcile();
    void stop();
    // The port listened on (0 when not listening): tests.
    std::uint16_t port() const;

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace edge::server
