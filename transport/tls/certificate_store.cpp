// The certificates directory (certificate_store.hpp): import, make, read and remove
// the files of managed certificates, with OpenSSL 3.
#include "certificate_store.hpp"

#include "certificate.hpp"
#include "private_file.hpp"
#include "text_helpers.hpp"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>

namespace edge::tls {

namespace {
struct StoreBioFree {
    void operator()(BIO* p) const { BIO_free(p); }
};
struct StoreX509Free {
    void operator()(X509* p) const { X509_free(p); }
};
struct StorePkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using StoreBio = std::unique_ptr<BIO, StoreBioFree>;
using StoreX509 = std::unique_ptr<X509, StoreX509Free>;
using StorePkey = std::unique_ptr<EVP_PKEY, StorePkeyFree>;

// A whole file, at most kMaxCertificateFileSize bytes; throws with the reason.
std::string read_small_file(const std::string& path, const char* what) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        throw std::runtime_error(std::string(what) + " " + path + ": no such file");
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) throw std::runtime_error(std::string(what) + " " + path + ": " + ec.message());
    if (size > kMaxCertificateFileSize)
        throw std::runtime_error(std::string(what) + " " + path + " is larger than 1 MB; it is not a PEM certificate or key");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(std::string(what) + " " + path + ": " + std::strerror(errno));
    std::string data(static_cast<std::size_t>(size), '\0');
    in.read(data.data(), static_cast<std::streamsize>(size));
    if (static_cast<std::size_t>(in.gcount()) != size) throw std::runtime_error(std::string(what) + " " + path + ": short read");
    return data;
}

// Every certificate in a PEM text, in order.
std::vector<StoreX509> read_chain(const std::string& pem) {
    std::vector<StoreX509> out;
    StoreBio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) return out;
    while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(x);
    ERR_clear_error();  // the end of the text reads as an error
    return out;
}

std::string name_text(X509_NAME* name) {
    StoreBio bio(BIO_new(BIO_s_mem()));
    if (!bio || name == nullptr) return {};
    // RFC 2253's order (CN first), ", " between, UTF-8 kept: as Exchange shows a subject.
    X509_NAME_print_ex(bio.get(), name, 0,
                       (XN_FLAG_RFC2253 & ~XN_FLAG_SEP_MASK & ~ASN1_STRFLGS_ESC_MSB) | XN_FLAG_SEP_CPLUS_SPC);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    return n > 0 && data ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

std::chrono::system_clock::time_point asn1_time(const ASN1_TIME* t) {
    struct tm tm {};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return {};
    return std::chrono::system_clock::from_time_t(timegm(&tm));
}

// The PEM of a certificate chain, re-encoded (no text around the blocks is carried over).
std::string chain_pem(const std::vector<StoreX509>& chain) {
    StoreBio bio(BIO_new(BIO_s_mem()));
    for (const auto& x : chain)
        if (!bio || PEM_write_bio_X509(bio.get(), x.get()) != 1) throw std::runtime_error("cannot encode the certificate");
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
}

// Writes the pair into the certificates directory (0700; the key 0600 from its first byte).
void store_files(const std::string& data_directory, const std::string& thumbprint, const std::string& certificate_pem,
                 std::string_view key_pem) {
    const std::string dir = certificates_directory(data_directory);
    if (auto ec = queue::make_directory(dir, 0700)) throw std::runtime_error("cannot create " + dir + ": " + ec.message());
    if (auto ec = queue::write_file_atomically(key_path(data_directory, thumbprint), key_pem, 0600))
        throw std::runtime_error("cannot write the key into " + dir + ": " + ec.message());
    if (auto ec = queue::write_file_atomically(certificate_path(data_directory, thumbprint), certificate_pem, 0644))
        throw std::runtime_error("cannot write the certificate into " + dir + ": " + ec.message());
}
}  // namespace

