// The Pickup directory file parser (transport/server/pickup_file.*): whatever a writer of
// the directory puts in a file — X-Sender/X-Receiver blocks, address lists, line ends,
// sizes — gives a bounded envelope and a message with CRLF lines, or a reason.
#include "fuzz_target.hpp"
#include "pickup_file.hpp"

#include <strings.h>

using namespace edge::server;

FUZZ_TARGET(pickup_file) {
    edge::fuzz::Tape tape(data, size);
    PickupLimits limits;
    limits.max_recipients = 1 + tape.byte() % 8;
    limits.max_header_size = 64 + tape.u16();
    limits.max_size = 1 + tape.u16() * 4u;
    std::string_view file = tape.rest();
    PickupParse p = parse_pickup_file(file, limits);
    FUZZ_CHECK(p.message.has_value() != !p.error.empty());
    (void)address_list(file.substr(0, 4096));
    if (!p.message) {
        FUZZ_CHECK(p.error.find('\n') == std::string::npos);
        return 0;
    }
    const PickupMessage& m = *p.message;
    FUZZ_CHECK(!m.recipients.empty() && m.recipients.size() <= limits.max_recipients);
    FUZZ_CHECK(file.size() <= limits.max_size);
    // Every line ends CRLF: no bare LF, no bare CR reaches the queue.
    const std::string& msg = m.message;
    FUZZ_CHECK(msg.size() >= 2 && msg.compare(msg.size() - 2, 2, "\r\n") == 0);
    for (std::size_t i = 0; i < msg.size(); ++i) {
        if (msg[i] == '\n') FUZZ_CHECK(i > 0 && msg[i - 1] == '\r');
        if (msg[i] == '\r') FUZZ_CHECK(i + 1 < msg.size() && msg[i + 1] == '\n');
    }
    // At most one CRLF added per line of the file, and the blank line after the header.
    FUZZ_CHECK(msg.size() <= 2 * file.size() + 4);
    // The header queued holds no X-Sender, X-Receiver or Bcc field.
    std::string_view rest = msg;
    while (!rest.empty()) {
        auto end = rest.find("\r\n");
        std::string_view line = rest.substr(0, end);
        if (line.empty()) break;
        FUZZ_CHECK(line.size() < 4 || strncasecmp(line.data(), "bcc:", 4) != 0);
        rest.remove_prefix(end + 2);
    }
    for (const auto& r : m.recipients) FUZZ_CHECK(r.find('@') != std::string::npos);
    return 0;
}
