// Self-signed certificates and SHA-256 certificate fingerprints (see certificate.cpp).
#pragma once

#include <openssl/x509.h>

#include <string>

namespace edge::tls {

// Writes a new EC P-256 key (mode 0600) and a self-signed certificate (CN and
// subjectAltName DNS = `name`, valid 10 years) atomically. Throws std::runtime_error.
void make_self_signed_certificate(const std::string& cert_path, const std::string& key_path, const std::string& name);

// The SHA-256 fingerprint in upper-case hex, "" for none or on failure: what pins compare.
std::string certificate_sha256(X509* cert);
std::string pem_certificate_sha256(const std::string& pem);

}  // namespace edge::tls
