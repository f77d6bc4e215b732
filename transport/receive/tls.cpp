// The STARTTLS certificate (made at first start), the server context, and the set of
// certificates chosen by SNI (issue 20).
#include "tls.hpp"

#include "certificate.hpp"
#include "certificate_store.hpp"
#include "private_file.hpp"
#include "text_helpers.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <sys/stat.h>

#include <algorithm>
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

namespace {
// Where an SSL finds the ServerCertificates it was attached to (our own ex_data slot).
int certificates_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

// RFC 6066 §3: the client's server name picks the certificate; no name, or a name no
// enabled certificate has, keeps the default (never a fatal alert: SMTP clients send
// whatever name they looked up, often the MX host name we do not list).
int on_server_name(SSL* ssl, int*, void*) {
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    const auto* set = static_cast<const ServerCertificates*>(SSL_get_ex_data(ssl, certificates_index()));
    if (name == nullptr || set == nullptr) return SSL_TLSEXT_ERR_OK;
    if (SSL_CTX* ctx = set->context_for(name); ctx != nullptr && ctx != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, ctx);
    return SSL_TLSEXT_ERR_OK;
}
}  // namespace

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
    SSL_CTX_set_tlsext_servername_callback(ctx.native_handle(), on_server_name);
    // Resumed sessions of clients that were asked for a certificate need one context id
    // (else OpenSSL fails the resumption); one for every context we make, so a session
    // resumes whichever certificate SNI chose.
    static constexpr unsigned char kSessionContext[] = "edge-transport smtp";
    SSL_CTX_set_session_id_context(ctx.native_handle(), kSessionContext, sizeof kSessionContext - 1);
    // Resumption by ticket only (stateless, as Postfix's smtpd does without a session
    // cache database): OpenSSL's server-side cache grows with every handshake and is
    // swept under a lock every 255 connections. One ticket, not TLS 1.3's default two:
    // an SMTP client resumes one connection at a time (receive_bench TLS cell, issue 20).
    SSL_CTX_set_session_cache_mode(ctx.native_handle(), SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx.native_handle(), 1);
    return ctx;
}

ServerCertificates::ServerCertificates(std::shared_ptr<asio::ssl::context> bootstrap, std::vector<Enabled> enabled,
                                       const std::string& ca_file)
    : bootstrap_(std::move(bootstrap)), enabled_(std::move(enabled)) {
    // Newest first: the default, and the first of several that match a name.
    std::stable_sort(enabled_.begin(), enabled_.end(), [](const Enabled& a, const Enabled& b) {
        return a.not_before != b.not_before ? a.not_before > b.not_before : a.thumbprint < b.thumbprint;
    });
    trust_ = X509_STORE_new();
    if (trust_ == nullptr) throw std::runtime_error("X509_STORE_new failed");
    X509_STORE_set_default_paths(trust_);  // Debian's ca-certificates (/etc/ssl/certs)
    if (!ca_file.empty() && X509_STORE_load_file(trust_, ca_file.c_str()) != 1)
        trust_problem_ = "TlsCertificateAuthorityFile " + ca_file + " does not load as PEM certificates";
    ERR_clear_error();
}

ServerCertificates::~ServerCertificates() { X509_STORE_free(trust_); }

asio::ssl::context& ServerCertificates::default_context() const {
    return enabled_.empty() ? *bootstrap_ : *enabled_.front().context;
}

SSL_CTX* ServerCertificates::context_for(std::string_view server_name) const {
    // An exact name before a wildcard, each pass newest first.
    for (bool exact : {true, false})
        for (const auto& e : enabled_)
            for (const auto& n : e.names)
                if (exact ? text::iequals(n, server_name) : (n.starts_with("*.") && smtp::certificate_name_matches(n, server_name)))
                    return e.context->native_handle();
    return nullptr;
}

void ServerCertificates::attach(SSL* ssl) const { SSL_set_ex_data(ssl, certificates_index(), const_cast<ServerCertificates*>(this)); }

smtp::ClientCertificate ServerCertificates::judge_client_certificate(SSL* ssl) const {
    smtp::ClientCertificate c;
    X509* leaf = SSL_get0_peer_certificate(ssl);
    if (leaf == nullptr) return c;
    c.presented = true;
    c.names = tls::certificate_dns_names(leaf);
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    if (ctx == nullptr) {
        c.problem = "out of memory";
        return c;
    }
    // The server side's peer chain holds what the client sent after its own certificate.
    if (X509_STORE_CTX_init(ctx, trust_, leaf, SSL_get_peer_cert_chain(ssl)) == 1) {
        X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
        if (X509_verify_cert(ctx) == 1) c.valid = true;
        else c.problem = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
    } else {
        c.problem = "cannot start verification";
    }
    X509_STORE_CTX_free(ctx);
    ERR_clear_error();
    return c;
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
