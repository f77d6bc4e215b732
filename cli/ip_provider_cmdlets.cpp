// IP Block List providers (DNSBL) and IP Allow List providers (DNSWL):
//   Add-/Get-/Set-/Remove-IPBlockListProvider, Add-/Get-/Set-/Remove-IPAllowListProvider
//   (Priority kept 1..N as Exchange keeps it), and Test-IPBlockListProvider /
//   Test-IPAllowListProvider, which ask DNS from here and say what the agent would see.
// Their configurations (Get-/Set-IPBlockListProvidersConfig, -IPAllowListProvidersConfig)
// are singletons of config_cmdlets.cpp.
#include "cmdlet.hpp"

#include "config_store.hpp"
#include "dns_resolver.hpp"
#include "ip_provider_lookup.hpp"
#include "ip_provider_match.hpp"
#include "settings.hpp"
#include "typed_settings.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <exception>
#include <optional>

namespace edge::cli {

namespace {
using config::ConfigObject;
using config::ObjectKind;
namespace asio = boost::asio;

bool is_block(ObjectKind kind) { return kind == ObjectKind::IPBlockListProvider; }

// The providers of a kind in their order: by Priority, then by name (two equal
// priorities come only from records written by hand; the order is still stable).
std::vector<config::StoredObject> providers_in_order(const queue::QueueDb& db, ObjectKind kind) {
    auto all = config::load_objects(db, kind);
    std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
        const auto pa = a.object.get_uint("Priority"), pb = b.object.get_uint("Priority");
        return pa != pb ? pa < pb : text::to_lower(a.name) < text::to_lower(b.name);
    });
    return all;
}

std::string noun(ObjectKind kind) { return config::to_string(kind); }

std::size_t find_provider(const std::vector<config::StoredObject>& all, ObjectKind kind, const std::string& id) {
    for (std::size_t i = 0; i < all.size(); ++i)
        if (iequals(all[i].name, id)) return i;
    fail(fmt::format("no {} named '{}'; 'edgectl Get-{}' lists them", noun(kind), id, noun(kind)));
}

const std::string& identity(const Invocation& inv, ObjectKind kind) {
    const std::string* id = inv.get("Identity");
    if (id == nullptr || id->empty()) fail(fmt::format("which {}? give its Identity (Name)", noun(kind)), 2);
    return *id;
}

// -Priority as given: a whole number from 1 to `last`.
std::optional<long long> priority_param(const Invocation& inv, long long last) {
    const std::string* p = inv.get("Priority");
    if (p == nullptr) return std::nullopt;
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(p->c_str(), &end, 10);
    if (p->empty() || *end != '\0' || errno == ERANGE) fail(fmt::format("-Priority: '{}' is not a whole number", *p), 2);
    if (v < 1 || v > last)
        fail(fmt::format("-Priority: {} is out of range; expected 1 to {} (the providers' places, 1 asked first)", v, last));
    return v;
}

// Writes `order` renumbered 1..N (each object whose record changed), plus the removal
// of `removed` and `renamed_from`, in one transaction at `generation`.
void write_order(Context& ctx, ObjectKind kind, std::vector<config::StoredObject> order, std::uint64_t generation,
                 const std::vector<std::string>& removed) {
    std::vector<queue::ConfigChange> changes;
    const std::string k = noun(kind);
    for (const auto& name : removed) changes.push_back({k, name, std::nullopt});
    for (std::size_t i = 0; i < order.size(); ++i) {
        auto& o = order[i].object;
        if (auto err = o.set("Priority", std::to_string(i + 1)); !err.empty()) fail(err);
        auto errors = config::validate_object(o);
        if (!errors.empty()) fail(errors.front());
        changes.push_back({k, o.text("Name"), o.serialize()});
    }
    auto r = ctx.db->config_apply(std::move(changes), generation);
    if (!r) fail("the configuration changed meanwhile or could not be written (" + r.error().message() + "); nothing was changed");
}

void apply_params(ConfigObject& o, const Invocation& inv) {
    for (const auto& [name, value] : inv.params) {
        if (iequals(name, "Identity") || iequals(name, "Confirm") || iequals(name, "Priority")) continue;
        if (auto err = o.set(name, value); !err.empty()) fail(err, 1);
    }
}

void check_unique_name(const std::vector<config::StoredObject>& all, ObjectKind kind, const std::string& name,
                       const std::string& except) {
    for (const auto& s : all)
        if (!iequals(s.name, except) && iequals(s.name, name))
            fail(fmt::format("-Name: an {} named '{}' already exists", noun(kind), s.name));
}

std::vector<std::string> property_names(ObjectKind kind) {
    std::vector<std::string> names{"Identity"};
    for (const auto* d : config::settings_of(kind)) names.emplace_back(d->name);
    return names;
}

