// Address rewriting's pure part (see the header): the entries as a lookup and the
// RFC 5322 address-list scanner. One pass over the bytes to cut tokens, one over the
// tokens to find addresses: linear, whatever nesting or quoting a sender invents.
#include "address_rewrite.hpp"

#include "address.hpp"
#include "text_helpers.hpp"

#include <algorithm>
#include <array>

namespace edge::agents {

namespace {

enum class Tok : std::uint8_t { Atom, Quoted, Comment, Literal, Space, Special };

struct Token {
    Tok kind;
    std::size_t begin, end;
    char special = 0;  // Special: the byte
};

// RFC 5322 §3.2.3 atext, plus every byte >= 0x80 (RFC 6532 UTF-8 in addresses and in
// the raw 8-bit display names real mail carries). '=' and '?' are atext, so an RFC 2047
// encoded word is one atom and is never split.
bool atext(unsigned char c) {
    if (c >= 0x80) return true;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) != std::string_view::npos;
}

// The bytes cut into RFC 5322 lexical tokens. A quoted string, comment or domain literal
// that is not closed runs to the end of the value (there is nothing after it to rewrite).
// Nested comments are counted, not recursed into.
std::vector<Token> tokenize(std::string_view v) {
    std::vector<Token> out;
    std::size_t i = 0;
    const std::size_t n = v.size();
    while (i < n) {
        const std::size_t start = i;
        const unsigned char c = static_cast<unsigned char>(v[i]);
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n')) ++i;
            out.push_back({Tok::Space, start, i});
        } else if (c == '"' || c == '[') {
            const char close = c == '"' ? '"' : ']';
            ++i;
            while (i < n && v[i] != close) i += v[i] == '\\' ? 2 : 1;  // quoted-pair
            i = std::min(i + 1, n);
            out.push_back({c == '"' ? Tok::Quoted : Tok::Literal, start, i});
        } else if (c == '(') {
            std::size_t depth = 0;
            while (i < n) {
                if (v[i] == '\\') {
                    i += 2;
                    continue;
                }
                if (v[i] == '(') ++depth;
                else if (v[i] == ')' && --depth == 0) {
                    ++i;
                    break;
                }
                ++i;
            }
            i = std::min(i, n);
            out.push_back({Tok::Comment, start, i});
        } else if (atext(c)) {
            while (i < n && atext(static_cast<unsigned char>(v[i]))) ++i;
            out.push_back({Tok::Atom, start, i});
        } else {
            ++i;
            out.push_back({Tok::Special, start, i, static_cast<char>(c)});
        }
    }
    return out;
}

bool is_cfws(const Token& t) { return t.kind == Tok::Space || t.kind == Tok::Comment; }
bool is_special(const Token& t, char c) { return t.kind == Tok::Special && t.special == c; }

// `sig` (the significant tokens of one address, CFWS left out) as an addr-spec:
// word *("." word) "@" (atom *("." atom) / domain-literal). Anything else is not one.
std::optional<AddrSpecSpan> as_addr_spec(std::string_view v, const std::vector<Token>& toks,
                                         const std::vector<std::size_t>& sig) {
    if (sig.size() < 3) return std::nullopt;
    std::size_t at = sig.size();
    for (std::size_t k = 0; k < sig.size(); ++k)
        if (is_special(toks[sig[k]], '@')) {
            if (at != sig.size()) return std::nullopt;  // a second '@' outside quotes
            at = k;
        }
    if (at == 0 || at == sig.size() || at + 1 == sig.size()) return std::nullopt;
    AddrSpecSpan s;
    // Local part: words separated by single dots.
    for (std::size_t k = 0; k < at; ++k) {
        const Token& t = toks[sig[k]];
        const bool word_place = k % 2 == 0;
        if (word_place ? !(t.kind == Tok::Atom || t.kind == Tok::Quoted) : !is_special(t, '.')) return std::nullopt;
        s.local.append(v.substr(t.begin, t.end - t.begin));
    }
    if (at % 2 == 0) return std::nullopt;  // ends with a dot
    // Domain: one literal, or atoms separated by single dots.
    const std::size_t first = at + 1;
    if (toks[sig[first]].kind == Tok::Literal) {
        if (first + 1 != sig.size()) return std::nullopt;
    } else {
        for (std::size_t k = first; k < sig.size(); ++k) {
            const Token& t = toks[sig[k]];
            const bool atom_place = (k - first) % 2 == 0;
            if (atom_place ? t.kind != Tok::Atom : !is_special(t, '.')) return std::nullopt;
        }
        if ((sig.size() - first) % 2 == 0) return std::nullopt;  // ends with a dot
    }
    for (std::size_t k = first; k < sig.size(); ++k) {
        const Token& t = toks[sig[k]];
        s.domain.append(v.substr(t.begin, t.end - t.begin));
    }
    s.local_begin = toks[sig.front()].begin;
    s.local_end = toks[sig[at - 1]].end;
    s.domain_begin = toks[sig[first]].begin;
    s.domain_end = toks[sig.back()].end;
    return s;
}

