// DKIM's pure core (dkim_core.hpp): tag lists, canonicalisation, the hash inputs.
#include "dkim_core.hpp"

#include "dkim_openssl.hpp"

#include <algorithm>
#include <memory>
#include <unordered_map>

namespace edge::auth {

namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }
bool is_fws_char(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowered(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = lower(c);
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

// Where a field's name ends: its first ':', which must be on its first line (RFC 5322
// §2.2); npos for a line that is no field — its name is empty and no h= entry takes it.
std::size_t name_end(std::string_view field) {
    auto colon = field.find(':');
    auto eol = field.find("\r\n");
    return colon != std::string_view::npos && (eol == std::string_view::npos || colon < eol) ? colon
                                                                                             : std::string_view::npos;
}

// The name as written, WSP before the colon dropped (obsolete syntax, RFC 5322 §4.5).
std::string_view field_name(std::string_view field) {
    auto colon = name_end(field);
    auto name = colon == std::string_view::npos ? std::string_view() : field.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    return name;
}

std::string_view trim_fws(std::string_view s) {
    while (!s.empty() && is_fws_char(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_fws_char(s.back())) s.remove_suffix(1);
    return s;
}

std::string without_fws(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s)
        if (!is_fws_char(c)) out.push_back(c);
    return out;
}

// A colon-separated list (h=, and the key record's h=, s=, t=), entries FWS-trimmed
// and lower-cased; nullopt when an entry is empty.
std::optional<std::vector<std::string>> colon_list(std::string_view v) {
    std::vector<std::string> out;
    while (true) {
        auto colon = v.find(':');
        auto item = trim_fws(v.substr(0, colon));
        if (item.empty()) return std::nullopt;
        out.push_back(lowered(item));
        if (colon == std::string_view::npos) break;
        v.remove_prefix(colon + 1);
    }
    return out;
}

// 1*76DIGIT (RFC 6376 l=, t=, x=); values past 2^63 saturate (never a valid date or length).
std::optional<std::uint64_t> dkim_number(std::string_view v) {
    if (v.empty() || v.size() > 76) return std::nullopt;
    std::uint64_t n = 0;
    for (char c : v) {
        if (!is_digit(c)) return std::nullopt;
        if (n > (std::uint64_t{1} << 62)) continue;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return n;
}

constexpr std::string_view kBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

const DkimTag* DkimTagList::find(std::string_view name) const {
    for (const auto& t : tags)
        if (t.name == name) return &t;
    return nullptr;
}

DkimTagList parse_tag_list(std::string_view text, std::size_t max_tags) {
    DkimTagList out;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        auto semi = text.find(';', pos);
        std::size_t end = semi == std::string_view::npos ? text.size() : semi;
        auto spec = text.substr(pos, end - pos);
        auto eq = spec.find('=');
        if (eq == std::string_view::npos) {
            if (!trim_fws(spec).empty()) {
                out.error = "a tag without '='";
                return out;
            }
        } else {
            auto name = trim_fws(spec.substr(0, eq));
            if (name.empty() || !is_alpha(name.front()) ||
                !std::all_of(name.begin(), name.end(), [](char c) { return is_alpha(c) || is_digit(c) || c == '_'; })) {
                out.error = "a malformed tag name";
                return out;
            }
            auto raw = spec.substr(eq + 1);
            // VALCHAR is %x21-3A / %x3C-7E, with FWS between.
            for (char c : raw)
                if (!is_fws_char(c) && (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e)) {
                    out.error = "a tag value with a character outside VALCHAR";
                    return out;
                }
            if (out.find(name) != nullptr) {
                out.error = "tag " + std::string(name) + "= appears twice";
                return out;
            }
            if (out.tags.size() == max_tags) {
                out.error = "too many tags";
                return out;
            }
            out.tags.push_back({name, trim_fws(raw), pos + eq + 1, end});
        }
        if (semi == std::string_view::npos) break;
        pos = semi + 1;
    }
    return out;
}

std::optional<std::string> dkim_base64_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size() * 3 / 4);
    std::uint32_t acc = 0;
    int bits = 0;
    std::size_t padding = 0;
    std::size_t symbols = 0;
    for (char c : text) {
        if (is_fws_char(c)) continue;
        if (c == '=') {
            ++padding;
            continue;
        }
        if (padding > 0) return std::nullopt;  // data after '='
        auto k = kBase64.find(c);
        if (k == std::string_view::npos) return std::nullopt;
        ++symbols;
        acc = (acc << 6) | static_cast<std::uint32_t>(k);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xff));
        }
    }
    if (padding > 2 || (symbols + padding) % 4 == 1 || (padding > 0 && (symbols + padding) % 4 != 0)) return std::nullopt;
    return out;
}

