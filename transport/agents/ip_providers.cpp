// The IP Block/Allow List providers of a configuration (ip_providers.hpp).
#include "ip_providers.hpp"

#include "agent_config.hpp"

namespace edge::agents {

// No provider objects exist in the config store yet: nothing to ask.
std::shared_ptr<const IpProviders> load_ip_providers(const queue::QueueDb&, const AgentServices&) { return nullptr; }

}  // namespace edge::agents
