// The milter protocol's pure half (see the header): framing, negotiation, one
// message's conversation and the modifications applied to a message.
#include "milter_protocol.hpp"

#include "text_helpers.hpp"

#include <algorithm>

namespace edge::milter {

namespace {

void put_u32(std::string& out, std::uint32_t v) {
    out.push_back(static_cast<char>(v >> 24));
    out.push_back(static_cast<char>(v >> 16));
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v));
}
std::uint32_t get_u32(std::string_view s) {
    auto b = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[i])); };
    return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}
std::string nul_terminated(std::string_view s) {
    std::string out(s);
    out.push_back('\0');
    return out;
}
// "a\0b\0" → {"a","b"}; nullopt unless every string ends in NUL.
std::optional<std::vector<std::string>> split_nul(std::string_view data) {
    std::vector<std::string> out;
    while (!data.empty()) {
        auto nul = data.find('\0');
        if (nul == std::string_view::npos) return std::nullopt;
        out.emplace_back(data.substr(0, nul));
        data.remove_prefix(nul + 1);
    }
    return out;
}
// An address a milter gives (addrcpt, delrcpt, chgfrom), without its <>: a path on one
// line of printable bytes. Anything else is a protocol error, not a recipient.
std::optional<std::string> address_of(std::string_view a, bool null_allowed) {
    a = text::trim(a);
    if (a.size() >= 2 && a.front() == '<' && a.back() == '>') a = a.substr(1, a.size() - 2);
    if (a.size() > 320 || (a.empty() && !null_allowed)) return std::nullopt;
    for (char c : a)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '<' || c == '>') return std::nullopt;
    return std::string(a);
}
// RFC 5322 §3.6.8 field-name: printable ASCII but ':'.
bool valid_field_name(std::string_view n) {
    if (n.empty() || n.size() > 998) return false;
    return std::all_of(n.begin(), n.end(), [](char c) { return c > 0x20 && c < 0x7f && c != ':'; });
}

// Postfix's default macro lists per stage (milter_*_macros), plus the client facts a
// v6 milter commonly reads.
const std::vector<std::string>& default_macros(Stage s) {
    static const std::array<std::vector<std::string>, kStageCount> lists{{
        {"j", "{daemon_name}", "v", "_", "{client_addr}", "{client_name}", "{client_port}"},
        {"{tls_version}", "{cipher}", "{cipher_bits}", "{cert_subject}", "{cert_issuer}"},
        {"i", "{auth_type}", "{auth_authen}", "{auth_author}", "{mail_addr}", "{mail_host}", "{mail_mailer}"},
        {"{rcpt_addr}", "{rcpt_host}", "{rcpt_mailer}"},
        {"i"},
        {"i"},
        {"i"},
    }};
    return lists[static_cast<std::size_t>(s)];
}
std::string macro_name(std::string_view n) {
    if (n.size() > 1 && n.front() != '{') return "{" + std::string(n) + "}";
    return std::string(n);
}

// Bounds on what one milter may make us keep (besides a replaced body, bounded by the
// message size): header changes and recipients added or removed.
constexpr std::size_t kMaxChanges = 10000;
constexpr std::size_t kMaxChangeBytes = 4u << 20;
constexpr std::uint64_t kDefaultBodyLimit = 64ull << 20;

std::string crlf_lines(std::string_view s) {
    std::string out;
    out.reserve(s.size() + s.size() / 32);
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\r') {
            if (i + 1 < s.size() && s[i + 1] == '\n') {
                out += "\r\n";
                ++i;
            }
            continue;  // a lone CR: dropped (SMTP smuggling, RFC 5321 §2.3.8)
        }
        if (s[i] == '\n') out += "\r\n";
        else out.push_back(s[i]);
    }
    return out;
}

}  // namespace

std::string encode(char code, std::string_view data) {
    std::string out;
    out.reserve(5 + data.size());
    put_u32(out, static_cast<std::uint32_t>(data.size() + 1));
    out.push_back(code);
    out.append(data);
    return out;
}

void PacketReader::feed(std::string_view bytes) { buf_.append(bytes); }

std::size_t PacketReader::wanted() const {
    if (buf_.size() < 4) return 4 - buf_.size();
    const std::uint32_t len = get_u32(buf_);
    if (len == 0 || len > kMaxPacket) return 1;
    return buf_.size() < 4 + len ? 4 + len - buf_.size() : 1;
}

