// check_host() of RFC 7208 §4: find the domain's one SPF record, walk its directives
// left to right asking DNS through SpfDns, within the limits of §4.6.4, and say the
// first match's qualifier (or what redirect= says, or Neutral).
#include "spf.hpp"

#include "spf_record.hpp"
#include "text_helpers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <optional>

// GCC 12 sees Asio's awaitable frame allocated with aligned_alloc and freed by the
// frame's operator delete when a coroutine awaits one of another result type, and calls
// it a mismatch (GCC PR 109224, a false positive fixed in GCC 14; ASan checks the real
// pairing at run time). As in server/message_acceptance.cpp.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 14
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace edge::auth {

namespace {

using spf::Directive;
using spf::MacroContext;
using spf::MacroUse;
using spf::MechanismKind;

// RFC 7208 §4.6.4.
constexpr int kMaxDnsTerms = 10;     // include, a, mx, ptr, exists, redirect
constexpr int kMaxVoidLookups = 2;   // answers with no records (NXDOMAIN or NODATA)
constexpr std::size_t kMaxMxNames = 10;
constexpr std::size_t kMaxPtrNames = 10;

// GCC 12 destroys a temporary that has a destructor inside a co_await expression at the
// wrong time (see dns_resolver.cpp): every co_await here awaits a named awaitable.

// §4.3: a multi-label domain name with no empty label and none over 63 octets, at most
// 253 in all; a trailing dot is allowed. Address literals are not domains.
bool is_domain_name(std::string_view d) {
    if (!d.empty() && d.back() == '.') d.remove_suffix(1);
    if (d.empty() || d.size() > 253 || d.front() == '[') return false;
    std::size_t label = 0, labels = 1;
    for (char c : d) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
            ++labels;
        } else if (++label > 63 || static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
            return false;
        }
    }
    return label > 0 && labels >= 2;
}

// `name` is `domain` or below it (§5.5), any case, trailing dots aside.
bool is_at_or_below(std::string_view name, std::string_view domain) {
    auto trim = [](std::string_view s) { return (!s.empty() && s.back() == '.') ? s.substr(0, s.size() - 1) : s; };
    const std::string n = text::to_lower(trim(name)), d = text::to_lower(trim(domain));
    return n == d || (n.size() > d.size() && n.ends_with(d) && n[n.size() - d.size() - 1] == '.');
}

bool in_network(const asio::ip::address& client, const asio::ip::address& network, int prefix) {
    if (client.is_v4() != network.is_v4()) return false;
    if (client.is_v4()) {
        if (prefix == 0) return true;
        const std::uint32_t mask = prefix >= 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);
        return (client.to_v4().to_uint() & mask) == (network.to_v4().to_uint() & mask);
    }
    const auto a = client.to_v6().to_bytes(), b = network.to_v6().to_bytes();
    int bits = prefix;
    for (std::size_t i = 0; i < a.size() && bits > 0; ++i, bits -= 8) {
        const auto mask = static_cast<unsigned char>(bits >= 8 ? 0xff : 0xff << (8 - bits));
        if ((a[i] & mask) != (b[i] & mask)) return false;
    }
    return true;
}

// How one mechanism came out: matched or not, or the evaluation ends with an error.
struct Match {
    enum class Kind { No, Yes, TempError, PermError } kind = Kind::No;
    std::string problem;
};
Match no() { return {}; }
Match yes() { return {Match::Kind::Yes, {}}; }
Match temp_error(std::string why) { return {Match::Kind::TempError, std::move(why)}; }
Match perm_error(std::string why) { return {Match::Kind::PermError, std::move(why)}; }

SpfOutcome ended(Result r, std::string domain, std::string problem) {
    SpfOutcome o;
    o.result = r;
    o.domain = std::move(domain);
    o.problem = std::move(problem);
    return o;
}

// One check_host() evaluation and what its limits have used so far: include and
// redirect recurse into the same Evaluation, so the limits count the whole tree.
class Evaluation {
public:
    Evaluation(SpfDns& dns, const SpfRequest& request) : dns_(dns) {
        client_ = spf::effective_client(request.client);
        base_.client = request.client;
        base_.helo = request.helo;
        base_.receiver = request.receiver_fqdn;
        base_.timestamp = static_cast<std::uint64_t>(std::time(nullptr));
        const auto at = request.sender.rfind('@');
        // §4.3: no local-part (or no '@' at all) is "postmaster".
        base_.local_part = at == std::string::npos ? std::string() : request.sender.substr(0, at);
        base_.sender_domain = at == std::string::npos ? request.sender : request.sender.substr(at + 1);
        if (base_.local_part.empty()) base_.local_part = "postmaster";
        base_.sender = base_.local_part + "@" + base_.sender_domain;
    }

