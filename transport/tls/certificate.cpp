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

#include <functional>
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

// PEM into memory, then to its file through the one file writer (private_file.hpp):
// created exclusively at its mode, never through a symlink, renamed into place. The
// key's bytes in memory are wiped afterwards.
void write_pem(const std::string& path, mode_t mode, const std::function<bool(BIO*)>& write) {
    std::unique_ptr<BIO, Deleter<BIO_free>> bio(BIO_new(BIO_s_secmem()));
    if (!bio) bio.reset(BIO_new(BIO_s_mem()));
    if (!bio || !write(bio.get())) throw std::runtime_error("cannot encode " + path);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    if (n <= 0 || data == nullptr) throw std::runtime_error("cannot encode " + path);
    auto ec = queue::write_file_atomically(path, std::string_view(data, static_cast<std::size_t>(n)), mode);
    OPENSSL_cleanse(data, static_cast<std::size_t>(n));
    if (ec) throw std::runtime_error("cannot write " + path + ": " + ec.message());
}

}  // namespace

void make_self_signed_certificate(const std::string& cert_path, const std::string& key_path, const std::string& fqdn) {
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
    X509_gmtime_adj(X509_getm_notAfter(x.get()), 60L * 60 * 24 * 3650);
    X509_NAME* name = X509_get_subject_name(x.get());
    std::string cn = fqdn.substr(0, 64);
    check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                                     -1, 0) == 1,
          "subject");
    X509_set_issuer_name(x.get(), name);
    X509_set_pubkey(x.get(), key.get());
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
    std::string san = "DNS:" + fqdn;
    ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str()));
    check(ext != nullptr && X509_add_ext(x.get(), ext.get(), -1) == 1, "subjectAltName");
    check(X509_sign(x.get(), key.get(), EVP_sha256()) > 0, "X509_sign");
    write_pem(key_path, 0600, [&](BIO* b) {
        return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
    });
    write_pem(cert_path, 0644, [&](BIO* b) { return PEM_write_bio_X509(b, x.get()) == 1; });
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
