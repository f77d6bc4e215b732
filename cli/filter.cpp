// -Filter: the tokenizer, a recursive-descent parser to a small tree, and its
// evaluation over one record. The grammar and the meaning are filter.hpp's; this file
// adds only what it leaves open (see the comments at each choice).
#include "filter.hpp"

#include "settings.hpp"
#include "text_helpers.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <compare>
#include <cstdint>

namespace edge::cli {
namespace {

// Deeper nesting of '(' and -not is refused rather than risking the stack on a
// hostile or mangled filter; no administrator writes 64 levels.
constexpr int kMaxDepth = 64;

char fold(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// PowerShell compares strings case-insensitively. We fold ASCII only: the other
// bytes of UTF-8 compare as they are, which keeps code point order.
std::strong_ordering compare_text(std::string_view a, std::string_view b) {
    std::size_t n = std::min(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i) {
        auto x = static_cast<unsigned char>(fold(a[i])), y = static_cast<unsigned char>(fold(b[i]));
        if (x != y) return x <=> y;
    }
    return a.size() <=> b.size();
}

// --- operators -----------------------------------------------------------------

enum class Op : std::uint8_t { Eq, Ne, Gt, Ge, Lt, Le, Like, NotLike };

struct OpName {
    std::string_view name;
    Op op;
};
constexpr OpName kCompareOps[] = {{"eq", Op::Eq}, {"ne", Op::Ne}, {"gt", Op::Gt},     {"ge", Op::Ge},
                                  {"lt", Op::Lt}, {"le", Op::Le}, {"like", Op::Like}, {"notlike", Op::NotLike}};

// Whether `c` (left against right) satisfies the ordering operator `op`.
bool holds(Op op, std::partial_ordering c) {
    switch (op) {
        case Op::Eq: return c == 0;
        case Op::Ne: return c != 0;
        case Op::Gt: return c > 0;
        case Op::Ge: return c >= 0;
        case Op::Lt: return c < 0;
        case Op::Le: return c <= 0;
        case Op::Like:
        case Op::NotLike: break;  // not orderings; evaluate() matches patterns itself
    }
    return false;
}

// --- wildcards ---------------------------------------------------------------------

// Text as code points, so that '?' takes one character of "Ärger", not one byte. A
// byte that is not valid UTF-8 stands for itself, above every code point.
std::u32string decode_utf8(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        auto b = static_cast<unsigned char>(s[i]);
        std::size_t len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
        char32_t cp = len == 1 ? b : len == 2 ? (b & 0x1Fu) : len == 3 ? (b & 0x0Fu) : (b & 0x07u);
        bool ok = len > 0 && i + len <= s.size();
        for (std::size_t k = 1; ok && k < len; ++k) {
            auto c = static_cast<unsigned char>(s[i + k]);
            ok = (c >> 6) == 0x2;
            cp = (cp << 6) | (c & 0x3Fu);
        }
        if (!ok) {
            out.push_back(0x110000u + b);
            ++i;
            continue;
        }
        out.push_back(cp);
        i += len;
    }
    return out;
}

char32_t fold32(char32_t c) { return c >= U'A' && c <= U'Z' ? c - U'A' + U'a' : c; }

// PowerShell's wildcards: * any run, ? one character, [abc] and [a-c] one of a set.
// No escape character: a filter cannot ask for a literal '*', '?' or '['. A ']'
// outside a set is itself; '-' first or last in a set is itself.
struct Pattern {
    struct Element {
        enum class Type : std::uint8_t { Char, One, Star, Set };
        Type type = Type::Char;
        char32_t c = 0;
        std::vector<std::pair<char32_t, char32_t>> ranges;  // Set
    };
    std::vector<Element> elements;