PacketReader::Status PacketReader::next(Packet& out) {
    if (!error_.empty()) return Status::Malformed;
    if (buf_.size() < 4) return Status::NeedMore;
    const std::uint32_t len = get_u32(buf_);
    if (len == 0) {
        error_ = "a packet of length 0";
        return Status::Malformed;
    }
    if (len > kMaxPacket) {
        error_ = "a packet of " + std::to_string(len) + " bytes (at most " + std::to_string(kMaxPacket) + ")";
        return Status::Malformed;
    }
    if (buf_.size() < 4 + std::size_t{len}) return Status::NeedMore;
    out.code = buf_[4];
    out.data.assign(buf_, 5, len - 1);
    buf_.erase(0, 4 + std::size_t{len});
    return Status::Ready;
}

std::string encode_optneg(const Options& o) {
    std::string d;
    put_u32(d, o.version);
    put_u32(d, o.actions);
    put_u32(d, o.protocol);
    return encode(cmd::kOptNeg, d);
}

std::optional<Options> parse_optneg(const Packet& p, const Options& offered, std::string& error) {
    if (p.code != reply::kOptNeg) {
        error = std::string("answered option negotiation with '") + (p.code >= 0x20 && p.code < 0x7f ? p.code : '?') + "'";
        return std::nullopt;
    }
    if (p.data.size() < 12) {
        error = "option negotiation of " + std::to_string(p.data.size()) + " bytes (12 at least)";
        return std::nullopt;
    }
    Options o;
    o.version = get_u32(p.data);
    o.actions = get_u32(std::string_view(p.data).substr(4));
    o.protocol = get_u32(std::string_view(p.data).substr(8));
    if (o.version < 2 || o.version > kProtocolVersion) {
        error = "milter protocol version " + std::to_string(o.version) + " (2 to 6 spoken here)";
        return std::nullopt;
    }
    if ((o.actions & ~offered.actions) != 0) {
        error = "asked for actions not offered";
        return std::nullopt;
    }
    // Sendmail's MDS_256K / MDS_1M bits (0x10000000, 0x20000000) are a milter's own
    // buffer size, harmless to ignore: we never send more than 64 KB at a time.
    const std::uint32_t protocol = o.protocol & ~0x30000000u;
    if ((protocol & ~offered.protocol) != 0) {
        error = "asked for protocol steps not offered";
        return std::nullopt;
    }
    o.protocol = protocol;
    // The macro lists (v6, SMFIF_SETSYMLIST): stage, then a NUL-terminated list.
    std::string_view rest = std::string_view(p.data).substr(12);
    while (!rest.empty()) {
        if (rest.size() < 5) {
            error = "a truncated macro list in option negotiation";
            return std::nullopt;
        }
        const std::uint32_t stage = get_u32(rest);
        rest.remove_prefix(4);
        auto nul = rest.find('\0');
        if (nul == std::string_view::npos || stage >= kStageCount) {
            error = nul == std::string_view::npos ? "a macro list without its NUL" : "a macro list for an unknown stage";
            return std::nullopt;
        }
        std::vector<std::string> names;
        std::string_view list = rest.substr(0, nul);
        rest.remove_prefix(nul + 1);
        while (!list.empty()) {
            auto sep = list.find_first_of(" ,");
            if (sep != 0) names.push_back(macro_name(list.substr(0, sep)));
            if (sep == std::string_view::npos) break;
            list.remove_prefix(sep + 1);
        }
        o.macros[stage] = std::move(names);
    }
    return o;
}

std::string_view to_string(Verdict v) {
    switch (v) {
        case Verdict::Continue: return "continue";
        case Verdict::Accept: return "accept";
        case Verdict::Reject: return "reject";
        case Verdict::TempFail: return "tempfail";
        case Verdict::Discard: return "discard";
        case Verdict::Failed: return "failed";
    }
    return "?";
}