std::string dkim_base64_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    auto at = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k])); };
    for (; i + 2 < bytes.size(); i += 3) {
        std::uint32_t v = at(i) << 16 | at(i + 1) << 8 | at(i + 2);
        for (int s = 18; s >= 0; s -= 6) out.push_back(kBase64[(v >> s) & 63]);
    }
    if (i + 1 == bytes.size()) {
        std::uint32_t v = at(i) << 16;
        out += {kBase64[(v >> 18) & 63], kBase64[(v >> 12) & 63], '=', '='};
    } else if (i + 2 == bytes.size()) {
        std::uint32_t v = at(i) << 16 | at(i + 1) << 8;
        out += {kBase64[(v >> 18) & 63], kBase64[(v >> 12) & 63], kBase64[(v >> 6) & 63], '='};
    }
    return out;
}

std::string_view to_string(DkimAlgorithm a) {
    switch (a) {
        case DkimAlgorithm::RsaSha256: return "rsa-sha256";
        case DkimAlgorithm::RsaSha1: return "rsa-sha1";
        case DkimAlgorithm::Ed25519Sha256: return "ed25519-sha256";
        case DkimAlgorithm::Unknown: break;
    }
    return "unknown";
}

std::string_view to_string(DkimCanonicalization c) { return c == DkimCanonicalization::Simple ? "simple" : "relaxed"; }

DkimHeader split_header(const std::vector<std::string>& chunks) {
    DkimHeader out;
    out.body_chunk = chunks.size();
    // The last three octets seen, starting as a virtual CRLF so that a message opening
    // with CRLF has an empty header. The blank line may straddle chunks.
    std::string tail = "\r\n";
    for (std::size_t k = 0; k < chunks.size(); ++k) {
        std::string_view c = chunks[k];
        std::string window = tail + std::string(c.substr(0, 3));
        auto p = window.find("\r\n\r\n");
        std::size_t end = std::string_view::npos;  // where the body starts in c
        if (p != std::string::npos && p < tail.size()) end = p + 4 - tail.size();
        else if (auto q = c.find("\r\n\r\n"); q != std::string_view::npos) end = q + 4;
        if (end != std::string_view::npos) {
            // The header keeps its last field's CRLF, not the blank line's.
            if (end >= 2) out.text.append(c.substr(0, end - 2));
            else out.text.resize(out.text.size() - (2 - end));
            out.body_chunk = k;
            out.body_offset = end;
            break;
        }
        out.text.append(c);
        tail = (tail + std::string(c.substr(c.size() > 3 ? c.size() - 3 : 0)));
        tail = tail.substr(tail.size() > 3 ? tail.size() - 3 : 0);
    }
    // Fields: a line that does not start with WSP begins one; continuation lines fold
    // into it (RFC 5322 §2.2.3).
    std::string_view t = out.text;
    std::size_t pos = 0;
    while (pos < t.size()) {
        std::size_t start = pos;
        do {
            auto eol = t.find("\r\n", pos);
            pos = eol == std::string_view::npos ? t.size() : eol + 2;
        } while (pos < t.size() && is_wsp(t[pos]));
        out.spans.push_back({start, pos - start});
        out.names.push_back(lowered(field_name(t.substr(start, pos - start))));
    }
    return out;
}

