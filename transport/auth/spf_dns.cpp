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

template <class Record, class From>
SpfAnswer<Record> answer(From&& result, std::vector<Record> records) {
    return SpfAnswer<Record>{status_of(result.status), std::move(records), std::move(result.error)};
}

}  // namespace

asio::awaitable<SpfTexts> ResolverSpfDns::txt(std::string name) {
    auto ask = resolver_.resolve_txt(std::move(name));
    dns::TextResult r = co_await std::move(ask);
    co_return answer(r, std::move(r.texts));
}

asio::awaitable<SpfAddresses> ResolverSpfDns::a(std::string name) {
    auto ask = resolver_.resolve_a(std::move(name));
    dns::AddressResult r = co_await std::move(ask);
    co_return answer(r, std::move(r.addresses));
}

asio::awaitable<SpfAddresses> ResolverSpfDns::aaaa(std::string name) {
    auto ask = resolver_.resolve_aaaa(std::move(name));
    dns::AddressResult r = co_await std::move(ask);
    co_return answer(r, std::move(r.addresses));
}

asio::awaitable<SpfNames> ResolverSpfDns::mx_names(std::string name) {
    auto ask = resolver_.resolve_mx_names(std::move(name));
    dns::NameResult r = co_await std::move(ask);
    co_return answer(r, std::move(r.names));
}

asio::awaitable<SpfNames> ResolverSpfDns::ptr(asio::ip::address address) {
    auto ask = resolver_.resolve_ptr(address);
    dns::NameResult r = co_await std::move(ask);
    co_return answer(r, std::move(r.names));
}

}  // namespace edge::auth
