// The DNS resolver: queries built and answers read by ldns, sent by Asio over UDP (TCP
// when an answer comes truncated), checked against the question before they are
// believed, followed through CNAMEs, and cached by their TTL.
#include "dns_resolver.hpp"

#include "address.hpp"
#include "completion.hpp"

#include "dns_answer.hpp"
#include "registry.hpp"
#include "text_helpers.hpp"

#include <ldns/ldns.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <list>
#include <random>
#include <sstream>
#include <stdexcept>
#include <unordered_map>
#include <variant>

namespace edge::dns {

namespace {

using namespace asio::experimental::awaitable_operators;
using udp = asio::ip::udp;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using async::use_tuple;  // completion.hpp
// GCC 12 destroys a temporary that has a destructor inside a co_await expression at
// the wrong time (a double free under ASan). So every co_await here awaits a named
// awaitable, or a call whose arguments are named objects or plain values.

// RFC 1035 §2.3.4 and §3.1.
constexpr std::size_t kMaxNameLength = 253;
constexpr std::size_t kMaxLabelLength = 63;

struct MallocFree {
    void operator()(void* p) const { std::free(p); }
};

// Reading answers is dns_answer.*: pure, so the fuzz target feeds it wire bytes.
using wire::answer_to;
using wire::dname_text;
using wire::lower;
using wire::Lookup;
using wire::Packet;
using wire::Question;
using wire::type_text;

// A host or domain name as we ask for it and compare it: lower case, without the
// trailing dot. std::nullopt for what is not a name: empty labels, labels over 63
// characters, more than 253 in all, or characters that ldns would read as escapes or
// that no mail domain has (letters, digits, '-' and '_' only). A name in U-labels is
// asked as its A-labels (IDNA2008 by smtp's one converter): DNS knows only those.
std::optional<std::string> host_name(std::string_view text) {
    std::string a_labels;
    if (edge::text::has_non_ascii(text)) {
        auto converted = smtp::canonical_domain(text);
        if (!converted || converted->front() == '[') return std::nullopt;
        a_labels = std::move(*converted);
        text = a_labels;
    }
    if (!text.empty() && text.back() == '.') text.remove_suffix(1);
    if (text.empty() || text.size() > kMaxNameLength) return std::nullopt;
    std::size_t label = 0;
    for (char c : text) {
        if (c == '.') {
            if (label == 0) return std::nullopt;
            label = 0;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok || ++label > kMaxLabelLength) return std::nullopt;
    }
    if (label == 0) return std::nullopt;
    return lower(text);
}

// An address standing for a host: "192.0.2.1", "2001:db8::1", and the SMTP address
// literals "[192.0.2.1]", "[IPv6:2001:db8::1]" (RFC 5321 §4.1.3), or "[2001:db8::1]".
std::optional<asio::ip::address> address_literal(std::string_view text) {
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
        text = text.substr(1, text.size() - 2);
        if (text.size() > 5 && lower(text.substr(0, 5)) == "ipv6:") {
            text.remove_prefix(5);
            if (text.find(':') == std::string_view::npos) return std::nullopt;
        }
    }
    if (text.empty() || text.find('%') != std::string_view::npos) return std::nullopt;
    boost::system::error_code ec;
    auto a = asio::ip::make_address(std::string(text), ec);
    if (ec) return std::nullopt;
    return a;
}

std::string endpoint_text(const udp::endpoint& e) {
    if (e.address().is_v6()) return fmt::format("[{}]:{}", e.address().to_string(), e.port());
    return fmt::format("{}:{}", e.address().to_string(), e.port());
}

std::string rcode_text(ldns_pkt_rcode rcode) {
    switch (rcode) {
        case LDNS_RCODE_NOERROR: return "NOERROR";
        case LDNS_RCODE_FORMERR: return "FORMERR";
        case LDNS_RCODE_SERVFAIL: return "SERVFAIL";
        case LDNS_RCODE_NXDOMAIN: return "NXDOMAIN";
        case LDNS_RCODE_NOTIMPL: return "NOTIMP";
        case LDNS_RCODE_REFUSED: return "REFUSED";
        default: return fmt::format("RCODE {}", static_cast<int>(rcode));
    }
}

std::vector<std::uint8_t> build_query(const Question& q, std::uint16_t id, std::uint16_t edns_udp_size, bool dnssec) {
    // ldns_pkt_query_new takes the owner name; the name was checked by host_name.
    ldns_rdf* owner = ldns_dname_new_frm_str((q.name + ".").c_str());
    if (owner == nullptr) throw std::logic_error("DNS: cannot encode the name " + q.name);
    Packet p(ldns_pkt_query_new(owner, q.type, LDNS_RR_CLASS_IN, LDNS_RD));
    if (!p) throw std::bad_alloc();
    ldns_pkt_set_id(p.get(), id);
    if (edns_udp_size != 0) ldns_pkt_set_edns_udp_size(p.get(), edns_udp_size);
    if (dnssec) {
        // RFC 4035 §3.2.1 DO; RFC 6840 §5.7: AD in the query asks for AD in the answer.
        if (edns_udp_size == 0) ldns_pkt_set_edns_udp_size(p.get(), 1232);
        ldns_pkt_set_edns_do(p.get(), true);
        ldns_pkt_set_ad(p.get(), true);
    }
    std::uint8_t* wire = nullptr;
    std::size_t size = 0;
    if (ldns_pkt2wire(&wire, p.get(), &size) != LDNS_STATUS_OK) throw std::logic_error("DNS: cannot encode a query for " + q.name);
    std::unique_ptr<std::uint8_t, MallocFree> hold(wire);
    return {wire, wire + size};
}

// What one server said to one query: a packet we believe (any RCODE), or why not.
struct Exchange {
    Packet packet;
    std::string failure;
};

Exchange failed(std::string why) { return Exchange{nullptr, std::move(why)}; }

std::string network_failure(std::string_view what, const boost::system::error_code& ec) {
    return fmt::format("failed ({}: {})", what, ec.message());
}

asio::awaitable<Exchange> talk_udp(udp::socket& sock, const std::vector<std::uint8_t>& query, std::uint16_t id,
                                   const Question& q) {
    auto [send_ec, sent] = co_await sock.async_send(asio::buffer(query), use_tuple);
    (void)sent;
    if (send_ec) co_return failed(network_failure("UDP send", send_ec));
    // A UDP answer may be up to 64 KB whatever we advertised; a smaller buffer would
    // cut it and we would take a good answer for a broken one.
    std::vector<std::uint8_t> buffer(65535);
    for (;;) {
        auto [ec, n] = co_await sock.async_receive(asio::buffer(buffer), use_tuple);
        // ICMP port unreachable shows here (connection refused): no need to wait it out.
        if (ec) co_return failed(network_failure("UDP receive", ec));
        if (auto p = answer_to(buffer.data(), n, id, q)) co_return Exchange{std::move(p), {}};
        // Not ours (RFC 5452 §9.1): keep listening for the real answer until the timer.
    }
}

asio::awaitable<Exchange> talk_tcp(tcp::socket& sock, const tcp::endpoint& server, const std::vector<std::uint8_t>& query,
                                   std::uint16_t id, const Question& q) {
    auto [connect_ec] = co_await sock.async_connect(server, use_tuple);
    if (connect_ec) co_return failed(network_failure("TCP connect", connect_ec));
    // RFC 1035 §4.2.2, RFC 7766 §8: over TCP each message follows its length, two
    // bytes in network order.
    std::array<std::uint8_t, 2> length{static_cast<std::uint8_t>(query.size() >> 8), static_cast<std::uint8_t>(query.size())};
    std::array<asio::const_buffer, 2> out{asio::buffer(length), asio::buffer(query)};
    auto [write_ec, written] = co_await asio::async_write(sock, out, use_tuple);
    (void)written;
    if (write_ec) co_return failed(network_failure("TCP write", write_ec));
    auto [head_ec, head] = co_await asio::async_read(sock, asio::buffer(length), use_tuple);
    (void)head;
    if (head_ec) co_return failed(network_failure("TCP read", head_ec));
    std::vector<std::uint8_t> buffer(static_cast<std::size_t>(length[0]) << 8 | length[1]);
    auto [read_ec, n] = co_await asio::async_read(sock, asio::buffer(buffer), use_tuple);
    if (read_ec) co_return failed(network_failure("TCP read", read_ec));
    // On our own connection a wrong answer is the server's fault, not a forger's.
    if (auto p = answer_to(buffer.data(), n, id, q)) co_return Exchange{std::move(p), {}};
    co_return failed("sent an answer that does not match the query over TCP");
}

std::string join(const std::vector<std::string>& parts) {
    std::string s;
    for (const auto& p : parts) {
        if (p.empty()) continue;
        if (!s.empty()) s += "; ";
        s += p;
    }
    return s;
}

}  // namespace