std::string certificates_directory(const std::string& data_directory) { return data_directory + "/certificates"; }
std::string certificate_path(const std::string& data_directory, const std::string& thumbprint) {
    return certificates_directory(data_directory) + "/" + thumbprint + ".pem";
}
std::string key_path(const std::string& data_directory, const std::string& thumbprint) {
    return certificates_directory(data_directory) + "/" + thumbprint + ".key";
}

std::string canonical_thumbprint(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == ':' || c == ' ') continue;
        if (!std::isxdigit(static_cast<unsigned char>(c))) return {};
        out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
    return out.size() == 40 ? out : std::string();
}

std::string certificate_sha1(X509* cert) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (cert == nullptr || X509_digest(cert, EVP_sha1(), md, &len) != 1) return {};
    return text::hex_upper(std::string_view(reinterpret_cast<const char*>(md), len));
}

std::vector<std::string> certificate_dns_names(X509* cert) {
    std::vector<std::string> out;
    if (cert == nullptr) return out;
    auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    if (names != nullptr) {
        for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
            const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
            if (g->type != GEN_DNS) continue;
            const ASN1_IA5STRING* s = g->d.dNSName;
            std::string n(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<std::size_t>(ASN1_STRING_length(s)));
            // A name with a NUL or a control byte is not a host name (CVE-2009-2408's class).
            if (!n.empty() && n.find_first_of(std::string_view("\0\r\n ", 4)) == std::string::npos) out.push_back(n);
        }
        GENERAL_NAMES_free(names);
    }
    if (!out.empty()) return out;
    // RFC 6125 §6.4.4: the CN only when there is no dNSName.
    X509_NAME* subject = X509_get_subject_name(cert);
    const int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (i >= 0) {
        unsigned char* utf8 = nullptr;
        const int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
        if (n > 0) {
            std::string cn(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(n));
            if (cn.find_first_of(std::string_view("\0\r\n ", 4)) == std::string::npos) out.push_back(cn);
        }
        OPENSSL_free(utf8);
    }
    return out;
}

