// The MIME walk and the strip (mime_walk.hpp). The structure — boundaries, nesting,
// message/rfc822 bodies — is found here, iteratively and within the limits; GMime reads
// each header block alone, where the hard parts are (parameters, RFC 2231, RFC 2047,
// charsets), so it never builds a tree from a hostile message.
#include "mime_walk.hpp"

#include "text_helpers.hpp"

#include <gmime/gmime.h>

#include <algorithm>
#include <mutex>
#include <set>

namespace edge::mime {

namespace {

void init_gmime() {
    static std::once_flag once;
    std::call_once(once, [] { g_mime_init(); });
}

using text::iequals;
using text::to_lower;

struct Line {
    std::size_t begin, content_end, next;  // content_end excludes CR LF
};
Line line_at(std::string_view m, std::size_t pos) {
    std::size_t lf = m.find('\n', pos);
    std::size_t end = lf == std::string_view::npos ? m.size() : lf;
    std::size_t content_end = end > pos && m[end - 1] == '\r' ? end - 1 : end;
    return {pos, content_end, lf == std::string_view::npos ? m.size() : lf + 1};
}

struct HeaderInfo {
    std::string media_type, boundary, filename, type_name;
    bool identity_encoding = true;  // 7bit, 8bit, binary or none: a body that can be walked as it is
};

// GMime's reading of one header block (a part's, or the message's).
HeaderInfo read_header_block(std::string_view block, bool digest_child) {
    init_gmime();
    std::string text(block);
    text += "\r\n\r\n";  // the block ends here even when the message ended inside it
    GMimeStream* stream = g_mime_stream_mem_new_with_buffer(text.data(), text.size());
    GMimeParser* parser = g_mime_parser_new_with_stream(stream);
    GMimeObject* object = g_mime_parser_construct_part(parser, nullptr);
    HeaderInfo info;
    info.media_type = digest_child ? "message/rfc822" : "text/plain";  // RFC 2046 §5.1.1, §5.1.5
    if (object != nullptr) {
        GMimeHeaderList* headers = g_mime_object_get_header_list(object);
        GMimeContentType* ct = g_mime_object_get_content_type(object);
        if (ct != nullptr && g_mime_header_list_contains(headers, "Content-Type")) {
            const char* type = g_mime_content_type_get_media_type(ct);
            const char* sub = g_mime_content_type_get_media_subtype(ct);
            if (type != nullptr && sub != nullptr) info.media_type = to_lower(std::string(type) + "/" + sub);
        }
        if (const char* b = g_mime_object_get_content_type_parameter(object, "boundary")) info.boundary = b;
        const char* name = g_mime_object_get_content_disposition_parameter(object, "filename");
        const char* type_name = g_mime_object_get_content_type_parameter(object, "name");
        if (name == nullptr || *name == '\0') name = type_name;
        if (name != nullptr) info.filename = name;
        if (type_name != nullptr && info.filename != type_name) info.type_name = type_name;
        if (const char* cte = g_mime_object_get_header(object, "Content-Transfer-Encoding")) {
            std::string e = to_lower(cte);
            e.erase(std::remove_if(e.begin(), e.end(), [](char c) { return c == ' ' || c == '\t'; }), e.end());
            info.identity_encoding = e.empty() || e == "7bit" || e == "8bit" || e == "binary";
        }
        g_object_unref(object);
    }
    g_object_unref(parser);
    g_object_unref(stream);
    return info;
}

bool is_walked_message(std::string_view media_type) {
    return media_type == "message/rfc822" || media_type == "message/global" || media_type == "message/news";
}

struct Open {
    std::size_t part;
    std::string delimiter;  // "--boundary" for an open multipart, else empty
    bool closed = false;    // its close delimiter was seen: the epilogue follows
};

class Walker {
public:
    Walker(std::string_view m, const WalkLimits& limits) : m_(m), limits_(limits) {}

    Walk run() {
        std::size_t pos = 0;
        if (!open_part(0, 0, 0, false, pos)) return std::move(walk_);
        while (pos < m_.size()) {
            Line l = line_at(m_, pos);
            std::string_view content = m_.substr(l.begin, l.content_end - l.begin);
            if (content.size() >= 2 && content[0] == '-' && content[1] == '-') {
                if (!boundary_line(l, content, pos)) return std::move(walk_);
                continue;
            }
            pos = l.next;
        }
        close_above(0, m_.size(), true);
        return std::move(walk_);
    }

private:
    // Where a part's header block ends: after the first empty line, or at a boundary line
    // of an open multipart (a part without a blank line has an empty body, as GMime and
    // mail clients read it: its header block must not swallow the parts after it).
    std::size_t body_begin_of(std::size_t pos) const {
        while (pos < m_.size()) {
            Line l = line_at(m_, pos);
            std::string_view content = m_.substr(l.begin, l.content_end - l.begin);
            if (content.empty()) return l.next;
            if (content.starts_with("--"))
                for (const Open& o : stack_)
                    if (!o.delimiter.empty() && !o.closed && content.starts_with(o.delimiter)) return l.begin;
            pos = l.next;
        }
        return m_.size();
    }

