// The EdgeSync wire protocol (see sync_protocol.hpp): request lines, batch records
// and their digest.
#include "sync_protocol.hpp"

#include "text_helpers.hpp"

#include <openssl/evp.h>

#include <cctype>
#include <charconv>
#include <stdexcept>

namespace edge::edgesync {

namespace {

std::vector<std::string_view> words(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && line[i] == ' ') ++i;
        std::size_t start = i;
        while (i < line.size() && line[i] != ' ') ++i;
        if (i > start) out.push_back(line.substr(start, i - start));
    }
    return out;
}

template <class N>
std::optional<N> number(std::string_view w) {
    N v{};
    auto [p, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
    if (ec != std::errc() || p != w.data() + w.size()) return std::nullopt;
    return v;
}

bool printable(std::string_view s) {
    for (unsigned char c : s)
        if (c < 0x21 || c > 0x7e) return false;
    return !s.empty();
}

void free_ctx(evp_md_ctx_st* c) { EVP_MD_CTX_free(c); }

}  // namespace

std::string to_hex(std::string_view bytes) { return text::hex(bytes); }

std::string sha256_hex(std::string_view text) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr) != 1) throw std::runtime_error("SHA-256");
    return to_hex(std::string_view(reinterpret_cast<const char*>(md), len));
}

std::optional<std::string> from_hex(std::string_view hex) {
    if (hex.size() % 2 != 0) return std::nullopt;
    auto nibble = text::hex_digit_value;
    std::string out;
    out.reserve(hex.size() / 2);
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
    }
    return out;
}

std::variant<Request, std::string> parse_request(std::string_view line) {
    if (line.size() > kMaxLine) return std::string("line too long");
    auto w = words(line);
    if (w.empty()) return std::string("empty line");
    if (w[0] == "EDGESYNC") {
        if (w.size() < 3 || w[1] != kProtocolVersion) return std::string("expected EDGESYNC 1 ENROLL|HELLO");
        if (w[2] == "HELLO" && w.size() == 3) return Request{Hello{}};
        if (w[2] == "ENROLL" && w.size() == 4 && printable(w[3])) return Request{Enroll{std::string(w[3])}};
        return std::string("expected EDGESYNC 1 ENROLL <secret> or EDGESYNC 1 HELLO");
    }
    if (w[0] == "LEASE") {
        auto secs = w.size() == 4 ? number<std::uint32_t>(w[2]) : std::nullopt;
        if (!secs || *secs == 0 || *secs > 86400 || !printable(w[1]) || !printable(w[3]) || w[3].size() > 64)
            return std::string("expected LEASE <agent> <1..86400> <holder-id>");
        return Request{Lease{std::string(w[1]), *secs, std::string(w[3])}};
    }
    if (w[0] == "RELEASE" && w.size() == 1) return Request{Release{}};
    if (w[0] == "BATCH") {
        if (w.size() != 5) return std::string("expected BATCH CONFIG|RECIPIENTS FULL|DELTA <base> <count>");
        BatchStart b;
        if (w[1] == "CONFIG") b.kind = BatchKind::Config;
        else if (w[1] == "RECIPIENTS") b.kind = BatchKind::Recipients;
        else return std::string("unknown batch kind");
        if (w[2] == "FULL") b.mode = BatchMode::Full;
        else if (w[2] == "DELTA" && b.kind == BatchKind::Recipients) b.mode = BatchMode::Delta;
        else return std::string("a CONFIG batch is FULL; RECIPIENTS are FULL or DELTA");
        auto base = number<std::uint64_t>(w[3]);
        auto count = number<std::size_t>(w[4]);
        if (!base || !count || *count > kMaxRecords) return std::string("bad base version or record count");
        b.base_version = *base;
        b.count = *count;
        return Request{b};
    }
    if (w[0] == "STATUS" && w.size() == 1) return Request{Status{}};
    if (w[0] == "QUIT" && w.size() == 1) return Request{Quit{}};
    return std::string("unknown request");
}

std::string lease_refusal(std::string_view agent, std::int64_t seconds) {
    return "ERR 450 " + std::string(agent) + " holds the sync lease for " + std::to_string(seconds) + " more seconds";
}

std::optional<std::uint32_t> lease_wait_seconds(std::string_view reply) {
    auto w = words(reply);
    // ERR 450 <agent> holds the sync lease for <n> more seconds
    if (w.size() != 11 || w[0] != "ERR" || w[1] != "450" || w[3] != "holds" || w[7] != "for") return std::nullopt;
    return number<std::uint32_t>(w[8]);
}

std::optional<std::string> canonical_domain_type(std::string_view type) {
    for (std::string_view t : {"Authoritative", "InternalRelay", "ExternalRelay"}) {
        if (t.size() != type.size()) continue;
        bool same = true;
        for (std::size_t i = 0; i < t.size() && same; ++i)
            same = std::tolower(static_cast<unsigned char>(t[i])) == std::tolower(static_cast<unsigned char>(type[i]));
        if (same) return std::string(t);
    }
    return std::nullopt;
}

