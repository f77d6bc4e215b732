// The message acceptance path (transport/server/message_acceptance.*) with a fake
// queue: routing to next-hop queues, the Received and Message-ID headers, refusals
// before the queue, a refused enqueue, back pressure, tracking and the delivery wake.
// One io_context, no sockets, no sleeps.
#include "errors.hpp"
#include "message_acceptance.hpp"
#include "spawn.hpp"

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

using namespace edge;
using edge::receive::AcceptanceOutcome;
using edge::receive::FinishedMessage;

namespace {

// The queue: keeps what it was given and answers as told, or later (answer_now = false).
struct FakeQueue final : server::MessageQueue {
    std::vector<queue::NewMessage> given;
    std::error_code error;
    queue::MessageId next_id = 4711;
    bool answer_now = true;
    Done pending;
    void enqueue_async(queue::NewMessage m, Done done) override {
        given.push_back(std::move(m));
        if (answer_now) done(error, error ? 0 : next_id);
        else pending = std::move(done);
    }
};

struct Reports {
    int storage_full = 0, queued = 0;
    std::vector<logging::TrackingEvent> tracked;
    server::AcceptanceHooks hooks() {
        server::AcceptanceHooks h;
        h.storage_full = [this] { ++storage_full; };
        h.track = [this](const logging::TrackingEvent& e) { tracked.push_back(e); };
        h.queued = [this] { ++queued; };
        return h;
    }
};

routing::AddressSpace space(std::string_view text) { return *routing::AddressSpace::parse(text).value; }

// contoso.com is ours and goes to the hub by smart host; everything else by DNS.
server::AcceptanceSettings settings() {
    routing::SendConnectorRoute hub;
    hub.name = "To Hub";
    hub.address_spaces = {space("contoso.com")};
    hub.dns_routing_enabled = false;
    hub.smart_hosts = {"hub.contoso.com"};
    routing::SendConnectorRoute internet;
    internet.name = "To Internet";
    internet.address_spaces = {space("*")};
    routing::AcceptedDomainTable domains({{"Contoso", "contoso.com", routing::AcceptedDomainType::Authoritative, true}});
    return {std::make_shared<routing::Categorizer>(std::move(domains), std::vector{hub, internet}), std::chrono::hours(48), "edge.contoso.com", {}};
}

smtp::Mailbox mailbox(std::string local, std::string domain) { return {std::move(local), std::move(domain)}; }

smtp::Transaction transaction(std::string_view message) {
    smtp::Transaction t;
    t.sender = mailbox("alice", "fabrikam.example");
    t.recipients.push_back({mailbox("bob", "contoso.com"), 0, ""});
    t.recipients.push_back({mailbox("carol", "Example.ORG"), 0, "rfc822;carol@example.org"});
    t.message.append(message);
    return t;
}

FinishedMessage finished(smtp::Transaction& t) {
    FinishedMessage m;
    m.transaction = &t;
    m.session_id = "08DC0000AAAA0001";
    m.receive_id = "08DC0000AAAA0001.1";
    m.connector_name = "Default internal receive connector EDGE";
    m.connector_fqdn = "edge.contoso.com";
    m.max_header_size = 64 * 1024;
    m.max_hop_count = 30;
    m.helo_domain = "mail.fabrikam.example";
    m.client_ip = "192.0.2.10";
    m.local_ip = "198.51.100.1";
    m.esmtp = true;
    return m;
}

AcceptanceOutcome accept(server::MessageAcceptance& acceptance, FinishedMessage m) {
    asio::io_context io;
    std::optional<AcceptanceOutcome> out;
    asio::co_spawn(io, acceptance.accept(std::move(m)), [&out](std::exception_ptr e, AcceptanceOutcome o) {
        REQUIRE_FALSE(e);
        out = std::move(o);
    });
    io.run();
    REQUIRE(out);
    return *out;
}

std::string body_of(const queue::NewMessage& m) {
    std::string s;
    for (const auto& c : m.body.chunks) s += c;
    return s;
}

const std::string kPlain = "From: alice@fabrikam.example\r\nSubject: Lunch\r\n\r\nAt noon.\r\n";
}  // namespace