std::string_view to_string(DnsStatus status) {
    switch (status) {
        case DnsStatus::Ok: return "Ok";
        case DnsStatus::NoSuchDomain: return "NoSuchDomain";
        case DnsStatus::NoData: return "NoData";
        case DnsStatus::NullMx: return "NullMx";
        case DnsStatus::Transient: return "Transient";
    }
    return "?";
}

struct DnsResolver::Impl {
    using Options = std::shared_ptr<const DnsOptions>;

    asio::any_io_executor executor;
    Options options;
    // Oldest first; the index finds an entry by "TYPE name".
    struct CacheEntry {
        std::string key;
        Clock::time_point expires;
        Lookup answer;
    };
    std::list<CacheEntry> cache;
    std::unordered_map<std::string, std::list<CacheEntry>::iterator> cache_index;
    // Bumped by set_options, so an answer from the old servers still in flight is not
    // cached after the cache was emptied for the new ones.
    std::uint64_t generation = 0;
    // Query ids from the system's random source (RFC 5452 §9.2: ids an off-path forger
    // cannot predict); the shuffle of equal MX preferences needs no such strength.
    std::random_device random_ids;
    std::mt19937 shuffle{std::random_device{}()};

    Impl(asio::any_io_executor ex, DnsOptions o)
        : executor(std::move(ex)), options(std::make_shared<const DnsOptions>(std::move(o))) {}

