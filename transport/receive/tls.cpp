// The STARTTLS certificate (made at first start) and the server context.
#include "tls.hpp"

#include "certificate.hpp"
#include "private_file.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>

namespace edge::receive {

TlsFiles ensure_certificate(const std::string& data_directory, const std::string& fqdn,
                            const std::string& configured_certificate, const std::string& configured_key) {
    if (!configured_certificate.empty()) {
        if (configured_key.empty()) throw std::runtime_error("TlsCertificateFile is set but TlsKeyFile is not");
        return {configured_certificate, configured_key};
    }
    std::string dir = data_directory + "/tls";
    // Keys: the directory is the owner's alone (queue-db/private_file.hpp).
    if (auto ec = queue::make_directory(dir, 0700)) throw std::runtime_error("cannot create " + dir + ": " + ec.message());
    TlsFiles files{dir + "/edge.crt", dir + "/edge.key"};
    if (!std::filesystem::exists(files.certificate) || !std::filesystem::exists(files.key))
        tls::make_self_signed_certificate(files.certificate, files.key, fqdn);
    return files;
}

asio::ssl::context make_server_context(const TlsFiles& files) {
    asio::ssl::context ctx(asio::ssl::context::tls_server);
    ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                    asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                    asio::ssl::context::no_compression);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    SSL_CTX_set_options(ctx.native_handle(), SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    boost::system::error_code ec;
    ctx.use_certificate_chain_file(files.certificate, ec);
    if (ec) throw std::runtime_error("TLS certificate " + files.certificate + ": " + ec.message());
    ctx.use_private_key_file(files.key, asio::ssl::context::pem, ec);
    if (ec) throw std::runtime_error("TLS key " + files.key + ": " + ec.message());
    if (SSL_CTX_check_private_key(ctx.native_handle()) != 1)
        throw std::runtime_error("TLS key " + files.key + " does not match " + files.certificate);
    return ctx;
}

void request_client_certificate(SSL* ssl) {
    SSL_set_verify(ssl, SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
}

std::string peer_certificate_sha256(SSL* ssl) {
    X509* cert = SSL_get1_peer_certificate(ssl);
    std::string fp = tls::certificate_sha256(cert);
    X509_free(cert);
    return fp;
}

std::string tls_version(SSL* ssl) { return SSL_get_version(ssl); }

std::string tls_cipher(SSL* ssl) {
    const SSL_CIPHER* c = SSL_get_current_cipher(ssl);
    return c ? SSL_CIPHER_get_name(c) : "";
}

}  // namespace edge::receive