    const std::string& sender_domain() const { return base_.sender_domain; }

    // check_host(<ip>, <domain>, <sender>); `explain` is false inside include (§6.2).
    asio::awaitable<SpfOutcome> check(std::string domain, bool explain) {
        if (!is_domain_name(domain)) co_return ended(Result::None, domain, fmt::format("\"{}\" is not a domain name", domain));
        auto ask = dns_.txt(domain);
        SpfTexts texts = co_await std::move(ask);
        if (texts.status == SpfDnsStatus::TempError) co_return ended(Result::TempError, domain, texts.error);
        std::vector<std::string_view> records;
        for (const auto& t : texts.records)
            if (spf::is_spf_record(t)) records.push_back(t);
        if (records.empty()) co_return ended(Result::None, domain, fmt::format("{} publishes no SPF record", domain));
        if (records.size() > 1) co_return ended(Result::PermError, domain, fmt::format("{} publishes more than one SPF record", domain));
        spf::ParsedRecord parsed = spf::parse_record(records.front());
        if (!parsed.record)
            co_return ended(Result::PermError, domain, fmt::format("the SPF record of {} has {}", domain, parsed.problem));
        const spf::Record& record = *parsed.record;

        MacroContext context = base_;
        context.domain = domain;
        for (const Directive& d : record.directives) {
            const bool asks_dns = d.kind != MechanismKind::All && d.kind != MechanismKind::Ip4 && d.kind != MechanismKind::Ip6;
            if (asks_dns && ++dns_terms_ > kMaxDnsTerms)
                co_return ended(Result::PermError, domain, fmt::format("more than {} DNS lookups (at \"{}\")", kMaxDnsTerms, d.text));
            auto test = matches(d, context);
            Match m = co_await std::move(test);
            if (m.kind == Match::Kind::TempError) co_return ended(Result::TempError, domain, std::move(m.problem));
            if (m.kind == Match::Kind::PermError) co_return ended(Result::PermError, domain, std::move(m.problem));
            if (m.kind == Match::Kind::No) continue;
            SpfOutcome o;
            o.result = d.qualifier;
            o.domain = domain;
            o.mechanism = d.text;
            if (o.result == Result::Fail && explain && record.exp) {
                auto explaining = explanation(*record.exp, context);
                o.explanation = co_await std::move(explaining);
            }
            co_return o;
        }
        if (record.redirect) {
            // §6.1: the redirect target's result, its exp= and not ours; no record there is PermError.
            if (++dns_terms_ > kMaxDnsTerms)
                co_return ended(Result::PermError, domain, fmt::format("more than {} DNS lookups (at redirect)", kMaxDnsTerms));
            auto expanding = target(*record.redirect, context);
            std::optional<std::string> to = co_await std::move(expanding);
            if (!to) co_return ended(Result::PermError, domain, "redirect= does not expand to a domain");
            auto inner_check = check(*to, explain);
            SpfOutcome inner = co_await std::move(inner_check);
            if (inner.result == Result::None)
                co_return ended(Result::PermError, domain, fmt::format("redirect to {}: {}", *to, inner.problem));
            co_return inner;
        }
        SpfOutcome neutral;  // §4.7: no match, no redirect
        neutral.result = Result::Neutral;
        neutral.domain = domain;
        co_return neutral;
    }

private:
    // §4.6.4: more than two void lookups is PermError.
    bool one_void_too_many() { return ++void_lookups_ > kMaxVoidLookups; }

    // The domain a mechanism or modifier names: its domain-spec expanded (§7) and fit
    // to 253 octets, or the current domain. std::nullopt when the expansion fails.
    asio::awaitable<std::optional<std::string>> target(const std::string& spec, MacroContext& context) {
        if (spec.empty()) co_return context.domain;
        if (spf::uses_validated_name(spec)) {
            auto validating = validated_name(context.domain);
            context.validated = co_await std::move(validating);
        }
        auto e = spf::expand(spec, context, MacroUse::DomainSpec);
        if (!e) co_return std::nullopt;
        co_return spf::fit_domain(std::move(*e));
    }

