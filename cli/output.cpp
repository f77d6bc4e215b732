// Table, list and JSON output (see output.hpp).
#include "output.hpp"

#include "csv_log.hpp"
#include "text_helpers.hpp"

#include <fmt/format.h>

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace edge::cli {

namespace {

const Value kNull{};

const Value& value_of(const Record& r, const std::string& name) {
    const Value* v = r.find(name);
    return v != nullptr ? *v : kNull;
}

bool right_aligned(const Value& v) { return v.kind == Value::Kind::Number || v.kind == Value::Kind::Size; }

// Display width in characters: UTF-8 continuation bytes take no column.
std::size_t columns_of(std::string_view s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

// Cuts `s` to at most `width` columns, ending in "..." when cut.
std::string fit(const std::string& s, std::size_t width) {
    if (columns_of(s) <= width) return s;
    std::size_t keep = width > 3 ? width - 3 : 0, cols = 0, i = 0;
    for (; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
            if (cols == keep) break;
            ++cols;
        }
    }
    return s.substr(0, i) + std::string(std::min<std::size_t>(3, width), '.');
}

std::string pad(const std::string& s, std::size_t width, bool right) {
    std::size_t n = columns_of(s);
    if (n >= width) return s;
    return right ? std::string(width - n, ' ') + s : s + std::string(width - n, ' ');
}

// Table and list cells are one line and safe for a terminal: control bytes from peers
// (an ESC in a Subject, CR/LF in a LastError), C1 controls and invalid UTF-8 show as
// \xHH, the logs' escape (logging::append_display_escaped); a backslash stays single.
std::string one_line(std::string_view s) {
    std::string out;
    logging::append_display_escaped(out, s);
    return out;
}

// JSON strings: text::append_json_string (UTF-8 checked, controls escaped).
// Boost.JSON was weighed: its serializer (1.81) copies bytes >= 0x80 unchecked, so it
// would need the same pass, and boost/json/src.hpp costs a heavy translation unit.
void json_string(std::string& out, std::string_view s) { text::append_json_string(out, s); }

std::string json_number(double n) {
    if (n == static_cast<double>(static_cast<long long>(n))) return fmt::format("{}", static_cast<long long>(n));
    return fmt::format("{}", n);
}

void json_value(std::string& out, const Value& v) {
    switch (v.kind) {
        case Value::Kind::Null: out += "null"; break;
        case Value::Kind::Boolean: out += v.boolean ? "true" : "false"; break;
        case Value::Kind::Number:
        case Value::Kind::Size:
            if (v.unlimited)
                out += "\"unlimited\"";
            else
                out += json_number(v.number);
            break;
        case Value::Kind::Time: json_string(out, format_utc_time(v.time)); break;
        case Value::Kind::List:
            out += '[';
            for (std::size_t i = 0; i < v.items.size(); ++i) {
                if (i) out += ',';
                json_string(out, v.items[i]);
            }
            out += ']';
            break;
        case Value::Kind::Text:
        case Value::Kind::Duration: json_string(out, v.text); break;
    }
}

}  // namespace

std::string format_table(const std::vector<Record>& records, const std::vector<std::string>& columns,
                         std::size_t width) {
    if (records.empty() || columns.empty()) return {};
    const std::size_t n = columns.size();
    std::vector<std::size_t> w(n);
    std::vector<bool> right(n, false);
    std::vector<std::vector<std::string>> cells;
    for (std::size_t c = 0; c < n; ++c) w[c] = columns_of(columns[c]);
    for (const auto& r : records) {
        auto& row = cells.emplace_back();
        for (std::size_t c = 0; c < n; ++c) {
            const Value& v = value_of(r, columns[c]);
            row.push_back(one_line(v.text));
            w[c] = std::max(w[c], columns_of(row.back()));
            if (right_aligned(v)) right[c] = true;
        }
    }
    // Fit: the widest column gives way one character at a time, never below its
    // header (or 6 characters), so every column keeps a readable name.
    auto total = [&] {
        std::size_t t = n - 1;
        for (auto x : w) t += x;
        return t;
    };
    if (width != 0)
        while (total() > width) {
            std::size_t widest = n;
            for (std::size_t c = 0; c < n; ++c) {
                std::size_t floor = std::max<std::size_t>(6, columns_of(columns[c]));
                if (w[c] > floor && (widest == n || w[c] >= w[widest])) widest = c;
            }
            if (widest == n) break;
            --w[widest];
        }
    std::string out;
    auto line = [&](auto cell) {
        std::string l;
        for (std::size_t c = 0; c < n; ++c) {
            if (c) l += ' ';
            l += pad(fit(cell(c), w[c]), w[c], right[c]);
        }
        while (!l.empty() && l.back() == ' ') l.pop_back();
        out += l + '\n';
    };
    line([&](std::size_t c) { return columns[c]; });
    line([&](std::size_t c) { return std::string(std::min(w[c], columns_of(columns[c])), '-'); });
    for (const auto& row : cells) line([&](std::size_t c) { return row[c]; });
    return out;
}

std::string format_list(const std::vector<Record>& records) {
    std::string out;
    for (std::size_t i = 0; i < records.size(); ++i) {
        if (i) out += '\n';
        std::size_t w = 0;
        for (const auto& p : records[i].properties()) w = std::max(w, p.name.size());
        for (const auto& p : records[i].properties())
            out += fmt::format("{:<{}} : {}\n", p.name, w, one_line(p.value.text));
    }
    return out;
}

std::string format_json(const std::vector<Record>& records) {
    std::string out = "[";
    for (std::size_t i = 0; i < records.size(); ++i) {
        out += i ? ",\n  {" : "\n  {";
        const auto& props = records[i].properties();
        for (std::size_t j = 0; j < props.size(); ++j) {
            if (j) out += ", ";
            json_string(out, props[j].name);
            out += ": ";
            json_value(out, props[j].value);
        }
        out += '}';
    }
    out += records.empty() ? "]\n" : "\n]\n";
    return out;
}

std::size_t output_width() {
    winsize ws{};
    if (::isatty(STDOUT_FILENO) && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    if (const char* c = std::getenv("COLUMNS")) {
        char* end = nullptr;
        long v = std::strtol(c, &end, 10);
        if (end != c && *end == '\0' && v > 0) return static_cast<std::size_t>(v);
    }
    return 0;
}

}  // namespace edge::cli
