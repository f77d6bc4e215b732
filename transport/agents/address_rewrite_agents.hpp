// The Address Rewriting Inbound Agent and Address Rewriting Outbound Agent (Exchange
// 2007's names, reference §9.8) over address_rewrite.hpp's entries. Inbound, at RCPT TO:
// the recipient external -> internal, through MessageEdit::rewrite_recipient (the SMTP
// driver records the rewritten recipient). Outbound, a routing agent (OnRoutedMessage):
// acceptance calls rewrite_outbound() for the copy of a message that leaves through a
// Send connector whose address space is not an accepted domain, before DKIM signing.
#pragma once

#include "address_rewrite.hpp"
#include "categorizer.hpp"
#include "pipeline.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace edge::agents {

inline constexpr std::string_view kAddressRewritingInboundAgent = "Address Rewriting Inbound Agent";
inline constexpr std::string_view kAddressRewritingOutboundAgent = "Address Rewriting Outbound Agent";
// The agent log's Reason for a rewrite; ReasonData says "old -> new".
inline constexpr std::string_view kAddressRewrittenReason = "AddressRewritten";

// Not anti-spam agents: an allow-listed session or a bypassed message is rewritten too,
// and mail from hubs (internal sessions) is what the outbound agent is for.
class AddressRewritingInboundAgent final : public Agent {
public:
    explicit AddressRewritingInboundAgent(std::shared_ptr<const AddressRewriter> rewriter) : rewriter_(std::move(rewriter)) {}
    std::string_view name() const override { return kAddressRewritingInboundAgent; }
    bool handles(AgentEvent e) const override { return e == AgentEvent::OnRcptCommand; }
    bool anti_spam() const override { return false; }
    Verdict on_event(AgentEvent e, const SessionInfo& session, const Envelope& envelope) const override;

private:
    std::shared_ptr<const AddressRewriter> rewriter_;
};

// What the outbound agent changed in one copy of a message.
struct OutboundRewrite {
    std::size_t header_addresses = 0;  // addr-specs rewritten in the header fields
    std::string old_sender, new_sender;  // set when MAIL FROM was rewritten
    bool any() const { return header_addresses != 0 || !new_sender.empty(); }
};

class AddressRewritingOutboundAgent final : public Agent {
public:
    explicit AddressRewritingOutboundAgent(std::shared_ptr<const AddressRewriter> rewriter) : rewriter_(std::move(rewriter)) {}
    std::string_view name() const override { return kAddressRewritingOutboundAgent; }
    bool handles(AgentEvent e) const override { return e == AgentEvent::OnRoutedMessage; }
    bool anti_spam() const override { return false; }
    // Nothing to say in a pipeline run: acceptance calls rewrite_outbound (the message
    // bifurcates there, which a verdict cannot express).
    Verdict on_event(AgentEvent, const SessionInfo&, const Envelope&) const override { return Verdict::go_on(); }

    bool has_entries() const { return rewriter_ && !rewriter_->empty(); }
    // MAIL FROM and the header fields of `message` (header, blank line, body), internal ->
    // external, in place.
    OutboundRewrite rewrite_outbound(std::vector<std::string>& message, std::string& sender,
                                     std::size_t max_header_bytes) const;

private:
    std::shared_ptr<const AddressRewriter> rewriter_;
};

// Whether mail to `address` leaves the organisation: it is routed to a Send connector
// (not Unreachable) and its domain is no accepted domain (so no connector for an
// accepted domain, "--", carries it).
bool leaves_organisation(const routing::Categorizer& categorizer, std::string_view address);

// The verdict the outbound agent's rewrite is logged with (agent log, protocol log,
// counters): Continue, Reason AddressRewritten.
Verdict outbound_rewrite_verdict(const OutboundRewrite& r);

}  // namespace edge::agents
