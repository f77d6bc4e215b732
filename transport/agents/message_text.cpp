// The phrase automaton and the one-pass text walk of a message (see the header).
#include "message_text.hpp"

#include "text_helpers.hpp"

#include <algorithm>
#include <deque>

namespace edge::agents {

namespace {
bool word_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}
unsigned char lower(unsigned char c) { return static_cast<unsigned char>(text::ascii_lower(static_cast<char>(c))); }

int hex_value(unsigned char c) { return text::hex_digit_value(static_cast<char>(c)); }
int base64_value(unsigned char c) { return text::base64_digit_value(static_cast<char>(c)); }
}  // namespace

std::string normalize_phrase(std::string_view phrase) {
    std::string out = " ";
    for (unsigned char c : phrase) {
        if (word_byte(c)) out.push_back(static_cast<char>(lower(c)));
        else if (out.back() != ' ') out.push_back(' ');
    }
    if (out.back() != ' ') out.push_back(' ');
    return out;
}

// ---------------------------------------------------------------- the automaton

PhraseMatcher::PhraseMatcher(std::vector<Phrase> phrases) : phrases_(std::move(phrases)) {
    nodes_.emplace_back();
    for (std::size_t i = 0; i < phrases_.size(); ++i) {
        const std::string n = normalize_phrase(phrases_[i].text);
        if (n.size() < 3) continue;  // no word in it: it could only match every space
        std::uint32_t at = 0;
        for (unsigned char c : n) {
            std::uint32_t next = child(at, c);
            if (next == 0) {
                next = static_cast<std::uint32_t>(nodes_.size());
                auto& kids = nodes_[at].next;
                kids.insert(std::lower_bound(kids.begin(), kids.end(), std::make_pair(c, std::uint32_t{0})),
                            std::make_pair(c, next));
                nodes_.emplace_back();
            }
            at = next;
        }
        int& slot = phrases_[i].good ? nodes_[at].good : nodes_[at].bad;
        if (slot < 0) slot = static_cast<int>(i);
    }
    // Breadth first: each node's fail link is the longest proper suffix that is a node;
    // its outputs include its fail node's (computed first, being shallower).
    std::deque<std::uint32_t> queue;
    for (const auto& [c, n] : nodes_[0].next) queue.push_back(n);
    while (!queue.empty()) {
        const std::uint32_t u = queue.front();
        queue.pop_front();
        for (const auto& [c, v] : nodes_[u].next) {
            std::uint32_t f = nodes_[u].fail;
            while (f != 0 && child(f, c) == 0) f = nodes_[f].fail;
            std::uint32_t to = child(f, c);
            nodes_[v].fail = to != v ? to : 0;
            const Node& fn = nodes_[nodes_[v].fail];
            if (nodes_[v].good < 0) nodes_[v].good = fn.good;
            if (nodes_[v].bad < 0) nodes_[v].bad = fn.bad;
            queue.push_back(v);
        }
    }
}

std::uint32_t PhraseMatcher::child(std::uint32_t node, unsigned char c) const {
    const auto& kids = nodes_[node].next;
    auto it = std::lower_bound(kids.begin(), kids.end(), std::make_pair(c, std::uint32_t{0}));
    return it != kids.end() && it->first == c ? it->second : 0;
}

std::uint32_t PhraseMatcher::step(std::uint32_t state, unsigned char c) const {
    // Amortised O(1): each fail step shortens the match that feeding c had lengthened.
    while (true) {
        if (std::uint32_t n = child(state, c); n != 0) return n;
        if (state == 0) return 0;
        state = nodes_[state].fail;
    }
}

void PhraseMatcher::Search::put(unsigned char c) {
    if (c == ' ') {
        if (last_space_) return;
        last_space_ = true;
    } else {
        last_space_ = false;
    }
    state_ = m_->step(state_, c);
    const Node& n = m_->nodes_[state_];
    if (n.good >= 0 && found_.good < 0) found_.good = n.good;
    if (n.bad >= 0 && found_.bad < 0) found_.bad = n.bad;
}

