// The milter protocol's pure half (transport/milter/milter_protocol.*): a milter's bytes,
// split into packets, answer a conversation about a fixed message. Whatever they are,
// the conversation ends (Failed or a verdict) within a bounded number of packets, never
// keeps more than its bounds, and the modifications it reports apply to the message.
#include "fuzz_target.hpp"
#include "milter_protocol.hpp"

#include <cstdlib>
#include <string>

using namespace edge::milter;

FUZZ_TARGET(milter) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    MessageFacts f;
    f.client_addr = "192.0.2.1";
    f.helo = "client.example";
    f.sender = "a@client.example";
    f.recipients = {"u1@contoso.test", "u2@contoso.test"};
    f.headers = {{"From", " a@client.example"}, {"Subject", " Hi\r\n there"}};
    f.body = "Body.\r\n";
    f.max_message_size = 4096;
    Conversation c(f);
    PacketReader reader;
    reader.feed(input);
    std::size_t packets = 0;
    while (!c.done()) {
        (void)c.take_output();
        if (!c.awaiting_reply()) break;
        Packet p;
        auto st = reader.next(p);
        if (st == PacketReader::Status::Malformed) {
            c.fail(std::string(reader.error()));
            break;
        }
        if (st == PacketReader::Status::NeedMore) {
            c.fail("end of input");
            break;
        }
        c.on_reply(p);
        ++packets;
    }
    if (!c.done()) std::abort();  // every path ends the conversation
    const Outcome& o = c.outcome();
    if (o.modifications.body && o.modifications.body->size() > 2 * 4096) std::abort();
    if (o.verdict != Verdict::Failed && !o.reply.empty() && o.reply[0] != '4' && o.reply[0] != '5') std::abort();
    auto fields = apply_header_changes(f.headers, o.modifications.headers);
    std::string joined = join_message(fields, o.modifications.body.value_or(f.body));
    auto [back, body] = split_message(joined);
    // A milter's values never add a field the join did not write (no header injection).
    if (back.size() != fields.size()) std::abort();
    (void)validate_reply_code(input.substr(0, 600));
    return 0;
}
