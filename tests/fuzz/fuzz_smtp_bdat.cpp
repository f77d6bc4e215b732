// The BDAT path of the session (RFC 3030): a greeted session with a sender and a
// recipient, then the input as BDAT commands and raw chunks. Memory held for the body
// stays within MaxMessageSize and a small constant, however the message is chunked.
#include "session_driver.hpp"

FUZZ_TARGET(smtp_bdat) {
    edge::fuzz::Tape tape(data, size);
    std::string choices(tape.take(16));
    edge::fuzz::Tape choice_tape(reinterpret_cast<const std::uint8_t*>(choices.data()), choices.size());
    std::string client = "EHLO client.example.test\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\n";
    client += tape.rest();
    edge::fuzz::SessionRun run{kFuzzTargetName, choice_tape, client};
    run.bdat_mode = true;
    run.run();
    return 0;
}
