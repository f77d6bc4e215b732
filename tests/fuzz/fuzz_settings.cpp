// The settings value parser (transport/config/settings.cpp, value_checks.*): values an
// administrator gives edgectl (Set-ReceiveConnector -MaxMessageSize …), the bootstrap
// file's Key=Value lines, and stored config records. A value that is accepted has one
// canonical form: canonicalizing it again changes nothing, and a stored object reads
// back as it was written.
#include "bootstrap.hpp"
#include "fuzz_target.hpp"
#include "settings.hpp"
#include "typed_settings.hpp"
#include "value_checks.hpp"

using namespace edge::config;

FUZZ_TARGET(settings) {
    if (size == 0 || size > 8192) return 0;
    const auto kind = static_cast<ObjectKind>(data[0] % edge::config::kObjectKindCount);
    std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

    ConfigObject object(kind);
    edge::fuzz::Tape tape(data + 1, size - 1);
    int lines = 0;
    while (!tape.empty() && ++lines < 64) {
        std::string_view line = tape.line();
        auto eq = line.find('=');
        if (eq == std::string_view::npos) continue;
        std::string_view name = line.substr(0, eq), value = line.substr(eq + 1);
        const SettingDef* def = find_setting(kind, name);
        if (def == nullptr) continue;
        Canonical c = canonicalize(*def, value);
        if (!c.ok()) {
            FUZZ_CHECK(object.set(name, value) == c.error);
            continue;
        }
        Canonical again = canonicalize(*def, c.value);
        FUZZ_CHECK(again.ok() && again.value == c.value);
        // Stored values never hold a line end (serialize() writes one per line).
        FUZZ_CHECK(c.value.find_first_of("\r\n") == std::string::npos);
        FUZZ_CHECK(object.set(name, value).empty());
        FUZZ_CHECK(object.text(def->name) == c.value);
        if (def->element != ElementKind::None) {
            for (const auto& item : split_list(c.value)) {
                if (check_element(def->element, item)) continue;
                FUZZ_CHECK(canonical_element(def->element, canonical_element(def->element, item)) ==
                           canonical_element(def->element, item));
            }
        }
    }
    (void)validate_object(object);
    // Whatever was accepted reads into the typed struct the consumers use (the typed
    // readers throw only on a programming error: an enum out of step with the table).
    switch (kind) {
        case ObjectKind::Bootstrap: (void)bootstrap_settings(object); break;
        case ObjectKind::ReceiveConnector: (void)receive_connector_settings(object); break;
        case ObjectKind::AcceptedDomain: (void)accepted_domain_settings(object); break;
        case ObjectKind::TransportServer: (void)transport_server_settings(object); break;
        case ObjectKind::SendConnector: (void)send_connector_settings(object); break;
        case ObjectKind::RecipientFilterConfig: (void)recipient_filter_config_settings(object); break;
        case ObjectKind::TransportAgent: (void)transport_agent_settings(object); break;
        case ObjectKind::IPBlockListEntry:
        case ObjectKind::IPAllowListEntry: (void)ip_list_entry_settings(object); break;
        case ObjectKind::IPBlockListConfig: (void)ip_block_list_config_settings(object); break;
        case ObjectKind::IPAllowListConfig: (void)ip_allow_list_config_settings(object); break;
        case ObjectKind::TransportConfig: (void)transport_config_settings(object); break;
        case ObjectKind::IPBlockListProvider: (void)ip_block_list_provider_settings(object); break;
        case ObjectKind::IPAllowListProvider: (void)ip_allow_list_provider_settings(object); break;
        case ObjectKind::IPBlockListProvidersConfig: (void)ip_block_list_providers_config_settings(object); break;
        case ObjectKind::IPAllowListProvidersConfig: (void)ip_allow_list_providers_config_settings(object); break;
        case ObjectKind::SenderFilterConfig: (void)sender_filter_config_settings(object); break;
        case ObjectKind::SenderReputationConfig: (void)sender_reputation_config_settings(object); break;
        case ObjectKind::SenderIdConfig: (void)sender_id_config_settings(object); break;
        case ObjectKind::DkimVerificationConfig: (void)dkim_verification_config_settings(object); break;
        case ObjectKind::DmarcConfig: (void)dmarc_config_settings(object); break;
        case ObjectKind::DkimSigningConfig: (void)dkim_signing_config_settings(object); break;
        case ObjectKind::MilterServer: (void)milter_server_settings(object); break;
        case ObjectKind::AddressRewriteEntry: (void)address_rewrite_entry_settings(object); break;
        case ObjectKind::AttachmentFilterListConfig: (void)attachment_filter_list_config_settings(object); break;
        case ObjectKind::AttachmentFilterEntry: (void)attachment_filter_entry_settings(object); break;
        case ObjectKind::ContentFilterConfig: (void)content_filter_config_settings(object); break;
        case ObjectKind::ContentFilterPhrase: (void)content_filter_phrase_settings(object); break;
        case ObjectKind::ExchangeCertificate: (void)exchange_certificate_settings(object); break;
    }
    // New-* refuses an object without its required settings, so none is ever stored.
    for (const SettingDef* def : settings_of(kind))
        if (def->required && object.text(def->name).empty()) return 0;
    std::string stored = object.serialize();
    std::string error;
    auto back = ConfigObject::deserialize(kind, stored, &error);
    if (!back) std::fprintf(stderr, "stored object does not read back: %s\n%s", error.c_str(), stored.c_str());
    FUZZ_CHECK(back.has_value());
    FUZZ_CHECK(back->values() == object.values() && back->serialize() == stored);

    // A stored record as it may be found (or a bootstrap file as an administrator wrote it).
    if (auto read = ConfigObject::deserialize(kind, text, &error)) {
        auto s = read->serialize();
        auto again = ConfigObject::deserialize(kind, s, &error);
        FUZZ_CHECK(again && again->serialize() == s);
    }
    auto boot = parse_bootstrap(text, "fuzz.conf");
    for (const auto& e : boot.errors) FUZZ_CHECK(e.rfind("fuzz.conf:", 0) == 0);
    return 0;
}
