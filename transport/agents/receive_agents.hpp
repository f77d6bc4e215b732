// The first two transport agents, both at RCPT TO: relay control (the guard against
// an open relay; not an Exchange agent, so it is ours and cannot be disabled) and the
// Recipient Filter Agent (Exchange's, wrapping recipient_filter.hpp). Pure: the
// accepted domains come from the routing categorizer of the config snapshot.
#pragma once

#include "categorizer.hpp"
#include "pipeline.hpp"
#include "recipient_filter.hpp"

#include <memory>

namespace edge::agents {

// Identities as Get-TransportAgent shows them and the agent log writes them.
inline constexpr std::string_view kRelayControlAgent = "Relay Control";
inline constexpr std::string_view kRecipientFilterAgent = "Recipient Filter Agent";

// Without Accept-Any-Recipient (ExchangeServers, Partners on a pinned TLS
// certificate…) only recipients of accepted domains (any type; an address literal
// never is one): else 550 5.7.1 Unable to relay. RFC 5321 §3.9, RFC 2505 §2.
class RelayControlAgent final : public Agent {
public:
    explicit RelayControlAgent(std::shared_ptr<const routing::Categorizer> categorizer);
    std::string_view name() const override { return kRelayControlAgent; }
    bool handles(AgentEvent e) const override { return e == AgentEvent::OnRcptCommand; }
    bool anti_spam() const override { return false; }   // no allow list lets a session relay
    bool can_disable() const override { return false; }  // an open relay is never one command away
    Verdict on_event(AgentEvent e, const SessionInfo& session, const Envelope& envelope) const override;

private:
    std::shared_ptr<const routing::Categorizer> categorizer_;
};

// The block list and recipient lookup (recipient_filter.hpp): 550 5.1.1 User unknown,
// Reason BlockedRecipient or RecipientDoesNotExist in the agent log.
class RecipientFilterAgent final : public Agent {
public:
    RecipientFilterAgent(std::shared_ptr<const RecipientFilter> filter,
                         std::shared_ptr<const routing::Categorizer> categorizer);
    std::string_view name() const override { return kRecipientFilterAgent; }
    bool handles(AgentEvent e) const override { return e == AgentEvent::OnRcptCommand; }
    Verdict on_event(AgentEvent e, const SessionInfo& session, const Envelope& envelope) const override;

private:
    std::shared_ptr<const RecipientFilter> filter_;
    std::shared_ptr<const routing::Categorizer> categorizer_;
};

}  // namespace edge::agents
