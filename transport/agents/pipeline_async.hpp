// Agents with I/O (a DNS lookup, a milter): an AsyncAgent answers as an Asio C++20
// coroutine, and gather_async() asks every one that runs at an event, one after the
// other in pipeline order, each bounded by its own timeout on a timer of the
// session's executor — so a slow agent costs that session at most its timeout and
// never blocks the I/O thread. Pipeline::run (pure) then combines their answers.
#pragma once

#include "pipeline.hpp"

#include <optional>
#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

namespace edge::agents {

class AsyncAgent : public Agent {
public:
    bool is_async() const final { return true; }
    // Called only at events where is_async_at() is false (Pipeline::run takes the other
    // answers from the session); an agent async everywhere never gets here.
    Verdict on_event(AgentEvent, const SessionInfo&, const Envelope&) const override { return timeout_verdict(*this); }
    // The answer. Cancelled (per-operation cancellation) when the timeout passes first;
    // an exception counts as no answer.
    virtual boost::asio::awaitable<Verdict> on_event_async(AgentEvent e, const SessionInfo& session,
                                                           const Envelope& envelope) const = 0;
};

// Asks the async agents that run at `e`, in order, and keeps each answer (or, when
// the timeout passed first or the agent threw, timeout_verdict()) in
// s.async_answers for the Pipeline::run that follows. Stops at the first answer that
// rejects or disconnects: the agents after it would not run.
inline boost::asio::awaitable<void> gather_async(const Pipeline& pipeline, AgentEvent e, AgentSession& s,
                                                 const Envelope& given) {
    using namespace boost::asio::experimental::awaitable_operators;
    namespace asio = boost::asio;
    auto ex = co_await asio::this_coro::executor;
    // What the agents asked see: the message as given until one of them changes it.
    std::optional<Envelope> changed;
    for (const auto& entry : pipeline.entries()) {
        const Envelope& envelope = changed ? *changed : given;
        if (!entry.agent->is_async_at(e) || !Pipeline::runs(entry, e, s)) continue;
        const auto& agent = static_cast<const AsyncAgent&>(*entry.agent);
        asio::steady_timer timer(ex, agent.timeout());
        // Whichever completes first wins; the other is cancelled. An answer that
        // throws is not a success, so the timer decides (wait_for_one_success).
        Verdict v;
        try {
            auto r = co_await (agent.on_event_async(e, s.info, envelope) ||
                               timer.async_wait(asio::as_tuple(asio::use_awaitable)));
            if (r.index() == 0) v = std::move(std::get<0>(r));
            else v = timeout_verdict(agent);
        } catch (const std::exception& ex_) {
            v = timeout_verdict(agent);
            v.diagnostics = ex_.what();
        }
        const bool final = v.action == AgentAction::Reject || v.action == AgentAction::Disconnect;
        // What it found is there for the agents asked after it at this event (DMARC reads
        // DKIM's results), as in a pipeline run one agent after the other; run() sets
        // the same values again.
        for (const auto& [k, val] : v.properties) s.info.properties[k] = val;
        if (v.edit && (v.action == AgentAction::Continue || v.action == AgentAction::Stamp)) {
            if (!changed) changed.emplace(given);
            apply_edit(s.changes, *v.edit, *changed);
        }
        s.async_answers[std::string(agent.name())] = std::move(v);
        if (final) break;
    }
}

// An event whose agents may do I/O, run in full: gather, then decide.
inline boost::asio::awaitable<Decision> run_async(const Pipeline& pipeline, AgentEvent e, AgentSession& s,
                                                  const Envelope& envelope, VerdictSink* sink) {
    if (pipeline.has_async(e, s)) co_await gather_async(pipeline, e, s, envelope);
    co_return pipeline.run(e, s, envelope, sink);
}

}  // namespace edge::agents
