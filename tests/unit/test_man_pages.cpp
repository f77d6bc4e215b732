// The manual pages as built (<build>/man, man/CMakeLists.txt): edgectl(8) names every
// cmdlet and every parameter of the cmdlet table with its default, edge-transport.conf(5)
// every bootstrap key of the settings table, groff formats each page without a warning;
// and the troff writer that makes table text safe on a page (cli/man_page.hpp).
#include "cmdlet.hpp"
#include "man_page.hpp"
#include "settings.hpp"
#include "version.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <utility>
#include <vector>

using namespace edge::cli;

namespace {

std::string read_page(const std::string& name) {
    std::ifstream in(std::string(EDGE_MAN_DIR) + "/" + name, std::ios::binary);
    REQUIRE(in.good());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// edgectl(8)'s CMDLETS section cut at each ".SS <cmdlet>": name (as troff) -> its text.
std::map<std::string, std::string> page_cmdlet_sections(const std::string& page) {
    std::map<std::string, std::string> sections;
    std::istringstream in(page);
    std::string line, current;
    bool in_cmdlets = false;
    while (std::getline(in, line)) {
        if (line.starts_with(".SH ")) {
            in_cmdlets = line == ".SH CMDLETS";
            current.clear();
            continue;
        }
        if (!in_cmdlets) continue;
        if (line.starts_with(".SS ")) {
            current = line.substr(4);
            CHECK(sections.count(current) == 0);  // a cmdlet once
            sections[current];
            continue;
        }
        if (!current.empty()) sections[current] += line + "\n";
    }
    return sections;
}

std::string man_param_tag(const ParamDef& p) { return "\\fB\\-" + troff_text(p.name) + "\\fR"; }

}  // namespace

TEST_CASE("table text on a man page cannot become a troff request, and a dash stays an ASCII hyphen-minus",
          "[man]") {
    struct Case {
        const char* text;
        const char* troff;
    };
    for (const Case& c : std::vector<Case>{
             {"Set-ReceiveConnector", "Set\\-ReceiveConnector"},
             {".so /etc/shadow", "\\&.so /etc/shadow"},
             {"'$true' or '$false'", "\\&'$true' or '$false'"},
             {"in the middle . and ' stay", "in the middle . and ' stay"},
             {"EDGE\\contoso.com", "EDGE\\econtoso.com"},
             {"\\fBbold", "\\efBbold"},
             {"§4.1 (2007 SP1)", "\\[u00A7]4.1 (2007 SP1)"},
             {"Bücher", "B\\[u00FC]cher"},
             {"a\nb\rc\x01", "abc"},
             {"\xff", "\\[uFFFD]"},
             {"\xc3", "\\[uFFFD]"},
         }) {
        INFO(c.text);
        CHECK(troff_text(c.text) == c.troff);
    }
}

TEST_CASE("a man page template with a misspelt marker is refused, not shipped with the marker in it", "[man]") {
    CHECK_THROWS_AS(fill_man_template(".TH X 8\n@CMDLET@\n"), std::runtime_error);
    CHECK_THROWS_AS(fill_man_template(".TH X 8 \"\" \"@VERSON@\"\n"), std::runtime_error);
    // An '@' of the text (an address) is not a marker.
    CHECK(fill_man_template("postmaster@contoso.com and @VERSION@\n") ==
          std::string("postmaster@contoso.com and ") + edge::kVersion + "\n");
}

TEST_CASE("edgectl(8) as built names every cmdlet of the table, and under each every parameter with its default",
          "[man]") {
    const std::string page = read_page("edgectl.8");
    CHECK(page.find(".TH EDGECTL 8 \"\" \"edge\\-transport " + troff_text(edge::kVersion) + "\"") !=
          std::string::npos);
    const auto sections = page_cmdlet_sections(page);
    CHECK(sections.size() == cmdlet_table().size());  // nothing that is not a cmdlet
    for (const Cmdlet& c : cmdlet_table()) {
        INFO(c.name);
        auto it = sections.find(troff_text(c.name));
        REQUIRE(it != sections.end());
        const std::string& text = it->second;
        for (const ParamDef& p : c.params) {
            INFO(p.name);
            CHECK(text.find(man_param_tag(p)) != std::string::npos);
            if (!p.default_value.empty())
                CHECK(text.find("Default: \\fB" + troff_text(p.default_value) + "\\fR") != std::string::npos);
        }
    }
}

TEST_CASE("every setting of an object whose Set- cmdlet is made from the settings table is on edgectl(8) under it, "
          "and each parameter made from a setting shows where its default comes from",
          "[man]") {
    using edge::config::ObjectKind;
    const auto sections = page_cmdlet_sections(read_page("edgectl.8"));
    // The page's entry for -<name> in a cmdlet's section: from its tag to the next .TP.
    auto entry_of = [&](const Cmdlet& c, std::string_view name) -> std::string {
        auto it = sections.find(troff_text(c.name));
        if (it == sections.end()) return "";
        const std::string tag = "\\fB\\-" + troff_text(name) + "\\fR";
        const auto at = it->second.find(tag);
        if (at == std::string::npos) return "";
        return it->second.substr(at, it->second.find(".TP", at) - at);
    };
    int kinds = 0;
    for (unsigned k = 0; k < edge::config::kObjectKindCount; ++k) {
        const auto kind = static_cast<ObjectKind>(k);
        const Cmdlet* set = find_cmdlet(std::string("Set-") + edge::config::to_string(kind));
        // Set-TransportAgent -Priority is written by hand (agent_cmdlets.cpp), not from the table.
        if (set == nullptr || std::none_of(set->params.begin(), set->params.end(),
                                           [](const ParamDef& p) { return p.setting != nullptr; }))
            continue;
        ++kinds;
        for (const auto* d : edge::config::settings_of(kind)) {
            if (d->name == "Name") continue;  // the Identity of Set-
            INFO(set->name << " -" << d->name);
            CHECK_FALSE(entry_of(*set, d->name).empty());
        }
    }
    CHECK(kinds >= 10);  // the test looked at something
    // A parameter's default is its own (Set-IPBlockListProvider -Weight: "the Threshold"); the
    // source in brackets is its setting's.
    for (const Cmdlet& c : cmdlet_table())
        for (const ParamDef& p : c.params) {
            if (p.setting == nullptr) continue;
            INFO(c.name << " -" << p.name);
            const std::string entry = entry_of(c, p.name);
            REQUIRE_FALSE(entry.empty());
            if (!p.default_value.empty())
                CHECK(entry.find("Default: \\fB" + troff_text(p.default_value) + "\\fR") != std::string::npos);
            if (!p.setting->source.empty())
                CHECK(entry.find("[" + troff_text(p.setting->source) + "]") != std::string::npos);
        }
}

TEST_CASE("edge-transport.conf(5) as built lists every bootstrap key of the settings table with its default", "[man]") {
    const std::string page = read_page("edge-transport.conf.5");
    CHECK(page.find(".TH EDGE\\-TRANSPORT.CONF 5") != std::string::npos);
    const auto keys = edge::config::settings_of(edge::config::ObjectKind::Bootstrap);
    REQUIRE(keys.size() > 10);
    for (const auto* d : keys) {
        INFO(d->name);
        const auto at = page.find(".TP\n\\fB" + troff_text(d->name) + "\\fR = ");
        REQUIRE(at != std::string::npos);
        const std::string entry = page.substr(at, page.find(".TP", at + 3) - at);
        if (!d->default_value.empty()) CHECK(entry.find("Default: \\fB" + troff_text(d->default_value) + "\\fR") != std::string::npos);
        else CHECK(entry.find("Default: none") != std::string::npos);
    }
}

namespace {

// The command's standard error and exit status.
std::pair<std::string, int> man_run(const std::string& command) {
    FILE* p = ::popen((command + " 2>&1 >/dev/null").c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out;
    char buf[512];
    while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
    const int status = ::pclose(p);
    return {out, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

}  // namespace

TEST_CASE("groff -man -ww, and man --warnings as lintian runs it, format every man page as built without a warning",
          "[man]") {
    for (const char* name : {"edge-transport.8", "edgectl.8", "edgesync.8", "edge-transport.conf.5"}) {
        INFO(name);
        const std::string page = std::string("'") + EDGE_MAN_DIR + "/" + name + "'";
        // -z: parse and format, print nothing; every warning (-ww) goes to stderr.
        CHECK(man_run("groff -man -ww -z -Tutf8 " + page) == std::pair<std::string, int>{"", 0});
        // lintian's groff-message check (120 columns) and a terminal's 80: a word too long
        // for a line is a "cannot adjust line" warning.
        for (const char* width : {"80", "120"}) {
            INFO("MANWIDTH=" << width);
            CHECK(man_run(std::string("env LC_ALL=C.UTF-8 MANROFFSEQ= MANWIDTH=") + width +
                          " man --warnings -E UTF-8 -l -Tutf8 -Z " + page) == std::pair<std::string, int>{"", 0});
        }
    }
}
