// The Sender ID, DKIM Verification and DMARC agents (see the header).
#include "auth_agents.hpp"

#include "address.hpp"
#include "auth_results.hpp"
#include "dkim_dns.hpp"
#include "dmarc.hpp"
#include "dns_resolver.hpp"
#include "recipient_filter.hpp"
#include "spf.hpp"
#include "spf_dns.hpp"

#include <fmt/format.h>

#include <openssl/rand.h>

#include <algorithm>
#include <strings.h>

namespace edge::agents {

namespace {
using auth::Result;

std::string property(std::string_view name) { return std::string(name); }
std::string auth_results_property(std::string_view method) {
    return std::string(kAuthResultsPropertyPrefix) + std::string(method);
}

// Exchange's Sender ID status words (reference §9.3), for the property and the log.
std::string_view sender_id_status(Result r) {
    switch (r) {
        case Result::Pass: return "Pass";
        case Result::Neutral: return "Neutral";
        case Result::SoftFail: return "SoftFail";
        case Result::Fail: return "Fail";
        case Result::TempError: return "TempError";
        case Result::PermError: return "PermError";
        case Result::None:
        case Result::Policy: break;
    }
    return "None";
}


// A verdict that only stamps what the agent found (the agent log's Action Stamp).
Verdict stamped(std::string reason, std::string reason_data) {
    Verdict v;
    v.action = AgentAction::Stamp;
    v.reason = std::move(reason);
    v.reason_data = std::move(reason_data);
    return v;
}

// A uniform draw 0..99 for DMARC's pct= sampling.
std::uint8_t percent_draw() {
    std::uint32_t r = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&r), sizeof r) != 1) return 0;  // sampled in: the policy applies
    return static_cast<std::uint8_t>(r % 100);
}
}  // namespace

// ---------------------------------------------------------------- Sender ID (SPF)

SenderIdAgent::SenderIdAgent(config::SenderIdConfigSettings settings, std::shared_ptr<dns::DnsResolver> dns,
                             std::string receiver_fqdn)
    : settings_(std::move(settings)), dns_(std::move(dns)), receiver_fqdn_(std::move(receiver_fqdn)) {
    for (const auto& r : settings_.bypassed_recipients) bypassed_recipients_.insert(canonical_recipient(r));
    for (const auto& d : settings_.bypassed_sender_domains)
        if (auto c = smtp::canonical_domain(d)) bypassed_sender_domains_.insert(*c);
}

