// The Received: walk of the Connection Filtering Agent (transport/agents/received_walk.*):
// behind InternalSMTPServers the client's header fields name the address that is judged,
// so a field must never make the walk return an internal server or read past its clause.
#include "fuzz_target.hpp"
#include "received_walk.hpp"

using namespace edge;

FUZZ_TARGET(received) {
    // Up to 8 Received: fields, one per input line.
    edge::fuzz::Tape tape(data, size);
    std::vector<agents::HeaderField> fields;
    while (!tape.empty() && fields.size() < 8) fields.emplace_back("Received", std::string(tape.line()));
    std::optional<routing::IpAddress> first;
    for (const auto& f : fields) {
        auto a = agents::received_from_address(f.second);
        // What is returned is an address that reads back as itself.
        if (a) {
            auto again = routing::IpAddress::parse(a->str());
            FUZZ_CHECK(again && *again == *a);
        }
        if (a && !first) first = a;
    }
    // With no internal servers the walk stops at the first field that names an address.
    auto walked = agents::first_external_address(fields, {});
    FUZZ_CHECK(walked == first);
    // An address listed as internal is never the one judged.
    if (walked) {
        const routing::IpRange internal[] = {routing::IpRange::single(*walked)};
        auto next = agents::first_external_address(fields, internal);
        FUZZ_CHECK(!next || *next != *walked);
    }
    return 0;
}
