// Reading the client's address out of Received: fields (see the header). One pass
// over each field, comments (nested, with quoted-pairs, RFC 5322 §3.2.2) followed.
#include "received_walk.hpp"

#include "text_helpers.hpp"

namespace edge::agents {

namespace {
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// "[192.0.2.1]", "[IPv6:2001:db8::1]", "192.0.2.1", "[192.0.2.1]:25" → the address.
std::optional<routing::IpAddress> address_token(std::string_view t) {
    // No address is longer; a longer token is a name (and not worth parsing).
    if (t.empty() || t.size() > 64) return std::nullopt;
    if (t.front() == '[') {
        t.remove_prefix(1);
        auto close = t.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        t = t.substr(0, close);
        if (t.size() > 5 && text::iequals(t.substr(0, 5), "IPv6:")) t.remove_prefix(5);
    }
    auto a = routing::IpAddress::parse(t);
    if (!a) return std::nullopt;
    return *a;
}

// The words that end the "from" clause (RFC 5321 §4.4 Stamp: by, via, with, id, for).
bool ends_from_clause(std::string_view word) {
    for (std::string_view k : {"by", "via", "with", "id", "for"})
        if (text::iequals(word, k)) return true;
    return false;
}
}  // namespace

std::optional<routing::IpAddress> received_from_address(std::string_view v) {
    std::size_t i = 0;
    while (i < v.size() && is_space(v[i])) ++i;
    if (v.size() - i < 5 || !text::iequals(v.substr(i, 4), "from") || !is_space(v[i + 4])) return std::nullopt;
    i += 4;

    std::optional<routing::IpAddress> in_comment, literal;
    std::string_view token;
    std::size_t token_start = 0;
    int depth = 0;
    bool in_token = false;
    bool escaped = false;  // the token holds a quoted-pair: text, never an address
    auto end_token = [&](std::size_t at) {
        if (!in_token) return false;
        in_token = false;
        token = v.substr(token_start, at - token_start);
        if (depth > 0) {
            if (!in_comment && !escaped) in_comment = address_token(token);
            return false;
        }
        if (ends_from_clause(token)) return true;
        if (!literal && token.front() == '[') literal = address_token(token);
        return false;
    };
    for (; i < v.size(); ++i) {
        const char c = v[i];
        if (depth > 0 && c == '\\') {  // a quoted-pair inside a comment: part of the word
            if (!in_token) {
                in_token = true;
                token_start = i;
            }
            escaped = true;
            ++i;
            continue;
        }
        if (is_space(c) || c == '(' || c == ')' || (depth == 0 && c == ';')) {
            if (end_token(i)) break;
            if (c == '(') ++depth;
            else if (c == ')' && depth > 0) --depth;
            else if (c == ';') break;
            continue;
        }
        if (!in_token) {
            in_token = true;
            escaped = false;
            token_start = i;
        }
    }
    end_token(i < v.size() ? i : v.size());
    // What the receiving MTA saw beats what the client called itself.
    if (in_comment) return in_comment;
    return literal;
}

std::optional<routing::IpAddress> first_external_address(std::span<const HeaderField> headers,
                                                         std::span<const routing::IpRange> internal_servers) {
    for (const auto& [name, value] : headers) {
        if (!text::iequals(text::trim_space(name), "Received")) continue;
        auto a = received_from_address(value);
        if (!a) continue;
        bool internal = false;
        for (const auto& r : internal_servers)
            if (r.contains(*a)) {
                internal = true;
                break;
            }
        if (!internal) return a;
    }
    return std::nullopt;
}

}  // namespace edge::agents
