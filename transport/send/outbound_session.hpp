// The outbound SMTP session driver: the real NextHopConnector. It opens a socket from the
// Send connector's SourceIPAddress, connects to each address of the next hop in turn,
// and feeds smtp::ClientSession (the pure client core) from the socket: greeting, EHLO,
// opportunistic STARTTLS, AUTH, messages, QUIT, each line in the SmtpSend protocol log.
#pragma once

#include "next_hop_connector.hpp"
#include "protocol_log.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include <memory>

namespace edge::send {

class SmtpConnector final : public NextHopConnector {
public:
    explicit SmtpConnector(boost::asio::io_context& io);
    ~SmtpConnector() override;

    // The SmtpSend protocol log's limits (made on the first call).
    void apply(const DeliverySettings& settings);
    void flush_log();

    boost::asio::awaitable<ConnectResult> connect(const SendConfig& cfg, const Target& target) override;

private:
    boost::asio::io_context& io_;
    boost::asio::ssl::context tls_;
    std::unique_ptr<logging::ProtocolLog> send_log_;
};

}  // namespace edge::send
