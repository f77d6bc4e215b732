// The Pickup file parser (pickup_file.hpp): X-Sender/X-Receiver, To/Cc/Bcc, From, Bcc
// removal, line ends, limits. Pure: the fuzz target and unit tests drive it directly.
#include "pickup_file.hpp"

#include "address.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace edge::server {

namespace {

bool name_is(std::string_view name, std::string_view want) {
    return name.size() == want.size() &&
           std::equal(name.begin(), name.end(), want.begin(), [](char a, char b) {
               return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
           });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// RFC 5322 §3.6.8: printable ASCII but ':'.
bool valid_field_name(std::string_view n) {
    if (n.empty()) return false;
    return std::all_of(n.begin(), n.end(), [](char c) { return c >= 33 && c <= 126 && c != ':'; });
}

struct Field {
    std::string name;
    std::string value;    // unfolded (continuation line breaks removed)
    std::string raw;      // as it will be queued: its lines, each ending CRLF
};

// One address of X-Sender/X-Receiver: "<a@b>" or "a@b", comments not allowed.
std::string single_address(std::string_view v) {
    v = trim(v);
    if (v.size() >= 2 && v.front() == '<' && v.back() == '>') v = v.substr(1, v.size() - 2);
    return std::string(trim(v));
}

// "" when the address is fine for the envelope, else why not.
std::string check_address(const std::string& a) {
    auto m = smtp::split_mailbox(a);
    if (!m) return "no '@'";
    if (auto e = smtp::check_mailbox(*m, /*utf8=*/false); e != smtp::AddressError::None) return smtp::to_string(e);
    return {};
}

// For an error line: the address shown without control bytes, at most 80 bytes.
std::string shown(std::string_view a) {
    std::string out;
    for (char c : a.substr(0, 80)) out += (static_cast<unsigned char>(c) < 32 || c == 127) ? '?' : c;
    return out;
}

}  // namespace

std::vector<std::string> address_list(std::string_view v) {
    std::vector<std::string> out;
    std::string plain, angle;
    bool in_angle = false, have_angle = false;
    auto end_item = [&] {
        std::string a = have_angle ? angle : std::string(trim(plain));
        a = std::string(trim(a));
        if (!a.empty()) out.push_back(std::move(a));
        plain.clear();
        angle.clear();
        have_angle = in_angle = false;
    };
    for (std::size_t i = 0; i < v.size(); ++i) {
        char c = v[i];
        if (c == '"') {  // quoted string: kept (a quoted local part), escapes kept as written
            std::string q(1, c);
            for (++i; i < v.size(); ++i) {
                q += v[i];
                if (v[i] == '\\' && i + 1 < v.size()) q += v[++i];
                else if (v[i] == '"') break;
            }
            (in_angle ? angle : plain) += q;
        } else if (c == '(') {  // comment, nested: dropped
            int depth = 1;
            for (++i; i < v.size() && depth > 0; ++i) {
                if (v[i] == '\\') ++i;
                else if (v[i] == '(') ++depth;
                else if (v[i] == ')') --depth;
            }
            --i;
        } else if (in_angle) {
            if (c == '>') in_angle = false;
            else angle += c;
        } else if (c == '<') {
            in_angle = have_angle = true;
            angle.clear();
        } else if (c == ',' || c == ';') {
            end_item();
        } else if (c == ':') {
            plain.clear();  // a group's display name
        } else if (c == ' ' || c == '\t') {
            // a display name's words are dropped with it when an angle-addr follows;
            // in a bare addr-spec, space is not allowed anyway
            plain += c;
        } else {
            plain += c;
        }
    }
    end_item();
    // A bare item with words ("John Doe" without <>) is not an address: left for the check.
    return out;
}

PickupParse parse_pickup_file(std::string_view bytes, const PickupLimits& limits) {
    PickupParse r;
    auto bad = [&](std::string why) {
        r.error = std::move(why);
        return r;
    };
    if (bytes.empty()) return bad("the file is empty");
    if (bytes.size() > limits.max_size)
        return bad(fmt::format("the file is {} bytes, larger than the largest message accepted ({} bytes)", bytes.size(),
                               limits.max_size));
    if (bytes.find('\0') != std::string_view::npos) return bad("the file holds a NUL byte");
    for (std::size_t p = bytes.find('\r'); p != std::string_view::npos; p = bytes.find('\r', p + 1))
        if (p + 1 >= bytes.size() || bytes[p + 1] != '\n') return bad("the file holds a bare CR (a CR not followed by LF)");

    // The header section: lines up to the first empty one (or the end of the file).
    std::vector<Field> fields;
    std::size_t at = 0, line_no = 0;
    bool header_ended = false;
    while (at < bytes.size()) {
        std::size_t lf = bytes.find('\n', at);
        std::size_t next = lf == std::string_view::npos ? bytes.size() : lf + 1;
        if (next > limits.max_header_size)
            return bad(fmt::format("the header is larger than PickupDirectoryMaxHeaderSize ({} bytes)", limits.max_header_size));
        std::string_view line = bytes.substr(at, (lf == std::string_view::npos ? bytes.size() : lf) - at);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        at = next;
        ++line_no;
        if (line.empty()) {
            header_ended = true;
            break;
        }
        if (line.front() == ' ' || line.front() == '\t') {
            if (fields.empty()) return bad(fmt::format("line {} continues a header field but none came before it", line_no));
            fields.back().value += line;
            fields.back().raw.append(line).append("\r\n");
            continue;
        }
        auto colon = line.find(':');
        if (colon == std::string_view::npos || !valid_field_name(trim(line.substr(0, colon))))
            return bad(fmt::format("line {} is not a header field (name: value)", line_no));
        Field f;
        f.name = std::string(trim(line.substr(0, colon)));
        f.value = std::string(line.substr(colon + 1));
        f.raw = std::string(line) + "\r\n";
        fields.push_back(std::move(f));
    }

    PickupMessage m;
    std::optional<std::string> x_sender;
    std::vector<std::string> x_receivers, listed;
    std::optional<std::string> from_first;
    bool leading = true;  // still in the X-Sender/X-Receiver block at the top
    std::string header;
    for (const auto& f : fields) {
        const bool is_x_sender = name_is(f.name, "X-Sender"), is_x_receiver = name_is(f.name, "X-Receiver");
        if (is_x_sender || is_x_receiver) {
            if (!leading) return bad(fmt::format("{}: comes after other header fields; it must come first", f.name));
            if (is_x_sender) {
                if (x_sender) return bad("more than one X-Sender:");
                x_sender = single_address(f.value);
            } else {
                x_receivers.push_back(single_address(f.value));
                if (x_receivers.size() > limits.max_recipients)
                    return bad(fmt::format("more than PickupDirectoryMaxRecipientsPerMessage ({}) recipients",
                                           limits.max_recipients));
            }
            continue;  // removed from the message
        }
        leading = false;
        const bool is_bcc = name_is(f.name, "Bcc");
        if (is_bcc || name_is(f.name, "To") || name_is(f.name, "Cc")) {
            for (auto& a : address_list(f.value)) {
                listed.push_back(std::move(a));
                if (listed.size() > limits.max_recipients && x_receivers.empty())
                    return bad(fmt::format("more than PickupDirectoryMaxRecipientsPerMessage ({}) recipients",
                                           limits.max_recipients));
            }
        } else if (!from_first && name_is(f.name, "From")) {
            auto from = address_list(f.value);
            if (!from.empty()) from_first = from.front();
        }
        if (!is_bcc) header += f.raw;
    }

    if (x_sender) {
        m.sender = *x_sender == "<>" || x_sender->empty() ? std::string() : *x_sender;
    } else if (from_first) {
        m.sender = *from_first;
    } else {
        return bad("no sender: neither X-Sender: nor From:");
    }
    if (!m.sender.empty())
        if (auto why = check_address(m.sender); !why.empty())
            return bad(fmt::format("the sender '{}' is not a valid address: {}", shown(m.sender), why));

    std::set<std::string> seen;
    for (auto& a : x_receivers.empty() ? listed : x_receivers) {
        if (auto why = check_address(a); !why.empty())
            return bad(fmt::format("the recipient '{}' is not a valid address: {}", shown(a), why));
        std::string key = a;
        std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
        if (seen.insert(key).second) m.recipients.push_back(std::move(a));
    }
    if (m.recipients.empty()) return bad("no recipients: no X-Receiver: and no address in To:, Cc: or Bcc:");

    // The body: every line ending CRLF.
    std::string& out = m.message;
    out.reserve(header.size() + (bytes.size() - at) + 64);
    out = std::move(header);
    out += "\r\n";
    if (header_ended) {
        std::string_view body = bytes.substr(at);
        while (!body.empty()) {
            auto lf = body.find('\n');
            std::string_view line = body.substr(0, lf);
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            out.append(line).append("\r\n");
            if (lf == std::string_view::npos) break;
            body.remove_prefix(lf + 1);
        }
    }
    r.message = std::move(m);
    return r;
}

}  // namespace edge::server
