// Test-SendConnector (issue 17): our outbound identity as receivers check it — the
// source address's PTR name, whether it forward-confirms, whether it is the connector's
// Fqdn — with a hint for each problem; and the same check as a warning after
// Set-SendConnector changes -SourceIPAddress or -Fqdn (send/outbound_identity.hpp).
#include "cmdlet.hpp"

#include "config_store.hpp"
#include "dns_resolver.hpp"
#include "host_name.hpp"
#include "outbound_identity.hpp"
#include "typed_settings.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <fmt/format.h>

namespace edge::cli {

namespace {
namespace asio = boost::asio;

struct IdentityCheck {
    std::string name;
    asio::ip::address address;
    std::string address_source;  // "SourceIPAddress", or how the host's outbound address was found
    std::string fqdn;
    send::IdentityReport report;
};

// The address to check: SourceIPAddress, or the local address of the route towards
// the first smart host or an MX host of the first address space.
asio::awaitable<std::optional<std::pair<asio::ip::address, std::string>>> source_of(
    dns::DnsResolver& r, const config::SendConnectorSettings& s, std::string* why_not) {
    boost::system::error_code ec;
    const auto fixed = asio::ip::make_address(s.source_ip_address, ec);
    if (!ec && !fixed.is_unspecified()) co_return std::pair{fixed, std::string("SourceIPAddress")};
    std::optional<asio::ip::address> target;
    std::string towards;
    if (!s.smart_hosts.empty()) {
        auto a = co_await r.resolve_address(s.smart_hosts.front());
        if (a.status == dns::DnsStatus::Ok && !a.addresses.empty()) target = a.addresses.front();
        towards = "smart host " + s.smart_hosts.front();
        if (!target) *why_not = fmt::format("the smart host {} has no address ({})", s.smart_hosts.front(), a.error);
    } else if (!s.address_spaces.empty()) {
        std::string domain = s.address_spaces.front().domain;
        if (domain.starts_with("*.")) domain.erase(0, 2);
        if (domain == "*" || domain == "--") {
            // Every domain: the default route is what the internet sees (a documentation
            // address, TEST-NET-2; connecting a UDP socket sends nothing).
            target = asio::ip::make_address("198.51.100.1");
            towards = "the default route";
        } else {
            auto mx = co_await r.resolve_mx(domain);
            if (mx.status == dns::DnsStatus::Ok && !mx.hosts.empty() && !mx.hosts.front().addresses.empty())
                target = mx.hosts.front().addresses.front();
            towards = "an MX host of " + domain;
            if (!target) *why_not = fmt::format("no MX host of {} has an address ({})", domain, dns::to_string(mx.status));
        }
    }
    if (!target) {
        if (why_not->empty()) *why_not = "the connector has no smart host and no address space";
        co_return std::nullopt;
    }
    auto local = send::outbound_address_towards(*target);
    if (!local) {
        *why_not = fmt::format("this host has no route towards {} ({})", towards, target->to_string());
        co_return std::nullopt;
    }
    co_return std::pair{*local, "the host's outbound address towards " + towards};
}

IdentityCheck check_connector(Context& ctx, const config::ConfigObject& o, std::chrono::milliseconds timeout) {
    const config::SendConnectorSettings s = config::send_connector_settings(o);
    const config::TransportServerSettings ts =
        config::transport_server_settings(config::load_singleton(*ctx.db, config::ObjectKind::TransportServer));
    dns::DnsOptions options{dns::configured_servers(s.use_external_dns_servers_enabled && !ts.external_dns_servers.empty()
                                                        ? ts.external_dns_servers
                                                        : ts.internal_dns_servers)};
    options.timeout = timeout;
    options.attempts = 1;
    IdentityCheck c;
    c.name = o.text("Name");
    c.fqdn = s.fqdn.empty() ? config::host_fqdn() : s.fqdn;
    asio::io_context io;
    dns::DnsResolver resolver(io.get_executor(), options);
    std::string why_not;
    bool found = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            auto src = co_await source_of(resolver, s, &why_not);
            if (!src) co_return;
            found = true;
            c.address = src->first;
            c.address_source = src->second;
            c.report = send::judge_identity(co_await send::gather_identity(resolver, c.address, c.fqdn));
        },
        asio::detached);
    io.run();
    if (!found) fail(fmt::format("cannot tell which address Send connector '{}' sends from: {}; set its -SourceIPAddress",
                                 c.name, why_not));
    return c;
}

config::ConfigObject must_load_connector(Context& ctx, const std::string& id) {
    for (const auto& s : config::load_objects(*ctx.db, config::ObjectKind::SendConnector))
        if (iequals(s.name, id)) return s.object;
    fail(fmt::format("no SendConnector named '{}'; 'edgectl Get-SendConnector' lists them", id));
}

Output test_send_connector(Context& ctx, const Invocation& inv) {
    const std::string* id = inv.get("Identity");
    if (id == nullptr || id->empty()) fail("which SendConnector? give its Identity (Name)", 2);
    const IdentityCheck c = check_connector(ctx, must_load_connector(ctx, *id), std::chrono::seconds(3));
    Record r;
    r.add("Identity", Value::of_text(c.name));
    r.add("SourceIPAddress", Value::of_text(c.address.to_string()));
    r.add("AddressSource", Value::of_text(c.address_source));
    r.add("PtrName", Value::of_text_or_null(c.report.ptr_name));
    r.add("ForwardConfirmed", Value::of_bool(c.report.forward_confirmed));
    r.add("Fqdn", Value::of_text(c.fqdn));
    r.add("MatchesFqdn", Value::of_bool(c.report.matches_fqdn));
    r.add("Result", Value::of_text(c.report.ok() ? "Pass" : (c.report.dns_failed ? "Unknown" : "Fail")));
    r.add("Problems", Value::of_list(c.report.problems));
    Output out;
    out.records.push_back(std::move(r));
    out.columns = {"Identity", "SourceIPAddress", "PtrName", "ForwardConfirmed", "MatchesFqdn", "Result"};
    out.list_by_default = true;
    // Like Test-QueueDatabase: the answer "no" is exit 1, for scripts.
    out.exit_code = c.report.ok() ? 0 : 1;
    return out;
}
}  // namespace

std::string send_connector_identity_warning(Context& ctx, const config::ConfigObject& o) {
    try {
        const IdentityCheck c = check_connector(ctx, o, std::chrono::seconds(2));
        if (c.report.ok()) return {};
        return fmt::format("warning: receivers may refuse mail from Send connector '{}' ({} {}): {}", c.name,
                           c.address_source, c.address.to_string(), fmt::join(c.report.problems, "; "));
    } catch (const CmdletError& e) {
        return "warning: " + e.message;
    }
}

void add_identity_cmdlets(std::vector<Cmdlet>& table) {
    Cmdlet test{"Test-SendConnector",
                "Check what receivers see of a Send connector: its source address's PTR name, whether that name leads "
                "back to the address, whether it is the connector's Fqdn",
                {{"Identity", "String", "", "The Send connector's Name", false, false, true}},
                true,
                test_send_connector};
    for (auto& p : output_params())
        if (p.name == "Format" || p.name == "Json") test.params.push_back(std::move(p));
    table.push_back(std::move(test));
}

}  // namespace edge::cli
