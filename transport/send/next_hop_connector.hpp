// The delivery side's seam to the network: a NextHopConnector opens an SMTP session to a
// resolved next hop (connect, greeting, EHLO, STARTTLS) and an OutboundConnection sends
// messages over it. The real ones are in outbound_session.*; the scheduler's unit tests
// use fakes (a peer that refuses, defers, or takes every message).
#pragma once

#include "client_session.hpp"
#include "next_hop.hpp"
#include "send_connector.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace edge::send {

class OutboundConnection {
public:
    virtual ~OutboundConnection() = default;
    // Ready for another message (not broken, no transaction open).
    virtual bool usable() const = 0;
    // Messages this connection has sent (SmtpMaxMessagesPerConnection counts them).
    virtual std::uint32_t messages_sent() const = 0;
    // One message: every recipient's outcome (Deferred ones when the connection broke).
    virtual boost::asio::awaitable<std::vector<smtp::RecipientOutcome>> send(const smtp::OutboundMessage& m) = 0;
    // The peer announced DSN (RFC 3461): it takes over NOTIFY=SUCCESS, we send no relay notice.
    virtual bool peer_takes_dsn() const = 0;
    // The host name we reached ("mx1.contoso.com", "[192.0.2.1]"), for the tracking log.
    virtual const std::string& remote_host() const = 0;
    // The SmtpSend protocol log's session id ("" when the connector does not log).
    virtual std::string session_id() const = 0;
    // QUIT, then close.
    virtual boost::asio::awaitable<void> quit() = 0;
};

struct ConnectResult {
    std::unique_ptr<OutboundConnection> connection;  // null: nobody was reached
    std::string error;                               // then: LastError ("451 4.4.0 …")
};

class NextHopConnector {
public:
    virtual ~NextHopConnector() = default;
    // A session ready for a message with one of `target`'s hosts, tried in
    // connection_attempts() order, under `target.connector`'s settings.
    virtual boost::asio::awaitable<ConnectResult> connect(const SendConfig& cfg, const Target& target) = 0;
};

}  // namespace edge::send
