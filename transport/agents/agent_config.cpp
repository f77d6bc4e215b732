// The agents' configuration: Exchange's order, the administrator's changes, and the
// pipeline built from them (see the header).
#include "agent_config.hpp"

#include "typed_settings.hpp"

#include "address_rewrite_agents.hpp"
#include "attachment_filter.hpp"
#include "auth_agents.hpp"
#include "config_store.hpp"
#include "connection_filter.hpp"
#include "content_filter.hpp"
#include "ip_list_store.hpp"
#include "milter_agent.hpp"
#include "receive_agents.hpp"
#include "reputation_service.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <strings.h>

namespace edge::agents {

namespace {
bool same_name(std::string_view a, std::string_view b) {
    return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// An agent's own configuration's Enabled (which stops it as Disable-TransportAgent
// does) and its External/InternalMailEnabled.
template <class Config>
void own_switches(Pipeline::Entry& e, const Config& c) {
    e.settings.enabled = e.settings.enabled && c.enabled;
    e.settings.external_mail_enabled = c.external_mail_enabled;
    e.settings.internal_mail_enabled = c.internal_mail_enabled;
}
}  // namespace

std::vector<std::string_view> installed_agents() {
    // Exchange 2007 Edge's order, of the agents that exist: Connection Filtering 1,
    // Address Rewriting Inbound 2, Edge Rule 3, Content Filter 4, Sender Id 5, Sender
    // Filter 6, Recipient Filter 7, Protocol Analysis 8, Attachment Filtering 9,
    // Address Rewriting Outbound 10. New agents take their place in this list. Ours,
    // DKIM verification and DMARC, follow the Sender Id Agent: both run at the end of
    // data, DMARC after DKIM (it reads DKIM's results), before any content agent that
    // would read DMARC's quarantine. Issue 19: the Milter Agent follows DMARC, the Content
    // Filter Agent follows the milters (it reads their verdicts and sees their changes),
    // Attachment Filtering after Protocol Analysis and the Address Rewriting agents first
    // and last, as Exchange.
    return {kRelayControlAgent,     kConnectionFilterAgent, kAddressRewritingInboundAgent,
            kSenderIdAgent,         kDkimVerificationAgent, kDmarcAgent,
            kMilterAgent,           kContentFilterAgent,    kSenderFilterAgent,
            kRecipientFilterAgent,  kProtocolAnalysisAgent, kAttachmentFilterAgent,
            kAddressRewritingOutboundAgent};
}

bool can_disable_agent(std::string_view identity) { return !same_name(identity, kRelayControlAgent); }

std::vector<TransportAgentConfig> order_agents(const std::vector<std::pair<std::string, config::ConfigObject>>& stored) {
    struct Row {
        TransportAgentConfig c;
        std::uint64_t key;  // the stored priority, or the default place
        std::size_t place;
    };
    std::vector<Row> rows;
    std::size_t place = 0;
    for (auto name : installed_agents()) {
        Row r{{std::string(name), true, 0, can_disable_agent(name)}, place, place};
        ++place;
        for (const auto& [id, o] : stored) {
            if (!same_name(id, name)) continue;
            const config::TransportAgentSettings t = config::transport_agent_settings(o);
            r.c.enabled = t.enabled || !r.c.can_disable;
            r.key = t.priority;
        }
        if (!r.c.can_disable) r.key = 0;  // relay control runs before every agent, always
        rows.push_back(std::move(r));
    }
    std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
        return a.c.can_disable != b.c.can_disable ? !a.c.can_disable : std::tie(a.key, a.place) < std::tie(b.key, b.place);
    });
    std::vector<TransportAgentConfig> out;
    int priority = 1;
    for (auto& r : rows) {
        r.c.priority = r.c.can_disable ? priority++ : 0;
        out.push_back(std::move(r.c));
    }
    return out;
}

std::vector<TransportAgentConfig> load_transport_agents(const queue::QueueDb& db) {
    std::vector<std::pair<std::string, config::ConfigObject>> stored;
    for (auto& s : config::load_objects(db, config::ObjectKind::TransportAgent)) stored.emplace_back(s.name, s.object);
    return order_agents(stored);
}

