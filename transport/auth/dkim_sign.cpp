// DKIM signing and its keys (dkim_sign.hpp).
#include "dkim_sign.hpp"

#include "dkim_openssl.hpp"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace edge::auth {

namespace {

constexpr std::size_t kMaxLine = 78;  // RFC 5322 §2.1.1 SHOULD

// Builds a folded header field: words separated by SP, or by CRLF SP when the line
// would pass 78 characters; glue() continues a value where FWS is allowed.
class Folder {
public:
    explicit Folder(std::string_view name) : out_(name), line_(name.size()) {}
    void word(std::string_view w) {
        if (line_ + 1 + w.size() > kMaxLine) fold();
        else {
            out_ += ' ';
            ++line_;
        }
        out_ += w;
        line_ += w.size();
    }
    void glue(std::string_view w) {
        if (line_ + w.size() > kMaxLine) fold();
        out_ += w;
        line_ += w.size();
    }
    // Base64 may break anywhere (RFC 6376 §3.5 b=, bh=: FWS is ignored in them).
    void glue_base64(std::string_view v) {
        while (!v.empty()) {
            if (line_ >= kMaxLine) fold();
            auto n = std::min(v.size(), kMaxLine - line_);
            out_ += v.substr(0, n);
            line_ += n;
            v.remove_prefix(n);
        }
    }
    const std::string& text() const { return out_; }

private:
    void fold() {
        out_ += "\r\n ";
        line_ = 1;
    }
    std::string out_;
    std::size_t line_;
};

std::string openssl_error() {
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0) return "unknown OpenSSL error";
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

DkimAlgorithm algorithm_of(EVP_PKEY* key) {
    switch (EVP_PKEY_get_base_id(key)) {
        case EVP_PKEY_RSA: return DkimAlgorithm::RsaSha256;
        case EVP_PKEY_ED25519: return DkimAlgorithm::Ed25519Sha256;
        default: return DkimAlgorithm::Unknown;
    }
}

std::string signature_bytes(EVP_PKEY* key, DkimAlgorithm a, const std::string& data) {
    detail::MdCtxPtr md(EVP_MD_CTX_new());
    // RFC 8463 §3: Ed25519 signs the SHA-256 of the header data (and hashes no more itself).
    const bool ed25519 = a == DkimAlgorithm::Ed25519Sha256;
    const std::string in = ed25519 ? detail::sha256(data) : data;
    const EVP_MD* digest = ed25519 ? nullptr : detail::sha256_md();
    std::size_t len = 0;
    const auto* p = reinterpret_cast<const unsigned char*>(in.data());
    if (EVP_DigestSignInit(md.get(), nullptr, digest, nullptr, key) != 1 ||
        EVP_DigestSign(md.get(), nullptr, &len, p, in.size()) != 1)
        throw std::runtime_error("DKIM signing failed: " + openssl_error());
    std::string sig(len, '\0');
    if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, p, in.size()) != 1)
        throw std::runtime_error("DKIM signing failed: " + openssl_error());
    sig.resize(len);
    return sig;
}

}  // namespace

std::vector<std::string> default_signed_headers() {
    return {"from",        "sender",      "reply-to",     "to",           "cc",
            "subject",     "date",        "message-id",   "in-reply-to",  "references",
            "mime-version", "content-type", "content-transfer-encoding", "list-id", "list-unsubscribe",
            "list-unsubscribe-post"};
}