std::string format_utc(std::chrono::system_clock::time_point t) {
    const std::time_t tt = std::chrono::system_clock::to_time_t(t);
    struct tm tm {};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

CertificateInfo certificate_info(X509* cert) {
    CertificateInfo info;
    info.thumbprint = certificate_sha1(cert);
    info.subject = name_text(X509_get_subject_name(cert));
    info.issuer = name_text(X509_get_issuer_name(cert));
    info.domains = certificate_dns_names(cert);
    info.not_before = asn1_time(X509_get0_notBefore(cert));
    info.not_after = asn1_time(X509_get0_notAfter(cert));
    info.self_signed = X509_check_issued(cert, cert) == X509_V_OK;
    return info;
}

CertificateInfo import_certificate(const std::string& data_directory, const std::string& certificate_file,
                                   const std::string& key_file) {
    const std::string cert_text = read_small_file(certificate_file, "-Path");
    auto chain = read_chain(cert_text);
    if (chain.empty())
        throw std::runtime_error("-Path " + certificate_file +
                                 " holds no PEM certificate (-----BEGIN CERTIFICATE-----); convert a PFX with 'openssl pkcs12 -in f.pfx -nokeys'");
    std::string key_text = read_small_file(key_file, "-KeyPath");
    if (key_text.find("ENCRYPTED") != std::string::npos) {
        OPENSSL_cleanse(key_text.data(), key_text.size());
        throw std::runtime_error("-KeyPath " + key_file + " is protected by a passphrase; give the key unencrypted "
                                 "('openssl pkey -in key.pem -out plain.pem'), it is stored 0600");
    }
    StoreBio kb(BIO_new_mem_buf(key_text.data(), static_cast<int>(key_text.size())));
    // No passphrase callback: an encrypted key fails here instead of prompting.
    StorePkey key(kb ? PEM_read_bio_PrivateKey(kb.get(), nullptr, [](char*, int, int, void*) { return -1; }, nullptr)
                     : nullptr);
    OPENSSL_cleanse(key_text.data(), key_text.size());
    ERR_clear_error();
    if (!key) throw std::runtime_error("-KeyPath " + key_file + " holds no PEM private key");
    if (X509_check_private_key(chain.front().get(), key.get()) != 1) {
        ERR_clear_error();
        throw std::runtime_error("the key in " + key_file + " is not the key of the certificate in " + certificate_file);
    }
    CertificateInfo info = certificate_info(chain.front().get());
    // The key as PKCS#8 PEM, from memory that is wiped.
    StoreBio out(BIO_new(BIO_s_secmem()));
    if (!out) out.reset(BIO_new(BIO_s_mem()));
    if (!out || PEM_write_bio_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
        throw std::runtime_error("cannot encode the key of " + key_file);
    char* data = nullptr;
    const long n = BIO_get_mem_data(out.get(), &data);
    const std::string_view key_pem(data, static_cast<std::size_t>(n > 0 ? n : 0));
    try {
        store_files(data_directory, info.thumbprint, chain_pem(chain), key_pem);
    } catch (...) {
        OPENSSL_cleanse(data, key_pem.size());
        throw;
    }
    OPENSSL_cleanse(data, key_pem.size());
    return info;
}

CertificateInfo new_self_signed_certificate(const std::string& data_directory, const std::string& subject_name,
                                            const std::vector<std::string>& domains) {
    SelfSignedRequest request;
    request.days = 5 * 365;  // Exchange's New-ExchangeCertificate makes 5-year self-signed certificates
    // "CN=mail.contoso.com, O=Contoso": attribute=value pairs separated by commas.
    std::string_view rest = subject_name;
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        const std::string_view part = text::trim_space(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        if (part.empty()) continue;
        const auto eq = part.find('=');
        if (eq == std::string_view::npos || eq == 0 || eq + 1 == part.size())
            throw std::runtime_error("-SubjectName '" + subject_name + "': expected attribute=value pairs such as CN=mail.contoso.com");
        request.subject.emplace_back(std::string(text::trim_space(part.substr(0, eq))),
                                     std::string(text::trim_space(part.substr(eq + 1))));
    }
    // Written as Windows shows a name, most specific first ("CN=…, O=…, C=…"); encoded
    // the other way round, as X.509 orders RDNs (C first), so it reads back as written.
    std::reverse(request.subject.begin(), request.subject.end());
    std::string cn;
    for (const auto& [a, v] : request.subject)
        if (text::iequals(a, "CN")) cn = v;
    if (request.subject.empty()) throw std::runtime_error("-SubjectName is empty; give CN=<the server's name>");
    request.dns_names = domains;
    if (request.dns_names.empty() && !cn.empty()) request.dns_names.push_back(cn);
    if (request.dns_names.empty()) throw std::runtime_error("give -DomainName, or a CN in -SubjectName");
    SelfSignedPem pem = make_self_signed_pem(request);
    auto chain = read_chain(pem.certificate);
    if (chain.empty()) throw std::runtime_error("the new certificate does not read back");
    CertificateInfo info = certificate_info(chain.front().get());
    store_files(data_directory, info.thumbprint, pem.certificate, pem.key);
    return info;
}

CertificateInfo read_stored_certificate(const std::string& data_directory, const std::string& thumbprint) {
    return read_certificate_file(certificate_path(data_directory, thumbprint));
}

CertificateInfo read_certificate_file(const std::string& path) {
    auto chain = read_chain(read_small_file(path, "certificate"));
    if (chain.empty()) throw std::runtime_error("certificate " + path + " holds no PEM certificate");
    return certificate_info(chain.front().get());
}

void remove_certificate_files(const std::string& data_directory, const std::string& thumbprint) {
    std::error_code ec;
    std::filesystem::remove(key_path(data_directory, thumbprint), ec);
    std::filesystem::remove(certificate_path(data_directory, thumbprint), ec);
}

}  // namespace edge::tls