Output get_providers(Context& ctx, const Invocation& inv, ObjectKind kind) {
    const std::string* id = inv.get("Identity");
    std::vector<Record> records;
    for (const auto& s : providers_in_order(*ctx.db, kind))
        if (id == nullptr || iequals(s.name, *id)) records.push_back(config_record(ctx, s.object));
    if (id != nullptr && records.empty())
        fail(fmt::format("no {} named '{}'; 'edgectl Get-{}' lists them", noun(kind), *id, noun(kind)));
    Output out;
    out.records = select_records(std::move(records), inv, property_names(kind));
    out.columns = is_block(kind) ? std::vector<std::string>{"Identity", "LookupDomain", "Priority", "Weight", "Enabled"}
                                 : std::vector<std::string>{"Identity", "LookupDomain", "Priority", "Enabled"};
    return out;
}

// Add-: the new provider goes last unless -Priority puts it in front of others, who
// move down one (Exchange's Add-IPBlockListProvider). Without -Weight a block-list
// provider weighs the Threshold, so it blocks alone, as every provider does in Exchange.
Output add_provider(Context& ctx, const Invocation& inv, ObjectKind kind) {
    const std::uint64_t generation = ctx.db->config_generation();
    auto all = providers_in_order(*ctx.db, kind);
    ConfigObject o(kind);
    if (is_block(kind) && !inv.has("Weight")) {
        auto threshold = config::ip_block_list_providers_config_settings(
                             config::load_singleton(*ctx.db, ObjectKind::IPBlockListProvidersConfig))
                             .threshold;
        if (auto err = o.set("Weight", std::to_string(threshold)); !err.empty()) fail(err);
    }
    apply_params(o, inv);
    for (const auto* d : config::settings_of(kind))
        if (d->required && !inv.has(d->name)) fail(fmt::format("-{} is required ({})", d->name, d->meaning), 2);
    auto errors = config::validate_object(o);
    if (!errors.empty()) fail(errors.front());
    check_unique_name(all, kind, o.text("Name"), {});
    const auto place = priority_param(inv, static_cast<long long>(all.size()) + 1).value_or(static_cast<long long>(all.size()) + 1);
    all.insert(all.begin() + (place - 1), config::StoredObject{o.text("Name"), o});
    write_order(ctx, kind, std::move(all), generation, {});
    return {};
}

// Set-: -Priority N moves the provider to N and the others close up behind it.
Output set_provider(Context& ctx, const Invocation& inv, ObjectKind kind) {
    const std::uint64_t generation = ctx.db->config_generation();
    auto all = providers_in_order(*ctx.db, kind);
    const std::size_t at = find_provider(all, kind, identity(inv, kind));
    config::StoredObject moving = all[at];
    const std::string old_name = moving.name;
    apply_params(moving.object, inv);
    auto errors = config::validate_object(moving.object);
    if (!errors.empty()) fail(errors.front());
    check_unique_name(all, kind, moving.object.text("Name"), old_name);
    const auto place = priority_param(inv, static_cast<long long>(all.size())).value_or(static_cast<long long>(at) + 1);
    all.erase(all.begin() + static_cast<std::ptrdiff_t>(at));
    all.insert(all.begin() + (place - 1), moving);
    std::vector<std::string> removed;
    if (old_name != moving.object.text("Name")) removed.push_back(old_name);
    write_order(ctx, kind, std::move(all), generation, removed);
    return {};
}

Output remove_provider(Context& ctx, const Invocation& inv, ObjectKind kind) {
    const std::uint64_t generation = ctx.db->config_generation();
    auto all = providers_in_order(*ctx.db, kind);
    const std::size_t at = find_provider(all, kind, identity(inv, kind));
    const std::string name = all[at].name;
    all.erase(all.begin() + static_cast<std::ptrdiff_t>(at));
    write_order(ctx, kind, std::move(all), generation, {name});
    return {};
}