    // --- cache ---------------------------------------------------------------------

    std::optional<Lookup> cache_find(const std::string& key) {
        auto it = cache_index.find(key);
        if (it == cache_index.end()) return std::nullopt;
        if (Clock::now() >= it->second->expires) {
            cache.erase(it->second);
            cache_index.erase(it);
            return std::nullopt;
        }
        return it->second->answer;
    }

    // TXT answers bigger than this are not kept: a hostile zone's 64 KiB answers would
    // otherwise make cache_entries answers cost gigabytes. SPF records are meant to fit
    // 512 octets (RFC 7208 §3.4); DKIM keys are a few KiB at most.
    static constexpr std::size_t kMaxCachedText = 8192;

    void cache_store(const std::string& key, const Lookup& answer, const DnsOptions& o) {
        if (answer.outcome == Lookup::Outcome::Transient || answer.ttl == 0 || o.cache_entries == 0) return;
        std::size_t text_size = 0;
        for (const auto& t : answer.texts) text_size += t.size();
        if (text_size > kMaxCachedText) return;
        if (auto it = cache_index.find(key); it != cache_index.end()) {
            cache.erase(it->second);
            cache_index.erase(it);
        }
        cache.push_back(CacheEntry{key, Clock::now() + std::chrono::seconds(answer.ttl), answer});
        cache_index[key] = std::prev(cache.end());
        trim_cache(o.cache_entries);
    }

    void trim_cache(std::size_t limit) {
        while (cache.size() > limit) {
            cache_index.erase(cache.front().key);
            cache.pop_front();
        }
    }

    // --- one query -------------------------------------------------------------------

    std::uint16_t random_id() { return static_cast<std::uint16_t>(random_ids()); }

    asio::awaitable<Exchange> over_udp(const udp::endpoint& server, const std::vector<std::uint8_t>& query,
                                       std::uint16_t id, const Question& q, std::chrono::milliseconds timeout) {
        udp::socket sock(executor);
        boost::system::error_code ec;
        sock.open(server.protocol(), ec);
        // Connected: the kernel drops datagrams from any other address or port.
        if (!ec) sock.connect(server, ec);
        if (ec) co_return failed(network_failure("UDP socket", ec));
        asio::steady_timer timer(executor);
        timer.expires_after(timeout);
        auto talk = talk_udp(sock, query, id, q);
        auto expiry = timer.async_wait(use_tuple);
        auto r = co_await (std::move(talk) || std::move(expiry));
        if (r.index() == 1) co_return failed("timed out");
        co_return std::get<0>(std::move(r));
    }

    asio::awaitable<Exchange> over_tcp(const udp::endpoint& server, const std::vector<std::uint8_t>& query,
                                       std::uint16_t id, const Question& q, std::chrono::milliseconds timeout) {
        tcp::socket sock(executor);
        asio::steady_timer timer(executor);
        timer.expires_after(timeout);
        const tcp::endpoint to(server.address(), server.port());
        auto talk = talk_tcp(sock, to, query, id, q);
        auto expiry = timer.async_wait(use_tuple);
        auto r = co_await (std::move(talk) || std::move(expiry));
        if (r.index() == 1) co_return failed("timed out over TCP");
        co_return std::get<0>(std::move(r));
    }

    // One server, one question: a packet with NOERROR or NXDOMAIN, or why not.
    asio::awaitable<Exchange> ask_server(const udp::endpoint& server, const Question& q, const DnsOptions& o) {
        std::uint16_t edns = o.edns_udp_size;
        for (;;) {
            std::uint16_t id = random_id();
            auto query = build_query(q, id, edns, o.dnssec);
            Exchange ex;
            if (o.tcp_only) ex = co_await over_tcp(server, query, id, q, o.timeout);
            else ex = co_await over_udp(server, query, id, q, o.timeout);
            // RFC 1035 §4.2.1, RFC 7766 §5: a truncated answer is asked again over TCP.
            if (!o.tcp_only && ex.packet && ldns_pkt_tc(ex.packet.get()))
                ex = co_await over_tcp(server, query, id, q, o.timeout);
            if (!ex.packet) co_return ex;
            auto rcode = ldns_pkt_get_rcode(ex.packet.get());
            if (rcode == LDNS_RCODE_NOERROR || rcode == LDNS_RCODE_NXDOMAIN) co_return ex;
            // RFC 6891 §7: a server that does not know EDNS answers FORMERR; ask it
            // again without.
            if (rcode == LDNS_RCODE_FORMERR && edns != 0) {
                edns = 0;
                continue;
            }
            co_return failed("answered " + rcode_text(rcode));
        }
    }

