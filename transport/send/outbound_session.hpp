// The outbound SMTP session driver: the real NextHopConnector. It opens a socket from the
// Send connector's SourceIPAddress, connects to each address of the next hop in turn,
// and feeds smtp::ClientSession (the pure client core) from the socket: greeting, EHLO,
// opportunistic STARTTLS, AUTH, messages, QUIT, each line in the SmtpSend protocol log.
#pragma once

#include "next_hop_connector.hpp"
#include "protocol_log.hpp"
#include "tls_policy.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include <memory>

namespace edge::send {

class SmtpConnector final : public NextHopConnector {
public:
    explicit SmtpConnector(boost::asio::io_context& io);
    ~SmtpConnector() override;

    // The SmtpSend protocol log's limits (made on the first call); TlsCertificateAuthorityFile
    // (a new TLS client context when it changes; sessions keep theirs).
    void apply(const DeliverySettings& settings);
    void flush_log();
    // TLS-RPT: told of every TLS attempt (may be null).
    void set_result_sink(TlsResultSink* sink) { results_ = sink; }
    // Domain Security's client certificate when the connector names none (TlsCertificateName):
    // the active receive certificate, chain and key files.
    void set_receive_certificate(std::string chain_file, std::string key_file) {
        receive_cert_ = std::move(chain_file);
        receive_key_ = std::move(key_file);
    }

    boost::asio::awaitable<ConnectResult> connect(const SendConfig& cfg, const Target& target) override;

private:
    boost::asio::io_context& io_;
    std::shared_ptr<boost::asio::ssl::context> tls_;
    std::string ca_file_, ca_error_;  // ca_error_: TlsCertificateAuthorityFile could not be read
    std::unique_ptr<logging::ProtocolLog> send_log_;
    std::unique_ptr<logging::ConnectivityLog> connectivity_log_;  // issue 21
    TlsResultSink* results_ = nullptr;
    std::string receive_cert_, receive_key_;
};

// The RFC 8460 §4.3 result type for an X509_V_ERR_* verify result (OpenSSL's).
std::string_view tls_result_type(long verify_result);

}  // namespace edge::send
