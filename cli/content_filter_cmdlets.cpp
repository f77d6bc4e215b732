// The Content Filter's custom phrases: Add-/Get-/Remove-ContentFilterPhrase (the config
// store's ContentFilterPhrase objects, written through agents/content_filter.hpp, read by
// the server at the next config generation). Set-/Get-ContentFilterConfig is the
// settings table's singleton (config_cmdlets.cpp).
#include "cmdlet.hpp"

#include "content_filter.hpp"

#include <fmt/format.h>

namespace edge::cli {

namespace {
Record phrase_record(const agents::StoredPhrase& p) {
    Record r;
    r.add("Identity", Value::of_text(p.identity));
    r.add("Phrase", Value::of_text(p.phrase));
    r.add("Influence", Value::of_text(std::string(config::to_name(p.influence))));
    return r;
}
const std::vector<std::string> kPhraseColumns{"Phrase", "Influence"};

// -Phrase or -Identity (Exchange accepts either for Get- and Remove-).
const std::string* phrase_param(const Invocation& inv) {
    const std::string* p = inv.get("Phrase");
    const std::string* id = inv.get("Identity");
    if (p != nullptr && id != nullptr) fail("give -Phrase or -Identity, not both", 2);
    return p != nullptr ? p : id;
}

Output add_phrase(Context& ctx, const Invocation& inv) {
    const std::string* phrase = inv.get("Phrase");
    const std::string* influence = inv.get("Influence");
    if (auto err = agents::add_content_filter_phrase(*ctx.db, phrase ? *phrase : "", influence ? *influence : "");
        !err.empty())
        fail(err);
    Output out;
    const std::string identity = text::to_lower(text::trim(*phrase));
    for (const auto& p : agents::load_content_filter_phrases(*ctx.db))
        if (p.identity == identity) out.records.push_back(phrase_record(p));
    out.columns = kPhraseColumns;
    return out;
}

Output get_phrases(Context& ctx, const Invocation& inv) {
    const std::string* wanted = phrase_param(inv);
    const std::string key = wanted ? text::to_lower(text::trim(*wanted)) : std::string();
    std::vector<Record> records;
    for (const auto& p : agents::load_content_filter_phrases(*ctx.db))
        if (!wanted || p.identity == key) records.push_back(phrase_record(p));
    if (wanted && records.empty())
        fail(fmt::format("no ContentFilterPhrase '{}'; 'edgectl Get-ContentFilterPhrase' lists them", *wanted));
    Output out;
    out.records = select_records(std::move(records), inv, phrase_record(agents::StoredPhrase{}).names());
    out.columns = kPhraseColumns;
    return out;
}

Output remove_phrase(Context& ctx, const Invocation& inv) {
    const std::string* p = phrase_param(inv);
    if (p == nullptr || p->empty())
        fail("which phrase? give -Phrase (or -Identity); 'edgectl Get-ContentFilterPhrase' lists them", 2);
    if (auto err = agents::remove_content_filter_phrase(*ctx.db, *p); !err.empty()) fail(err);
    return {};
}
}  // namespace

void add_content_filter_cmdlets(std::vector<Cmdlet>& table) {
    table.push_back(Cmdlet{"Add-ContentFilterPhrase",
                           fmt::format("Add a custom phrase to the Content Filter (at most {}): GoodWord gives SCL 0, "
                                       "BadWord SCL 9; matched as whole words in any case, in the Subject and the body's text",
                                       agents::kMaxContentFilterPhrases),
                           {{"Phrase", "String", "", "The word or words (one line, at most 128 characters)", false, false, true},
                            {"Influence", "Enum (GoodWord | BadWord)", "", "GoodWord: SCL 0, whatever else is found; BadWord: SCL 9"}},
                           true, add_phrase});
    Cmdlet get{"Get-ContentFilterPhrase", "List the Content Filter's custom phrases, or one",
               {{"Phrase", "String", "", "One phrase (any case; optional)", false, false, true},
                {"Identity", "String", "", "The same as -Phrase"}},
               true, get_phrases};
    for (auto& p : output_params()) get.params.push_back(std::move(p));
    table.push_back(std::move(get));
    table.push_back(Cmdlet{"Remove-ContentFilterPhrase", "Delete a custom phrase of the Content Filter",
                           {{"Phrase", "String", "", "The phrase (any case)", false, false, true},
                            {"Identity", "String", "", "The same as -Phrase"},
                            {"Confirm", "Switch", "", "Accepted for Exchange scripts; edgectl never prompts", true}},
                           true, remove_phrase});
}

}  // namespace edge::cli
