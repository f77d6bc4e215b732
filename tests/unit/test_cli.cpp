// edgectl's pure parts: the command-line grammar, -Filter, the output formats and the
// time reader. The transcripts (tests/transcripts/) show the same through the binary;
// here each rule is pinned on its own, table-driven where it fits.
#include "cmdlet.hpp"
#include "filter.hpp"
#include "grammar.hpp"
#include "output.hpp"
#include "record.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace edge::cli;

namespace {

Cmdlet sample_cmdlet() {
    Cmdlet c;
    c.name = "Set-Sample";
    c.params = {
        {"Identity", "String", "", "the object", false, false, true},
        {"Name", "String", "", "a name"},
        {"NameSuffix", "String", "", "a longer name"},
        {"MaxMessageSize", "ByteQuantifiedSize", "10MB", "a size"},
        {"MaxConnections", "Int32", "5000", "a count"},
        {"Enabled", "Boolean", "$true", "on or off"},
        {"AddressSpaces", "String[]", "", "a list", false, true},
        {"Json", "SwitchParameter", "", "JSON", true},
    };
    return c;
}

std::string parse_error(const std::vector<std::string>& args) {
    try {
        parse_invocation(sample_cmdlet(), args);
    } catch (const CmdletError& e) {
        CHECK(e.exit_code == 2);
        return e.message;
    }
    return "<no error>";
}

Record queue_record(std::string identity, std::string status, double count, std::uint64_t size_bytes,
                    std::vector<std::string> list = {}) {
    Record r;
    r.add("Identity", Value::of_text(std::move(identity)));
    r.add("Status", Value::of_text(std::move(status)));
    r.add("MessageCount", Value::of_number(count));
    r.add("Size", Value::of_size(size_bytes, std::to_string(size_bytes) + " B"));
    r.add("Interval", Value::of_duration(300, "00:05:00"));
    r.add("LastError", Value::null());
    r.add("Enabled", Value::of_bool(count > 0));
    r.add("AddressSpaces", Value::of_list(std::move(list)));
    return r;
}

// Parses `text` and evaluates it against `r`; a parse or evaluation error fails the test.
bool filter_matches(const std::string& text, const Record& r) {
    auto parsed = Filter::parse(text);
    if (auto* err = std::get_if<std::string>(&parsed)) FAIL("parse error for '" << text << "': " << *err);
    std::string error;
    bool m = std::get<Filter>(parsed).matches(r, &error);
    INFO(text);
    CHECK(error.empty());
    return m;
}

std::string filter_parse_error(const std::string& text) {
    auto parsed = Filter::parse(text);
    if (auto* err = std::get_if<std::string>(&parsed)) return *err;
    return "<no error>";
}

}  // namespace

TEST_CASE("parameters: case-insensitive, shortened to a prefix, an exact name beats a longer one", "[cli][grammar]") {
    auto inv = parse_invocation(sample_cmdlet(), {"Door", "-maxm", "20MB", "-ENABLED", "false", "-name", "x"});
    CHECK(*inv.get("Identity") == "Door");
    CHECK(*inv.get("MaxMessageSize") == "20MB");
    CHECK(*inv.get("enabled") == "false");
    CHECK(*inv.get("Name") == "x");  // -name is exact for Name although NameSuffix shares the prefix
    CHECK(inv.get("NameSuffix") == nullptr);

    auto colon = parse_invocation(sample_cmdlet(), {"-Enabled:$false", "-Json"});
    CHECK(*colon.get("Enabled") == "$false");
    CHECK(*colon.get("Json") == "$true");  // a switch takes no value
}

TEST_CASE("lists arrive as the shell hands them over: one word or spread over words, quotes stripped",
          "[cli][grammar]") {
    CHECK(*parse_invocation(sample_cmdlet(), {"-AddressSpaces", "\"SMTP:*;1\",'contoso.com'"}).get("AddressSpaces") ==
          "SMTP:*;1,contoso.com");
    CHECK(*parse_invocation(sample_cmdlet(), {"-AddressSpaces", "a.test,", "b.test"}).get("AddressSpaces") ==
          "a.test,b.test");
    CHECK(*parse_invocation(sample_cmdlet(), {"-AddressSpaces", "a.test", ",", "b.test", "-Name", "n"})
               .get("AddressSpaces") == "a.test,b.test");
    // A quoted value that starts with a dash is a value: parameter names hold no space.
    CHECK(*parse_invocation(sample_cmdlet(), {"-Name", "-not (Status -eq 'x')"}).get("Name") == "-not (Status -eq 'x')");
    // A list ends at the next parameter; a value that is not a list keeps its comma.
    CHECK(*parse_invocation(sample_cmdlet(), {"-Name", "a,b"}).get("Name") == "a,b");
}

