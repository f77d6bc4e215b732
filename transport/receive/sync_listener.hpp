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
#pragma once

#include "asio.hpp"

#include <memory>
#include <string>

namespace edge::queue {
class QueueDb;
}

namespace edge::receive {

class EdgeSyncListener {
public:
    // `say` writes a line to the server's log.
    EdgeSyncListener(asio::io_context& io, queue::QueueDb& db, std::string data_directory,
                     std::function<void(const std::string&)> say);
    ~EdgeSyncListener();
    EdgeSyncListener(const EdgeSyncListener&) = delete;
    EdgeSyncListener& operator=(const EdgeSyncListener&) = delete;

    // Called at start and after every config change: listens while a subscription
    // exists (on its ListenAddress:Port), stops when it is removed.
    void reconcile();
    void stop();
    // The port listened on (0 when not listening): tests.
    std::uint16_t port() const;

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace edge::receive
