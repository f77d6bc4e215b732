// A Pickup directory file (Exchange's Pickup, reference §3.1) read into an envelope and
// the message to queue, without I/O — what an untrusted writer of the directory controls,
// so it is bounded and fuzzed (tests/fuzz/fuzz_pickup_file.cpp).
//
// Exchange's rules, as this parser applies them:
//   - The file is an RFC 5322 message. Optional X-Sender: and X-Receiver: fields come
//     first, before any other field; each names one address (angle brackets optional).
//     At most one X-Sender; any number of X-Receiver. They are removed from the message.
//   - Recipients: the X-Receiver addresses; without any, every address of To:, Cc: and
//     Bcc: (groups, display names and comments allowed). Duplicates (ASCII case) once.
//   - Sender: X-Sender; without it, the first address of From:. "<>" is the null sender.
//   - Bcc: fields are removed from the message, always (a blind copy stays blind).
//   - Lines may end with LF or CRLF; what is queued ends every line with CRLF. A bare CR
//     or a NUL anywhere is refused (RFC 5322 §2.3; CR smuggling, CVE-2023-51764 class).
//   - Bounded: the file (max_size), the header section (max_header_size, counted as in
//     the file, X- fields included) and the recipients (max_recipients).
//   - Addresses are ASCII (RFC 5321); an internationalised one is refused: such mail
//     comes over SMTP with SMTPUTF8.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::server {

struct PickupLimits {
    std::uint64_t max_size = 10u << 20;          // MaxReceiveSize of the organisation, else 10 MB
    std::uint64_t max_header_size = 64u << 10;   // PickupDirectoryMaxHeaderSize
    std::uint64_t max_recipients = 100;          // PickupDirectoryMaxRecipientsPerMessage
    friend bool operator==(const PickupLimits&, const PickupLimits&) = default;
};

struct PickupMessage {
    std::string sender;                   // "" = the null sender
    std::vector<std::string> recipients;  // local@domain, as written (not case-folded)
    std::string message;                  // CRLF lines, X-Sender/X-Receiver/Bcc removed
};

struct PickupParse {
    std::optional<PickupMessage> message;
    std::string error;  // when there is no message: why, one line, for the tracking log and .bad
};

PickupParse parse_pickup_file(std::string_view bytes, const PickupLimits& limits);

// The addresses of an RFC 5322 address-list field value (To:, Cc:, Bcc:, From:): the
// content of each angle-addr, else each item's addr-spec; display names, comments and
// group names dropped, empty groups ("undisclosed-recipients:;") give nothing.
// Not validated here.
std::vector<std::string> address_list(std::string_view value);

}  // namespace edge::server
