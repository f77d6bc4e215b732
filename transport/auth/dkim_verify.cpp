// DKIM verification (dkim_verify.hpp): the checks of RFC 6376 §6.1 around OpenSSL.
#include "dkim_verify.hpp"

#include "dkim_openssl.hpp"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <mutex>
#include <unordered_map>
#include <cctype>
#include <memory>

namespace edge::auth {

namespace {

using Pkey = detail::PkeyPtr;

bool contains(const std::vector<std::string>& list, std::string_view v) {
    return std::find(list.begin(), list.end(), v) != list.end();
}

// p= of an RSA key: a SubjectPublicKeyInfo (RFC 6376 §3.6.1), or a bare RSAPublicKey
// as some publishers (and dkimpy) accept.
Pkey rsa_public_key(const std::string& der) {
    auto* p = reinterpret_cast<const unsigned char*>(der.data());
    Pkey key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
    if (!key) {
        p = reinterpret_cast<const unsigned char*>(der.data());
        key.reset(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(der.size())));
    }
    if (key && EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) key.reset();
    return key;
}

// Reading a public key (OpenSSL 3's decoders) costs several times the verification it
// serves, and a sender signs every message with the same key: parsed keys are kept by
// their p= bytes. Bounded: past kMaxCachedKeys the cache starts again (a hostile sender
// rotating keys costs its own parses, nothing more). EVP_PKEY is read-only once built,
// so one key may verify on several threads.
std::shared_ptr<EVP_PKEY> public_key(bool ed25519, const std::string& p) {
    static constexpr std::size_t kMaxCachedKeys = 512;
    static std::mutex lock;
    static std::unordered_map<std::string, std::shared_ptr<EVP_PKEY>> cache;
    const std::string id = (ed25519 ? "e:" : "r:") + p;
    {
        std::lock_guard g(lock);
        if (auto it = cache.find(id); it != cache.end()) return it->second;
    }
    Pkey parsed;
    if (ed25519)
        parsed.reset(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(p.data()),
                                                 p.size()));
    else
        parsed = rsa_public_key(p);
    if (!parsed) return nullptr;
    std::shared_ptr<EVP_PKEY> key(parsed.release(), EVP_PKEY_free);
    std::lock_guard g(lock);
    if (cache.size() >= kMaxCachedKeys) cache.clear();
    cache.emplace(id, key);
    return key;
}

}  // namespace

std::string dkim_key_name(const DkimSignature& sig) { return sig.s + "._domainkey." + sig.d; }