BatchReader::BatchReader(BatchStart start) : start_(start), digest_(EVP_MD_CTX_new(), free_ctx) {
    if (!digest_ || EVP_DigestInit_ex(digest_.get(), EVP_sha256(), nullptr) != 1) throw std::runtime_error("SHA-256");
}

std::optional<std::string> BatchReader::add_record(std::string_view line) {
    if (seen_ >= start_.count) return "more records than announced";
    if (line.size() > kMaxLine) return "record too long";
    ++seen_;
    EVP_DigestUpdate(digest_.get(), line.data(), line.size());
    EVP_DigestUpdate(digest_.get(), "\n", 1);
    auto w = words(line);
    if (w.empty()) return "empty record";
    if (start_.kind == BatchKind::Recipients) {
        if (w.size() != 2 || (w[0] != "+" && w[0] != "-")) return "expected '+ <hash>' or '- <hash>'";
        auto h = from_hex(w[1]);
        if (!h || h->size() != kHashBytes) return "a recipient hash is 64 hex digits";
        if (w[0] == "-" && start_.mode == BatchMode::Full) return "a FULL batch only adds";
        (w[0] == "+" ? recipients_.added : recipients_.removed).push_back(std::move(*h));
        return std::nullopt;
    }
    if (w[0] == "SITE" && w.size() == 2 && printable(w[1])) {
        if (!config_.site.empty()) return "SITE given twice";
        config_.site = std::string(w[1]);
        return std::nullopt;
    }
    if (w[0] == "HUB" && w.size() == 2 && printable(w[1])) {
        config_.hubs.emplace_back(w[1]);
        return std::nullopt;
    }
    if (w[0] == "DOMAIN" && (w.size() == 3 || (w.size() == 4 && w[3] == "default")) && printable(w[1])) {
        auto type = canonical_domain_type(w[2]);
        if (!type) return "a domain type is Authoritative, InternalRelay or ExternalRelay";
        config_.domains.push_back({std::string(w[1]), *type, w.size() == 4});
        return std::nullopt;
    }
    if (w[0] == "DOMAINS" && w.size() == 2 && w[1] == "none") {
        config_.no_domains = true;
        return std::nullopt;
    }
    return "expected SITE, HUB, DOMAIN or DOMAINS none";
}

std::optional<std::string> BatchReader::finish(std::string_view end_line) {
    if (!complete()) return "END before the announced records";
    auto w = words(end_line);
    if (w.size() != 2 || w[0] != "END") return "expected END <sha256>";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(digest_.get(), md, &len);
    if (to_hex(std::string_view(reinterpret_cast<const char*>(md), len)) != w[1]) return "the batch digest does not match";
    if (start_.kind == BatchKind::Config && config_.site.empty()) return "a CONFIG batch names its SITE";
    // Issue 15: an agent run without --accepted-domain sent no DOMAIN and the edge lost
    // every accepted domain (550 5.7.1 for all mail). Removing them all must be said.
    if (start_.kind == BatchKind::Config && config_.domains.empty() && !config_.no_domains)
        return "a CONFIG batch without accepted domains would remove every accepted domain of this edge; "
               "say so explicitly (edgesync --accepted-domain none)";
    if (start_.kind == BatchKind::Config && !config_.domains.empty() && config_.no_domains)
        return "a CONFIG batch has DOMAIN records or says DOMAINS none, not both";
    return std::nullopt;
}

namespace {
std::string batch(std::string_view header_kind, std::string_view mode, std::uint64_t base,
                  const std::vector<std::string>& records) {
    std::string body;
    for (const auto& r : records) body += r + "\n";
    return "BATCH " + std::string(header_kind) + " " + std::string(mode) + " " + std::to_string(base) + " " +
           std::to_string(records.size()) + "\n" + body + "END " + sha256_hex(body) + "\n";
}
}  // namespace

std::string write_config_batch(const ReplicatedConfig& c) {
    std::vector<std::string> records{"SITE " + c.site};
    for (const auto& h : c.hubs) records.push_back("HUB " + h);
    for (const auto& d : c.domains)
        records.push_back("DOMAIN " + d.domain_name + " " + d.domain_type + (d.default_domain ? " default" : ""));
    if (c.no_domains) records.push_back("DOMAINS none");
    return batch("CONFIG", "FULL", 0, records);
}

std::string write_recipient_batch(BatchMode mode, std::uint64_t base_version, const ReplicatedRecipients& r) {
    std::vector<std::string> records;
    records.reserve(r.added.size() + r.removed.size());
    for (const auto& h : r.added) records.push_back("+ " + to_hex(h));
    for (const auto& h : r.removed) records.push_back("- " + to_hex(h));
    return batch("RECIPIENTS", mode == BatchMode::Full ? "FULL" : "DELTA", base_version, records);
}

}  // namespace edge::edgesync
