// Authentication-Results (RFC 8601 §2.2 grammar; values per RFC 2045 token /
// quoted-string; folding per RFC 5322 §2.2.3).
#include "auth_results.hpp"

#include "address.hpp"

#include <cstring>
#include <vector>

namespace edge::auth {

namespace {

constexpr std::size_t kFoldColumn = 78;
constexpr std::size_t kFieldNameWidth = sizeof("Authentication-Results: ") - 1;
// A sender-controlled value longer than this is cut (at a UTF-8 boundary): RFC 5322
// §2.1.1 allows no line over 998 octets and a value cannot fold.
constexpr std::size_t kMaxValue = 512;

bool control(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }

// RFC 2045 §5.1: token := 1*<any (US-ASCII) CHAR except SPACE, CTLs, or tspecials>.
bool token_char(char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f && std::strchr("()<>@,;:\\\"/[]?=", c) == nullptr;
}

bool is_token(std::string_view v) {
    if (v.empty()) return false;
    for (char c : v)
        if (!token_char(c)) return false;
    return true;
}

// RFC 5322 §3.2.3 dot-atom-text.
bool is_dot_atom(std::string_view v) {
    if (v.empty() || v.front() == '.' || v.back() == '.' || v.find("..") != std::string_view::npos) return false;
    for (char c : v) {
        auto u = static_cast<unsigned char>(c);
        bool atext = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
                     std::strchr("!#$%&'*+-/=?^_`{|}~.", c) != nullptr;
        if (!atext || u == 0) return false;
    }
    return true;
}

// RFC 8601 §2.2 pvalue's second form: [ [ local-part ] "@" ] domain-name, written bare.
bool is_addr_spec(std::string_view v) {
    auto at = v.rfind('@');
    if (at == std::string_view::npos) return false;
    auto local = v.substr(0, at);
    return (local.empty() || is_dot_atom(local)) && smtp::valid_domain(v.substr(at + 1));
}

std::string without_controls(std::string_view v) {
    std::string out;
    for (char c : v)
        if (!control(c)) out += c;
    if (out.size() > kMaxValue) {
        std::size_t n = kMaxValue;
        while (n > 0 && (static_cast<unsigned char>(out[n]) & 0xC0) == 0x80) --n;  // not inside a UTF-8 sequence
        out.resize(n);
    }
    return out;
}

// Backslash before each of `specials` (RFC 5322 quoted-pair).
std::string escaped(std::string_view v, const char* specials) {
    std::string out;
    for (char c : v) {
        if (std::strchr(specials, c) != nullptr) out += '\\';
        out += c;
    }
    return out;
}

// RFC 2045 value = token / quoted-string.
std::string value_text(std::string_view raw) {
    std::string v = without_controls(raw);
    if (is_token(v)) return v;
    return "\"" + escaped(v, "\"\\") + "\"";
}

// RFC 8601 §2.2 pvalue: a value, or [ [ local-part ] "@" ] domain-name written bare.
std::string pvalue_text(std::string_view raw) {
    std::string v = without_controls(raw);
    return is_addr_spec(v) ? v : value_text(v);
}

// Method, ptype and property names are keywords (RFC 8601 §2.2, RFC 5321 Keyword).
std::string keyword(std::string_view raw) {
    std::string out;
    for (char c : raw)
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')
            out += c;
    return out;
}

// Words joined by single spaces, a fold (CRLF + TAB) instead of the space before a word
// that would pass column 78; a resinfo that does not fit the rest of a line starts the
// next one, so each method reads on a line of its own where it can.
class Folder {
public:
    void add_group(std::vector<std::string> words, bool last) {
        std::size_t width = 0;
        for (const auto& w : words) width += 1 + w.size();
        if (!last) ++width;  // its ';'
        bool fold = !out_.empty() && col_ + width > kFoldColumn;
        for (auto& w : words) {
            add(std::move(w), fold);
            fold = false;
        }
        if (!last) {
            out_ += ';';
            ++col_;
        }
    }

private:
    void add(std::string word, bool fold) {
        if (out_.empty()) {
            col_ = kFieldNameWidth + word.size();
            out_ = std::move(word);
        } else if (fold || col_ + 1 + word.size() > kFoldColumn) {
            out_ += "\r\n\t" + word;
            col_ = 1 + word.size();
        } else {
            out_ += " " + word;
            col_ += 1 + word.size();
        }
    }

public:
    std::string take() { return std::move(out_); }

private:
    std::string out_;
    std::size_t col_ = 0;
};

// RFC 5322 §3.2.2 CFWS from `i`; false when a comment does not end.
bool skip_cfws(std::string_view v, std::size_t& i) {
    std::size_t depth = 0;
    for (; i < v.size(); ++i) {
        char c = v[i];
        if (depth > 0) {
            if (c == '\\') ++i;
            else if (c == '(') ++depth;
            else if (c == ')') --depth;
        } else if (c == '(') {
            depth = 1;
        } else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            return true;
        }
    }
    return depth == 0;
}

}  // namespace

namespace {
// One resinfo as words: "method=result", the comment split at its spaces (FWS is allowed
// inside a comment, so a long one folds), reason=, then the properties.
std::vector<std::string> resinfo_words(const AuthMethodResult& r) {
    std::vector<std::string> words{keyword(r.method) + "=" + std::string(to_string(r.result))};
    if (std::string comment = without_controls(r.comment); !comment.empty()) {
        std::string c = "(" + escaped(comment, "()\\") + ")";
        for (std::size_t start = 0; start < c.size();) {
            auto sp = c.find(' ', start);
            if (sp == std::string::npos) sp = c.size();
            if (sp > start) words.push_back(c.substr(start, sp - start));
            start = sp + 1;
        }
    }
    if (!r.reason.empty()) words.push_back("reason=" + value_text(r.reason));
    for (const auto& p : r.properties)
        words.push_back(keyword(p.ptype) + "." + keyword(p.property) + "=" + pvalue_text(p.value));
    return words;
}
}  // namespace

std::string authentication_results_value(std::string_view authserv_id, const std::vector<AuthMethodResult>& results) {
    Folder f;
    f.add_group({value_text(authserv_id)}, false);
    if (results.empty()) f.add_group({"none"}, true);
    for (std::size_t i = 0; i < results.size(); ++i) f.add_group(resinfo_words(results[i]), i + 1 == results.size());
    return f.take();
}

std::string resinfo_text(const AuthMethodResult& result) {
    std::string out;
    for (const auto& w : resinfo_words(result)) {
        if (!out.empty()) out += ' ';
        out += w;
    }
    return out;
}

std::optional<std::string> authserv_id_of(std::string_view v) {
    std::size_t i = 0;
    if (!skip_cfws(v, i) || i == v.size()) return std::nullopt;
    std::string id;
    if (v[i] == '"') {
        for (++i; i < v.size() && v[i] != '"'; ++i) {
            if (v[i] == '\\' && i + 1 < v.size()) ++i;
            if (v[i] != '\r' && v[i] != '\n') id += v[i];  // a fold inside the string is not content
        }
        if (i == v.size()) return std::nullopt;  // the quoted-string does not end
        return id;
    }
    while (i < v.size() && token_char(v[i])) id += v[i++];
    if (id.empty()) return std::nullopt;
    return id;
}

}  // namespace edge::auth