namespace {

// A DKIM-Signature field's tags, checked (RFC 6376 §3.5, §6.1.1).
void read_signature_tags(DkimSignature& sig) {
    auto colon = sig.field.find(':');
    auto tags = parse_tag_list(std::string_view(sig.field).substr(colon + 1));
    if (!tags.error.empty()) {
        sig.error = "signature tag list: " + tags.error;
        return;
    }
    auto get = [&](std::string_view n) -> std::optional<std::string_view> {
        if (auto* t = tags.find(n)) return t->value;
        return std::nullopt;
    };
    // What a verdict reports, read before anything can fail.
    if (auto d = get("d")) sig.d = std::string(*d);
    if (auto s = get("s")) sig.s = std::string(*s);
    if (auto a = get("a")) sig.a = std::string(*a);
    if (auto b = get("b")) sig.b_text = without_fws(*b);
    sig.i = get("i") ? std::string(*get("i")) : "@" + sig.d;
    for (std::string_view required : {"v", "a", "b", "bh", "d", "h", "s"})
        if (!get(required)) {
            sig.error = "missing required tag " + std::string(required) + "=";
            return;
        }
    if (*get("v") != "1") {
        sig.error = "unknown version v=" + std::string(*get("v"));
        return;
    }
    auto a = lowered(sig.a);
    sig.algorithm = a == "rsa-sha256"       ? DkimAlgorithm::RsaSha256
                    : a == "rsa-sha1"       ? DkimAlgorithm::RsaSha1
                    : a == "ed25519-sha256" ? DkimAlgorithm::Ed25519Sha256
                                            : DkimAlgorithm::Unknown;
    if (sig.algorithm == DkimAlgorithm::Unknown) {
        sig.error = "unknown algorithm a=" + sig.a;
        return;
    }
    auto b = dkim_base64_decode(*get("b"));
    auto bh = dkim_base64_decode(*get("bh"));
    if (!b || b->empty() || !bh || bh->empty()) {
        sig.error = "b= or bh= is not base64";
        return;
    }
    sig.b = std::move(*b);
    sig.bh = std::move(*bh);
    if (auto c = get("c")) {
        auto slash = c->find('/');
        auto read = [](std::string_view v) -> std::optional<DkimCanonicalization> {
            if (iequals(v, "simple")) return DkimCanonicalization::Simple;
            if (iequals(v, "relaxed")) return DkimCanonicalization::Relaxed;
            return std::nullopt;
        };
        auto hc = read(c->substr(0, slash));
        auto bc = slash == std::string_view::npos ? std::optional(DkimCanonicalization::Simple) : read(c->substr(slash + 1));
        if (!hc || !bc) {
            sig.error = "unknown canonicalization c=" + std::string(*c);
            return;
        }
        sig.header_canon = *hc;
        sig.body_canon = *bc;
    }
    auto h = colon_list(*get("h"));
    if (!h) {
        sig.error = "h= has an empty entry";
        return;
    }
    sig.h = std::move(*h);
    // RFC 6376 §6.1.1: the From field MUST be signed.
    if (std::find(sig.h.begin(), sig.h.end(), "from") == sig.h.end()) {
        sig.error = "From is not in h=";
        return;
    }
    if (sig.d.empty() || sig.s.empty()) {
        sig.error = "empty d= or s=";
        return;
    }
    // §3.5 i=: its domain is d= or a subdomain of it.
    auto at = sig.i.rfind('@');
    if (at == std::string::npos) {
        sig.error = "i= has no '@'";
        return;
    }
    std::string_view idomain = std::string_view(sig.i).substr(at + 1);
    if (!iequals(idomain, sig.d) &&
        !(idomain.size() > sig.d.size() && idomain[idomain.size() - sig.d.size() - 1] == '.' &&
          iequals(idomain.substr(idomain.size() - sig.d.size()), sig.d))) {
        sig.error = "i= is not in d=";
        return;
    }
    if (auto q = get("q")) {
        auto methods = colon_list(*q);
        if (!methods || std::find(methods->begin(), methods->end(), "dns/txt") == methods->end()) {
            sig.error = "q= names no method we know (dns/txt)";
            return;
        }
    }
    for (auto [tag, into] : {std::pair{"l", 0}, std::pair{"t", 1}, std::pair{"x", 2}}) {
        auto v = get(tag);
        if (!v) continue;
        auto n = dkim_number(*v);
        if (!n) {
            sig.error = std::string(tag) + "= is not a number";
            return;
        }
        if (into == 0) sig.l = *n;
        else if (into == 1) sig.t = static_cast<std::int64_t>(*n);
        else sig.x = static_cast<std::int64_t>(*n);
    }
    // §3.5 x=: MUST be greater than t=.
    if (sig.t && sig.x && *sig.x < *sig.t) sig.error = "x= is before t=";
}

}  // namespace

