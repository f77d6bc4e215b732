// What the Debian package is made of, without making it (make deb takes minutes):
// `cmake --install` of this build into a scratch root puts the binaries, man pages,
// units, bootstrap file and completion where Debian expects them; the hand-written
// pages name every option their binary's --help names; debian/changelog carries the
// project's version.
#include "edge_server.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

using namespace edge::test;

namespace {

std::string install_file_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The long options a --help text names ("--state-dir", "--once").
std::set<std::string> install_help_options(const std::string& help) {
    std::set<std::string> out;
    const std::regex option("--[a-z][a-z-]*");
    for (auto it = std::sregex_iterator(help.begin(), help.end(), option); it != std::sregex_iterator(); ++it)
        out.insert(it->str());
    return out;
}

std::string install_troff_option(const std::string& option) {
    std::string out;
    for (char c : option) out += c == '-' ? std::string("\\-") : std::string(1, c);
    return out;
}

}  // namespace

TEST_CASE("cmake --install puts the binaries, man pages, units, bootstrap file and completion where Debian expects "
          "them, and nothing outside /etc, /usr and /var",
          "[install]") {
    TempDir root;
    std::string out;
    REQUIRE(run_command("DESTDIR=" + shell_quote(root.path()) + " cmake --install " + shell_quote(EDGE_BINARY_DIR),
                        &out) == 0);
    INFO(out);
    const std::string r = root.path();
    for (const char* binary : {"/usr/sbin/edge-transport", "/usr/sbin/edgectl", "/usr/sbin/edgesync"}) {
        INFO(binary);
        struct stat st {};
        REQUIRE(::stat((r + binary).c_str(), &st) == 0);
        CHECK((st.st_mode & 0111) == 0111);
    }
    // The installed binary runs and says the project's version.
    std::string version;
    CHECK(run_command(r + "/usr/sbin/edge-transport --version", &version) == 0);
    CHECK(version == std::string(EDGE_VERSION_TEXT) + "\n");

    for (const char* page : {"/usr/share/man/man8/edge-transport.8", "/usr/share/man/man8/edgectl.8",
                             "/usr/share/man/man8/edgesync.8", "/usr/share/man/man5/edge-transport.conf.5"}) {
        INFO(page);
        const std::string text = install_file_text(r + page);
        CHECK(text.starts_with(".\\\""));
        CHECK(text.find(".TH ") != std::string::npos);
        CHECK(text.find("@VERSION@") == std::string::npos);
    }
    // The configured prefix is /usr (CMakeLists.txt): /etc and /var, not /usr/etc.
    CHECK(install_file_text(r + "/etc/edge-transport/edge-transport.conf") ==
          install_file_text(std::string(EDGE_SOURCE_DIR) + "/conf/edge-transport.conf"));
    CHECK(std::filesystem::is_directory(r + "/var/lib/edge-transport"));
    const std::string unit = install_file_text(r + "/usr/lib/systemd/system/edge-transport.service");
    CHECK(unit.find("\nExecStart=/usr/sbin/edge-transport --config /etc/edge-transport/edge-transport.conf ") !=
          std::string::npos);
    CHECK(unit.find("\nType=notify\n") != std::string::npos);
    CHECK(unit.find("Documentation=man:edge-transport(8)") != std::string::npos);
    CHECK(unit.find('@') == std::string::npos);  // every @VAR@ filled in
    CHECK(std::filesystem::exists(r + "/usr/lib/systemd/system/edgesync.service"));
    CHECK(std::filesystem::exists(r + "/usr/share/bash-completion/completions/edgectl"));
    CHECK(std::filesystem::exists(r + "/usr/share/doc/edge-transport/README.md"));
    CHECK(std::filesystem::exists(r + "/usr/share/doc/edgesync/README.md"));

    for (const auto& top : std::filesystem::directory_iterator(r)) {
        const std::string name = top.path().filename().string();
        INFO(name);
        CHECK((name == "etc" || name == "usr" || name == "var"));
    }
}

TEST_CASE("edge-transport(8) and edgesync(8) describe every option their binary's --help names", "[install][man]") {
    struct Binary {
        const char* path;
        const char* page;
    };
    for (const Binary& b : {Binary{EDGE_TRANSPORT_PATH, "edge-transport.8"}, Binary{EDGESYNC_PATH, "edgesync.8"}}) {
        INFO(b.page);
        std::string help;
        CHECK(run_command(std::string(b.path) + " --help", &help) == 0);
        const std::string page = install_file_text(std::string(EDGE_MAN_DIR) + "/" + b.page);
        REQUIRE_FALSE(page.empty());
        const auto options = install_help_options(help);
        CHECK(options.size() >= 3);
        for (const auto& option : options) {
            INFO(option);
            CHECK(page.find(install_troff_option(option)) != std::string::npos);
        }
    }
}

TEST_CASE("debian/changelog's version is the project's version, as --version prints it", "[install]") {
    std::istringstream changelog(install_file_text(std::string(EDGE_SOURCE_DIR) + "/debian/changelog"));
    std::string first;
    std::getline(changelog, first);
    // "edge-transport (0.1.0) unstable; urgency=medium": a native package, no Debian revision.
    const std::string version = std::string(EDGE_VERSION_TEXT).substr(std::string("edge-transport ").size());
    CHECK(first.starts_with("edge-transport (" + version + ") "));
}