void PhraseMatcher::Search::feed(std::string_view text) {
    for (unsigned char c : text) put(word_byte(c) ? lower(c) : ' ');
}

// ---------------------------------------------------------------- RFC 2047

std::string decode_encoded_words(std::string_view v) {
    std::string out;
    std::size_t gap_start = std::string::npos;  // white space after an encoded word, held back
    while (!v.empty()) {
        // =?charset?E?text?=
        if (v.starts_with("=?")) {
            auto q1 = v.find('?', 2);
            auto q2 = q1 == std::string_view::npos ? q1 : v.find('?', q1 + 1);
            auto end = q2 == std::string_view::npos ? q2 : v.find("?=", q2 + 1);
            if (end != std::string_view::npos && q2 == q1 + 2) {
                const char enc = static_cast<char>(v[q1 + 1] | 0x20);
                std::string_view text = v.substr(q2 + 1, end - q2 - 1);
                if (enc == 'b' || enc == 'q') {
                    if (gap_start != std::string::npos) out.resize(gap_start);  // §6.2: the gap between two words goes
                    if (enc == 'q') {
                        for (std::size_t i = 0; i < text.size(); ++i) {
                            const unsigned char c = static_cast<unsigned char>(text[i]);
                            if (c == '_') out.push_back(' ');
                            else if (c == '=' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
                                     hex_value(text[i + 2]) >= 0) {
                                out.push_back(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
                                i += 2;
                            } else {
                                out.push_back(static_cast<char>(c));
                            }
                        }
                    } else {
                        std::uint32_t acc = 0;
                        int bits = 0;
                        for (unsigned char c : text) {
                            const int d = base64_value(c);
                            if (d < 0) continue;
                            acc = (acc << 6) | static_cast<std::uint32_t>(d);
                            bits += 6;
                            if (bits >= 8) {
                                bits -= 8;
                                out.push_back(static_cast<char>((acc >> bits) & 0xff));
                            }
                        }
                    }
                    v.remove_prefix(end + 2);
                    gap_start = out.size();
                    continue;
                }
            }
        }
        const char c = v.front();
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') gap_start = std::string::npos;
        out.push_back(c);
        v.remove_prefix(1);
    }
    return out;
}

// ---------------------------------------------------------------- the MIME walk

namespace {
// Lines longer than this are read in pieces: nothing a boundary or a header field we
// look at needs is longer (RFC 2046 §5.1.1: boundaries are at most 70 characters).
constexpr std::size_t kMaxLine = 8192;
// An unfolded header field we read (Content-Type, Content-Transfer-Encoding, Subject)
// is cut here; the rest is not needed to decide.
constexpr std::size_t kMaxField = 8192;

enum class Encoding : std::uint8_t { Plain, QuotedPrintable, Base64 };

// One MIME entity's header, as far as the walk needs it.
struct PartHeader {
    std::string content_type;  // lower case, parameters included
    std::string transfer_encoding;
    std::string subject;
    std::string field;  // the field being unfolded
};

std::string parameter(std::string_view content_type_raw, std::string_view name) {
    // RFC 2045 §5.1: ;name=value or ;name="value" (case-insensitive name).
    std::string_view v = content_type_raw;
    while (true) {
        auto semi = v.find(';');
        if (semi == std::string_view::npos) return {};
        v.remove_prefix(semi + 1);
        std::string_view p = text::trim(v);
        if (p.size() > name.size() && text::iequals(p.substr(0, name.size()), name)) {
            std::string_view rest = text::trim(p.substr(name.size()));
            if (rest.empty() || rest.front() != '=') continue;
            rest = text::trim(rest.substr(1));
            if (!rest.empty() && rest.front() == '"') {
                auto close = rest.find('"', 1);
                return std::string(rest.substr(1, close == std::string_view::npos ? rest.size() - 1 : close - 1));
            }
            auto end = rest.find_first_of("; \t");
            return std::string(rest.substr(0, end));
        }
    }
}

class Walker {
public:
    explicit Walker(PhraseMatcher::Search& s) : search_(s) {}

    void bytes(std::string_view data) {
        while (!data.empty() && !search_.done()) {
            auto lf = data.find('\n');
            std::string_view piece = data.substr(0, lf == std::string_view::npos ? data.size() : lf + 1);
            data.remove_prefix(piece.size());
            if (line_.size() + piece.size() > kMaxLine) {
                // A very long line is body text, never a boundary or a field we read: it
                // is decoded as it comes, not held.
                if (!long_line_) {
                    long_line_ = true;
                    if (mode_ == Mode::Text) decode(line_);
                    line_.clear();
                }
                if (mode_ == Mode::Text) decode(piece);
                if (piece.back() == '\n') long_line_ = false;
                continue;
            }
            line_.append(piece);
            if (line_.back() == '\n') {
                end_line();
                line_.clear();
                long_line_ = false;
            }
        }
    }
    void finish() {
        if (!line_.empty()) end_line();
        if (mode_ == Mode::Header) end_header();
        search_.separator();
    }

private:
    enum class Mode : std::uint8_t { Header, Text, Skip };

    void end_line() {
        std::string_view l = line_;
        std::string_view bare = l;
        while (!bare.empty() && (bare.back() == '\n' || bare.back() == '\r')) bare.remove_suffix(1);
        if (!long_line_ && bare.starts_with("--") && boundary_line(bare)) return;
        if (long_line_) {  // the tail of a long line: text, nothing more
            if (mode_ == Mode::Text) decode(l);
            return;
        }
        switch (mode_) {
            case Mode::Header: header_line(bare); break;
            case Mode::Text: decode(l); break;
            case Mode::Skip: break;
        }
    }

    // "--boundary" opens the next part of that multipart, "--boundary--" closes it; both
    // close whatever is open inside it (RFC 2046 §5.1.1).
    bool boundary_line(std::string_view bare) {
        std::string_view b = bare.substr(2);
        while (!b.empty() && (b.back() == ' ' || b.back() == '\t')) b.remove_suffix(1);  // transport padding
        for (std::size_t i = boundaries_.size(); i-- > 0;) {
            const std::string& open = boundaries_[i];
            if (!b.starts_with(open)) continue;
            std::string_view rest = b.substr(open.size());
            if (!rest.empty() && rest != "--") continue;
            boundaries_.resize(i + 1);
            if (mode_ == Mode::Header) end_header_discarded();
            search_.separator();
            if (rest == "--") {
                boundaries_.pop_back();
                mode_ = Mode::Skip;  // the epilogue
            } else {
                start_header(false);
            }
            return true;
        }
        return false;
    }

    void start_header(bool top) {
        header_ = PartHeader{};
        top_ = top;
        mode_ = Mode::Header;
    }

    void header_line(std::string_view bare) {
        if (bare.empty()) {
            end_header();
            return;
        }
        if (bare.front() == ' ' || bare.front() == '\t') {
            if (header_.field.size() + bare.size() <= kMaxField) header_.field.append(bare);
            return;
        }
        take_field();
        header_.field.assign(bare.substr(0, kMaxField));
    }

    void take_field() {
        std::string_view f = header_.field;
        auto colon = f.find(':');
        if (colon == std::string_view::npos) return;
        std::string_view name = text::trim(f.substr(0, colon));
        std::string_view value = text::trim(f.substr(colon + 1));
        if (text::iequals(name, "Content-Type")) header_.content_type = std::string(value);
        else if (text::iequals(name, "Content-Transfer-Encoding")) header_.transfer_encoding = text::to_lower(value);
        else if (top_ && header_.subject.empty() && text::iequals(name, "Subject")) header_.subject = std::string(value);
        header_.field.clear();
    }

    void end_header_discarded() { header_.field.clear(); }

    // The blank line: what this entity's body is decides how the walk reads it.
    void end_header() {
        take_field();
        if (!header_.subject.empty()) {
            search_.feed(decode_encoded_words(header_.subject));
            search_.separator();
        }
        const std::string type = text::to_lower(header_.content_type.substr(0, header_.content_type.find(';')));
        const std::string_view t = text::trim(type);
        base64_bits_ = 0;
        base64_acc_ = 0;
        qp_ = 0;
        in_tag_ = false;
        if (t.starts_with("multipart/")) {
            std::string b = parameter(header_.content_type, "boundary");
            if (!b.empty() && b.size() <= 200 && boundaries_.size() < kMaxMimeDepth) {
                boundaries_.push_back(std::move(b));
                mode_ = Mode::Skip;  // the preamble
                return;
            }
            mode_ = Mode::Skip;
            return;
        }
        if (t == "message/rfc822") {
            if (depth_ < kMaxMimeDepth) {
                ++depth_;
                start_header(false);
                return;
            }
            mode_ = Mode::Skip;
            return;
        }
        // RFC 2045 §5.2: no Content-Type is text/plain.
        if (t.empty() || t.starts_with("text/")) {
            html_ = t == "text/html";
            encoding_ = header_.transfer_encoding == "quoted-printable" ? Encoding::QuotedPrintable
                        : header_.transfer_encoding == "base64"         ? Encoding::Base64
                                                                        : Encoding::Plain;
            mode_ = Mode::Text;
            return;
        }
        mode_ = Mode::Skip;
    }

    void text_byte(unsigned char c) {
        if (html_) {
            if (c == '<') {
                in_tag_ = true;
                search_.separator();
                return;
            }
            if (in_tag_) {
                if (c == '>') in_tag_ = false;
                return;
            }
        }
        search_.feed(std::string_view(reinterpret_cast<const char*>(&c), 1));
    }

    void decode(std::string_view data) {
        switch (encoding_) {
            case Encoding::Plain:
                for (unsigned char c : data) text_byte(c);
                break;
            case Encoding::QuotedPrintable:
                // qp_: 0 normal; 1 after '='; 2 after '=' and one hex digit (qp_hi_).
                for (unsigned char c : data) {
                    if (qp_ == 0) {
                        if (c == '=') qp_ = 1;
                        else text_byte(c);
                    } else if (qp_ == 1) {
                        if (c == '\r' || c == '\n') {
                            if (c == '\n') qp_ = 0;  // soft line break: nothing
                        } else if (hex_value(c) >= 0) {
                            qp_hi_ = hex_value(c);
                            qp_ = 2;
                        } else {
                            text_byte('=');
                            text_byte(c);
                            qp_ = 0;
                        }
                    } else {
                        if (hex_value(c) >= 0) text_byte(static_cast<unsigned char>(qp_hi_ * 16 + hex_value(c)));
                        else text_byte(c);
                        qp_ = 0;
                    }
                }
                break;
            case Encoding::Base64:
                for (unsigned char c : data) {
                    const int d = base64_value(c);
                    if (d < 0) continue;
                    base64_acc_ = ((base64_acc_ << 6) | static_cast<std::uint32_t>(d)) & 0xffffff;
                    base64_bits_ += 6;
                    if (base64_bits_ >= 8) {
                        base64_bits_ -= 8;
                        text_byte(static_cast<unsigned char>((base64_acc_ >> base64_bits_) & 0xff));
                    }
                }
                break;
        }
    }

    PhraseMatcher::Search& search_;
    std::string line_;
    bool long_line_ = false;
    Mode mode_ = Mode::Header;
    bool top_ = true;
    PartHeader header_;
    std::vector<std::string> boundaries_;
    std::size_t depth_ = 0;  // message/rfc822 levels entered
    Encoding encoding_ = Encoding::Plain;
    bool html_ = false, in_tag_ = false;
    int qp_ = 0, qp_hi_ = 0;
    std::uint32_t base64_acc_ = 0;
    int base64_bits_ = 0;
};
}  // namespace

void search_message_text(const std::vector<std::string>& chunks, PhraseMatcher::Search& search) {
    Walker w(search);
    for (const auto& c : chunks) {
        if (search.done()) return;
        w.bytes(c);
    }
    w.finish();
}

}  // namespace edge::agents
