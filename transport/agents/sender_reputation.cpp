// Sender reputation's pure core: the profile's stored form, HELO analysis and the
// SRL table (see the header, and transport/agents/README.md for the table).
#include "sender_reputation.hpp"

#include "text_helpers.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace edge::agents {

namespace {

constexpr std::uint32_t kBucketHours = 3;

std::uint32_t period_of(Seconds t) {
    const auto h = std::chrono::duration_cast<std::chrono::hours>(t.time_since_epoch()).count();
    return h < 0 ? 0 : static_cast<std::uint32_t>(h / kBucketHours) + 1;  // 0 stays "unused"
}

template <class T>
void saturating_add(T& v, T by = 1) {
    v = v > std::numeric_limits<T>::max() - by ? std::numeric_limits<T>::max() : static_cast<T>(v + by);
}

ReputationBucket& bucket_for(SenderProfile& p, Seconds now) {
    const std::uint32_t period = period_of(now);
    ReputationBucket& b = p.buckets[period % SenderProfile::kBuckets];
    if (b.period != period) b = ReputationBucket{period, 0, 0};
    return b;
}

template <class F>
std::uint32_t sum_last_day(const SenderProfile& p, Seconds now, F field) {
    const std::uint32_t period = period_of(now);
    std::uint32_t sum = 0;
    for (const auto& b : p.buckets)
        if (b.period != 0 && b.period <= period && period - b.period < SenderProfile::kBuckets) sum += field(b);
    return sum;
}

std::string cut(std::string_view s, std::size_t max) { return std::string(s.substr(0, std::min(s.size(), max))); }

// ---- the stored form ---------------------------------------------------------------

struct Writer {
    std::string out;
    void u8(std::uint8_t v) { out.push_back(static_cast<char>(v)); }
    void u16(std::uint16_t v) {
        u8(static_cast<std::uint8_t>(v >> 8));
        u8(static_cast<std::uint8_t>(v));
    }
    void u32(std::uint32_t v) {
        u16(static_cast<std::uint16_t>(v >> 16));
        u16(static_cast<std::uint16_t>(v));
    }
    void u64(std::uint64_t v) {
        u32(static_cast<std::uint32_t>(v >> 32));
        u32(static_cast<std::uint32_t>(v));
    }
    void time(Seconds t) { u64(static_cast<std::uint64_t>(std::max<std::int64_t>(0, t.time_since_epoch().count()))); }
    void str(std::string_view s) {
        u16(static_cast<std::uint16_t>(s.size()));
        out.append(s);
    }
};

struct Reader {
    std::string_view in;
    bool ok = true;
    std::string why;
    bool need(std::size_t n, const char* what) {
        if (ok && in.size() < n) {
            ok = false;
            why = std::string("truncated at ") + what;
        }
        return ok;
    }
    std::uint8_t u8(const char* what) {
        if (!need(1, what)) return 0;
        auto v = static_cast<std::uint8_t>(in[0]);
        in.remove_prefix(1);
        return v;
    }
    std::uint16_t u16(const char* what) { return static_cast<std::uint16_t>((u8(what) << 8) | u8(what)); }
    std::uint32_t u32(const char* what) {
        std::uint32_t hi = u16(what);
        return (hi << 16) | u16(what);
    }
    std::uint64_t u64(const char* what) {
        std::uint64_t hi = u32(what);
        return (hi << 32) | u32(what);
    }
    Seconds time(const char* what) {
        std::uint64_t v = u64(what);
        if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max() / 2)) fail(what);
        return Seconds(std::chrono::seconds(static_cast<std::int64_t>(v)));
    }
    std::string str(std::size_t max, const char* what) {
        std::size_t n = u16(what);
        if (n > max) fail(what);
        if (!need(n, what)) return {};
        std::string s(in.substr(0, n));
        in.remove_prefix(n);
        return s;
    }
    void fail(const char* what) {
        if (ok) why = std::string("out of range: ") + what;
        ok = false;
    }
};

bool is_address_char(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' || c == ':';
}

