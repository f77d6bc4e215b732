// Asking the providers concurrently within LookupTimeout (ip_provider_lookup.hpp).
#include "ip_provider_lookup.hpp"

#include "dns_resolver.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <exception>

namespace edge::agents {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using SteadyClock = std::chrono::steady_clock;

namespace {

// GCC 12 destroys a temporary with a destructor inside a co_await expression at the
// wrong time (see dns_resolver.cpp): every co_await here awaits a named awaitable.

// One provider: its lookup raced against the shared deadline. The loser is cancelled
// and awaited by operator||, so the lookup never outlives this frame.
asio::awaitable<ProviderReply> ask_one(AddressLookup lookup, std::string name, SteadyClock::time_point deadline,
                                       std::chrono::milliseconds timeout) {
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer timer(ex, deadline);
    auto ask = lookup(std::move(name));
    auto expiry = timer.async_wait(asio::as_tuple(asio::use_awaitable));
    auto r = co_await (std::move(ask) || std::move(expiry));
    if (r.index() == 0) co_return std::get<0>(std::move(r));
    ProviderReply late;
    late.error = fmt::format("no answer within {} ms (LookupTimeout)", timeout.count());
    co_return late;
}

}  // namespace

AddressLookup resolver_lookup(std::shared_ptr<dns::DnsResolver> resolver) {
    return [resolver](std::string name) -> asio::awaitable<ProviderReply> {
        auto ask = resolver->resolve_a(std::move(name));
        dns::AddressResult r = co_await std::move(ask);
        ProviderReply reply;
        switch (r.status) {
            case dns::DnsStatus::Ok:
                reply.status = ProviderReply::Status::Answered;
                reply.addresses = std::move(r.addresses);
                break;
            case dns::DnsStatus::NoSuchDomain:
            case dns::DnsStatus::NoData: reply.status = ProviderReply::Status::NotListed; break;
            default:
                reply.status = ProviderReply::Status::Failed;
                reply.error = r.error.empty() ? std::string(dns::to_string(r.status)) : std::move(r.error);
                break;
        }
        co_return reply;
    };
}

asio::awaitable<ProviderReplies> ask_providers(AddressLookup lookup, const IpProviderSet& set, asio::ip::address client) {
    ProviderReplies out;
    out.allow.resize(set.allow.size());
    out.block.resize(set.block.size());
    if (set.allow.empty() && set.block.empty()) co_return out;
    auto ex = co_await asio::this_coro::executor;
    const auto deadline = SteadyClock::now() + set.timeout;

    std::vector<const IpListProvider*> asked;
    for (const auto& p : set.allow) asked.push_back(&p);
    for (const auto& p : set.block) asked.push_back(&p);
    using Op = decltype(asio::co_spawn(ex, ask_one(lookup, std::string(), deadline, set.timeout), asio::deferred));
    std::vector<Op> ops;
    ops.reserve(asked.size());
    for (const auto* p : asked)
        ops.push_back(asio::co_spawn(ex, ask_one(lookup, provider_query_name(client, p->lookup_domain), deadline, set.timeout),
                                     asio::deferred));
    // All at once: the slowest provider, not the sum of them, is what a client waits.
    auto group = asio::experimental::make_parallel_group(std::move(ops));
    auto all = group.async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    auto [order, errors, replies] = co_await std::move(all);
    (void)order;
    for (std::size_t i = 0; i < asked.size(); ++i) {
        ProviderReply r = std::move(replies[i]);
        if (errors[i]) {
            r = ProviderReply{};
            try {
                std::rethrow_exception(errors[i]);
            } catch (const std::exception& e) {
                r.error = fmt::format("lookup failed: {}", e.what());
            } catch (...) {
                r.error = "lookup failed";
            }
        }
        if (i < set.allow.size()) out.allow[i] = std::move(r);
        else out.block[i - set.allow.size()] = std::move(r);
    }
    co_return out;
}

dns::DnsOptions receive_dns_options(const config::TransportServerSettings& s) {
    dns::DnsOptions o;
    for (const auto& text : s.internal_dns_servers)
        if (auto e = dns::parse_dns_server(text)) o.servers.push_back(*e);
    if (o.servers.empty()) o.servers = dns::servers_from_resolv_conf();
    return o;
}

}  // namespace edge::agents
