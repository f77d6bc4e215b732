// Sender reputation: Get-SenderReputation -IPAddress shows what the Protocol Analysis
// agent knows of one client address (its SRL and why, messages, HELO and reverse-DNS
// findings, a block). Get-/Set-SenderReputationConfig come from the settings table.
#include "cmdlet.hpp"

#include "queue_db.hpp"
#include "sender_reputation.hpp"

#include <fmt/format.h>

namespace edge::cli {

namespace {

queue::Timestamp stamp(agents::Seconds s) {
    return queue::Timestamp(std::chrono::duration_cast<std::chrono::microseconds>(s.time_since_epoch()));
}

Output get_sender_reputation(Context& ctx, const Invocation& inv) {
    const std::string* ip = inv.get("IPAddress");
    if (ip == nullptr || ip->empty()) fail("which address? give -IPAddress (for example 192.0.2.1 or 2001:db8::1)", 2);
    auto parsed = routing::IpAddress::parse(*ip);
    if (!parsed.value)
        fail(fmt::format("-IPAddress: {}", parsed.error));
    const std::string key = agents::reputation_key(*parsed.value);
    auto stored = ctx.db->reputation_get(key);
    if (!stored) fail(fmt::format("no sender reputation for {}: the edge has not seen it (or forgot it)", parsed.value->str()));
    std::string why;
    auto p = agents::decode_sender_profile(*stored, &why);
    if (!p) fail(fmt::format("the sender reputation record of {} cannot be read: {}", parsed.value->str(), why));
    const auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    const agents::SrlResult srl = agents::sender_reputation_level(*p, now);
    const bool blocked = p->blocked_until > now;
    Record r;
    r.add("IPAddress", Value::of_text(parsed.value->str()));
    // The level stored at the last message (after a block it is the level that blocked).
    r.add("SenderReputationLevel", Value::of_number(p->srl));
    r.add("Reason", Value::of_text(p->block_reason.empty() || !blocked ? srl.why() : p->block_reason));
    r.add("MessagesSeen", Value::of_number(p->messages));
    r.add("FirstSeen", Value::of_time(stamp(p->first_seen)));
    r.add("LastSeen", Value::of_time(stamp(p->last_seen)));
    r.add("HeloCommands", Value::of_number(p->helos));
    r.add("DistinctHeloNames", Value::of_number(static_cast<double>(p->helo_names.size())));
    r.add("LastHelo", Value::of_text_or_null(p->last_helo));
    r.add("HeloIpLiteralMismatches", Value::of_number(p->helo_literal_mismatch));
    r.add("HeloClaimsOurs", Value::of_number(p->helo_claims_ours));
    r.add("HeloPtrMismatches", Value::of_number(p->helo_ptr_mismatch));
    r.add("ReverseDns", Value::of_text(agents::to_string(p->reverse_dns)));
    r.add("PtrName", Value::of_text_or_null(p->ptr_name));
    r.add("RejectionsLastDay", Value::of_number(p->rejections_last_day(now)));
    r.add("EarlyTalker", Value::of_number(p->early_talker));
    r.add("Blocked", Value::of_bool(blocked));
    r.add("BlockedUntil", Value::of_time_or_null(p->blocked_until == agents::Seconds{}
                                                     ? std::nullopt
                                                     : std::optional<queue::Timestamp>(stamp(p->blocked_until))));
    Output out;
    out.records = select_records({std::move(r)}, inv,
                                 {"IPAddress", "SenderReputationLevel", "MessagesSeen", "ReverseDns", "Blocked", "Reason"});
    out.columns = {"IPAddress", "SenderReputationLevel", "MessagesSeen", "ReverseDns", "Blocked", "Reason"};
    return out;
}

}  // namespace

void add_reputation_cmdlets(std::vector<Cmdlet>& table) {
    Cmdlet get{"Get-SenderReputation",
               "Show what the Protocol Analysis agent knows of a client address: its SRL and why, messages seen, HELO and "
               "reverse-DNS findings, a block",
               {{"IPAddress", "IPAddress", "", "The client's address (IPv4 or IPv6)", false, false, true}},
               true,
               get_sender_reputation};
    for (auto& p : output_params()) get.params.push_back(std::move(p));
    table.push_back(std::move(get));
}

}  // namespace edge::cli