TEST_CASE("bad command lines are usage errors (exit 2) that name the problem", "[cli][grammar]") {
    CHECK(parse_error({"-Max", "1"}) == "-Max is ambiguous: it could be -MaxMessageSize, -MaxConnections");
    CHECK(parse_error({"-Colour", "red"}).starts_with("there is no parameter -Colour;"));
    CHECK(parse_error({"-Name"}) == "-Name needs a value (String)");
    CHECK(parse_error({"-Name", "-Enabled", "true"}) == "-Name needs a value (String)");
    CHECK(parse_error({"-Name", "a", "-name", "b"}) == "-Name is given twice");
    CHECK(parse_error({"one", "two"}) == "unexpected argument 'two'");
    // bash turns an unquoted $true into an empty word
    CHECK(parse_error({"-Enabled", ""}).find("write '$true' or '$false' in quotes") != std::string::npos);
}

TEST_CASE("Filter compares by the property's type", "[cli][filter]") {
    Record r = queue_record("EDGE\\contoso.com", "Retry", 12, 20 * 1024, {"contoso.com", "*.fabrikam.com"});
    struct Case {
        std::string filter;
        bool expected;
    };
    const std::vector<Case> cases = {
        {"Status -eq 'Retry'", true},
        {"status -eq \"retry\"", true},  // names and strings case-insensitive
        {"Status -ne 'Retry'", false},
        {"MessageCount -gt 10", true},
        {"MessageCount -gt 12", false},
        {"MessageCount -ge 12", true},
        {"MessageCount -lt 9", false},  // as numbers: "12" < "9" as text
        {"MessageCount -le 12", true},
        {"Size -gt 10KB", true},
        {"Size -gt 1MB", false},
        {"Size -eq 20480", true},
        {"Interval -eq '00:05:00'", true},
        {"Interval -lt 00:10:00", true},
        {"Identity -like '*\\contoso.*'", true},
        {"Identity -like 'EDGE\\fab*'", false},
        {"Identity -notlike '*fabrikam*'", true},
        {"Identity -like 'EDGE?contoso.com'", true},
        {"LastError -eq $null", true},
        {"LastError -ne $null", false},
        {"LastError -gt 'a'", false},  // Null is never ordered against anything
        {"Enabled -eq $true", true},
        {"Enabled -eq $false", false},
        {"AddressSpaces -eq 'contoso.com'", true},  // a list matches when any element does
        {"AddressSpaces -like '*fabrikam*'", true},
        {"AddressSpaces -ne 'contoso.com'", false},  // ... and -ne when none does
        {"AddressSpaces -notlike '*.org'", true},
        {"{Status -eq 'Retry'}", true},  // Exchange's braces
    };
    for (const auto& c : cases) {
        INFO(c.filter);
        CHECK(filter_matches(c.filter, r) == c.expected);
    }
}

TEST_CASE("a -like pattern backtracks in linear steps: a long value against many stars ends at once", "[cli][filter]") {
    Record r;
    r.add("Identity", Value::of_text(std::string(20000, 'a')));
    CHECK_FALSE(filter_matches("Identity -like '*a*a*a*a*a*a*a*b'", r));
    CHECK(filter_matches("Identity -like '*a*a*a*a*a*a*a*'", r));
    CHECK(filter_matches("Identity -like 'a*[a-c]'", r));
}

TEST_CASE("Filter: -not binds tightest, then -and, then -or, parentheses override", "[cli][filter]") {
    Record r = queue_record("q", "Ready", 3, 100);
    CHECK(filter_matches("Status -eq 'Retry' -and MessageCount -gt 1 -or MessageCount -eq 3", r));
    CHECK_FALSE(filter_matches("Status -eq 'Retry' -and (MessageCount -gt 1 -or MessageCount -eq 3)", r));
    CHECK(filter_matches("-not Status -eq 'Retry' -and MessageCount -eq 3", r));
    CHECK_FALSE(filter_matches("-not (Status -eq 'Ready' -and MessageCount -eq 3)", r));
    CHECK(filter_matches("!(Status -eq 'Retry')", r));
    CHECK(filter_matches("Status -eq 'Ready' -AND MessageCount -EQ 3", r));
}

