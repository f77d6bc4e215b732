// ResolverSpfDns: each SpfDns lookup is one resolver lookup, its status translated.
#include "spf_dns.hpp"

namespace edge::auth {

namespace {

SpfDnsStatus status_of(dns::DnsStatus s) {
    switch (s) {
        case dns::DnsStatus::Ok: return SpfDnsStatus::Ok;
        case dns::DnsStatus::NoSuchDomain: return SpfDnsStatus::NxDomain;
        case dns::DnsStatus::NoData: return SpfDnsStatus::NoData;
        case dns::DnsStatus::NullMx: return SpfDnsStatus::Ok;  // an MX RRset naming no host
        case dns::DnsStatus::Transient: return SpfDnsStatus::TempError;
    }
    return SpfDnsStatus::TempError;
}

// One resolver lookup, its records and status in SpfDns's words. `lookup` is a named
// awaitable moved in (GCC 12: no temporaries with destructors inside co_await).
template <class From, class Record>
asio::awaitable<SpfAnswer<Record>> translated(asio::awaitable<From> lookup, std::vector<Record> From::*records) {
    From result = co_await std::move(lookup);
    co_return SpfAnswer<Record>{status_of(result.status), std::move(result.*records), std::move(result.error)};
}

}  // namespace

asio::awaitable<SpfTexts> ResolverSpfDns::txt(std::string name) {
    auto ask = resolver_.resolve_txt(std::move(name));
    co_return co_await translated(std::move(ask), &dns::TextResult::texts);
}

asio::awaitable<SpfAddresses> ResolverSpfDns::a(std::string name) {
    auto ask = resolver_.resolve_a(std::move(name));
    co_return co_await translated(std::move(ask), &dns::AddressResult::addresses);
}

asio::awaitable<SpfAddresses> ResolverSpfDns::aaaa(std::string name) {
    auto ask = resolver_.resolve_aaaa(std::move(name));
    co_return co_await translated(std::move(ask), &dns::AddressResult::addresses);
}

asio::awaitable<SpfNames> ResolverSpfDns::mx_names(std::string name) {
    auto ask = resolver_.resolve_mx_names(std::move(name));
    co_return co_await translated(std::move(ask), &dns::NameResult::names);
}

asio::awaitable<SpfNames> ResolverSpfDns::ptr(asio::ip::address address) {
    auto ask = resolver_.resolve_ptr(address);
    co_return co_await translated(std::move(ask), &dns::NameResult::names);
}

}  // namespace edge::auth
