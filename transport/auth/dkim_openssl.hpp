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

inline std::string sha256(std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(data.data(), data.size(), digest, &n, EVP_sha256(), nullptr);
    return std::string(reinterpret_cast<const char*>(digest), n);
}

}  // namespace edge::auth::detail
