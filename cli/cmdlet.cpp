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

namespace {
std::size_t result_size(const Invocation& inv) {
    const std::string* rs = inv.get("ResultSize");
    if (rs == nullptr) return 1000;
    if (iequals(*rs, "unlimited")) return SIZE_MAX;
    char* end = nullptr;
    unsigned long long v = std::strtoull(rs->c_str(), &end, 10);
    if (rs->empty() || *end != '\0' || v == 0 || rs->front() == '-')
        fail(fmt::format("-ResultSize: '{}' is not valid; expected a whole number from 1, or unlimited", *rs), 2);
    return static_cast<std::size_t>(v);
}
}  // namespace

RecordFilter::RecordFilter(const Invocation& inv, const std::vector<std::string>& property_names) {
    const std::string* f = inv.get("Filter");
    if (f == nullptr) return;
    auto parsed = Filter::parse(*f);
    if (auto* err = std::get_if<std::string>(&parsed)) fail(*err, 2);
    filter_ = std::make_unique<Filter>(std::move(std::get<Filter>(parsed)));
    if (auto unknown = filter_->unknown_property(property_names))
        fail(fmt::format("-Filter: there is no property '{}' here; the properties are: {}", *unknown,
                         fmt::join(property_names, ", ")),
             2);
}

RecordFilter::~RecordFilter() = default;
RecordFilter::RecordFilter(RecordFilter&&) noexcept = default;

bool RecordFilter::matches(const Record& r) const {
    if (!filter_) return true;
    std::string error;
    bool m = filter_->matches(r, &error);
    if (!error.empty()) fail(error.starts_with("-Filter:") ? error : "-Filter: " + error, 2);
    return m;
}

Pager::Pager(const Invocation& inv, const std::vector<std::string>& property_names,
             std::optional<std::string> bookmark_identity, std::string identity_property)
    : filter_(inv, property_names), limit_(result_size(inv)), limit_given_(inv.has("ResultSize")),
      bookmark_identity_(std::move(bookmark_identity)), identity_property_(std::move(identity_property)) {
    if (const std::string* bi = inv.get("BookmarkIndex")) {
        char* end = nullptr;
        unsigned long long v = std::strtoull(bi->c_str(), &end, 10);
        if (bi->empty() || *end != '\0' || v == 0 || bi->front() == '-' || bi->size() > 18)
            fail(fmt::format("-BookmarkIndex: '{}' is not valid; expected a position from 1 (the first object)", *bi), 2);
        bookmark_index_ = v;
    }
    if (bookmark_index_ && inv.has("BookmarkObject"))
        fail("give -BookmarkIndex or -BookmarkObject, not both", 2);
    include_bookmark_ = bool_param(inv, "IncludeBookmark", true);
    forward_ = bool_param(inv, "SearchForward", true);
    page_info_ = inv.has("ReturnPageInfo");
    if (!bookmark_index_ && !bookmark_identity_) bookmark_reached_ = true;
}

Pager::~Pager() = default;

std::uint64_t Pager::skippable() const {
    return bookmark_index_ && filter_.selects_all() ? *bookmark_index_ - 1 : 0;
}

bool Pager::offer(Record r) {
    if (!bookmark_reached_ && bookmark_identity_) {
        // The bookmark object opens the page whether or not -Filter selects it.
        const Value* id = r.find(identity_property_);
        if (id == nullptr || !iequals(id->text, *bookmark_identity_)) return true;
        bookmark_reached_ = true;
        if (!include_bookmark_ || !filter_.matches(r)) return true;
        ++matched_;
        page_.push_back(std::move(r));  // the first of the page; limit_ is at least 1
        return true;
    }
    if (!filter_.matches(r)) return true;
    ++matched_;
    if (bookmark_index_ && !bookmark_reached_) {
        if (matched_ < *bookmark_index_) return true;
        bookmark_reached_ = true;
        if (!include_bookmark_) return true;
    }
    if (page_.size() == limit_) {
        truncated_ = true;
        return false;
    }
    if (page_.empty()) first_position_ = matched_;
    page_.push_back(std::move(r));
    return true;
}

std::vector<Record> Pager::take() {
    // Past the end is an empty page, as Exchange answers it: a script paging by
    // -BookmarkIndex through an exact multiple of its page size ends without an error.
    if (!bookmark_reached_ && bookmark_index_) return {};
    if (!bookmark_reached_) fail(fmt::format("-BookmarkObject: {} is not there (any more)", *bookmark_identity_));
    page_size_ = page_.size();
    if (!page_.empty())
        if (const Value* id = page_.back().find(identity_property_)) last_identity_ = id->text;
    return std::move(page_);
}

std::string Pager::note() const {
    if (page_info_) {
        if (page_size_ == 0) return "page info: no objects on this page";
        std::string next = fmt::format("-BookmarkObject '{}' -IncludeBookmark '$false'", last_identity_);
        // Positions are known when the page was counted from the start of the result set.
        if (!bookmark_identity_ && forward_)
            return fmt::format("page info: objects {} to {}{}; the next page: {} (or -BookmarkIndex {})", first_position_,
                               first_position_ + page_size_ - 1, truncated_ ? "" : ", the last", next,
                               first_position_ + page_size_);
        return fmt::format("page info: {} object(s){}; the next page: {}", page_size_, truncated_ ? "" : ", the last",
                           next);
    }
    if (truncated_ && !limit_given_)
        return fmt::format("WARNING: by default only the first {} objects are shown; give -ResultSize unlimited, or "
                           "-BookmarkIndex {} for the next page",
                           limit_, first_position_ + page_size_);
    return {};
}

std::vector<ParamDef> paging_params() {
    return {
        {"BookmarkIndex", "Int32", "", "Start the page at this position of the result set (1 = the first object)"},
        {"BookmarkObject", "Identity", "", "Start the page at this object (a queue or message identity)"},
        {"IncludeBookmark", "Boolean", "$true", "Whether the bookmark object itself is on the page"},
        {"SearchForward", "Boolean", "$true", "$false: read the result set backwards from the bookmark (or the end)"},
        {"ReturnPageInfo", "Switch", "", "Say on stderr where the page is and how to ask for the next one", true},
    };
}

std::vector<Record> select_records(std::vector<Record> records, const Invocation& inv,
                                   const std::vector<std::string>& property_names) {
    Pager pager(inv, property_names);
    for (auto& r : records)
        if (!pager.offer(std::move(r))) break;
    return pager.take();
}

}  // namespace edge::cli
