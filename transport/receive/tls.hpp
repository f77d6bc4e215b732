// TLS for STARTTLS (RFC 3207): the server context (TLS 1.2 and later only), the
// self-signed certificate made at first start when the bootstrap file names none, and
// (issue 20) the set of certificates a session may be offered — the bootstrap one and
// those enabled for SMTP (Enable-ExchangeCertificate), chosen by SNI — with the trust
// store that judges Domain Security client certificates.
#pragma once

#include "asio.hpp"
#include "session.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace edge::receive {

struct TlsFiles {
    std::string certificate;  // PEM, chain allowed
    std::string key;          // PEM
};

// The files to use: the configured ones, or <data>/tls/edge.{crt,key}, made now (EC
// P-256, CN and subjectAltName = fqdn, 10 years) when they do not exist yet.
// Throws std::runtime_error with the reason when neither works.
TlsFiles ensure_certificate(const std::string& data_directory, const std::string& fqdn,
                            const std::string& configured_certificate, const std::string& configured_key);

// A server context: TLS >= 1.2, no compression, no renegotiation, the server's
// cipher order, and the SNI callback of ServerCertificates. Throws with the reason
// when the files do not load or do not match.
asio::ssl::context make_server_context(const TlsFiles& files);

// The certificates STARTTLS offers, immutable once built; the server builds a new set
// when the ExchangeCertificate objects or TlsCertificateAuthorityFile change and swaps
// it in for new sessions. A session holds the set it started TLS with (shared_ptr), so
// a certificate removed meanwhile stays valid for the handshake in flight.
class ServerCertificates {
public:
    struct Enabled {
        std::string thumbprint;
        std::vector<std::string> names;  // what SNI matches (CertificateDomains)
        std::chrono::system_clock::time_point not_before;
        std::shared_ptr<asio::ssl::context> context;
    };
    // `bootstrap`: the bootstrap file's (or first-start) context, the default when no
    // certificate is enabled. `ca_file`: TlsCertificateAuthorityFile ("" = the system store only).
    ServerCertificates(std::shared_ptr<asio::ssl::context> bootstrap, std::vector<Enabled> enabled,
                       const std::string& ca_file);
    ~ServerCertificates();
    ServerCertificates(const ServerCertificates&) = delete;
    ServerCertificates& operator=(const ServerCertificates&) = delete;

    // The context a handshake starts with: the enabled certificate with the latest
    // NotBefore (a renewal supersedes), else the bootstrap one. SNI may switch it.
    asio::ssl::context& default_context() const;
    // The enabled certificate whose names match a client's server name (exact first,
    // then a wildcard), nullptr when none does.
    SSL_CTX* context_for(std::string_view server_name) const;
    // Ties `ssl` to this set, for the SNI callback every context carries. The caller
    // keeps the set alive until the handshake ends.
    void attach(SSL* ssl) const;
    // Domain Security: the chain of the client's certificate judged against the system
    // store and TlsCertificateAuthorityFile, for a TLS client (RFC 5280 path validation).
    smtp::ClientCertificate judge_client_certificate(SSL* ssl) const;
    const std::string& trust_problem() const { return trust_problem_; }  // a CA file that did not load

private:
    std::shared_ptr<asio::ssl::context> bootstrap_;
    std::vector<Enabled> enabled_;
    X509_STORE* trust_ = nullptr;
    std::string trust_problem_;
};

// "TLSv1.3" and "TLS_AES_256_GCM_SHA384" of an established connection.
std::string tls_version(SSL* ssl);
std::string tls_cipher(SSL* ssl);
// Ask the client for a certificate without judging it in the handshake (hubs use
// self-signed ones and the pin decides; Domain Security judges it after, so a client
// without one still gets TLS and a clear SMTP reply), and its SHA-256 fingerprint in
// upper-case hex, "" when it sent none.
void request_client_certificate(SSL* ssl);
std::string peer_certificate_sha256(SSL* ssl);

}  // namespace edge::receive
