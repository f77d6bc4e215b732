// The Connection Filtering Agent (Exchange 2007 Edge's first anti-spam agent): the
// client's IP address against the IP Allow List, the IP Block List and the providers
// (DNSBL / DNSWL, ip_providers.hpp). An allow-listed client bypasses the other
// anti-spam agents; a blocked one is answered 550 5.7.1 at each RCPT (so recipients
// are logged and BypassedRecipients still honoured), then disconnected. Behind another
// MTA (InternalSMTPServers) it judges the first external address in Received: at the
// end of headers instead. No sockets: the providers are its only I/O.
#pragma once

#include "ip_list.hpp"
#include "ip_providers.hpp"
#include "pipeline_async.hpp"
#include "typed_settings.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace edge::agents {

inline constexpr std::string_view kConnectionFilterAgent = "Connection Filtering Agent";

// The session properties the agent keeps (the session's property bag): a blocked
// session's response and the agent log's Reason / ReasonData for its RCPT refusals.
inline constexpr std::string_view kBlockedResponseProperty = "ConnectionFilter.BlockedResponse";
inline constexpr std::string_view kBlockedReasonProperty = "ConnectionFilter.BlockedReason";
inline constexpr std::string_view kBlockedReasonDataProperty = "ConnectionFilter.BlockedReasonData";

// What the agent is built from, once per config generation.
struct ConnectionFilterConfig {
    std::shared_ptr<const IpList> block_list;  // nullptr = empty
    std::shared_ptr<const IpList> allow_list;
    config::IPBlockListConfigSettings block_list_config;
    config::IPAllowListConfigSettings allow_list_config;
    std::vector<routing::IpRange> internal_smtp_servers;  // Set-TransportConfig -InternalSMTPServers
    std::shared_ptr<const IpProviders> providers;         // nullptr = none configured
    // The time entries expire against (a test's clock; the system's otherwise).
    std::function<std::chrono::system_clock::time_point()> now = [] { return std::chrono::system_clock::now(); };
};

// The agent's decision about one address.
struct IpJudgement {
    enum class Kind : std::uint8_t { NotListed, Allowed, Blocked } kind = Kind::NotListed;
    std::string response;     // Blocked: the text of the 550 5.7.1
    std::string reason;       // the agent log's Reason: LocalAllowList, LocalBlockList, MachineBlockList,
                              // AllowListProvider, BlockListProvider
    std::string reason_data;  // the entry ("IPBlockListEntry 3: 192.0.2.0/24") or the provider
    std::string diagnostics;  // providers that failed (fail open)
};

// The static lists alone (pure): the IP Allow List first, then the IP Block List, each
// only when its configuration's Enabled and External/InternalMailEnabled (`internal`:
// the session holds ExchangeServers or Partners rights) say it applies.
IpJudgement judge_static_lists(const ConnectionFilterConfig& c, const routing::IpAddress& a, bool internal,
                               std::chrono::system_clock::time_point now);

// The 550 5.7.1 text for a static entry: the configured response, or the built-in one
// naming the address.
std::string static_entry_response(const ConnectionFilterConfig& c, const IpListEntry& e, const routing::IpAddress& a);

class ConnectionFilterAgent final : public AsyncAgent {
public:
    explicit ConnectionFilterAgent(std::shared_ptr<const ConnectionFilterConfig> config);
    std::string_view name() const override { return kConnectionFilterAgent; }
    bool handles(AgentEvent e) const override;
    // The providers' own timeout, plus room for the static lookups and the answer's
    // way back; past it the session goes on unjudged (Exchange fails open here).
    std::chrono::milliseconds timeout() const override;
    TimeoutAction timeout_action() const override { return TimeoutAction::Accept; }
    boost::asio::awaitable<Verdict> on_event_async(AgentEvent e, const SessionInfo& session,
                                                   const Envelope& envelope) const override;
    // RCPT and DATA are decided from what OnConnect left in the session: no I/O, so
    // they answer synchronously (no timer per command).
    bool is_async_at(AgentEvent e) const override { return e == AgentEvent::OnConnect || e == AgentEvent::OnEndOfHeaders; }
    Verdict on_event(AgentEvent e, const SessionInfo& session, const Envelope& envelope) const override;

    // The static lists, then the providers (awaited).
    boost::asio::awaitable<IpJudgement> judge(routing::IpAddress a, bool internal) const;

    // Whether the pipeline's ExternalMailEnabled / InternalMailEnabled switches should let
    // the agent run for that kind of session: some list of its applies to it.
    bool external_mail_enabled() const;
    bool internal_mail_enabled() const;

private:
    Verdict at_connect(const IpJudgement& j) const;
    Verdict at_rcpt(const SessionInfo& session, const Envelope& envelope) const;
    Verdict at_data(const SessionInfo& session, const Envelope& envelope) const;
    bool is_internal_server(const routing::IpAddress& a) const;

    std::shared_ptr<const ConnectionFilterConfig> config_;
};

}  // namespace edge::agents