std::string sign_message(const DkimSigner& signer, const std::vector<std::string>& chunks,
                         std::chrono::system_clock::time_point now) {
    if (!signer.key) throw std::invalid_argument("DKIM signer for " + signer.domain + " has no key");
    if (signer.algorithm != algorithm_of(signer.key.get()))
        throw std::invalid_argument(fmt::format("DKIM signer for {}: the key is not an {} key", signer.domain,
                                                to_string(signer.algorithm)));
    const auto header = split_header(chunks);
    // Each present instance of a listed field, plus one for the oversigned names.
    std::vector<std::string> h;
    for (const auto& name : signer.headers) {
        auto n = static_cast<std::size_t>(std::count(header.names.begin(), header.names.end(), name));
        if (std::find(signer.oversigned.begin(), signer.oversigned.end(), name) != signer.oversigned.end()) ++n;
        h.insert(h.end(), n, name);
    }
    auto body = dkim_body_hash(header, chunks, signer.body_canon, std::nullopt, signer.algorithm);
    const auto t = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();

    Folder f("DKIM-Signature:");
    f.word("v=1;");
    f.word(fmt::format("a={};", to_string(signer.algorithm)));
    f.word(fmt::format("c={}/{};", to_string(signer.header_canon), to_string(signer.body_canon)));
    f.word(fmt::format("d={};", signer.domain));
    f.word(fmt::format("s={};", signer.selector));
    f.word(fmt::format("t={};", t));
    if (signer.expire_after) f.word(fmt::format("x={};", t + signer.expire_after->count()));
    for (std::size_t k = 0; k < h.size(); ++k) {
        auto name = h[k] + (k + 1 < h.size() ? ":" : ";");
        if (k == 0) f.word("h=" + name);
        else f.glue(name);
    }
    f.word("bh=");
    f.glue_base64(dkim_base64_encode(body.digest));
    f.glue(";");
    f.word("b=");
    // What is hashed is the field as it will be, b= empty (RFC 6376 §3.7).
    auto data = dkim_header_hash_input(header, h, f.text(), signer.header_canon);
    f.glue_base64(dkim_base64_encode(signature_bytes(signer.key.get(), signer.algorithm, data)));
    return f.text() + "\r\n";
}

DkimSigningKey signing_key_from_pem(std::string_view pem, std::string_view what) {
    DkimSigningKey out;
    detail::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
    if (raw == nullptr) {
        out.error = fmt::format("{} holds no PEM private key ({})", what, openssl_error());
        return out;
    }
    out.key.reset(raw, EVP_PKEY_free);
    out.algorithm = algorithm_of(raw);
    if (out.algorithm == DkimAlgorithm::Unknown) {
        out.error = fmt::format("{}: a {} key is neither RSA nor Ed25519", what, EVP_PKEY_get0_type_name(raw));
        out.key.reset();
    } else if (out.algorithm == DkimAlgorithm::RsaSha256 && EVP_PKEY_get_bits(raw) < 1024) {
        out.error = fmt::format("{}: an RSA key of {} bits is too short (RFC 8301: at least 1024)", what,
                                EVP_PKEY_get_bits(raw));
        out.key.reset();
    }
    return out;
}

DkimSigningKey load_signing_key(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        DkimSigningKey out;
        out.error = fmt::format("cannot read the DKIM key file {}: {}", path, std::strerror(errno));
        return out;
    }
    std::ostringstream text;
    text << in.rdbuf();
    return signing_key_from_pem(text.str(), "the DKIM key file " + path);
}

std::string dkim_key_record(EVP_PKEY* key) {
    std::string p;
    if (algorithm_of(key) == DkimAlgorithm::Ed25519Sha256) {
        // RFC 8463 §4: p= is the raw 32-octet public key.
        std::size_t n = 32;
        p.resize(n);
        EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(p.data()), &n);
        p.resize(n);
        return "v=DKIM1; k=ed25519; p=" + dkim_base64_encode(p);
    }
    int n = i2d_PUBKEY(key, nullptr);
    if (n <= 0) throw std::runtime_error("cannot encode the DKIM public key: " + openssl_error());
    p.resize(static_cast<std::size_t>(n));
    auto* out = reinterpret_cast<unsigned char*>(p.data());
    i2d_PUBKEY(key, &out);
    return "v=DKIM1; k=rsa; p=" + dkim_base64_encode(p);
}

DkimKeyPair generate_signing_key(DkimAlgorithm algorithm, int bits) {
    EVP_PKEY* raw = nullptr;
    if (algorithm == DkimAlgorithm::RsaSha256) {
        if (bits < 1024 || bits > 8192)
            throw std::invalid_argument(fmt::format("a DKIM RSA key has 1024 to 8192 bits, not {}", bits));
        raw = EVP_RSA_gen(static_cast<unsigned int>(bits));
    } else if (algorithm == DkimAlgorithm::Ed25519Sha256) {
        raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    } else {
        throw std::invalid_argument("DKIM keys are made for rsa-sha256 or ed25519-sha256");
    }
    if (raw == nullptr) throw std::runtime_error("DKIM key generation failed: " + openssl_error());
    detail::PkeyPtr key(raw);
    detail::BioPtr bio(BIO_new(BIO_s_mem()));
    if (PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
        throw std::runtime_error("cannot write the DKIM private key: " + openssl_error());
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return {std::string(data, static_cast<std::size_t>(n)), dkim_key_record(key.get())};
}

}  // namespace edge::auth