    // The servers in order, `attempts` rounds. The failure text names each server once
    // (with what it did last), grouped by what happened: "DNS query for MX contoso.com
    // timed out (192.0.2.1:53, 192.0.2.2:53), answered SERVFAIL (127.0.0.1:53)".
    asio::awaitable<Exchange> ask(const Question& q, const DnsOptions& o) {
        // Issue 21: a question asked (the cache did not answer it), and one that got no usable answer.
        auto& counters = metrics::process_counters();
        counters.dns_queries.add();
        auto prefix = fmt::format("DNS query for {} {}", type_text(q.type), q.name);
        if (o.servers.empty()) {
            counters.dns_failures.add();
            co_return failed(prefix + " failed (no DNS servers configured)");
        }
        std::vector<std::pair<std::string, std::string>> last;  // server, what it did
        for (int round = 0; round < std::max(1, o.attempts); ++round) {
            for (const auto& server : o.servers) {
                Exchange ex = co_await ask_server(server, q, o);
                if (ex.packet) co_return ex;
                auto text = endpoint_text(server);
                auto it = std::find_if(last.begin(), last.end(), [&](const auto& e) { return e.first == text; });
                if (it == last.end()) last.emplace_back(text, std::move(ex.failure));
                else it->second = std::move(ex.failure);
            }
        }
        std::vector<std::pair<std::string, std::string>> groups;  // failure, servers
        for (const auto& [server, failure] : last) {
            auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == failure; });
            if (it == groups.end()) groups.emplace_back(failure, server);
            else it->second += ", " + server;
        }
        std::string text = prefix;
        for (std::size_t i = 0; i < groups.size(); ++i)
            text += fmt::format("{} {} ({})", i == 0 ? "" : ",", groups[i].first, groups[i].second);
        counters.dns_failures.add();
        co_return failed(std::move(text));
    }

    // --- one name and type, through CNAMEs, cached -------------------------------------

    asio::awaitable<Lookup> lookup(std::string name, ldns_rr_type type, Options o) {
        std::string key = fmt::format("{} {}", type_text(type), name);
        if (auto hit = cache_find(key)) co_return std::move(*hit);
        auto generation_asked = generation;
        Lookup answer = co_await lookup_uncached(name, type, *o);
        if (generation == generation_asked) cache_store(key, answer, *o);
        co_return answer;
    }

    asio::awaitable<Lookup> lookup_uncached(const std::string& name, ldns_rr_type type, const DnsOptions& o) {
        Lookup out;
        out.ttl = static_cast<std::uint32_t>(std::max<std::int64_t>(0, std::min<std::int64_t>(o.max_ttl.count(), UINT32_MAX)));
        const wire::AnswerLimits limits{o.max_negative_ttl, o.max_cname_hops};
        std::string current = name;
        int hops = 0;
        for (;;) {
            const Question question{current, type};
            Exchange ex = co_await ask(question, o);
            if (!ex.packet) {
                out.servfail = ex.failure.find("answered SERVFAIL") != std::string::npos;
                out.authenticated = false;
                out.error = std::move(ex.failure);
                co_return out;
            }
            // Every packet of a CNAME chain must be authenticated for the answer to be.
            out.authenticated = (hops == 0 || out.authenticated) && ldns_pkt_ad(ex.packet.get());
            if (wire::read_answer(ex.packet.get(), name, type, limits, current, hops, out) == wire::AnswerStep::AskAgain) continue;
            co_return out;
        }
    }

    // --- what the resolver offers --------------------------------------------------------

    asio::awaitable<AddressResult> resolve_address(std::string host, Options o) {
        AddressResult result;
        if (auto a = address_literal(host)) {
            result.status = DnsStatus::Ok;
            result.addresses.push_back(*a);
            co_return result;
        }
        auto name = host_name(host);
        if (!name) {
            result.status = DnsStatus::NoSuchDomain;
            result.error = fmt::format("\"{}\" is not a valid host name", host);
            co_return result;
        }
        // Both families at once: a host's A and AAAA come from the same servers, and
        // waiting for one before asking the other would double a slow server's delay.
        auto ask_v4 = lookup(*name, LDNS_RR_TYPE_A, o);
        auto ask_v6 = lookup(*name, LDNS_RR_TYPE_AAAA, o);
        auto [v4, v6] = co_await (std::move(ask_v4) && std::move(ask_v6));
        using O = Lookup::Outcome;
        result.addresses = std::move(v4.addresses);
        result.addresses.insert(result.addresses.end(), v6.addresses.begin(), v6.addresses.end());
        if (!result.addresses.empty()) {
            result.status = DnsStatus::Ok;
            result.error = join({v4.error, v6.error});  // one family's failure, for the record
        } else if (v4.outcome == O::NxDomain || v6.outcome == O::NxDomain) {
            result.status = DnsStatus::NoSuchDomain;
            result.error = fmt::format("{} does not exist (NXDOMAIN)", *name);
        } else if (v4.outcome == O::Transient || v6.outcome == O::Transient) {
            result.status = DnsStatus::Transient;
            result.error = join({v4.error, v6.error});
        } else {
            result.status = DnsStatus::NoData;
            result.error = fmt::format("{} has no A or AAAA record", *name);
        }
        co_return result;
    }

    // The outcome of one lookup as a status and sentence (resolve_a, resolve_ptr).
    template <class Result>
    static void judge(const Lookup& l, const std::string& name, std::string_view type, bool found, Result& result) {
        using O = Lookup::Outcome;
        if (found) result.status = DnsStatus::Ok;
        else if (l.outcome == O::NxDomain) {
            result.status = DnsStatus::NoSuchDomain;
            result.error = fmt::format("{} does not exist (NXDOMAIN)", name);
        } else if (l.outcome == O::Transient) {
            result.status = DnsStatus::Transient;
            result.error = l.error;
        } else {
            result.status = DnsStatus::NoData;
            result.error = fmt::format("{} has no {} record", name, type);
        }
    }

    // One question about one name (A, AAAA, TXT, TLSA): the name checked, the lookup, and
    // `take` moving what was found into the result (returns whether anything was).
    template <class Result, class Take>
    asio::awaitable<Result> resolve_one(std::string text, ldns_rr_type type, std::string_view what, Options o, Take take) {
        Result result;
        auto name = host_name(text);
        if (!name) {
            result.status = DnsStatus::NoSuchDomain;
            result.error = fmt::format("\"{}\" is not a valid {} name", text, what);
            co_return result;
        }
        auto ask = lookup(*name, type, o);
        Lookup l = co_await std::move(ask);
        const bool found = take(l, result);
        judge(l, *name, type_text(type), found, result);
        co_return result;
    }

    // One address family only (resolve_a, resolve_aaaa).
    asio::awaitable<AddressResult> resolve_family(std::string text, ldns_rr_type type, Options o) {
        return resolve_one<AddressResult>(std::move(text), type, "host", std::move(o), [](Lookup& l, AddressResult& r) {
            r.addresses = std::move(l.addresses);
            return !r.addresses.empty();
        });
    }

    asio::awaitable<NameResult> resolve_ptr(asio::ip::address address, Options o) {
        NameResult result;
        const bool v4 = address.is_v4() || (address.is_v6() && address.to_v6().is_v4_mapped());
        std::string name = reverse_name(address) + (v4 ? ".in-addr.arpa" : ".ip6.arpa");
        auto ask = lookup(name, LDNS_RR_TYPE_PTR, o);
        Lookup l = co_await std::move(ask);
        result.names = std::move(l.names);
        judge(l, name, "PTR", !result.names.empty(), result);
        co_return result;
    }

    asio::awaitable<TextResult> resolve_txt(std::string text, Options o) {
        return resolve_one<TextResult>(std::move(text), LDNS_RR_TYPE_TXT, "domain", std::move(o), [](Lookup& l, TextResult& r) {
            r.texts = std::move(l.texts);
            return !r.texts.empty();
        });
    }

    asio::awaitable<TlsaResult> resolve_tlsa(std::string text, Options o) {
        return resolve_one<TlsaResult>(std::move(text), LDNS_RR_TYPE_TLSA, "domain", std::move(o), [](Lookup& l, TlsaResult& r) {
            for (auto& t : l.tlsa) r.records.push_back(TlsaRecordData{t.usage, t.selector, t.matching, std::move(t.data)});
            r.authenticated = l.authenticated;
            r.bogus = l.servfail;
            return !r.records.empty();
        });
    }

    asio::awaitable<NameResult> resolve_mx_names(std::string domain, Options o) {
        NameResult result;
        auto name = host_name(domain);
        if (!name) {
            result.status = DnsStatus::NoSuchDomain;
            result.error = fmt::format("\"{}\" is not a valid domain name", domain);
            co_return result;
        }
        auto ask = lookup(*name, LDNS_RR_TYPE_MX, o);
        Lookup l = co_await std::move(ask);
        judge(l, *name, "MX", !l.mx.empty(), result);
        if (result.status != DnsStatus::Ok) co_return result;
        // By preference, the server's order among equals; the root (null MX) names no host.
        std::stable_sort(l.mx.begin(), l.mx.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        for (auto& r : l.mx)
            if (!r.second.empty() && std::find(result.names.begin(), result.names.end(), r.second) == result.names.end())
                result.names.push_back(std::move(r.second));
        if (result.names.empty()) result.error = fmt::format("{} accepts no mail (null MX, RFC 7505)", *name);
        co_return result;
    }

    // Every MX host's addresses at once (a dead server would otherwise cost its
    // timeout once per host, one after the other).
    asio::awaitable<std::vector<AddressResult>> resolve_addresses(std::shared_ptr<Impl> self, const std::vector<std::string>& hosts,
                                                                  Options o) {
        using Op = decltype(asio::co_spawn(executor, self->resolve_address(std::string(), o), asio::deferred));
        std::vector<Op> ops;
        ops.reserve(hosts.size());
        for (const auto& h : hosts) ops.push_back(asio::co_spawn(executor, self->resolve_address(h, o), asio::deferred));
        auto group = asio::experimental::make_parallel_group(std::move(ops));
        auto all = group.async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
        auto [order, errors, results] = co_await std::move(all);
        (void)order;
        for (const auto& e : errors)
            if (e) std::rethrow_exception(e);
        co_return std::move(results);
    }

    asio::awaitable<MxResult> resolve_mx(std::shared_ptr<Impl> self, std::string domain, Options o) {
        MxResult result;
        if (auto a = address_literal(domain)) {
            // RFC 5321 §5.1: an address literal is where to connect; no DNS.
            result.status = DnsStatus::Ok;
            result.hosts.push_back(MxHost{domain, 0, {*a}, true});
            co_return result;
        }
        auto name = host_name(domain);
        if (!name) {
            result.status = DnsStatus::NoSuchDomain;
            result.error = fmt::format("\"{}\" is not a valid domain name", domain);
            co_return result;
        }
        auto ask_mx = lookup(*name, LDNS_RR_TYPE_MX, o);
        Lookup mx = co_await std::move(ask_mx);
        result.authenticated = mx.authenticated;
        switch (mx.outcome) {
            case Lookup::Outcome::Transient:
                result.status = DnsStatus::Transient;
                result.error = std::move(mx.error);
                co_return result;
            case Lookup::Outcome::NxDomain:
                result.status = DnsStatus::NoSuchDomain;
                result.error = fmt::format("{} does not exist (NXDOMAIN)", *name);
                co_return result;
            case Lookup::Outcome::NoData: {
                // RFC 5321 §5.1: no MX records, so the domain is its own mail host, as if
                // it had "0 domain." (the implicit MX).
                auto ask_own = resolve_address(*name, o);
                AddressResult own = co_await std::move(ask_own);
                result.status = own.status;
                result.error = std::move(own.error);
                if (own.status == DnsStatus::Ok) result.hosts.push_back(MxHost{*name, 0, std::move(own.addresses), true});
                if (own.status == DnsStatus::NoData) result.error = fmt::format("{} has no MX, A or AAAA record", *name);
                co_return result;
            }
            case Lookup::Outcome::Ok: break;
        }

        // RFC 7505 §3: one MX "0 ." says the domain takes no mail. Exchanges that are the
        // root are never hosts; only when every record is one is the domain null MX (§3
        // forbids a null MX beside others; then the real hosts are tried).
        std::vector<std::pair<std::uint16_t, std::string>> records;
        for (auto& r : mx.mx)
            if (!r.second.empty()) records.push_back(std::move(r));
        if (records.empty()) {
            result.status = DnsStatus::NullMx;
            result.error = fmt::format("{} accepts no mail (null MX, RFC 7505)", *name);
            co_return result;
        }
        // By preference; one name once, at its best preference; random among equals
        // (RFC 5321 §5.1: spread the load over equal hosts).
        std::stable_sort(records.begin(), records.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        std::vector<std::pair<std::uint16_t, std::string>> unique;
        for (auto& r : records)
            if (std::none_of(unique.begin(), unique.end(), [&](const auto& u) { return u.second == r.second; }))
                unique.push_back(std::move(r));
        for (auto first = unique.begin(); first != unique.end();) {
            auto last = std::find_if(first, unique.end(), [&](const auto& r) { return r.first != first->first; });
            std::shuffle(first, last, shuffle);
            first = last;
        }

        // Each host's addresses by asking for its A and AAAA, never from the additional
        // section: glue there is the least trusted data of a packet (RFC 2181 §5.4.1).
        std::vector<std::string> names;
        for (const auto& r : unique) names.push_back(r.second);
        auto ask_hosts = resolve_addresses(self, names, o);
        auto addresses = co_await std::move(ask_hosts);
        std::vector<std::string> notes;
        bool transient = false;
        for (std::size_t i = 0; i < unique.size(); ++i) {
            auto& a = addresses[i];
            if (a.status == DnsStatus::Ok) {
                result.hosts.push_back(MxHost{unique[i].second, unique[i].first, std::move(a.addresses), false});
                if (!a.error.empty()) notes.push_back(std::move(a.error));
                continue;
            }
            transient = transient || a.status == DnsStatus::Transient;
            notes.push_back(fmt::format("MX host {} left out: {}", unique[i].second, a.error));
        }
        result.error = join(notes);
        // No host left: worth another try when any failure may pass; otherwise there is
        // nowhere to deliver (NXDOMAIN of a host is not of the domain: NoData, not
        // NoSuchDomain).
        result.status = !result.hosts.empty() ? DnsStatus::Ok : transient ? DnsStatus::Transient : DnsStatus::NoData;
        co_return result;
    }
};

DnsResolver::DnsResolver(asio::any_io_executor executor, DnsOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options))) {}
DnsResolver::~DnsResolver() = default;
DnsResolver::DnsResolver(DnsResolver&&) noexcept = default;
DnsResolver& DnsResolver::operator=(DnsResolver&&) noexcept = default;