std::vector<DkimSignature> find_signatures(const std::vector<std::string>& chunks, std::size_t max_signatures) {
    auto header = split_header(chunks);
    std::vector<DkimSignature> out;
    std::size_t past_limit = 0;
    for (std::size_t k = 0; k < header.spans.size(); ++k) {
        if (header.names[k] != "dkim-signature") continue;
        if (out.size() == max_signatures) {
            ++past_limit;
            continue;
        }
        DkimSignature sig;
        auto f = header.field(k);
        if (f.ends_with("\r\n")) f.remove_suffix(2);
        sig.field = std::string(f);
        read_signature_tags(sig);
        out.push_back(std::move(sig));
    }
    if (past_limit > 0) {
        DkimSignature placeholder;
        placeholder.not_checked = past_limit;
        out.push_back(std::move(placeholder));
    }
    return out;
}

namespace {

void read_key_record(std::string_view txt, DkimKeyRecord& key) {
    auto tags = parse_tag_list(txt);
    if (!tags.error.empty()) {
        key.error = "key record: " + tags.error;
        return;
    }
    // §3.6.1 v=: when present, first and exactly DKIM1.
    if (auto* v = tags.find("v"); v && (v != &tags.tags.front() || v->value != "DKIM1")) {
        key.error = "key record: v= is not DKIM1 first";
        return;
    }
    auto* p = tags.find("p");
    if (!p) {
        key.error = "key record: no p=";
        return;
    }
    auto decoded = dkim_base64_decode(p->value);
    if (!decoded) {
        key.error = "key record: p= is not base64";
        return;
    }
    key.p = std::move(*decoded);
    if (auto* k = tags.find("k")) key.k = lowered(k->value);
    for (auto [name, into] : {std::pair{"h", &key.h}, std::pair{"s", &key.s}}) {
        if (auto* t = tags.find(name)) {
            auto list = colon_list(t->value);
            if (!list) {
                key.error = "key record: " + std::string(name) + "= has an empty entry";
                return;
            }
            *into = std::move(*list);
        }
    }
    if (auto* t = tags.find("t")) {
        // Unknown flags are ignored (§3.6.1).
        if (auto flags = colon_list(t->value)) {
            key.testing = std::find(flags->begin(), flags->end(), "y") != flags->end();
            key.strict_identity = std::find(flags->begin(), flags->end(), "s") != flags->end();
        }
    }
}

}  // namespace

DkimKeyRecord parse_key_record(std::string_view txt) {
    DkimKeyRecord key;
    read_key_record(txt, key);
    // An unusable record carries no key.
    if (key.error.empty()) return key;
    DkimKeyRecord unusable;
    unusable.error = std::move(key.error);
    return unusable;
}

std::string canonicalize_header(std::string_view field, DkimCanonicalization c) {
    if (c == DkimCanonicalization::Simple) return std::string(field);
    auto colon = name_end(field);
    std::string out = lowered(field_name(field));
    out.push_back(':');
    // §3.4.2: unfold, squeeze WSP runs to one SP, drop WSP at both ends of the value.
    bool wsp = false;
    bool started = false;
    for (char ch : field.substr(colon == std::string_view::npos ? 0 : colon + 1)) {
        if (ch == '\r' || ch == '\n') continue;
        if (is_wsp(ch)) {
            wsp = true;
            continue;
        }
        if (wsp && started) out.push_back(' ');
        wsp = false;
        started = true;
        out.push_back(ch);
    }
    return out + "\r\n";
}

void DkimBodyCanonicalizer::put(std::string_view s) {
    for (char c : s) {
        if (used_ == sizeof buf_) flush();
        buf_[used_++] = c;
    }
    wrote_anything_ = true;
}

void DkimBodyCanonicalizer::flush() {
    if (used_ > 0) sink_(ctx_, std::string_view(buf_, used_));
    used_ = 0;
}

void DkimBodyCanonicalizer::content(char c) {
    // Empty lines held back are not at the end after all.
    for (; pending_empty_lines_ > 0; --pending_empty_lines_) put("\r\n");
    if (pending_wsp_) put(" ");
    pending_wsp_ = false;
    put(std::string_view(&c, 1));
    line_has_content_ = true;
}