boost::asio::awaitable<Verdict> SenderIdAgent::on_event_async(AgentEvent, const SessionInfo& session,
                                                              const Envelope& envelope) const {
    const std::string sender_domain = smtp::canonical_domain_of(envelope.sender);
    if (!sender_domain.empty() && bypassed_sender_domains_.contains(sender_domain))
        co_return stamped("BypassedSenderDomain", sender_domain);
    boost::system::error_code ec;
    const auto client = boost::asio::ip::make_address(session.remote_ip, ec);
    if (ec || !dns_) co_return Verdict::go_on();  // nothing to check against

    auth::ResolverSpfDns resolver(*dns_);
    const auth::SpfCheck check = co_await auth::check_spf(resolver, client, envelope.sender, session.helo, receiver_fqdn_);
    const auth::SpfOutcome& o = check.outcome;

    // The properties every outcome sets; DMARC reads them.
    Verdict v = stamped(std::string(sender_id_status(o.result)), o.domain);
    v.properties[property(auth_property::kSenderIdStatus)] = std::string(sender_id_status(o.result));
    v.properties[property(auth_property::kSpfResult)] = std::string(auth::to_string(o.result));
    v.properties[property(auth_property::kSpfDomain)] = o.domain;
    v.properties[property(auth_property::kSpfIdentity)] = check.identity;
    auth::AuthMethodResult ar;
    ar.method = "spf";
    ar.result = o.result;
    ar.reason = o.problem;
    const std::string identity_value = envelope.sender.empty() ? session.helo : envelope.sender;
    const auto dot = check.identity.find('.');
    ar.properties.push_back({check.identity.substr(0, dot), dot == std::string::npos ? "" : check.identity.substr(dot + 1),
                             identity_value});
    v.properties[auth_results_property("spf")] = auth::resinfo_text(ar);
    v.diagnostics = o.mechanism.empty() ? o.problem : "matched " + o.mechanism;

    config::SenderIdAction action = config::SenderIdAction::StampStatus;
    if (o.result == Result::Fail) action = settings_.spoofed_domain_action;
    else if (o.result == Result::TempError) action = settings_.temp_error_action;
    // A message only for bypassed recipients is stamped, never refused or deleted.
    if (action != config::SenderIdAction::StampStatus && !envelope.recipients.empty() &&
        std::all_of(envelope.recipients.begin(), envelope.recipients.end(),
                    [&](const std::string& r) { return bypassed_recipients_.contains(canonical_recipient(r)); }))
        action = config::SenderIdAction::StampStatus;

    switch (action) {
        case config::SenderIdAction::StampStatus: break;
        case config::SenderIdAction::Reject: {
            Verdict r;
            if (o.result == Result::Fail) {
                // RFC 7372 §3.2: 5.7.23; the domain's own words (exp=) when it gave some.
                std::string text = o.explanation.empty()
                                       ? fmt::format("SPF validation failed: {} does not permit {} to send for {}", o.domain,
                                                     session.remote_ip, identity_value)
                                       : o.explanation;
                r = Verdict::reject_with(smtp::ReplyId::SpfFail, std::move(text), "SpfFail", o.domain);
            } else {
                r = Verdict::reject(smtp::ReplyId::SpfTempError, "SpfTempError", o.domain);
            }
            r.properties = std::move(v.properties);
            r.diagnostics = std::move(v.diagnostics);
            co_return r;
        }
        case config::SenderIdAction::Delete: {
            Verdict d = Verdict::delete_message(o.result == Result::Fail ? "SpfFail" : "SpfTempError", o.domain);
            d.properties = std::move(v.properties);
            d.diagnostics = std::move(v.diagnostics);
            co_return d;
        }
    }
    co_return v;
}

// ---------------------------------------------------------------- DKIM verification

DkimVerificationAgent::DkimVerificationAgent(config::DkimVerificationConfigSettings settings,
                                             std::shared_ptr<dns::DnsResolver> dns, boost::asio::thread_pool* cpu)
    : settings_(std::move(settings)), dns_(std::move(dns)), cpu_(cpu) {}

boost::asio::awaitable<Verdict> DkimVerificationAgent::on_event_async(AgentEvent, const SessionInfo&,
                                                                      const Envelope& envelope) const {
    if (envelope.message == nullptr || !dns_) co_return Verdict::go_on();
    const std::vector<auth::DkimVerdict> verdicts = co_await auth::verify_message(
        *dns_, *envelope.message, static_cast<std::size_t>(settings_.max_signatures), std::chrono::system_clock::now(), cpu_);

    std::string results, resinfo, summary;
    for (const auto& d : verdicts) {
        if (!results.empty()) results += ' ';
        results += fmt::format("{}:{}", auth::to_string(d.result), d.d);
        auth::AuthMethodResult ar;
        ar.method = "dkim";
        ar.result = d.result;
        if (d.result != Result::Pass) ar.reason = d.reason;  // why it did not pass; a pass needs no words
        if (d.unsigned_content) ar.comment = "l= leaves part of the body unsigned";
        if (!d.d.empty()) ar.properties.push_back({"header", "d", d.d});
        if (!d.s.empty()) ar.properties.push_back({"header", "s", d.s});
        if (!d.a.empty()) ar.properties.push_back({"header", "a", d.a});
        if (!d.header_b.empty()) ar.properties.push_back({"header", "b", d.header_b});
        if (!resinfo.empty()) resinfo += '\n';
        resinfo += auth::resinfo_text(ar);
        if (!summary.empty()) summary += ", ";
        summary += fmt::format("{} d={} s={}{}", auth::to_string(d.result), d.d, d.s, d.reason.empty() ? "" : " (" + d.reason + ")");
    }
    if (verdicts.empty()) {
        auth::AuthMethodResult none;
        none.method = "dkim";
        none.result = Result::None;
        resinfo = auth::resinfo_text(none);
    }
    Verdict v = stamped(verdicts.empty() ? "NoSignature" : "Verified", summary);
    v.properties[property(auth_property::kDkimResults)] = results;
    v.properties[auth_results_property("dkim")] = resinfo;
    co_return v;
}