// Each lookup holds the Impl and the options it started with, so neither set_options
// nor the resolver's end pulls anything from under it.
asio::awaitable<MxResult> DnsResolver::resolve_mx(std::string domain) {
    auto impl = impl_;
    auto lookup = impl->resolve_mx(impl, std::move(domain), impl->options);
    co_return co_await std::move(lookup);
}

asio::awaitable<AddressResult> DnsResolver::resolve_address(std::string host) {
    auto impl = impl_;
    auto lookup = impl->resolve_address(std::move(host), impl->options);
    co_return co_await std::move(lookup);
}

asio::awaitable<AddressResult> DnsResolver::resolve_a(std::string name) {
    auto impl = impl_;
    auto lookup = impl->resolve_family(std::move(name), LDNS_RR_TYPE_A, impl->options);
    co_return co_await std::move(lookup);
}

asio::awaitable<AddressResult> DnsResolver::resolve_aaaa(std::string name) {
    auto impl = impl_;
    auto lookup = impl->resolve_family(std::move(name), LDNS_RR_TYPE_AAAA, impl->options);
    co_return co_await std::move(lookup);
}

asio::awaitable<TlsaResult> DnsResolver::resolve_tlsa(std::string name) {
    auto impl = impl_;
    auto lookup = impl->resolve_tlsa(std::move(name), impl->options);
    co_return co_await std::move(lookup);
}