    // The client's addresses family: A for IPv4 clients, AAAA for IPv6 (§5.3).
    asio::awaitable<SpfAddresses> addresses_of(std::string name) {
        if (client_.is_v4()) {
            auto ask = dns_.a(std::move(name));
            co_return co_await std::move(ask);
        }
        auto ask = dns_.aaaa(std::move(name));
        co_return co_await std::move(ask);
    }

    // The names of the client's PTR records that lead back to it (§5.5), the first 10
    // only. DNS errors skip a name; void answers count.
    asio::awaitable<std::vector<std::string>> validated_names(bool& too_many_voids) {
        std::vector<std::string> out;
        auto ask = dns_.ptr(client_);
        SpfNames names = co_await std::move(ask);
        if (names.status == SpfDnsStatus::NxDomain || names.status == SpfDnsStatus::NoData) too_many_voids = one_void_too_many();
        if (names.status != SpfDnsStatus::Ok) co_return out;
        const std::size_t n = std::min(names.records.size(), kMaxPtrNames);
        for (std::size_t i = 0; i < n && !too_many_voids; ++i) {
            auto lookup = addresses_of(names.records[i]);
            SpfAddresses a = co_await std::move(lookup);
            if (a.status == SpfDnsStatus::NxDomain || a.status == SpfDnsStatus::NoData) too_many_voids = one_void_too_many();
            if (std::find(a.records.begin(), a.records.end(), client_) != a.records.end()) out.push_back(names.records[i]);
        }
        co_return out;
    }

    // %{p} (§7.3): a validated name equal to the domain, else one below it, else any,
    // else "unknown". Its lookups never end the evaluation.
    asio::awaitable<std::string> validated_name(std::string domain) {
        bool too_many = false;
        auto validating = validated_names(too_many);
        std::vector<std::string> names = co_await std::move(validating);
        for (const auto& n : names)
            if (is_at_or_below(n, domain) && is_at_or_below(domain, n)) co_return n;
        for (const auto& n : names)
            if (is_at_or_below(n, domain)) co_return n;
        co_return names.empty() ? std::string("unknown") : names.front();
    }

    asio::awaitable<Match> matches(const Directive& d, MacroContext& context) {
        switch (d.kind) {
            case MechanismKind::All: co_return yes();
            case MechanismKind::Ip4:
            case MechanismKind::Ip6:
                co_return in_network(client_, d.network, d.network.is_v4() ? d.cidr4 : d.cidr6) ? yes() : no();
            default: break;
        }
        auto expanding = target(d.domain_spec, context);
        std::optional<std::string> name = co_await std::move(expanding);
        if (!name) co_return perm_error(fmt::format("\"{}\" does not expand to a domain", d.text));
        const int prefix = client_.is_v4() ? d.cidr4 : d.cidr6;
        switch (d.kind) {
            case MechanismKind::Include: {
                auto inner_check = check(*name, false);
                SpfOutcome inner = co_await std::move(inner_check);
                // §5.2: only Pass matches; None (no record there) is PermError.
                switch (inner.result) {
                    case Result::Pass: co_return yes();
                    case Result::TempError: co_return temp_error(std::move(inner.problem));
                    case Result::PermError: co_return perm_error(std::move(inner.problem));
                    case Result::None: co_return perm_error(fmt::format("include:{} found no SPF record", *name));
                    default: co_return no();
                }
            }
            case MechanismKind::A: {
                auto lookup = addresses_of(*name);
                SpfAddresses a = co_await std::move(lookup);
                co_return address_match(a, prefix, d);
            }
            case MechanismKind::Mx: {
                auto ask = dns_.mx_names(*name);
                SpfNames mx = co_await std::move(ask);
                if (mx.status == SpfDnsStatus::TempError) co_return temp_error(std::move(mx.error));
                if (mx.status != SpfDnsStatus::Ok)
                    co_return one_void_too_many() ? perm_error(void_problem(d)) : no();
                // §4.6.4: more than 10 MX names is PermError, not "the first 10".
                if (mx.records.size() > kMaxMxNames)
                    co_return perm_error(fmt::format("{} has more than {} MX records", *name, kMaxMxNames));
                for (const auto& host : mx.records) {
                    auto lookup = addresses_of(host);
                    SpfAddresses a = co_await std::move(lookup);
                    Match m = address_match(a, prefix, d);
                    if (m.kind != Match::Kind::No) co_return m;
                }
                co_return no();
            }
            case MechanismKind::Ptr: {
                // §5.5: a DNS error in the PTR lookup, or in a name's own lookup, is no match.
                bool too_many = false;
                auto validating = validated_names(too_many);
                std::vector<std::string> names = co_await std::move(validating);
                if (too_many) co_return perm_error(void_problem(d));
                for (const auto& n : names)
                    if (is_at_or_below(n, *name)) co_return yes();
                co_return no();
            }
            case MechanismKind::Exists: {
                // §5.7: an A query whatever the client's family.
                auto ask = dns_.a(*name);
                SpfAddresses a = co_await std::move(ask);
                if (a.status == SpfDnsStatus::TempError) co_return temp_error(std::move(a.error));
                if (a.status == SpfDnsStatus::Ok && !a.records.empty()) co_return yes();
                co_return one_void_too_many() ? perm_error(void_problem(d)) : no();
            }
            default: co_return no();
        }
    }

