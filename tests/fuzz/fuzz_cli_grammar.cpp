// edgectl's command line (cli/grammar.*): words after the cmdlet name, resolved against
// a cmdlet's parameters (prefixes, -Name:value, lists, switches). Anything the shell can
// hand over ends as an Invocation or a CmdletError with exit code 2, nothing else.
// The cmdlets are of the real table's shapes, built here so the target needs no database.
#include "fuzz_target.hpp"
#include "grammar.hpp"

#include <string>
#include <vector>

using namespace edge::cli;

namespace {
const std::vector<Cmdlet>& cmdlets() {
    static const std::vector<Cmdlet> table = [] {
        std::vector<Cmdlet> t;
        Cmdlet get{"Get-Queue", "", {}, true, nullptr};
        get.params = {{"Identity", "QueueIdentity", "", "", false, false, true},
                      {"Filter", "String", "", "", false, false, false},
                      {"Format", "String", "Table", "", false, false, false},
                      {"Json", "SwitchParameter", "", "", true, false, false},
                      {"ResultSize", "Unlimited", "1000", "", false, false, false}};
        t.push_back(get);
        Cmdlet set{"Set-ReceiveConnector", "", {}, true, nullptr};
        set.params = {{"Identity", "ReceiveConnectorIdPipeline", "", "", false, false, true},
                      {"Name", "String", "", "", false, false, false},
                      {"NameSuffix", "String", "", "", false, false, false},
                      {"Bindings", "MultiValuedProperty", "", "", false, true, false},
                      {"RemoteIPRanges", "MultiValuedProperty", "", "", false, true, false},
                      {"MaxMessageSize", "ByteQuantifiedSize", "10MB", "", false, false, false},
                      {"MaxRecipientsPerMessage", "Int32", "200", "", false, false, false},
                      {"RequireTLS", "Boolean", "$false", "", false, false, false},
                      {"Confirm", "SwitchParameter", "", "", true, false, false}};
        t.push_back(set);
        Cmdlet help{"Get-Help", "", {{"Name", "String", "", "", false, false, true}}, false, nullptr};
        t.push_back(help);
        return t;
    }();
    return table;
}
}  // namespace

FUZZ_TARGET(cli_grammar) {
    if (size == 0 || size > 4096) return 0;
    const Cmdlet& c = cmdlets()[data[0] % cmdlets().size()];
    // The words as the shell splits them: here on NUL (argv cannot hold one).
    std::vector<std::string> args;
    std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
    while (!rest.empty() && args.size() < 64) {
        auto nul = rest.find('\0');
        args.emplace_back(rest.substr(0, nul));
        rest = nul == std::string_view::npos ? std::string_view() : rest.substr(nul + 1);
    }
    try {
        Invocation inv = parse_invocation(c, args);
        FUZZ_CHECK(inv.cmdlet == c.name);
        // Every parameter by its full name, once.
        for (std::size_t i = 0; i < inv.params.size(); ++i) {
            bool known = false;
            for (const auto& p : c.params) known = known || p.name == inv.params[i].first;
            FUZZ_CHECK(known);
            for (std::size_t j = 0; j < i; ++j) FUZZ_CHECK(inv.params[j].first != inv.params[i].first);
            FUZZ_CHECK(inv.get(inv.params[i].first) != nullptr);
        }
    } catch (const CmdletError& e) {
        FUZZ_CHECK(e.exit_code == 2 && !e.message.empty());
    }
    for (const auto& a : args) {
        try {
            (void)resolve_parameter(c, a);
        } catch (const CmdletError& e) {
            FUZZ_CHECK(!e.message.empty());
        }
    }
    return 0;
}