// Test-: asks the provider's zone for -IPAddress through the servers the agent uses
// (TransportServer InternalDNSServers, else /etc/resolv.conf), within LookupTimeout,
// and shows the query name, the answers and whether they are a listing. A disabled
// provider is asked too: testing it before enabling it is the point.
Output test_provider(Context& ctx, const Invocation& inv, ObjectKind kind) {
    auto all = providers_in_order(*ctx.db, kind);
    const auto& stored = all[find_provider(all, kind, identity(inv, kind))];
    const std::string* ip_text = inv.get("IPAddress");
    if (ip_text == nullptr || ip_text->empty()) fail("which address? give -IPAddress (192.0.2.1 or 2001:db8::1)", 2);
    boost::system::error_code ec;
    const auto client = asio::ip::make_address(*ip_text, ec);
    if (ec || ip_text->find('%') != std::string::npos)
        fail(fmt::format("-IPAddress: '{}' is not valid; expected an IP address such as 192.0.2.1 or 2001:db8::1", *ip_text));

    agents::IpProviderSet set;
    const auto provider = is_block(kind) ? agents::block_list_provider(config::ip_block_list_provider_settings(stored.object))
                                         : agents::allow_list_provider(config::ip_allow_list_provider_settings(stored.object));
    (is_block(kind) ? set.block : set.allow).push_back(provider);
    set.threshold = 1;
    set.timeout = config::ip_block_list_providers_config_settings(
                      config::load_singleton(*ctx.db, ObjectKind::IPBlockListProvidersConfig))
                      .lookup_timeout;

    asio::io_context io;
    auto resolver = std::make_shared<dns::DnsResolver>(
        io.get_executor(), agents::receive_dns_options(config::transport_server_settings(
                               config::load_singleton(*ctx.db, ObjectKind::TransportServer))));
    std::optional<agents::ProviderReplies> replies;
    std::exception_ptr error;
    asio::co_spawn(io, agents::ask_providers(agents::resolver_lookup(resolver), set, client),
                   [&](std::exception_ptr e, agents::ProviderReplies r) {
                       error = e;
                       if (!e) replies = std::move(r);
                   });
    io.run();
    if (error || !replies) fail("the lookup ended without an answer");
    const auto& reply = is_block(kind) ? replies->block.front() : replies->allow.front();

    Record r;
    r.add("Identity", Value::of_text(stored.name));
    r.add("IPAddress", Value::of_text(agents::listed_form(client).to_string()));
    r.add("QueryName", Value::of_text(agents::provider_query_name(client, provider.lookup_domain)));
    std::vector<std::string> answers;
    for (const auto& a : reply.addresses) answers.push_back(a.to_string());
    const auto match = agents::match_answers(provider, reply.addresses);
    using S = agents::ProviderReply::Status;
    std::string result = reply.status == S::Failed ? "Failed" : match.listed() ? "Listed" : "NotListed";
    std::string detail;
    if (reply.status == S::Failed) detail = reply.error + " (a provider that fails never blocks mail)";
    else if (reply.status == S::NotListed) detail = "no A record: not on the list";
    else if (!match.not_listings.empty())
        detail = fmt::format("{} cannot be a listing (outside 127.0.0.0/8, or a list's error code 127.255.255.x)",
                             fmt::join(match.not_listings, ", "));
    else if (!match.listed()) detail = "answered, but no answer matches AnyMatch, BitmaskMatch or IPAddressesMatch";
    r.add("Answers", Value::of_list(answers));
    r.add("Matched", Value::of_list(match.matched));
    r.add("Result", Value::of_text(result));
    r.add("Detail", Value::of_text_or_null(detail));
    Output out;
    out.records.push_back(std::move(r));
    out.columns = {"Identity", "IPAddress", "QueryName", "Result"};
    out.list_by_default = true;
    out.exit_code = reply.status == S::Failed ? 1 : 0;
    return out;
}

}  // namespace

void add_ip_provider_cmdlets(std::vector<Cmdlet>& table) {
    const ParamDef confirm{"Confirm", "Switch", "", "Accepted for Exchange scripts; edgectl never prompts", true};
    for (ObjectKind kind : {ObjectKind::IPBlockListProvider, ObjectKind::IPAllowListProvider}) {
        const std::string n = noun(kind);
        const ParamDef identity{"Identity", "String", "", "The provider's Name", false, false, true};
        const ParamDef priority{"Priority", "Int32", "", "Its place, 1 asked first; the others move to make room"};
        std::vector<ParamDef> settings;
        for (const auto* d : config::settings_of(kind)) {
            if (d->name == "Priority") {
                settings.push_back(priority);
                continue;
            }
            ParamDef p = config_param(*d, d->name == "Name");
            if (d->name == "Weight") p.default_value = "the Threshold";
            settings.push_back(p);
        }

        Cmdlet get{"Get-" + n, "List the " + n + "s in priority order, or one", {identity}, true,
                   [kind](Context& c, const Invocation& i) { return get_providers(c, i, kind); }};
        for (auto& p : output_params()) get.params.push_back(std::move(p));
        table.push_back(std::move(get));

        table.push_back(Cmdlet{"Add-" + n,
                               "Add an " + n + " (last, unless -Priority puts it before others)", settings, true,
                               [kind](Context& c, const Invocation& i) { return add_provider(c, i, kind); }});

        Cmdlet set{"Set-" + n, "Change an " + n + "; -Priority moves it and closes up the others", {identity}, true,
                   [kind](Context& c, const Invocation& i) { return set_provider(c, i, kind); }};
        for (auto p : settings) {
            if (p.name == "Name") {
                p.positional = false;
                p.meaning = "A new name (rename)";
            }
            if (p.name == "Weight") p.default_value.clear();
            set.params.push_back(std::move(p));
        }
        table.push_back(std::move(set));

        table.push_back(Cmdlet{"Remove-" + n, "Delete an " + n + " (the others close up)", {identity, confirm}, true,
                               [kind](Context& c, const Invocation& i) { return remove_provider(c, i, kind); }});

        Cmdlet test{"Test-" + n,
                    "Ask the provider about an address now (InternalDNSServers, or resolv.conf) and show the query, "
                    "the answers and whether they are a listing",
                    {identity, {"IPAddress", "IPAddress", "", "The client address to look up (IPv4 or IPv6)"}}, true,
                    [kind](Context& c, const Invocation& i) { return test_provider(c, i, kind); }};
        for (auto& p : output_params()) test.params.push_back(std::move(p));
        table.push_back(std::move(test));
    }
}

}  // namespace edge::cli