TEST_CASE("acceptance routes each recipient to its next-hop queue and queues the envelope", "[acceptance]") {
    FakeQueue q;
    Reports r;
    server::MessageAcceptance acceptance(q, r.hooks(), settings());
    auto t = transaction(kPlain);
    const auto out = accept(acceptance, finished(t));
    REQUIRE(out.result == AcceptanceOutcome::Result::Queued);
    CHECK(out.queue_id == 4711);
    REQUIRE(q.given.size() == 1);
    const auto& env = q.given[0].envelope;
    REQUIRE(env.recipients.size() == 2);
    CHECK(env.recipients[0].address == "bob@contoso.com");
    CHECK(env.recipients[0].next_hop == queue::QueueId::next_hop_domain("to hub"));
    CHECK(env.recipients[0].delivery_type == queue::DeliveryType::SmartHostConnectorDelivery);
    CHECK(env.recipients[1].next_hop == queue::QueueId::next_hop_domain("example.org"));
    CHECK(env.recipients[1].delivery_type == queue::DeliveryType::DnsConnectorDelivery);
    CHECK(env.recipients[1].orcpt == "rfc822;carol@example.org");
    CHECK(env.sender == "alice@fabrikam.example");
    CHECK(env.receive_connector == "Default internal receive connector EDGE");
    CHECK(env.client_address == "192.0.2.10");
    CHECK(env.client_hostname == "mail.fabrikam.example");
    CHECK(env.hop_count == 1);
    CHECK(env.subject == "Lunch");
    CHECK(env.expiration_time - env.arrival_time == std::chrono::hours(48));
    CHECK(env.size == body_of(q.given[0]).size());
    CHECK(out.size == env.size);
}

TEST_CASE("acceptance adds our Received header, and a Message-ID in our FQDN only when there is none", "[acceptance]") {
    FakeQueue q;
    Reports r;
    server::MessageAcceptance acceptance(q, r.hooks(), settings());
    SECTION("without Message-ID") {
        auto t = transaction(kPlain);
        const auto out = accept(acceptance, finished(t));
        REQUIRE(q.given.size() == 1);
        const std::string body = body_of(q.given[0]);
        CHECK(body.starts_with("Received: from mail.fabrikam.example (192.0.2.10) by edge.contoso.com"));
        CHECK(body.find("id 08DC0000AAAA0001.1") != std::string::npos);
        CHECK(out.message_id.starts_with("<"));
        CHECK(out.message_id.ends_with("@edge.contoso.com>"));
        CHECK(body.find("\r\nMessage-ID: " + out.message_id + "\r\nFrom: alice@fabrikam.example\r\n") != std::string::npos);
        CHECK(q.given[0].envelope.internet_message_id == out.message_id);
        CHECK(body.ends_with(kPlain));
    }
    SECTION("with one") {
        const std::string original = "Message-ID: <1@fabrikam.example>\r\n" + kPlain;
        auto t = transaction(original);
        const auto out = accept(acceptance, finished(t));
        REQUIRE(q.given.size() == 1);
        CHECK(out.message_id == "<1@fabrikam.example>");
        const std::string body = body_of(q.given[0]);
        // Our Received header, then the client's message untouched: its Message-ID is the only one.
        CHECK(body.starts_with("Received: "));
        CHECK(body.ends_with(original));
        CHECK(body.find("Message-ID:") == body.size() - original.size());
        CHECK(body.find("Message-ID:", body.find("Message-ID:") + 1) == std::string::npos);
    }
}

TEST_CASE("acceptance tracks RECEIVE with the queue's id and wakes delivery, after the commit", "[acceptance]") {
    FakeQueue q;
    q.answer_now = false;
    Reports r;
    server::MessageAcceptance acceptance(q, r.hooks(), settings());
    auto t = transaction(kPlain);
    asio::io_context io;
    std::optional<AcceptanceOutcome> out;
    asio::co_spawn(io, acceptance.accept(finished(t)), [&out](std::exception_ptr, AcceptanceOutcome o) { out = o; });
    io.poll();  // everything ready runs; the coroutine then waits for the queue (run() would wait with it)
    // The commit is in the queue's hands: nothing is reported yet, and back pressure sees it.
    REQUIRE(q.pending);
    CHECK_FALSE(out);
    CHECK(acceptance.commits_in_flight() == 1);
    CHECK(r.tracked.empty());
    CHECK(r.queued == 0);
    q.pending({}, 99);
    io.restart();
    io.run();
    REQUIRE(out);
    CHECK(out->result == AcceptanceOutcome::Result::Queued);
    CHECK(acceptance.commits_in_flight() == 0);
    CHECK(r.queued == 1);
    REQUIRE(r.tracked.size() == 1);
    const auto& e = r.tracked[0];
    CHECK(e.event_id == "RECEIVE");
    CHECK(e.source == "SMTP");
    CHECK(e.internal_message_id == 99);
    CHECK(e.source_context == "08DC0000AAAA0001.1");
    CHECK(e.connector_id == "Default internal receive connector EDGE");
    CHECK(e.recipients == std::vector<std::string>{"bob@contoso.com", "carol@Example.ORG"});
    CHECK(e.sender == "alice@fabrikam.example");
    CHECK(e.total_bytes == out->size);
}

