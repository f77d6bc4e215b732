// edge-transport: the server binary.
//   edge-transport --config FILE [--data DIR] [--set Key=Value]...
//   edge-transport --version
// Exit code 0 after a clean shutdown (SIGTERM/SIGINT); 1 with the reason on stderr
// when it cannot start; 2 for a bad command line.
#include "bootstrap.hpp"
#include "host_name.hpp"
#include "server.hpp"
#include "version.hpp"

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

namespace {
int usage() {
    std::fputs("usage: edge-transport --config FILE [--data DIR] [--set Key=Value]...\n       edge-transport --version\n", stderr);
    return 2;
}
}  // namespace

int main(int argc, char** argv) {
    std::string config_path;
    std::vector<std::pair<std::string, std::string>> overrides;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
        if (a == "--config") {
            const char* v = value();
            if (!v) return usage();
            config_path = v;
        } else if (a == "--data") {
            const char* v = value();
            if (!v) return usage();
            overrides.emplace_back("DataDirectory", v);
        } else if (a == "--set") {
            const char* v = value();
            std::string kv = v ? v : "";
            auto eq = kv.find('=');
            if (eq == std::string::npos) return usage();
            overrides.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
        } else if (a == "--version") {
            std::printf("%s\n", edge::kVersionText);
            return 0;
        } else if (a == "--help" || a == "-h") {
            usage();
            return 0;
        } else {
            std::fprintf(stderr, "edge-transport: unknown argument %s\n", a.c_str());
            return usage();
        }
    }
    if (config_path.empty()) return usage();
    auto loaded = edge::config::load_bootstrap(config_path, overrides);
    if (!loaded.errors.empty()) {
        for (const auto& e : loaded.errors) std::fprintf(stderr, "edge-transport: %s\n", e.c_str());
        return 1;
    }
    try {
        edge::server::ServerOptions options;
        options.bootstrap = std::move(loaded.settings);
        options.host_name = edge::config::short_host_name();
        options.config_path = config_path;
        options.overrides = overrides;
        edge::server::Server server(std::move(options));
        return server.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "edge-transport: %s\n", e.what());
        return 1;
    }
}