// ---------------------------------------------------------------- DMARC

DmarcAgent::DmarcAgent(config::DmarcConfigSettings settings, std::shared_ptr<dns::DnsResolver> dns)
    : settings_(std::move(settings)), dns_(std::move(dns)) {}

namespace {
auth::DmarcTxtLookup as_dmarc_lookup(const dns::TextResult& r) {
    auth::DmarcTxtLookup l;
    switch (r.status) {
        case dns::DnsStatus::Ok: l.status = auth::DmarcTxtLookup::Status::Answered; break;
        case dns::DnsStatus::NoSuchDomain:
        case dns::DnsStatus::NoData:
        case dns::DnsStatus::NullMx: l.status = auth::DmarcTxtLookup::Status::NoRecords; break;
        case dns::DnsStatus::Transient: l.status = auth::DmarcTxtLookup::Status::TempError; break;
    }
    l.texts = r.texts;
    return l;
}

std::string_view policy_word(auth::DmarcPolicy p) {
    switch (p) {
        case auth::DmarcPolicy::Reject: return "reject";
        case auth::DmarcPolicy::Quarantine: return "quarantine";
        case auth::DmarcPolicy::None: break;
    }
    return "none";
}

// "pass:example.com fail:other.example" back into DMARC's input.
std::vector<auth::DmarcInput::DkimVerdict> dkim_results(const PropertyBag& p) {
    std::vector<auth::DmarcInput::DkimVerdict> out;
    auto it = p.find(auth_property::kDkimResults);
    if (it == p.end()) return out;
    std::string_view rest = it->second;
    while (!rest.empty()) {
        auto sp = rest.find(' ');
        std::string_view one = rest.substr(0, sp);
        auto colon = one.find(':');
        if (colon != std::string_view::npos)
            if (auto r = auth::result_from_string(one.substr(0, colon)))
                out.push_back({*r, std::string(one.substr(colon + 1))});
        if (sp == std::string_view::npos) break;
        rest.remove_prefix(sp + 1);
    }
    return out;
}
}  // namespace