// Reference §9.8's list, as Exchange 2007 rewrote them.
constexpr std::array<std::string_view, 9> kRewrittenFields = {
    "From",     "To",      "Cc", "Sender", "Reply-To", "Return-Receipt-To", "Disposition-Notification-To",
    "Resent-From", "Resent-Sender"};

std::string canonical_address_text(std::string_view local, std::string_view domain) {
    std::string a(local);
    a += '@';
    a += domain;
    smtp::CanonicalAddress c = smtp::canonical_address(a);
    return c ? c.str() : std::string();
}

}  // namespace

std::vector<AddrSpecSpan> find_addr_specs(std::string_view value) {
    const std::vector<Token> toks = tokenize(value);
    std::vector<AddrSpecSpan> out;
    std::vector<std::size_t> item;   // significant tokens of the current address outside <>
    std::vector<std::size_t> angle;  // inside <>
    bool in_angle = false;
    bool done = false;  // this address is over (its <> closed, or it cannot be one): skip to ',' or ';'
    auto finish = [&] {
        if (!done && !in_angle)
            if (auto s = as_addr_spec(value, toks, item)) out.push_back(std::move(*s));
        item.clear();
        angle.clear();
        in_angle = false;
        done = false;
    };
    for (std::size_t k = 0; k < toks.size(); ++k) {
        const Token& t = toks[k];
        if (is_cfws(t)) continue;
        if (in_angle) {
            if (is_special(t, '>')) {
                // obs-route ("@r1,@r2:"): what precedes the last ':' is routing, not the address.
                std::size_t from = 0;
                if (!angle.empty() && is_special(toks[angle.front()], '@')) {
                    from = angle.size();
                    for (std::size_t j = 0; j < angle.size(); ++j)
                        if (is_special(toks[angle[j]], ':')) from = j + 1;
                }
                std::vector<std::size_t> spec(angle.begin() + static_cast<std::ptrdiff_t>(std::min(from, angle.size())),
                                              angle.end());
                if (auto s = as_addr_spec(value, toks, spec)) out.push_back(std::move(*s));
                in_angle = false;
                done = true;
                angle.clear();
            } else if (is_special(t, '<') || is_special(t, ';')) {
                in_angle = false;  // not an angle-addr: give up on this address
                done = true;
                angle.clear();
                if (is_special(t, ';')) finish();
            } else {
                angle.push_back(k);
            }
            continue;
        }
        if (is_special(t, ',') || is_special(t, ';')) {
            finish();
        } else if (is_special(t, ':')) {
            // A group's display name ends here; its members follow.
            item.clear();
            done = false;
        } else if (is_special(t, '<')) {
            if (done) continue;
            in_angle = true;
            angle.clear();
        } else if (!done) {
            item.push_back(k);
        }
    }
    finish();
    return out;
}

bool rewritten_field(std::string_view name) {
    return std::any_of(kRewrittenFields.begin(), kRewrittenFields.end(),
                       [&](std::string_view f) { return text::iequals(f, name); });
}

