// The agents' configuration in the config store (ObjectKind::TransportAgent: Enabled,
// Priority per agent; the TransportServer's AgentLog* settings) and the pipeline the
// server builds from it for each config generation. Read by the server and edgectl.
#pragma once

#include "address_rewrite.hpp"
#include "agent_log.hpp"
#include "categorizer.hpp"
#include "pipeline.hpp"
#include "recipient_filter.hpp"
#include "sender_filter.hpp"
#include "settings.hpp"
#include "typed_settings.hpp"

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace edge::queue {
class QueueDb;
}
namespace edge::dns {
class DnsResolver;
}
namespace boost::asio {
class thread_pool;
}

namespace edge::agents {

class SenderReputationService;
struct AttachmentFilterConfig;
class ContentFilter;

// The configurations of the agents that authenticate the message (issue 18): singletons,
// read once per generation.
struct AuthenticationConfig {
    config::SenderIdConfigSettings sender_id;
    config::DkimVerificationConfigSettings dkim_verification;
    config::DmarcConfigSettings dmarc;
};
AuthenticationConfig load_authentication_config(const queue::QueueDb& db);

// What the server hands the agents of a generation that do I/O or keep state beyond a
// session. Owned by the server, on its one I/O thread.
struct AgentServices {
    // This server's FQDN: SPF's %{r} (the receiving host).
    std::string server_fqdn;
    // Where CPU-heavy agent work runs (DKIM's hashes and public-key operations); null:
    // on the calling thread.
    boost::asio::thread_pool* cpu = nullptr;
    // Set-SenderIdConfig, -DkimVerificationConfig, -DmarcConfig; load_pipeline reads them.
    AuthenticationConfig authentication;
    std::shared_ptr<dns::DnsResolver> dns;  // the receive side's resolver (InternalDNSServers)
    // Set-SenderFilterConfig's lists, built once per generation; load_pipeline reads them
    // from the store when unset (null: the Sender Filter Agent lets every sender go on).
    std::shared_ptr<const SenderFilter> sender_filter;
    // The enabled MilterServer objects in order (issue 19; load_pipeline reads them), and
    // each Receive connector's MaxMessageSize by Name (a milter's replaced body is bounded by it).
    std::vector<config::MilterServerSettings> milters;
    std::map<std::string, std::uint64_t, std::less<>> max_message_sizes;
    // Set-ContentFilterConfig and the custom phrases (issue 19), built once per generation;
    // load_pipeline reads them from the store when unset.
    std::shared_ptr<const ContentFilter> content_filter;
    // Sender reputation's state (the Protocol Analysis Agent); none: the agent is not built.
    std::shared_ptr<SenderReputationService> reputation;
    // The AddressRewriteEntry objects (both Address Rewriting agents); load_pipeline reads
    // them from the store when unset (null: nothing is rewritten).
    std::shared_ptr<const AddressRewriter> address_rewriter;
    // Set-AttachmentFilterListConfig and the attachment filter list (issue 19); load_pipeline
    // reads them from the store when unset (null: Exchange's defaults).
    std::shared_ptr<const AttachmentFilterConfig> attachment_filter;
};

// New-AddressRewriteEntry's objects, ready to match; entries that do not load are named
// in `errors` and left out.
std::shared_ptr<const AddressRewriter> load_address_rewriter(const queue::QueueDb& db,
                                                             std::vector<std::string>* errors = nullptr);

// One row of Get-TransportAgent.
struct TransportAgentConfig {
    std::string identity;
    bool enabled = true;
    int priority = 0;  // relay control 0 (before every agent, fixed); the others 1..N
    bool can_disable = true;
};

// The agents this build has, in Exchange's default order; relay control first.
std::vector<std::string_view> installed_agents();
bool can_disable_agent(std::string_view identity);

// The agents in the order they run. `stored` holds the TransportAgent objects an
// administrator wrote (by Identity; an unknown one is ignored). Agents without one
// keep Exchange's order and Enabled; priorities come out renumbered 1..N.
std::vector<TransportAgentConfig> order_agents(const std::vector<std::pair<std::string, config::ConfigObject>>& stored);
std::vector<TransportAgentConfig> load_transport_agents(const queue::QueueDb& db);

// Set-TransportAgent -Priority as Exchange does it: the agent moves to `priority` and
// the others close up behind it, keeping their order. The error (unknown agent, relay
// control, out of 1..N) names what is expected; "" when done.
std::string move_agent(std::vector<TransportAgentConfig>& agents, std::string_view identity, long long priority);

// The pipeline of this generation: relay control and the Recipient Filter Agent with
// their settings (the filter's ExternalMailEnabled / InternalMailEnabled are its own
// configuration's, Set-RecipientFilterConfig).
// `connection_filter`: the Connection Filtering Agent's lists and settings (nullptr:
// empty lists, the defaults).
struct ConnectionFilterConfig;
std::shared_ptr<const Pipeline> build_pipeline(const std::vector<TransportAgentConfig>& agents,
                                               std::shared_ptr<const routing::Categorizer> categorizer,
                                               std::shared_ptr<const RecipientFilter> recipient_filter,
                                               const AgentServices& services = {},
                                               std::shared_ptr<const ConnectionFilterConfig> connection_filter = nullptr);
std::shared_ptr<const Pipeline> load_pipeline(const queue::QueueDb& db,
                                              std::shared_ptr<const routing::Categorizer> categorizer,
                                              std::shared_ptr<const RecipientFilter> recipient_filter,
                                              const AgentServices& services = {});

// Set-TransportServer AgentLog*; an empty AgentLogPath is <data_directory>/Logs/AgentLog.
AgentLogSettings agent_log_settings(const config::TransportServerSettings& transport_server, const std::string& data_directory);

}  // namespace edge::agents
