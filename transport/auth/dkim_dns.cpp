// DKIM verification with its DNS (dkim_dns.hpp).
#include "dkim_dns.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <exception>

#include "run_blocking.hpp"

namespace edge::auth {

namespace asio = boost::asio;

KeyLookup key_lookup_from(dns::TextResult result) {
    KeyLookup key;
    switch (result.status) {
        case dns::DnsStatus::Ok: key.status = KeyLookupStatus::Ok; break;
        case dns::DnsStatus::NoSuchDomain: key.status = KeyLookupStatus::NxDomain; break;
        case dns::DnsStatus::NoData:
        case dns::DnsStatus::NullMx: key.status = KeyLookupStatus::NoData; break;
        case dns::DnsStatus::Transient: key.status = KeyLookupStatus::TempError; break;
    }
    key.texts = std::move(result.texts);
    key.error = std::move(result.error);
    return key;
}

asio::awaitable<std::vector<KeyLookup>> fetch_keys(dns::DnsResolver& resolver, const std::vector<DkimSignature>& sigs) {
    std::vector<KeyLookup> keys(sigs.size());
    // Only signatures that parsed need a key; the others are judged without one.
    std::vector<std::size_t> asking;
    for (std::size_t k = 0; k < sigs.size(); ++k)
        if (sigs[k].error.empty() && sigs[k].not_checked == 0) asking.push_back(k);
    auto lookup = [&resolver](std::string name) -> asio::awaitable<KeyLookup> {
        co_return key_lookup_from(co_await resolver.resolve_txt(std::move(name)));
    };
    if (asking.size() == 1) {  // the usual message: one signature, no group to build
        keys[asking[0]] = co_await lookup(dkim_key_name(sigs[asking[0]]));
        co_return keys;
    }
    if (asking.empty()) co_return keys;
    auto ex = co_await asio::this_coro::executor;
    using Op = decltype(asio::co_spawn(ex, lookup(std::string()), asio::deferred));
    std::vector<Op> ops;
    ops.reserve(asking.size());
    for (auto k : asking) ops.push_back(asio::co_spawn(ex, lookup(dkim_key_name(sigs[k])), asio::deferred));
    auto group = asio::experimental::make_parallel_group(std::move(ops));
    auto [order, errors, replies] = co_await group.async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    (void)order;
    for (std::size_t j = 0; j < asking.size(); ++j) {
        keys[asking[j]] = std::move(replies[j]);
        if (errors[j]) {
            // An escaped exception is a failed lookup: try again later, never a pass.
            keys[asking[j]] = KeyLookup{KeyLookupStatus::TempError, {}, "key lookup failed"};
            try {
                std::rethrow_exception(errors[j]);
            } catch (const std::exception& e) {
                keys[asking[j]].error = fmt::format("key lookup failed: {}", e.what());
            } catch (...) {
            }
        }
    }
    co_return keys;
}

asio::awaitable<std::vector<DkimVerdict>> verify_message(dns::DnsResolver& resolver,
                                                         const std::vector<std::string>& chunks,
                                                         std::size_t max_signatures,
                                                         std::chrono::system_clock::time_point now,
                                                         asio::thread_pool* cpu) {
    auto sigs = find_signatures(chunks, max_signatures);
    if (sigs.empty()) co_return std::vector<DkimVerdict>{};
    const std::vector<KeyLookup> keys = co_await fetch_keys(resolver, sigs);
    // The hashing and the public-key operations: on `cpu` when given.
    co_return co_await async::run_on(cpu, [&sigs, &keys, &chunks, now] {
        std::vector<DkimVerdict> out;
        out.reserve(sigs.size());
        for (std::size_t k = 0; k < sigs.size(); ++k) out.push_back(verify_signature(sigs[k], keys[k], chunks, now));
        return out;
    });
}

}  // namespace edge::auth