    // nullopt and `error` when the pattern is malformed.
    static std::optional<Pattern> compile(std::string_view text, std::string& error) {
        std::u32string p = decode_utf8(text);
        Pattern out;
        for (std::size_t i = 0; i < p.size(); ++i) {
            Element e;
            if (p[i] == U'*') {
                if (!out.elements.empty() && out.elements.back().type == Element::Type::Star) continue;
                e.type = Element::Type::Star;
            } else if (p[i] == U'?') {
                e.type = Element::Type::One;
            } else if (p[i] == U'[') {
                std::size_t close = p.find(U']', i + 1);
                if (close == std::u32string::npos) {
                    error = "has a '[' with no closing ']'";
                    return std::nullopt;
                }
                if (close == i + 1) {
                    error = "has an empty []";
                    return std::nullopt;
                }
                e.type = Element::Type::Set;
                for (std::size_t k = i + 1; k < close; ++k) {
                    if (k + 2 < close && p[k + 1] == U'-') {
                        e.ranges.emplace_back(p[k], p[k + 2]);
                        k += 2;
                    } else {
                        e.ranges.emplace_back(p[k], p[k]);
                    }
                }
                i = close;
            } else {
                e.c = p[i];
            }
            out.elements.push_back(std::move(e));
        }
        return out;
    }

    static bool in_set(const Element& e, char32_t c) {
        // Case-insensitive like the rest: [A-C] takes 'b', [a-c] takes 'B'.
        char32_t lower = fold32(c), upper = c >= U'a' && c <= U'z' ? c - U'a' + U'A' : c;
        for (const auto& [lo, hi] : e.ranges)
            if ((c >= lo && c <= hi) || (lower >= lo && lower <= hi) || (upper >= lo && upper <= hi)) return true;
        return false;
    }