// The HELO argument as an address, if it is one: "[192.0.2.1]", "[IPv6:2001:db8::1]",
// or a bare address (RFC 5321 §4.1.3 wants brackets; bots often send it bare).
std::optional<routing::IpAddress> helo_literal(std::string_view helo, bool& looks_literal) {
    looks_literal = false;
    std::string_view s = helo;
    if (s.size() >= 2 && s.front() == '[' && s.back() == ']') {
        looks_literal = true;
        s = s.substr(1, s.size() - 2);
        if (s.size() > 5 && text::iequals(s.substr(0, 5), "IPv6:")) s.remove_prefix(5);
    } else if (s.empty() || !std::all_of(s.begin(), s.end(), is_address_char) ||
               s.find_first_of(".:") == std::string_view::npos) {
        return std::nullopt;
    }
    auto a = routing::IpAddress::parse(s);
    if (!a.value) return std::nullopt;
    looks_literal = true;
    return *a.value;
}

std::string_view parent_domain(std::string_view name) {
    auto last = name.rfind('.');
    if (last == std::string_view::npos || last == 0) return name;
    auto before = name.rfind('.', last - 1);
    return before == std::string_view::npos ? name : name.substr(before + 1);
}

std::uint64_t fnv1a(std::string_view s) {
    std::uint64_t h = 14695981039346656037ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

std::string normal_name(std::string_view s) {
    std::string n = text::to_lower(text::trim_space(s));
    while (!n.empty() && n.back() == '.') n.pop_back();
    return cut(n, SenderProfile::kMaxNameLength);
}

}  // namespace

const char* to_string(ReverseDnsFinding f) {
    switch (f) {
        case ReverseDnsFinding::NotChecked: return "NotChecked";
        case ReverseDnsFinding::Pass: return "Pass";
        case ReverseDnsFinding::Fail: return "Fail";
        case ReverseDnsFinding::NoPtr: return "NoPtr";
        case ReverseDnsFinding::TempError: return "TempError";
    }
    return "?";
}

std::uint32_t SenderProfile::messages_last_day(Seconds now) const {
    return sum_last_day(*this, now, [](const ReputationBucket& b) { return b.messages; });
}
std::uint32_t SenderProfile::rejections_last_day(Seconds now) const {
    return sum_last_day(*this, now, [](const ReputationBucket& b) { return b.rejections; });
}
void SenderProfile::count_message(Seconds now) {
    saturating_add(messages);
    saturating_add(bucket_for(*this, now).messages);
}
void SenderProfile::count_rejection(Seconds now) { saturating_add(bucket_for(*this, now).rejections); }
void SenderProfile::seen(Seconds now) {
    if (first_seen == Seconds{}) first_seen = now;
    last_seen = std::max(last_seen, now);
}

std::string encode(const SenderProfile& p) {
    Writer w;
    w.u8(kSenderProfileFormat);
    w.time(p.first_seen);
    w.time(p.last_seen);
    w.u32(p.messages);
    w.u32(p.helos);
    const std::size_t names = std::min(p.helo_names.size(), SenderProfile::kMaxHeloNames);
    w.u8(static_cast<std::uint8_t>(names));
    for (std::size_t i = 0; i < names; ++i) w.u64(p.helo_names[i]);
    w.u32(p.helo_literal_mismatch);
    w.u32(p.helo_claims_ours);
    w.u32(p.helo_ptr_mismatch);
    w.str(cut(p.last_helo, SenderProfile::kMaxNameLength));
    w.u8(static_cast<std::uint8_t>(p.reverse_dns));
    w.str(cut(p.ptr_name, SenderProfile::kMaxNameLength));
    w.time(p.reverse_dns_checked);
    for (const auto& b : p.buckets) {
        w.u32(b.period);
        w.u16(b.messages);
        w.u16(b.rejections);
    }
    w.u32(p.early_talker);
    w.u8(p.srl);
    w.time(p.blocked_until);
    w.str(cut(p.block_reason, SenderProfile::kMaxBlockReason));
    return std::move(w.out);
}

