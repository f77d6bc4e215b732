// The IP Block / Allow List providers' rules: query names, which answers are listings,
// and how the providers' answers combine. Pure (see ip_provider_match.hpp).
#include "ip_provider_match.hpp"

#include "dns_resolver.hpp"
#include "text_helpers.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace edge::agents {

namespace {

namespace ip = boost::asio::ip;

std::optional<std::uint32_t> v4_value(std::string_view text) {
    boost::system::error_code ec;
    auto a = ip::make_address_v4(std::string(text), ec);
    if (ec) return std::nullopt;
    return a.to_uint();
}

std::string domain_form(std::string_view d) {
    std::string s = text::to_lower(d);
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
}

template <class S>
IpListProvider common_provider(const S& s) {
    IpListProvider p;
    p.name = s.name;
    p.lookup_domain = domain_form(s.lookup_domain);
    p.any_match = s.any_match;
    // The table and validate_object checked both (127.0.0.0/8 IPv4); what does not read
    // is left out rather than guessed.
    if (!s.bitmask_match.empty()) p.bitmask = v4_value(s.bitmask_match);
    for (const auto& a : s.ip_addresses_match)
        if (auto v = v4_value(a)) p.addresses_match.push_back(*v);
    p.priority = s.priority;
    return p;
}

constexpr std::uint32_t kLoopbackNet = 0x7f000000;     // 127.0.0.0/8
constexpr std::uint32_t kListErrorNet = 0x7fffff00;    // 127.255.255.0/24: list errors (Spamhaus)
constexpr std::uint32_t kLow24 = 0x00ffffff;

std::string joined(const std::vector<std::string>& items) { return fmt::format("{}", fmt::join(items, ", ")); }

}  // namespace

IpListProvider block_list_provider(const config::IPBlockListProviderSettings& s) {
    IpListProvider p = common_provider(s);
    p.weight = s.weight;
    p.rejection_response = s.rejection_response.empty() ? std::string(kDefaultProviderRejectionResponse) : s.rejection_response;
    return p;
}

IpListProvider allow_list_provider(const config::IPAllowListProviderSettings& s) { return common_provider(s); }

ip::address listed_form(const ip::address& client) {
    if (client.is_v6() && client.to_v6().is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, client.to_v6());
    return client;
}

std::string provider_query_name(const ip::address& client, std::string_view lookup_domain) {
    return dns::reverse_name(listed_form(client)) + "." + domain_form(lookup_domain);
}

AnswerMatch match_answers(const IpListProvider& p, const std::vector<ip::address>& answers) {
    AnswerMatch m;
    const bool any = p.any_match || (!p.bitmask && p.addresses_match.empty());
    for (const auto& a : answers) {
        const std::uint32_t v = a.is_v4() ? a.to_v4().to_uint() : 0;
        if (!a.is_v4() || (v & ~kLow24) != kLoopbackNet || (v & 0xffffff00) == kListErrorNet) {
            m.not_listings.push_back(a.to_string());
            continue;
        }
        const bool hit = any || (p.bitmask && (v & *p.bitmask & kLow24) != 0) ||
                         std::find(p.addresses_match.begin(), p.addresses_match.end(), v) != p.addresses_match.end();
        if (hit) m.matched.push_back(a.to_string());
    }
    return m;
}

ProviderDecision decide(const IpProviderSet& set, const std::vector<ProviderReply>& allow_replies,
                        const std::vector<ProviderReply>& block_replies) {
    ProviderDecision d;
    using Status = ProviderReply::Status;
    // Each provider's listings, its failure or its answers that are no listings noted.
    auto judge = [&d](const IpListProvider& p, const ProviderReply* r) -> AnswerMatch {
        if (r == nullptr) {
            d.failures.push_back(fmt::format("{}: not asked", p.lookup_domain));
            return {};
        }
        if (r->status == Status::Failed) {
            d.failures.push_back(fmt::format("{}: {}", p.lookup_domain, r->error));
            return {};
        }
        if (r->status == Status::NotListed) return {};
        AnswerMatch m = match_answers(p, r->addresses);
        if (!m.not_listings.empty())
            d.failures.push_back(fmt::format("{}: answered {}, not a listing (an error code of the list, or a "
                                             "wildcard of a lapsed domain); ignored",
                                             p.lookup_domain, joined(m.not_listings)));
        return m;
    };

    // An allow-list hit wins over every block list (Exchange: it bypasses them), the
    // first by priority names it.
    for (std::size_t i = 0; i < set.allow.size(); ++i) {
        AnswerMatch m = judge(set.allow[i], i < allow_replies.size() ? &allow_replies[i] : nullptr);
        if (m.listed() && d.kind != ProviderDecision::Kind::AllowListed) {
            d.kind = ProviderDecision::Kind::AllowListed;
            d.provider = set.allow[i].name;
            d.reason_data = fmt::format("{} ({})", set.allow[i].lookup_domain, joined(m.matched));
        }
    }

    std::uint64_t score = 0;
    const IpListProvider* first = nullptr;
    std::vector<std::string> named;
    for (std::size_t i = 0; i < set.block.size(); ++i) {
        const auto& p = set.block[i];
        AnswerMatch m = judge(p, i < block_replies.size() ? &block_replies[i] : nullptr);
        if (!m.listed()) continue;
        score += p.weight;
        if (first == nullptr) first = &p;
        named.push_back(fmt::format("{} ({}, weight {})", p.lookup_domain, joined(m.matched), p.weight));
    }
    if (d.kind == ProviderDecision::Kind::AllowListed) return d;
    if (first == nullptr) return d;
    d.reason_data = fmt::format("{}; score {}, threshold {}", fmt::join(named, "; "), score, set.threshold);
    if (score >= set.threshold) {
        d.kind = ProviderDecision::Kind::Blocked;
        d.provider = first->name;
        d.rejection_response = first->rejection_response;
    }
    return d;
}

}  // namespace edge::agents
