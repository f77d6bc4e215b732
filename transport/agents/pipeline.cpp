// The agent pipeline's decisions: order, who runs, and how verdicts combine. No I/O
// (see pipeline.hpp); the async answers arrive in AgentSession::async_answers.
#include "pipeline.hpp"

#include "address.hpp"
#include "text_helpers.hpp"

#include <algorithm>
#include <strings.h>

namespace edge::agents {

const char* to_string(AgentEvent e) {
    switch (e) {
        case AgentEvent::OnConnect: return "OnConnectEvent";
        case AgentEvent::OnHeloCommand: return "OnHeloCommand";
        case AgentEvent::OnEhloCommand: return "OnEhloCommand";
        case AgentEvent::OnMailCommand: return "OnMailCommand";
        case AgentEvent::OnRcptCommand: return "OnRcptCommand";
        case AgentEvent::OnDataCommand: return "OnDataCommand";
        case AgentEvent::OnEndOfHeaders: return "OnEndOfHeaders";
        case AgentEvent::OnEndOfData: return "OnEndOfData";
        case AgentEvent::OnSubmittedMessage: return "OnSubmittedMessage";
        case AgentEvent::OnResolvedMessage: return "OnResolvedMessage";
        case AgentEvent::OnRoutedMessage: return "OnRoutedMessage";
    }
    return "?";
}

std::string_view action_name(AgentAction a, AgentEvent e) {
    switch (a) {
        case AgentAction::Continue: return "Continue";
        case AgentAction::Reject:
            // Exchange's words: a refusal at a command refuses that command; at the end of
            // headers or data it refuses the message; at connect, the connection.
            if (e == AgentEvent::OnConnect) return "RejectConnection";
            if (e == AgentEvent::OnEndOfHeaders || e == AgentEvent::OnEndOfData || e >= AgentEvent::OnSubmittedMessage)
                return "RejectMessage";
            return "RejectCommand";
        case AgentAction::Disconnect: return "Disconnect";
        case AgentAction::Tarpit: return "Tarpit";
        case AgentAction::Stamp: return "Stamp";
        case AgentAction::SkipOtherAgents: return "SkipOtherAgents";
        case AgentAction::Delete: return "DeleteMessage";
    }
    return "?";
}

Verdict Verdict::reject(smtp::ReplyId reply, std::string reason, std::string reason_data) {
    Verdict v;
    v.action = AgentAction::Reject;
    v.reply = reply;
    v.reason = std::move(reason);
    v.reason_data = std::move(reason_data);
    return v;
}

Verdict Verdict::reject_with(smtp::ReplyId reply, std::string text, std::string reason, std::string reason_data) {
    Verdict v = reject(reply, std::move(reason), std::move(reason_data));
    v.reply_text = std::move(text);
    return v;
}

Verdict Verdict::disconnect(std::string reason, smtp::ReplyId reply) {
    Verdict v;
    v.action = AgentAction::Disconnect;
    v.reply = reply;
    v.reason = std::move(reason);
    return v;
}

Verdict Verdict::tarpit(std::chrono::milliseconds delay, std::string reason) {
    Verdict v;
    v.action = AgentAction::Tarpit;
    v.delay = delay;
    v.reason = std::move(reason);
    return v;
}

Verdict Verdict::stamp_header(std::string name, std::string value) {
    Verdict v;
    v.action = AgentAction::Stamp;
    v.headers.emplace_back(std::move(name), std::move(value));
    return v;
}

Verdict Verdict::set_property(std::string name, std::string value) {
    Verdict v;
    v.action = AgentAction::Stamp;
    v.properties.emplace(std::move(name), std::move(value));
    return v;
}

Verdict Verdict::skip_other_agents(std::string reason) {
    Verdict v;
    v.action = AgentAction::SkipOtherAgents;
    v.reason = std::move(reason);
    return v;
}

Verdict Verdict::delete_message(std::string reason, std::string reason_data) {
    Verdict v;
    v.action = AgentAction::Delete;
    v.reason = std::move(reason);
    v.reason_data = std::move(reason_data);
    return v;
}

Verdict timeout_verdict(const Agent& agent) {
    Verdict v;
    if (agent.timeout_action() == TimeoutAction::TempFail) {
        v.action = AgentAction::Reject;
        v.reply = smtp::ReplyId::AgentTemporaryFailure;
    }
    v.timed_out = true;
    v.reason = "AgentTimeout";
    v.reason_data = std::to_string(agent.timeout().count()) + "ms";
    return v;
}

Pipeline::Pipeline(std::vector<Entry> entries) : entries_(std::move(entries)) {
    std::stable_sort(entries_.begin(), entries_.end(),
                     [](const Entry& a, const Entry& b) { return a.settings.priority < b.settings.priority; });
    any_async_ = std::any_of(entries_.begin(), entries_.end(), [](const Entry& e) { return e.agent->is_async(); });
}

const Pipeline::Entry* Pipeline::find(std::string_view name) const {
    for (const auto& e : entries_) {
        std::string_view n = e.agent->name();
        if (n.size() == name.size() && ::strncasecmp(n.data(), name.data(), n.size()) == 0) return &e;
    }
    return nullptr;
}

bool Pipeline::runs(const Entry& entry, AgentEvent e, const AgentSession& s) {
    const Agent& a = *entry.agent;
    // An agent that cannot be disabled (relay control) runs whatever its settings say.
    if (a.can_disable() && !entry.settings.enabled) return false;
    if (!a.handles(e)) return false;
    if (a.can_disable()) {
        if (s.info.internal ? !entry.settings.internal_mail_enabled : !entry.settings.external_mail_enabled) return false;
    }
    if (a.anti_spam() && (s.info.allow_listed || s.message_bypassed)) return false;
    return true;
}

bool Pipeline::has_async(AgentEvent e, const AgentSession& s) const {
    return std::any_of(entries_.begin(), entries_.end(),
                       [&](const Entry& en) { return en.agent->is_async_at(e) && runs(en, e, s); });
}

void apply_edit(MessageChanges& changes, const MessageEdit& edit, Envelope& view) {
    if (edit.message) {
        changes.message = edit.message;
        changes.headers = edit.headers;
        view.message = changes.message.get();
        view.headers = edit.headers;
        std::uint64_t size = 0;
        for (const auto& c : *edit.message) size += c.size();
        view.size = size;
    }
    if (edit.sender) {
        changes.sender = edit.sender;
        view.sender = *edit.sender;
    }
    if (!edit.rewrite_recipient.empty()) {
        changes.rewritten_recipient = edit.rewrite_recipient;
        view.recipient = edit.rewrite_recipient;
        // The agents after it (the Recipient Filter's accepted-domain test) see its domain.
        if (auto m = smtp::split_mailbox(edit.rewrite_recipient)) view.recipient_domain = m->domain;
    }
    if (!edit.add_recipients.empty() || !edit.remove_recipients.empty() || !edit.redirect_to.empty()) {
        std::vector<std::string> list = changes.recipients.value_or(view.recipients);
        auto has = [&list](std::string_view a) {
            return std::any_of(list.begin(), list.end(), [a](const std::string& r) { return text::iequals(r, a); });
        };
        for (const auto& a : edit.add_recipients)
            if (!has(a)) list.push_back(a);
        for (const auto& r : edit.remove_recipients)
            std::erase_if(list, [&r](const std::string& x) { return text::iequals(x, r); });
        if (!edit.redirect_to.empty() && changes.redirected_to.empty()) {
            changes.original_recipients = list;
            changes.redirected_to = edit.redirect_to;
        }
        if (!changes.redirected_to.empty()) list = {changes.redirected_to};
        changes.recipients = list;
        view.recipients = std::move(list);
    }
}

Decision Pipeline::run(AgentEvent e, AgentSession& s, const Envelope& given, VerdictSink* sink) const {
    Decision d;
    // What the agents see: the message as given until an agent changes it.
    std::optional<Envelope> changed;
    for (const auto& entry : entries_) {
        const Envelope& envelope = changed ? *changed : given;
        // Looked at agent by agent: an earlier verdict may allow-list the session or
        // bypass the message for the ones after it.
        if (!runs(entry, e, s)) continue;
        const Agent& agent = *entry.agent;
        Verdict v;
        if (agent.is_async_at(e)) {
            auto it = s.async_answers.find(agent.name());
            if (it != s.async_answers.end()) {
                v = std::move(it->second);
                s.async_answers.erase(it);
            } else {
                v = timeout_verdict(agent);  // never asked, or never answered: as a timeout
            }
        } else {
            v = agent.on_event(e, s.info, envelope);
        }
        if (v.action == AgentAction::Disconnect && !smtp::reply_entry(v.reply).closes) v.reply = smtp::ReplyId::AgentDisconnect;
        if (sink != nullptr && (v.action != AgentAction::Continue || v.timed_out || v.edit)) {
            std::string response;
            if (v.action == AgentAction::Reject || v.action == AgentAction::Disconnect)
                response = smtp::render(smtp::AgentReply{v.reply, v.reply_text});
            sink->record(VerdictRecord{e, agent.name(), v, s.info, envelope, std::move(response)});
        }
        if (v.allow_list_session) s.info.allow_listed = true;
        for (auto& [k, val] : v.properties) s.info.properties[k] = val;
        for (auto& h : v.headers) s.stamped_headers.push_back(h);
        if (v.edit && (v.action == AgentAction::Continue || v.action == AgentAction::Stamp)) {
            if (!changed) changed.emplace(given);
            apply_edit(s.changes, *v.edit, *changed);
        }
        switch (v.action) {
            case AgentAction::Continue:
            case AgentAction::Stamp: break;
            case AgentAction::Tarpit:
                d.delay += v.delay;
                s.pending_delay += v.delay;
                break;
            case AgentAction::SkipOtherAgents: s.message_bypassed = true; break;
            case AgentAction::Delete:
                // The message is gone: no later agent needs to judge it.
                d.delete_message = true;
                d.agent = std::string(agent.name());
                s.async_answers.clear();
                return d;
            case AgentAction::Reject:
            case AgentAction::Disconnect:
                d.reply = smtp::AgentReply{v.reply, std::move(v.reply_text)};
                d.agent = std::string(agent.name());
                s.async_answers.clear();  // answers for agents that will not run now
                return d;
        }
    }
    s.async_answers.clear();
    return d;
}

}  // namespace edge::agents
