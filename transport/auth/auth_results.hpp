// The Authentication-Results header field (RFC 8601): writing ours, and reading the
// authserv-id of one that arrived, so that a field claiming to be ours is removed on
// the way in (§5). Pure.
#pragma once

#include "auth_result.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::auth {

// One property of a result (§2.3): "smtp.mailfrom=a@b.example", "header.d=b.example".
struct AuthProperty {
    std::string ptype;     // "smtp", "header", "body", "policy"
    std::string property;  // "mailfrom", "helo", "d", "s", "b", "from"
    std::string value;     // written as a token, an addr-spec or a quoted-string (§2.2)
};

// One resinfo (§2.2): "dkim=pass header.d=b.example header.s=sel".
struct AuthMethodResult {
    std::string method;   // "spf", "dkim", "dmarc", "iprev" (a keyword, RFC 8601 §2.7)
    Result result = Result::None;
    std::string comment;  // written as a comment after the result: "p=reject dis=none"
    std::string reason;   // "reason=" (§2.7): why, for a human
    std::vector<AuthProperty> properties;
};

// The field's value, without "Authentication-Results:" and without the final CRLF:
//   "mx.example.com; spf=pass smtp.mailfrom=a@b.example; dkim=pass header.d=b.example …"
// "<authserv-id>; none" when `results` is empty (§2.2: nothing was evaluated). Folded
// with CRLF + TAB so no line passes 78 columns, counting the field name on the first
// line (RFC 5322 §2.1.1), unless one word alone is longer. Values that are not tokens
// or addr-specs become quoted-strings; control characters (CR and LF among them) are
// dropped from every part, so nothing a sender controls can end the field. Keywords
// (method, ptype, property) keep only their letters, digits, '-', '_' and '.'.
std::string authentication_results_value(std::string_view authserv_id, const std::vector<AuthMethodResult>& results);
// One resinfo on one line, written as above (keywords checked, values quoted, no
// control characters): what an agent hands to acceptance, which folds between them.
std::string resinfo_text(const AuthMethodResult& result);

// The authserv-id of an Authentication-Results value (§2.2): leading CFWS skipped,
// a token or a quoted-string read (quotes and quoted-pairs resolved). Nothing after it
// (the optional version, the results) is checked: a malformed field that names our
// authserv-id is still one to remove. nullopt when there is no such value first.
// The caller compares with its own authserv-id without regard to ASCII case.
std::optional<std::string> authserv_id_of(std::string_view header_value);

}  // namespace edge::auth
