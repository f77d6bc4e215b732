// What a Get-* cmdlet returns: records of named, typed properties (Exchange's objects
// as Format-Table / Format-List / ConvertTo-Json see them). Typing matters twice:
// -Filter compares sizes, time spans, times and numbers as such, and -Json writes
// numbers, booleans, lists and null as JSON types.
#pragma once

#include "queue_types.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::cli {

struct Value {
    enum class Kind : std::uint8_t {
        Null,      // not set (LastError of a healthy queue, an empty NextRetryTime)
        Text,      // compared case-insensitively, as PowerShell compares strings
        Number,    // a count; `number`
        Boolean,   // `boolean`
        Size,      // bytes in `number`; `unlimited` for Exchange's "unlimited"
        Duration,  // seconds in `number`
        Time,      // `time` (UTC microseconds)
        List,      // `items`, each compared as Text
    };
    Kind kind = Kind::Null;
    std::string text;  // how a table shows it (every kind; "" for Null)
    double number = 0;
    bool boolean = false;
    bool unlimited = false;  // Number or Size: "unlimited", above every number
    queue::Timestamp time{};
    std::vector<std::string> items;

    static Value null();
    static Value of_text(std::string text);
    static Value of_number(double n);
    static Value of_bool(bool b);
    static Value of_size(std::uint64_t bytes, std::string shown);  // kUnlimited = unlimited
    static Value of_duration(std::int64_t seconds, std::string shown);
    static Value of_time(queue::Timestamp t);                       // shown as local "yyyy-mm-dd hh:mm:ss"
    static Value of_text_or_null(std::string text);                  // "" = Null (an unset LastError)
    static Value of_time_or_null(std::optional<queue::Timestamp> t);
    static Value of_list(std::vector<std::string> items);           // shown as "a, b, c"
};

struct Property {
    std::string name;
    Value value;
};

// One object: properties in the order Format-List prints them.
class Record {
public:
    void add(std::string name, Value value) { properties_.push_back({std::move(name), std::move(value)}); }
    // Case-insensitive, as PowerShell property names are; nullptr when absent.
    const Value* find(std::string_view name) const;
    const std::vector<Property>& properties() const { return properties_; }
    // The property names in order: what -Filter may name. A cmdlet takes them from a
    // record it builds, so the names are written once.
    std::vector<std::string> names() const;

private:
    std::vector<Property> properties_;
};

// Time formats: what tables show (local time) and what -Json writes (UTC, RFC 3339).
std::string format_local_time(queue::Timestamp t);
std::string format_utc_time(queue::Timestamp t);
// Reads a time an administrator writes in -Filter or -Start/-End: "2026-11-23",
// "2026-11-23 14:05[:09]", "2026-11-23T14:05:09[Z]", or Exchange's US form
// "11/23/2026 [2:05[:09] [PM]]". Local time unless it ends in Z.
std::optional<queue::Timestamp> parse_time(std::string_view text);

}  // namespace edge::cli
