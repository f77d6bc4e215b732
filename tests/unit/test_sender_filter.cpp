// The Sender Filter Agent's decisions (issue 17): the three lists and the blank
// sender, compared as addresses (canonical form), and the verdict each Action gives.
#include "sender_filter.hpp"

#include "replies.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace edge::agents;
using edge::config::SenderFilterAction;
using edge::config::SenderFilterConfigSettings;

namespace {

std::optional<SenderFilterReason> reason(const SenderFilter& f, std::string_view sender) {
    auto m = f.check(sender);
    if (!m) return std::nullopt;
    return m->reason;
}

Envelope mail(std::string sender) {
    Envelope e;
    e.sender = std::move(sender);
    return e;
}

}  // namespace

TEST_CASE("a blocked sender is blocked in every spelling of the same address, and only that address",
          "[agents][sender-filter]") {
    SenderFilterConfigSettings s;
    s.blocked_senders = {"bad@spam.test", "José@Bücher.test"};
    SenderFilter f(s);
    for (const char* spelling : {"bad@spam.test", "BAD@SPAM.TEST", "\"Bad\"@Spam.TEST.", "\"b\\ad\"@spam.test",
                                 "bad@spam.test.", "José@bücher.test", "JOSÉ@BÜCHER.TEST", "josé@xn--bcher-kva.test",
                                 "jose\xcc\x81@bu\xcc\x88" "cher.test"}) {  // NFD: e + U+0301, u + U+0308
        INFO(spelling);
        CHECK(reason(f, spelling) == SenderFilterReason::BlockedSender);
    }
    for (const char* other : {"good@spam.test", "bad@spam.test.evil", "bad@sub.spam.test", "\"bad \"@spam.test",
                              "jose@bücher.test"}) {
        INFO(other);
        CHECK_FALSE(f.check(other).has_value());
    }
    auto m = f.check("\"Bad\"@Spam.TEST.");
    REQUIRE(m);
    CHECK(m->entry == "bad@spam.test");  // ReasonData: the entry, canonical
}

TEST_CASE("BlockedDomains blocks the domain itself, not what lies below it", "[agents][sender-filter]") {
    SenderFilterConfigSettings s;
    s.blocked_domains = {"Spam.TEST", "xn--bcher-kva.test"};
    SenderFilter f(s);
    CHECK(reason(f, "anyone@spam.test") == SenderFilterReason::BlockedDomain);
    CHECK(reason(f, "anyone@SPAM.test.") == SenderFilterReason::BlockedDomain);
    CHECK(reason(f, "\"any one\"@spam.test") == SenderFilterReason::BlockedDomain);
    CHECK(reason(f, "x@Bücher.TEST") == SenderFilterReason::BlockedDomain);  // U-label = A-label
    CHECK_FALSE(f.check("anyone@mail.spam.test").has_value());
    CHECK_FALSE(f.check("anyone@notspam.test").has_value());
    CHECK_FALSE(f.check("anyone@spam.test.example").has_value());
    CHECK(f.check("a@spam.test")->entry == "spam.test");
}

TEST_CASE("BlockedDomainsAndSubdomains blocks the domain and every domain below it, in either form",
          "[agents][sender-filter]") {
    SenderFilterConfigSettings s;
    s.blocked_domains_and_subdomains = {"*.contoso.test", "fabrikam.test"};
    SenderFilter f(s);
    for (const char* blocked : {"a@contoso.test", "a@mail.contoso.test", "a@x.y.CONTOSO.test.", "a@fabrikam.test",
                                "a@eu.fabrikam.test"}) {
        INFO(blocked);
        CHECK(reason(f, blocked) == SenderFilterReason::BlockedDomainAndSubdomains);
    }
    for (const char* other : {"a@notcontoso.test", "a@contoso.test.evil", "a@test", "a@fabrikam.testing", "a@[127.0.0.1]"}) {
        INFO(other);
        CHECK_FALSE(f.check(other).has_value());
    }
    CHECK(f.check("a@x.contoso.test")->entry == "contoso.test");
}

