// MTA-STS: the TXT lookup, the HTTPS policy fetch, the cache and the policy applied
// to a next hop (mta_sts.hpp).
#include "mta_sts.hpp"

#include "completion.hpp"
#include "queue_db.hpp"
#include "spawn.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>

namespace edge::sts {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using async::use_tuple;
// GCC 12 and temporaries in co_await expressions: see dns_resolver.cpp. Every co_await
// here awaits a call whose arguments are named objects or plain values.

namespace {

std::string address_text(const asio::ip::address& a) {
    return a.is_v6() && a.to_v6().is_v4_mapped() ? a.to_v6().to_v4().to_string() : a.to_string();
}

std::string join_lines(const std::vector<std::string>& lines) {
    std::string s;
    for (const auto& l : lines) s += (s.empty() ? "" : "\n") + l;
    return s;
}

std::int64_t unix_time(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// Content-Type text/plain, parameters allowed (RFC 8461 §3.3), case-insensitive.
bool is_text_plain(std::string_view v) {
    v = v.substr(0, v.find(';'));
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    if (v.size() != 10) return false;
    for (std::size_t i = 0; i < 10; ++i)
        if (std::tolower(static_cast<unsigned char>(v[i])) != "text/plain"[i]) return false;
    return true;
}

// What went wrong in a handshake, in OpenSSL's words: the verify result when the chain
// or name failed, else the library's reason.
std::string handshake_error(SSL* ssl, const boost::system::error_code& ec) {
    long v = SSL_get_verify_result(ssl);
    if (v != X509_V_OK) return X509_verify_cert_error_string(v);
    return ec.message();
}

}  // namespace

// ---- DNS -------------------------------------------------------------------------

void ResolverStsDns::apply(const std::vector<std::string>& internal, const std::vector<std::string>& external) {
    if (!internal_ || internal != internal_text_) {
        internal_ = std::make_shared<dns::DnsResolver>(executor_, dns::DnsOptions{dns::configured_servers(internal)});
        internal_text_ = internal;
    }
    if (!external_ || external != external_text_) {
        external_ = std::make_shared<dns::DnsResolver>(
            executor_, dns::DnsOptions{dns::configured_servers(external.empty() ? internal : external)});
        external_text_ = external;
    }
}

asio::awaitable<dns::TextResult> ResolverStsDns::resolve_txt(std::string name, bool external) {
    auto resolver = external ? external_ : internal_;  // held: a config change may replace it
    auto lookup = resolver->resolve_txt(std::move(name));
    co_return co_await std::move(lookup);
}

asio::awaitable<dns::AddressResult> ResolverStsDns::resolve_address(std::string host, bool external) {
    auto resolver = external ? external_ : internal_;
    auto lookup = resolver->resolve_address(std::move(host));
    co_return co_await std::move(lookup);
}

// ---- the fetch -------------------------------------------------------------------

std::unique_ptr<asio::ssl::context> make_fetch_context(const std::string& ca_file, std::string* why) {
    auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    ctx->set_verify_mode(asio::ssl::verify_peer);
    boost::system::error_code ec;
    ctx->set_default_verify_paths(ec);
    if (!ca_file.empty()) {
        ctx->load_verify_file(ca_file, ec);
        if (ec && why != nullptr) *why = fmt::format("TlsCertificateAuthorityFile {}: {}", ca_file, ec.message());
    }
    return ctx;
}

asio::awaitable<FetchResult> fetch_sts_policy(std::string host, std::vector<asio::ip::address> addresses,
                                              std::uint16_t port, std::chrono::seconds timeout, asio::ssl::context& ctx) {
    FetchResult r;
    r.result_type = "sts-policy-fetch-error";
    if (addresses.empty()) {
        r.error = fmt::format("{} has no address", host);
        co_return r;
    }
    auto executor = co_await asio::this_coro::executor;
    // RFC 8461 §3.3: one bound for the whole fetch, whatever the server does.
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (const auto& address : addresses) {
        beast::ssl_stream<beast::tcp_stream> stream(executor, ctx);
        beast::get_lowest_layer(stream).expires_at(deadline);
        // SNI, and the RFC 6125 name check OpenSSL makes during the handshake.
        SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
        SSL_set_hostflags(stream.native_handle(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        SSL_set1_host(stream.native_handle(), host.c_str());
        const tcp::endpoint endpoint(address, port);
        const std::string where = fmt::format("{} ({}:{})", host, address_text(address), port);
        auto [connect_ec] = co_await beast::get_lowest_layer(stream).async_connect(endpoint, use_tuple);
        if (connect_ec) {
            r.error = fmt::format("cannot connect to {}: {}", where, connect_ec.message());
            if (std::chrono::steady_clock::now() >= deadline) co_return r;
            continue;  // the next address
        }
        auto [tls_ec] = co_await stream.async_handshake(asio::ssl::stream_base::client, use_tuple);
        if (tls_ec) {
            r.error = fmt::format("TLS with {} failed: {}", where, handshake_error(stream.native_handle(), tls_ec));
            // RFC 8460 §4.3.2: the policy host's certificate did not verify.
            if (SSL_get_verify_result(stream.native_handle()) != X509_V_OK) r.result_type = "sts-webpki-invalid";
            co_return r;
        }
        http::request<http::empty_body> req{http::verb::get, "/.well-known/mta-sts.txt", 11};
        req.set(http::field::host, host);
        req.set(http::field::user_agent, "edge-transport");
        req.set(http::field::connection, "close");
        auto [write_ec, written] = co_await http::async_write(stream, req, use_tuple);
        (void)written;
        if (write_ec) {
            r.error = fmt::format("sending the request to {}: {}", where, write_ec.message());
            co_return r;
        }
        beast::flat_buffer buffer;
        http::response_parser<http::string_body> parser;
        parser.header_limit(16 * 1024);
        parser.body_limit(kMaxPolicySize);  // RFC 8461 §3.2: 64 KiB
        auto [read_ec, read] = co_await http::async_read(stream, buffer, parser, use_tuple);
        (void)read;
        if (read_ec) {
            r.error = read_ec == http::error::body_limit
                          ? fmt::format("the policy at {} is larger than {} octets", where, kMaxPolicySize)
                          : fmt::format("reading the answer of {}: {}", where, read_ec.message());
            co_return r;
        }
        auto& res = parser.get();
        // RFC 8461 §3.3: no redirects; only 200 is a policy.
        if (res.result_int() != 200) {
            r.error = fmt::format("{} answered HTTP {} (only 200 is a policy; redirects are not followed)", where,
                                  res.result_int());
            co_return r;
        }
        if (!is_text_plain(res[http::field::content_type])) {
            r.error = fmt::format("{} served Content-Type \"{}\", not text/plain", where,
                                  std::string(res[http::field::content_type].substr(0, 64)));
            co_return r;
        }
        r.ok = true;
        r.body = std::move(res.body());
        r.result_type.clear();
        co_return r;
    }
    co_return r;
}

// ---- the cache -------------------------------------------------------------------

std::string encode_cached_policy(const CachedPolicy& c) {
    return fmt::format("sts1\n{}\n{}\n{}", c.id, unix_time(c.fetched), c.text);
}

std::optional<CachedPolicy> decode_cached_policy(std::string_view s) {
    if (!s.starts_with("sts1\n")) return std::nullopt;
    s.remove_prefix(5);
    auto nl = s.find('\n');
    if (nl == std::string_view::npos || nl == 0 || nl > 32) return std::nullopt;
    CachedPolicy c;
    c.id.assign(s.substr(0, nl));
    s.remove_prefix(nl + 1);
    nl = s.find('\n');
    if (nl == std::string_view::npos || nl == 0 || nl > 19) return std::nullopt;
    std::int64_t t = 0;
    for (char ch : s.substr(0, nl)) {
        if (ch < '0' || ch > '9') return std::nullopt;
        t = t * 10 + (ch - '0');
    }
    c.fetched = std::chrono::system_clock::time_point(std::chrono::seconds(t));
    c.text.assign(s.substr(nl + 1));
    return c;
}

bool policy_fresh(const CachedPolicy& c, const StsPolicy& p, std::chrono::system_clock::time_point now) {
    return now < c.fetched + p.max_age;
}

bool refresh_due(const CachedPolicy& c, const StsPolicy& p, std::chrono::system_clock::time_point now) {
    const auto interval = std::min<std::chrono::seconds>(p.max_age / 2, std::chrono::hours(24));
    return now >= c.fetched + interval;
}

// ---- applying a policy ---------------------------------------------------------

std::vector<std::string> apply_sts_policy(const StsPolicy& policy, const std::string& domain, send::Target& target) {
    std::vector<std::string> outside;
    if (policy.mode == StsMode::None) return outside;
    const bool enforce = policy.mode == StsMode::Enforce;
    std::vector<send::Target::Host> kept;
    for (auto& h : target.hosts) {
        const bool listed = mx_allowed(policy, h.name);
        if (!listed) outside.push_back(h.name);
        if (!listed && enforce) continue;  // RFC 8461 §5: never delivered to an MX outside an enforced policy
        send::PeerTlsPolicy tls;
        tls.source = send::PeerTlsPolicy::Source::MtaSts;
        tls.require_tls = enforce;
        tls.verify_chain = true;
        tls.names = {h.name};  // §4.1: the certificate must be valid for the MX host name
        tls.report_only = !enforce;
        tls.policy_domain = domain;
        tls.policy_text = join_lines(policy.lines);
        h.tls = std::move(tls);
        kept.push_back(std::move(h));
    }
    target.hosts = std::move(kept);
    if (enforce && target.hosts.empty() && target.kind == send::Target::Kind::Hosts) {
        std::string names;
        for (const auto& n : outside) names += (names.empty() ? "" : ", ") + n;
        target.kind = send::Target::Kind::Transient;
        target.error = fmt::format("451 4.7.5 the MX hosts of {} ({}) are not in the MTA-STS policy of {} (mode enforce)",
                                   domain, names, domain);
    }
    return outside;
}

// ---- the policy source -----------------------------------------------------------

MtaStsPolicySource::MtaStsPolicySource(asio::any_io_executor executor, queue::QueueDb* db, StsDns& dns)
    : executor_(std::move(executor)), db_(db), dns_(dns) {}

MtaStsPolicySource::~MtaStsPolicySource() = default;

void MtaStsPolicySource::configure(const MtaStsSettings& s) {
    if (!ctx_ || s.ca_file != settings_.ca_file) {
        std::string why;
        ctx_ = make_fetch_context(s.ca_file, &why);
        if (!why.empty() && say_) say_("mta-sts: " + why);
    }
    settings_ = s;
}

void MtaStsPolicySource::report_failure(const std::string& domain, const std::string& result_type,
                                        const std::string& reason) {
    if (results_ == nullptr) return;
    send::TlsAttemptResult r;
    r.policy_domain = domain;
    r.policy_type = "sts";
    r.success = false;
    r.result_type = result_type;
    r.reason = reason;
    results_->record(r);
}

asio::awaitable<std::optional<CachedPolicy>> MtaStsPolicySource::fetch_and_store(std::string domain, std::string id,
                                                                                 bool external, bool report) {
    const std::string host = "mta-sts." + domain;
    auto lookup = dns_.resolve_address(host, external);
    auto addresses = co_await std::move(lookup);
    FetchResult f;
    if (addresses.status != dns::DnsStatus::Ok) {
        f.result_type = "sts-policy-fetch-error";
        f.error = addresses.error.empty() ? fmt::format("{}: {}", host, dns::to_string(addresses.status)) : addresses.error;
    } else {
        auto ctx = ctx_;  // held: a configure() meanwhile may replace it
        auto fetch = fetch_sts_policy(host, addresses.addresses, settings_.port, settings_.fetch_timeout, *ctx);
        f = co_await std::move(fetch);
    }
    std::optional<StsPolicy> parsed;
    if (f.ok) {
        std::string why;
        parsed = parse_sts_policy(f.body, &why);
        if (!parsed) {
            f.result_type = "sts-policy-invalid";
            f.error = fmt::format("the policy of {} is invalid: {}", domain, why);
        }
    }
    if (!parsed) {
        if (say_) say_(fmt::format("mta-sts: {}: {}", domain, f.error));
        if (report) report_failure(domain, f.result_type, f.error);
        co_return std::nullopt;
    }
    CachedPolicy c{std::move(id), std::chrono::system_clock::now(), std::move(f.body)};
    if (db_ != nullptr) {
        auto stored = encode_cached_policy(c);
        auto say = say_;
        db_->mta_sts_put_async(domain, std::move(stored), [say, domain](std::error_code ec) {
            if (ec && say) say(fmt::format("mta-sts: the policy of {} was not cached: {}", domain, ec.message()));
        });
    }
    co_return c;
}

asio::awaitable<void> MtaStsPolicySource::refresh(std::string domain, std::string id, bool external) {
    auto fetch = fetch_and_store(domain, std::move(id), external, /*report=*/true);
    (void)co_await std::move(fetch);  // a failure keeps the cached policy until its max_age (§5.1)
    refreshing_.erase(domain);
}

asio::awaitable<std::optional<MtaStsPolicySource::Active>> MtaStsPolicySource::policy_for(std::string domain, bool external) {
    const auto now = std::chrono::system_clock::now();
    std::optional<CachedPolicy> cached;
    std::optional<StsPolicy> cached_policy;
    if (db_ != nullptr)
        if (auto stored = db_->mta_sts_get(domain)) {
            cached = decode_cached_policy(*stored);
            if (cached) cached_policy = parse_sts_policy(cached->text);
            if (cached_policy && !policy_fresh(*cached, *cached_policy, now)) cached_policy.reset();  // past max_age
        }
    auto use_cached = [&]() -> std::optional<Active> {
        if (!cached_policy) return std::nullopt;
        return Active{*cached_policy, cached->id, true};
    };
    const std::string name = "_mta-sts." + domain;
    auto lookup = dns_.resolve_txt(name, external);
    auto txt = co_await std::move(lookup);
    std::optional<StsRecord> record;
    if (txt.status == dns::DnsStatus::Ok) record = select_sts_record(txt.texts);
    // No (valid) record, or DNS failing: a policy still within its max_age stays in
    // force (RFC 8461 §5.1) — removing the TXT record does not downgrade delivery.
    if (!record) co_return use_cached();
    if (cached_policy && cached->id == record->id) {
        if (refresh_due(*cached, *cached_policy, now) && refreshing_.insert(domain).second)
            async::spawn(executor_, refresh(domain, record->id, external), "MTA-STS refresh of " + domain);
        co_return use_cached();
    }
    // A new id, or nothing usable cached: fetch now. If that fails, a cached policy
    // within its max_age is used (the HTTPS server may be down), else there is none.
    auto fetch = fetch_and_store(domain, record->id, external, /*report=*/!cached_policy);
    auto fetched = co_await std::move(fetch);
    if (!fetched) co_return use_cached();
    auto p = parse_sts_policy(fetched->text);
    if (!p) co_return use_cached();
    co_return Active{std::move(*p), fetched->id, false};
}

asio::awaitable<void> MtaStsPolicySource::apply(const std::string& domain, send::Target& target) {
    // Internet delivery by MX only: smart hosts and internal next hops are the
    // administrator's, their TLS the connector's TlsAuthLevel.
    if (!settings_.enabled || target.kind != send::Target::Kind::Hosts || target.connector == nullptr ||
        !target.connector->dns_routing_enabled || !target.connector->internet_bound())
        co_return;
    auto lookup = policy_for(domain, target.connector->use_external_dns);
    auto active = co_await std::move(lookup);
    if (!active || active->policy.mode == StsMode::None) co_return;
    auto outside = apply_sts_policy(active->policy, domain, target);
    for (const auto& host : outside) {
        if (say_)
            say_(fmt::format("mta-sts: {}: MX {} is not in the policy (mode {}){}", domain, host,
                             to_string(active->policy.mode),
                             active->policy.mode == StsMode::Enforce ? ", not used" : ", reported only"));
        if (results_ != nullptr) {
            send::TlsAttemptResult r;
            r.policy_domain = domain;
            r.policy_type = "sts";
            r.mx_host = host;
            r.success = false;
            r.result_type = "validation-failure";
            r.reason = "the MX host matches no mx pattern of the MTA-STS policy";
            r.policy_text = active->policy.lines;
            results_->record(r);
        }
    }
}

}  // namespace edge::sts
