// The Milter Agent (see the header): the milters asked one after the other, each told the
// message as the milters before it left it; their answers combined into one verdict.
#include "milter_agent.hpp"

#include "config_store.hpp"
#include "milter_client.hpp"
#include "milter_protocol.hpp"
#include "text_helpers.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace edge::agents {

namespace {
using config::MilterDefaultAction;
using config::MilterVerdictHandling;
using MV = milter::Verdict;

// Postfix's milter_content_timeout: the longest a whole conversation may take, however
// often the milter says it is still working.
constexpr std::chrono::seconds kContentTimeout{300};

std::chrono::milliseconds deadline_of(const config::MilterServerSettings& m) {
    return m.connect_timeout + m.command_timeout + kContentTimeout;
}

// The ContentFilter verdicts, weakest first (milter_property::kVerdict).
int strength(std::string_view v) {
    constexpr std::string_view order[] = {"accept", "continue", "quarantine", "tempfail", "reject", "discard"};
    for (int i = 0; i < 6; ++i)
        if (order[i] == v) return i;
    return -1;
}

void remove_address(std::vector<std::string>& list, std::string_view a) {
    std::erase_if(list, [&](const std::string& r) { return text::iequals(r, a); });
}
}  // namespace

std::vector<config::MilterServerSettings> load_milter_servers(const queue::QueueDb& db) {
    std::vector<config::MilterServerSettings> out;
    for (const auto& s : config::load_objects(db, config::ObjectKind::MilterServer)) {
        auto m = config::milter_server_settings(s.object);
        if (m.enabled) out.push_back(std::move(m));
    }
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return std::tie(a.priority, a.name) < std::tie(b.priority, b.name);
    });
    return out;
}

MilterAgent::MilterAgent(std::vector<config::MilterServerSettings> milters, std::string server_fqdn,
                         std::map<std::string, std::uint64_t, std::less<>> max_message_sizes)
    : milters_(std::move(milters)), server_fqdn_(std::move(server_fqdn)), max_message_sizes_(std::move(max_message_sizes)) {
    for (const auto& m : milters_) timeout_ += deadline_of(m);
    timeout_ += std::chrono::seconds(5);
}

