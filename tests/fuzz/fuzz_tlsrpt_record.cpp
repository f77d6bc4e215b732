// The `_smtp._tls` TXT record (transport/sts/sts_records.*): anyone's DNS zone writes it,
// and its mailto: addresses become recipients of our report mail. What parses has at
// least one rua URI; every address is a valid mailbox, printable, no header-breaking bytes.
#include "fuzz_target.hpp"
#include "address.hpp"
#include "sts_records.hpp"

#include <string>

using namespace edge;

FUZZ_TARGET(tlsrpt_record) {
    std::string_view txt(reinterpret_cast<const char*>(data), size);
    std::string why;
    auto r = sts::parse_tlsrpt_record(txt, &why);
    FUZZ_CHECK(r.has_value() == why.empty());
    if (!r) return 0;
    FUZZ_CHECK(!r->mailto.empty() || !r->https.empty());
    FUZZ_CHECK(r->mailto.size() + r->https.size() <= 16);
    for (const auto& a : r->mailto) {
        FUZZ_CHECK(a.find('@') != std::string::npos && a.front() != '@');
        auto m = smtp::split_mailbox(a);  // a mailbox RCPT TO would take, as a whole
        FUZZ_CHECK(m && smtp::check_mailbox(*m, false) == smtp::AddressError::None);
        for (char c : a) FUZZ_CHECK(c > 0x20 && c < 0x7f && c != ',' && c != '<' && c != '>');
    }
    return 0;
}
