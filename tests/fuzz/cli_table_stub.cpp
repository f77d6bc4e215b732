// The fuzz build's stand-in for edgectl's noun files: cli/cmdlet.cpp (compiled into the
// libFuzzer targets for iequals and -Filter) names them, and the real ones need the
// queue database, TLS and the send side. The grammar target brings its own cmdlets.
#include "cmdlet.hpp"

namespace edge::cli {
void add_config_cmdlets(std::vector<Cmdlet>&) {}
void add_queue_cmdlets(std::vector<Cmdlet>&) {}
void add_tracking_cmdlets(std::vector<Cmdlet>&) {}
void add_backpressure_cmdlets(std::vector<Cmdlet>&) {}
void add_edgesync_cmdlets(std::vector<Cmdlet>&) {}
void add_agent_cmdlets(std::vector<Cmdlet>&) {}
void add_help_cmdlets(std::vector<Cmdlet>&) {}
void add_tls_report_cmdlets(std::vector<Cmdlet>&) {}
}  // namespace edge::cli
