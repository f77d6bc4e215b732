// Who really sent it (issue 18): the Sender ID agent (Exchange 2007's administration,
// evaluated as SPF, RFC 7208), the DKIM Verification Agent and the DMARC Agent (ours).
// Each is an AsyncAgent (DNS) that writes what it concluded into the message's
// properties — `Message.AuthResults.<method>` as RFC 8601 resinfo text, which
// acceptance stamps as one Authentication-Results field with the edge's authserv-id,
// and the facts later agents read (DMARC reads SPF's and DKIM's) — and acts as
// configured. The evaluation itself is transport/auth/'s; here are the decisions.
#pragma once

#include "pipeline_async.hpp"
#include "typed_settings.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>

namespace edge::dns {
class DnsResolver;
}

namespace edge::agents {

// Identities as Get-TransportAgent shows them and the agent log writes them.
inline constexpr std::string_view kSenderIdAgent = "Sender Id Agent";
inline constexpr std::string_view kDkimVerificationAgent = "DKIM Verification Agent";
inline constexpr std::string_view kDmarcAgent = "DMARC Agent";

// The message properties they set (all "Message.": forgotten at the next MAIL).
namespace auth_property {
// Exchange's Sender ID status words: Pass, Neutral, SoftFail, Fail, None, TempError, PermError.
inline constexpr std::string_view kSenderIdStatus = "Message.SenderId.Status";
inline constexpr std::string_view kSpfResult = "Message.Spf.Result";      // RFC 8601 word: "pass"
inline constexpr std::string_view kSpfDomain = "Message.Spf.Domain";      // the domain whose policy was checked
inline constexpr std::string_view kSpfIdentity = "Message.Spf.Identity";  // "smtp.mailfrom" or "smtp.helo"
// "pass:example.com fail:other.example": each checked signature's result and d=.
inline constexpr std::string_view kDkimResults = "Message.Dkim.Results";
inline constexpr std::string_view kDmarcResult = "Message.Dmarc.Result";  // "pass", "fail", …
inline constexpr std::string_view kDmarcPolicy = "Message.Dmarc.Policy";  // the policy applied: none, quarantine, reject
// "true" when the message is to be quarantined: the Content Filter raises its SCL.
inline constexpr std::string_view kDmarcQuarantine = "Message.Dmarc.Quarantine";
}  // namespace auth_property

// The Sender ID agent at OnEndOfHeaders: SPF on the MAIL FROM identity (the HELO
// identity for the null reverse path). Fail → SpoofedDomainAction, TempError →
// TempErrorAction: StampStatus (the message goes on, stamped), Reject (Fail: 550 5.7.23
// with the domain's exp= explanation, RFC 7372; TempError: 451 4.7.24, the client
// retries), Delete (250, then discarded). A message whose every recipient is one of
// BypassedRecipients is stamped only; a sender of BypassedSenderDomains is not checked.
class SenderIdAgent final : public AsyncAgent {
public:
    SenderIdAgent(config::SenderIdConfigSettings settings, std::shared_ptr<dns::DnsResolver> dns, std::string receiver_fqdn);
    std::string_view name() const override { return kSenderIdAgent; }
    bool handles(AgentEvent e) const override { return e == AgentEvent::OnEndOfHeaders; }
    // RFC 7208 §4.6.4: at least 20 seconds for the whole evaluation. Past it the message
    // goes on unjudged (evidence, as Exchange fails open), logged as a timeout.
    std::chrono::milliseconds timeout() const override { return std::chrono::seconds(20); }
    TimeoutAction timeout_action() const override { return TimeoutAction::Accept; }
    boost::asio::awaitable<Verdict> on_event_async(AgentEvent e, const SessionInfo& session,
                                                   const Envelope& envelope) const override;

    const config::SenderIdConfigSettings& settings() const { return settings_; }

private:
    config::SenderIdConfigSettings settings_;
    std::unordered_set<std::string> bypassed_recipients_, bypassed_sender_domains_;  // canonical
    std::shared_ptr<dns::DnsResolver> dns_;
    std::string receiver_fqdn_;
};

// The DKIM Verification Agent at OnEndOfData: every signature up to MaxSignatures,
// keys fetched concurrently. It never refuses (RFC 6376 §6.3: a failed signature is the
// same as none); its results feed DMARC and Authentication-Results.
class DkimVerificationAgent final : public AsyncAgent {
public:
    // `cpu`: where the hashing and signature checks run (the server's pool); null: here.
    DkimVerificationAgent(config::DkimVerificationConfigSettings settings, std::shared_ptr<dns::DnsResolver> dns,
                          boost::asio::thread_pool* cpu = nullptr);
    std::string_view name() const override { return kDkimVerificationAgent; }
    bool handles(AgentEvent e) const override { return e == AgentEvent::OnEndOfData; }
    std::chrono::milliseconds timeout() const override { return std::chrono::seconds(15); }
    TimeoutAction timeout_action() const override { return TimeoutAction::Accept; }
    boost::asio::awaitable<Verdict> on_event_async(AgentEvent e, const SessionInfo& session,
                                                   const Envelope& envelope) const override;
    const config::DkimVerificationConfigSettings& settings() const { return settings_; }

private:
    config::DkimVerificationConfigSettings settings_;
    std::shared_ptr<dns::DnsResolver> dns_;
    boost::asio::thread_pool* cpu_;
};

// The DMARC Agent at OnEndOfData, after the DKIM Verification Agent: the From: author
// domain(s) (RFC 7489 §6.6.1), the policy record (the domain, then its Organizational
// Domain), alignment of SPF's and DKIM's results, pct= sampling. A failing message
// whose policy is reject gets RejectPolicyAction (default Reject: 550 5.7.1 at the end of
// data), quarantine QuarantinePolicyAction (default: stamped Message.Dmarc.Quarantine);
// none is stamped only. A message without exactly one readable From: author domain
// (no From:, several From: fields, unreadable) gets BadFromAction.
class DmarcAgent final : public AsyncAgent {
public:
    DmarcAgent(config::DmarcConfigSettings settings, std::shared_ptr<dns::DnsResolver> dns);
    std::string_view name() const override { return kDmarcAgent; }
    bool handles(AgentEvent e) const override { return e == AgentEvent::OnEndOfData; }
    std::chrono::milliseconds timeout() const override { return std::chrono::seconds(15); }
    TimeoutAction timeout_action() const override { return TimeoutAction::Accept; }
    boost::asio::awaitable<Verdict> on_event_async(AgentEvent e, const SessionInfo& session,
                                                   const Envelope& envelope) const override;
    const config::DmarcConfigSettings& settings() const { return settings_; }

private:
    config::DmarcConfigSettings settings_;
    std::shared_ptr<dns::DnsResolver> dns_;
};

}  // namespace edge::agents
