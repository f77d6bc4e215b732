// The Recipient Filter agent (Exchange 2007 Edge, reference §9.5): at RCPT TO it
// refuses a recipient on the block list, and — with RecipientValidationEnabled — a
// recipient of an Authoritative accepted domain that EdgeSync did not replicate, with
// `550 5.1.1 User unknown` (the session tarpits it for anonymous clients). Pure: the
// replicated set is reached through a lookup function, so tests need no database.
//
// Recipients are known only by keyed hash (recipient_hash): the edge can check an
// address it is given, but cannot list the directory.
#pragma once

#include "accepted_domains.hpp"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::agents {

// Set-RecipientFilterConfig (settings table, ObjectKind::RecipientFilterConfig).
struct RecipientFilterSettings {
    bool enabled = true;
    bool external_mail_enabled = true;   // anonymous (internet) sessions
    bool internal_mail_enabled = false;  // hubs and partners
    bool block_list_enabled = false;
    std::vector<std::string> blocked_recipients;  // compared by canonical_recipient
    bool recipient_validation_enabled = false;
};

enum class RecipientFilterVerdict { Accept, Blocked, Unknown };

// The form in which the agent compares and hashes an address: smtp::canonical_address
// (quotes and quoted-pairs resolved, domain lower case without its trailing dot and as
// A-labels, Unicode case folded and NFC). RFC 5321 §2.4 lets the local part be
// case-sensitive, but directories and Exchange match addresses without case. What is not
// an address is its lower-cased bytes.
std::string canonical_recipient(std::string_view address);

// HMAC-SHA-256 of canonical_recipient(address) with the subscription's key: 32 raw bytes.
// The edgesync agent hashes the directory with the same function and key, so the
// directory's "CEO@Contoso.com" matches RCPT TO:<"ceo"@contoso.com.>.
std::string recipient_hash(std::string_view key, std::string_view address);

class RecipientFilter {
public:
    // `known(hash)` answers whether EdgeSync replicated that recipient, or nullopt when
    // no recipient set has been replicated at all (then validation would refuse
    // everyone, so it does not run). An empty `hash_key`: no subscription, no lookup.
    using Lookup = std::function<std::optional<bool>(std::string_view hash)>;
    RecipientFilter(RecipientFilterSettings settings, std::string hash_key, Lookup known);

    // `domain` is the accepted domain the recipient matched (nullptr: not accepted —
    // relay control, not this agent, decides); `internal` whether the session holds
    // hub or partner rights.
    RecipientFilterVerdict check(std::string_view address, const routing::AcceptedDomain* domain, bool internal) const;

    const RecipientFilterSettings& settings() const { return settings_; }
    // How logs name an address the lookup refused: "HMAC-SHA256:" and the hex of its
    // recipient_hash, never the address (see the agent log's security note).
    std::string hashed_for_log(std::string_view address) const;

private:
    RecipientFilterSettings settings_;
    std::string key_;
    Lookup known_;
};

}  // namespace edge::agents