    // A line that may be a boundary of an open multipart, innermost first. Liberal, as a
    // filter must be: a delimiter followed by anything still delimits (a client may read
    // it so, and a part we miss is a part we do not filter).
    bool boundary_line(const Line& l, std::string_view content, std::size_t& pos) {
        for (std::size_t k = stack_.size(); k-- > 0;) {
            const Open& o = stack_[k];
            if (o.delimiter.empty() || o.closed || !content.starts_with(o.delimiter)) continue;
            const bool close = content.substr(o.delimiter.size()).starts_with("--");
            close_above(k + 1, l.begin, false);
            if (close) {
                stack_[k].closed = true;
                pos = l.next;
                return true;
            }
            const Part& container = walk_.parts[stack_[k].part];
            return open_part(l.next, container.depth + 1, stack_[k].part, container.media_type == "multipart/digest", pos);
        }
        pos = l.next;
        return true;
    }

    // Ends the open parts from stack_[from] up, at the line break before `line_begin`.
    void close_above(std::size_t from, std::size_t line_begin, bool at_end) {
        std::size_t end = line_begin;
        if (!at_end && end > 0 && m_[end - 1] == '\n') {
            --end;
            if (end > 0 && m_[end - 1] == '\r') --end;
        }
        while (stack_.size() > from) {
            Part& p = walk_.parts[stack_.back().part];
            p.end = std::max(end, p.body_begin);
            stack_.pop_back();
        }
    }

    // A part starts at `at`: its header block is read; a multipart's boundary is opened,
    // a message's own header block is read at once. `resume`: where the scan goes on.
    bool open_part(std::size_t at, std::size_t depth, std::size_t parent, bool digest_child, std::size_t& resume) {
        while (true) {
            if (walk_.parts.size() >= limits_.max_parts) {
                walk_.status = WalkStatus::TooManyParts;
                return false;
            }
            if (depth > limits_.max_depth) {
                walk_.status = WalkStatus::TooDeep;
                return false;
            }
            Part p;
            p.begin = at;
            p.body_begin = body_begin_of(at);
            p.depth = depth;
            p.parent = parent;
            HeaderInfo info = read_header_block(m_.substr(at, p.body_begin - at), digest_child);
            p.media_type = std::move(info.media_type);
            p.filename = std::move(info.filename);
            p.type_name = std::move(info.type_name);
            const std::size_t index = walk_.parts.size();
            // RFC 2046 §5.1: a multipart's body is never encoded; one without a boundary is a leaf.
            p.multipart = p.media_type.starts_with("multipart/") && !info.boundary.empty();
            // A message/rfc822 body that is encoded (RFC 2046 §5.2.1 forbids it) is a leaf here:
            // its name and type are still checked.
            p.message = is_walked_message(p.media_type) && info.identity_encoding;
            walk_.parts.push_back(std::move(p));
            stack_.push_back(Open{index, walk_.parts[index].multipart ? "--" + info.boundary : std::string()});
            if (!walk_.parts[index].message) {
                resume = walk_.parts[index].body_begin;
                return true;
            }
            at = walk_.parts[index].body_begin;
            ++depth;
            parent = index;
            digest_child = false;
        }
    }

