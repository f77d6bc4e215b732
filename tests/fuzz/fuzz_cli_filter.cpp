// edgectl -Filter (cli/filter.*): an expression an administrator types, possibly pasted
// from somewhere else, evaluated over records that hold what peers sent (a Subject, a
// sender address). Parsing gives a filter or an error that says where; never a crash,
// whatever the nesting.
#include "filter.hpp"
#include "fuzz_target.hpp"

#include <string>
#include <variant>
#include <vector>

using namespace edge::cli;

FUZZ_TARGET(cli_filter) {
    if (size > 4096) return 0;  // a command line, not a file
    edge::fuzz::Tape tape(data, size);
    std::string text(tape.line());
    std::string subject(tape.line());

    auto parsed = Filter::parse(text);
    if (auto* error = std::get_if<std::string>(&parsed)) {
        FUZZ_CHECK(!error->empty());
        return 0;
    }
    const Filter& f = std::get<Filter>(parsed);
    std::vector<std::string> names{"Identity", "Status", "MessageCount", "Size", "FromAddress", "Recipients",
                                   "DateReceived", "Subject", "LastError", "Enabled", "RetryInterval"};
    (void)f.unknown_property(names);

    Record r;
    r.add("Identity", Value::of_text("EDGE\\contoso.com"));
    r.add("Status", Value::of_text("Retry"));
    r.add("MessageCount", Value::of_number(static_cast<double>(tape.u16())));
    r.add("Size", Value::of_size(tape.u16() * 1024ull, "10 KB"));
    r.add("FromAddress", Value::of_text(subject));
    r.add("Recipients", Value::of_list({"a@contoso.com", subject, ""}));
    r.add("DateReceived", Value::of_time(edge::queue::Timestamp(std::chrono::microseconds(1'700'000'000'000'000))));
    r.add("Subject", Value::of_text_or_null(subject));
    r.add("LastError", Value::null());
    r.add("Enabled", Value::of_bool(tape.flag()));
    r.add("RetryInterval", Value::of_duration(tape.u16(), "00:10:00"));
    std::string error;
    bool first = f.matches(r, &error);
    std::string error2;
    // A filter is a function of the record.
    FUZZ_CHECK(f.matches(r, &error2) == first && error == error2);
    if (!error.empty()) FUZZ_CHECK(!first);
    return 0;
}
