// The address canonicaliser (transport/smtp/address.*): every comparison of addresses —
// relay control, the Recipient Filter's block list and hash, routing, the edgesync agent —
// goes through it, so its output must be stable and never carry what a path may not.
#include "address.hpp"
#include "client_session.hpp"
#include "fuzz_target.hpp"
#include "text_helpers.hpp"

using namespace edge::smtp;

FUZZ_TARGET(address) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    auto split = split_mailbox(in);
    if (split) FUZZ_CHECK(split->local.size() + split->domain.size() + 1 == in.size());
    // Issue 20: what goes to a peer without SMTPUTF8 is ASCII, and ASCII goes unchanged;
    // the domain's reason-giving conversion agrees with the plain one.
    if (auto ascii = address_without_smtputf8(in)) {
        FUZZ_CHECK(!edge::text::has_non_ascii(*ascii));
        if (!edge::text::has_non_ascii(in)) FUZZ_CHECK(*ascii == in);
    }
    std::string why;
    auto domain = canonical_domain(in, &why);
    FUZZ_CHECK(domain == canonical_domain(in));
    FUZZ_CHECK(domain.has_value() == why.empty());
    CanonicalAddress c = canonical_address(in);
    if (!c) return 0;
    // A canonical address is a fixed point: canonicalised again it does not change.
    CanonicalAddress again = canonical_address(c.str());
    FUZZ_CHECK(again && again.str() == c.str());
    // Nothing a terminal, a log or a next hop's name must not see; the domain is ASCII
    // (A-labels) and a name MAIL/RCPT accepts, or an address literal.
    FUZZ_CHECK(!has_control_byte(c.str()));
    FUZZ_CHECK(valid_utf8(c.local));
    FUZZ_CHECK(c.domain.starts_with("[") ? valid_address_literal(c.domain) : valid_domain(c.domain));
    FUZZ_CHECK(c.domain.find('@') == std::string::npos);
    // What was accepted passes the check the session makes at RCPT (SMTPUTF8 on).
    if (split) FUZZ_CHECK(check_mailbox(*split, true) == AddressError::None);
    return 0;
}