    // The whole of `text`, as -like matches (not a substring).
    bool matches(std::string_view text) const {
        std::u32string s = decode_utf8(text);
        std::size_t p = 0, i = 0, star = SIZE_MAX, resume = 0;
        auto step = [&](const Element& e, char32_t c) {
            switch (e.type) {
                case Element::Type::Char: return fold32(e.c) == fold32(c);
                case Element::Type::One: return true;
                case Element::Type::Set: return in_set(e, c);
                case Element::Type::Star: return false;
            }
            return false;
        };
        // The classic greedy match: on a mismatch, let the last '*' take one more character.
        while (i < s.size()) {
            if (p < elements.size() && elements[p].type == Element::Type::Star) {
                star = p++;
                resume = i;
            } else if (p < elements.size() && step(elements[p], s[i])) {
                ++p;
                ++i;
            } else if (star != SIZE_MAX) {
                p = star + 1;
                i = ++resume;  // the '*' takes one more character, for good
            } else {
                return false;
            }
        }
        while (p < elements.size() && elements[p].type == Element::Type::Star) ++p;
        return p == elements.size();
    }
};

// --- tokens ------------------------------------------------------------------------

struct Token {
    enum class Type : std::uint8_t {
        End, Word, String, True, False, Null, Compare, And, Or, Not, LParen, RParen, LBrace, RBrace
    };
    Type type = Type::End;
    std::string text;          // Word, String: the value (quotes removed, doubled quotes made one)
    std::string_view source;   // as written, for messages
    std::size_t position = 1;  // 1-based, as PowerShell counts "char:"
    Op op = Op::Eq;            // Compare
};

// -eq ... -notlike, -and, -or, -not; nullopt for any other name.
std::optional<Token::Type> operator_type(std::string_view name, Op& op) {
    for (const auto& o : kCompareOps)
        if (text::iequals(o.name, name)) {
            op = o.op;
            return Token::Type::Compare;
        }
    if (text::iequals(name, "and")) return Token::Type::And;
    if (text::iequals(name, "or")) return Token::Type::Or;
    if (text::iequals(name, "not")) return Token::Type::Not;
    return std::nullopt;
}

std::optional<Token::Type> variable_type(std::string_view name) {
    if (text::iequals(name, "true")) return Token::Type::True;
    if (text::iequals(name, "false")) return Token::Type::False;
    if (text::iequals(name, "null")) return Token::Type::Null;
    return std::nullopt;
}

bool word_char(char c) {
    return c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '\'' && c != '"' && c != '(' && c != ')' &&
           c != '{' && c != '}';
}
bool space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool digit(char c) { return c >= '0' && c <= '9'; }

// The whole text as tokens, ending in End; or the error.
std::variant<std::vector<Token>, std::string> tokenize(std::string_view s) {
    std::vector<Token> out;
    std::size_t i = 0;
    auto error = [](std::size_t pos, std::string_view what) {
        return fmt::format("-Filter: {} at position {}", what, pos + 1);
    };
    while (true) {
        while (i < s.size() && space(s[i])) ++i;
        Token t;
        t.position = i + 1;
        if (i == s.size()) {
            // At the end, the position just after the last token ("after 'Status' at position 7").
            t.position = out.empty() ? 1 : out.back().position + out.back().source.size();
            out.push_back(std::move(t));
            return out;
        }
        std::size_t start = i;
        char c = s[i];
        if (c == '(' || c == ')' || c == '{' || c == '}' || c == '!') {
            t.type = c == '(' ? Token::Type::LParen
                   : c == ')' ? Token::Type::RParen
                   : c == '{' ? Token::Type::LBrace
                   : c == '}' ? Token::Type::RBrace
                              : Token::Type::Not;
            ++i;
        } else if (c == '\'' || c == '"') {
            // As PowerShell: the quote doubled inside stands for one quote.
            t.type = Token::Type::String;
            ++i;
            while (true) {
                if (i == s.size())
                    return error(start, fmt::format("no closing {} for the string", c));
                if (s[i] == c) {
                    if (i + 1 < s.size() && s[i + 1] == c) {
                        t.text += c;
                        i += 2;
                        continue;
                    }
                    ++i;
                    break;
                }
                t.text += s[i++];
            }
        } else if (c == '-' && i + 1 < s.size() && (digit(s[i + 1]) || s[i + 1] == '.')) {
            t.type = Token::Type::Word;  // a negative number
            while (i < s.size() && word_char(s[i])) ++i;
            t.text = std::string(s.substr(start, i - start));
        } else if (c == '-' || c == '$') {
            ++i;
            // "-eqx" or "$true5": the name is all of the word, not its letters
            while (i < s.size() && word_char(s[i])) ++i;
            std::string_view name = s.substr(start + 1, i - start - 1);
            std::optional<Token::Type> type = c == '-' ? operator_type(name, t.op) : variable_type(name);
            if (!type && c == '-')
                return error(start, fmt::format("unknown operator '{}' (the operators are -eq, -ne, -gt, -ge, -lt, "
                                                "-le, -like, -notlike, -and, -or and -not)",
                                                s.substr(start, i - start)));
            if (!type)
                return error(start, fmt::format("unknown variable '{}' (expected $true, $false or $null)",
                                                s.substr(start, i - start)));
            t.type = *type;
            t.text = std::string(s.substr(start, i - start));
        } else {
            t.type = Token::Type::Word;
            while (i < s.size() && word_char(s[i])) ++i;
            t.text = std::string(s.substr(start, i - start));
        }
        t.source = s.substr(start, i - start);
        out.push_back(std::move(t));
    }
}

// The right side of a comparison, kept after the tokens are gone.
struct Operand {
    Token::Type type = Token::Type::Word;  // Word, String, True, False or Null
    std::string text;                      // the value; "$true" and "$false" as written
    std::size_t position = 1;
};

// What a value is as text: $true and $false as PowerShell turns them into strings.
std::string operand_text(const Operand& v) {
    if (v.type == Token::Type::True) return "True";
    if (v.type == Token::Type::False) return "False";
    return v.text;
}

bool property_name(const Token& t) {
    if (t.type != Token::Type::Word || t.text.empty() || !(letter(t.text[0]) || t.text[0] == '_')) return false;
    for (char c : t.text)
        if (!(letter(c) || digit(c) || c == '_')) return false;
    return true;
}

}  // namespace

// --- the tree -----------------------------------------------------------------------

struct Filter::Node {
    enum class Type : std::uint8_t { Or, And, Not, Compare };
    Type type = Type::Compare;
    std::vector<std::unique_ptr<Node>> children;  // Or, And: two or more; Not: one

