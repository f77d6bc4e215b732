// Authentication-Results (transport/auth/auth_results.*): authserv_id_of reads fields
// that arrive from anyone; authentication_results_value writes values a sender
// chose (MAIL FROM, d=, From domains). Layout: line 1 a field value to read; line 2
// our authserv-id; each further line a property value of one resinfo.
#include "auth_results.hpp"
#include "fuzz_target.hpp"

#include <string>

using namespace edge;

FUZZ_TARGET(auth_results) {
    edge::fuzz::Tape tape(data, size);
    auto arrived = tape.line();
    auto id = auth::authserv_id_of(arrived);
    // What is read is never empty unless it was quoted, and holds no line end.
    if (id) FUZZ_CHECK(id->find_first_of("\r\n") == std::string::npos);
    if (id && !id->empty() && id->size() < 400) {
        // Written back as our own field, the same authserv-id is read.
        bool plain = true;
        for (char c : *id) plain = plain && static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
        if (plain) FUZZ_CHECK(auth::authserv_id_of(auth::authentication_results_value(*id, {})) == *id);
    }

    std::string ours(tape.line());
    std::vector<auth::AuthMethodResult> results;
    while (!tape.empty() && results.size() < 8) {
        auto v = tape.line();
        auth::AuthMethodResult r{"dkim", auth::Result::Pass, std::string(v.substr(0, 20)), std::string(v.substr(0, 10)),
                                 {{"header", "d", std::string(v)}, {"smtp", "mailfrom", std::string(v)}}};
        results.push_back(std::move(r));
    }
    auto value = auth::authentication_results_value(ours, results);
    // No line end but a fold (CRLF + TAB), no control byte, no line over 998 octets.
    std::size_t line = std::string("Authentication-Results: ").size();
    for (std::size_t i = 0; i < value.size(); ++i) {
        char c = value[i];
        if (c == '\r') {
            FUZZ_CHECK(i + 2 < value.size() && value[i + 1] == '\n' && value[i + 2] == '\t');
            i += 2;
            line = 1;
            continue;
        }
        FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
        FUZZ_CHECK(++line <= 998);
    }
    // Our authserv-id reads back from our own field (controls dropped, as written).
    std::string expected;
    for (char c : ours)
        if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) expected += c;
    if (expected.size() <= 512) FUZZ_CHECK(auth::authserv_id_of(value) == expected);
    return 0;
}