std::optional<std::string> validate_reply_code(std::string_view text) {
    // Lines "ddd-text" … "ddd text"; every line the same code, 4xx or 5xx.
    std::string code, joined;
    while (!text.empty()) {
        auto eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty() && text.empty()) break;
        if (line.size() < 3 || (line[0] != '4' && line[0] != '5') || line[1] < '0' || line[1] > '9' || line[2] < '0' ||
            line[2] > '9')
            return std::nullopt;
        if (line.size() > 3 && line[3] != ' ' && line[3] != '-') return std::nullopt;
        if (!code.empty() && line.substr(0, 3) != code) return std::nullopt;
        code = std::string(line.substr(0, 3));
        std::string_view rest = line.size() > 4 ? line.substr(4) : std::string_view{};
        // An enhanced code repeated on every line is said once.
        if (!joined.empty() && rest.size() >= 5 && (rest[0] == '4' || rest[0] == '5') && rest[1] == '.') {
            auto sp = rest.find(' ');
            rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
        }
        for (char c : rest) {
            auto u = static_cast<unsigned char>(c);
            if (u < 0x20 || u >= 0x7f) continue;
            if (!joined.empty() && joined.back() == ' ' && c == ' ') continue;
            joined.push_back(c);
        }
        if (!text.empty()) joined.push_back(' ');
    }
    if (code.empty()) return std::nullopt;
    while (!joined.empty() && joined.back() == ' ') joined.pop_back();
    return joined.empty() ? code : code + " " + joined;
}

// ---- the conversation -------------------------------------------------------------

Conversation::Conversation(MessageFacts facts, Options offered) : facts_(std::move(facts)), offered_(offered) {
    out_ = encode_optneg(offered_);
    awaiting_ = true;
}

std::string Conversation::take_output() { return std::exchange(out_, {}); }

Stage Conversation::stage_of(Step s) const {
    switch (s) {
        case Step::Connect: return Stage::Connect;
        case Step::Helo: return Stage::Helo;
        case Step::Mail: return Stage::Mail;
        case Step::Rcpt: return Stage::Rcpt;
        case Step::Data: return Stage::Data;
        case Step::Header:
        case Step::EndOfHeaders: return Stage::EndOfHeaders;
        default: return Stage::EndOfMessage;
    }
}

bool Conversation::skipped(Step s) const {
    const std::uint32_t p = negotiated_.protocol;
    switch (s) {
        case Step::Connect: return p & proto::kNoConnect;
        case Step::Helo: return (p & proto::kNoHelo) || facts_.helo.empty();
        case Step::Mail: return p & proto::kNoMail;
        case Step::Rcpt: return (p & proto::kNoRcpt) || facts_.recipients.empty();
        // DATA is a v4+ command: an older milter never hears it.
        case Step::Data: return (p & proto::kNoData) || negotiated_.version < 4;
        case Step::Header: return (p & proto::kNoHeaders) || facts_.headers.empty();
        case Step::EndOfHeaders: return p & proto::kNoEndOfHeaders;
        case Step::Body: return (p & proto::kNoBody) || facts_.body.empty() || skip_body_;
        default: return false;
    }
}

bool Conversation::no_reply(Step s) const {
    const std::uint32_t p = negotiated_.protocol;
    switch (s) {
        case Step::Connect: return p & proto::kNoReplyConnect;
        case Step::Helo: return p & proto::kNoReplyHelo;
        case Step::Mail: return p & proto::kNoReplyMail;
        case Step::Rcpt: return p & proto::kNoReplyRcpt;
        case Step::Data: return p & proto::kNoReplyData;
        case Step::Header: return p & proto::kNoReplyHeader;
        case Step::EndOfHeaders: return p & proto::kNoReplyEndOfHeaders;
        case Step::Body: return p & proto::kNoReplyBody;
        default: return false;
    }
}

void Conversation::send_macros(Stage stage, char for_cmd) {
    const auto& asked = negotiated_.macros[static_cast<std::size_t>(stage)];
    const std::vector<std::string>& names = asked ? *asked : default_macros(stage);
    std::string d(1, for_cmd);
    bool any = false;
    for (const auto& n : names) {
        std::string value;
        if (n == "{mail_addr}") value = facts_.sender;
        else if (n == "{rcpt_addr}") value = index_ < facts_.recipients.size() ? facts_.recipients[index_] : "";
        else if (n == "{client_port}") value = facts_.client_port != 0 ? std::to_string(facts_.client_port) : "";
        else if (auto it = facts_.macros.find(n); it != facts_.macros.end()) value = it->second;
        else if (auto it2 = facts_.macros.find(n.size() > 2 && n.front() == '{' ? n.substr(1, n.size() - 2) : n);
                 it2 != facts_.macros.end())
            value = it2->second;
        if (value.empty() && n != "{mail_addr}") continue;
        d += nul_terminated(n) + nul_terminated(value);
        any = true;
    }
    if (any) out_ += encode(cmd::kMacro, d);
}

