// The cmdlet table: every edgectl cmdlet once, with its parameters (name, type,
// default, one line of meaning), its default table columns and the function that
// runs it. Parsing (prefixes, lists), Get-Help and bash completion all read it.
#pragma once

#include "queue_db.hpp"
#include "record.hpp"
#include "text_helpers.hpp"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::config {
class ConfigObject;
struct SettingDef;
}  // namespace edge::config

namespace edge::cli {

struct ParamDef {
    std::string name;           // Exchange's parameter name
    std::string type;           // for Get-Help: "Boolean", "ByteQuantifiedSize", "TimeSpan", "String[]", ...
    std::string default_value;  // as an administrator writes it; "" = none
    std::string meaning;        // one line
    bool is_switch = false;     // takes no value (-Json)
    bool is_list = false;       // a comma list: "a","b" and a, b are joined
    bool positional = false;    // may be given without its name (the Identity)
    // The settings-table row the parameter sets, when it is one (config_param): the man
    // page prints its range and where its default comes from (man_page.cpp).
    const config::SettingDef* setting = nullptr;
};

// What the administrator asked: the cmdlet and its parameters by their full names.
struct Invocation {
    std::string cmdlet;  // as the table spells it
    std::vector<std::pair<std::string, std::string>> params;  // full name -> value text, in the order given

