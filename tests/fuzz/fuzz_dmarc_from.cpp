// The author domains of DMARC (transport/auth/author_domains.cpp): From: fields as a
// sender wrote them, one per input line (up to 4). What is found is a bounded set of
// distinct canonical domains, and the same set is found again in a plain list of them.
#include "address.hpp"
#include "dmarc.hpp"
#include "fuzz_target.hpp"

#include <algorithm>
#include <string>
#include <vector>

using namespace edge;

FUZZ_TARGET(dmarc_from) {
    edge::fuzz::Tape tape(data, size);
    std::vector<std::string> fields;
    while (!tape.empty() && fields.size() < 4) fields.emplace_back(tape.line());
    auto a = auth::author_domains(fields);
    FUZZ_CHECK(a.domains.size() <= auth::kMaxAuthorDomains);
    FUZZ_CHECK(a.domains.empty() || a.problem == auth::AuthorProblem::None ||
               a.problem == auth::AuthorProblem::SeveralFromFields);
    FUZZ_CHECK(a.domains.empty() == (a.problem != auth::AuthorProblem::None &&
                                     a.problem != auth::AuthorProblem::SeveralFromFields));
    FUZZ_CHECK((a.problem == auth::AuthorProblem::SeveralFromFields) == (!a.domains.empty() && fields.size() > 1));
    FUZZ_CHECK(a.domains.empty() == !a.reason.empty() || a.problem == auth::AuthorProblem::SeveralFromFields);
    std::string plain;
    for (std::size_t i = 0; i < a.domains.size(); ++i) {
        const auto& d = a.domains[i];
        // Canonical, a name (no literal), and each once.
        FUZZ_CHECK(smtp::canonical_domain(d) == d);
        FUZZ_CHECK(!d.empty() && d.front() != '[');
        FUZZ_CHECK(std::count(a.domains.begin(), a.domains.end(), d) == 1);
        plain += (i ? ", a@" : "a@") + d;
    }
    if (!a.domains.empty()) FUZZ_CHECK(auth::author_domains({plain}).domains == a.domains);
    return 0;
}
