// Address rewriting (Exchange 2007's Address Rewriting Inbound / Outbound agents,
// reference §9.8), the pure part: the entries as a lookup (one address, a domain,
// *.domain with exceptions), and an RFC 5322 address-list scanner that finds the
// addr-spec bytes of each address in a header field so only those bytes change —
// display names, quoted strings, comments, groups, encoded words and folding stay as
// they were. No I/O; linear in the input, whatever it holds.
#pragma once

#include "typed_settings.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::agents {

// Where one addr-spec sits in a field value: [local_begin, local_end) is the local part,
// [domain_begin, domain_end) the domain, byte offsets into the value. Comments and folding
// between the parts of an addr-spec (RFC 5322 §4.4 obs-local-part / obs-domain) fall
// inside the spans.
struct AddrSpecSpan {
    std::size_t local_begin = 0, local_end = 0;
    std::size_t domain_begin = 0, domain_end = 0;
    std::string local;   // the local part's words and dots, CFWS left out (quotes kept)
    std::string domain;  // the domain's atoms and dots (or the literal), CFWS left out
};

// The addr-specs of an RFC 5322 address-list / mailbox-list value (From, To, Cc, Sender,
// Reply-To, …): name-addr "Name <a@b>" (obs-route "<@r1,@r2:a@b>" skipped), a bare addr-spec,
// and the members of groups "undisclosed: a@b, c@d;". What does not parse as an address
// is passed over (never guessed at), and the scan goes on after the next ',' or ';'.
// The spans come out in order and never overlap.
std::vector<AddrSpecSpan> find_addr_specs(std::string_view value);

// The header fields the outbound agent rewrites (reference §9.8). Never Return-Path,
// Received, Message-ID, Content-Type (its boundary) or anything below the top-level
// header section (MIME part headers, attached messages).
bool rewritten_field(std::string_view name);

enum class RewriteDirection : bool {
    Outbound,  // internal -> external: MAIL FROM and the header fields of mail that leaves
    Inbound,   // external -> internal: RCPT TO, entries that are not OutboundOnly
};

// The entries of one config generation, ready to match. Entries whose values do not
// parse (validate_object refuses them; a store written by hand might not) are left out
// and named in `errors`.
class AddressRewriter {
public:
    AddressRewriter() = default;
    explicit AddressRewriter(const std::vector<config::AddressRewriteEntrySettings>& entries,
                             std::vector<std::string>* errors = nullptr);
    bool empty() const { return addresses_.empty() && domains_.empty() && wildcards_.empty(); }

    // "local@domain" as written (a path of MAIL FROM / RCPT TO) -> the rewritten one, or
    // nullopt when no entry applies. One address is replaced whole; a domain entry keeps the
    // local part as written and replaces the domain.
    std::optional<std::string> rewrite_address(std::string_view address, RewriteDirection d) const;

    // A header field's value with each matching addr-spec rewritten and every other byte
    // kept; nullopt when nothing matched. `count`, when given, is added the addresses rewritten.
    // A rewrite that would make a line longer than RFC 5322's 998 octets folds before the
    // rewritten addr-spec (CRLF SP: CFWS may precede a local part); `prefix` is how much of
    // the value's first line comes before it (the field name and colon).
    std::optional<std::string> rewrite_address_list(std::string_view value, RewriteDirection d,
                                                    std::size_t* count = nullptr, std::size_t prefix = 0) const;

    // Outbound: the top-level header section of `message` (the chunks of header, blank
    // line, body), its rewritten_field() fields rewritten in place; the body is not read.
    // Returns how many addresses were rewritten (0: the message is untouched). A header
    // section with no end within `max_header_bytes` is left alone (acceptance refuses such
    // a message before this runs).
    std::size_t rewrite_message(std::vector<std::string>& message, std::size_t max_header_bytes) const;

private:
    struct Replacement {
        bool whole_address = false;  // replace local@domain (one-address entry), else the domain only
        std::string value;           // the address or the domain to write
    };
    // The entry that applies to (canonical local, canonical domain), if any.
    std::optional<Replacement> match(std::string_view local, std::string_view domain, RewriteDirection d) const;

    struct AddressEntry {
        std::string from;  // canonical "local@domain" matched
        std::string to;    // written as configured
        RewriteDirection direction;
    };
    struct DomainEntry {
        std::string from;  // canonical domain
        std::string to;
        RewriteDirection direction;
    };
    struct WildcardEntry {
        std::string base;  // canonical domain: it and its subdomains match (outbound only)
        std::string to;
        std::vector<std::string> exceptions;  // canonical subdomains left alone
    };
    std::vector<AddressEntry> addresses_;
    std::vector<DomainEntry> domains_;
    std::vector<WildcardEntry> wildcards_;  // longest base first: the most specific wins
};

}  // namespace edge::agents
