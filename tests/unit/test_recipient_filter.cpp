// The Recipient Filter agent's decisions, and the keyed recipient hash EdgeSync shares.
#include "recipient_filter.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <string>

using namespace edge::agents;
using edge::routing::AcceptedDomain;
using edge::routing::AcceptedDomainType;

namespace {

std::string hex(const std::string& bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

AcceptedDomain domain(AcceptedDomainType type) {
    AcceptedDomain d;
    d.name = "d";
    d.domain_name = "contoso.com";
    d.domain_type = type;
    return d;
}

// A replicated set holding the hashes of `addresses` under `key`.
RecipientFilter::Lookup directory(const std::string& key, std::set<std::string> addresses) {
    std::set<std::string> hashes;
    for (const auto& a : addresses) hashes.insert(recipient_hash(key, a));
    return [hashes](std::string_view h) -> std::optional<bool> { return hashes.contains(std::string(h)); };
}

}  // namespace

TEST_CASE("the recipient hash is HMAC-SHA-256 of the canonical address with the subscription's key",
          "[agents][recipient-filter]") {
    // RFC 4231 §4.3, test case 2.
    CHECK(hex(recipient_hash("Jefe", "what do ya want for nothing?")) ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    CHECK(recipient_hash("k", "Alice@Contoso.COM") == recipient_hash("k", "alice@contoso.com"));
    CHECK(recipient_hash("k1", "alice@contoso.com") != recipient_hash("k2", "alice@contoso.com"));
    CHECK(recipient_hash("k", "alice@contoso.com").size() == 32);
}

TEST_CASE("recipient lookup refuses unknown recipients of Authoritative domains only", "[agents][recipient-filter]") {
    RecipientFilterSettings s;
    s.recipient_validation_enabled = true;
    RecipientFilter f(s, "key", directory("key", {"alice@contoso.com"}));
    auto authoritative = domain(AcceptedDomainType::Authoritative);
    auto internal_relay = domain(AcceptedDomainType::InternalRelay);
    auto external_relay = domain(AcceptedDomainType::ExternalRelay);
    CHECK(f.check("alice@contoso.com", &authoritative, false) == RecipientFilterVerdict::Accept);
    CHECK(f.check("ALICE@contoso.com", &authoritative, false) == RecipientFilterVerdict::Accept);
    CHECK(f.check("mallory@contoso.com", &authoritative, false) == RecipientFilterVerdict::Unknown);
    CHECK(f.check("mallory@contoso.com", &internal_relay, false) == RecipientFilterVerdict::Accept);
    CHECK(f.check("mallory@contoso.com", &external_relay, false) == RecipientFilterVerdict::Accept);
    CHECK(f.check("mallory@elsewhere.com", nullptr, false) == RecipientFilterVerdict::Accept);  // relay control's call
    // Internal (hub, partner) sessions are not filtered by default (InternalMailEnabled $false).
    CHECK(f.check("mallory@contoso.com", &authoritative, true) == RecipientFilterVerdict::Accept);
}

TEST_CASE("recipient lookup refuses no one until a recipient set was replicated, nor without a key",
          "[agents][recipient-filter]") {
    RecipientFilterSettings s;
    s.recipient_validation_enabled = true;
    auto authoritative = domain(AcceptedDomainType::Authoritative);
    RecipientFilter never_synced(s, "key", [](std::string_view) -> std::optional<bool> { return std::nullopt; });
    CHECK(never_synced.check("anyone@contoso.com", &authoritative, false) == RecipientFilterVerdict::Accept);
    RecipientFilter no_key(s, "", directory("key", {}));
    CHECK(no_key.check("anyone@contoso.com", &authoritative, false) == RecipientFilterVerdict::Accept);
    s.recipient_validation_enabled = false;
    RecipientFilter off(s, "key", directory("key", {}));
    CHECK(off.check("anyone@contoso.com", &authoritative, false) == RecipientFilterVerdict::Accept);
}

TEST_CASE("the block list refuses its addresses in any accepted domain, without case", "[agents][recipient-filter]") {
    RecipientFilterSettings s;
    s.block_list_enabled = true;
    s.blocked_recipients = {"Ceo@Contoso.com"};
    auto relay = domain(AcceptedDomainType::ExternalRelay);
    RecipientFilter f(s, "", nullptr);
    CHECK(f.check("ceo@contoso.COM", &relay, false) == RecipientFilterVerdict::Blocked);
    CHECK(f.check("cfo@contoso.com", &relay, false) == RecipientFilterVerdict::Accept);
    s.block_list_enabled = false;
    CHECK(RecipientFilter(s, "", nullptr).check("ceo@contoso.com", &relay, false) == RecipientFilterVerdict::Accept);
}

TEST_CASE("the block list refuses every spelling of a blocked address", "[agents][recipient-filter]") {
    // Issue 13, weakness 4: quotes, quoted-pairs, Unicode case, NFC, the trailing dot.
    RecipientFilterSettings s;
    s.block_list_enabled = true;
    s.blocked_recipients = {"ceo@accepted.test", "\xc3\xbc@accepted.test", "info@b\xc3\xbc" "cher.test"};
    auto d = domain(AcceptedDomainType::Authoritative);
    RecipientFilter f(s, "", nullptr);
    for (const char* spelling : {"ceo@accepted.test", "\"ceo\"@accepted.test", "\"c\\eo\"@accepted.test",
                                 "CEO@accepted.test.", "\"C\\E\\O\"@Accepted.Test", "\xc3\xbc@accepted.test",
                                 "\xc3\x9c@accepted.test", "\"\xc3\xbc\"@accepted.test", "\xc3\xbc@accepted.test.",
                                 "u\xcc\x88@accepted.test", "info@xn--bcher-kva.test", "INFO@B\xc3\x9c" "CHER.test"}) {
        INFO(spelling);
        CHECK(f.check(spelling, &d, false) == RecipientFilterVerdict::Blocked);
    }
    for (const char* other : {"ceo2@accepted.test", "\"c eo\"@accepted.test", "u@accepted.test", "info@bucher.test"}) {
        INFO(other);
        CHECK(f.check(other, &d, false) == RecipientFilterVerdict::Accept);
    }
}

TEST_CASE("the recipient hash is taken over the canonical address, so directory and RCPT spellings meet",
          "[agents][recipient-filter]") {
    // The edgesync agent hashes the directory's "CEO@Contoso.com"; the edge hashes RCPT's spelling.
    const std::string dir = recipient_hash("k", "CEO@Contoso.com");
    for (const char* rcpt : {"\"ceo\"@contoso.com.", "ceo@CONTOSO.com", "\"c\\eo\"@contoso.com"}) {
        INFO(rcpt);
        CHECK(recipient_hash("k", rcpt) == dir);
    }
    CHECK(recipient_hash("k", "\xc3\x9c@b\xc3\xbc" "cher.test") == recipient_hash("k", "\xc3\xbc@xn--bcher-kva.test"));
    CHECK(canonical_recipient("\"CEO\"@Contoso.com.") == "ceo@contoso.com");
    // Not an address: its lower-cased bytes, matching only itself.
    CHECK(canonical_recipient("Not An Address") == "not an address");
    // Validation finds a recipient the directory spelt differently.
    RecipientFilterSettings set;
    set.recipient_validation_enabled = true;
    RecipientFilter f(set, "key", directory("key", {"CEO@Contoso.com"}));
    auto d = domain(AcceptedDomainType::Authoritative);
    CHECK(f.check("\"ceo\"@contoso.com.", &d, false) == RecipientFilterVerdict::Accept);
    CHECK(f.check("cfo@contoso.com", &d, false) == RecipientFilterVerdict::Unknown);
}

TEST_CASE("Enabled, ExternalMailEnabled and InternalMailEnabled choose which sessions are filtered",
          "[agents][recipient-filter]") {
    RecipientFilterSettings s;
    s.block_list_enabled = true;
    s.blocked_recipients = {"x@contoso.com"};
    auto d = domain(AcceptedDomainType::Authoritative);
    struct Case {
        bool enabled, external, internal_enabled, internal_session;
        RecipientFilterVerdict expected;
    };
    const Case cases[] = {
        {true, true, false, false, RecipientFilterVerdict::Blocked},
        {true, true, false, true, RecipientFilterVerdict::Accept},
        {true, false, false, false, RecipientFilterVerdict::Accept},
        {true, false, true, true, RecipientFilterVerdict::Blocked},
        {false, true, true, false, RecipientFilterVerdict::Accept},
        {false, true, true, true, RecipientFilterVerdict::Accept},
    };
    for (const auto& c : cases) {
        s.enabled = c.enabled;
        s.external_mail_enabled = c.external;
        s.internal_mail_enabled = c.internal_enabled;
        INFO("enabled " << c.enabled << " external " << c.external << " internal " << c.internal_enabled
                        << " internal session " << c.internal_session);
        CHECK(RecipientFilter(s, "", nullptr).check("x@contoso.com", &d, c.internal_session) == c.expected);
    }
}
