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
// between records. Table and list cells show control bytes and invalid UTF-8 as \xHH
// (the logs' escape; a backslash stays single), so nothing a peer sent reaches the
// terminal raw.
std::string format_list(const std::vector<Record>& records);
// An array of objects: Number/Size as numbers (unlimited as "unlimited"), Boolean as
// true/false, Null as null, Time as RFC 3339 UTC, List as an array, the rest strings.
// Always valid JSON in UTF-8: text that is not UTF-8 (a Latin-1 Subject) has each
// ill-formed subpart replaced by U+FFFD; control characters (C0, DEL, C1) are \u escapes.
std::string format_json(const std::vector<Record>& records);

// The terminal's width when stdout is one, else $COLUMNS, else 0 (unlimited: a pipe
// to a script must not lose characters).
std::size_t output_width();

}  // namespace edge::cli
