// -Filter: Exchange's filter expressions over a cmdlet's records, e.g.
//   Status -eq 'Retry' -and MessageCount -gt 10
//   {FromAddress -like '*@contoso.com' -or -not (Size -lt 10KB)}
// Operators: -eq -ne -gt -ge -lt -le -like -notlike (case-insensitive, as PowerShell
// compares strings), -and -or -not (also '!'), parentheses. Precedence: -not, then
// -and, then -or (PowerShell gives -and and -or one level; ours is the one every
// administrator expects from SQL and OPATH — parentheses make either explicit).
// Operands: a property name on the left; on the right a 'single' or "double" quoted
// string, a bare word, a number, $true/$false/$null. The right side is read as the
// property's kind: a size ("10MB"), a time span ("00:05:00"), a time ("2026-11-23
// 14:00"), a number, a boolean. A List property matches -eq/-like when any element
// does, -ne/-notlike when none does. A Null property equals only $null and is never
// -gt/-lt anything. The whole expression may be wrapped in { }.
#pragma once

#include "record.hpp"

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace edge::cli {

class Filter {
public:
    // The parsed expression, or an error that says where and what was expected
    // ("-Filter: expected an operator such as -eq after 'Status' at position 7").
    static std::variant<Filter, std::string> parse(std::string_view text);

    // The first property the expression names that is not in `names`
    // (case-insensitive): a typo must be an error, not an empty result.
    std::optional<std::string> unknown_property(std::span<const std::string> names) const;

    // Whether `record` matches. A right side that cannot be read as the property's
    // kind ("Size -gt abc") is an error: false, and `error` says why.
    bool matches(const Record& record, std::string* error) const;

    struct Node;
    Filter(Filter&&) noexcept;
    Filter& operator=(Filter&&) noexcept;
    ~Filter();

private:
    explicit Filter(std::unique_ptr<Node> root);
    std::unique_ptr<Node> root_;
};

}  // namespace edge::cli
