// Transport agents: Get-TransportAgent, Enable-/Disable-TransportAgent,
// Set-TransportAgent -Priority (the config store's TransportAgent objects, read live
// by the server at the next config generation), and Get-AgentLog (the AGENTLOG files).
#include "cmdlet.hpp"

#include "agent_config.hpp"
#include "agent_log.hpp"
#include "config_store.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>

namespace edge::cli {

namespace {

Record agent_record(const agents::TransportAgentConfig& a) {
    Record r;
    r.add("Identity", Value::of_text(a.identity));
    r.add("Enabled", Value::of_bool(a.enabled));
    r.add("Priority", Value::of_number(a.priority));
    return r;
}

const std::string& agent_identity(const Invocation& inv) {
    const std::string* id = inv.get("Identity");
    if (id == nullptr || id->empty()) fail("which transport agent? give its Identity ('edgectl Get-TransportAgent' lists them)", 2);
    return *id;
}

agents::TransportAgentConfig& find_agent(std::vector<agents::TransportAgentConfig>& all, const std::string& id) {
    for (auto& a : all)
        if (iequals(a.identity, id)) return a;
    fail(fmt::format("no transport agent named '{}'; 'edgectl Get-TransportAgent' lists them", id));
}

// Every agent that can be ordered is written with its place, so the order the
// administrator sees is the order stored, whatever agents a later version adds.
void write_agents(Context& ctx, const std::vector<agents::TransportAgentConfig>& all, std::uint64_t generation) {
    std::vector<queue::ConfigChange> changes;
    const std::string kind = config::to_string(config::ObjectKind::TransportAgent);
    for (const auto& a : all) {
        if (!a.can_disable) continue;
        config::ConfigObject o(config::ObjectKind::TransportAgent);
        if (auto err = o.set("Enabled", a.enabled ? "$true" : "$false"); !err.empty()) fail(err);
        if (auto err = o.set("Priority", std::to_string(a.priority)); !err.empty()) fail(err);
        changes.push_back({kind, a.identity, o.serialize()});
    }
    auto r = ctx.db->config_apply(std::move(changes), generation);
    if (!r) fail("the configuration changed meanwhile or could not be written (" + r.error().message() + "); nothing was changed");
}

Output get_transport_agent(Context& ctx, const Invocation& inv) {
    const std::string* id = inv.get("Identity");
    std::vector<Record> records;
    for (const auto& a : agents::load_transport_agents(*ctx.db))
        if (id == nullptr || iequals(a.identity, *id)) records.push_back(agent_record(a));
    if (id != nullptr && records.empty())
        fail(fmt::format("no transport agent named '{}'; 'edgectl Get-TransportAgent' lists them", *id));
    Output out;
    out.records = select_records(std::move(records), inv, {"Identity", "Enabled", "Priority"});
    out.columns = {"Identity", "Enabled", "Priority"};
    return out;
}

Output enable_transport_agent(Context& ctx, const Invocation& inv, bool enable) {
    const std::uint64_t generation = ctx.db->config_generation();
    auto all = agents::load_transport_agents(*ctx.db);
    auto& a = find_agent(all, agent_identity(inv));
    if (!a.can_disable) {
        if (enable) return {};  // it always runs
        fail(fmt::format("'{}' cannot be disabled: it is what keeps this edge from relaying mail for anyone (an open "
                         "relay, RFC 5321 §3.9, RFC 2505). To take mail for a domain, add it with New-AcceptedDomain; "
                         "to let a host relay, give its Receive connector the ExchangeServers or Partners permission",
                         a.identity));
    }
    a.enabled = enable;
    write_agents(ctx, all, generation);
    return {};
}

Output set_transport_agent(Context& ctx, const Invocation& inv) {
    const std::uint64_t generation = ctx.db->config_generation();
    auto all = agents::load_transport_agents(*ctx.db);
    const std::string& id = agent_identity(inv);
    find_agent(all, id);
    const std::string* p = inv.get("Priority");
    if (p == nullptr) fail("nothing to change; give -Priority", 2);
    char* end = nullptr;
    errno = 0;
    const long long priority = std::strtoll(p->c_str(), &end, 10);
    if (p->empty() || *end != '\0' || errno == ERANGE) fail(fmt::format("-Priority: '{}' is not a whole number", *p), 2);
    if (auto err = agents::move_agent(all, id, priority); !err.empty()) fail(err);
    write_agents(ctx, all, generation);
    return {};
}

Record log_record(const agents::AgentLogEntry& e) {
    Record r;
    r.add("Timestamp", Value::of_time(std::chrono::time_point_cast<std::chrono::microseconds>(e.timestamp)));
    r.add("SessionId", Value::of_text_or_null(e.session_id));
    r.add("IPAddress", Value::of_text_or_null(e.ip_address));
    r.add("MessageId", Value::of_text_or_null(e.message_id));
    r.add("P1FromAddress", Value::of_text_or_null(e.p1_from));
    r.add("P2FromAddresses", Value::of_list(e.p2_from));
    r.add("Recipients", Value::of_list(e.recipients));
    r.add("Agent", Value::of_text_or_null(e.agent));
    r.add("Event", Value::of_text_or_null(e.event));
    r.add("Action", Value::of_text_or_null(e.action));
    r.add("SmtpResponse", Value::of_text_or_null(e.smtp_response));
    r.add("Reason", Value::of_text_or_null(e.reason));
    r.add("ReasonData", Value::of_text_or_null(e.reason_data));
    r.add("Diagnostics", Value::of_text_or_null(e.diagnostics));
    return r;
}

Output get_agent_log(Context& ctx, const Invocation& inv) {
    const auto settings = agents::agent_log_settings(
        config::transport_server_settings(config::load_singleton(*ctx.db, config::ObjectKind::TransportServer)),
        ctx.data_directory);
    std::optional<queue::Timestamp> start, end;
    if (inv.has("StartDate")) start = time_param(inv, "StartDate");
    if (inv.has("EndDate")) end = time_param(inv, "EndDate");
    const std::string* agent = inv.get("Agent");
    std::vector<Record> records;
    for (const auto& e : agents::read_agent_logs(settings.directory)) {
        auto t = std::chrono::time_point_cast<std::chrono::microseconds>(e.timestamp);
        if ((start && t < *start) || (end && t > *end)) continue;
        if (agent && !iequals(e.agent, *agent)) continue;
        records.push_back(log_record(e));
    }
    Output out;
    out.records = select_records(std::move(records), inv, log_record(agents::AgentLogEntry{}).names());
    out.columns = {"Timestamp", "Agent", "Event", "Action", "Recipients", "SmtpResponse"};
    // Exchange prints agent log entries as lists.
    out.list_by_default = true;
    return out;
}

}  // namespace

void add_agent_cmdlets(std::vector<Cmdlet>& table) {
    const ParamDef identity{"Identity", "String", "", "The agent's name, as Get-TransportAgent shows it", false, false, true};
    Cmdlet get{"Get-TransportAgent", "List the transport agents: Identity, Enabled, Priority (the order they run in)",
               {{"Identity", "String", "", "One agent (optional)", false, false, true}}, true, get_transport_agent};
    for (auto& p : output_params()) get.params.push_back(std::move(p));
    table.push_back(std::move(get));
    table.push_back(Cmdlet{"Enable-TransportAgent", "Let a transport agent run (applies to new sessions)", {identity}, true,
                           [](Context& c, const Invocation& i) { return enable_transport_agent(c, i, true); }});
    table.push_back(Cmdlet{"Disable-TransportAgent",
                           "Stop a transport agent (applies to new sessions; Relay Control cannot be disabled)", {identity},
                           true, [](Context& c, const Invocation& i) { return enable_transport_agent(c, i, false); }});
    table.push_back(Cmdlet{"Set-TransportAgent", "Change where a transport agent runs in the order",
                           {identity,
                            {"Priority", "Int32", "", "1 runs first; the others close up behind it (Relay Control stays 0)"}},
                           true, set_transport_agent});
    Cmdlet log{"Get-AgentLog", "Search the agent log: every agent verdict that was not Continue",
               {{"StartDate", "DateTime", "", "Entries at or after this time (local, or ...Z for UTC)"},
                {"EndDate", "DateTime", "", "Entries at or before this time"},
                {"Agent", "String", "", "Entries of this agent only (\"Recipient Filter Agent\")"}},
               true, get_agent_log};
    for (auto& p : output_params()) log.params.push_back(std::move(p));
    table.push_back(std::move(log));
}

}  // namespace edge::cli
