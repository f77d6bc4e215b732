// The manual pages' generated parts: edgectl(8)'s cmdlets with every parameter, and
// edge-transport.conf(5)'s keys, written as troff from the cmdlet table and the settings
// table at build time (`edgectl --man TEMPLATE OUT`), so a page cannot disagree with
// what edgectl and the server accept. The prose around them is in man/*.in.
#pragma once

#include <string>
#include <string_view>

namespace edge::cli {

// Text as a troff body line shows it: a backslash as \e, every '-' as \- (an ASCII
// hyphen-minus, so a cmdlet or parameter copied from the page still works), a leading
// '.' or '\'' guarded by \&, a character beyond ASCII as \[uXXXX]; control bytes dropped.
std::string troff_text(std::string_view text);

// The CMDLETS section: one .SS per cmdlet in table order (as `edgectl help` lists them),
// its synopsis, and a .TP per parameter: name, type, meaning, default and where that
// default comes from, the values it takes.
std::string man_cmdlets();

// The KEYS section of edge-transport.conf(5): every bootstrap key of the settings table.
std::string man_bootstrap_settings();

// Fills a page template: "@VERSION@" anywhere becomes the project version, and a line
// that is exactly "@CMDLETS@" or "@BOOTSTRAP_SETTINGS@" becomes that section. Another
// "@WORD@" is an error (a misspelt marker must not ship), thrown as std::runtime_error.
std::string fill_man_template(std::string_view page);

}  // namespace edge::cli