TEST_CASE("a full queue is a refused enqueue that raises back pressure, another failure is not", "[acceptance]") {
    FakeQueue q;
    Reports r;
    server::MessageAcceptance acceptance(q, r.hooks(), settings());
    SECTION("storage full: the session answers 452 4.3.1") {
        q.error = queue::QueueError::storage_full;
        auto t = transaction(kPlain);
        const auto out = accept(acceptance, finished(t));
        CHECK(out.result == AcceptanceOutcome::Result::Failed);
        CHECK(out.storage_full);
        CHECK(r.storage_full == 1);
    }
    SECTION("any other failure: the session answers 451") {
        q.error = queue::QueueError::io_error;
        auto t = transaction(kPlain);
        const auto out = accept(acceptance, finished(t));
        CHECK(out.result == AcceptanceOutcome::Result::Failed);
        CHECK_FALSE(out.storage_full);
        CHECK_FALSE(out.error.empty());
        CHECK(r.storage_full == 0);
    }
    CHECK(r.tracked.empty());
    CHECK(r.queued == 0);
    CHECK(acceptance.commits_in_flight() == 0);
}

TEST_CASE("a header past MaxHeaderSize or MaxHopCount is refused before the queue sees it", "[acceptance]") {
    FakeQueue q;
    Reports r;
    server::MessageAcceptance acceptance(q, r.hooks(), settings());
    SECTION("MaxHeaderSize") {
        auto t = transaction(kPlain);
        auto m = finished(t);
        m.max_header_size = 16;
        const auto out = accept(acceptance, std::move(m));
        CHECK(out.result == AcceptanceOutcome::Result::Refused);
        CHECK(out.refusal == smtp::ReplyId::HeaderTooBig);
    }
    SECTION("MaxHopCount") {
        auto t = transaction("Received: from a\r\nReceived: from b\r\n" + kPlain);
        auto m = finished(t);
        m.max_hop_count = 2;
        const auto out = accept(acceptance, std::move(m));
        CHECK(out.result == AcceptanceOutcome::Result::Refused);
        CHECK(out.refusal == smtp::ReplyId::HopCountExceeded);
    }
    CHECK(q.given.empty());
    CHECK(r.tracked.empty());
    CHECK(r.storage_full == 0);
}

TEST_CASE("acceptance routes with the configuration applied last", "[acceptance]") {
    FakeQueue q;
    Reports r;
    server::MessageAcceptance acceptance(q, r.hooks(), settings());
    // Every Send connector removed: each recipient is Unreachable.
    acceptance.apply({std::make_shared<routing::Categorizer>(routing::AcceptedDomainTable(std::vector<routing::AcceptedDomain>{}),
                                                              std::vector<routing::SendConnectorRoute>{}),
                      std::chrono::hours(1), {}, {}});
    auto t = transaction(kPlain);
    accept(acceptance, finished(t));
    REQUIRE(q.given.size() == 1);
    for (const auto& rc : q.given[0].envelope.recipients) {
        CHECK(rc.next_hop == queue::QueueId::unreachable());
        CHECK(rc.delivery_type == queue::DeliveryType::Unreachable);
    }
    CHECK(q.given[0].envelope.expiration_time - q.given[0].envelope.arrival_time == std::chrono::hours(1));
}

// ---- the transport agents at the end of the message (OnEndOfHeaders, OnEndOfData) ----

namespace {
// An agent that answers one event as scripted and keeps what it saw there.
class EndOfMessageAgent final : public agents::Agent {
public:
    EndOfMessageAgent(agents::AgentEvent at, agents::Verdict v) : at_(at), verdict_(std::move(v)) {}
    std::string_view name() const override { return "Content Filter Agent"; }
    bool handles(agents::AgentEvent e) const override { return e == at_; }
    agents::Verdict on_event(agents::AgentEvent, const agents::SessionInfo&, const agents::Envelope& env) const override {
        seen = env;
        ++calls;
        return verdict_;
    }
    mutable agents::Envelope seen;
    mutable int calls = 0;

private:
    agents::AgentEvent at_;
    agents::Verdict verdict_;
};

struct CountingSink final : agents::VerdictSink {
    std::vector<std::string> responses;
    void record(const agents::VerdictRecord& r) override { responses.push_back(r.smtp_response); }
};

agents::Pipeline pipeline_of(std::shared_ptr<const agents::Agent> a) {
    agents::Pipeline::Entry e;
    e.agent = std::move(a);
    e.settings.priority = 1;
    return agents::Pipeline({e});
}
}  // namespace

