// IP Block List providers (DNSBL) and IP Allow List providers (DNSWL): what the
// Connection Filtering Agent asks about a client address, behind an interface, so the
// agent's decisions are unit tests with a fake and the lookups (DNS, concurrency, the
// timeout) live in one place.
#pragma once

// <utility> before Asio: Boost's awaitable.hpp needs std::exchange.
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace edge::queue {
class QueueDb;
}

namespace edge::agents {

struct AgentServices;

// What the providers said about one address.
struct ProviderOutcome {
    enum class Kind { NotListed, Blocked, AllowListed };
    Kind kind = Kind::NotListed;
    std::string provider;            // Blocked / AllowListed: the provider (Name) that decided
    std::string rejection_response;  // Blocked: that provider's RejectionResponse (its default when none)
    std::string reason_data;         // for the agent log: which providers matched, with what answers
    std::vector<std::string> failures;  // providers that timed out or failed: logged, never blocking (fail open)
};

class IpProviders {
public:
    virtual ~IpProviders() = default;
    // No provider of either kind is enabled: nothing to ask.
    virtual bool empty() const = 0;
    // The longest check() may take (its lookups are cut there).
    virtual std::chrono::milliseconds timeout() const = 0;
    // Allow-list providers first (a hit bypasses the block list), then the block-list
    // providers in Priority order, concurrently, within timeout().
    virtual boost::asio::awaitable<ProviderOutcome> check(boost::asio::ip::address client) const = 0;
    // Set-IPBlockListProvidersConfig -BypassedRecipients: a blocked client may still
    // write to these (postmaster@…). `canonical_recipient`: smtp::canonical_address.
    virtual bool bypassed_recipient(std::string_view canonical_recipient) const = 0;
};

// The providers of the configuration now (the config store), asking DNS through
// services.dns; nullptr when nothing is configured.
std::shared_ptr<const IpProviders> load_ip_providers(const queue::QueueDb& db, const AgentServices& services);

}  // namespace edge::agents
