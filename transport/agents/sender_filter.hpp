// The Sender Filter Agent (Exchange 2007 Edge, reference §9.4): at MAIL FROM it looks
// the sender up in Set-SenderFilterConfig's lists — BlockedSenders, BlockedDomains,
// BlockedDomainsAndSubdomains, and the blank sender <> when BlankSenderBlockingEnabled —
// and refuses with `554 5.1.0 Sender Denied` (Action Reject) or lets the message go on
// marked for later agents (Action StampStatus). Pure: the lists are built into hash
// sets once per config generation.
#pragma once

#include "pipeline.hpp"
#include "typed_settings.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

namespace edge::agents {

// Identity as Get-TransportAgent shows it and the agent log writes it.
inline constexpr std::string_view kSenderFilterAgent = "Sender Filter Agent";

// The session property a StampStatus verdict sets for later agents (the Content
// Filter's and Protocol Analysis' "blocked sender" evidence in Exchange): "Blocked"
// for this message, empty when the filter looked at its sender and found nothing.
inline constexpr std::string_view kSenderFilterStatusProperty = "SenderFilter.Status";
inline constexpr std::string_view kSenderFilterStatusBlocked = "Blocked";

// Why a sender matched; the agent log's Reason. ReasonData is the entry that matched.
enum class SenderFilterReason : std::uint8_t {
    BlockedSender,               // BlockedSenders
    BlockedDomain,               // BlockedDomains: the sender's domain itself
    BlockedDomainAndSubdomains,  // BlockedDomainsAndSubdomains: the domain or a parent of it
    BlankSender,                 // MAIL FROM:<> with BlankSenderBlockingEnabled
};
const char* to_string(SenderFilterReason r);

struct SenderFilterMatch {
    SenderFilterReason reason;
    std::string entry;  // the list entry that matched, canonical ("" for BlankSender)
};

// The lists, compared as addresses: the sender through smtp::canonical_address (quotes
// and quoted-pairs resolved, Unicode case folded and NFC, the domain as lower-case
// A-labels without its trailing dot), entries the same way when the filter is built.
// So `"Bad"@Spam.TEST.` is bad@spam.test and `Bücher.test` is xn--bcher-kva.test.
// "*.contoso.com" and "contoso.com" in BlockedDomainsAndSubdomains both mean contoso.com
// and every domain below it, as Exchange takes them.
class SenderFilter {
public:
    explicit SenderFilter(config::SenderFilterConfigSettings settings);

    // `sender` as MAIL FROM gave it, without <> ("" for the null path). nullopt: not
    // blocked. Whether the agent runs at all (Enabled, External/InternalMailEnabled)
    // is the pipeline's (settings()).
    std::optional<SenderFilterMatch> check(std::string_view sender) const;

    const config::SenderFilterConfigSettings& settings() const { return settings_; }

private:
    config::SenderFilterConfigSettings settings_;
    std::unordered_set<std::string> senders_, domains_, subdomain_bases_;
};

// The agent at OnMailCommand: Reject → 554 5.1.0 Sender Denied (a Policy reply:
// tarpitted for anonymous sessions; it closes the session, reference §9.4), Reason
// and ReasonData in the agent log; StampStatus → the message goes on with
// SenderFilter.Status = Blocked (agent log Action Stamp). A sender it does not block
// sets the property empty, so a status never outlives its message.
class SenderFilterAgent final : public Agent {
public:
    explicit SenderFilterAgent(std::shared_ptr<const SenderFilter> filter);
    std::string_view name() const override { return kSenderFilterAgent; }
    bool handles(AgentEvent e) const override { return e == AgentEvent::OnMailCommand; }
    Verdict on_event(AgentEvent e, const SessionInfo& session, const Envelope& envelope) const override;

private:
    std::shared_ptr<const SenderFilter> filter_;
};

}  // namespace edge::agents
