// The Connection Filtering Agent's IP lists: Add-/Get-/Remove-IPBlockListEntry and
// Add-/Get-/Remove-IPAllowListEntry (the config store's IPBlockListEntry /
// IPAllowListEntry objects, written through agents/ip_list_store.hpp, read live by the
// server at the next config generation). Set-/Get-IPBlockListConfig, -IPAllowListConfig
// and -TransportConfig are the settings table's singletons (config_cmdlets.cpp).
#include "cmdlet.hpp"

#include "ip_list_store.hpp"

#include <fmt/format.h>

#include <charconv>

namespace edge::cli {

namespace {
using agents::IpListKind;

std::string noun(IpListKind k) { return k == IpListKind::Block ? "IPBlockListEntry" : "IPAllowListEntry"; }

Record entry_record(const agents::IpListEntry& e) {
    Record r;
    r.add("Identity", Value::of_number(static_cast<double>(e.identity)));
    r.add("IPRange", Value::of_text(e.range.str()));
    r.add("ExpirationTime", Value::of_time_or_null(
                                e.expiration_time
                                    ? std::optional(std::chrono::time_point_cast<std::chrono::microseconds>(*e.expiration_time))
                                    : std::nullopt));
    r.add("Comment", Value::of_text_or_null(e.comment));
    r.add("IsMachine", Value::of_bool(e.is_machine));
    return r;
}
const std::vector<std::string> kIpListColumns{"Identity", "IPRange", "ExpirationTime", "Comment"};

std::uint64_t identity_of(const Invocation& inv, IpListKind kind) {
    const std::string* id = inv.get("Identity");
    if (id == nullptr || id->empty())
        fail(fmt::format("which {}? give its Identity (a number; 'edgectl Get-{}' lists them)", noun(kind), noun(kind)), 2);
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(id->data(), id->data() + id->size(), v);
    if (ec != std::errc{} || p != id->data() + id->size() || v == 0)
        fail(fmt::format("-Identity: '{}' is not an Identity; expected a whole number from 1 ('edgectl Get-{}' lists them)",
                         *id, noun(kind)),
             2);
    return v;
}

routing::IpAddress address_param(const std::string& text) {
    auto a = routing::IpAddress::parse(text);
    if (!a) fail(fmt::format("-IPAddress: '{}' is not an IP address: {}", text, a.error), 1);
    return *a;
}

Output add_entry(Context& ctx, const Invocation& inv, IpListKind kind) {
    const std::string* address = inv.get("IPAddress");
    const std::string* range = inv.get("IPRange");
    if ((address == nullptr) == (range == nullptr))
        fail("give either -IPAddress (one address) or -IPRange (an address, a range a-b or a CIDR block), not both", 2);
    std::string text = address != nullptr ? address_param(*address).str() : *range;
    std::optional<std::chrono::system_clock::time_point> expiration;
    if (inv.has("ExpirationTime")) expiration = time_param(inv, "ExpirationTime");
    const std::string* comment = inv.get("Comment");
    auto added = agents::add_ip_list_entry(*ctx.db, kind, text, expiration, comment ? *comment : "", false);
    if (!added.ok()) fail(added.error);
    Output out;
    for (auto& e : agents::load_ip_list_entries(*ctx.db, kind))
        if (e.identity == added.identity) out.records.push_back(entry_record(e));
    out.columns = kIpListColumns;
    out.note = added.warning;
    return out;
}

Output get_entries(Context& ctx, const Invocation& inv, IpListKind kind) {
    std::optional<std::uint64_t> id;
    if (inv.has("Identity")) id = identity_of(inv, kind);
    std::optional<routing::IpAddress> address;
    if (const std::string* a = inv.get("IPAddress")) address = address_param(*a);
    if (id && address) fail("give -Identity or -IPAddress, not both", 2);
    std::vector<Record> records;
    for (const auto& e : agents::load_ip_list_entries(*ctx.db, kind)) {
        if (id && e.identity != *id) continue;
        if (address && !e.range.contains(*address)) continue;
        records.push_back(entry_record(e));
    }
    if (id && records.empty())
        fail(fmt::format("no {} with Identity {}; 'edgectl Get-{}' lists them", noun(kind), *id, noun(kind)));
    Output out;
    out.records = select_records(std::move(records), inv, entry_record(agents::IpListEntry{}).names());
    out.columns = kIpListColumns;
    return out;
}

Output remove_entry(Context& ctx, const Invocation& inv, IpListKind kind) {
    if (auto err = agents::remove_ip_list_entry(*ctx.db, kind, identity_of(inv, kind)); !err.empty()) fail(err);
    return {};
}

void add_list_cmdlets(std::vector<Cmdlet>& table, IpListKind kind) {
    const std::string n = noun(kind);
    const std::string list = kind == IpListKind::Block ? "IP Block List" : "IP Allow List";
    const std::string what = kind == IpListKind::Block ? "refused at RCPT with 550 5.7.1, then disconnected"
                                                       : "bypasses the other anti-spam agents";
    table.push_back(Cmdlet{"Add-" + n,
                           fmt::format("Add an entry to the {} (a client it holds {}); prints the new entry", list, what),
                           {{"IPAddress", "IPAddress", "", "One address (IPv4 or IPv6); or give -IPRange"},
                            {"IPRange", "IPRange", "", "An address, a range 192.0.2.1-192.0.2.9 or a CIDR block 192.0.2.0/24"},
                            {"ExpirationTime", "DateTime", "",
                             "When the entry stops matching (local, or ...Z for UTC); none = never"},
                            {"Comment", "String", "", "Administrator's note (one line)"}},
                           true, [kind](Context& c, const Invocation& i) { return add_entry(c, i, kind); }});
    Cmdlet get{"Get-" + n, fmt::format("List the {}'s entries, one by Identity, or those holding an address", list),
               {{"Identity", "Int32", "", "One entry (optional)", false, false, true},
                {"IPAddress", "IPAddress", "", "The entries whose range holds this address"}},
               true, [kind](Context& c, const Invocation& i) { return get_entries(c, i, kind); }};
    for (auto& p : output_params()) get.params.push_back(std::move(p));
    table.push_back(std::move(get));
    table.push_back(Cmdlet{"Remove-" + n, fmt::format("Delete an entry of the {}", list),
                           {{"Identity", "Int32", "", "The entry's Identity", false, false, true},
                            {"Confirm", "Switch", "", "Accepted for Exchange scripts; edgectl never prompts", true}},
                           true, [kind](Context& c, const Invocation& i) { return remove_entry(c, i, kind); }});
}
}  // namespace

void add_connection_filter_cmdlets(std::vector<Cmdlet>& table) {
    add_list_cmdlets(table, IpListKind::Block);
    add_list_cmdlets(table, IpListKind::Allow);
}

}  // namespace edge::cli
