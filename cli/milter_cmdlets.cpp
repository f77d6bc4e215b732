// The milters (issue 19): New-/Get-/Set-/Remove-MilterServer are the settings table's
// (config_cmdlets.cpp); here is what the table cannot say — a new milter without
// -Priority goes after the others, as Add-IPBlockListProvider does.
#include "cmdlet.hpp"

#include "config_store.hpp"
#include "settings.hpp"
#include "typed_settings.hpp"

#include <algorithm>

namespace edge::cli {

// config_cmdlets.cpp calls this for New-MilterServer without -Priority.
void place_milter_last(const Context& ctx, config::ConfigObject& o) {
    int last = 0;
    for (const auto& s : config::load_objects(*ctx.db, config::ObjectKind::MilterServer))
        last = std::max(last, config::milter_server_settings(s.object).priority);
    if (auto err = o.set("Priority", std::to_string(std::min(last + 1, 1000))); !err.empty()) fail(err, 1);
}

}  // namespace edge::cli