TEST_CASE("Filter refuses what it cannot read, saying where, and typos in property names", "[cli][filter]") {
    CHECK(filter_parse_error("Status").find("expected an operator") != std::string::npos);
    CHECK(filter_parse_error("Status -eq").find("expected a value") != std::string::npos);
    CHECK(filter_parse_error("Status -matches 'x'").find("-matches") != std::string::npos);
    CHECK(filter_parse_error("(Status -eq 'x'") != "<no error>");
    CHECK(filter_parse_error("Status -eq 'x") != "<no error>");  // unterminated quote
    CHECK(filter_parse_error("Status -eq 'x' -and") != "<no error>");
    CHECK(filter_parse_error("Status -eq 'x' Size") != "<no error>");
    CHECK(filter_parse_error(std::string(200, '(') + "Status -eq 'x'" + std::string(200, ')')) != "<no error>");

    auto parsed = Filter::parse("Stauts -eq 'Retry' -or Size -gt 1");
    REQUIRE(std::holds_alternative<Filter>(parsed));
    std::vector<std::string> names = {"Identity", "Status", "Size"};
    CHECK(std::get<Filter>(parsed).unknown_property(names) == std::optional<std::string>("Stauts"));

    // A right side that is not of the property's kind is an error, not "no match".
    auto size = Filter::parse("Size -gt abc");
    REQUIRE(std::holds_alternative<Filter>(size));
    std::string error;
    CHECK_FALSE(std::get<Filter>(size).matches(queue_record("q", "Ready", 1, 1), &error));
    CHECK_FALSE(error.empty());
}

TEST_CASE("Format-Table: default columns aligned, numbers right-aligned, fitted to the width", "[cli][output]") {
    std::vector<Record> rs = {queue_record("EDGE\\contoso.com", "Retry", 12, 1),
                              queue_record("EDGE\\a-much-longer-next-hop.example.com", "Ready", 3, 1)};
    std::string t = format_table(rs, {"Identity", "Status", "MessageCount"}, 0);
    CHECK(t ==
          "Identity                                Status MessageCount\n"
          "--------                                ------ ------------\n"
          "EDGE\\contoso.com                        Retry            12\n"
          "EDGE\\a-much-longer-next-hop.example.com Ready             3\n");

    std::string narrow = format_table(rs, {"Identity", "Status", "MessageCount"}, 40);
    std::size_t start = 0;
    while (start < narrow.size()) {
        auto nl = narrow.find('\n', start);
        CHECK(nl - start <= 40);
        start = nl + 1;
    }
    CHECK(narrow.find("...") != std::string::npos);   // the widest column gave way
    CHECK(narrow.find("Retry") != std::string::npos);  // the others kept theirs
    CHECK(format_table({}, {"Identity"}, 0).empty());
}

TEST_CASE("Format-List prints every property, JSON writes typed values and escapes text", "[cli][output]") {
    Record r = queue_record("EDGE\\q\"1\n", "Retry", 2, 2048, {"a", "b"});
    std::string list = format_list({r});
    CHECK(list.find("Identity      : EDGE\\q\"1") != std::string::npos);
    CHECK(list.find("AddressSpaces : a, b") != std::string::npos);
    CHECK(list.find("LastError     : \n") != std::string::npos);

    std::string json = format_json({r});
    CHECK(json.find("\"Identity\": \"EDGE\\\\q\\\"1\\n\"") != std::string::npos);
    CHECK(json.find("\"MessageCount\": 2") != std::string::npos);
    CHECK(json.find("\"Size\": 2048") != std::string::npos);
    CHECK(json.find("\"LastError\": null") != std::string::npos);
    CHECK(json.find("\"Enabled\": true") != std::string::npos);
    CHECK(json.find("\"AddressSpaces\": [\"a\",\"b\"]") != std::string::npos);
    CHECK(format_json({}) == "[]\n");
}

