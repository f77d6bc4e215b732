// The Sender Filter Agent: the three lists and the blank sender, then the verdict
// Action asks for (see the header).
#include "sender_filter.hpp"

#include "recipient_filter.hpp"  // canonical_recipient: the one form list entries are compared in

#include "address.hpp"
#include "text_helpers.hpp"

namespace edge::agents {

namespace {
std::string canonical_domain_entry(std::string_view domain) {
    if (domain.starts_with("*.")) domain.remove_prefix(2);
    if (auto d = smtp::canonical_domain(domain)) return *d;
    return text::to_lower(domain);
}
}  // namespace

const char* to_string(SenderFilterReason r) {
    switch (r) {
        case SenderFilterReason::BlockedSender: return "BlockedSender";
        case SenderFilterReason::BlockedDomain: return "BlockedDomain";
        case SenderFilterReason::BlockedDomainAndSubdomains: return "BlockedDomainAndSubdomains";
        case SenderFilterReason::BlankSender: return "BlankSender";
    }
    return "?";
}

SenderFilter::SenderFilter(config::SenderFilterConfigSettings settings) : settings_(std::move(settings)) {
    for (const auto& s : settings_.blocked_senders) senders_.insert(canonical_recipient(s));
    for (const auto& d : settings_.blocked_domains) domains_.insert(canonical_domain_entry(d));
    for (const auto& d : settings_.blocked_domains_and_subdomains) subdomain_bases_.insert(canonical_domain_entry(d));
}

std::optional<SenderFilterMatch> SenderFilter::check(std::string_view sender) const {
    if (sender.empty()) {
        // MAIL FROM:<> is how NDRs travel; blocking it is Exchange's defence against
        // backscatter floods, off by default because it also refuses real NDRs.
        if (settings_.blank_sender_blocking_enabled) return SenderFilterMatch{SenderFilterReason::BlankSender, {}};
        return std::nullopt;
    }
    const smtp::CanonicalAddress c = smtp::canonical_address(sender);
    const std::string address = c ? c.str() : text::to_lower(sender);
    if (senders_.contains(address)) return SenderFilterMatch{SenderFilterReason::BlockedSender, address};
    if (!c) return std::nullopt;  // the session refuses such a MAIL itself; no domain to look at
    if (domains_.contains(c.domain)) return SenderFilterMatch{SenderFilterReason::BlockedDomain, c.domain};
    if (c.domain.starts_with('[')) return std::nullopt;  // an address literal has no parents
    // The domain, then each parent: mail.eu.contoso.com, eu.contoso.com, contoso.com, com.
    for (std::string_view d = c.domain;;) {
        if (subdomain_bases_.contains(std::string(d)))
            return SenderFilterMatch{SenderFilterReason::BlockedDomainAndSubdomains, std::string(d)};
        const auto dot = d.find('.');
        if (dot == std::string_view::npos) return std::nullopt;
        d.remove_prefix(dot + 1);
    }
}

SenderFilterAgent::SenderFilterAgent(std::shared_ptr<const SenderFilter> filter) : filter_(std::move(filter)) {}

Verdict SenderFilterAgent::on_event(AgentEvent, const SessionInfo&, const Envelope& envelope) const {
    if (!filter_) return Verdict::go_on();
    auto m = filter_->check(envelope.sender);
    if (!m) {
        // A Continue is not logged; its property clears the last message's status.
        Verdict v = Verdict::go_on();
        v.properties.emplace(kSenderFilterStatusProperty, "");
        return v;
    }
    if (filter_->settings().action == config::SenderFilterAction::StampStatus) {
        Verdict v = Verdict::set_property(std::string(kSenderFilterStatusProperty), std::string(kSenderFilterStatusBlocked));
        v.reason = to_string(m->reason);
        v.reason_data = m->entry;
        return v;
    }
    return Verdict::reject(smtp::ReplyId::SenderDenied, to_string(m->reason), m->entry);
}

}  // namespace edge::agents