TEST_CASE("an end-of-data agent's rejection refuses the message before the queue sees it", "[acceptance][agents]") {
    FakeQueue q;
    Reports r;
    server::MessageAcceptance acceptance(q, r.hooks(), settings());
    auto agent = std::make_shared<EndOfMessageAgent>(agents::AgentEvent::OnEndOfData,
                                                     agents::Verdict::reject(smtp::ReplyId::AgentRejected, "test"));
    const agents::Pipeline p = pipeline_of(agent);
    agents::AgentSession session;
    CountingSink sink;
    auto t = transaction("From: Alice <alice@fabrikam.example>\r\nMessage-ID: <m1@fabrikam.example>\r\nSubject: Hi\r\n\r\nx\r\n");
    FinishedMessage m = finished(t);
    m.agents = &p;
    m.agent_session = &session;
    m.agent_log = &sink;
    const auto out = accept(acceptance, std::move(m));
    CHECK(out.result == AcceptanceOutcome::Result::Refused);
    CHECK(out.refusal == smtp::ReplyId::AgentRejected);
    CHECK(q.given.empty());
    CHECK(r.tracked.empty());
    REQUIRE(agent->calls == 1);
    // What the agent saw: the P1 envelope, the header as received, the size.
    CHECK(agent->seen.sender == "alice@fabrikam.example");
    CHECK(agent->seen.recipients.size() == 2);
    CHECK(agent->seen.message_id == "<m1@fabrikam.example>");
    CHECK(agent->seen.header_from == std::vector<std::string>{"alice@fabrikam.example"});
    CHECK(agent->seen.headers.size() == 3);
    CHECK(agent->seen.size == t.message.size());
    REQUIRE(sink.responses.size() == 1);
    CHECK(sink.responses[0].starts_with("550 5.7.1"));
}

TEST_CASE("an end-of-headers agent's stamp is added beside our Received header, on one line", "[acceptance][agents]") {
    FakeQueue q;
    Reports r;
    server::MessageAcceptance acceptance(q, r.hooks(), settings());
    auto agent = std::make_shared<EndOfMessageAgent>(
        agents::AgentEvent::OnEndOfHeaders, agents::Verdict::stamp_header("X-MS-Exchange-Organization-SCL", "0\r\nBcc: x@y"));
    const agents::Pipeline p = pipeline_of(agent);
    agents::AgentSession session;
    auto t = transaction(kPlain);
    FinishedMessage m = finished(t);
    m.agents = &p;
    m.agent_session = &session;
    const auto out = accept(acceptance, std::move(m));
    REQUIRE(out.result == AcceptanceOutcome::Result::Queued);
    REQUIRE(q.given.size() == 1);
    const std::string body = body_of(q.given[0]);
    CHECK(body.find("X-MS-Exchange-Organization-SCL: 0Bcc: x@y\r\n") != std::string::npos);
    CHECK(body.find("\r\nBcc:") == std::string::npos);  // the agent's CR LF never starts a field
    CHECK(body.find("Received: ") < body.find("X-MS-Exchange-Organization-SCL"));
    CHECK(body.ends_with(kPlain));
}

TEST_CASE("without agents the message is accepted as before", "[acceptance][agents]") {
    FakeQueue q;
    Reports r;
    server::MessageAcceptance acceptance(q, r.hooks(), settings());
    auto t = transaction(kPlain);
    FinishedMessage m = finished(t);  // no pipeline, no agent session
    CHECK(accept(acceptance, std::move(m)).result == AcceptanceOutcome::Result::Queued);
    CHECK(q.given.size() == 1);
}

