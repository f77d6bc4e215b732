// The IP Block List and IP Allow List in the config store: one object per entry (kinds
// IPBlockListEntry / IPAllowListEntry, named by the entry's Identity), read into the
// lookup structure of ip_list.hpp, and written by edgectl's Add-/Remove-IP*ListEntry,
// by Sender Reputation (machine entries, through the server) and by the server's
// sweep of expired entries. Every write is one config-store transaction.
#pragma once

#include "ip_list.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::queue {
class QueueDb;
}

namespace edge::agents {

struct AgentServices;
struct ConnectionFilterConfig;

// The config-store kind of a list ("IPBlockListEntry", "IPAllowListEntry").
std::string_view ip_list_kind_name(IpListKind kind);

// Every stored entry of the list, in Identity order. A record that does not read (a
// bad IPRange or ExpirationTime, a name that is no Identity) is left out and named in
// `errors`, never fatal.
std::vector<IpListEntry> load_ip_list_entries(const queue::QueueDb& db, IpListKind kind,
                                              std::vector<std::string>* errors = nullptr);
// The lookup structure of the list as stored now (the server builds it per generation).
std::shared_ptr<const IpList> load_ip_list(const queue::QueueDb& db, IpListKind kind,
                                           std::vector<std::string>* errors = nullptr);

// What add_ip_list_entry did: the new Identity, or an error that names the parameter.
struct AddedIpListEntry {
    std::uint64_t identity = 0;  // 0 when refused
    std::string error;           // empty when added
    std::string warning;         // accepted but changed ("host bits ... are ignored")
    bool ok() const { return error.empty(); }
};

// Adds one entry, as Add-IPBlockListEntry / Add-IPAllowListEntry do, and returns its
// Identity: the largest stored Identity of that list + 1 (Exchange's numbering; an
// Identity is never reused while a larger one exists).
//   range       an IP address, a range a-b (same family, a <= b) or a CIDR block,
//               IPv4 or IPv6 ("192.0.2.1", "192.0.2.1-192.0.2.9", "2001:db8::/32")
//   expiration  when it stops matching (UTC); nullopt = never; must be after `now`
//   comment     the administrator's note: one line, at most 1024 characters
//   machine     true for Sender Reputation's entries (answered with
//               MachineEntryRejectionResponse), false for an administrator's
// One config-store transaction; a concurrent writer makes it retry, never collide.
// Safe to call from the server's I/O thread (a short LMDB write).
AddedIpListEntry add_ip_list_entry(queue::QueueDb& db, IpListKind kind, std::string_view range,
                                   std::optional<std::chrono::system_clock::time_point> expiration,
                                   std::string_view comment, bool machine,
                                   std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// Remove-IPBlockListEntry / Remove-IPAllowListEntry: "" when removed, else why not.
std::string remove_ip_list_entry(queue::QueueDb& db, IpListKind kind, std::uint64_t identity);

// Removes the entries of both lists whose ExpirationTime is at or before `now` (they
// stopped matching then already). Nothing is written when none has. `next`: the
// earliest ExpirationTime still stored, when the server need look again (nullopt: none
// expires). The server calls it from its config poll, at most every few minutes.
struct IpListSweep {
    std::size_t removed = 0;
    std::optional<std::chrono::system_clock::time_point> next;
};
IpListSweep sweep_expired_ip_list_entries(queue::QueueDb& db, std::chrono::system_clock::time_point now);

// The Connection Filtering Agent's configuration as stored now: both lists, their
// IPBlockListConfig / IPAllowListConfig, Set-TransportConfig -InternalSMTPServers and
// the providers (load_ip_providers). Read once per config generation by load_pipeline.
std::shared_ptr<const ConnectionFilterConfig> load_connection_filter_config(const queue::QueueDb& db,
                                                                            const AgentServices& services,
                                                                            std::vector<std::string>* errors = nullptr);

}  // namespace edge::agents
