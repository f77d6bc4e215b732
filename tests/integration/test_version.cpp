// --version on the three binaries prints CMake's project(VERSION), the one version
// (transport/config/version.hpp.in), and exits 0 without reading any configuration.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace {
struct Run {
    std::string out;
    int status = -1;
};
Run run(const std::string& command) {
    Run r;
    FILE* p = ::popen((command + " 2>/dev/null").c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[256];
    while (std::fgets(buf, sizeof buf, p) != nullptr) r.out += buf;
    int st = ::pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}
}  // namespace

TEST_CASE("edge-transport, edgectl and edgesync each print the project's version for --version", "[version]") {
    const std::string expected = std::string(EDGE_VERSION_TEXT) + "\n";
    for (const char* binary : {EDGE_TRANSPORT_PATH, EDGECTL_PATH, EDGESYNC_PATH}) {
        INFO(binary);
        const Run r = run(std::string(binary) + " --version");
        CHECK(r.status == 0);
        CHECK(r.out == expected);
    }
}