    // Compare: Property -op operand
    std::string property;                // as written
    Op op = Op::Eq;
    Operand operand;
    std::optional<Pattern> pattern;      // -like, -notlike (not with $null)
};

namespace {

using Node = Filter::Node;

class Parser {
public:
    explicit Parser(const std::vector<Token>& tokens) : t_(tokens) {}

    std::unique_ptr<Node> parse_filter() {
        bool braced = take(Token::Type::LBrace);
        auto root = parse_or(0);
        if (!root) return nullptr;
        if (braced && !take(Token::Type::RBrace)) return fail("-and, -or or '}'");
        if (!at(Token::Type::End)) return fail(braced ? "the end of the filter" : "-and, -or or the end of the filter");
        return root;
    }

    const std::string& error() const { return error_; }

private:
    const Token& peek() const { return t_[i_]; }
    bool at(Token::Type type) const { return peek().type == type; }
    bool take(Token::Type type) {
        if (!at(type)) return false;
        ++i_;
        return true;
    }

    // "-Filter: expected <what> after '<the token before>' at position <of the token here>"
    std::unique_ptr<Node> fail(std::string_view expected, std::string_view note = {}) {
        if (i_ > 0)
            error_ = fmt::format("-Filter: expected {} after '{}' at position {}{}", expected, t_[i_ - 1].source,
                                 peek().position, note);
        else
            error_ = fmt::format("-Filter: expected {} at position {}{}", expected, peek().position, note);
        return nullptr;
    }

    // -or joins -and groups; both are n-ary so a long chain does not nest.
    std::unique_ptr<Node> parse_or(int depth) { return parse_chain(Node::Type::Or, Token::Type::Or, depth); }
    std::unique_ptr<Node> parse_and(int depth) { return parse_chain(Node::Type::And, Token::Type::And, depth); }

    std::unique_ptr<Node> parse_chain(Node::Type type, Token::Type joiner, int depth) {
        auto first = type == Node::Type::Or ? parse_and(depth) : parse_not(depth);
        if (!first || !at(joiner)) return first;
        auto node = std::make_unique<Node>();
        node->type = type;
        node->children.push_back(std::move(first));
        while (take(joiner)) {
            auto next = type == Node::Type::Or ? parse_and(depth) : parse_not(depth);
            if (!next) return nullptr;
            node->children.push_back(std::move(next));
        }
        return node;
    }

    std::unique_ptr<Node> parse_not(int depth) {
        if (!at(Token::Type::Not)) return parse_primary(depth);
        if (depth >= kMaxDepth) return too_deep();
        ++i_;
        auto inner = parse_not(depth + 1);
        if (!inner) return nullptr;
        auto node = std::make_unique<Node>();
        node->type = Node::Type::Not;
        node->children.push_back(std::move(inner));
        return node;
    }

    std::unique_ptr<Node> too_deep() {
        error_ = fmt::format("-Filter: parentheses and -not nest deeper than {} at position {}", kMaxDepth,
                             peek().position);
        return nullptr;
    }

