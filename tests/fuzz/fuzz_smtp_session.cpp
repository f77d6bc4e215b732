// The SMTP session state machine (transport/smtp/session.*) driven by whatever a
// client sends: random command sequences, DATA, BDAT, STARTTLS, under random settings
// and a policy that answers from the input.
#include "session_driver.hpp"

FUZZ_TARGET(smtp_session) {
    edge::fuzz::Tape tape(data, size);
    // The first line is the tape (settings and every later choice), the rest is the client.
    std::string choices(tape.line());
    edge::fuzz::Tape choice_tape(reinterpret_cast<const std::uint8_t*>(choices.data()), choices.size());
    edge::fuzz::SessionRun run{kFuzzTargetName, choice_tape, tape.rest()};
    run.run();
    return 0;
}