asio::awaitable<TextResult> DnsResolver::resolve_txt(std::string name) {
    auto impl = impl_;
    auto lookup = impl->resolve_txt(std::move(name), impl->options);
    co_return co_await std::move(lookup);
}

asio::awaitable<NameResult> DnsResolver::resolve_mx_names(std::string domain) {
    auto impl = impl_;
    auto lookup = impl->resolve_mx_names(std::move(domain), impl->options);
    co_return co_await std::move(lookup);
}

asio::awaitable<NameResult> DnsResolver::resolve_ptr(asio::ip::address address) {
    auto impl = impl_;
    auto lookup = impl->resolve_ptr(address, impl->options);
    co_return co_await std::move(lookup);
}

std::string reverse_name(const asio::ip::address& address) {
    if (address.is_v6() && address.to_v6().is_v4_mapped()) return reverse_name(address.to_v6().to_v4());
    std::string out;
    if (address.is_v4()) {
        const auto b = address.to_v4().to_bytes();
        for (int i = 3; i >= 0; --i) {
            out += std::to_string(b[static_cast<std::size_t>(i)]);
            if (i > 0) out += '.';
        }
        return out;
    }
    static constexpr char kHex[] = "0123456789abcdef";
    const auto b = address.to_v6().to_bytes();
    for (int i = 15; i >= 0; --i) {
        const auto byte = b[static_cast<std::size_t>(i)];
        out += kHex[byte & 0xF];
        out += '.';
        out += kHex[byte >> 4];
        if (i > 0) out += '.';
    }
    return out;
}

