// Printing records as Format-Table (the cmdlet's default columns, aligned and fitted
// to the terminal), Format-List (every property) or JSON (typed, for scripts).
#pragma once

#include "cmdlet.hpp"

#include <cstdio>
#include <string>
#include <vector>

namespace edge::cli {

// Columns sized to their widest value; when the rows are wider than `width` (0 =
// unlimited), the widest columns give way and long values end in "...". Numbers and
// sizes are right-aligned, as PowerShell aligns them.
std::string format_table(const std::vector<Record>& records, const std::vector<std::string>& columns,
                         std::size_t width);
// "Name : value" for every property, names padded to the longest; a blank line
// between records.
std::string format_list(const std::vector<Record>& records);
// An array of objects: Number/Size as numbers (unlimited as "unlimited"), Boolean as
// true/false, Null as null, Time as RFC 3339 UTC, List as an array, the rest strings.
std::string format_json(const std::vector<Record>& records);

// The terminal's width when stdout is one, else $COLUMNS, else 0 (unlimited: a pipe
// to a script must not lose characters).
std::size_t output_width();

}  // namespace edge::cli