DkimVerdict verify_signature(const DkimSignature& sig, const KeyLookup& key, const std::vector<std::string>& chunks,
                             std::chrono::system_clock::time_point now) {
    DkimVerdict v;
    v.d = sig.d;
    v.s = sig.s;
    v.i = sig.i;
    v.a = sig.a;
    v.header_b = sig.b_text.substr(0, 8);
    auto verdict = [&](Result r, std::string reason) {
        v.result = r;
        v.reason = std::move(reason);
        return v;
    };
    if (sig.not_checked > 0)
        return verdict(Result::Neutral, fmt::format("{} more signatures not checked (over the limit)", sig.not_checked));
    if (!sig.error.empty()) return verdict(Result::PermError, sig.error);
    if (sig.algorithm == DkimAlgorithm::RsaSha1) return verdict(Result::Policy, "rsa-sha1 is not accepted (RFC 8301)");
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    if (sig.x && *sig.x < seconds) return verdict(Result::Fail, fmt::format("signature expired (x={})", *sig.x));

    switch (key.status) {
        case KeyLookupStatus::NxDomain:
        case KeyLookupStatus::NoData:
            return verdict(Result::PermError, "no key for signature at " + dkim_key_name(sig));
        case KeyLookupStatus::TempError:
            return verdict(Result::TempError,
                           "key lookup failed" + (key.error.empty() ? std::string() : ": " + key.error));
        case KeyLookupStatus::Ok: break;
    }
    if (key.texts.empty()) return verdict(Result::PermError, "no key for signature at " + dkim_key_name(sig));
    // §3.6.2.2: with several records the outcome is undefined; we read the first.
    auto record = parse_key_record(key.texts.front());
    if (!record.error.empty()) return verdict(Result::PermError, record.error);
    if (record.p.empty()) return verdict(Result::PermError, "key revoked");
    const bool ed25519 = sig.algorithm == DkimAlgorithm::Ed25519Sha256;
    if (record.k != (ed25519 ? "ed25519" : "rsa"))
        return verdict(Result::PermError, fmt::format("key type k={} does not match a={}", record.k, sig.a));
    if (!record.h.empty() && !contains(record.h, "sha256")) return verdict(Result::PermError, "key h= does not allow sha256");
    if (!record.s.empty() && !contains(record.s, "*") && !contains(record.s, "email"))
        return verdict(Result::PermError, "key s= does not allow email");
    if (record.strict_identity) {
        auto idomain = std::string_view(sig.i).substr(sig.i.rfind('@') + 1);
        if (idomain.size() != sig.d.size() ||
            !std::equal(idomain.begin(), idomain.end(), sig.d.begin(), [](unsigned char x, unsigned char y) {
                return std::tolower(x) == std::tolower(y);
            }))
            return verdict(Result::PermError, "key t=s: i= must be in d= itself, not a subdomain");
    }

    if (ed25519 && record.p.size() != 32) return verdict(Result::PermError, "ed25519 key is not 32 octets (RFC 8463)");
    const std::shared_ptr<EVP_PKEY> pkey = public_key(ed25519, record.p);
    if (!pkey) {
        ERR_clear_error();
        return verdict(Result::PermError, "key p= is not a public key");
    }
    if (!ed25519) {
        int bits = EVP_PKEY_get_bits(pkey.get());
        if (bits < kDkimMinRsaBits)
            return verdict(Result::Policy, fmt::format("RSA key of {} bits is too short (RFC 8301: at least 1024)", bits));
        if (bits > kDkimMaxRsaBits) return verdict(Result::PermError, fmt::format("RSA key of {} bits is too long", bits));
    }

    const auto header = split_header(chunks);
    auto body = dkim_body_hash(header, chunks, sig.body_canon, sig.l, sig.algorithm);
    if (body.shorter_than_l) return verdict(Result::Fail, "body is shorter than l=");
    if (body.digest != sig.bh) return verdict(Result::Fail, "body hash did not verify");

    auto data = dkim_header_hash_input(header, sig.h, sig.field, sig.header_canon);
    detail::MdCtxPtr md(EVP_MD_CTX_new());
    const auto* b = reinterpret_cast<const unsigned char*>(sig.b.data());
    bool ok = false;
    if (ed25519) {
        // RFC 8463 §3: Ed25519 signs the SHA-256 of the header data.
        auto digest = detail::sha256(data);
        ok = EVP_DigestVerifyInit(md.get(), nullptr, nullptr, nullptr, pkey.get()) == 1 &&
             EVP_DigestVerify(md.get(), b, sig.b.size(), reinterpret_cast<const unsigned char*>(digest.data()),
                              digest.size()) == 1;
    } else {
        ok = EVP_DigestVerifyInit(md.get(), nullptr, detail::sha256_md(), nullptr, pkey.get()) == 1 &&
             EVP_DigestVerify(md.get(), b, sig.b.size(), reinterpret_cast<const unsigned char*>(data.data()), data.size()) ==
                 1;
    }
    ERR_clear_error();  // a failed check leaves OpenSSL's queue for the next TLS call to misread
    if (!ok) return verdict(Result::Fail, "signature did not verify");
    if (sig.l && body.canonical_length > *sig.l) {
        v.unsigned_content = true;
        return verdict(Result::Pass, fmt::format("{} body octets past l= are unsigned content",
                                                 body.canonical_length - *sig.l));
    }
    return verdict(Result::Pass, "signature verified");
}

}  // namespace edge::auth
