// Header scanning and the headers we add.
#include "message_headers.hpp"

#include "text_helpers.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <ctime>

namespace edge::server {

namespace {
// A field's name as a downstream parser reads it: everything before the colon, less
// the spaces and tabs that the obsolete syntax allows there (RFC 5322 §4.5.3
// "Received :" is still a Received field, §4.1 obs-optional = field-name *WSP ":").
// Names compare case-insensitively (RFC 5322 §1.2.2). Every field the scanner looks
// at goes through here: a hop count by spelling would let loops through (issue 13).
std::string_view field_name(std::string_view line) {
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return {};
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    return name;
}

bool field_is(std::string_view line, std::string_view name) {
    std::string_view n = field_name(line);
    return !n.empty() && text::iequals(n, name);
}

std::string field_value(std::string_view line) {
    auto colon = line.find(':');
    std::string_view v = line.substr(colon + 1);
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.remove_prefix(1);
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
    return std::string(v);
}

void take_field(HeaderSummary& s, const std::string& field, bool keep_fields, std::uint64_t start, std::uint64_t end) {
    if (auto name = field_name(field); keep_fields && !name.empty()) s.fields.emplace_back(std::string(name), field_value(field));
    if (field_is(field, "Received")) ++s.received_count;
    else if (field_is(field, "Authentication-Results")) s.authentication_results.push_back({start, end - start, field_value(field)});
    else if (text::istarts_with(field_name(field), kOrganizationHeaderPrefix))
        s.organization_headers.push_back({start, end - start, field_value(field)});
    else if (!s.from && field_is(field, "From")) s.from = field_value(field);
    else if (!s.message_id && field_is(field, "Message-ID")) s.message_id = field_value(field);
    else if (!s.subject && field_is(field, "Subject")) s.subject = field_value(field);
}
}  // namespace

std::vector<std::string> from_addresses(std::string_view value) {
    std::vector<std::string> out;
    for (std::size_t open = value.find('<'); open != std::string_view::npos; open = value.find('<', open + 1)) {
        auto close = value.find('>', open);
        if (close == std::string_view::npos) break;
        out.emplace_back(value.substr(open + 1, close - open - 1));
    }
    if (!out.empty()) return out;
    while (!value.empty()) {
        auto comma = value.find(',');
        auto item = text::trim(value.substr(0, comma));
        if (!item.empty()) out.emplace_back(item);
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return out;
}

HeaderSummary scan_headers(const std::vector<std::string>& chunks, std::uint64_t max_header_size, bool keep_fields) {
    HeaderSummary s;
    std::string field;  // the current field, unfolded
    std::string line;
    std::uint64_t seen = 0;
    std::uint64_t line_start = 0, field_start = 0;  // offsets of the current line and field
    auto end_line = [&]() -> bool {  // returns true at the blank line
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) return true;
        if (line.front() == ' ' || line.front() == '\t') {
            field += line;  // RFC 5322 §2.2.3: a folded continuation
        } else {
            if (!field.empty()) take_field(s, field, keep_fields, field_start, line_start);
            field = line;
            field_start = line_start;
        }
        line.clear();
        return false;
    };
    for (const auto& chunk : chunks) {
        for (char c : chunk) {
            if (++seen > max_header_size) return s;
            if (c == '\n') {
                if (end_line()) {
                    if (!field.empty()) take_field(s, field, keep_fields, field_start, line_start);
                    s.complete = true;
                    return s;
                }
                line_start = seen;  // the next line starts after this LF
                continue;
            }
            if (field.size() + line.size() < max_header_size) line.push_back(c);
        }
    }
    // A message that is all header (no blank line) is still a message.
    if (!line.empty()) end_line();
    if (!field.empty()) take_field(s, field, keep_fields, field_start, seen);
    s.complete = true;
    return s;
}

void remove_fields(std::vector<std::string>& chunks, const std::vector<FieldSpan>& spans) {
    if (spans.empty()) return;
    std::vector<std::string> out;
    out.reserve(chunks.size() + spans.size());
    std::uint64_t at = 0;  // offset of the current chunk's first byte
    std::size_t next = 0;  // the first span not yet passed
    for (auto& chunk : chunks) {
        const std::uint64_t end = at + chunk.size();
        if (next == spans.size() || spans[next].offset >= end) {
            out.push_back(std::move(chunk));  // untouched: no copy
            at = end;
            continue;
        }
        std::string kept;
        std::uint64_t pos = at;
        while (pos < end) {
            while (next < spans.size() && spans[next].offset + spans[next].size <= pos) ++next;
            if (next == spans.size() || spans[next].offset >= end) {
                kept.append(chunk, pos - at, end - pos);
                break;
            }
            const FieldSpan& f = spans[next];
            if (f.offset > pos) kept.append(chunk, pos - at, f.offset - pos);
            pos = std::min(end, f.offset + f.size);
        }
        if (!kept.empty()) out.push_back(std::move(kept));
        at = end;
    }
    chunks = std::move(out);
}

std::string rfc5322_date(std::chrono::system_clock::time_point t) { return text::rfc5322_date_local(t); }

std::string received_header(const ReceivedFields& f) {
    // Words joined with spaces; a fold (CRLF + space) before a word that would pass column 78.
    std::vector<std::string> words;
    if (f.pickup) {
        // No client and no protocol: a file the server picked up (RFC 5322 §3.6.7 lets
        // "from" and "with" go).
        words = {"Received:", "by", f.by_fqdn, "(Pickup", "directory)"};
    } else {
        words = {"Received:", "from", f.helo, "(" + f.client_ip + ")", "by", f.by_fqdn, "(" + f.local_ip + ")", "with"};
        words.push_back(f.esmtp ? (f.tls ? "ESMTPS" : "ESMTP") : (f.tls ? "SMTPS" : "SMTP"));
    }
    if (f.tls && !f.pickup) {
        words.push_back("(version=" + f.tls_version);
        words.push_back("cipher=" + f.tls_cipher + ")");
    }
    words.push_back("id");
    words.push_back(f.id + ";");
    std::string date = rfc5322_date(f.when);
    for (std::size_t i = 0, start = 0; i <= date.size(); ++i)
        if (i == date.size() || date[i] == ' ') {
            words.push_back(date.substr(start, i - start));
            start = i + 1;
        }
    std::string out;
    std::size_t col = 0;
    for (const auto& w : words) {
        if (out.empty()) {
            out = w;
            col = w.size();
        } else if (col + 1 + w.size() > 78) {
            out += "\r\n " + w;
            col = 1 + w.size();
        } else {
            out += " " + w;
            col += 1 + w.size();
        }
    }
    return out + "\r\n";
}

std::string new_message_id(std::string_view fqdn) {
    unsigned char r[16];
    if (RAND_bytes(r, sizeof r) != 1) {
        // OpenSSL's generator failed: fall back to time and address entropy, still unique enough.
        auto t = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
        for (std::size_t i = 0; i < sizeof r; ++i) r[i] = static_cast<unsigned char>(t >> ((i % 8) * 8)) ^ static_cast<unsigned char>(i);
    }
    std::string id = "<" + text::hex(std::string_view(reinterpret_cast<const char*>(r), sizeof r));
    id += "@";
    id += fqdn;
    id += ">";
    return id;
}

}  // namespace edge::server
