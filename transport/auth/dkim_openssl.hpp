// The OpenSSL handles DKIM's sources share (owning pointers) and the SHA-256 that
// Ed25519 signs (RFC 8463 §3). Internal to transport/auth.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

namespace edge::auth::detail {

template <auto Free>
struct OpenSslDeleter {
    template <class T>
    void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpenSslDeleter<EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free>>;

// The digests, fetched from the provider once for the process: EVP_sha256() makes
// OpenSSL 3 look the implementation up again (locks, name compares) at every use, which
// cost more than the hash of a 4 KiB message. Never freed (process lifetime).
inline const EVP_MD* sha256_md() {
    static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return md;
}
inline const EVP_MD* sha1_md() {
    static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA1", nullptr);
    return md;
}

inline std::string sha256(std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(data.data(), data.size(), digest, &n, sha256_md(), nullptr);
    return std::string(reinterpret_cast<const char*>(digest), n);
}

}  // namespace edge::auth::detail