boost::asio::awaitable<Verdict> MilterAgent::on_event_async(AgentEvent, const SessionInfo& session,
                                                             const Envelope& envelope) const {
    agents::Verdict v;
    if (envelope.message == nullptr) co_return v;
    std::string whole;
    whole.reserve(envelope.size + 1024);
    for (const auto& chunk : *envelope.message) whole += chunk;
    auto [fields, body] = milter::split_message(whole);
    std::string().swap(whole);

    std::uint64_t max_size = 10u << 20;
    if (auto it = max_message_sizes_.find(session.connector); it != max_message_sizes_.end()) max_size = it->second;

    std::string sender = envelope.sender;
    std::vector<std::string> recipients = envelope.recipients;
    MessageEdit edit;
    bool message_changed = false;
    std::vector<std::string> said;  // "<name>: <verdict>" for the agent log
    std::string strongest;          // ContentFilter
    const config::MilterServerSettings* strongest_by = nullptr;
    std::string strongest_reply;

    auto finish_log = [&](agents::Verdict& out) {
        out.reason = "milter";
        out.reason_data = fmt::format("{}", fmt::join(said, ", "));
    };

    for (const auto& m : milters_) {
        milter::MessageFacts facts;
        facts.client_addr = session.remote_ip;
        facts.client_name = session.remote_ip.empty() ? "unknown" : "[" + session.remote_ip + "]";
        facts.helo = session.helo;
        facts.sender = sender;
        facts.recipients = recipients;
        facts.headers = fields;
        facts.body = body;
        facts.max_message_size = max_size;
        facts.macros = {{"j", server_fqdn_},
                        {"{daemon_name}", session.connector},
                        {"{daemon_addr}", session.local_ip},
                        {"v", "edge-transport"},
                        {"_", facts.client_name},
                        {"{client_addr}", session.remote_ip},
                        {"{client_name}", facts.client_name},
                        {"i", session.session_id}};
        milter::MilterTarget target{m.name, m.address, m.connect_timeout, m.command_timeout, deadline_of(m)};
        milter::Outcome o = co_await milter::converse(target, std::move(facts));

        std::string verdict(milter::to_string(o.verdict));
        if (o.verdict == MV::Failed) {
            said.push_back(fmt::format("{}: failed ({}), DefaultAction {}", m.name, o.error, config::to_name(m.default_action)));
            if (m.default_action == MilterDefaultAction::Accept) continue;
            agents::Verdict r = agents::Verdict::reject(
                m.default_action == MilterDefaultAction::Reject ? smtp::ReplyId::MilterRejected : smtp::ReplyId::MilterTempFailed,
                "milter");
            r.diagnostics = o.error;
            finish_log(r);
            co_return r;
        }
        if (!o.quarantine.empty()) {
            v.properties[std::string(milter_property::kQuarantine)] = o.quarantine;
            if (o.verdict == MV::Continue || o.verdict == MV::Accept) verdict = "quarantine";
        }
        const bool apply = m.verdict_handling == MilterVerdictHandling::Apply;
        // A tempfail for one recipient cannot be said after DATA: the whole message is
        // tempfailed, so the client retries it and no recipient loses it.
        if (apply && !o.tempfailed_recipients.empty() && o.verdict != MV::Reject) o.verdict = MV::TempFail;
        said.push_back(fmt::format("{}: {}{}", m.name, o.verdict == MV::TempFail ? "tempfail" : verdict,
                                   o.reply.empty() ? "" : " (" + o.reply + ")"));
        if (apply) {
            if (o.verdict == MV::Reject || o.verdict == MV::TempFail) {
                agents::Verdict r = agents::Verdict::reject_with(
                    o.verdict == MV::Reject ? smtp::ReplyId::MilterRejected : smtp::ReplyId::MilterTempFailed, o.reply,
                    "milter");
                finish_log(r);
                co_return r;
            }
            if (o.verdict == MV::Discard) {
                agents::Verdict r = agents::Verdict::delete_message("milter");
                finish_log(r);
                co_return r;
            }
            for (const auto& r : o.rejected_recipients) {
                remove_address(recipients, r);
                edit.remove_recipients.push_back(r);
            }
        } else {
            if (o.verdict == MV::TempFail && verdict != "tempfail") verdict = "tempfail";
            if (strength(verdict) > strength(strongest)) {
                strongest = verdict;
                strongest_by = &m;
                strongest_reply = o.reply;
            }
        }
        // Modifications apply in either mode (they come only with continue or accept).
        const auto& mods = o.modifications;
        if (!mods.headers.empty() || mods.body) {
            fields = milter::apply_header_changes(std::move(fields), mods.headers);
            if (mods.body) body = *mods.body;
            message_changed = true;
        }
        if (mods.sender) {
            sender = *mods.sender;
            edit.sender = sender;
        }
        for (const auto& r : mods.remove_recipients) {
            remove_address(recipients, r);
            edit.remove_recipients.push_back(r);
        }
        for (const auto& r : mods.add_recipients) {
            if (std::none_of(recipients.begin(), recipients.end(), [&](const auto& x) { return text::iequals(x, r); }))
                recipients.push_back(r);
            std::erase_if(edit.remove_recipients, [&](const std::string& x) { return text::iequals(x, r); });
            edit.add_recipients.push_back(r);
        }
    }
    if (strongest_by != nullptr) {
        v.properties[std::string(milter_property::kVerdict)] = strongest;
        v.properties[std::string(milter_property::kReply)] = strongest_reply;
        v.properties[std::string(milter_property::kServer)] = strongest_by->name;
    }
    // Every milter refused every recipient it was told of: nothing is left to deliver.
    if (recipients.empty() && !envelope.recipients.empty()) {
        agents::Verdict r = agents::Verdict::reject(smtp::ReplyId::MilterRejected, "milter");
        finish_log(r);
        co_return r;
    }
    if (message_changed) {
        auto msg = std::make_shared<std::vector<std::string>>();
        msg->push_back(milter::join_message(fields, body));
        edit.message = std::move(msg);
        for (const auto& [name, raw] : fields)
            if (!name.empty()) edit.headers.emplace_back(name, milter::unfolded_value(raw));
    }
    if (!edit.empty()) v.edit = std::move(edit);
    // Stamp (with no header): the agent log has each message's milter outcomes.
    v.action = AgentAction::Stamp;
    finish_log(v);
    co_return v;
}

}  // namespace edge::agents
