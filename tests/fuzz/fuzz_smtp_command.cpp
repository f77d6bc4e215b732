// SMTP command lines (transport/smtp/command.*): what any client on the internet sends.
#include "command.hpp"
#include "fuzz_target.hpp"

using namespace edge::smtp;

namespace {
bool has_line_breaker(std::string_view s) {
    return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}
}  // namespace

FUZZ_TARGET(smtp_command) {
    // The driver never hands over a line longer than this (it answers 500 itself).
    if (size > kMaxCommandLine) return 0;
    std::string_view line(reinterpret_cast<const char*>(data), size);
    Parsed p = parse_command(line);
    if (p.error) return 0;
    const Command& c = p.command;
    FUZZ_CHECK(c.verb != Verb::Unknown);
    if (c.verb == Verb::Mail || c.verb == Verb::Rcpt) {
        // An accepted path goes into the queue, logs and the RCPT we send on: a CR, LF
        // or NUL in it would split a line there (SMTP smuggling, CVE-2023-51764).
        FUZZ_CHECK(!has_line_breaker(c.path.local) && !has_line_breaker(c.path.domain));
        FUZZ_CHECK(!has_line_breaker(c.envid) && !has_line_breaker(c.orcpt));
        if (!c.path.null()) {
            FUZZ_CHECK(!c.path.domain.empty());
            FUZZ_CHECK(c.path.local.size() <= 64 || c.path.local.front() == '"');
            if (c.path.domain.front() == '[') FUZZ_CHECK(valid_address_literal(c.path.domain));
        }
        FUZZ_CHECK(c.verb == Verb::Mail || !c.path.null());
    }
    if (c.verb == Verb::Bdat) FUZZ_CHECK(c.last_chunk || c.chunk_size <= UINT64_MAX);
    // Parsing is a function of the line.
    Parsed again = parse_command(line);
    FUZZ_CHECK(!again.error && again.command.verb == c.verb && again.command.path.str() == c.path.str());
    return 0;
}
