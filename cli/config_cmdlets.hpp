// edgectl's configuration cmdlets (Receive connectors, accepted domains, the
// transport server), driven by the settings table.
#pragma once

#include "queue_db.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace edge::cli {

bool is_config_cmdlet(std::string_view cmdlet);
// Runs one; returns the exit code (0, or 1 with the reason on stderr).
int run_config_cmdlet(queue::QueueDb& db, std::string_view cmdlet, const std::vector<std::string>& args);

}  // namespace edge::cli
