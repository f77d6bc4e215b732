// The Connection Filtering Agent's decisions at OnConnect, OnRcptCommand,
// OnDataCommand and OnEndOfHeaders (see the header).
#include "connection_filter.hpp"

#include "address.hpp"
#include "received_walk.hpp"
#include "recipient_filter.hpp"

#include <fmt/format.h>

namespace edge::agents {

namespace {
using Clock = std::chrono::system_clock;

bool applies(bool enabled, bool external_mail, bool internal_mail, bool internal) {
    return enabled && (internal ? internal_mail : external_mail);
}

std::string entry_data(std::string_view kind, const IpListEntry& e) {
    return fmt::format("{} {}: {}", kind, e.identity, e.range.str());
}

std::optional<std::string_view> property(const SessionInfo& s, std::string_view name) {
    auto it = s.properties.find(name);
    if (it == s.properties.end()) return std::nullopt;
    return std::string_view(it->second);
}

// A provider's outcome in the agent's terms.
IpJudgement from_providers(const ProviderOutcome& o, const routing::IpAddress& a) {
    IpJudgement j;
    if (!o.failures.empty()) j.diagnostics = fmt::format("{}", fmt::join(o.failures, "; "));
    switch (o.kind) {
        case ProviderOutcome::Kind::NotListed: break;
        case ProviderOutcome::Kind::AllowListed:
            j.kind = IpJudgement::Kind::Allowed;
            j.reason = "AllowListProvider";
            j.reason_data = o.provider;
            break;
        case ProviderOutcome::Kind::Blocked:
            j.kind = IpJudgement::Kind::Blocked;
            j.reason = "BlockListProvider";
            j.reason_data = o.reason_data.empty() ? o.provider : o.provider + ": " + o.reason_data;
            j.response = o.rejection_response.empty()
                             ? fmt::format("Recipient not authorized, your IP {} has been found on a block list ({})",
                                           a.str(), o.provider)
                             : o.rejection_response;
            break;
    }
    return j;
}

// The providers ask DNS about the client as it is: IPv4 as IPv4 (not ::ffff:a.b.c.d).
boost::asio::ip::address to_asio(const routing::IpAddress& a) {
    if (a.is_v4()) return boost::asio::ip::address_v4(a.v4_value());
    return boost::asio::ip::address_v6(a.bytes());
}
}  // namespace

std::string static_entry_response(const ConnectionFilterConfig& c, const IpListEntry& e, const routing::IpAddress& a) {
    const std::string& configured = e.is_machine ? c.block_list_config.machine_entry_rejection_response
                                                 : c.block_list_config.static_entry_rejection_response;
    if (!configured.empty()) return configured;
    // Exchange's texts as commonly observed (reference §9.1, [unconf]).
    if (e.is_machine) return fmt::format("External client with IP address {} is blocked by Sender Reputation", a.str());
    return fmt::format("External client with IP address {} does not have permissions to submit to this server", a.str());
}

IpJudgement judge_static_lists(const ConnectionFilterConfig& c, const routing::IpAddress& a, bool internal,
                               Clock::time_point now) {
    IpJudgement j;
    const auto& allow = c.allow_list_config;
    if (c.allow_list && applies(allow.enabled, allow.external_mail_enabled, allow.internal_mail_enabled, internal))
        if (const IpListEntry* e = c.allow_list->find(a, now)) {
            j.kind = IpJudgement::Kind::Allowed;
            j.reason = "LocalAllowList";
            j.reason_data = entry_data("IPAllowListEntry", *e);
            return j;
        }
    const auto& block = c.block_list_config;
    if (c.block_list && applies(block.enabled, block.external_mail_enabled, block.internal_mail_enabled, internal))
        if (const IpListEntry* e = c.block_list->find(a, now)) {
            j.kind = IpJudgement::Kind::Blocked;
            j.reason = e->is_machine ? "MachineBlockList" : "LocalBlockList";
            j.reason_data = entry_data("IPBlockListEntry", *e);
            j.response = static_entry_response(c, *e, a);
            return j;
        }
    return j;
}

ConnectionFilterAgent::ConnectionFilterAgent(std::shared_ptr<const ConnectionFilterConfig> config)
    : config_(std::move(config)) {}

bool ConnectionFilterAgent::handles(AgentEvent e) const {
    // Only what the configuration gives it work for: an async agent costs each session a
    // timer per event, and one at OnEndOfHeaders makes acceptance keep every header.
    const bool lists = (config_->block_list && !config_->block_list->empty()) ||
                       (config_->allow_list && !config_->allow_list->empty()) ||
                       (config_->providers && !config_->providers->empty());
    switch (e) {
        case AgentEvent::OnConnect:
        case AgentEvent::OnRcptCommand:
        case AgentEvent::OnDataCommand: return lists;
        case AgentEvent::OnEndOfHeaders: return !config_->internal_smtp_servers.empty();
        default: return false;
    }
}

std::chrono::milliseconds ConnectionFilterAgent::timeout() const {
    // The providers bound their own queries; the margin is for the lists and the
    // scheduling of the answer, so the providers' timeout decides, not ours.
    const std::chrono::milliseconds margin(500);
    if (config_->providers && !config_->providers->empty()) return config_->providers->timeout() + margin;
    return margin;
}

bool ConnectionFilterAgent::external_mail_enabled() const {
    const auto& b = config_->block_list_config;
    const auto& a = config_->allow_list_config;
    const bool providers = config_->providers && config_->providers->asks_for(false);
    return (b.enabled && b.external_mail_enabled) || (a.enabled && a.external_mail_enabled) || providers ||
           !config_->internal_smtp_servers.empty();
}

bool ConnectionFilterAgent::internal_mail_enabled() const {
    const auto& b = config_->block_list_config;
    const auto& a = config_->allow_list_config;
    const bool providers = config_->providers && config_->providers->asks_for(true);
    return (b.enabled && b.internal_mail_enabled) || (a.enabled && a.internal_mail_enabled) || providers;
}

bool ConnectionFilterAgent::is_internal_server(const routing::IpAddress& a) const {
    for (const auto& r : config_->internal_smtp_servers)
        if (r.contains(a)) return true;
    return false;
}

boost::asio::awaitable<IpJudgement> ConnectionFilterAgent::judge(routing::IpAddress a, bool internal) const {
    IpJudgement j = judge_static_lists(*config_, a, internal, config_->now());
    if (j.kind != IpJudgement::Kind::NotListed) co_return j;
    if (!config_->providers || !config_->providers->asks_for(internal)) co_return j;
    const ProviderOutcome o = co_await config_->providers->check(to_asio(a), internal);
    co_return from_providers(o, a);
}

Verdict ConnectionFilterAgent::at_connect(const IpJudgement& j) const {
    Verdict v;
    switch (j.kind) {
        case IpJudgement::Kind::NotListed: break;
        case IpJudgement::Kind::Allowed:
            // Exchange's anti-spam bypass for the whole session, said in the agent log.
            v = Verdict::skip_other_agents(j.reason);
            v.reason_data = j.reason_data;
            v.allow_list_session = true;
            break;
        case IpJudgement::Kind::Blocked:
            // Not refused yet: Exchange waits for RCPT, so recipients are logged and
            // BypassedRecipients honoured. The session remembers why.
            v.properties.emplace(kBlockedResponseProperty, j.response);
            v.properties.emplace(kBlockedReasonProperty, j.reason);
            v.properties.emplace(kBlockedReasonDataProperty, j.reason_data);
            break;
    }
    // A provider that failed is worth a line even when the session goes on.
    if (v.action == AgentAction::Continue && !j.diagnostics.empty()) {
        v.action = AgentAction::Stamp;
        v.reason = "ProviderFailed";
    }
    v.diagnostics = j.diagnostics;
    return v;
}

Verdict ConnectionFilterAgent::at_rcpt(const SessionInfo& session, const Envelope& envelope) const {
    auto response = property(session, kBlockedResponseProperty);
    if (!response) return Verdict::go_on();
    if (config_->providers && config_->providers->bypassed_recipient(canonical_recipient(envelope.recipient))) return Verdict::go_on();
    Verdict v = Verdict::reject_with(smtp::ReplyId::IpBlocked, std::string(*response),
                                     std::string(property(session, kBlockedReasonProperty).value_or("LocalBlockList")));
    v.reason_data = std::string(property(session, kBlockedReasonDataProperty).value_or(""));
    return v;
}

Verdict ConnectionFilterAgent::at_data(const SessionInfo& session, const Envelope& envelope) const {
    if (!property(session, kBlockedResponseProperty)) return Verdict::go_on();
    // A bypassed recipient (postmaster@) was accepted: its message goes on, the session
    // stays as it is (every other RCPT is still refused).
    if (!envelope.recipients.empty()) return Verdict::go_on();
    // Every RCPT was refused: Exchange disconnects "after all RCPT TO commands are processed".
    Verdict v = Verdict::disconnect(std::string(property(session, kBlockedReasonProperty).value_or("LocalBlockList")),
                                    smtp::ReplyId::IpBlockedDisconnect);
    v.reason_data = std::string(property(session, kBlockedReasonDataProperty).value_or(""));
    return v;
}

Verdict ConnectionFilterAgent::on_event(AgentEvent e, const SessionInfo& session, const Envelope& envelope) const {
    if (e == AgentEvent::OnRcptCommand) return at_rcpt(session, envelope);
    if (e == AgentEvent::OnDataCommand) return at_data(session, envelope);
    return Verdict::go_on();
}

boost::asio::awaitable<Verdict> ConnectionFilterAgent::on_event_async(AgentEvent e, const SessionInfo& session,
                                                                     const Envelope& envelope) const {
    auto client = routing::IpAddress::parse(session.remote_ip);
    switch (e) {
        case AgentEvent::OnConnect: {
            // An internal server is this organisation's own MTA: its address is never
            // judged (its messages are, by their Received: fields, at the end of headers).
            if (!client || is_internal_server(*client)) co_return Verdict::go_on();
            co_return at_connect(co_await judge(*client, session.internal));
        }
        case AgentEvent::OnEndOfHeaders: {
            if (!client || !is_internal_server(*client)) co_return Verdict::go_on();
            auto origin = first_external_address(envelope.headers, config_->internal_smtp_servers);
            if (!origin) co_return Verdict::go_on();
            const IpJudgement j = co_await judge(*origin, session.internal);
            if (j.kind == IpJudgement::Kind::Allowed) {
                Verdict v = Verdict::skip_other_agents(j.reason);
                v.reason_data = origin->str() + " (" + j.reason_data + ")";
                co_return v;
            }
            if (j.kind != IpJudgement::Kind::Blocked) co_return Verdict::go_on();
            // A message only for bypassed recipients (postmaster@) still goes on.
            if (config_->providers && !envelope.recipients.empty()) {
                bool all_bypassed = true;
                for (const auto& r : envelope.recipients)
                    if (!config_->providers->bypassed_recipient(canonical_recipient(r))) all_bypassed = false;
                if (all_bypassed) co_return Verdict::go_on();
            }
            Verdict v = Verdict::reject_with(smtp::ReplyId::IpBlocked, j.response, j.reason);
            v.reason_data = origin->str() + " (" + j.reason_data + ")";
            v.diagnostics = j.diagnostics;
            co_return v;
        }
        default: co_return Verdict::go_on();
    }
}

}  // namespace edge::agents
