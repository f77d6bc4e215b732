// The bootstrap file (conf/edge-transport.conf, what EdgeTransport.exe.config is to
// Exchange): "Key = Value" lines, '#' comments, read once at start. Every key is a
// Bootstrap setting of the one table; an unknown key is an error (a typo must not
// silently leave a default in force).
#pragma once

#include "settings.hpp"

#include <string>
#include <utility>
#include <vector>

namespace edge::config {

struct BootstrapLoad {
    ConfigObject settings{ObjectKind::Bootstrap};
    std::vector<std::string> errors;  // "FILE:LINE: …"; empty when loaded
};

// Reads `path` over the defaults, then applies `overrides` (--set Key=Value, --data).
BootstrapLoad load_bootstrap(const std::string& path, const std::vector<std::pair<std::string, std::string>>& overrides);
// The same from text (tests; `origin` names it in errors).
BootstrapLoad parse_bootstrap(std::string_view text, std::string_view origin,
                              const std::vector<std::pair<std::string, std::string>>& overrides = {});

}  // namespace edge::config
