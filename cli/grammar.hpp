// edgectl's command line, PowerShell's way: `<Verb-Noun> [Identity] [-Parameter value]…`.
// Parameter names are case-insensitive and may be shortened to any unambiguous prefix;
// `-Name:value` works; a list may come as one word ("a","b" after the shell: a,b) or
// spread over words (a, b); an exact name beats a prefix (-Name vs -NameSuffix).
#pragma once

#include "cmdlet.hpp"

#include <string>
#include <vector>

namespace edge::cli {

// Resolves `args` (the words after the cmdlet name) against the cmdlet's parameters.
// Throws CmdletError (exit code 2) naming the problem: an unknown or ambiguous
// parameter (with the candidates), a missing value, a parameter given twice, a stray
// word, or an empty Boolean (bash turns an unquoted $true into nothing).
Invocation parse_invocation(const Cmdlet& cmdlet, const std::vector<std::string>& args);

// The parameter `word` (without '-') names: exact, else the one with that prefix.
// nullptr when none; throws CmdletError when ambiguous.
const ParamDef* resolve_parameter(const Cmdlet& cmdlet, std::string_view word);

}  // namespace edge::cli
