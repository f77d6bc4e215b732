// The Content Filter's search for custom phrases (issue 19): an Aho-Corasick automaton
// over word-normalised text, fed by a one-pass walk of the message that decodes what a
// reader would see of it — the Subject (RFC 2047 encoded words), and the text/* parts of
// the body, quoted-printable or base64 (RFC 2045 §6.7, §6.8), HTML tags skipped. Pure: no
// I/O; each byte is looked at a bounded number of times, whatever the message holds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace edge::agents {

// Text as phrases are compared: ASCII letters lower-cased, every run of characters that
// are neither ASCII letters nor digits (bytes >= 0x80, UTF-8, count as letters) one space,
// and a space on either side. So a phrase matches whole words only ("sex" is not found in
// "Essex") and across line breaks and punctuation ("free  money!" has "free money").
// Letters outside ASCII compare as their bytes (no Unicode case folding).
std::string normalize_phrase(std::string_view phrase);

// Many phrases searched at once in one pass (Aho-Corasick): the cost is the text's
// length, not the number of phrases. Phrases are normalised when added.
class PhraseMatcher {
public:
    struct Phrase {
        std::string text;  // as the administrator wrote it (for the agent log)
        bool good = false;  // GoodWord (else BadWord)
    };
    explicit PhraseMatcher(std::vector<Phrase> phrases);
    bool empty() const { return phrases_.empty(); }
    const std::vector<Phrase>& phrases() const { return phrases_; }

    // What a search found: the first GoodWord and the first BadWord (indexes into
    // phrases(), -1 when none).
    struct Found {
        int good = -1, bad = -1;
    };
    // A search in progress, fed with text in pieces (normalised as it goes).
    class Search {
    public:
        explicit Search(const PhraseMatcher& m) : m_(&m) { put(' '); }
        void feed(std::string_view text);
        void separator() { put(' '); }  // between pieces that are not one text (Subject, parts)
        const Found& found() const { return found_; }
        // A GoodWord decides the SCL alone: nothing more needs reading.
        bool done() const { return found_.good >= 0; }

    private:
        void put(unsigned char c);
        const PhraseMatcher* m_;
        std::uint32_t state_ = 0;
        bool last_space_ = false;
        Found found_;
    };

private:
    struct Node {
        std::vector<std::pair<unsigned char, std::uint32_t>> next;  // sorted by byte
        std::uint32_t fail = 0;
        int good = -1, bad = -1;  // a phrase ending here, or at a suffix (through fail links)
    };
    std::uint32_t child(std::uint32_t node, unsigned char c) const;
    std::uint32_t step(std::uint32_t state, unsigned char c) const;
    std::vector<Phrase> phrases_;
    std::vector<Node> nodes_;
};

// Feeds the message's readable text to `search`: the top-level Subject decoded, then each
// text/* part's body decoded (quoted-printable, base64), HTML tags left out, through nested
// multiparts and message/rfc822 parts (at most kMaxMimeDepth levels; deeper parts are not
// read). Other parts (images, applications) are skipped. Stops early once the search is
// done. `chunks` is the message as received (header, blank line, body) in any pieces.
inline constexpr std::size_t kMaxMimeDepth = 32;
void search_message_text(const std::vector<std::string>& chunks, PhraseMatcher::Search& search);

// RFC 2047 encoded words of a header value decoded to their bytes (B and Q; the charset
// is not converted); text between encoded words is kept, white space between two encoded
// words dropped (§6.2).
std::string decode_encoded_words(std::string_view value);

}  // namespace edge::agents
