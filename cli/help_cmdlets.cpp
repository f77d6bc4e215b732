// Get-Help and the lists bash completion reads, both from the cmdlet table, so help
// and completion can never disagree with what the parser accepts.
#include "cmdlet.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace edge::cli {

std::string general_help() {
    std::string out =
        "edgectl: Exchange-shell-style administration of edge-transport.\n\n"
        "usage: edgectl [--data DIR | --config FILE] <Verb-Noun> [Identity] [-Parameter value]...\n\n"
        "  --data DIR     the server's data directory (default: ./data when it holds a queue, else the\n"
        "                 DataDirectory of /etc/edge-transport/edge-transport.conf)\n"
        "  --config FILE  read DataDirectory and ServerFqdn from this bootstrap file\n\n"
        "Cmdlets, verbs, nouns and parameters are case-insensitive; a parameter may be shortened to any\n"
        "unambiguous prefix (-Source for -SourceIPAddress). Lists: a,b or \"a\",\"b\". Booleans: '$true' or\n"
        "'$false' (quoted in bash), true, false. Sizes: 10MB, 500KB, unlimited. Time spans: [d.]hh:mm:ss.\n"
        "Get-* take -Filter \"Status -eq 'Retry' -and MessageCount -gt 10\", -Format List and -Json.\n\n";
    std::size_t w = 0;
    for (const auto& c : cmdlet_table()) w = std::max(w, c.name.size());
    for (const auto& c : cmdlet_table()) out += fmt::format("  {:<{}}  {}\n", c.name, w, c.synopsis);
    out += "\n'edgectl Get-Help <cmdlet>' shows every parameter with its type, default and meaning.\n";
    return out;
}

std::string cmdlet_help(const Cmdlet& c) {
    std::string out = fmt::format("NAME\n    {}\n\nSYNOPSIS\n    {}\n\nSYNTAX\n    {}", c.name, c.synopsis, c.name);
    for (const auto& p : c.params) {
        std::string one = p.is_switch ? "-" + p.name : fmt::format("-{} <{}>", p.name, p.type);
        if (p.positional) one = fmt::format("[-{}] <{}>", p.name, p.type);
        out += " [" + one + "]";
    }
    out += "\n\nPARAMETERS\n";
    for (const auto& p : c.params) {
        out += p.is_switch ? fmt::format("    -{}\n", p.name) : fmt::format("    -{} <{}>\n", p.name, p.type);
        out += fmt::format("        {}\n", p.meaning);
        if (!p.default_value.empty()) out += fmt::format("        Default: {}\n", p.default_value);
        if (p.positional) out += "        Position: 1 (the name may be left out)\n";
        out += '\n';
    }
    return out;
}

namespace {

Output get_help(Context&, const Invocation& inv) {
    const std::string* name = inv.get("Name");
    if (name == nullptr) {
        fmt::print("{}", general_help());
        return {};
    }
    const Cmdlet* c = find_cmdlet(*name);
    if (c == nullptr) fail(fmt::format("there is no cmdlet {}; 'edgectl help' lists them", *name), 2);
    fmt::print("{}", cmdlet_help(*c));
    return {};
}

}  // namespace

void add_help_cmdlets(std::vector<Cmdlet>& table) {
    table.push_back({"Get-Help", "Show the cmdlets, or one cmdlet's parameters with type, default and meaning",
                     {{"Name", "String", "", "The cmdlet, e.g. Set-SendConnector", false, false, true}}, false, get_help});
}

}  // namespace edge::cli
