// The SPF evaluator's DNS (spf.hpp's SpfDns) answered by the server's resolver
// (dns::DnsResolver): its statuses put in RFC 7208's words.
#pragma once

#include "spf.hpp"

#include "dns_resolver.hpp"

namespace edge::auth {

class ResolverSpfDns final : public SpfDns {
public:
    // The resolver must outlive this adapter; both serve the resolver's executor.
    explicit ResolverSpfDns(dns::DnsResolver& resolver) : resolver_(resolver) {}

    asio::awaitable<SpfTexts> txt(std::string name) override;
    asio::awaitable<SpfAddresses> a(std::string name) override;
    asio::awaitable<SpfAddresses> aaaa(std::string name) override;
    asio::awaitable<SpfNames> mx_names(std::string name) override;
    asio::awaitable<SpfNames> ptr(asio::ip::address address) override;

private:
    dns::DnsResolver& resolver_;
};

}  // namespace edge::auth
