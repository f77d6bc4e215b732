// The author domains of a message (RFC 7489 §6.6.1): its From: fields read as RFC 5322
// §3.4 mailbox lists (display names, comments, quoted strings, groups, obsolete
// routes). Pure, no PSL: the dmarc_from fuzz target drives it alone.
#include "dmarc.hpp"

#include "address.hpp"

#include <algorithm>

namespace edge::auth {

namespace {

// RFC 5322 §3.2.2 comments nest; deeper than this in a From: field is not an address.
constexpr int kMaxCommentDepth = 16;

// One mailbox of the list, as read so far: what came before '<' (an addr-spec when no
// angle-addr follows) and the angle-addr's content, comments and white space removed,
// quoted strings kept as written.
struct MailboxText {
    std::string bare;
    std::string angle;
    bool has_angle = false;
    bool angle_closed = false;
    bool spaced = false;  // white space between words of `bare`: a phrase, not an addr-spec
    bool pending_space = false;
};

class FromReader {
public:
    explicit FromReader(AuthorDomains& out) : out_(out) {}

    // False when the value is not a list of mailboxes.
    bool read(std::string_view value) {
        MailboxText m;
        int depth = 0;
        bool quoted = false, in_angle = false, in_group = false;
        for (std::size_t i = 0; i < value.size(); ++i) {
            char c = value[i];
            if (depth > 0) {  // inside a comment
                if (c == '\\') ++i;
                else if (c == '(' && ++depth > kMaxCommentDepth) return false;
                else if (c == ')') --depth;
                continue;
            }
            std::string& buf = in_angle ? m.angle : m.bare;
            if (quoted) {
                buf += c;
                if (c == '\\' && i + 1 < value.size()) buf += value[++i];
                else if (c == '"') quoted = false;
                continue;
            }
            switch (c) {
                case '(': depth = 1; break;
                case ' ': case '\t': case '\r': case '\n':
                    if (!in_angle && !m.bare.empty()) m.pending_space = true;
                    break;
                case '<':
                    if (m.has_angle) return false;
                    m.has_angle = in_angle = true;
                    break;
                case '>':
                    if (!in_angle) return false;
                    in_angle = false;
                    m.angle_closed = true;
                    break;
                case ':':
                    if (in_angle) {
                        m.angle.clear();  // RFC 5322 §4.4 obs-route "@a,@b:" before the addr-spec
                    } else {
                        if (in_group) return false;  // groups do not nest
                        in_group = true;
                        m = MailboxText{};  // what came before was the group's display name
                    }
                    break;
                case ',': case ';':
                    if (in_angle) {
                        if (c == ';') return false;
                        m.angle += c;  // inside an obs-route
                        break;
                    }
                    if (c == ';') {
                        if (!in_group) return false;
                        in_group = false;
                    }
                    if (!finish(m)) return false;
                    m = MailboxText{};
                    break;
                default:
                    if (m.angle_closed) return false;  // words after the angle-addr
                    if (c == '"') quoted = true;
                    if (!in_angle && m.pending_space) m.spaced = true;
                    m.pending_space = false;
                    buf += c;
            }
        }
        if (quoted || depth > 0 || in_angle || in_group) return false;
        return finish(m);
    }

private:
    bool finish(const MailboxText& m) {
        if (!m.has_angle && m.bare.empty()) return true;  // an empty list element or group
        if (m.has_angle && !m.angle_closed) return false;
        if (!m.has_angle && m.spaced) return false;
        const std::string& spec = m.has_angle ? m.angle : m.bare;
        auto mailbox = smtp::split_mailbox(spec);
        if (!mailbox || mailbox->local.empty() || mailbox->domain.empty() || mailbox->domain.front() == '[')
            return false;
        auto domain = smtp::canonical_domain(mailbox->domain);
        if (!domain) return false;
        if (std::find(out_.domains.begin(), out_.domains.end(), *domain) == out_.domains.end()) {
            if (out_.domains.size() == kMaxAuthorDomains) {
                too_many_ = true;
                return false;
            }
            out_.domains.push_back(*domain);
        }
        return true;
    }

    AuthorDomains& out_;

public:
    bool too_many_ = false;
};

}  // namespace

std::string_view to_string(AuthorProblem p) {
    switch (p) {
        case AuthorProblem::None: return "none";
        case AuthorProblem::NoFrom: return "no From field";
        case AuthorProblem::SeveralFromFields: return "several From fields";
        case AuthorProblem::Unparseable: return "unparseable From field";
        case AuthorProblem::TooManyDomains: return "too many author domains";
    }
    return "none";
}

AuthorDomains author_domains(const std::vector<std::string>& from_field_values) {
    AuthorDomains out;
    if (from_field_values.empty()) {
        out.problem = AuthorProblem::NoFrom;
        out.reason = "the message has no From field";
        return out;
    }
    FromReader reader(out);
    for (const auto& value : from_field_values) {
        if (!reader.read(value)) {
            out.domains.clear();
            out.problem = reader.too_many_ ? AuthorProblem::TooManyDomains : AuthorProblem::Unparseable;
            out.reason = reader.too_many_ ? "the From field names more than 8 domains"
                                          : "a From field is not a list of mailboxes";
            return out;
        }
    }
    if (out.domains.empty()) {
        out.problem = AuthorProblem::Unparseable;
        out.reason = "the From field holds no address";
    } else if (from_field_values.size() > 1) {
        out.problem = AuthorProblem::SeveralFromFields;
        out.reason = "the message has " + std::to_string(from_field_values.size()) + " From fields";
    }
    return out;
}

}  // namespace edge::auth
