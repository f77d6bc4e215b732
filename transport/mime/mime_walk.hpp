// The MIME walk of a received message (issue 19, the Attachment Filtering Agent): every
// part with its byte range, media type and decoded file name, within a bound on depth and
// part count checked as the walk goes — a hostile message is refused, never parsed to the
// end. And the strip: parts replaced by a text part, every other byte kept as received.
// GMime stays behind this header (mime_walk.cpp): nothing else includes it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace edge::mime {

// Depth 30: real mail nests a few levels (a forward of a forward with a signed
// alternative is ~8); 30 leaves room for long forwarding chains while keeping the
// per-line boundary check cheap. 1,000 parts: far past any real message (a digest of a
// few hundred messages), and small enough that the walk's records stay in tens of KB.
struct WalkLimits {
    std::size_t max_depth = 30;
    std::size_t max_parts = 1000;
};

struct Part {
    std::size_t begin = 0;       // the first byte of its header block (the message header for the root)
    std::size_t body_begin = 0;  // after the blank line that ends the header block
    std::size_t end = 0;         // one past its body: before the CRLF that precedes the next boundary
    std::size_t depth = 0;       // 0 the message itself; +1 per multipart or message/rfc822 it is inside
    std::size_t parent = 0;      // index of the container it is in (0 for the root itself)
    std::string media_type;      // "type/subtype", lower case ("text/plain" when none is given)
    std::string filename;        // Content-Disposition filename, else Content-Type name: RFC 2231 / 2047 decoded, UTF-8
    std::string type_name;       // Content-Type name, decoded, when it differs from `filename` (clients differ on which they show)
    bool multipart = false;
    bool message = false;        // message/rfc822 (or message/global, message/news) whose body is walked as a message
};

enum class WalkStatus { Ok, TooDeep, TooManyParts };

struct Walk {
    WalkStatus status = WalkStatus::Ok;
    std::vector<Part> parts;  // in message order; parts[0] is the message. Cut short when status is not Ok
};

// The walk: iterative (no recursion, whatever the nesting), one pass over the lines,
// each line that starts with "--" compared with the open boundaries. GMime parses each
// part's header block alone (Content-Type, Content-Disposition, RFC 2231 continuations
// and charsets, RFC 2047 encoded words), so it never builds a tree we did not bound.
Walk walk(std::string_view message, const WalkLimits& limits = {});

// The text part a stripped part becomes: `admin_message`, and the original file name
// (Exchange's notice names it), as a text/plain attachment named "<original>.txt".
std::string replacement_part(std::string_view admin_message, const Part& original);

// `message` with each of `indices`' parts (their header block and body) replaced by
// replacement_part(); a part inside another one replaced is covered by it. The message
// itself (index 0) keeps its header fields but its Content-* ones, which describe the
// text part that replaces its body. Every other byte is as received.
std::string strip_parts(std::string_view message, const Walk& walk, const std::vector<std::size_t>& indices,
                        std::string_view admin_message);

const char* to_string(WalkStatus s);

}  // namespace edge::mime
