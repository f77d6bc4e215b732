// Self-signed certificates (EC P-256, 10 years) and SHA-256 fingerprints, with
// OpenSSL 3's EVP API. Shared by STARTTLS's first-start certificate, the EdgeSync
// listener's certificate and the edgesync agent's client certificate.
#include "certificate.hpp"

#include "private_file.hpp"
#include "text_helpers.hpp"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <sys/stat.h>

#include <memory>
#include <stdexcept>

namespace edge::tls {

namespace {
template <auto Free>
struct Deleter {
    template <class T>
    void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;

void check(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("TLS certificate generation: ") + what + " failed");
}

}  // namespace

namespace {
// The PEM a BIO holds, as a string (the BIO's memory wiped after, for keys).
std::string bio_text(BIO* b) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(b, &data);
    if (n <= 0 || data == nullptr) throw std::runtime_error("TLS certificate generation: PEM encoding failed");
    std::string out(data, static_cast<std::size_t>(n));
    OPENSSL_cleanse(data, static_cast<std::size_t>(n));
    return out;
}
}  // namespace

SelfSignedPem::~SelfSignedPem() {
    if (!key.empty()) OPENSSL_cleanse(key.data(), key.size());
}

SelfSignedPem make_self_signed_pem(const SelfSignedRequest& request) {
    PkeyPtr key(EVP_EC_gen("P-256"));
    check(key != nullptr, "EVP_EC_gen");
    X509Ptr x(X509_new());
    check(x != nullptr, "X509_new");
    X509_set_version(x.get(), 2);
    unsigned char serial[16];
    check(RAND_bytes(serial, sizeof serial) == 1, "RAND_bytes");
    serial[0] &= 0x7f;
    BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
    check(bn != nullptr && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x.get())) != nullptr, "serial");
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x.get()), 60L * 60 * 24 * request.days);
    X509_NAME* name = X509_get_subject_name(x.get());
    for (const auto& [attribute, value] : request.subject)
        if (X509_NAME_add_entry_by_txt(name, attribute.c_str(), MBSTRING_UTF8,
                                       reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0) != 1)
            throw std::runtime_error("the subject attribute " + attribute + "=" + value + " is not one OpenSSL accepts");
    X509_set_issuer_name(x.get(), name);
    X509_set_pubkey(x.get(), key.get());
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
    if (!request.dns_names.empty()) {
        std::string san;
        for (const auto& n : request.dns_names) san += (san.empty() ? "DNS:" : ",DNS:") + n;
        ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str()));
        check(ext != nullptr && X509_add_ext(x.get(), ext.get(), -1) == 1, "subjectAltName");
    }
    check(X509_sign(x.get(), key.get(), EVP_sha256()) > 0, "X509_sign");
    SelfSignedPem out;
    std::unique_ptr<BIO, Deleter<BIO_free>> kb(BIO_new(BIO_s_secmem()));
    if (!kb) kb.reset(BIO_new(BIO_s_mem()));
    check(kb && PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1, "PEM key");
    out.key = bio_text(kb.get());
    std::unique_ptr<BIO, Deleter<BIO_free>> cb(BIO_new(BIO_s_mem()));
    check(cb && PEM_write_bio_X509(cb.get(), x.get()) == 1, "PEM certificate");
    out.certificate = bio_text(cb.get());
    return out;
}

void make_self_signed_certificate(const std::string& cert_path, const std::string& key_path, const std::string& fqdn) {
    SelfSignedPem pem = make_self_signed_pem({{{"CN", fqdn.substr(0, 64)}}, {fqdn}, 3650});
    // Through the one file writer (private_file.hpp): created exclusively at its mode,
    // never through a symlink, renamed into place.
    if (auto ec = queue::write_file_atomically(key_path, pem.key, 0600))
        throw std::runtime_error("cannot write " + key_path + ": " + ec.message());
    if (auto ec = queue::write_file_atomically(cert_path, pem.certificate, 0644))
        throw std::runtime_error("cannot write " + cert_path + ": " + ec.message());
}

std::string certificate_sha256(X509* cert) {
    if (cert == nullptr) return {};
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (X509_digest(cert, EVP_sha256(), md, &len) != 1) return {};
    return text::hex_upper(std::string_view(reinterpret_cast<const char*>(md), len));
}

std::string pem_certificate_sha256(const std::string& pem) {
    std::unique_ptr<BIO, Deleter<BIO_free>> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) return {};
    X509Ptr x(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    return certificate_sha256(x.get());
}

}  // namespace edge::tls