void Conversation::emit(Step s) {
    switch (s) {
        case Step::Connect: {
            send_macros(Stage::Connect, cmd::kConnect);
            std::string d = nul_terminated(facts_.client_name.empty() ? "unknown" : facts_.client_name);
            if (facts_.client_addr.empty()) {
                d.push_back('U');
            } else {
                d.push_back(facts_.client_addr.find(':') != std::string::npos ? '6' : '4');
                d.push_back(static_cast<char>(facts_.client_port >> 8));
                d.push_back(static_cast<char>(facts_.client_port & 0xff));
                d += nul_terminated(facts_.client_addr);
            }
            out_ += encode(cmd::kConnect, d);
            break;
        }
        case Step::Helo:
            send_macros(Stage::Helo, cmd::kHelo);
            out_ += encode(cmd::kHelo, nul_terminated(facts_.helo));
            break;
        case Step::Mail:
            send_macros(Stage::Mail, cmd::kMail);
            out_ += encode(cmd::kMail, nul_terminated("<" + facts_.sender + ">"));
            break;
        case Step::Rcpt:
            send_macros(Stage::Rcpt, cmd::kRcpt);
            out_ += encode(cmd::kRcpt, nul_terminated("<" + facts_.recipients[index_] + ">"));
            break;
        case Step::Data:
            send_macros(Stage::Data, cmd::kData);
            out_ += encode(cmd::kData);
            break;
        case Step::Header: {
            const auto& [name, raw] = facts_.headers[index_];
            // The value as Postfix sends it: without the space after the colon, LF folding.
            std::string_view v = raw;
            while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
            std::string value;
            for (std::size_t i = 0; i < v.size(); ++i)
                if (!(v[i] == '\r' && i + 1 < v.size() && v[i + 1] == '\n')) value.push_back(v[i]);
            out_ += encode(cmd::kHeader, nul_terminated(name) + nul_terminated(value));
            break;
        }
        case Step::EndOfHeaders:
            send_macros(Stage::EndOfHeaders, cmd::kEndOfHeaders);
            out_ += encode(cmd::kEndOfHeaders);
            break;
        case Step::Body:
            out_ += encode(cmd::kBody, std::string_view(facts_.body).substr(index_, kBodyChunk));
            break;
        case Step::EndOfBody:
            send_macros(Stage::EndOfMessage, cmd::kEndOfBody);
            out_ += encode(cmd::kEndOfBody);
            break;
        default: break;
    }
}

void Conversation::advance() {
    // The item after the one just answered (or sent without a reply).
    auto next_item = [&] {
        std::size_t count = 1;
        if (step_ == Step::Rcpt) count = facts_.recipients.size();
        else if (step_ == Step::Header) {
            // Fields we could not parse are kept in the message but not told.
            do ++index_;
            while (index_ < facts_.headers.size() && facts_.headers[index_].first.empty());
            if (index_ < facts_.headers.size()) return;
            index_ = 0;
            step_ = static_cast<Step>(static_cast<int>(step_) + 1);
            return;
        } else if (step_ == Step::Body) {
            index_ += kBodyChunk;
            if (index_ < facts_.body.size() && !skip_body_) return;
            index_ = 0;
            step_ = static_cast<Step>(static_cast<int>(step_) + 1);
            return;
        }
        if (++index_ < count) return;
        index_ = 0;
        step_ = static_cast<Step>(static_cast<int>(step_) + 1);
    };
    next_item();
    while (step_ != Step::Done) {
        if (skipped(step_)) {
            index_ = 0;
            step_ = static_cast<Step>(static_cast<int>(step_) + 1);
            continue;
        }
        if (step_ == Step::Header && index_ == 0)
            while (index_ < facts_.headers.size() && facts_.headers[index_].first.empty()) ++index_;
        if (step_ == Step::Header && index_ >= facts_.headers.size()) {
            index_ = 0;
            step_ = Step::EndOfHeaders;
            continue;
        }
        // Every recipient refused: the message is refused (RCPT's answers are final).
        if (step_ > Step::Rcpt && !recipients_checked_) {
            recipients_checked_ = true;
            const std::size_t refused = outcome_.rejected_recipients.size() + outcome_.tempfailed_recipients.size();
            if (!facts_.recipients.empty() && refused == facts_.recipients.size()) {
                outcome_.stage = Stage::Rcpt;
                finish(outcome_.tempfailed_recipients.empty() ? Verdict::Reject : Verdict::TempFail);
                return;
            }
        }
        emit(step_);
        if (!no_reply(step_)) {
            awaiting_ = true;
            return;
        }
        next_item();
    }
}

