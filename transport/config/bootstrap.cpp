// Bootstrap file reader.
#include "bootstrap.hpp"
#include "text_helpers.hpp"

#include <fstream>
#include <sstream>

namespace edge::config {


BootstrapLoad parse_bootstrap(std::string_view text, std::string_view origin,
                              const std::vector<std::pair<std::string, std::string>>& overrides) {
    BootstrapLoad out;
    std::size_t line_no = 0;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        ++line_no;
        line = text::trim_space(line);
        if (line.empty() || line.front() == '#') continue;
        auto where = std::string(origin) + ":" + std::to_string(line_no) + ": ";
        auto eq = line.find('=');
        if (eq == std::string_view::npos) {
            out.errors.push_back(where + "expected Key = Value");
            continue;
        }
        std::string key(text::trim_space(line.substr(0, eq)));
        if (find_setting(ObjectKind::Bootstrap, key) == nullptr) {
            out.errors.push_back(where + "unknown key " + key);
            continue;
        }
        if (auto err = out.settings.set(key, text::trim_space(line.substr(eq + 1))); !err.empty()) out.errors.push_back(where + err);
    }
    for (const auto& [key, value] : overrides)
        if (auto err = out.settings.set(key, value); !err.empty()) out.errors.push_back("--set " + key + ": " + err);
    return out;
}

BootstrapLoad load_bootstrap(const std::string& path, const std::vector<std::pair<std::string, std::string>>& overrides) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        BootstrapLoad out;
        out.errors.push_back(path + ": cannot read the configuration file");
        return out;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    return parse_bootstrap(ss.str(), path, overrides);
}

}  // namespace edge::config
