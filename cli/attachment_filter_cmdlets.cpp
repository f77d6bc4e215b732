// The Attachment Filtering Agent's list (issue 19): Add-/Get-/Remove-AttachmentFilterEntry,
// Exchange's identities "FileName:*.exe", "ContentType:application/x-msdownload". The list
// is written through agents/attachment_filter.hpp (the defaults until the first change);
// Set-/Get-AttachmentFilterListConfig are the settings table's singleton (config_cmdlets.cpp).
#include "cmdlet.hpp"

#include "attachment_filter.hpp"

#include <fmt/format.h>

namespace edge::cli {

namespace {
using agents::AttachmentFilterEntry;

Record entry_record(const AttachmentFilterEntry& e) {
    Record r;
    r.add("Type", Value::of_text(std::string(config::to_name(e.type))));
    r.add("Name", Value::of_text(e.name));
    r.add("Identity", Value::of_text(e.identity()));
    return r;
}
const std::vector<std::string> kEntryColumns{"Type", "Name", "Identity"};

AttachmentFilterEntry identity_param(const Invocation& inv) {
    const std::string* id = inv.get("Identity");
    if (id == nullptr || id->empty())
        fail("which AttachmentFilterEntry? give its Identity, such as FileName:*.exe or ContentType:image/jpeg", 2);
    auto e = agents::parse_attachment_filter_identity(*id);
    if (!e)
        fail(fmt::format("-Identity: '{}' is not an attachment filter entry; expected FileName:<name> or "
                         "ContentType:<type/subtype> ('edgectl Get-AttachmentFilterEntry' lists them)",
                         *id),
             2);
    return *e;
}

void apply(Context& ctx, const std::optional<AttachmentFilterEntry>& add, const std::optional<AttachmentFilterEntry>& remove) {
    const std::uint64_t generation = ctx.db->config_generation();
    std::string error;
    auto changes = agents::attachment_filter_entry_changes(*ctx.db, add, remove, error);
    if (!error.empty()) fail(error);
    auto r = ctx.db->config_apply(std::move(changes), generation);
    if (!r) fail("the configuration changed meanwhile or could not be written (" + r.error().message() + "); nothing was changed");
}

Output add_entry(Context& ctx, const Invocation& inv) {
    const std::string* name = inv.get("Name");
    const std::string* type = inv.get("Type");
    if (name == nullptr || type == nullptr) fail("-Name and -Type are required (Add-AttachmentFilterEntry -Name *.exe -Type FileName)", 2);
    AttachmentFilterEntry e;
    if (iequals(*type, "FileName")) e.type = config::AttachmentType::FileName;
    else if (iequals(*type, "ContentType")) e.type = config::AttachmentType::ContentType;
    else fail(fmt::format("-Type: '{}' is not one of FileName, ContentType", *type), 1);
    e.name = *name;
    if (auto err = agents::check_attachment_filter_entry(e); !err.empty()) fail(err);
    apply(ctx, e, std::nullopt);
    Output out;
    out.records.push_back(entry_record(e));
    out.columns = kEntryColumns;
    return out;
}

Output get_entries(Context& ctx, const Invocation& inv) {
    std::optional<AttachmentFilterEntry> wanted;
    if (inv.has("Identity")) wanted = identity_param(inv);
    std::vector<Record> records;
    for (const auto& e : agents::load_attachment_filter_entries(*ctx.db))
        if (!wanted || (e.type == wanted->type && iequals(e.name, wanted->name))) records.push_back(entry_record(e));
    if (wanted && records.empty())
        fail(fmt::format("no attachment filter entry '{}'; 'edgectl Get-AttachmentFilterEntry' lists them", wanted->identity()));
    Output out;
    out.records = select_records(std::move(records), inv, {"Type", "Name", "Identity"});
    out.columns = kEntryColumns;
    return out;
}

Output remove_entry(Context& ctx, const Invocation& inv) {
    apply(ctx, std::nullopt, identity_param(inv));
    return {};
}
}  // namespace

void add_attachment_filter_cmdlets(std::vector<Cmdlet>& table) {
    table.push_back(Cmdlet{"Add-AttachmentFilterEntry",
                           "Add a file name, *.extension or content type to the attachment filter list; prints the entry",
                           {{"Name", "String", "", "BadFile.exe, *.exe, or a MIME content type such as image/jpeg"},
                            {"Type", "Enum (FileName | ContentType)", "", "What Name is compared with"}},
                           true, add_entry});
    Cmdlet get{"Get-AttachmentFilterEntry", "List the attachment filter list's entries, or one",
               {{"Identity", "String", "", "FileName:<name> or ContentType:<type> (optional)", false, false, true}},
               true, get_entries};
    for (auto& p : output_params()) get.params.push_back(std::move(p));
    table.push_back(std::move(get));
    table.push_back(Cmdlet{"Remove-AttachmentFilterEntry", "Delete an entry of the attachment filter list",
                           {{"Identity", "String", "", "FileName:<name> or ContentType:<type>", false, false, true},
                            {"Confirm", "Switch", "", "Accepted for Exchange scripts; edgectl never prompts", true}},
                           true, remove_entry});
}

}  // namespace edge::cli