    const std::string* get(std::string_view name) const;  // case-insensitive
    bool has(std::string_view name) const { return get(name) != nullptr; }
};

enum class OutputFormat { Table, List, Json };

// Where the cmdlet reads and writes. The database is opened only for cmdlets that
// need it (Get-Help does not).
struct Context {
    std::string data_directory;
    std::string server_name;  // <SERVER> of queue and message identities
    queue::QueueDb* db = nullptr;
    OutputFormat format = OutputFormat::Table;
    std::size_t width = 0;  // table width; 0 = unlimited
};

// A cmdlet's outcome: records to print (Get-*), or nothing; errors are thrown as
// CmdletError and printed by main as "edgectl: <cmdlet>: <message>".
struct CmdletError {
    std::string message;
    int exit_code = 1;  // 2 = usage
};

struct Output {
    std::vector<Record> records;
    std::vector<std::string> columns;  // the table's columns; empty = nothing to print
    bool list_by_default = false;      // singletons (Get-TransportServer) print as a list
    std::string note;                  // a line for stderr after success ("the NDR is sent when ...")
    int exit_code = 0;                 // non-zero when the answer is "no" (Test-QueueDatabase)
};

struct Cmdlet {
    std::string name;
    std::string synopsis;
    std::vector<ParamDef> params;
    bool needs_database = true;
    std::function<Output(Context&, const Invocation&)> run;
};

// The whole table, built once.
const std::vector<Cmdlet>& cmdlet_table();
const Cmdlet* find_cmdlet(std::string_view name);  // case-insensitive

// The parameters every Get-* has (-Filter, -Format, -Json, -ResultSize), appended
// by the noun files.
std::vector<ParamDef> output_params();

// Each noun file contributes its cmdlets.
void add_config_cmdlets(std::vector<Cmdlet>& table);
void add_queue_cmdlets(std::vector<Cmdlet>& table);
void add_tracking_cmdlets(std::vector<Cmdlet>& table);
void add_backpressure_cmdlets(std::vector<Cmdlet>& table);
void add_edgesync_cmdlets(std::vector<Cmdlet>& table);
void add_agent_cmdlets(std::vector<Cmdlet>& table);
void add_connection_filter_cmdlets(std::vector<Cmdlet>& table);
void add_identity_cmdlets(std::vector<Cmdlet>& table);  // Test-SendConnector (issue 17)
void add_reputation_cmdlets(std::vector<Cmdlet>& table);
void add_help_cmdlets(std::vector<Cmdlet>& table);
void add_ip_provider_cmdlets(std::vector<Cmdlet>& table);
void add_auth_cmdlets(std::vector<Cmdlet>& table);  // New-DkimSigningKey (issue 18)
void add_attachment_filter_cmdlets(std::vector<Cmdlet>& table);  // Add-/Get-/Remove-AttachmentFilterEntry (issue 19)
void add_content_filter_cmdlets(std::vector<Cmdlet>& table);  // Add-/Get-/Remove-ContentFilterPhrase (issue 19)
void add_tls_report_cmdlets(std::vector<Cmdlet>& table);  // Get-/Send-TlsReport, Get-MtaStsPolicy (issue 20)
void add_certificate_cmdlets(std::vector<Cmdlet>& table);  // Import-/New-/Get-/Enable-/Remove-ExchangeCertificate (issue 20)
void add_edge_config_cmdlets(std::vector<Cmdlet>& table);  // Export-/Import-EdgeConfig (issue 21)

// Helpers shared by the noun files.
[[noreturn]] void fail(std::string message, int exit_code = 1);
using text::iequals;
// -Filter and -ResultSize applied to records (every Get-*).
std::vector<Record> select_records(std::vector<Record> records, const Invocation& inv,
                                   const std::vector<std::string>& property_names);

// -Filter, parsed once and checked against the properties before the first record.
class Filter;
class RecordFilter {
public:
    RecordFilter(const Invocation& inv, const std::vector<std::string>& property_names);
    ~RecordFilter();
    RecordFilter(RecordFilter&&) noexcept;
    bool matches(const Record& r) const;  // fails (exit 2) on a comparison that cannot be made
    bool selects_all() const { return filter_ == nullptr; }

private:
    std::unique_ptr<Filter> filter_;
};

// Exchange's paging parameters of Get-Queue and Get-Message (issue 21): -BookmarkIndex,
// -BookmarkObject, -IncludeBookmark, -SearchForward, -ReturnPageInfo.
std::vector<ParamDef> paging_params();

// One page of a Get-* whose records come one at a time in search order (a million
// messages are never all in memory): -Filter, then the bookmark, then -ResultSize.
// The bookmark object, when given, is matched by `identity_property` against
// `bookmark_identity` (the caller's canonical spelling of -BookmarkObject).
class Pager {
public:
    Pager(const Invocation& inv, const std::vector<std::string>& property_names,
          std::optional<std::string> bookmark_identity = std::nullopt, std::string identity_property = "Identity");
    ~Pager();
    Pager(const Pager&) = delete;
    Pager& operator=(const Pager&) = delete;
    // Offers the next record; false once the page is full and one more record matched.
    bool offer(Record r);
    // The page; fails when a -BookmarkObject or -BookmarkIndex was never reached.
    std::vector<Record> take();
    bool search_forward() const { return forward_; }
    // How many objects the source may pass over unread (-BookmarkIndex without -Filter:
    // the objects before the bookmark), and telling the pager it did.
    std::uint64_t skippable() const;
    void skipped(std::uint64_t n) { matched_ += n; }
    void unskipped(std::uint64_t n) { matched_ -= n; }  // the source had fewer than skippable()
    // The note edgectl prints on stderr: the page's place and how to ask for the next
    // one (-ReturnPageInfo), or that the default ResultSize cut the answer short.
    std::string note() const;

private:
    RecordFilter filter_;
    std::size_t limit_ = 1000;
    bool limit_given_ = false;
    std::optional<std::uint64_t> bookmark_index_;
    std::optional<std::string> bookmark_identity_;
    std::string identity_property_;
    bool include_bookmark_ = true, forward_ = true, page_info_ = false;
    bool bookmark_reached_ = false, truncated_ = false;
    std::uint64_t matched_ = 0, first_position_ = 0;
    std::vector<Record> page_;
    std::size_t page_size_ = 0;   // what take() handed over
    std::string last_identity_;
};
// Reads a Boolean parameter value ($true/$false/true/false/1/0), failing with a
// message that names it.
bool bool_param(const Invocation& inv, std::string_view name, bool fallback);
// A configured object as Get-* shows it (Identity, then every setting), and a setting
// as a parameter: config_cmdlets.cpp's, for nouns with cmdlets of their own.
Record config_record(const Context& ctx, const config::ConfigObject& o);
ParamDef config_param(const config::SettingDef& d, bool positional = false);
// A DateTime parameter (-Start, -StartDate…) that must be given; fails naming it.
queue::Timestamp time_param(const Invocation& inv, std::string_view name);

}  // namespace edge::cli
