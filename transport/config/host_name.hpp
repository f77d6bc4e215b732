// The one host-name rule: the short name names this server (the default Receive
// connector, "<SERVER>\<queue>", logs' connector ids, the EdgeSync agent's default
// name); the FQDN is what it says in EHLO, Received and Message-ID when ServerFqdn is
// empty. Used by edge-transport, edgectl and edgesync alike.
#pragma once

#include <string>

namespace edge::config {

// gethostname(2) up to its first dot; "localhost" when there is none.
std::string short_host_name();
// The resolver's canonical name for gethostname(2) (getaddrinfo AI_CANONNAME) when it
// has a dot; else gethostname(2) itself when that has one; else the short name.
std::string host_fqdn();

}  // namespace edge::config
