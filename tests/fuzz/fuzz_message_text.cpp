// The Content Filter's text walk and phrase search (transport/agents/message_text.*): a
// whole message a stranger writes — MIME structure, transfer encodings, HTML, encoded
// words. The walk ends (libFuzzer's -timeout catches a loop), a phrase written into the
// Subject in plain ASCII is always found, however the rest of the message is built, and
// the search never reports a phrase index out of range.
#include "fuzz_target.hpp"
#include "message_text.hpp"

#include <string>
#include <vector>

using namespace edge;

namespace {
const agents::PhraseMatcher& matcher() {
    static const agents::PhraseMatcher m({{"free money", false}, {"project falcon", true}, {"viagra", false},
                                          {"a", false}, {"\xc3\xa9t\xc3\xa9", false}});
    return m;
}
}  // namespace

FUZZ_TARGET(message_text) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    // The input in uneven pieces, as the DATA reader hands them over.
    std::vector<std::string> chunks;
    for (std::size_t i = 0, n = 1; i < input.size(); i += n, n = n % 13 + 1) chunks.emplace_back(input.substr(i, n));
    agents::PhraseMatcher::Search search(matcher());
    agents::search_message_text(chunks, search);
    const auto& found = search.found();
    const int phrases = static_cast<int>(matcher().phrases().size());
    FUZZ_CHECK(found.good >= -1 && found.good < phrases);
    FUZZ_CHECK(found.bad >= -1 && found.bad < phrases);

    // With a Subject that says a BadWord put first, the walk finds it (or a GoodWord that
    // the rest of the message holds, which decides alone).
    std::vector<std::string> with_subject{"Subject: free money\r\n"};
    with_subject.insert(with_subject.end(), chunks.begin(), chunks.end());
    agents::PhraseMatcher::Search second(matcher());
    agents::search_message_text(with_subject, second);
    FUZZ_CHECK(second.found().bad >= 0 || second.found().good >= 0);

    (void)agents::decode_encoded_words(input);
    (void)agents::normalize_phrase(input);
    return 0;
}