    std::unique_ptr<Node> parse_primary(int depth) {
        if (at(Token::Type::LParen)) {
            if (depth >= kMaxDepth) return too_deep();
            std::size_t open = peek().position;
            ++i_;
            auto inner = parse_or(depth + 1);
            if (!inner) return nullptr;
            if (!take(Token::Type::RParen))
                return fail("-and, -or or ')'", fmt::format(", to close the '(' at position {}", open));
            return inner;
        }
        if (!property_name(peek())) return fail("a property name");
        auto node = std::make_unique<Node>();
        node->property = peek().text;
        ++i_;
        if (!at(Token::Type::Compare)) return fail("an operator such as -eq");
        node->op = peek().op;
        ++i_;
        const Token& v = peek();
        if (v.type != Token::Type::Word && v.type != Token::Type::String && v.type != Token::Type::True &&
            v.type != Token::Type::False && v.type != Token::Type::Null)
            return fail("a value ('text', a number, $true, $false or $null)");
        node->operand = Operand{v.type, v.text, v.position};
        ++i_;
        if ((node->op == Op::Like || node->op == Op::NotLike) && v.type != Token::Type::Null) {
            std::string why;
            std::string text = operand_text(node->operand);
            node->pattern = Pattern::compile(text, why);
            if (!node->pattern) {
                error_ = fmt::format("-Filter: the wildcard pattern '{}' at position {} {}", text, v.position, why);
                return nullptr;
            }
        }
        return node;
    }

    const std::vector<Token>& t_;
    std::size_t i_ = 0;
    std::string error_;
};

// --- evaluation ------------------------------------------------------------------------

// A number, or "unlimited" (above every number).
struct Limited {
    bool unlimited = false;
    double n = 0;
};

std::partial_ordering compare_limited(Limited a, Limited b) {
    if (a.unlimited || b.unlimited) return a.unlimited == b.unlimited ? std::partial_ordering::equivalent
                                          : a.unlimited                ? std::partial_ordering::greater
                                                                       : std::partial_ordering::less;
    return a.n <=> b.n;
}

std::optional<std::uint64_t> parse_digits(std::string_view s) {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
    return v;
}

std::optional<Limited> read_number(std::string_view s) {
    s = text::trim_space(s);
    if (text::iequals(s, "unlimited")) return Limited{true, 0};
    double d = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (s.empty() || ec != std::errc{} || p != s.data() + s.size() || !std::isfinite(d)) return std::nullopt;
    return Limited{false, d};
}

struct Evaluation {
    const Record& record;
    std::string error;  // the first one

    bool eval(const Node& n) {
        switch (n.type) {
            case Node::Type::Or:
            case Node::Type::And: {
                // Every operand is evaluated, without short cut, so that a right side the
                // property cannot read is reported whatever the other conditions say.
                bool any = false, all = true;
                for (const auto& c : n.children) {
                    bool r = eval(*c);
                    any = any || r;
                    all = all && r;
                }
                return n.type == Node::Type::Or ? any : all;
            }
            case Node::Type::Not: return !eval(*n.children.front());
            case Node::Type::Compare: return compare(n);
        }
        return false;
    }

