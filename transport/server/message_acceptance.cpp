// The acceptance path of every received message, from finished body to queued
// message (message_acceptance.hpp); moved here from the SMTP driver's commit.
#include "message_acceptance.hpp"

#include "completion.hpp"
#include "run_blocking.hpp"
#include "pipeline_async.hpp"
#include "message_headers.hpp"
#include "address_rewrite_agents.hpp"
#include "errors.hpp"
#include "routing_config.hpp"
#include "address.hpp"
#include "auth_results.hpp"
#include "content_filter.hpp"
#include "session.hpp"
#include "text_helpers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <optional>

namespace edge::server {

namespace {
using receive::AcceptanceOutcome;

queue::DsnRet dsn_ret(smtp::Ret r) {
    switch (r) {
        case smtp::Ret::Full: return queue::DsnRet::Full;
        case smtp::Ret::Headers: return queue::DsnRet::Headers;
        case smtp::Ret::Unspecified: break;
    }
    return queue::DsnRet::Unspecified;
}

// A header field an agent stamps, on one line: no CR or LF reaches the message, whatever
// the agent took its value from.
std::string stamped_field(const agents::HeaderField& h) {
    std::string line = h.first + ": " + h.second;
    std::erase_if(line, [](char c) { return c == '\r' || c == '\n'; });
    return line + "\r\n";
}

// What the end-of-message agents see: the P1 envelope and the header as received.
agents::Envelope envelope_for_agents(const smtp::Transaction& txn, HeaderSummary& headers) {
    agents::Envelope seen;
    seen.sender = txn.sender.str();
    for (const auto& r : txn.recipients) seen.recipients.push_back(r.address.str());
    seen.message_id = headers.message_id.value_or("");
    if (headers.from) seen.header_from = from_addresses(*headers.from);
    seen.headers = std::move(headers.fields);
    seen.size = txn.message.size();
    seen.message = &txn.message.buffers();
    return seen;
}

// The edge's Authentication-Results field (RFC 8601) from what the authenticating agents
// concluded for this message: one resinfo per line, folded. nullopt when none ran.
std::optional<std::string> authentication_results_value(const std::string& auth_serv_id,
                                                        const agents::PropertyBag& properties) {
    std::string value = auth_serv_id;
    bool any = false;
    for (std::string_view method : agents::kAuthResultsMethods) {
        auto it = properties.find(std::string(agents::kAuthResultsPropertyPrefix) + std::string(method));
        if (it == properties.end() || it->second.empty()) continue;
        std::string_view rest = it->second;
        while (!rest.empty()) {
            auto lf = rest.find('\n');
            std::string_view one = rest.substr(0, lf);
            if (!one.empty()) {
                value += ";\r\n\t";
                value += one;
                any = true;
            }
            if (lf == std::string_view::npos) break;
            rest.remove_prefix(lf + 1);
        }
    }
    if (!any) return std::nullopt;
    std::erase(value, '\0');
    return value;
}

// RFC 8601 §5: Authentication-Results fields that claim to be ours are a stranger's
// forgery (or a loop): they go before anything reads the message further.
std::vector<FieldSpan> forged_authentication_results(const std::string& auth_serv_id, std::vector<FieldSpan> fields) {
    std::erase_if(fields, [&](const FieldSpan& f) {
        auto id = auth::authserv_id_of(f.value);
        return !id || !text::iequals(*id, auth_serv_id);
    });
    return fields;
}

// The domain of the first From: address in the one canonical form (smtp::canonical_domain:
// lower case, A-labels, no trailing dot), as signing configurations are stored; empty
// when there is none.
std::string from_domain(const std::optional<std::string>& from) {
    if (!from) return {};
    auto addresses = from_addresses(*from);
    if (addresses.empty()) return {};
    return smtp::canonical_domain_of(addresses.front());
}

// The transport agents' end of the message: the header (OnEndOfHeaders), then the
// whole message (OnEndOfData), before anything is added or routed. A refusal is the
// message's answer.
asio::awaitable<agents::Decision> end_of_message_agents(const agents::Pipeline* pipeline, agents::AgentSession* session,
                                                       agents::VerdictSink* log, agents::Envelope seen) {
    agents::Decision d = co_await agents::run_async(*pipeline, agents::AgentEvent::OnEndOfHeaders, *session, seen, log);
    if (d.reply || d.delete_message) co_return d;
    co_return co_await agents::run_async(*pipeline, agents::AgentEvent::OnEndOfData, *session, seen, log);
}

// The Address Rewriting Outbound Agent of this session's pipeline, when it runs for this
// message (Enable-/Disable-TransportAgent) and has entries; else nullptr.
const agents::AddressRewritingOutboundAgent* outbound_rewriting(const receive::FinishedMessage& m) {
    if (m.agents == nullptr || m.agent_session == nullptr) return nullptr;
    const agents::Pipeline::Entry* entry = m.agents->find(agents::kAddressRewritingOutboundAgent);
    if (entry == nullptr || !agents::Pipeline::runs(*entry, agents::AgentEvent::OnRoutedMessage, *m.agent_session))
        return nullptr;
    const auto* agent = dynamic_cast<const agents::AddressRewritingOutboundAgent*>(entry->agent.get());
    return agent != nullptr && agent->has_entries() ? agent : nullptr;
}

// The rewrite told as the other agents' verdicts are: agent log, protocol log, counters.
void log_outbound_rewrite(const receive::FinishedMessage& m, const agents::OutboundRewrite& r,
                          const queue::Envelope& copy, const std::string& message_id) {
    if (m.agent_log == nullptr || m.agent_session == nullptr) return;
    agents::Envelope seen;
    seen.sender = r.new_sender.empty() ? copy.sender : r.old_sender;
    for (const auto& rcpt : copy.recipients) seen.recipients.push_back(rcpt.address);
    seen.message_id = message_id;
    const agents::Verdict v = agents::outbound_rewrite_verdict(r);
    m.agent_log->record(agents::VerdictRecord{agents::AgentEvent::OnRoutedMessage, agents::kAddressRewritingOutboundAgent, v,
                                              m.agent_session->info, seen, {}});
}

// The SCL the Content Filter gave the message; -1 when it did not rate it.
int message_scl(const agents::AgentSession* session) {
    if (session == nullptr) return -1;
    auto it = session->info.properties.find(agents::content_filter_property::kScl);
    if (it == session->info.properties.end()) return -1;
    int v = -1;
    auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
    return ec == std::errc{} && v >= -1 && v <= 9 ? v : -1;
}

// A quarantined message tells whoever reads the quarantine mailbox whom it was for (the
// queue keeps them too: Get-Message OriginalRecipients). One address per folded line; no
// CR or LF from an address reaches the header.
std::string quarantine_recipients_field(const std::vector<std::string>& recipients) {
    std::string field = "X-Quarantine-Original-Recipients:";
    for (std::size_t i = 0; i < recipients.size(); ++i) {
        if (i != 0) field += ",\r\n\t";
        else field += ' ';
        for (char c : recipients[i])
            if (c != '\r' && c != '\n') field += c;
    }
    return field + "\r\n";
}

AcceptanceOutcome refused(smtp::ReplyId why, std::string text = {}) {
    AcceptanceOutcome o;
    o.result = AcceptanceOutcome::Result::Refused;
    o.refusal = why;
    o.refusal_text = std::move(text);
    return o;
}
}  // namespace

MessageAcceptance::MessageAcceptance(MessageQueue& queue, AcceptanceHooks hooks, AcceptanceSettings settings)
    : queue_(queue), hooks_(std::move(hooks)), settings_(std::move(settings)) {}

// GCC 12 sees Asio's awaitable frame allocated with aligned_alloc and freed by the
// frame's operator delete once this coroutine awaits another coroutine of a different
// result type, and calls it a mismatch (GCC PR 109224, a false positive fixed in GCC
// 14; ASan checks the real pairing at run time).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 14
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
asio::awaitable<AcceptanceOutcome> MessageAcceptance::accept(receive::FinishedMessage m) {
    smtp::Transaction& txn = *m.transaction;
    // The end-of-message agents run only when one of them would: most sessions have none.
    const bool agents_at_end =
        m.agents != nullptr && m.agent_session != nullptr &&
        (m.agents->any_runs(agents::AgentEvent::OnEndOfHeaders, *m.agent_session) ||
         m.agents->any_runs(agents::AgentEvent::OnEndOfData, *m.agent_session));
    HeaderSummary headers = scan_headers(txn.message.buffers(), m.max_header_size, agents_at_end);
    if (!headers.complete) co_return refused(smtp::ReplyId::HeaderTooBig);
    if (headers.received_count >= m.max_hop_count) co_return refused(smtp::ReplyId::HopCountExceeded);

    std::optional<std::string> from_field = headers.from;
    std::optional<std::string> client_message_id = headers.message_id;
    if (agents_at_end) {
        agents::Envelope seen = envelope_for_agents(txn, headers);
        agents::Decision d = co_await end_of_message_agents(m.agents, m.agent_session, m.agent_log, std::move(seen));
        if (d.reply) co_return refused(d.reply->id, std::move(d.reply->text));
        if (d.delete_message) {
            AcceptanceOutcome o;
            o.result = AcceptanceOutcome::Result::Deleted;
            o.message_id = client_message_id.value_or("");
            o.deleted_by = std::move(d.agent);
            co_return o;
        }
    }
    // What the agents changed (MessageEdit: a milter's modifications, a stripped
    // attachment, a quarantine redirect) is what gets committed.
    const agents::MessageChanges* changes =
        m.agent_session != nullptr && m.agent_session->changes.any() ? &m.agent_session->changes : nullptr;
    if (changes != nullptr && changes->message) {
        headers = scan_headers(*changes->message, m.max_header_size, false);
        if (!headers.complete) co_return refused(smtp::ReplyId::HeaderTooBig);
        from_field = headers.from;
        client_message_id = headers.message_id;
    }
    std::optional<std::string> auth_results;
    if (m.agent_session != nullptr)
        auth_results = authentication_results_value(settings_.auth_serv_id, m.agent_session->info.properties);

    auto now = std::chrono::system_clock::now();
    queue::NewMessage msg;
    auto& env = msg.envelope;
    ReceivedFields rf;
    rf.helo = m.helo_domain;
    rf.client_ip = m.client_ip;
    rf.by_fqdn = m.connector_fqdn;
    rf.local_ip = m.local_ip;
    rf.esmtp = m.esmtp;
    rf.tls = m.tls;
    rf.tls_version = m.tls_version;
    rf.tls_cipher = m.tls_cipher;
    rf.id = m.receive_id;
    rf.when = now;
    rf.pickup = m.pickup;
    msg.body.chunks.reserve(txn.message.buffers().size() + 4);
    msg.body.chunks.push_back(received_header(rf));
    // Ours first, so the hub meets the edge's verdict before any other (RFC 8601 §5).
    if (auth_results) msg.body.chunks.push_back("Authentication-Results: " + *auth_results + "\r\n");
    if (m.agent_session != nullptr)
        for (const auto& h : m.agent_session->stamped_headers) msg.body.chunks.push_back(stamped_field(h));
    if (changes != nullptr && !changes->redirected_to.empty() && !changes->original_recipients.empty())
        msg.body.chunks.push_back(quarantine_recipients_field(changes->original_recipients));
    std::string message_id;
    if (client_message_id && !client_message_id->empty()) {
        message_id = *client_message_id;
    } else {
        // Reference §10.4: a message without Message-ID gets one, in our FQDN.
        message_id = new_message_id(m.connector_fqdn);
        msg.body.chunks.push_back("Message-ID: " + message_id + "\r\n");
    }
    {
        std::vector<std::string> received =
            changes != nullptr && changes->message ? *changes->message : txn.message.take();
        std::vector<FieldSpan> forged;
        if (!settings_.auth_serv_id.empty() && !headers.authentication_results.empty())
            forged = forged_authentication_results(settings_.auth_serv_id, std::move(headers.authentication_results));
        // Exchange's organization headers (the SCL among them) from a session without
        // AcceptOrganizationHeaders are a stranger's: an internal hub's are trusted.
        if ((m.permissions & smtp::permission::AcceptOrganizationHeaders) == 0 && !headers.organization_headers.empty()) {
            forged.insert(forged.end(), headers.organization_headers.begin(), headers.organization_headers.end());
            std::sort(forged.begin(), forged.end(), [](const FieldSpan& a, const FieldSpan& b) { return a.offset < b.offset; });
        }
        if (!forged.empty()) remove_fields(received, forged);
        for (auto& c : received) msg.body.chunks.push_back(std::move(c));
    }
    env.sender = changes != nullptr && changes->sender ? *changes->sender : txn.sender.str();
    env.dsn_ret = dsn_ret(txn.ret);
    env.dsn_envid = txn.envid;
    env.smtputf8 = txn.smtputf8;
    env.arrival_time = std::chrono::time_point_cast<std::chrono::microseconds>(now);
    env.expiration_time = env.arrival_time + settings_.message_expiration;
    env.receive_connector = m.connector_name;
    env.client_address = m.client_ip;
    env.client_hostname = m.helo_domain;
    env.hop_count = headers.received_count + 1;
    env.internet_message_id = message_id;
    env.subject = headers.subject.value_or("");
    env.authentication_results = auth_results.value_or("");
    // Issue 19: the Content Filter's SCL and, for a quarantined message, whom it was for.
    env.scl = message_scl(m.agent_session);
    if (changes != nullptr && !changes->redirected_to.empty()) env.original_recipients = changes->original_recipients;
    // The categorizer: each recipient to its next-hop queue.
    const auto categorizer = settings_.categorizer;
    auto add_recipient = [&](queue::Recipient rcpt) {
        std::tie(rcpt.next_hop, rcpt.delivery_type) = config::queue_for(*categorizer, rcpt.address);
        env.recipients.push_back(std::move(rcpt));
    };
    if (changes != nullptr && changes->recipients) {
        // An agent's recipient list: a recipient the client gave keeps its DSN request.
        for (const auto& address : *changes->recipients) {
            queue::Recipient rcpt;
            rcpt.address = address;
            for (const auto& r : txn.recipients)
                if (text::iequals(r.address.str(), address)) {
                    rcpt.orcpt = r.orcpt;
                    rcpt.notify = r.notify;
                    break;
                }
            add_recipient(std::move(rcpt));
        }
    } else {
        for (auto& r : txn.recipients) {
            queue::Recipient rcpt;
            rcpt.address = r.address.str();
            rcpt.orcpt = r.orcpt;
            rcpt.notify = r.notify;
            add_recipient(std::move(rcpt));
        }
    }
    if (env.recipients.empty()) {
        // Every recipient removed (a milter's delrcpt): nothing to deliver, as a Delete.
        AcceptanceOutcome o;
        o.result = AcceptanceOutcome::Result::Deleted;
        o.message_id = message_id;
        o.deleted_by = "recipients removed";
        co_return o;
    }

    // The Address Rewriting Outbound Agent, Exchange's routing agent: now that each
    // recipient's next hop is known, and before signing (the signature covers what leaves).
    // A message for recipients inside and outside bifurcates as in Exchange: the outside
    // recipients get a rewritten copy, the others the message as it came; both copies are
    // committed before the one 250.
    std::vector<queue::NewMessage> copies;
    std::vector<std::optional<std::string>> copy_from{from_field};
    if (const agents::AddressRewritingOutboundAgent* rewriting = outbound_rewriting(m)) {
        std::vector<queue::Recipient> inside, outside;
        for (auto& r : env.recipients)
            (agents::leaves_organisation(*categorizer, r.address) ? outside : inside).push_back(std::move(r));
        env.recipients = std::move(inside);
        if (!outside.empty()) {
            queue::NewMessage copy;
            copy.envelope = env;
            copy.envelope.recipients = std::move(outside);
            // All outside: the one message is rewritten in place, nothing copied.
            const bool whole = env.recipients.empty();
            if (whole) copy.body.chunks = std::move(msg.body.chunks);
            else copy.body.chunks = msg.body.chunks;
            const agents::OutboundRewrite r = rewriting->rewrite_outbound(copy.body.chunks, copy.envelope.sender, m.max_header_size);
            if (r.any()) log_outbound_rewrite(m, r, copy.envelope, message_id);
            if (whole || !r.any()) {
                // One message: the rewritten one, or (nothing matched) the one as it came.
                if (!whole) env.recipients.insert(env.recipients.end(), copy.envelope.recipients.begin(),
                                                  copy.envelope.recipients.end());
                if (whole) {
                    msg.body.chunks = std::move(copy.body.chunks);
                    env = std::move(copy.envelope);
                    if (r.header_addresses != 0) copy_from[0] = scan_headers(msg.body.chunks, m.max_header_size, false).from;
                }
            } else {
                copy_from.push_back(r.header_addresses != 0 ? scan_headers(copy.body.chunks, m.max_header_size, false).from
                                                            : from_field);
                copies.push_back(std::move(copy));
            }
        }
    }
    copies.insert(copies.begin(), std::move(msg));

    // DKIM signing (issue 18) once, here, for mail the organisation sends (sessions with
    // ExchangeServers or ExchangeUsers rights): every delivery attempt sends the same bytes.
    for (std::size_t i = 0; i < copies.size(); ++i) {
        queue::NewMessage& copy = copies[i];
        if (settings_.dkim_sign && (m.permissions & smtp::permission::BypassAntiSpam) != 0) {
            if (std::string domain = from_domain(copy_from[i]); !domain.empty()) {
                // A copy: apply() may replace settings_ while the pool signs.
                auto sign = settings_.dkim_sign;
                const auto& chunks = copy.body.chunks;
                std::optional<std::string> signature =
                    co_await async::run_on(cpu_, [&sign, &domain, &chunks] { return sign(domain, chunks); });
                if (signature) copy.body.chunks.insert(copy.body.chunks.begin() + 1, std::move(*signature));
            }
        }
        copy.envelope.size = copy.body.size();
    }

    std::uint64_t size = 0;
    AcceptanceOutcome out;
    out.result = AcceptanceOutcome::Result::Queued;
    out.message_id = message_id;
    // One commit per copy, in order. A failure after the first copy is committed is told
    // to the client as any failed commit (it retries): the copy already queued is then
    // delivered twice — a duplicate, never a loss (RFC 5321 §6.1).
    for (std::size_t i = 0; i < copies.size(); ++i) {
        queue::NewMessage& copy = copies[i];
        const std::uint64_t copy_size = copy.envelope.size;
        // Reference §6.2: RECEIVE, once the message is committed; one per queued copy.
        std::optional<logging::TrackingEvent> received;
        if (hooks_.track) {
            received.emplace();
            received->event_id = std::string(logging::tracking_event::Receive);
            received->source = std::string(m.pickup ? logging::tracking_source::Pickup : logging::tracking_source::Smtp);
            received->client_ip = m.client_ip;
            received->client_hostname = copy.envelope.client_hostname;
            received->server_ip = m.local_ip;
            received->server_hostname = m.connector_fqdn;
            received->source_context = m.receive_id;
            received->connector_id = m.connector_name;
            received->message_id = message_id;
            for (const auto& r : copy.envelope.recipients) received->recipients.push_back(r.address);
            received->total_bytes = copy_size;
            received->subject = copy.envelope.subject;
            received->sender = copy.envelope.sender;
            received->return_path = copy.envelope.sender;
        }

        ++in_flight_;
        MessageQueue* sink = &queue_;
        auto [ec, id] = co_await async::await_completion<std::error_code, queue::MessageId>(
            [sink, &copy](MessageQueue::Done done) { sink->enqueue_async(std::move(copy), std::move(done)); });
        --in_flight_;
        if (ec) {
            AcceptanceOutcome failed;
            failed.result = AcceptanceOutcome::Result::Failed;
            failed.storage_full = ec == queue::QueueError::storage_full;
            failed.error = ec.message();
            if (failed.storage_full && hooks_.storage_full) hooks_.storage_full();
            co_return failed;
        }
        if (i == 0) out.queue_id = id;
        size += copy_size;
        if (received) {
            received->internal_message_id = id;
            hooks_.track(*received);
        }
    }
    out.size = size;
    if (hooks_.queued) hooks_.queued();
    co_return out;
}

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 14
#pragma GCC diagnostic pop
#endif

}  // namespace edge::server
