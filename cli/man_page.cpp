// The generated parts of the manual pages (man_page.hpp): edgectl(8)'s CMDLETS from the
// cmdlet table, edge-transport.conf(5)'s keys from the settings table. Run at build time
// by `edgectl --man`; nothing here is read at run time.
#include "man_page.hpp"

#include "cmdlet.hpp"
#include "settings.hpp"
#include "version.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>

namespace edge::cli {

namespace {

// A size as an administrator writes it: the largest unit that divides it.
std::string man_size(std::uint64_t bytes) {
    if (bytes != 0)
        for (auto [unit, shift] : {std::pair{"TB", 40}, {"GB", 30}, {"MB", 20}, {"KB", 10}})
            if (bytes % (1ull << shift) == 0) return fmt::format("{}{}", bytes >> shift, unit);
    return fmt::format("{}", bytes);
}

// The values a setting takes beyond its type's name (which already lists an Enum's or a
// Flags' choices): the range of a number, a size or a time span. "" when nothing to add.
std::string man_range(const config::SettingDef& d) {
    using T = config::SettingType;
    std::string r;
    switch (d.type) {
        case T::Int:
            if (d.max != 0) r = fmt::format("{} to {}", d.min, d.max);
            break;
        case T::ByteSize:
            if (d.max != 0) r = man_size(d.min) + " to " + man_size(d.max);
            break;
        case T::TimeSpan:
            if (d.max != 0)
                r = config::format_time_span(std::chrono::seconds(d.min)) + " to " +
                    config::format_time_span(std::chrono::seconds(d.max));
            break;
        default: break;
    }
    if (d.unlimited_allowed) r += r.empty() ? "unlimited" : ", or unlimited";
    return r;
}

// "Default: 10MB [§1.2]." — the bracket says where the default comes from, as
// conf/edge-transport.conf writes it (a section of the Exchange reference, an Exchange
// version, or "ours" where Exchange has none).
std::string man_default(std::string_view value, const config::SettingDef* d) {
    std::string out;
    if (!value.empty()) out = fmt::format("Default: \\fB{}\\fR", troff_text(value));
    else if (d != nullptr) out = "Default: none";
    if (d != nullptr && !d->source.empty()) out += fmt::format(" [{}]", troff_text(d->source));
    if (!out.empty()) out += '.';
    if (d != nullptr) {
        std::string range = man_range(*d);
        if (!range.empty()) out += fmt::format("{}Values: {}.", out.empty() ? "" : " ", troff_text(range));
    }
    return out;
}

void append_line(std::string& out, std::string_view line) {
    out += line;
    out += '\n';
}

// Appends one UTF-8 character starting at text[i] as \[uXXXX]; advances i past it. A
// byte that does not start a well-formed sequence becomes U+FFFD.
void append_unicode(std::string& out, std::string_view text, std::size_t& i) {
    const auto b = static_cast<unsigned char>(text[i]);
    int len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
    std::uint32_t cp = len == 4 ? b & 0x07u : len == 3 ? b & 0x0Fu : len == 2 ? b & 0x1Fu : 0xFFFDu;
    bool ok = len > 1 && i + static_cast<std::size_t>(len) <= text.size();
    for (int k = 1; ok && k < len; ++k) {
        const auto c = static_cast<unsigned char>(text[i + static_cast<std::size_t>(k)]);
        if ((c & 0xC0u) != 0x80u) ok = false;
        else cp = (cp << 6) | (c & 0x3Fu);
    }
    if (!ok) {
        cp = 0xFFFD;
        len = 1;
    }
    out += fmt::format("\\[u{:04X}]", cp);
    i += static_cast<std::size_t>(len);
}

}  // namespace

std::string troff_text(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 8);
    for (std::size_t i = 0; i < text.size();) {
        const char c = text[i];
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x80) {
            append_unicode(out, text, i);
            continue;
        }
        // troff reads '.' or '\'' at the start of a line as a request.
        if ((c == '.' || c == '\'') && (out.empty() || out.back() == '\n')) out += "\\&";
        if (c == '\\') out += "\\e";
        else if (c == '-') out += "\\-";
        else if (u >= 0x20 && u != 0x7F) out += c;
        else if (c == '\t') out += ' ';
        ++i;
    }
    return out;
}

std::string man_cmdlets() {
    std::string out;
    for (const Cmdlet& c : cmdlet_table()) {
        append_line(out, ".SS " + troff_text(c.name));
        append_line(out, troff_text(c.synopsis) + (c.synopsis.ends_with('.') ? "" : "."));
        if (!c.needs_database) append_line(out, "It does not open the data directory.");
        for (const ParamDef& p : c.params) {
            append_line(out, ".TP");
            const bool is_switch = p.is_switch || p.type == "Switch";
            std::string tag = fmt::format("\\fB\\-{}\\fR", troff_text(p.name));
            if (!is_switch) tag += fmt::format(" \\fI{}\\fR", troff_text(p.type));
            if (p.positional) tag = fmt::format("[\\fB\\-{}\\fR] \\fI{}\\fR", troff_text(p.name), troff_text(p.type));
            append_line(out, tag);
            append_line(out, troff_text(p.meaning) + (p.meaning.ends_with('.') ? "" : "."));
            std::string more = man_default(p.default_value, p.setting);
            if (p.setting != nullptr && p.setting->required && c.name.starts_with("New-"))
                more += more.empty() ? "Required." : " Required.";
            if (p.positional) more += more.empty() ? "Positional: the name may be left out." : " Positional: the name may be left out.";
            if (p.is_list) more += more.empty() ? "A comma list." : " A comma list.";
            if (!more.empty()) append_line(out, more);
        }
    }
    return out;
}

std::string man_bootstrap_settings() {
    std::string out;
    for (const config::SettingDef* d : config::settings_of(config::ObjectKind::Bootstrap)) {
        append_line(out, ".TP");
        append_line(out, fmt::format("\\fB{}\\fR = \\fI{}\\fR", troff_text(d->name), troff_text(config_param(*d).type)));
        append_line(out, troff_text(d->meaning) + (d->meaning.ends_with('.') ? "" : "."));
        append_line(out, man_default(d->default_value, d));
    }
    return out;
}

std::string fill_man_template(std::string_view page) {
    std::string out;
    std::size_t start = 0;
    while (start < page.size()) {
        std::size_t end = page.find('\n', start);
        if (end == std::string_view::npos) end = page.size();
        std::string_view line = page.substr(start, end - start);
        start = end + 1;
        if (line == "@CMDLETS@") {
            out += man_cmdlets();
            continue;
        }
        if (line == "@BOOTSTRAP_SETTINGS@") {
            out += man_bootstrap_settings();
            continue;
        }
        std::string filled;
        for (std::size_t i = 0; i < line.size();) {
            if (line.substr(i).starts_with("@VERSION@")) {
                filled += kVersion;
                i += 9;
                continue;
            }
            if (line[i] == '@') {
                const std::size_t close = line.find('@', i + 1);
                const std::string_view word =
                    line.substr(i + 1, close == std::string_view::npos ? 0 : close - i - 1);
                if (!word.empty() && word.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ_") == std::string_view::npos)
                    throw std::runtime_error(fmt::format("unknown marker @{}@ in a man page template", word));
            }
            filled += line[i++];
        }
        append_line(out, filled);
    }
    return out;
}

}  // namespace edge::cli