    std::string_view m_;
    WalkLimits limits_;
    Walk walk_;
    std::vector<Open> stack_;
};

// RFC 2231 attribute-char: what may stand unencoded in filename*=.
bool attr_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$&+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

std::string filename_parameter(std::string_view name) {
    const bool plain = std::all_of(name.begin(), name.end(), [](char ch) {
        auto c = static_cast<unsigned char>(ch);
        return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
    });
    if (plain) return "filename=\"" + std::string(name) + "\"";
    std::string out = "filename*=utf-8''";
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (char ch : name) {
        auto c = static_cast<unsigned char>(ch);
        if (attr_char(c)) {
            out += ch;
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

// RFC 2045 §6.8: base64 in lines of at most 76 characters.
std::string base64_lines(std::string_view in) {
    const std::string one_line = text::base64(in);
    std::string out;
    for (std::size_t i = 0; i < one_line.size(); i += 76) out += one_line.substr(i, 76) + "\r\n";
    return out;
}

// A name fit for a header parameter and a line of text: no control bytes, at most
// 200 octets (cut on a UTF-8 character boundary), so the field stays under 998.
std::string shown_name(std::string_view name) {
    std::string out;
    for (char ch : name) out += static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f ? '_' : ch;
    if (out.size() > 200) {
        std::size_t cut = 200;
        while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
        out.resize(cut);
    }
    return out;
}

// The header block's fields without the Content-* ones that describe the body.
std::string without_content_fields(std::string_view block) {
    std::string out;
    bool dropping = false;
    std::size_t pos = 0;
    while (pos < block.size()) {
        Line l = line_at(block, pos);
        std::string_view content = block.substr(l.begin, l.content_end - l.begin);
        if (content.empty()) break;  // the blank line: the caller writes its own
        if (content[0] != ' ' && content[0] != '\t') {
            std::string_view name = content.substr(0, content.find(':'));
            while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
            dropping = iequals(name, "Content-Type") || iequals(name, "Content-Transfer-Encoding") ||
                       iequals(name, "Content-Disposition");
        }
        if (!dropping) {
            out.append(block.substr(l.begin, l.content_end - l.begin));
            out += "\r\n";
        }
        pos = l.next;
    }
    return out;
}

}  // namespace

const char* to_string(WalkStatus s) {
    switch (s) {
        case WalkStatus::Ok: return "Ok";
        case WalkStatus::TooDeep: return "TooDeep";
        case WalkStatus::TooManyParts: return "TooManyParts";
    }
    return "?";
}

Walk walk(std::string_view message, const WalkLimits& limits) { return Walker(message, limits).run(); }

std::string replacement_part(std::string_view admin_message, const Part& original) {
    const std::string name = shown_name(original.filename.empty() ? original.media_type : original.filename);
    std::string body = std::string(admin_message) + "\r\n\r\n" + name + "\r\n";
    // Plain text only when nothing in it could read as a boundary line ("--…"): the name is
    // a stranger's. Base64 otherwise (and for UTF-8): its alphabet has no '-'.
    const bool ascii = std::all_of(body.begin(), body.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; }) &&
                       !body.starts_with("--") && body.find("\n--") == std::string::npos;
    std::string out = std::string("Content-Type: text/plain; charset=") + (ascii ? "us-ascii" : "utf-8") + "\r\n";
    out += std::string("Content-Transfer-Encoding: ") + (ascii ? "7bit" : "base64") + "\r\n";
    out += "Content-Disposition: attachment; " + filename_parameter(name + ".txt") + "\r\n\r\n";
    if (ascii) {
        body.resize(body.size() - 2);  // the CRLF before the next boundary is the multipart's
        out += body;
    } else {
        std::string encoded = base64_lines(body);
        encoded.resize(encoded.size() - 2);
        out += encoded;
    }
    return out;
}

std::string strip_parts(std::string_view message, const Walk& walk, const std::vector<std::size_t>& indices,
                        std::string_view admin_message) {
    // An attached message's own top part stands for the whole attached message: replacing
    // its header block would drop the message's From:, Subject:… so the message part goes.
    std::set<std::size_t> chosen;
    for (std::size_t i : indices) {
        if (i >= walk.parts.size()) continue;
        const Part& p = walk.parts[i];
        chosen.insert(i > 0 && walk.parts[p.parent].message ? p.parent : i);
    }
    std::vector<std::size_t> outermost;
    for (std::size_t i : chosen) {
        bool covered = false;
        for (std::size_t a = i; a != 0 && !covered;) {
            a = walk.parts[a].parent;
            covered = chosen.count(a) != 0;
        }
        if (!covered) outermost.push_back(i);
    }
    std::sort(outermost.begin(), outermost.end(),
              [&](std::size_t a, std::size_t b) { return walk.parts[a].begin < walk.parts[b].begin; });

    std::string out;
    out.reserve(message.size());
    std::size_t cursor = 0;
    for (std::size_t i : outermost) {
        const Part& p = walk.parts[i];
        if (i == 0) {
            // The message itself: its header fields stay, but those that describe the body.
            out += without_content_fields(message.substr(p.begin, p.body_begin - p.begin));
            out += replacement_part(admin_message, p);
            out += "\r\n";
            return out;
        }
        out.append(message.substr(cursor, p.begin - cursor));
        out += replacement_part(admin_message, p);
        // An empty body ended at the boundary line itself: the CRLF before it is ours to give.
        if (message.substr(p.end).starts_with("--")) out += "\r\n";
        cursor = p.end;
    }
    out.append(message.substr(cursor));
    return out;
}

}  // namespace edge::mime
