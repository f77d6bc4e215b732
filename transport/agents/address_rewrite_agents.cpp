// The two Address Rewriting agents (see the header).
#include "address_rewrite_agents.hpp"

#include "address.hpp"

#include <fmt/format.h>

namespace edge::agents {

Verdict AddressRewritingInboundAgent::on_event(AgentEvent, const SessionInfo&, const Envelope& envelope) const {
    if (!rewriter_) return Verdict::go_on();
    auto to = rewriter_->rewrite_address(envelope.recipient, RewriteDirection::Inbound);
    if (!to) return Verdict::go_on();
    Verdict v = Verdict::go_on();
    v.edit.emplace();
    v.edit->rewrite_recipient = *to;
    v.reason = kAddressRewrittenReason;
    v.reason_data = envelope.recipient + " -> " + *to;
    return v;
}

OutboundRewrite AddressRewritingOutboundAgent::rewrite_outbound(std::vector<std::string>& message, std::string& sender,
                                                                std::size_t max_header_bytes) const {
    OutboundRewrite r;
    if (!has_entries()) return r;
    r.header_addresses = rewriter_->rewrite_message(message, max_header_bytes);
    if (auto s = rewriter_->rewrite_address(sender, RewriteDirection::Outbound)) {
        r.old_sender = sender;
        r.new_sender = *s;
        sender = *s;
    }
    return r;
}

bool leaves_organisation(const routing::Categorizer& categorizer, std::string_view address) {
    const smtp::CanonicalAddress a = smtp::canonical_address(address);
    if (!a || a.domain.empty()) return false;
    if (categorizer.accepted(a.domain) != nullptr) return false;
    return categorizer.route(a.domain).kind == routing::RouteKind::NextHop;
}

Verdict outbound_rewrite_verdict(const OutboundRewrite& r) {
    Verdict v = Verdict::go_on();
    v.reason = kAddressRewrittenReason;
    v.reason_data = fmt::format("{} header address{}", r.header_addresses, r.header_addresses == 1 ? "" : "es");
    if (!r.new_sender.empty()) v.reason_data += fmt::format("; MAIL FROM {} -> {}", r.old_sender, r.new_sender);
    // Marks the verdict as one that changed the message (the agent log writes such a Continue).
    v.edit.emplace();
    v.edit->sender = r.new_sender.empty() ? std::nullopt : std::optional<std::string>(r.new_sender);
    return v;
}

}  // namespace edge::agents
