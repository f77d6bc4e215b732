// DKIM signing configurations (see the header).
#include "dkim_signing.hpp"

#include "config_store.hpp"
#include "typed_settings.hpp"

#include <fmt/format.h>

#include <chrono>

namespace edge::server {

void DkimSigners::add(auth::DkimSigner signer) {
    std::string domain = signer.domain;
    by_domain_.emplace(std::move(domain), std::move(signer));
}

const auth::DkimSigner* DkimSigners::find(std::string_view from_domain) const {
    if (by_domain_.empty()) return nullptr;
    std::string_view d = from_domain;
    for (;;) {
        if (auto it = by_domain_.find(std::string(d)); it != by_domain_.end()) return &it->second;
        auto dot = d.find('.');
        if (dot == std::string_view::npos) return nullptr;
        d.remove_prefix(dot + 1);
    }
}

std::optional<std::string> DkimSigners::sign(std::string_view from_domain, const std::vector<std::string>& message) const {
    const auth::DkimSigner* s = find(from_domain);
    if (s == nullptr) return std::nullopt;
    return auth::sign_message(*s, message, std::chrono::system_clock::now());
}

std::shared_ptr<const DkimSigners> load_dkim_signers(const queue::QueueDb& db, std::vector<std::string>* errors) {
    auto signers = std::make_shared<DkimSigners>();
    for (const auto& stored : config::load_objects(db, config::ObjectKind::DkimSigningConfig, errors)) {
        const config::DkimSigningConfigSettings c = config::dkim_signing_config_settings(stored.object);
        if (!c.enabled) continue;
        auth::DkimSigningKey key = auth::load_signing_key(c.key_file);
        const auth::DkimAlgorithm wanted =
            c.algorithm == config::DkimAlgorithm::Ed25519Sha256 ? auth::DkimAlgorithm::Ed25519Sha256 : auth::DkimAlgorithm::RsaSha256;
        if (!key.error.empty() || key.algorithm != wanted) {
            if (errors != nullptr)
                errors->push_back(fmt::format("DkimSigningConfig {}: {}; mail from {} is not signed", c.name,
                                              key.error.empty() ? "the key in " + c.key_file + " is not a " +
                                                                      std::string(config::to_name(c.algorithm)) + " key"
                                                                : key.error,
                                              c.domain_name));
            continue;
        }
        auth::DkimSigner s;
        s.domain = c.domain_name;
        s.selector = c.selector;
        s.algorithm = wanted;
        s.key = std::move(key.key);
        signers->add(std::move(s));
    }
    return signers;
}

}  // namespace edge::server