TEST_CASE("issue 18: one Authentication-Results of ours on top, a forged one with our authserv-id removed, "
          "others kept, the value stored with the message",
          "[acceptance][agents][auth]") {
    FakeQueue q;
    Reports r;
    server::MessageAcceptance acceptance(q, r.hooks(), settings());  // authserv-id edge.contoso.com
    agents::Verdict v;
    v.action = agents::AgentAction::Stamp;
    v.properties["Message.AuthResults.dmarc"] = "dmarc=pass header.from=fabrikam.example";
    v.properties["Message.AuthResults.spf"] = "spf=pass smtp.mailfrom=alice@fabrikam.example";
    auto agent = std::make_shared<EndOfMessageAgent>(agents::AgentEvent::OnEndOfData, v);
    const agents::Pipeline p = pipeline_of(agent);
    agents::AgentSession session;
    const std::string forged = "Authentication-Results: EDGE.contoso.com;\r\n spf=pass smtp.mailfrom=ceo@contoso.com\r\n";
    const std::string theirs = "Authentication-Results: mx.fabrikam.example; dkim=pass header.d=fabrikam.example\r\n";
    auto t = transaction(forged + theirs + kPlain);
    FinishedMessage m = finished(t);
    m.agents = &p;
    m.agent_session = &session;
    const auto out = accept(acceptance, std::move(m));
    REQUIRE(out.result == AcceptanceOutcome::Result::Queued);
    REQUIRE(q.given.size() == 1);
    const std::string body = body_of(q.given[0]);
    const std::string ours =
        "Authentication-Results: edge.contoso.com;\r\n\tspf=pass smtp.mailfrom=alice@fabrikam.example;\r\n"
        "\tdmarc=pass header.from=fabrikam.example\r\n";
    CHECK(body.find(ours) != std::string::npos);
    CHECK(body.find("ceo@contoso.com") == std::string::npos);  // the forgery is gone
    CHECK(body.find(theirs) != std::string::npos);             // someone else's verdict stays
    CHECK(body.find(ours) < body.find(theirs));
    CHECK(body.ends_with(kPlain));
    CHECK(q.given[0].envelope.authentication_results ==
          "edge.contoso.com;\r\n\tspf=pass smtp.mailfrom=alice@fabrikam.example;\r\n\tdmarc=pass header.from=fabrikam.example");
}

TEST_CASE("issue 18: an agent's Delete answers as accepted and queues nothing", "[acceptance][agents][auth]") {
    FakeQueue q;
    Reports r;
    server::MessageAcceptance acceptance(q, r.hooks(), settings());
    auto agent = std::make_shared<EndOfMessageAgent>(agents::AgentEvent::OnEndOfHeaders,
                                                     agents::Verdict::delete_message("SpfFail", "fabrikam.example"));
    const agents::Pipeline p = pipeline_of(agent);
    agents::AgentSession session;
    auto t = transaction("From: alice@fabrikam.example\r\nMessage-ID: <d1@fabrikam.example>\r\n\r\nx\r\n");
    FinishedMessage m = finished(t);
    m.agents = &p;
    m.agent_session = &session;
    const auto out = accept(acceptance, std::move(m));
    CHECK(out.result == AcceptanceOutcome::Result::Deleted);
    CHECK(out.message_id == "<d1@fabrikam.example>");
    CHECK(out.deleted_by == "Content Filter Agent");
    CHECK(q.given.empty());
    CHECK(r.tracked.empty());
}

TEST_CASE("issue 18: DKIM signing at acceptance: once, for the organisation's sessions, by the From: domain",
          "[acceptance][auth]") {
    FakeQueue q;
    Reports r;
    auto s = settings();
    std::vector<std::string> asked;
    s.dkim_sign = [&asked](std::string_view domain, const std::vector<std::string>& message) -> std::optional<std::string> {
        asked.emplace_back(domain);
        std::string whole;
        for (const auto& c : message) whole += c;
        // The signer sees the message as it will be queued: our Received on top.
        CHECK(whole.starts_with("Received: "));
        return std::string("DKIM-Signature: v=1; d=") + std::string(domain) + "\r\n";
    };
    server::MessageAcceptance acceptance(q, r.hooks(), s);
    {
        auto t = transaction("From: Alice <Alice@Fabrikam.EXAMPLE>\r\nSubject: out\r\n\r\nx\r\n");
        FinishedMessage m = finished(t);
        m.permissions = smtp::permission::BypassAntiSpam | smtp::permission::AcceptAnyRecipient;  // a hub
        REQUIRE(accept(acceptance, std::move(m)).result == AcceptanceOutcome::Result::Queued);
    }
    {
        auto t = transaction("From: alice@fabrikam.example\r\nSubject: in\r\n\r\nx\r\n");
        FinishedMessage m = finished(t);
        m.permissions = smtp::permission::Submit | smtp::permission::Anonymous;  // the internet: never signed
        REQUIRE(accept(acceptance, std::move(m)).result == AcceptanceOutcome::Result::Queued);
    }
    REQUIRE(q.given.size() == 2);
    CHECK(asked == std::vector<std::string>{"fabrikam.example"});
    const std::string signed_body = body_of(q.given[0]);
    CHECK(signed_body.find("\r\nDKIM-Signature: v=1; d=fabrikam.example\r\n") != std::string::npos);
    CHECK(q.given[0].envelope.size == signed_body.size());
    CHECK(body_of(q.given[1]).find("DKIM-Signature") == std::string::npos);
}
