// Mailbox syntax and the one canonical form of an address (RFC 5321 §4.1.2, RFC 6531,
// IDNA2008). Pure: bytes in, a canonical address or an error out. Everything that
// compares, looks up or routes by address — relay control, the Recipient Filter's block
// list and hash, routing, the edgesync agent — goes through `canonical_address` here;
// nobody else splits an address on '@'.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace edge::smtp {

// A mailbox as it travels in MAIL FROM / RCPT TO, in the client's spelling (RFC 5321
// §2.4: a local part may be case-sensitive downstream, so we relay it as written). The
// null path <> has both empty.
struct Mailbox {
    std::string local;   // as written, quotes included
    std::string domain;  // a domain or an address literal "[…]"
    bool null() const { return local.empty() && domain.empty(); }
    std::string str() const { return null() ? std::string() : local + "@" + domain; }
};

enum class AddressError : std::uint8_t {
    None,
    Syntax,       // no '@' outside quotes, or unbalanced quotes
    LocalPart,    // not a Dot-string or Quoted-string, or over 64 octets
    Domain,       // not a domain name (LDH / IDNA2008) nor an address literal
    ControlByte,  // C0, DEL or C1 anywhere in the path
    Utf8,         // bytes >= 0x80 that are not well-formed UTF-8
};
const char* to_string(AddressError e);

// Splits "local@domain" at the last '@' outside a quoted local part (a quoted local part
// may hold '@'; a domain never does). No validation beyond that.
std::optional<Mailbox> split_mailbox(std::string_view path);

// Validates a mailbox in the client's spelling: local part (Dot-string or Quoted-string,
// UTF-8 atext only when `utf8`), domain (domain name or address literal), no control
// byte anywhere. None when it is fine.
AddressError check_mailbox(const Mailbox& m, bool utf8);

// The canonical domain: ASCII lower case, one trailing dot removed, U-labels turned into
// A-labels (IDNA2008 lookup with UTS #46 non-transitional mapping, so "Bücher.test",
// "bücher.test" and "xn--bcher-kva.test" are one domain); address literals re-written
// from the parsed address ("[IPv6:2001:db8::1]"). nullopt when it is not a domain.
std::optional<std::string> canonical_domain(std::string_view domain);
// The same, saying why not in `why` when it is not a domain: libidn2's reason for an
// IDN it refuses ("string contains a disallowed character", "Punycode conversion
// failed"…), else a short sentence — for the config layer's error messages.
std::optional<std::string> canonical_domain(std::string_view domain, std::string* why);
// Whether a domain needs IDNA processing: a non-ASCII byte, or a label starting "xn--".
bool is_idn(std::string_view domain);
// The canonical domain of an address ("local@domain", split at the last '@'): empty when
// there is no '@' or the domain is not one.
std::string canonical_domain_of(std::string_view address);

// The canonical local part: quoted-pairs resolved and the quotes dropped when what is
// left is a Dot-string ("\"c\\eo\"" -> "ceo"), otherwise re-quoted minimally; case-folded
// (ASCII lower case; full Unicode case folding and NFC for UTF-8).
std::optional<std::string> canonical_local_part(std::string_view local);

// The canonical form of a whole address, for comparing, looking up and routing — never
// for relaying. Bytes in (a path as in RCPT TO, without '<>'), canonical "local@domain"
// or an error out; narrow on purpose so a fuzzer can drive it.
struct CanonicalAddress {
    std::string local;
    std::string domain;
    AddressError error = AddressError::None;
    explicit operator bool() const { return error == AddressError::None; }
    std::string str() const { return local + "@" + domain; }
};
CanonicalAddress canonical_address(std::string_view address);
CanonicalAddress canonical_address(const Mailbox& m);

// RFC 5321 §4.1.2 Domain (LDH labels, each <= 63 octets, whole <= 255), ASCII only.
bool valid_domain(std::string_view domain);
// RFC 5321 §4.1.3 address literal: [IPv4], [IPv6:…] (checked with inet_pton).
bool valid_address_literal(std::string_view literal);
// C0, DEL, or C1 (U+0080–U+009F, "\xC2\x80"–"\xC2\x9F" in UTF-8): terminal escapes and
// line breaks that must never reach a log, a reply or a next hop's name (issue 13 §5).
bool has_control_byte(std::string_view s);
// Well-formed UTF-8 (no overlongs, no surrogates), RFC 3629.
bool valid_utf8(std::string_view s);

}  // namespace edge::smtp
