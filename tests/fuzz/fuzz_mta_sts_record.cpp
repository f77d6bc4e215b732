// The `_mta-sts` TXT record (transport/sts/sts_records.*): anyone's DNS zone writes it.
// What parses has an id of 1-32 letters and digits, and reads back the same.
#include "fuzz_target.hpp"
#include "sts_records.hpp"

#include <string>

using namespace edge;

FUZZ_TARGET(mta_sts_record) {
    std::string_view txt(reinterpret_cast<const char*>(data), size);
    std::string why;
    auto r = sts::parse_sts_record(txt, &why);
    FUZZ_CHECK(r.has_value() == why.empty());
    if (r) {
        FUZZ_CHECK(!r->id.empty() && r->id.size() <= 32);
        auto again = sts::parse_sts_record("v=STSv1; id=" + r->id + ";");
        FUZZ_CHECK(again && again->id == r->id);
    }
    // The same bytes as one of two TXT records: two STSv1 records are never a policy.
    auto one = sts::select_sts_record({std::string(txt)});
    FUZZ_CHECK(!one || r);
    FUZZ_CHECK(!(one && sts::select_sts_record({std::string(txt), "v=STSv1; id=x;"})));
    return 0;
}