    Match address_match(const SpfAddresses& a, int prefix, const Directive& d) {
        if (a.status == SpfDnsStatus::TempError) return temp_error(a.error);
        if (a.status != SpfDnsStatus::Ok || a.records.empty()) return one_void_too_many() ? perm_error(void_problem(d)) : no();
        for (const auto& address : a.records)
            if (in_network(client_, spf::effective_client(address), prefix)) return yes();
        return no();
    }

    static std::string void_problem(const Directive& d) {
        return fmt::format("more than {} DNS lookups found nothing (at \"{}\")", kMaxVoidLookups, d.text);
    }

    // §6.2: the exp= text, expanded; any failure (DNS, not exactly one record, a bad
    // macro) is no explanation at all.
    asio::awaitable<std::string> explanation(const std::string& spec, MacroContext& context) {
        auto expanding = target(spec, context);
        std::optional<std::string> name = co_await std::move(expanding);
        if (!name || !is_domain_name(*name)) co_return std::string();
        auto ask = dns_.txt(*name);
        SpfTexts texts = co_await std::move(ask);
        if (texts.status != SpfDnsStatus::Ok || texts.records.size() != 1) co_return std::string();
        const std::string& text = texts.records.front();
        if (spf::uses_validated_name(text)) {
            auto validating = validated_name(context.domain);
            context.validated = co_await std::move(validating);
        }
        auto e = spf::expand(text, context, MacroUse::Explanation);
        // §6.2: an explanation that is not US-ASCII (a macro brought in an SMTPUTF8
        // local-part, say) is no explanation.
        if (!e || std::any_of(e->begin(), e->end(), [](char c) { return c < 0x20 || c > 0x7e; })) co_return std::string();
        co_return std::move(*e);
    }

    SpfDns& dns_;
    asio::ip::address client_;
    MacroContext base_;
    int dns_terms_ = 0;
    int void_lookups_ = 0;
};

}  // namespace

asio::awaitable<SpfOutcome> check_host(SpfDns& dns, SpfRequest request) {
    Evaluation evaluation(dns, request);
    std::string domain = evaluation.sender_domain();
    auto checking = evaluation.check(domain, true);
    SpfOutcome outcome = co_await std::move(checking);
    outcome.domain = std::move(domain);  // the sender's, also after a redirect
    co_return outcome;
}

asio::awaitable<SpfCheck> check_spf(SpfDns& dns, asio::ip::address client, std::string mail_from, std::string helo,
                                    std::string receiver) {
    SpfCheck out;
    SpfRequest request{client, std::move(mail_from), std::move(helo), std::move(receiver)};
    // §2.4: the null reverse path is checked as postmaster@<HELO identity>.
    out.identity = request.sender.empty() ? "smtp.helo" : "smtp.mailfrom";
    if (request.sender.empty()) request.sender = "postmaster@" + request.helo;
    auto checking = check_host(dns, std::move(request));
    out.outcome = co_await std::move(checking);
    co_return out;
}

}  // namespace edge::auth