AddressRewriter::AddressRewriter(const std::vector<config::AddressRewriteEntrySettings>& entries,
                                 std::vector<std::string>* errors) {
    auto bad = [&](const config::AddressRewriteEntrySettings& e, std::string_view why) {
        if (errors != nullptr) errors->push_back("AddressRewriteEntry " + e.name + ": " + std::string(why) + "; not used");
    };
    for (const auto& e : entries) {
        const std::string& in = e.internal_address;
        const std::string& ex = e.external_address;
        if (in.find('@') != std::string::npos) {
            smtp::CanonicalAddress ci = smtp::canonical_address(in);
            smtp::CanonicalAddress ce = smtp::canonical_address(ex);
            if (!ci || !ce) {
                bad(e, "InternalAddress and ExternalAddress must both be addresses");
                continue;
            }
            addresses_.push_back({ci.str(), ex, RewriteDirection::Outbound});
            if (!e.outbound_only) addresses_.push_back({ce.str(), in, RewriteDirection::Inbound});
        } else if (in.starts_with("*.")) {
            auto base = smtp::canonical_domain(std::string_view(in).substr(2));
            auto to = smtp::canonical_domain(ex);
            if (!base || !to || ex.find('@') != std::string::npos) {
                bad(e, "a wildcard InternalAddress needs a domain as ExternalAddress");
                continue;
            }
            WildcardEntry w{*base, *to, {}};
            for (const auto& x : e.exception_list)
                if (auto d = smtp::canonical_domain(x)) w.exceptions.push_back(*d);
            wildcards_.push_back(std::move(w));
        } else {
            auto from = smtp::canonical_domain(in);
            auto to = smtp::canonical_domain(ex);
            if (!from || !to || ex.find('@') != std::string::npos) {
                bad(e, "a domain InternalAddress needs a domain as ExternalAddress");
                continue;
            }
            domains_.push_back({*from, *to, RewriteDirection::Outbound});
            if (!e.outbound_only) domains_.push_back({*to, *from, RewriteDirection::Inbound});
        }
    }
    std::stable_sort(wildcards_.begin(), wildcards_.end(),
                     [](const WildcardEntry& a, const WildcardEntry& b) { return a.base.size() > b.base.size(); });
}

std::optional<AddressRewriter::Replacement> AddressRewriter::match(std::string_view local, std::string_view domain,
                                                                   RewriteDirection d) const {
    const std::optional<std::string> cd = smtp::canonical_domain(domain);
    if (!cd) return std::nullopt;
    // The most specific entry wins: one address, then a domain, then the longest wildcard.
    if (!addresses_.empty()) {
        const std::string ca = canonical_address_text(local, domain);
        for (const auto& a : addresses_)
            if (a.direction == d && !ca.empty() && a.from == ca) return Replacement{true, a.to};
    }
    for (const auto& e : domains_)
        if (e.direction == d && e.from == *cd) return Replacement{false, e.to};
    if (d != RewriteDirection::Outbound) return std::nullopt;
    for (const auto& w : wildcards_) {
        const bool under = *cd == w.base ||
                           (cd->size() > w.base.size() && cd->ends_with(w.base) && (*cd)[cd->size() - w.base.size() - 1] == '.');
        if (!under) continue;
        // An exception is left as it is, and no shorter wildcard gets it either.
        if (std::find(w.exceptions.begin(), w.exceptions.end(), *cd) != w.exceptions.end()) return std::nullopt;
        return Replacement{false, w.to};
    }
    return std::nullopt;
}

std::optional<std::string> AddressRewriter::rewrite_address(std::string_view address, RewriteDirection d) const {
    if (empty()) return std::nullopt;
    auto m = smtp::split_mailbox(address);
    if (!m || m->local.empty() || m->domain.empty()) return std::nullopt;
    auto r = match(m->local, m->domain, d);
    if (!r) return std::nullopt;
    std::string out = r->whole_address ? r->value : m->local + "@" + r->value;
    if (out == address) return std::nullopt;
    return out;
}

std::optional<std::string> AddressRewriter::rewrite_address_list(std::string_view value, RewriteDirection d,
                                                                  std::size_t* count, std::size_t prefix) const {
    if (empty()) return std::nullopt;
    constexpr std::size_t kMaxLine = 998;  // RFC 5322 §2.1.1, without the CRLF
    std::string out;
    std::size_t copied = 0;  // value[0, copied) is in `out`
    // The length of `out`'s last line, counting `prefix` while it is the first.
    auto line_length = [&out, prefix]() {
        const auto lf = out.rfind('\n');
        return lf == std::string::npos ? prefix + out.size() : out.size() - lf - 1;
    };
    // Whether the last line holds more than white space: a fold after a line of white space
    // alone would leave a line a reader may take for the end of the header section.
    auto line_has_text = [&out, prefix]() {
        const auto lf = out.rfind('\n');
        const std::size_t start = lf == std::string::npos ? 0 : lf + 1;
        if (lf == std::string::npos && prefix > 0) return true;  // the field name is on it
        return out.find_first_not_of(" \t\r", start) != std::string::npos;
    };
    for (const auto& s : find_addr_specs(value)) {
        auto r = match(s.local, s.domain, d);
        if (!r) continue;
        const std::size_t from = r->whole_address ? s.local_begin : s.domain_begin;
        const std::string_view old = value.substr(from, s.domain_end - from);
        if (old == r->value) continue;
        // Fold before the addr-spec (never inside it) when the rewritten line would be too
        // long; what follows it on the line counts too.
        const std::size_t line_from = r->whole_address ? from : s.local_begin;
        std::size_t rest = value.find('\n', s.domain_end);
        rest = (rest == std::string_view::npos ? value.size() : rest) - s.domain_end;
        out.append(value.substr(copied, line_from - copied));
        const std::size_t before = line_length();
        if (before + (from - line_from) + r->value.size() + rest > kMaxLine && line_has_text()) out.append("\r\n ");
        out.append(value.substr(line_from, from - line_from));
        out.append(r->value);
        copied = s.domain_end;
        if (count != nullptr) ++*count;
    }
    if (copied == 0) return std::nullopt;
    out.append(value.substr(copied));
    return out;
}

