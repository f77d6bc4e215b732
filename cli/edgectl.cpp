// edgectl — the administration CLI: finds the data directory, parses the command
// line against the cmdlet table, opens the queue database (the server may be
// running: LMDB is multi-process) and prints what the cmdlet returns.
#include "cmdlet.hpp"
#include "grammar.hpp"
#include "man_page.hpp"
#include "output.hpp"

#include "applied_generation.hpp"
#include "bootstrap.hpp"
#include "data_dir_lock.hpp"
#include "host_name.hpp"
#include "version.hpp"
#include "typed_settings.hpp"

#include <fmt/format.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace edge::cli {
std::string general_help();
}

namespace {

using namespace edge::cli;

constexpr const char* kInstalledConfig = "/etc/edge-transport/edge-transport.conf";

// How long edgectl waits for the running server to apply a change (issue 21). The server
// applies it when asked, in milliseconds; five seconds is a server that is busy or stuck.
constexpr std::chrono::seconds kApplyWait{5};

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

// Exchange's verbs that change nothing: Get-*, Test-*, Export-* (it writes a file, not the queue).
bool reads_only(const Cmdlet& c) {
    for (std::string_view verb : {"Get-", "Test-", "Export-"})
        if (c.name.size() > verb.size() && iequals(std::string_view(c.name).substr(0, verb.size()), verb)) return true;
    return false;
}

// After a change to the configuration (the config generation moved to `generation`): the
// running server is asked to apply it and edgectl returns once it has — a message sent
// next meets the new configuration. Silent when applied; a WARNING when the server has not
// applied it in kApplyWait (the change is stored: the server's own poll or restart applies
// it). With no server running, an administrator at a terminal is told that the change
// takes effect at start; scripts and transcripts (not a terminal) get no extra line.
void confirm_applied(const std::string& data_directory, std::uint64_t generation) {
    using Outcome = edge::config::ApplyWait::Outcome;
    const auto w = edge::config::wait_until_applied(data_directory, generation, kApplyWait);
    if (w.outcome == Outcome::no_server) {
        if (::isatty(STDERR_FILENO))
            fmt::print(stderr, "edgectl: the server is not running on {}; the change takes effect when it starts\n",
                       data_directory);
    } else if (w.outcome == Outcome::not_applied) {
        fmt::print(stderr,
                   "edgectl: WARNING: the running server (pid {}) has not applied this change within {} s ({}); it is "
                   "stored, and the server applies it at its next configuration poll\n",
                   w.server_pid, kApplyWait.count(), w.why);
    }
}

// Queue operations (Retry-Queue, Resume-Queue, Remove-Message…) raise the admin
// generation: the running server is told at once rather than at its next poll. Nothing
// is said either way; the queue shows what happened.
void poke_server(const std::string& data_directory) {
    if (auto pid = edge::queue::running_server_pid(data_directory))
        (void)edge::queue::read_server_socket(edge::config::applied_generation_socket_name(data_directory), *pid,
                                              std::chrono::seconds(2), 64, nullptr);
}

// The completion lists (conf/edgectl.bash-completion reads them).
int complete(const std::vector<std::string>& args) {
    if (args.size() == 1 && args[0] == "--list-cmdlets") {
        for (const auto& c : cmdlet_table()) fmt::print("{}\n", c.name);
        return 0;
    }
    if (args.size() == 2 && args[0] == "--list-parameters") {
        const Cmdlet* c = find_cmdlet(args[1]);
        if (c == nullptr) return 1;
        for (const auto& p : c->params) fmt::print("-{} {}\n", p.name, p.is_switch ? "Switch" : p.type);
        return 0;
    }
    return 2;
}

// `edgectl --man TEMPLATE OUT` (not in the help: the build's own step, man/CMakeLists.txt):
// a page of man/ with its generated parts filled in from the tables (cli/man_page.hpp).
// Written beside OUT and renamed, so a failed run leaves no page that looks built.
int write_man_page(const std::string& template_path, const std::string& out_path) {
    std::ifstream in(template_path, std::ios::binary);
    if (!in) {
        fmt::print(stderr, "edgectl: --man: cannot read {}\n", template_path);
        return 1;
    }
    std::stringstream text;
    text << in.rdbuf();
    try {
        const std::string page = fill_man_template(text.str());
        const std::string tmp = out_path + ".tmp";
        {
            std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
            out << page;
            if (!out.flush()) {
                fmt::print(stderr, "edgectl: --man: cannot write {}\n", tmp);
                return 1;
            }
        }
        std::filesystem::rename(tmp, out_path);
    } catch (const std::exception& e) {
        fmt::print(stderr, "edgectl: --man: {}: {}\n", template_path, e.what());
        return 1;
    }
    return 0;
}

int run(int argc, char** argv) {
    std::string data, config_file;
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (args.empty() && (a == "--data" || a == "--config")) {
            if (i + 1 >= argc) {
                fmt::print(stderr, "edgectl: {} needs a value\n", a);
                return 2;
            }
            (a == "--data" ? data : config_file) = argv[++i];
        } else {
            args.push_back(std::move(a));
        }
    }
    if (args.size() == 1 && args[0] == "--version") {
        fmt::print("{}\n", edge::kVersionText);
        return 0;
    }
    if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
        if (args.size() == 2) args = {"Get-Help", args[1]};
        else {
            std::fputs(general_help().c_str(), args.empty() ? stderr : stdout);
            return args.empty() ? 2 : 0;
        }
    }
    if (args[0].starts_with("--list-")) return complete(args);
    if (args[0] == "--man") {
        if (args.size() != 3) {
            fmt::print(stderr, "edgectl: --man TEMPLATE OUT\n");
            return 2;
        }
        return write_man_page(args[1], args[2]);
    }

    const Cmdlet* cmdlet = find_cmdlet(args[0]);
    if (cmdlet == nullptr) {
        fmt::print(stderr, "edgectl: there is no cmdlet '{}'; 'edgectl help' lists them\n", args[0]);
        return 2;
    }
    Context ctx;
    ctx.server_name = edge::config::short_host_name();
    try {
        Invocation inv = parse_invocation(*cmdlet, std::vector<std::string>(args.begin() + 1, args.end()));
        if (const std::string* f = inv.get("Format")) {
            if (iequals(*f, "List")) ctx.format = OutputFormat::List;
            else if (!iequals(*f, "Table")) fail(fmt::format("-Format: '{}' is not valid; expected Table or List", *f), 2);
        }
        if (bool_param(inv, "Json", false)) ctx.format = OutputFormat::Json;

        // The data directory: --data, else --config's DataDirectory, else ./data when
        // it holds a queue (make run), else the installed bootstrap file's.
        if (data.empty()) {
            std::string file = config_file;
            if (file.empty() && !exists("data/data.mdb") && exists(kInstalledConfig)) file = kInstalledConfig;
            if (!file.empty()) {
                auto loaded = edge::config::load_bootstrap(file, {});
                if (!loaded.errors.empty()) fail("--config: " + loaded.errors.front(), 2);
                data = edge::config::bootstrap_settings(loaded.settings).data_directory;
            } else {
                data = "data";
            }
        }
        ctx.data_directory = data;
        std::unique_ptr<edge::queue::QueueDb> db;
        if (cmdlet->needs_database) {
            // A directory without a queue gets one (configure before the first start);
            // a directory that is not there is a typo.
            if (!exists(data))
                fail(fmt::format("no data directory {}; give --data DIR or --config FILE of the server", data));
            // Get-, Test- and Export- only read: they open the queue read-only (nothing
            // written at open), so they work on a full volume and leave a crashed
            // server's leases to its next start. Other cmdlets open it for writing: with
            // the server down that returns a crashed server's leases, as its own next
            // start would; a running server's leases are left alone.
            edge::queue::QueueDbOptions options;
            options.read_only = reads_only(*cmdlet) && exists(data + "/data.mdb");
            auto opened = edge::queue::QueueDb::open(data, options);
            if (!opened) fail(fmt::format("cannot open the queue database in {}: {}", data, opened.error().message()));
            db = std::move(*opened);
            ctx.db = db.get();
        }
        ctx.width = output_width();
        // A cmdlet that writes is watched for a change the running server must apply.
        const bool writes = db && !reads_only(*cmdlet);
        const std::uint64_t config_before = writes ? db->config_generation() : 0;
        const std::uint64_t admin_before = writes ? db->admin_generation() : 0;
        Output out = cmdlet->run(ctx, inv);
        if (!out.columns.empty()) {
            std::string text;
            if (ctx.format == OutputFormat::Json) text = format_json(out.records);
            else if (ctx.format == OutputFormat::List || (out.list_by_default && !inv.has("Format")))
                text = format_list(out.records);
            else
                text = format_table(out.records, out.columns, ctx.width);
            std::fwrite(text.data(), 1, text.size(), stdout);
        }
        if (!out.note.empty()) fmt::print(stderr, "edgectl: {}: {}\n", cmdlet->name, out.note);
        if (std::fflush(stdout) != 0) return 1;
        if (writes) {
            if (const std::uint64_t g = db->config_generation(); g != config_before) confirm_applied(data, g);
            else if (db->admin_generation() != admin_before) poke_server(data);
        }
        return out.exit_code;
    } catch (const CmdletError& e) {
        std::fflush(stdout);
        fmt::print(stderr, "edgectl: {}: {}\n", cmdlet->name, e.message);
        return e.exit_code;
    }
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        fmt::print(stderr, "edgectl: {}\n", e.what());
        return 1;
    }
}
