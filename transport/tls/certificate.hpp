// Self-signed certificates and SHA-256 certificate fingerprints (see certificate.cpp).
#pragma once

#include <openssl/x509.h>

#include <string>
#include <utility>
#include <vector>

namespace edge::tls {

// A self-signed certificate to make: the subject's attributes in order ({"CN", "mail.contoso.com"},
// {"O", "Contoso"}), its subjectAltName dNSNames, and how long it is valid.
struct SelfSignedRequest {
    std::vector<std::pair<std::string, std::string>> subject;
    std::vector<std::string> dns_names;
    long days = 3650;
};
// The new certificate and its EC P-256 key as PEM; the key's bytes are wiped when it goes.
struct SelfSignedPem {
    std::string certificate;
    std::string key;
    SelfSignedPem() = default;
    SelfSignedPem(const SelfSignedPem&) = delete;
    SelfSignedPem& operator=(const SelfSignedPem&) = delete;
    SelfSignedPem(SelfSignedPem&&) = default;
    ~SelfSignedPem();
};
// Throws std::runtime_error (an attribute OpenSSL does not know, a name it refuses).
SelfSignedPem make_self_signed_pem(const SelfSignedRequest& request);

// Writes a new EC P-256 key (mode 0600) and a self-signed certificate (CN and
// subjectAltName DNS = `name`, valid 10 years) atomically. Throws std::runtime_error.
void make_self_signed_certificate(const std::string& cert_path, const std::string& key_path, const std::string& name);

// The SHA-256 fingerprint in upper-case hex, "" for none or on failure: what pins compare.
std::string certificate_sha256(X509* cert);
std::string pem_certificate_sha256(const std::string& pem);

}  // namespace edge::tls