    bool compare(const Node& n) {
        static const Value kNull;
        const Value* found = record.find(n.property);
        // A property the record lacks is Null; unknown_property() is where typos are caught.
        const Value& v = found != nullptr ? *found : kNull;
        const Operand& rhs = n.operand;
        if (rhs.type == Token::Type::Null) {
            // -like $null is -eq $null; an ordering against nothing is never true.
            bool is_null = v.kind == Value::Kind::Null;
            switch (n.op) {
                case Op::Eq:
                case Op::Like: return is_null;
                case Op::Ne:
                case Op::NotLike: return !is_null;
                default: return false;
            }
        }
        if (v.kind == Value::Kind::Null) return n.op == Op::Ne || n.op == Op::NotLike;

        if (n.op == Op::Like || n.op == Op::NotLike) {
            // Other kinds match as a table shows them: NextRetryTime -like '2026-11-23*'.
            bool any = false;
            if (v.kind == Value::Kind::List) {
                for (const auto& item : v.items) any = any || n.pattern->matches(item);
            } else {
                any = n.pattern->matches(v.text);
            }
            return n.op == Op::Like ? any : !any;
        }

        std::string text = operand_text(rhs);
        switch (v.kind) {
            case Value::Kind::Null: return false;  // handled above
            case Value::Kind::Text: return holds(n.op, compare_text(v.text, text));
            case Value::Kind::List: {
                // -eq (and each ordering): some element does; -ne: none is equal.
                if (n.op == Op::Ne) {
                    for (const auto& item : v.items)
                        if (compare_text(item, text) == 0) return false;
                    return true;
                }
                for (const auto& item : v.items)
                    if (holds(n.op, compare_text(item, text))) return true;
                return false;
            }
            case Value::Kind::Number: {
                auto r = read_number(rhs.text);
                if (!r) return unreadable(n, "a number", "10, 2.5 or unlimited");
                return holds(n.op, compare_limited({v.unlimited, v.number}, *r));
            }
            case Value::Kind::Size: {
                auto r = config::parse_byte_size(rhs.text);
                if (!r) return unreadable(n, "a size", "10MB, 500KB, 65536 or unlimited");
                Limited right{*r == config::kUnlimited, static_cast<double>(*r)};
                return holds(n.op, compare_limited({v.unlimited, v.number}, right));
            }
            case Value::Kind::Duration: {
                std::optional<double> seconds;
                if (auto span = config::parse_time_span(rhs.text)) seconds = static_cast<double>(span->count());
                else if (auto plain = parse_digits(text::trim_space(rhs.text))) seconds = static_cast<double>(*plain);
                if (!seconds) return unreadable(n, "a time span", "00:05:00, 2.00:00:00 or 300 (seconds)");
                return holds(n.op, v.number <=> *seconds);
            }
            case Value::Kind::Time: {
                auto t = parse_time(rhs.text);
                if (!t) return unreadable(n, "a time", "2026-11-23 14:05, 2026-11-23T14:05:09Z or 11/23/2026 2:05 PM");
                // A written time has whole seconds, as a table shows them; compare at that
                // precision so that the time copied from a table is -eq to itself.
                auto left = std::chrono::floor<std::chrono::seconds>(v.time);
                return holds(n.op, left <=> std::chrono::floor<std::chrono::seconds>(*t));
            }
            case Value::Kind::Boolean: {
                bool b = false;
                if (!config::parse_bool(rhs.text, b)) return unreadable(n, "a boolean", "$true or $false");
                return holds(n.op, v.boolean <=> b);
            }
        }
        return false;
    }

    bool unreadable(const Node& n, std::string_view kind, std::string_view examples) {
        if (error.empty())
            error = fmt::format("-Filter: {} is {}, and '{}' at position {} is not one (such as {})", n.property, kind,
                                n.operand.text, n.operand.position, examples);
        return false;
    }
};

void collect_properties(const Node& n, std::vector<const std::string*>& out) {
    if (n.type == Node::Type::Compare) out.push_back(&n.property);
    for (const auto& c : n.children) collect_properties(*c, out);
}

}  // namespace

// --- Filter ------------------------------------------------------------------------------

Filter::Filter(std::unique_ptr<Node> root) : root_(std::move(root)) {}
Filter::Filter(Filter&&) noexcept = default;
Filter& Filter::operator=(Filter&&) noexcept = default;
Filter::~Filter() = default;

std::variant<Filter, std::string> Filter::parse(std::string_view text) {
    auto tokens = tokenize(text);
    if (auto* error = std::get_if<std::string>(&tokens)) return std::move(*error);
    Parser parser(std::get<std::vector<Token>>(tokens));
    auto root = parser.parse_filter();
    if (!root) return parser.error();
    return Filter(std::move(root));
}

std::optional<std::string> Filter::unknown_property(std::span<const std::string> names) const {
    std::vector<const std::string*> used;
    collect_properties(*root_, used);
    for (const auto* p : used) {
        bool known = false;
        for (const auto& n : names) known = known || text::iequals(n, *p);
        if (!known) return *p;
    }
    return std::nullopt;
}

bool Filter::matches(const Record& record, std::string* error) const {
    Evaluation e{record, {}};
    bool r = e.eval(*root_);
    if (e.error.empty()) return r;
    if (error != nullptr) *error = std::move(e.error);
    return false;
}

}  // namespace edge::cli
