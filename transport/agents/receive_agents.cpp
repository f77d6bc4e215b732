// Relay control and the Recipient Filter Agent at RCPT TO (see the header). Their
// decisions are today's (issue 13) unchanged; only the place they run moved.
#include "receive_agents.hpp"

#include "address.hpp"
#include "session.hpp"

namespace edge::agents {

namespace {
// The accepted domain of the recipient asked for now, compared in the canonical form
// (A-labels, lower case, no trailing dot), as routing does; nullptr when none.
const routing::AcceptedDomain* accepted_domain(const routing::Categorizer* c, const Envelope& env) {
    if (c == nullptr) return nullptr;
    const auto canonical = smtp::canonical_domain(env.recipient_domain);
    return canonical ? c->accepted(*canonical) : nullptr;
}
}  // namespace

RelayControlAgent::RelayControlAgent(std::shared_ptr<const routing::Categorizer> categorizer)
    : categorizer_(std::move(categorizer)) {}

Verdict RelayControlAgent::on_event(AgentEvent, const SessionInfo& session, const Envelope& envelope) const {
    if ((session.permissions & smtp::permission::AcceptAnyRecipient) != 0) return Verdict::go_on();
    if (accepted_domain(categorizer_.get(), envelope) != nullptr) return Verdict::go_on();
    return Verdict::reject(smtp::ReplyId::UnableToRelay, "RelayDenied", envelope.recipient_domain);
}

RecipientFilterAgent::RecipientFilterAgent(std::shared_ptr<const RecipientFilter> filter,
                                           std::shared_ptr<const routing::Categorizer> categorizer)
    : filter_(std::move(filter)), categorizer_(std::move(categorizer)) {}

Verdict RecipientFilterAgent::on_event(AgentEvent, const SessionInfo& session, const Envelope& envelope) const {
    if (!filter_) return Verdict::go_on();
    switch (filter_->check(envelope.recipient, accepted_domain(categorizer_.get(), envelope), session.internal)) {
        case RecipientFilterVerdict::Accept: return Verdict::go_on();
        case RecipientFilterVerdict::Blocked:
            return Verdict::reject(smtp::ReplyId::UserUnknown, "BlockedRecipient", envelope.recipient);
        case RecipientFilterVerdict::Unknown: {
            // Recipients are known on the edge only as keyed hashes (EdgeSync): the log
            // names a refused one by its hash too, so it can never be read for who is,
            // or once was, in the directory. ReasonData keeps the domain.
            Verdict v = Verdict::reject(smtp::ReplyId::UserUnknown, "RecipientDoesNotExist", envelope.recipient_domain);
            v.logged_recipient = filter_->hashed_for_log(envelope.recipient);
            return v;
        }
    }
    return Verdict::go_on();
}

}  // namespace edge::agents
