// The narrow interface between a Receive connector's SMTP driver and what becomes of a
// finished message. At the end of DATA/BDAT the driver hands over the transaction and
// the facts of the session; the acceptance (transport/server/message_acceptance.*)
// scans the header, runs the end-of-data agents, routes, commits and tracks, and says
// which reply is owed. The driver knows nothing of queues, routing or delivery.
#pragma once

#include "asio.hpp"
#include "pipeline.hpp"
#include "replies.hpp"
#include "session.hpp"

#include <cstdint>
#include <string>

namespace edge::receive {

struct FinishedMessage {
    // Sender, recipients and DSN parameters; the body is taken from it.
    smtp::Transaction* transaction = nullptr;
    std::string session_id;
    std::string receive_id;      // "<session id>.<n>": the Received header's id, tracking's source context
    std::string connector_name;  // the Receive connector
    std::string connector_fqdn;  // its Fqdn: "Received: … by", and the domain of a Message-ID we add
    std::uint64_t max_header_size = 0;
    std::uint32_t max_hop_count = 0;
    std::string helo_domain;
    std::string client_ip, local_ip;
    bool esmtp = false;
    bool tls = false;
    std::string tls_version, tls_cipher;
    std::uint32_t permissions = 0;  // smtp::permission bits the session holds (who may have mail signed)
    // The transport agents of the session's snapshot, what they know of the session,
    // and where their verdicts are logged: OnEndOfHeaders / OnEndOfData run in the
    // acceptance. None: no agents.
    const agents::Pipeline* agents = nullptr;
    agents::AgentSession* agent_session = nullptr;
    agents::VerdictSink* agent_log = nullptr;
    // From the Pickup directory (issue 21), not an SMTP client: tracked with source PICKUP,
    // and our Received: field names the directory instead of a client.
    bool pickup = false;
};

struct AcceptanceOutcome {
    // Deleted: an agent's Delete (SpoofedDomainAction Delete): the client is told 250
    // as for Queued, and nothing is queued.
    enum class Result : std::uint8_t { Queued, Refused, Failed, Deleted };
    Result result = Result::Failed;
    smtp::ReplyId refusal{};    // Refused: the catalogue reply (HeaderTooBig, HopCountExceeded)
    std::string refusal_text;   // Refused by an agent: the "{}" of `refusal` (a configured response)
    bool storage_full = false;  // Failed: no room in the queue (452 4.3.1) rather than another failure (451)
    std::string error;          // Failed: the queue's reason, for the protocol log
    std::string message_id;     // Queued, Deleted: the Message-ID (the client's or ours)
    std::string deleted_by;     // Deleted: the agent
    std::uint64_t queue_id = 0; // Queued: the queue's message id
    std::uint64_t size = 0;     // Queued: bytes committed, our headers included
};

class MessageAcceptance {
public:
    virtual ~MessageAcceptance() = default;
    // Completes only when the message is durably queued, or refused, or the queue
    // failed: the 250 the driver then writes follows the fsync.
    virtual asio::awaitable<AcceptanceOutcome> accept(FinishedMessage message) = 0;
};

}  // namespace edge::receive
