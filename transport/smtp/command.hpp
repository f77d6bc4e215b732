// SMTP command lines parsed into commands (RFC 5321 §4.1, RFC 1870 SIZE, RFC 6152
// 8BITMIME, RFC 3461 DSN, RFC 3030 BDAT, RFC 6531 SMTPUTF8). Pure: a line in, a
// command or a catalogue reply out. The line has had its CRLF removed.
#pragma once

#include "address.hpp"
#include "replies.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace edge::smtp {

// The longest command line we read, CRLF included: RFC 5321 §4.5.3.1.4 says 512;
// ESMTP parameters may add to it, so we allow what Postfix allows by default.
inline constexpr std::size_t kMaxCommandLine = 2048;

enum class Verb : std::uint8_t { Helo, Ehlo, Mail, Rcpt, Data, Bdat, Rset, Noop, Quit, Vrfy, Expn, Help, StartTls, Auth, Unknown };

enum class BodyType : std::uint8_t { Unspecified, SevenBit, EightBitMime, BinaryMime };
enum class Ret : std::uint8_t { Unspecified, Full, Headers };
namespace notify_bits {  // RFC 3461 NOTIFY; 0 = not given
inline constexpr std::uint8_t Never = 1, Success = 2, Failure = 4, Delay = 8;
}

struct Command {
    Verb verb = Verb::Unknown;
    std::string argument;  // everything after the verb, as sent (for logs, HELO domain)
    // MAIL FROM / RCPT TO
    Mailbox path;
    std::optional<std::uint64_t> size;  // SIZE=
    BodyType body = BodyType::Unspecified;
    bool smtputf8 = false;
    Ret ret = Ret::Unspecified;
    std::string envid;  // ENVID= (xtext, as sent)
    std::uint8_t notify = 0;
    std::string orcpt;  // ORCPT= (addr-type;xtext, as sent)
    // BDAT
    std::uint64_t chunk_size = 0;
    bool last_chunk = false;
};

struct Parsed {
    Command command;
    std::optional<ReplyId> error;  // set when the line cannot be accepted
    // The argument of `error`'s reply: the refused parameter's name ("ORCPT"; a client's
    // unknown name at most 32 printable characters), so the client learns what to fix.
    std::string error_argument;
};

Parsed parse_command(std::string_view line);

}  // namespace edge::smtp
