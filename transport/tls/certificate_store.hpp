// The certificates an administrator manages live (issue 20: Import-/New-/Get-/Enable-/
// Remove-ExchangeCertificate): their files in <DataDirectory>/certificates and what a
// certificate says of itself. The config store's ExchangeCertificate objects (named by
// thumbprint) record which are enabled; this file only reads and writes the files.
//
// Layout, agreed with the outbound side (its client certificate, TlsCertificateName):
//   <DataDirectory>/certificates/            0700
//   <DataDirectory>/certificates/<T>.pem     the certificate, then its chain (PEM)
//   <DataDirectory>/certificates/<T>.key     its private key (PEM, PKCS#8), 0600
// where <T> is the SHA-1 of the DER certificate in upper-case hex, as Exchange shows it.
#pragma once

#include <openssl/x509.h>

#include <chrono>
#include <string>
#include <vector>

namespace edge::tls {

// What Get-ExchangeCertificate shows of one certificate.
struct CertificateInfo {
    std::string thumbprint;           // SHA-1 of the DER, upper-case hex
    std::string subject, issuer;      // "CN=mail.contoso.com, O=Contoso" (RFC 2253 order, as Exchange shows it)
    std::vector<std::string> domains; // subjectAltName dNSNames, else the CN
    std::chrono::system_clock::time_point not_before, not_after;
    bool self_signed = false;
};

// The largest certificate or key file read (a chain of a few certificates is ~10 KB).
inline constexpr std::size_t kMaxCertificateFileSize = 1 << 20;

std::string certificates_directory(const std::string& data_directory);
std::string certificate_path(const std::string& data_directory, const std::string& thumbprint);
std::string key_path(const std::string& data_directory, const std::string& thumbprint);

// A thumbprint as typed ("ab:cd…", any case, spaces) in canonical form, or "" when it is
// not 40 hex digits.
std::string canonical_thumbprint(std::string_view text);

CertificateInfo certificate_info(X509* cert);
std::string certificate_sha1(X509* cert);
// DNS names of a certificate: subjectAltName dNSName entries, else the subject's CN.
std::vector<std::string> certificate_dns_names(X509* cert);
std::string format_utc(std::chrono::system_clock::time_point t);  // "2026-12-07T18:00:00Z"

// Reads `certificate_file` (PEM: the certificate, then its chain) and `key_file` (an
// unencrypted PEM private key), checks that the key is the certificate's, and writes
// both into the certificates directory. Throws std::runtime_error saying what is wrong
// (missing file, not PEM, key protected by a passphrase, key not matching).
CertificateInfo import_certificate(const std::string& data_directory, const std::string& certificate_file,
                                   const std::string& key_file);

// A new EC P-256 key and a self-signed certificate (5 years) with `subject_name`
// ("CN=mail.contoso.com[, O=…]") and `domains` as its subjectAltName dNSNames (the CN
// when empty), written into the certificates directory. Throws std::runtime_error.
CertificateInfo new_self_signed_certificate(const std::string& data_directory, const std::string& subject_name,
                                            const std::vector<std::string>& domains);

// A PEM file's first certificate's information. Throws std::runtime_error.
CertificateInfo read_certificate_file(const std::string& path);
// The stored certificate's information (its first PEM block). Throws std::runtime_error.
CertificateInfo read_stored_certificate(const std::string& data_directory, const std::string& thumbprint);

// Deletes both files; missing ones are not an error.
void remove_certificate_files(const std::string& data_directory, const std::string& thumbprint);

}  // namespace edge::tls