std::string move_agent(std::vector<TransportAgentConfig>& agents, std::string_view identity, long long priority) {
    auto it = std::find_if(agents.begin(), agents.end(), [&](const auto& a) { return same_name(a.identity, identity); });
    if (it == agents.end()) return fmt::format("no transport agent named '{}'; 'edgectl Get-TransportAgent' lists them", identity);
    if (!it->can_disable)
        return fmt::format("'{}' always runs first (priority 0), before every agent; its priority cannot be changed",
                           it->identity);
    const long long movable = std::count_if(agents.begin(), agents.end(), [](const auto& a) { return a.can_disable; });
    if (priority < 1 || priority > movable)
        return fmt::format("-Priority: {} is out of range; expected 1 to {} (the number of transport agents that can be "
                           "ordered)",
                           priority, movable);
    TransportAgentConfig moving = *it;
    agents.erase(it);
    // Relay control (priority 0) stays in front; priority N is the N-th agent after it.
    auto first = std::find_if(agents.begin(), agents.end(), [](const auto& a) { return a.can_disable; });
    agents.insert(first + (priority - 1), std::move(moving));
    int p = 1;
    for (auto& a : agents) a.priority = a.can_disable ? p++ : 0;
    return {};
}

std::shared_ptr<const Pipeline> build_pipeline(const std::vector<TransportAgentConfig>& agents,
                                               std::shared_ptr<const routing::Categorizer> categorizer,
                                               std::shared_ptr<const RecipientFilter> recipient_filter,
                                               const AgentServices& services,
                                               std::shared_ptr<const ConnectionFilterConfig> connection_filter) {
    std::vector<Pipeline::Entry> entries;
    for (const auto& a : agents) {
        Pipeline::Entry e;
        e.settings.enabled = a.enabled;
        e.settings.priority = a.priority;
        if (same_name(a.identity, kRelayControlAgent)) {
            e.agent = std::make_shared<RelayControlAgent>(categorizer);
            e.settings.external_mail_enabled = e.settings.internal_mail_enabled = true;
        } else if (same_name(a.identity, kConnectionFilterAgent)) {
            if (!connection_filter) connection_filter = std::make_shared<const ConnectionFilterConfig>();
            auto agent = std::make_shared<ConnectionFilterAgent>(connection_filter);
            // Its lists' configurations decide which sessions it sees (IPBlockListConfig /
            // IPAllowListConfig External/InternalMailEnabled, the providers, InternalSMTPServers).
            e.settings.external_mail_enabled = agent->external_mail_enabled();
            e.settings.internal_mail_enabled = agent->internal_mail_enabled();
            e.agent = std::move(agent);
        } else if (same_name(a.identity, kRecipientFilterAgent)) {
            e.agent = std::make_shared<RecipientFilterAgent>(recipient_filter, categorizer);
            if (recipient_filter) {
                // Set-RecipientFilterConfig -Enabled $false stops it too, as in Exchange.
                e.settings.enabled = e.settings.enabled && recipient_filter->settings().enabled;
                e.settings.external_mail_enabled = recipient_filter->settings().external_mail_enabled;
                e.settings.internal_mail_enabled = recipient_filter->settings().internal_mail_enabled;
            }
        } else if (same_name(a.identity, kSenderFilterAgent)) {
            e.agent = std::make_shared<SenderFilterAgent>(services.sender_filter);
            // Set-SenderFilterConfig -Enabled $false stops it too, as in Exchange.
            if (services.sender_filter) own_switches(e, services.sender_filter->settings());
        } else if (same_name(a.identity, kSenderIdAgent)) {
            const auto& c = services.authentication.sender_id;
            e.agent = std::make_shared<SenderIdAgent>(c, services.dns, services.server_fqdn);
            own_switches(e, c);  // Set-SenderIdConfig -Enabled $false stops it too, as in Exchange
        } else if (same_name(a.identity, kDkimVerificationAgent)) {
            const auto& c = services.authentication.dkim_verification;
            e.agent = std::make_shared<DkimVerificationAgent>(c, services.dns, services.cpu);
            own_switches(e, c);
        } else if (same_name(a.identity, kDmarcAgent)) {
            const auto& c = services.authentication.dmarc;
            e.agent = std::make_shared<DmarcAgent>(c, services.dns);
            own_switches(e, c);
        } else if (same_name(a.identity, kMilterAgent)) {
            e.agent = std::make_shared<MilterAgent>(services.milters, services.server_fqdn, services.max_message_sizes);
            // Every session, hubs' and partners' too, as Postfix's smtpd_milters: a milter
            // may be a virus scanner or a signer as well as a spam scanner.
            e.settings.external_mail_enabled = e.settings.internal_mail_enabled = true;
        } else if (same_name(a.identity, kAddressRewritingInboundAgent)) {
            // Every session: a hub's RCPT is rewritten as a stranger's (Exchange's agents
            // run on the Receive connector whatever its permissions).
            e.agent = std::make_shared<AddressRewritingInboundAgent>(services.address_rewriter);
            e.settings.external_mail_enabled = e.settings.internal_mail_enabled = true;
        } else if (same_name(a.identity, kAddressRewritingOutboundAgent)) {
            e.agent = std::make_shared<AddressRewritingOutboundAgent>(services.address_rewriter);
            e.settings.external_mail_enabled = e.settings.internal_mail_enabled = true;
        } else if (same_name(a.identity, kAttachmentFilterAgent)) {
            e.agent = std::make_shared<AttachmentFilterAgent>(services.attachment_filter, services.cpu);
            // Exchange filters every message through the Edge, inbound and outbound; only
            // ExceptionConnectors are not (the agent checks the session's connector).
            e.settings.external_mail_enabled = e.settings.internal_mail_enabled = true;
        } else if (same_name(a.identity, kContentFilterAgent)) {
            auto filter = services.content_filter ? services.content_filter
                                                  : std::make_shared<const ContentFilter>(config::ContentFilterConfigSettings{},
                                                                                          std::vector<PhraseMatcher::Phrase>{});
            own_switches(e, filter->settings());  // Set-ContentFilterConfig -Enabled $false stops it too
            e.agent = std::make_shared<ContentFilterAgent>(std::move(filter));
        } else if (same_name(a.identity, kProtocolAnalysisAgent) && services.reputation) {
            e.agent = std::make_shared<ProtocolAnalysisAgent>(services.reputation);
            // Set-SenderReputationConfig -Enabled $false stops it too, as in Exchange.
            own_switches(e, services.reputation->settings());
        } else {
            continue;
        }
        entries.push_back(std::move(e));
    }
    return std::make_shared<const Pipeline>(std::move(entries));
}

