// The IP Block List and IP Allow List of the Connection Filtering Agent (Exchange's
// Add-IPBlockListEntry / Add-IPAllowListEntry): one entry's shape, and the lookup
// structure built from the stored entries once per config generation. Pure: no store,
// no clock (the time is the caller's).
#pragma once

#include "ip.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::agents {

// Which of the two lists (the config store's kinds IPBlockListEntry, IPAllowListEntry).
enum class IpListKind : std::uint8_t { Block, Allow };

// One entry as Get-IPBlockListEntry shows it.
struct IpListEntry {
    std::uint64_t identity = 0;  // Exchange's Identity: an integer, max + 1 when added
    routing::IpRange range = routing::IpRange::single(routing::IpAddress());
    // UTC; nullopt = never. The entry stops matching at this instant (checked at
    // lookup) and the server later removes it from the store.
    std::optional<std::chrono::system_clock::time_point> expiration_time;
    std::string comment;
    // Exchange's "machine entry": added by Sender Reputation (answered with
    // MachineEntryRejectionResponse), not by an administrator.
    bool is_machine = false;
};

// ExpirationTime as stored: "2026-12-07T08:00:00Z" (ISO 8601 UTC, to the second).
std::string format_expiration_time(std::chrono::system_clock::time_point t);
std::optional<std::chrono::system_clock::time_point> parse_expiration_time(std::string_view text);

// The entries of one list as sorted disjoint intervals over the 128-bit address space
// (IPv4 as IPv4-mapped IPv6, as routing::IpAddress holds it), each interval naming the
// entry that covers it longest: built in O(n log n), looked up in O(log n), whatever
// the entries overlap. An IPv6 range never covers IPv4 clients (::/0 is every IPv6
// client and no IPv4 one, as RemoteIPRanges reads it).
//
// Where entries overlap, the interval keeps the one that expires last (one that never
// expires first; then a static entry before a machine entry; then the lowest Identity):
// if that one has expired at lookup, every entry covering the address has.
class IpList {
public:
    IpList() = default;
    explicit IpList(std::vector<IpListEntry> entries);

    // The entry that holds `a` at `now`, or nullptr.
    const IpListEntry* find(const routing::IpAddress& a, std::chrono::system_clock::time_point now) const;
    // Every entry that contains `a`, expired or not (Get-IPBlockListEntry -IPAddress).
    std::vector<const IpListEntry*> all_containing(const routing::IpAddress& a) const;

    std::size_t size() const { return entries_.size(); }
    bool empty() const { return entries_.empty(); }
    const std::vector<IpListEntry>& entries() const { return entries_; }
    std::size_t interval_count() const { return intervals_.size(); }
    // The earliest ExpirationTime of any entry (the server sweeps the store when it has
    // passed), nullopt when none expires.
    std::optional<std::chrono::system_clock::time_point> next_expiration() const { return next_expiration_; }

private:
    struct Interval {
        routing::IpAddress first, last;
        std::uint32_t entry;  // index into entries_
    };
    std::vector<IpListEntry> entries_;
    std::vector<Interval> intervals_;  // sorted by first, disjoint
    std::optional<std::chrono::system_clock::time_point> next_expiration_;
};

}  // namespace edge::agents