std::size_t AddressRewriter::rewrite_message(std::vector<std::string>& message, std::size_t max_header_bytes) const {
    if (empty()) return 0;
    // The header section: up to the first empty line, gathered across chunks.
    std::string header;
    std::size_t end = std::string::npos;  // in `header`: where the empty line starts
    std::size_t chunk = 0, offset_in_chunk = 0, chunk_start = 0;
    for (; chunk < message.size(); ++chunk) {
        chunk_start = header.size();
        header += message[chunk];
        // The empty line: at the very start, or right after a line feed. A "\r" that ends
        // a chunk is looked at again with the next one.
        for (std::size_t i = chunk_start > 0 ? chunk_start - 1 : 0; i < header.size(); ++i) {
            if (i != 0 && header[i - 1] != '\n') continue;
            if (header[i] == '\n' || (header[i] == '\r' && i + 1 < header.size() && header[i + 1] == '\n')) {
                end = i;
                break;
            }
        }
        if (end != std::string::npos) break;
        if (header.size() > max_header_bytes) return 0;
    }
    if (end == std::string::npos) {
        end = header.size();  // a message of header fields only
        chunk = message.size();
    } else if (end < chunk_start) {
        // The empty line began with the last byte of the chunk before.
        --chunk;
        offset_in_chunk = message[chunk].size() - 1;
    } else {
        offset_in_chunk = end - chunk_start;
    }
    if (end > max_header_bytes) return 0;

    // Field by field: a field starts at a line that does not begin with WSP.
    std::string rewritten;
    std::size_t count = 0;
    std::size_t pos = 0;
    std::size_t first_change = std::string::npos;  // where the first rewritten field starts
    while (pos < end) {
        std::size_t field_end = pos;
        while (true) {
            std::size_t lf = header.find('\n', field_end);
            if (lf == std::string::npos || lf + 1 >= end) {
                field_end = lf == std::string::npos || lf >= end ? end : lf + 1;
                break;
            }
            field_end = lf + 1;
            if (header[field_end] != ' ' && header[field_end] != '\t') break;
        }
        std::string_view field(header.data() + pos, field_end - pos);
        const std::size_t colon = field.find(':');
        if (colon != std::string_view::npos && rewritten_field(text::trim_space(field.substr(0, colon)))) {
            // The value runs to the field's last line ending, which stays where it is.
            std::size_t value_end = field.size();
            if (value_end > colon + 1 && field[value_end - 1] == '\n') --value_end;
            if (value_end > colon + 1 && field[value_end - 1] == '\r') --value_end;
            const std::string_view value = field.substr(colon + 1, value_end - colon - 1);
            if (auto r = rewrite_address_list(value, RewriteDirection::Outbound, &count, colon + 1)) {
                if (first_change == std::string::npos) first_change = pos;
                rewritten.append(field.substr(0, colon + 1));
                rewritten.append(*r);
                rewritten.append(field.substr(value_end));
                pos = field_end;
                continue;
            }
        }
        rewritten.append(field);
        pos = field_end;
    }
    if (count == 0) return 0;
    // The chunks wholly before the first rewritten field stay as they are (acceptance's
    // own fields on top — Received, where the DKIM signature goes after it — keep their
    // chunks); the rest of the header section is one new chunk; the body as it was.
    std::vector<std::string> out;
    out.reserve(message.size() + 2);
    std::size_t kept = 0, kept_bytes = 0;
    while (kept < message.size() && kept_bytes + message[kept].size() <= first_change) {
        kept_bytes += message[kept].size();
        out.push_back(std::move(message[kept]));
        ++kept;
    }
    out.push_back(rewritten.substr(kept_bytes));
    if (chunk < message.size()) {
        out.push_back(message[chunk].substr(offset_in_chunk));
        for (std::size_t i = chunk + 1; i < message.size(); ++i) out.push_back(std::move(message[i]));
    }
    message = std::move(out);
    return count;
}

}  // namespace edge::agents