std::shared_ptr<const Pipeline> load_pipeline(const queue::QueueDb& db,
                                              std::shared_ptr<const routing::Categorizer> categorizer,
                                              std::shared_ptr<const RecipientFilter> recipient_filter,
                                              const AgentServices& services) {
    AgentServices with = services;
    with.authentication = load_authentication_config(db);
    with.milters = load_milter_servers(db);
    for (const auto& c : config::load_objects(db, config::ObjectKind::ReceiveConnector))
        with.max_message_sizes[c.name] = config::receive_connector_settings(c.object).max_message_size;
    if (!with.content_filter) with.content_filter = load_content_filter(db);
    if (!with.sender_filter)
        with.sender_filter = std::make_shared<const SenderFilter>(
            config::sender_filter_config_settings(config::load_singleton(db, config::ObjectKind::SenderFilterConfig)));
    if (!with.address_rewriter) with.address_rewriter = load_address_rewriter(db);
    if (!with.attachment_filter) with.attachment_filter = load_attachment_filter_config(db);
    return build_pipeline(load_transport_agents(db), std::move(categorizer), std::move(recipient_filter), with,
                          load_connection_filter_config(db, services));
}

std::shared_ptr<const AddressRewriter> load_address_rewriter(const queue::QueueDb& db, std::vector<std::string>* errors) {
    std::vector<config::AddressRewriteEntrySettings> entries;
    for (const auto& s : config::load_objects(db, config::ObjectKind::AddressRewriteEntry, errors))
        entries.push_back(config::address_rewrite_entry_settings(s.object));
    return std::make_shared<const AddressRewriter>(entries, errors);
}

AuthenticationConfig load_authentication_config(const queue::QueueDb& db) {
    using config::ObjectKind;
    AuthenticationConfig a;
    a.sender_id = config::sender_id_config_settings(config::load_singleton(db, ObjectKind::SenderIdConfig));
    a.dkim_verification = config::dkim_verification_config_settings(config::load_singleton(db, ObjectKind::DkimVerificationConfig));
    a.dmarc = config::dmarc_config_settings(config::load_singleton(db, ObjectKind::DmarcConfig));
    return a;
}

AgentLogSettings agent_log_settings(const config::TransportServerSettings& ts, const std::string& data_directory) {
    auto limit = [](std::uint64_t v) { return v == config::kUnlimited ? 0 : v; };
    AgentLogSettings s;
    s.enabled = ts.agent_log_enabled;
    s.directory = ts.agent_log_path.empty() ? data_directory + "/Logs/AgentLog" : ts.agent_log_path;
    s.max_file_size = limit(ts.agent_log_max_file_size);
    s.max_directory_size = limit(ts.agent_log_max_directory_size);
    s.max_age = ts.agent_log_max_age;
    return s;
}

}  // namespace edge::agents
