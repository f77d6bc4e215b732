// The IP Block/Allow List providers of a configuration (ip_providers.hpp): the
// provider objects and their two configurations read from the config store once per
// generation, asked through the receive side's resolver (ip_provider_lookup.*) and
// judged by the pure rules (ip_provider_match.*).
#include "ip_providers.hpp"

#include "agent_config.hpp"
#include "config_store.hpp"
#include "ip_provider_lookup.hpp"
#include "recipient_filter.hpp"

#include <algorithm>

namespace edge::agents {

namespace {

class ConfiguredProviders final : public IpProviders {
public:
    ConfiguredProviders(IpProviderSet set, AddressLookup lookup, bool internal_allow, bool internal_block,
                        bool external_allow, bool external_block)
        : set_(std::move(set)),
          lookup_(std::move(lookup)),
          internal_{internal_allow, internal_block},
          external_{external_allow, external_block} {}

    bool empty() const override { return set_.allow.empty() && set_.block.empty(); }
    std::chrono::milliseconds timeout() const override { return set_.timeout; }
    bool asks_for(bool internal) const override {
        const auto& which = internal ? internal_ : external_;
        return (which.allow && !set_.allow.empty()) || (which.block && !set_.block.empty());
    }

    boost::asio::awaitable<ProviderOutcome> check(boost::asio::ip::address client, bool internal) const override {
        // The kinds whose configuration does not apply to this session are not asked.
        const auto& which = internal ? internal_ : external_;
        IpProviderSet asked;
        asked.threshold = set_.threshold;
        asked.timeout = set_.timeout;
        if (which.allow) asked.allow = set_.allow;
        if (which.block) asked.block = set_.block;
        auto ask = ask_providers(lookup_, asked, client);
        ProviderReplies replies = co_await std::move(ask);
        ProviderDecision d = decide(asked, replies.allow, replies.block);
        ProviderOutcome out;
        switch (d.kind) {
            case ProviderDecision::Kind::NotListed: out.kind = ProviderOutcome::Kind::NotListed; break;
            case ProviderDecision::Kind::Blocked: out.kind = ProviderOutcome::Kind::Blocked; break;
            case ProviderDecision::Kind::AllowListed: out.kind = ProviderOutcome::Kind::AllowListed; break;
        }
        out.provider = std::move(d.provider);
        out.rejection_response = std::move(d.rejection_response);
        out.reason_data = std::move(d.reason_data);
        out.failures = std::move(d.failures);
        co_return out;
    }

    bool bypassed_recipient(std::string_view canonical_recipient) const override {
        return std::find(set_.bypassed_recipients.begin(), set_.bypassed_recipients.end(), canonical_recipient) !=
               set_.bypassed_recipients.end();
    }

private:
    struct Kinds {
        bool allow, block;
    };
    IpProviderSet set_;
    AddressLookup lookup_;
    Kinds internal_, external_;
};

}  // namespace

IpProviderSet load_ip_provider_set(const queue::QueueDb& db, Switches* switches) {
    IpProviderSet set;
    const auto block_config =
        config::ip_block_list_providers_config_settings(config::load_singleton(db, config::ObjectKind::IPBlockListProvidersConfig));
    const auto allow_config =
        config::ip_allow_list_providers_config_settings(config::load_singleton(db, config::ObjectKind::IPAllowListProvidersConfig));
    set.threshold = block_config.threshold;
    set.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(block_config.lookup_timeout);
    for (const auto& r : block_config.bypassed_recipients) set.bypassed_recipients.push_back(canonical_recipient(r));
    if (block_config.enabled)
        for (const auto& s : config::load_objects(db, config::ObjectKind::IPBlockListProvider)) {
            auto p = config::ip_block_list_provider_settings(s.object);
            if (p.enabled) set.block.push_back(block_list_provider(p));
        }
    if (allow_config.enabled)
        for (const auto& s : config::load_objects(db, config::ObjectKind::IPAllowListProvider)) {
            auto p = config::ip_allow_list_provider_settings(s.object);
            if (p.enabled) set.allow.push_back(allow_list_provider(p));
        }
    // Priority order (equal priorities by name, so the order never depends on storage).
    auto by_priority = [](const IpListProvider& a, const IpListProvider& b) {
        return a.priority != b.priority ? a.priority < b.priority : a.name < b.name;
    };
    std::sort(set.block.begin(), set.block.end(), by_priority);
    std::sort(set.allow.begin(), set.allow.end(), by_priority);
    if (switches) {
        switches->internal_allow = allow_config.internal_mail_enabled;
        switches->external_allow = allow_config.external_mail_enabled;
        switches->internal_block = block_config.internal_mail_enabled;
        switches->external_block = block_config.external_mail_enabled;
    }
    return set;
}

std::shared_ptr<const IpProviders> make_ip_providers(IpProviderSet set, AddressLookup lookup, const Switches& s) {
    return std::make_shared<const ConfiguredProviders>(std::move(set), std::move(lookup), s.internal_allow, s.internal_block,
                                                       s.external_allow, s.external_block);
}

std::shared_ptr<const IpProviders> load_ip_providers(const queue::QueueDb& db, const AgentServices& services) {
    Switches s;
    IpProviderSet set = load_ip_provider_set(db, &s);
    if (!services.dns) {  // no resolver (a test's pipeline): nothing can be asked
        set.allow.clear();
        set.block.clear();
    }
    // BypassedRecipients alone still matters: the agent honours it for a client on the
    // static IP Block List too (ours; Exchange applies it to the providers' blocks).
    if (set.allow.empty() && set.block.empty() && set.bypassed_recipients.empty()) return nullptr;
    AddressLookup lookup = services.dns ? resolver_lookup(services.dns) : AddressLookup{};
    return make_ip_providers(std::move(set), std::move(lookup), s);
}

}  // namespace edge::agents