TEST_CASE("the blank sender is blocked only with BlankSenderBlockingEnabled", "[agents][sender-filter]") {
    SenderFilterConfigSettings s;
    s.blocked_domains = {"spam.test"};
    CHECK_FALSE(SenderFilter(s).check("").has_value());
    s.blank_sender_blocking_enabled = true;
    SenderFilter f(s);
    CHECK(reason(f, "") == SenderFilterReason::BlankSender);
    CHECK_FALSE(f.check("postmaster@elsewhere.test").has_value());
}

TEST_CASE("Action Reject refuses MAIL with 554 5.1.0 Sender Denied, StampStatus lets it go on marked Blocked",
          "[agents][sender-filter]") {
    SenderFilterConfigSettings s;
    s.blocked_senders = {"bad@spam.test"};
    SessionInfo session;
    {
        SenderFilterAgent agent(std::make_shared<SenderFilter>(s));
        CHECK(agent.name() == "Sender Filter Agent");
        CHECK(agent.handles(AgentEvent::OnMailCommand));
        CHECK_FALSE(agent.handles(AgentEvent::OnRcptCommand));
        CHECK(agent.anti_spam());
        Verdict v = agent.on_event(AgentEvent::OnMailCommand, session, mail("\"BAD\"@spam.test"));
        CHECK(v.action == AgentAction::Reject);
        CHECK(v.reply == edge::smtp::ReplyId::SenderDenied);
        CHECK(v.reason == "BlockedSender");
        CHECK(v.reason_data == "bad@spam.test");
        CHECK(edge::smtp::render(v.reply) == "554 5.1.0 Sender Denied");
        CHECK(edge::smtp::reply_entry(v.reply).kind == edge::smtp::ReplyClass::Policy);
    }
    s.action = SenderFilterAction::StampStatus;
    SenderFilterAgent agent(std::make_shared<SenderFilter>(s));
    Verdict v = agent.on_event(AgentEvent::OnMailCommand, session, mail("bad@spam.test"));
    CHECK(v.action == AgentAction::Stamp);
    CHECK(v.properties.at("SenderFilter.Status") == "Blocked");
    CHECK(v.reason == "BlockedSender");
    CHECK(v.headers.empty());
    // A sender it does not block: Continue (no agent log line), the status cleared for this message.
    Verdict ok = agent.on_event(AgentEvent::OnMailCommand, session, mail("good@spam.test"));
    CHECK(ok.action == AgentAction::Continue);
    CHECK(ok.properties.at("SenderFilter.Status").empty());
}

TEST_CASE("in a session, a StampStatus mark is seen by later agents of that message and gone at the next",
          "[agents][sender-filter]") {
    SenderFilterConfigSettings s;
    s.blocked_domains = {"spam.test"};
    s.action = SenderFilterAction::StampStatus;
    Pipeline::Entry e{std::make_shared<SenderFilterAgent>(std::make_shared<SenderFilter>(s)), {}};
    Pipeline p({e});
    AgentSession session;
    Decision d = p.run(AgentEvent::OnMailCommand, session, mail("a@spam.test"), nullptr);
    CHECK_FALSE(d.reply.has_value());
    CHECK(session.info.properties.at("SenderFilter.Status") == "Blocked");
    p.run(AgentEvent::OnMailCommand, session, mail("a@ham.test"), nullptr);
    CHECK(session.info.properties.at("SenderFilter.Status").empty());
    // Hubs and partners are not filtered (InternalMailEnabled $false, Exchange's default).
    Pipeline::Entry internal_off = e;
    internal_off.settings.internal_mail_enabled = false;
    Pipeline q({internal_off});
    AgentSession hub;
    hub.info.internal = true;
    q.run(AgentEvent::OnMailCommand, hub, mail("a@spam.test"), nullptr);
    CHECK_FALSE(hub.info.properties.contains("SenderFilter.Status"));
}
