// edgectl's command-line grammar (see grammar.hpp).
#include "grammar.hpp"

#include <fmt/format.h>

#include <cctype>

namespace edge::cli {

namespace {

bool istarts_with(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

// "-Name", "-Name:value": a parameter word starts with '-' and a letter, so a negative
// number or a lone "-" stays a value.
bool is_parameter_word(std::string_view w) {
    return w.size() > 1 && w[0] == '-' && std::isalpha(static_cast<unsigned char>(w[1]));
}

// As a value: a parameter name never holds a space, so a word that does was quoted
// by the administrator and is a value (-Filter "-not (Status -eq 'Retry')").
bool is_parameter_at(std::string_view w) {
    return is_parameter_word(w) && w.find_first_of(" \t") == std::string_view::npos;
}

// Strips one pair of matching quotes a caller kept ('x' inside "…").
std::string unquote(std::string_view v) {
    if (v.size() >= 2 && (v.front() == '\'' || v.front() == '"') && v.back() == v.front())
        return std::string(v.substr(1, v.size() - 2));
    return std::string(v);
}

// A list value with each element unquoted: '"a","b"' -> 'a,b'.
std::string unquote_list(std::string_view v) {
    std::string out;
    std::size_t start = 0;
    while (start <= v.size()) {
        auto comma = v.find(',', start);
        if (comma == std::string_view::npos) comma = v.size();
        std::string_view item = v.substr(start, comma - start);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (!out.empty() || start > 0) out += ',';
        out += unquote(item);
        start = comma + 1;
    }
    return out;
}

std::string boolean_hint(std::string_view name, std::string_view problem) {
    return fmt::format("-{} {}; write '$true' or '$false' in quotes (bash expands an unquoted $true to nothing), "
                       "or true / false",
                       name, problem);
}

std::string candidates(const std::vector<const ParamDef*>& found) {
    std::string s;
    for (const auto* p : found) s += (s.empty() ? "-" : ", -") + p->name;
    return s;
}

}  // namespace

const std::string* Invocation::get(std::string_view name) const {
    for (const auto& [n, v] : params)
        if (iequals(n, name)) return &v;
    return nullptr;
}

const ParamDef* resolve_parameter(const Cmdlet& cmdlet, std::string_view word) {
    std::vector<const ParamDef*> found;
    for (const auto& p : cmdlet.params) {
        if (iequals(p.name, word)) return &p;
        if (istarts_with(p.name, word)) found.push_back(&p);
    }
    if (found.size() == 1) return found.front();
    if (found.size() > 1)
        throw CmdletError{fmt::format("-{} is ambiguous: it could be {}", word, candidates(found)), 2};
    return nullptr;
}

Invocation parse_invocation(const Cmdlet& cmdlet, const std::vector<std::string>& args) {
    Invocation inv;
    inv.cmdlet = cmdlet.name;
    auto add = [&](const ParamDef& p, std::string value) {
        if (inv.has(p.name)) throw CmdletError{fmt::format("-{} is given twice", p.name), 2};
        inv.params.emplace_back(p.name, std::move(value));
    };
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& word = args[i];
        if (!is_parameter_word(word)) {
            const ParamDef* pos = nullptr;
            for (const auto& p : cmdlet.params)
                if (p.positional && !inv.has(p.name)) {
                    pos = &p;
                    break;
                }
            if (pos == nullptr) throw CmdletError{fmt::format("unexpected argument '{}'", word), 2};
            add(*pos, unquote(word));
            continue;
        }
        std::string_view name = std::string_view(word).substr(1);
        std::optional<std::string> inline_value;
        if (auto colon = name.find(':'); colon != std::string_view::npos) {
            inline_value = std::string(name.substr(colon + 1));
            name = name.substr(0, colon);
        }
        const ParamDef* p = resolve_parameter(cmdlet, name);
        if (p == nullptr)
            throw CmdletError{fmt::format("there is no parameter -{}; 'edgectl Get-Help {}' lists them", name, cmdlet.name), 2};
        if (p->is_switch) {
            add(*p, inline_value ? *inline_value : "$true");
            continue;
        }
        std::string value;
        if (inline_value) {
            value = *inline_value;
        } else {
            if (i + 1 >= args.size() || is_parameter_at(args[i + 1])) {
                // The usual cause for a Boolean: bash removed an unquoted $true.
                if (p->type == "Boolean") throw CmdletError{boolean_hint(p->name, "needs a value"), 2};
                throw CmdletError{fmt::format("-{} needs a value ({})", p->name, p->type), 2};
            }
            value = args[++i];
        }
        // A list spread over words: "a," "b" or "a" "," "b".
        if (p->is_list)
            while (i + 1 < args.size() && !value.empty() && (value.back() == ',' || args[i + 1] == ",")) {
                if (args[i + 1] == ",") ++i;
                if (i + 1 >= args.size()) break;
                value += (value.back() == ',' ? "" : ",") + args[++i];
            }
        if (value.empty() && p->type == "Boolean") throw CmdletError{boolean_hint(p->name, "is empty"), 2};
        add(*p, p->is_list ? unquote_list(value) : unquote(value));
    }
    return inv;
}

}  // namespace edge::cli