std::optional<SenderProfile> decode_sender_profile(std::string_view bytes, std::string* why) {
    Reader r{bytes, true, {}};
    SenderProfile p;
    const std::uint8_t format = r.u8("format");
    if (r.ok && format != kSenderProfileFormat) {
        if (why) *why = fmt::format("unknown sender profile format {}", format);
        return std::nullopt;
    }
    p.first_seen = r.time("first seen");
    p.last_seen = r.time("last seen");
    p.messages = r.u32("messages");
    p.helos = r.u32("helos");
    const std::uint8_t names = r.u8("HELO names");
    if (names > SenderProfile::kMaxHeloNames) r.fail("HELO names");
    for (std::uint8_t i = 0; r.ok && i < names; ++i) p.helo_names.push_back(r.u64("HELO name"));
    p.helo_literal_mismatch = r.u32("HELO literal mismatch");
    p.helo_claims_ours = r.u32("HELO claims ours");
    p.helo_ptr_mismatch = r.u32("HELO PTR mismatch");
    p.last_helo = r.str(SenderProfile::kMaxNameLength, "last HELO");
    const std::uint8_t rdns = r.u8("reverse DNS");
    if (rdns > static_cast<std::uint8_t>(ReverseDnsFinding::TempError)) r.fail("reverse DNS");
    p.reverse_dns = static_cast<ReverseDnsFinding>(rdns);
    p.ptr_name = r.str(SenderProfile::kMaxNameLength, "PTR name");
    p.reverse_dns_checked = r.time("reverse DNS checked");
    for (auto& b : p.buckets) {
        b.period = r.u32("bucket");
        b.messages = r.u16("bucket");
        b.rejections = r.u16("bucket");
    }
    p.early_talker = r.u32("early talker");
    p.srl = r.u8("SRL");
    if (p.srl > 9) r.fail("SRL");
    p.blocked_until = r.time("blocked until");
    p.block_reason = r.str(SenderProfile::kMaxBlockReason, "block reason");
    if (r.ok && !r.in.empty()) {
        r.ok = false;
        r.why = fmt::format("{} bytes after the record", r.in.size());
    }
    if (!r.ok) {
        if (why) *why = r.why;
        return std::nullopt;
    }
    return p;
}

std::string reputation_key(const routing::IpAddress& a) {
    if (a.is_v4()) {
        const auto& b = a.bytes();
        return std::string(reinterpret_cast<const char*>(b.data()) + 12, 4);
    }
    return std::string(reinterpret_cast<const char*>(a.bytes().data()), 16);
}

std::optional<routing::IpAddress> address_of_reputation_key(std::string_view key) {
    routing::IpAddress::Bytes b{};
    if (key.size() == 4) {
        b[10] = b[11] = 0xff;
        std::copy(key.begin(), key.end(), b.begin() + 12);
        return routing::IpAddress(b);
    }
    if (key.size() == 16) {
        std::copy(key.begin(), key.end(), b.begin());
        return routing::IpAddress(b);
    }
    return std::nullopt;
}

// ---- HELO analysis --------------------------------------------------------------------

bool helo_matches_ptr(std::string_view helo, std::string_view ptr_name) {
    const std::string h = normal_name(helo), p = normal_name(ptr_name);
    if (h.empty() || p.empty()) return false;
    return h == p || parent_domain(h) == parent_domain(p);
}

HeloFindings analyse_helo(std::string_view helo, const HeloContext& ctx) {
    HeloFindings f;
    const std::string_view trimmed = text::trim_space(helo);
    auto literal = helo_literal(trimmed, f.ip_literal);
    if (f.ip_literal) {
        f.name = cut(trimmed, SenderProfile::kMaxNameLength);
        auto client = routing::IpAddress::parse(ctx.client_ip);
        auto local = routing::IpAddress::parse(ctx.local_ip);
        // A literal that does not parse ("[999.1.1.1]") is not the client's either.
        f.literal_mismatch = !literal || !client.value || *literal != *client.value;
        f.claims_ours = literal && local.value && *literal == *local.value && !(client.value && *literal == *client.value);
    } else {
        f.name = normal_name(trimmed);
        const std::string ours = normal_name(ctx.server_fqdn);
        f.claims_ours = !f.name.empty() && ((!ours.empty() && f.name == ours) ||
                                            (ctx.is_accepted_domain && ctx.is_accepted_domain(f.name)));
        f.ptr_mismatch = !f.name.empty() && !ctx.ptr_name.empty() && !helo_matches_ptr(f.name, ctx.ptr_name);
    }
    f.hash = fnv1a(f.ip_literal ? text::to_lower(f.name) : f.name);
    return f;
}

