// The Recipient Filter agent: the block list, then recipient lookup (see the header).
#include "recipient_filter.hpp"

#include "address.hpp"
#include "text.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

namespace edge::agents {

using routing::to_lower;

std::string canonical_recipient(std::string_view address) {
    if (auto c = smtp::canonical_address(address)) return c.str();
    // Not an address (a directory may hold anything): compared as its lower-cased bytes,
    // so it can only ever match itself.
    return to_lower(address);
}

std::string recipient_hash(std::string_view key, std::string_view address) {
    const std::string text = canonical_recipient(address);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(text.data()),
             text.size(), out, &len) == nullptr)
        throw std::runtime_error("HMAC-SHA-256 failed");
    return std::string(reinterpret_cast<const char*>(out), len);
}

RecipientFilter::RecipientFilter(RecipientFilterSettings settings, std::string hash_key, Lookup known)
    : settings_(std::move(settings)), key_(std::move(hash_key)), known_(std::move(known)) {
    for (auto& b : settings_.blocked_recipients) b = canonical_recipient(b);
}

RecipientFilterVerdict RecipientFilter::check(std::string_view address, const routing::AcceptedDomain* domain,
                                              bool internal) const {
    if (!settings_.enabled || domain == nullptr) return RecipientFilterVerdict::Accept;
    if (internal ? !settings_.internal_mail_enabled : !settings_.external_mail_enabled)
        return RecipientFilterVerdict::Accept;
    if (settings_.block_list_enabled) {
        const std::string a = canonical_recipient(address);
        for (const auto& b : settings_.blocked_recipients)
            if (a == b) return RecipientFilterVerdict::Blocked;
    }
    // Lookup only for Authoritative domains: relay domains' recipients live elsewhere.
    if (settings_.recipient_validation_enabled && !key_.empty() && known_ &&
        domain->domain_type == routing::AcceptedDomainType::Authoritative) {
        std::optional<bool> found = known_(recipient_hash(key_, address));
        if (found && !*found) return RecipientFilterVerdict::Unknown;
    }
    return RecipientFilterVerdict::Accept;
}

std::string RecipientFilter::hashed_for_log(std::string_view address) const {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "HMAC-SHA256:";
    for (unsigned char c : recipient_hash(key_, address)) {
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
    return out;
}

}  // namespace edge::agents
