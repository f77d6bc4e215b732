// The cmdlet table and what every cmdlet shares: -Filter, -ResultSize, Booleans.
#include "cmdlet.hpp"

#include "filter.hpp"
#include "settings.hpp"

#include <fmt/format.h>


namespace edge::cli {

void fail(std::string message, int exit_code) { throw CmdletError{std::move(message), exit_code}; }

const std::vector<Cmdlet>& cmdlet_table() {
    static const std::vector<Cmdlet> table = [] {
        std::vector<Cmdlet> t;
        add_config_cmdlets(t);
        add_queue_cmdlets(t);
        add_tracking_cmdlets(t);
        add_backpressure_cmdlets(t);
        add_edgesync_cmdlets(t);
        add_agent_cmdlets(t);
        add_connection_filter_cmdlets(t);
        add_ip_provider_cmdlets(t);
        add_identity_cmdlets(t);
        add_reputation_cmdlets(t);
        add_auth_cmdlets(t);
        add_attachment_filter_cmdlets(t);
        add_content_filter_cmdlets(t);
        add_tls_report_cmdlets(t);
        add_certificate_cmdlets(t);
        add_edge_config_cmdlets(t);  // issue 21
        add_help_cmdlets(t);
        return t;
    }();
    return table;
}

const Cmdlet* find_cmdlet(std::string_view name) {
    for (const auto& c : cmdlet_table())
        if (iequals(c.name, name)) return &c;
    return nullptr;
}

std::vector<ParamDef> output_params() {
    return {
        {"Filter", "String", "", "Only objects matching: Status -eq 'Retry' -and MessageCount -gt 10 (any property; "
                                 "-eq -ne -gt -ge -lt -le -like -notlike -and -or -not)"},
        {"Format", "Table|List", "Table", "Table: the default columns. List: every property (Format-List)"},
        {"Json", "Switch", "", "Print JSON (an array of objects, typed) for scripts", true},
        {"ResultSize", "Unlimited<Int32>", "1000", "At most this many objects; unlimited for all"},
    };
}

bool bool_param(const Invocation& inv, std::string_view name, bool fallback) {
    const std::string* v = inv.get(name);
    if (v == nullptr) return fallback;
    bool b = false;
    if (!config::parse_bool(*v, b)) fail(fmt::format("-{}: '{}' is not valid; expected $true or $false", name, *v), 2);
    return b;
}

queue::Timestamp time_param(const Invocation& inv, std::string_view name) {
    const std::string& text = *inv.get(name);
    auto t = parse_time(text);
    if (!t) fail(fmt::format("-{}: '{}' is not a time; expected 2026-11-23, 2026-11-23 14:05:00 or 11/23/2026 2:05 PM", name, text), 2);
    return *t;
}

std::vector<Record> select_records(std::vector<Record> records, const Invocation& inv,
                                   const std::vector<std::string>& property_names) {
    std::size_t limit = 1000;
    if (const std::string* rs = inv.get("ResultSize")) {
        if (iequals(*rs, "unlimited")) {
            limit = SIZE_MAX;
        } else {
            char* end = nullptr;
            unsigned long long v = std::strtoull(rs->c_str(), &end, 10);
            if (rs->empty() || *end != '\0' || v == 0 || rs->front() == '-')
                fail(fmt::format("-ResultSize: '{}' is not valid; expected a whole number from 1, or unlimited", *rs), 2);
            limit = static_cast<std::size_t>(v);
        }
    }
    if (const std::string* f = inv.get("Filter")) {
        auto parsed = Filter::parse(*f);
        if (auto* err = std::get_if<std::string>(&parsed)) fail(*err, 2);
        const Filter& filter = std::get<Filter>(parsed);
        if (auto unknown = filter.unknown_property(property_names))
            fail(fmt::format("-Filter: there is no property '{}' here; the properties are: {}", *unknown,
                             fmt::join(property_names, ", ")),
                 2);
        std::vector<Record> kept;
        for (auto& r : records) {
            std::string error;
            bool m = filter.matches(r, &error);
            if (!error.empty()) fail(error.starts_with("-Filter:") ? error : "-Filter: " + error, 2);
            if (m) kept.push_back(std::move(r));
        }
        records = std::move(kept);
    }
    if (records.size() > limit) records.resize(limit);
    return records;
}

}  // namespace edge::cli
