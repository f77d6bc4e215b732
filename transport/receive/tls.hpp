// TLS for STARTTLS (RFC 3207): the server context (TLS 1.2 and later only) and the
// self-signed certificate made at first start when the bootstrap file names none.
#pragma once

#include "asio.hpp"

#include <string>

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
// cipher order. Throws with the reason when the files do not load or do not match.
asio::ssl::context make_server_context(const TlsFiles& files);

// "TLSv1.3" and "TLS_AES_256_GCM_SHA384" of an established connection.
std::string tls_version(SSL* ssl);
std::string tls_cipher(SSL* ssl);
// Ask the client for a certificate without judging it (hubs use self-signed ones; the
// pin decides), and its SHA-256 fingerprint in upper-case hex, "" when it sent none.
void request_client_certificate(SSL* ssl);
std::string peer_certificate_sha256(SSL* ssl);

}  // namespace edge::receive