boost::asio::awaitable<Verdict> DmarcAgent::on_event_async(AgentEvent, const SessionInfo& session,
                                                           const Envelope& envelope) const {
    std::vector<std::string> from_values;
    for (const auto& [name, value] : envelope.headers)
        if (name.size() == 4 && ::strncasecmp(name.c_str(), "From", 4) == 0) from_values.push_back(value);
    const auth::AuthorDomains authors = auth::author_domains(from_values);

    const auto bad_from = [&](config::DmarcAction action, std::string reason) -> Verdict {
        Verdict v;
        if (action == config::DmarcAction::Reject) {
            v = Verdict::reject(smtp::ReplyId::DmarcBadFrom, "BadFrom", reason);
        } else {
            v = stamped("BadFrom", reason);
            if (action == config::DmarcAction::Quarantine) v.properties[property(auth_property::kDmarcQuarantine)] = "true";
        }
        auth::AuthMethodResult ar;
        ar.method = "dmarc";
        ar.result = Result::None;
        ar.reason = reason;
        v.properties[property(auth_property::kDmarcResult)] = "none";
        v.properties[auth_results_property("dmarc")] = auth::resinfo_text(ar);
        return v;
    };
    // RFC 7489 §6.6.1. No From: at all names no domain a reader could be fooled by: there
    // is no policy to apply (dmarc=none, stamped). Several From: fields (RFC 5322 §3.6
    // allows one; readers pick different ones) or one we cannot read are how a forger
    // would slip past a policy: BadFromAction.
    const std::string why = authors.reason.empty() ? std::string(auth::to_string(authors.problem)) : authors.reason;
    if (authors.problem == auth::AuthorProblem::NoFrom)
        co_return bad_from(config::DmarcAction::StampStatus, why);
    if (authors.problem == auth::AuthorProblem::SeveralFromFields || authors.problem == auth::AuthorProblem::Unparseable ||
        authors.problem == auth::AuthorProblem::TooManyDomains || authors.domains.empty())
        co_return bad_from(settings_.bad_from_action, why);
    if (!dns_) co_return Verdict::go_on();

    auth::DmarcInput base;
    const auto& props = session.properties;
    if (auto it = props.find(auth_property::kSpfResult); it != props.end())
        if (auto r = auth::result_from_string(it->second)) base.spf_result = *r;
    // RFC 7489 §4.1: SPF's MAIL FROM identity (postmaster@HELO for the null path).
    if (auto it = props.find(auth_property::kSpfDomain); it != props.end()) base.spf_domain = it->second;
    base.dkim = dkim_results(props);
    base.percent_draw = percent_draw();

    std::vector<auth::DmarcOutcome> outcomes;
    for (const auto& domain : authors.domains) {
        auth::DmarcInput in = base;
        in.from_domain = domain;
        for (const auto& name : auth::dmarc_query_names(domain)) {
            in.lookups.push_back(as_dmarc_lookup(co_await dns_->resolve_txt(name)));
            // The Organizational Domain is asked only when the domain itself has no
            // record (and said so: a failed lookup is temperror already).
            if (in.lookups.back().status == auth::DmarcTxtLookup::Status::TempError) break;
            if (!auth::evaluate_dmarc(in).policy_domain.empty()) break;
        }
        outcomes.push_back(auth::evaluate_dmarc(in));
    }
    const auth::DmarcOutcome o = auth::strictest_outcome(outcomes);

    auth::AuthMethodResult ar;
    ar.method = "dmarc";
    ar.result = o.result;
    ar.reason = o.result == Result::Pass || o.result == Result::None ? std::string() : o.reason;
    if (!o.policy_domain.empty())
        ar.comment = fmt::format("p={} dis={}", policy_word(o.requested_policy), policy_word(o.applied_policy));
    ar.properties.push_back({"header", "from", o.header_from});

    Verdict v = stamped(std::string(auth::to_string(o.result)), o.header_from);
    v.diagnostics = o.reason;
    v.properties[property(auth_property::kDmarcResult)] = std::string(auth::to_string(o.result));
    v.properties[property(auth_property::kDmarcPolicy)] = std::string(policy_word(o.applied_policy));
    v.properties[auth_results_property("dmarc")] = auth::resinfo_text(ar);

    config::DmarcAction action = config::DmarcAction::StampStatus;
    if (o.result == Result::Fail && o.applied_policy == auth::DmarcPolicy::Reject) action = settings_.reject_policy_action;
    else if (o.result == Result::Fail && o.applied_policy == auth::DmarcPolicy::Quarantine)
        action = settings_.quarantine_policy_action;
    switch (action) {
        case config::DmarcAction::StampStatus: break;
        case config::DmarcAction::Quarantine:
            v.properties[property(auth_property::kDmarcQuarantine)] = "true";
            v.reason = "Quarantine";
            break;
        case config::DmarcAction::Reject: {
            Verdict r = Verdict::reject_with(smtp::ReplyId::DmarcRejected, o.header_from, "DmarcReject", o.header_from);
            r.properties = std::move(v.properties);
            r.diagnostics = std::move(v.diagnostics);
            co_return r;
        }
    }
    co_return v;
}

}  // namespace edge::agents