void DkimBodyCanonicalizer::end_of_line() {
    pending_wsp_ = false;  // relaxed: WSP at the end of a line goes
    if (line_has_content_) put("\r\n");
    else ++pending_empty_lines_;
    line_has_content_ = false;
}

void DkimBodyCanonicalizer::feed(std::string_view piece) {
    const bool relaxed = canon_ == DkimCanonicalization::Relaxed;
    for (char c : piece) {
        if (pending_cr_) {
            pending_cr_ = false;
            if (c == '\n') {
                end_of_line();
                continue;
            }
            content('\r');  // a bare CR is content
        }
        if (c == '\r') pending_cr_ = true;
        else if (relaxed && is_wsp(c)) pending_wsp_ = true;
        else content(c);
    }
}

void DkimBodyCanonicalizer::finish() {
    if (pending_cr_) content('\r');
    pending_cr_ = false;
    // A last line without CRLF gets one (§3.4.3, §3.4.4); trailing empty lines go.
    if (line_has_content_) end_of_line();
    // §3.4.3: the simple canonical form of an empty body is one CRLF; relaxed's is empty.
    if (canon_ == DkimCanonicalization::Simple && !wrote_anything_) put("\r\n");
    flush();
}

DkimBodyHash dkim_body_hash(const std::vector<std::string>& chunks, DkimCanonicalization c, std::optional<std::uint64_t> l,
                            DkimAlgorithm a) {
    return dkim_body_hash(split_header(chunks), chunks, c, l, a);
}

DkimBodyHash dkim_body_hash(const DkimHeader& header, const std::vector<std::string>& chunks, DkimCanonicalization c,
                            std::optional<std::uint64_t> l, DkimAlgorithm a) {
    detail::MdCtxPtr md(EVP_MD_CTX_new());
    EVP_DigestInit_ex(md.get(), a == DkimAlgorithm::RsaSha1 ? detail::sha1_md() : detail::sha256_md(), nullptr);
    struct State {
        EVP_MD_CTX* md;
        std::optional<std::uint64_t> l;
        std::uint64_t length = 0;
    } state{md.get(), l};
    DkimBodyCanonicalizer canon(
        c,
        [](void* ctx, std::string_view out) {
            auto* s = static_cast<State*>(ctx);
            std::uint64_t take = out.size();
            if (s->l) take = std::min<std::uint64_t>(take, *s->l > s->length ? *s->l - s->length : 0);
            if (take > 0) EVP_DigestUpdate(s->md, out.data(), take);
            s->length += out.size();
        },
        &state);
    for (std::size_t k = header.body_chunk; k < chunks.size(); ++k)
        canon.feed(std::string_view(chunks[k]).substr(k == header.body_chunk ? header.body_offset : 0));
    canon.finish();
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(md.get(), digest, &n);
    DkimBodyHash out;
    out.digest.assign(reinterpret_cast<const char*>(digest), n);
    out.canonical_length = state.length;
    out.shorter_than_l = l && state.length < *l;
    return out;
}

std::string dkim_header_hash_input(const DkimHeader& header, const std::vector<std::string>& h,
                                   std::string_view signature_field, DkimCanonicalization c) {
    // §5.4.2: each name in h= takes the last instance not yet taken, bottom up.
    std::unordered_map<std::string_view, std::vector<std::size_t>> instances;
    for (std::size_t k = 0; k < header.names.size(); ++k) instances[header.names[k]].push_back(k);
    std::string out;
    for (const auto& name : h) {
        auto it = instances.find(name);
        if (it == instances.end() || it->second.empty()) continue;  // nonexistent: the null string
        out += canonicalize_header(header.field(it->second.back()), c);
        it->second.pop_back();
    }
    // §3.7: the signature's own field last, b= emptied (its FWS too), no trailing CRLF.
    std::string own(signature_field);
    auto colon = own.find(':');
    if (colon != std::string::npos) {
        auto tags = parse_tag_list(std::string_view(own).substr(colon + 1));
        if (auto* b = tags.find("b"); b && tags.error.empty())
            own.erase(colon + 1 + b->value_begin, b->value_end - b->value_begin);
    }
    auto canonical = canonicalize_header(own + "\r\n", c);
    canonical.resize(canonical.size() - 2);
    return out + canonical;
}

}  // namespace edge::auth