void DnsResolver::set_options(DnsOptions options) {
    impl_->options = std::make_shared<const DnsOptions>(std::move(options));
    impl_->trim_cache(0);
    ++impl_->generation;
}

const DnsOptions& DnsResolver::options() const { return *impl_->options; }

std::size_t DnsResolver::cache_size() const { return impl_->cache.size(); }

namespace {
AddressScope v4_scope(const asio::ip::address_v4& a) {
    const std::uint32_t v = a.to_uint();
    auto in = [v](std::uint32_t net, int bits) { return (v >> (32 - bits)) == (net >> (32 - bits)); };
    if (in(0x00000000, 8) || in(0x7f000000, 8) || in(0xa9fe0000, 16) || in(0xe0000000, 4) || in(0xf0000000, 4))
        return AddressScope::Internal;  // 0/8, 127/8, 169.254/16, 224/4, 240/4 (with 255.255.255.255)
    if (in(0x0a000000, 8) || in(0xac100000, 12) || in(0xc0a80000, 16) || in(0x64400000, 10))
        return AddressScope::Private;   // 10/8, 172.16/12, 192.168/16, 100.64/10
    return AddressScope::Public;
}
}  // namespace

AddressScope address_scope(const asio::ip::address& address) {
    if (address.is_v4()) return v4_scope(address.to_v4());
    const auto v6 = address.to_v6();
    const auto b = v6.to_bytes();
    auto v4_at_end = [&] {
        return asio::ip::address_v4(asio::ip::address_v4::bytes_type{b[12], b[13], b[14], b[15]});
    };
    if (v6.is_v4_mapped()) return v4_scope(v4_at_end());
    const bool first_96_zero = std::all_of(b.begin(), b.begin() + 12, [](unsigned char c) { return c == 0; });
    if (first_96_zero) {  // ::, ::1, and the deprecated IPv4-compatible ::a.b.c.d
        if (v6.is_unspecified() || v6.is_loopback()) return AddressScope::Internal;
        return v4_scope(v4_at_end());
    }
    static constexpr unsigned char kNat64[12] = {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (std::equal(b.begin(), b.begin() + 12, kNat64)) return v4_scope(v4_at_end());
    if (b[0] == 0xff) return AddressScope::Internal;                           // multicast ff00::/8
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return AddressScope::Internal;  // link-local fe80::/10
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return AddressScope::Private;   // site-local fec0::/10
    if ((b[0] & 0xfe) == 0xfc) return AddressScope::Private;                   // ULA fc00::/7
    return AddressScope::Public;
}

std::string_view to_string(AddressScope scope) {
    switch (scope) {
        case AddressScope::Public: return "public";
        case AddressScope::Private: return "private";
        case AddressScope::Internal: return "internal";
    }
    return "?";
}

std::string filter_target_addresses(std::vector<MxHost>& hosts, const TargetAddressPolicy& policy) {
    std::string refused;
    for (auto& h : hosts) {
        std::string mine;
        std::erase_if(h.addresses, [&](const asio::ip::address& a) {
            const AddressScope s = address_scope(a);
            if (policy.allows(s)) return false;
            mine += (mine.empty() ? "" : ", ") + a.to_string() + " (" + std::string(to_string(s)) + ")";
            return true;
        });
        if (!mine.empty()) refused += (refused.empty() ? "" : "; ") + h.name + " [" + mine + "]";
    }
    std::erase_if(hosts, [](const MxHost& h) { return h.addresses.empty(); });
    return refused;
}

std::optional<asio::ip::udp::endpoint> parse_dns_server(std::string_view text) {
    auto parse_port = [](std::string_view s) -> std::optional<std::uint16_t> {
        if (s.empty() || s.size() > 5) return std::nullopt;
        unsigned long v = 0;
        for (char c : s) {
            if (c < '0' || c > '9') return std::nullopt;
            v = v * 10 + static_cast<unsigned long>(c - '0');
        }
        if (v == 0 || v > 65535) return std::nullopt;
        return static_cast<std::uint16_t>(v);
    };
    std::string_view host = text;
    std::uint16_t port = 53;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = text.substr(1, close - 1);
        auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            auto p = rest.front() == ':' ? parse_port(rest.substr(1)) : std::nullopt;
            if (!p) return std::nullopt;
            port = *p;
        }
    } else if (std::count(text.begin(), text.end(), ':') == 1) {
        // One colon: IPv4 and a port. More: a bare IPv6 address, which cannot carry one.
        auto colon = text.find(':');
        host = text.substr(0, colon);
        auto p = parse_port(text.substr(colon + 1));
        if (!p) return std::nullopt;
        port = *p;
    }
    if (host.empty()) return std::nullopt;
    boost::system::error_code ec;
    auto address = asio::ip::make_address(std::string(host), ec);
    if (ec) return std::nullopt;
    return udp::endpoint(address, port);
}

std::vector<asio::ip::udp::endpoint> servers_from_resolv_conf(const std::string& path) {
    std::vector<udp::endpoint> servers;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        // resolv.conf(5): '#' or ';' in the first column starts a comment.
        if (line.empty() || line[0] == '#' || line[0] == ';') continue;
        std::istringstream words(line);
        std::string keyword, value;
        if (!(words >> keyword >> value) || keyword != "nameserver") continue;
        if (auto server = parse_dns_server(value)) servers.push_back(*server);
    }
    // resolv.conf(5): with no nameserver line, the name server on the local machine.
    if (servers.empty()) servers.emplace_back(asio::ip::make_address_v4("127.0.0.1"), 53);
    return servers;
}

std::vector<asio::ip::udp::endpoint> configured_servers(const std::vector<std::string>& listed) {
    std::vector<asio::ip::udp::endpoint> out;
    for (const auto& s : listed)
        if (auto e = parse_dns_server(s)) out.push_back(*e);
    if (out.empty()) out = servers_from_resolv_conf();
    return out;
}

}  // namespace edge::dns
