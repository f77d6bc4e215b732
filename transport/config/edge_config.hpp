// Cloned configuration (issue 21, Exchange 2007 SP1's ExportEdgeConfig/ImportEdgeConfig):
// the file Export-EdgeConfig writes (every configured object, JSON, deterministic) and the
// answer file Import-EdgeConfig writes and reads (the server-specific values). Pure text
// in and out: reading the config store, checking the host and writing the transaction
// are edgectl's (cli/edge_config_cmdlets.cpp). Both readers see untrusted files (fuzzed).
#pragma once

#include "settings.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::config {

// One object as stored: its kind, its config-store name (the Identity) and its settings.
struct ExportedObject {
    ObjectKind kind;
    std::string name;
    ConfigObject object;
};

// The kinds a clone carries: every ObjectKind but Bootstrap (a file, not the store).
// EdgeSync's state (kEdgeSyncKind) is not an ObjectKind and is never cloned: a
// subscription belongs to one edge.
std::vector<ObjectKind> exported_kinds();

// The largest file either reader takes; a config store of a million list entries would
// not fit, and an administrator's clone is far smaller.
inline constexpr std::size_t kMaxEdgeConfigFileSize = 64u << 20;

// The export: kinds in ObjectKind order, each with every kind present (empty ones too,
// so an import knows to empty them), objects in name order, settings in table order,
// one setting per line. The same objects always give the same bytes. Fails (returns
// the error in `error`, empty string) when a value is not UTF-8, which JSON cannot carry.
std::string write_edge_config(std::vector<ExportedObject> objects, std::string* error);
// Reads an export: every kind known, every setting known and valid (the settings table
// checks it, as Set-* would), validate_object's rules, singletons under their names and
// objects with a Name setting under that Name (but attachment filter entries, Type:Name). Errors name the kind, object and setting;
// the first few are returned, one per line. Kinds absent from the file are absent from
// `kinds_present`: an import leaves them alone.
struct EdgeConfigFile {
    std::vector<ObjectKind> kinds_present;
    std::vector<ExportedObject> objects;
};
std::optional<EdgeConfigFile> read_edge_config(std::string_view text, std::string* error);

// A server-specific value: the answer file has one per (object, setting) listed by
// server_specific_settings(), with what is wrong with it on this host.
struct Answer {
    ObjectKind kind;
    std::string name;     // the object's Identity
    std::string setting;  // Exchange's parameter name
    std::string value;    // canonical text; the administrator edits it
    std::string problem;  // why the value does not fit this host; "" = it does (informational on read)
};
struct ServerSpecificSetting {
    ObjectKind kind;
    std::string_view setting;
};
// SourceIPAddress and Fqdn of Send connectors, Bindings and Fqdn of Receive connectors,
// EdgeSyncListenAddress, the certificates (Thumbprint) and DKIM key files.
std::vector<ServerSpecificSetting> server_specific_settings();
// The server-specific values of `objects`, in the file's order, problems empty.
std::vector<Answer> answers_of(const std::vector<ExportedObject>& objects);

std::string write_answer_file(const std::vector<Answer>& answers);
std::optional<std::vector<Answer>> read_answer_file(std::string_view text, std::string* error);

}  // namespace edge::config