TEST_CASE("JSON is valid UTF-8 whatever a peer sent: each ill-formed subpart is U+FFFD, controls are \\u escapes",
          "[cli][output][security]") {
    struct Case {
        const char* what;
        std::string text;
        std::string json;  // the string as -Json writes it, quotes included
    };
    const std::vector<Case> cases = {
        {"a Latin-1 Subject", "Caf\xe9 cr\xe8me", "\"Caf\\ufffd cr\\ufffdme\""},
        {"a cut-short sequence is one U+FFFD", "a\xe2\x82z", "\"a\\ufffdz\""},
        {"an overlong form", "\xc0\xaf", "\"\\ufffd\\ufffd\""},
        {"a UTF-16 surrogate", "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},
        {"above U+10FFFF", "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},
        {"a raw C1 byte", "\x9b" "2J", "\"\\ufffd2J\""},
        {"C1 as UTF-8", "\xc2\x9b" "2J\xc2\x85", "\"\\u009b2J\\u0085\""},
        {"ESC, BEL, DEL", "\x1b]0;PWNED\x07\x7f", "\"\\u001b]0;PWNED\\u0007\\u007f\""},
        {"well-formed UTF-8 stays", "Gr\xc3\xbc\xc3\x9f" "e \xe2\x9c\x93 \xf0\x9f\x98\x80 \xc2\xa0",
         "\"Gr\xc3\xbc\xc3\x9f" "e \xe2\x9c\x93 \xf0\x9f\x98\x80 \xc2\xa0\""},
        {"quote and backslash", "a\"b\\c", "\"a\\\"b\\\\c\""},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        Record r;
        r.add("Subject", Value::of_text(c.text));
        r.add("Recipients", Value::of_list({c.text}));
        const std::string json = format_json({r});
        CHECK(json == "[\n  {\"Subject\": " + c.json + ", \"Recipients\": [" + c.json + "]}\n]\n");
        // Nothing but printable ASCII and well-formed UTF-8 (above U+009F) on the way out.
        for (std::size_t i = 0; i < json.size(); ++i) {
            const auto b = static_cast<unsigned char>(json[i]);
            CHECK((b == '\n' || (b >= 0x20 && b != 0x7f)));
        }
    }
}

TEST_CASE("Table and List never print a peer's control bytes raw: they show as \\xHH, a backslash stays single",
          "[cli][output][security]") {
    Record r;
    r.add("Identity", Value::of_text("EDGE\\contoso.com\\7"));
    r.add("Subject", Value::of_text("\x1b]0;PWNED\x07 caf\xe9 \xc2\x9b" "2J\r\nnext\tcol\x7f"));
    r.add("LastError", Value::of_text_or_null("451 4.4.0 \x1b[31mred"));
    const std::string shown = "\\x1B]0;PWNED\\x07 caf\\xE9 \\xC2\\x9B2J\\x0D\\x0Anext\\x09col\\x7F";
    std::string list = format_list({r});
    CHECK(list == "Identity  : EDGE\\contoso.com\\7\n"
                  "Subject   : " + shown + "\n"
                  "LastError : 451 4.4.0 \\x1B[31mred\n");
    std::string table = format_table({r}, {"Identity", "Subject"}, 0);
    CHECK(table.find("EDGE\\contoso.com\\7 " + shown + "\n") != std::string::npos);
    for (const std::string* out : {&list, &table})
        for (char c : *out) CHECK((c == '\n' || static_cast<unsigned char>(c) >= 0x20));
}

TEST_CASE("times are read in the forms administrators write them", "[cli][time]") {
    auto iso = parse_time("2026-11-23T14:05:09Z");
    REQUIRE(iso);
    CHECK(format_utc_time(*iso) == "2026-11-23T14:05:09Z");
    CHECK(parse_time("2026-11-23 14:05"));
    CHECK(parse_time("2026-11-23"));
    CHECK(parse_time("11/23/2026 2:05 PM"));
    CHECK(parse_time("11/23/2026"));
    CHECK(parse_time("2026-11-23 14:05") < parse_time("2026-11-23 14:06"));
    CHECK(*parse_time("11/23/2026 2:05 PM") == *parse_time("2026-11-23 14:05"));
    CHECK_FALSE(parse_time("yesterday"));
    CHECK_FALSE(parse_time("2026-13-01"));
    CHECK_FALSE(parse_time("2026-11-23 25:00"));
}