void Conversation::finish(Verdict v) {
    outcome_.verdict = v;
    // Modifications come only at the end of the message, before its final reply; accept
    // there keeps them as continue does (libmilter's SMFIS_ACCEPT from xxfi_eom: rspamd and
    // clamav-milter add their headers, then accept). A refusal makes them moot.
    if (v != Verdict::Continue && v != Verdict::Accept) outcome_.modifications = {};
    if (outcome_.modifications.body) outcome_.modifications.body = crlf_lines(*outcome_.modifications.body);
    out_ += encode(cmd::kQuit);
    done_ = true;
    awaiting_ = false;
}

void Conversation::fail_protocol(std::string why) {
    outcome_.error = std::move(why);
    outcome_.stage = stage_of(step_);
    finish(Verdict::Failed);
}

void Conversation::fail(std::string why) {
    if (done_) return;
    fail_protocol(std::move(why));
}

bool Conversation::on_modification(const Packet& p) {
    auto& m = outcome_.modifications;
    auto need = [&](std::uint32_t bit) {
        if (negotiated_.actions & bit) return true;
        fail_protocol(std::string("a modification '") + p.code + "' it did not negotiate");
        return false;
    };
    // Bounded: a milter cannot make us keep more than the limits say.
    if (m.headers.size() + m.add_recipients.size() + m.remove_recipients.size() >= kMaxChanges ||
        change_bytes_ + p.data.size() > kMaxChangeBytes) {
        if (p.code != reply::kReplaceBody) {
            fail_protocol("more modifications than " + std::to_string(kMaxChanges) + " or " +
                          std::to_string(kMaxChangeBytes) + " bytes");
            return false;
        }
    }
    if (p.code != reply::kReplaceBody) change_bytes_ += p.data.size();
    switch (p.code) {
        case reply::kAddHeader:
        case reply::kInsertHeader:
        case reply::kChangeHeader: {
            if (!need(p.code == reply::kChangeHeader ? action::kChangeHeaders : action::kAddHeaders)) return false;
            std::string_view d = p.data;
            HeaderChange h;
            h.kind = p.code == reply::kAddHeader ? HeaderChange::Kind::Add
                     : p.code == reply::kInsertHeader ? HeaderChange::Kind::Insert
                                                      : HeaderChange::Kind::Change;
            if (h.kind != HeaderChange::Kind::Add) {
                if (d.size() < 4) return fail_protocol("a truncated header change"), false;
                h.index = get_u32(d);
                d.remove_prefix(4);
            }
            auto parts = split_nul(d);
            if (!parts || parts->size() != 2 || !valid_field_name((*parts)[0]))
                return fail_protocol("a malformed header change"), false;
            h.name = std::move((*parts)[0]);
            h.value = std::move((*parts)[1]);
            if (h.kind != HeaderChange::Kind::Change && h.value.empty()) h.value = "";
            m.headers.push_back(std::move(h));
            return true;
        }
        case reply::kReplaceBody: {
            if (!need(action::kChangeBody)) return false;
            const std::uint64_t limit = facts_.max_message_size != 0 ? facts_.max_message_size : kDefaultBodyLimit;
            if (!m.body) m.body.emplace();
            if (m.body->size() + p.data.size() > limit)
                return fail_protocol("a replaced body over " + std::to_string(limit) + " bytes (MaxMessageSize)"), false;
            m.body->append(p.data);
            return true;
        }
        case reply::kAddRcpt:
        case reply::kAddRcptPar: {
            if (!need(p.code == reply::kAddRcpt ? action::kAddRcpt : action::kAddRcptPar)) return false;
            auto parts = split_nul(p.data);
            std::optional<std::string> a;
            if (parts && !parts->empty() && parts->size() <= 2) a = address_of((*parts)[0], false);
            if (!a) return fail_protocol("a malformed recipient to add"), false;
            m.add_recipients.push_back(std::move(*a));
            return true;
        }
        case reply::kDelRcpt: {
            if (!need(action::kDelRcpt)) return false;
            auto parts = split_nul(p.data);
            std::optional<std::string> a;
            if (parts && parts->size() == 1) a = address_of((*parts)[0], false);
            if (!a) return fail_protocol("a malformed recipient to remove"), false;
            m.remove_recipients.push_back(std::move(*a));
            return true;
        }
        case reply::kChangeFrom: {
            if (!need(action::kChangeFrom)) return false;
            auto parts = split_nul(p.data);
            std::optional<std::string> a;
            if (parts && !parts->empty() && parts->size() <= 2) a = address_of((*parts)[0], true);
            if (!a) return fail_protocol("a malformed sender"), false;
            m.sender = std::move(*a);
            return true;
        }
        case reply::kQuarantine: {
            if (!need(action::kQuarantine)) return false;
            auto parts = split_nul(p.data);
            if (!parts || parts->size() != 1) return fail_protocol("a malformed quarantine reason"), false;
            std::string reason;
            for (char c : (*parts)[0])
                if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f && reason.size() < 255) reason.push_back(c);
            outcome_.quarantine = reason.empty() ? "quarantined" : reason;
            return true;
        }
        default: return false;
    }
}

