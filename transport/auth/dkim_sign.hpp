// DKIM signing on the way out (RFC 6376 §5, RFC 8463) and the keys it needs: a signer
// built once from a PEM key file, then one DKIM-Signature field per message; and key
// pairs for New-DkimSigningKey (the private key PEM and the TXT record to publish).
#pragma once

#include "dkim_core.hpp"

#include <openssl/evp.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace edge::auth {

// The fields signed by default, lower case. Those that identify the message and its
// author (From, Sender, Reply-To, To, Cc, Subject, Date, Message-ID), thread it
// (In-Reply-To, References), change how it reads (the MIME fields) or where a reply
// goes on a list (List-Id, List-Unsubscribe…). Received and Return-Path are left out:
// relays add and rewrite them.
std::vector<std::string> default_signed_headers();

struct DkimSigner {
    std::string domain;    // d=
    std::string selector;  // s=
    DkimAlgorithm algorithm = DkimAlgorithm::RsaSha256;  // rsa-sha256 or ed25519-sha256
    std::shared_ptr<EVP_PKEY> key;                      // parsed once (load_signing_key)
    DkimCanonicalization header_canon = DkimCanonicalization::Relaxed;
    DkimCanonicalization body_canon = DkimCanonicalization::Relaxed;
    // Signed when present, each instance (lower case). Names in `oversigned` are
    // listed once more than present, so nobody can add one later (RFC 6376 §8.15):
    // by default From, the field DMARC aligns on.
    std::vector<std::string> headers = default_signed_headers();
    std::vector<std::string> oversigned = {"from"};
    std::optional<std::chrono::seconds> expire_after;  // x= = t= + this
};

// The complete "DKIM-Signature: …\r\n" field to put on top of the message, folded to
// lines of at most 78 characters. Throws std::invalid_argument when the signer has no
// key or a key of another type than its algorithm (a configuration error).
std::string sign_message(const DkimSigner& signer, const std::vector<std::string>& message_chunks,
                         std::chrono::system_clock::time_point now);

// A private key read from a PEM file (PKCS#8 or traditional), RSA of at least 1024 bits
// or Ed25519. `error` says what is wrong with which file.
struct DkimSigningKey {
    std::shared_ptr<EVP_PKEY> key;
    DkimAlgorithm algorithm = DkimAlgorithm::Unknown;
    std::string error;
};
DkimSigningKey load_signing_key(const std::string& path);
DkimSigningKey signing_key_from_pem(std::string_view pem, std::string_view what = "PEM text");

// The TXT record that publishes `key`'s public half: "v=DKIM1; k=rsa; p=…".
std::string dkim_key_record(EVP_PKEY* key);

struct DkimKeyPair {
    std::string private_key_pem;  // PKCS#8
    std::string txt_record;       // to publish at <selector>._domainkey.<domain>
};
// rsa-sha256: `bits` from 1024 to 8192 (2048 is the usual); ed25519-sha256 ignores
// it. Throws std::invalid_argument for another algorithm or size, std::runtime_error
// when OpenSSL fails.
DkimKeyPair generate_signing_key(DkimAlgorithm algorithm, int bits = 2048);

}  // namespace edge::auth