void record_helo(SenderProfile& p, std::string_view helo_as_sent, const HeloFindings& f) {
    saturating_add(p.helos);
    if (f.literal_mismatch) saturating_add(p.helo_literal_mismatch);
    if (f.claims_ours) saturating_add(p.helo_claims_ours);
    if (f.ptr_mismatch) saturating_add(p.helo_ptr_mismatch);
    p.last_helo = cut(text::trim_space(helo_as_sent), SenderProfile::kMaxNameLength);
    // The set stops growing at its bound: "many distinct names" is all the SRL asks.
    if (std::find(p.helo_names.begin(), p.helo_names.end(), f.hash) == p.helo_names.end() &&
        p.helo_names.size() < SenderProfile::kMaxHeloNames)
        p.helo_names.push_back(f.hash);
}

// ---- the SRL ---------------------------------------------------------------------------

std::string SrlResult::why() const {
    if (factors.empty()) return level == 0 ? "no finding against this sender" : "";
    std::string out;
    for (const auto& f : factors) {
        if (!out.empty()) out += "; ";
        out += fmt::format("{} (+{})", f.why, f.points);
    }
    return out;
}

SrlResult sender_reputation_level(const SenderProfile& p, Seconds now) {
    SrlResult r;
    if (p.messages < kSrlMinimumMessages) {
        r.factors.push_back({"TooFewMessages", 0,
                             fmt::format("{} of the {} messages needed before a level is given", p.messages,
                                         kSrlMinimumMessages)});
        return r;
    }
    auto add = [&](std::string finding, int points, std::string why) {
        r.factors.push_back({std::move(finding), points, std::move(why)});
    };
    // HELO analysis.
    const std::size_t distinct = p.helo_names.size();
    if (distinct >= SenderProfile::kMaxHeloNames)
        add("ManyHeloNames", 2, fmt::format("{} or more distinct HELO names", SenderProfile::kMaxHeloNames));
    else if (distinct >= 3)
        add("SeveralHeloNames", 1, fmt::format("{} distinct HELO names", distinct));
    if (p.helos > 0 && p.helo_literal_mismatch * 2 >= p.helos)
        add("HeloIpLiteralMismatch", 3,
            fmt::format("{} of {} HELOs an IP literal that is not the client's address", p.helo_literal_mismatch, p.helos));
    else if (p.helo_literal_mismatch > 0)
        add("HeloIpLiteralMismatch", 1,
            fmt::format("{} of {} HELOs an IP literal that is not the client's address", p.helo_literal_mismatch, p.helos));
    if (p.helo_claims_ours > 0)
        add("HeloClaimsOurs", 3,
            fmt::format("{} HELOs named our accepted domain, our name or our address", p.helo_claims_ours));
    // Reverse DNS.
    switch (p.reverse_dns) {
        case ReverseDnsFinding::NoPtr: add("NoPtr", 3, "the address has no PTR record"); break;
        case ReverseDnsFinding::Fail:
            add("PtrNotConfirmed", 3, fmt::format("the PTR name {} does not resolve back to the address", p.ptr_name));
            break;
        default: break;
    }
    if (p.helos > 0 && !p.ptr_name.empty() && p.helo_ptr_mismatch * 2 >= p.helos && p.helo_ptr_mismatch > 0)
        add("HeloPtrMismatch", 1,
            fmt::format("{} of {} HELO names are not the PTR name {} nor in its domain", p.helo_ptr_mismatch, p.helos,
                        p.ptr_name));
    // Other agents' verdicts in the last day, as a share of what the sender tried.
    const std::uint32_t rejected = p.rejections_last_day(now);
    const std::uint32_t tried = p.messages_last_day(now) + rejected;
    if (rejected > 0 && tried > 0) {
        const double share = static_cast<double>(rejected) / tried;
        const int points = share >= 0.5 ? 3 : share >= 0.2 ? 2 : 1;
        add("RejectedByAgents", points,
            fmt::format("{} of its last day's {} messages and commands refused by other agents", rejected, tried));
    }
    if (p.early_talker > 0)
        add("EarlyTalker", 2, fmt::format("talked before the banner in {} sessions", p.early_talker));
    int level = 0;
    for (const auto& f : r.factors) level += f.points;
    r.level = std::clamp(level, 0, 9);
    return r;
}

}  // namespace edge::agents