void Conversation::on_reply(const Packet& p) {
    if (done_ || !awaiting_) {
        if (!done_) fail_protocol("a reply when none was due");
        return;
    }
    if (step_ == Step::OptNeg) {
        std::string error;
        auto o = parse_optneg(p, offered_, error);
        if (!o) return fail_protocol(std::move(error));
        negotiated_ = *o;
        awaiting_ = false;
        advance();  // past OptNeg, to the first step the milter wants
        return;
    }
    const Stage stage = stage_of(step_);
    auto decided = [&](Verdict v) {
        outcome_.stage = stage;
        finish(v);
    };
    switch (p.code) {
        case reply::kProgress: return;  // still working: the driver restarts its timer
        case reply::kContinue:
            if (step_ == Step::EndOfBody) return decided(Verdict::Continue);
            awaiting_ = false;
            return advance();
        case reply::kAccept: return decided(Verdict::Accept);
        case reply::kDiscard: return decided(Verdict::Discard);
        case reply::kReject:
        case reply::kTempFail:
        case reply::kReplyCode: {
            bool temporary = p.code == reply::kTempFail;
            if (p.code == reply::kReplyCode) {
                auto parts = split_nul(p.data);
                std::optional<std::string> r;
                if (parts && parts->size() == 1) r = validate_reply_code((*parts)[0]);
                if (!r) return fail_protocol("a reply code that is not a 4xx or 5xx SMTP reply");
                outcome_.reply = *r;
                temporary = r->front() == '4';
            }
            if (step_ == Step::Rcpt) {
                (temporary ? outcome_.tempfailed_recipients : outcome_.rejected_recipients)
                    .push_back(facts_.recipients[index_]);
                awaiting_ = false;
                return advance();
            }
            return decided(temporary ? Verdict::TempFail : Verdict::Reject);
        }
        case reply::kSkip:
            // SMFIR_SKIP: no more body chunks (only ever an answer to one).
            if (step_ != Step::Body || !(negotiated_.protocol & proto::kSkip))
                return fail_protocol("SMFIR_SKIP where no body chunk was asked about");
            skip_body_ = true;
            awaiting_ = false;
            return advance();
        case reply::kAddHeader:
        case reply::kInsertHeader:
        case reply::kChangeHeader:
        case reply::kReplaceBody:
        case reply::kAddRcpt:
        case reply::kAddRcptPar:
        case reply::kDelRcpt:
        case reply::kChangeFrom:
        case reply::kQuarantine:
            if (step_ != Step::EndOfBody)
                return fail_protocol(std::string("a modification '") + p.code + "' before the end of the message");
            on_modification(p);
            return;
        case reply::kShutdown: return fail_protocol("the milter shut down (SMFIR_SHUTDOWN)");
        case reply::kConnFail: return fail_protocol("the milter failed the connection (SMFIR_CONN_FAIL)");
        default: {
            const auto c = static_cast<unsigned char>(p.code);
            std::string shown = c >= 0x20 && c < 0x7f ? std::string(1, p.code) : "0x" + text::hex(std::string(1, p.code));
            return fail_protocol("an unknown reply '" + shown + "'");
        }
    }
}

// ---- the message after modifications ------------------------------------------------

std::pair<std::vector<std::pair<std::string, std::string>>, std::string> split_message(std::string_view m) {
    std::vector<std::pair<std::string, std::string>> fields;
    std::size_t at = 0;
    while (at < m.size()) {
        auto lf = m.find('\n', at);
        const std::size_t end = lf == std::string_view::npos ? m.size() : lf + 1;
        std::string_view line = m.substr(at, end - at);
        std::string_view bare = line;
        if (!bare.empty() && bare.back() == '\n') bare.remove_suffix(1);
        if (!bare.empty() && bare.back() == '\r') bare.remove_suffix(1);
        if (bare.empty()) return {std::move(fields), std::string(m.substr(end))};
        if ((bare.front() == ' ' || bare.front() == '\t') && !fields.empty()) {
            // A continuation line: the previous field's value, folding kept.
            fields.back().second += "\r\n";
            fields.back().second += bare;
        } else if (auto colon = bare.find(':'); colon != std::string_view::npos && valid_field_name(bare.substr(0, colon))) {
            fields.emplace_back(std::string(bare.substr(0, colon)), std::string(bare.substr(colon + 1)));
        } else {
            // Not a field: kept as it is (an empty name: never told to a milter).
            fields.emplace_back(std::string(), std::string(bare));
        }
        at = end;
    }
    return {std::move(fields), std::string()};
}

std::string join_message(const std::vector<std::pair<std::string, std::string>>& fields, std::string_view body) {
    std::string out;
    for (const auto& [name, value] : fields) {
        if (!name.empty()) {
            out += name;
            out += ':';
        }
        out += value;
        out += "\r\n";
    }
    out += "\r\n";
    out += body;
    return out;
}

std::string raw_value_of(std::string_view v) {
    // RFC 5322 §2.2.3: a line break inside a field is followed by white space, or the
    // next line would become a field of its own (header injection).
    std::string out = " ";
    std::string lines = crlf_lines(v);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        out.push_back(lines[i]);
        if (lines[i] == '\n' && (i + 1 >= lines.size() || (lines[i + 1] != ' ' && lines[i + 1] != '\t'))) out.push_back('\t');
    }
    // A value ending in a line break would leave an empty line: the end of the header.
    while (out.size() > 1 && (out.back() == '\n' || out.back() == '\r' || out.back() == '\t')) out.pop_back();
    return out;
}

std::string unfolded_value(std::string_view raw) {
    std::string out;
    for (char c : raw)
        if (c != '\r' && c != '\n') out.push_back(c);
    return std::string(text::trim(out));
}

std::vector<std::pair<std::string, std::string>> apply_header_changes(std::vector<std::pair<std::string, std::string>> f,
                                                                      const std::vector<HeaderChange>& changes) {
    for (const auto& c : changes) {
        switch (c.kind) {
            case HeaderChange::Kind::Add: f.emplace_back(c.name, raw_value_of(c.value)); break;
            case HeaderChange::Kind::Insert: {
                const std::size_t at = std::min<std::size_t>(c.index, f.size());
                f.emplace(f.begin() + static_cast<std::ptrdiff_t>(at), c.name, raw_value_of(c.value));
                break;
            }
            case HeaderChange::Kind::Change: {
                // The index-th field of that name, from 1 (0 taken as 1, as Sendmail does).
                std::uint32_t n = 0;
                const std::uint32_t want = c.index == 0 ? 1 : c.index;
                auto it = std::find_if(f.begin(), f.end(), [&](const auto& field) {
                    return text::iequals(field.first, c.name) && ++n == want;
                });
                if (it == f.end()) {
                    if (!c.value.empty()) f.emplace_back(c.name, raw_value_of(c.value));
                } else if (c.value.empty()) {
                    f.erase(it);
                } else {
                    it->second = raw_value_of(c.value);
                }
                break;
            }
        }
    }
    return f;
}

}  // namespace edge::milter
