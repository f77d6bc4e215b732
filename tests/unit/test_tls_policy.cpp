// Which TLS policy a next-hop host gets (issue 20, tls_policy.hpp and resolve_target):
// DANE > MTA-STS > the connector's (Domain Security or TlsAuthLevel), with a fake DNS
// and a fake MTA-STS source — no sockets.
#include "next_hop.hpp"
#include "tls_policy.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <map>

using namespace edge;
using namespace edge::send;
namespace asio = boost::asio;

namespace {

using Source = PeerTlsPolicy::Source;

SendConnector tls_connector(config::TlsAuthLevel level, bool domain_secure = false) {
    SendConnector c;
    c.name = "Internet";
    c.address_spaces = {*routing::AddressSpace::parse("SMTP:*;1")};
    c.fqdn = "edge.contoso.com";
    c.allow_private_target_addresses = true;
    c.tls_auth_level = level;
    c.domain_secure = domain_secure;
    return c;
}

std::shared_ptr<SendConfig> tls_config(SendConnector c) {
    auto cfg = std::make_shared<SendConfig>();
    cfg->server_fqdn = "edge.contoso.com";
    cfg->connectors = {c};
    routing::SendConnectorRoute r;
    r.name = c.name;
    r.enabled = true;
    r.address_spaces = c.address_spaces;
    r.dns_routing_enabled = true;
    cfg->categorizer = std::make_shared<routing::Categorizer>(
        routing::AcceptedDomainTable(std::vector<routing::AcceptedDomain>{}), std::vector<routing::SendConnectorRoute>{r});
    return cfg;
}

// MX hosts mx1/mx2.<domain> on 192.0.2.1/2; TLSA answers as the test sets them.
struct TlsFakeDns final : NextHopDns {
    bool dane = true;
    bool mx_secure = true;
    std::map<std::string, dns::TlsaResult> tlsa;
    asio::awaitable<MxResult> resolve_mx(std::string domain, bool) override {
        MxResult r;
        r.status = DnsStatus::Ok;
        r.authenticated = mx_secure;
        r.hosts.push_back(MxHost{"mx1." + domain, 10, {asio::ip::make_address("192.0.2.1")}, false});
        r.hosts.push_back(MxHost{"mx2." + domain, 20, {asio::ip::make_address("192.0.2.2")}, false});
        co_return r;
    }
    asio::awaitable<AddressResult> resolve_address(std::string, bool) override {
        AddressResult r;
        r.status = DnsStatus::NoData;
        co_return r;
    }
    bool dane_enabled() const override { return dane; }
    asio::awaitable<dns::TlsaResult> resolve_tlsa(std::string name) override {
        auto it = tlsa.find(name);
        if (it != tlsa.end()) co_return it->second;
        dns::TlsaResult r;
        r.status = DnsStatus::NoData;
        r.authenticated = true;
        co_return r;
    }
};

dns::TlsaResult tlsa_answer(std::uint8_t usage, bool authenticated, DnsStatus status = DnsStatus::Ok, bool bogus = false) {
    dns::TlsaResult r;
    r.status = status;
    r.authenticated = authenticated;
    r.bogus = bogus;
    if (status == DnsStatus::Ok) r.records.push_back(dns::TlsaRecordData{usage, 1, 1, std::vector<std::uint8_t>(32, 0xab)});
    return r;
}

// MTA-STS that marks every host it is asked about (the seam helper B implements).
struct FakeSts final : DomainTlsPolicySource {
    std::vector<std::string> asked;
    asio::awaitable<void> apply(const std::string& domain, Target& target) override {
        asked.push_back(domain);
        for (auto& h : target.hosts) {
            h.tls.source = Source::MtaSts;
            h.tls.require_tls = h.tls.verify_chain = true;
            h.tls.names = {h.name};
        }
        co_return;
    }
};

Target resolve(const SendConfig& cfg, const std::string& domain, NextHopDns& dns, DomainTlsPolicySource* sts) {
    asio::io_context io;
    const std::function<void(const std::string&)> say;  // outlives the lookup (resolve_target holds a reference)
    auto f = asio::co_spawn(io, resolve_target(cfg, domain, dns, say, sts), asio::use_future);
    io.run();
    return f.get();
}

}  // namespace

TEST_CASE("the connector's TlsAuthLevel sets what each host must prove", "[tls policy]") {
    using L = config::TlsAuthLevel;
    auto none = connector_tls_policy(tls_connector(L::None), "mx1.fabrikam.example", "");
    CHECK(none.source == Source::Opportunistic);
    CHECK_FALSE(none.require_tls);
    auto enc = connector_tls_policy(tls_connector(L::EncryptionOnly), "mx1.fabrikam.example", "");
    CHECK(enc.require_tls);  // any level requires TLS
    CHECK_FALSE(enc.verify_chain);
    CHECK(policy_label(enc) == "TlsAuthLevel EncryptionOnly");
    auto cv = connector_tls_policy(tls_connector(L::CertificateValidation), "mx1.fabrikam.example", "");
    CHECK((cv.require_tls && cv.verify_chain && cv.names.empty()));
    auto dv = connector_tls_policy(tls_connector(L::DomainValidation), "mx1.fabrikam.example", "");
    CHECK(dv.names == std::vector<std::string>{"mx1.fabrikam.example"});  // TlsDomain empty: the host's name
    auto with_domain = tls_connector(L::DomainValidation);
    with_domain.tls_domain = "relay.fabrikam.example";
    CHECK(connector_tls_policy(with_domain, "mx1.fabrikam.example", "").names ==
          std::vector<std::string>{"relay.fabrikam.example"});
    auto ds = connector_tls_policy(tls_connector(L::None, true), "mx1.fabrikam.example", "fabrikam.example");
    CHECK(ds.source == Source::DomainSecure);
    CHECK(ds.names == std::vector<std::string>{"fabrikam.example"});  // the partner's domain, not the MX
    CHECK(policy_label(ds) == "Domain Security");
}

TEST_CASE("only DANE-TA and DANE-EE records with known selectors and matching types are usable", "[tls policy]") {
    std::vector<TlsaRecord> all = {{0, 0, 1, {1}}, {1, 1, 1, {2}}, {2, 0, 1, {3}}, {3, 1, 1, {4}}, {3, 2, 1, {5}}, {3, 1, 3, {6}}};
    auto usable = usable_tlsa(all);
    REQUIRE(usable.size() == 2);
    CHECK(usable[0].usage == 2);
    CHECK(usable[1].usage == 3);
    // DANE-EE alone checks no name (RFC 7672 §3.1.1); DANE-TA checks the MX host and the domain.
    CHECK(dane_tls_policy("mx1.fabrikam.example", "fabrikam.example", {all[3]}).names.empty());
    CHECK(dane_tls_policy("mx1.fabrikam.example", "fabrikam.example", {all[2]}).names ==
          std::vector<std::string>{"mx1.fabrikam.example", "fabrikam.example"});
}

TEST_CASE("policy precedence: DANE over MTA-STS over the connector's level", "[tls policy]") {
    PeerTlsPolicy connector, dane, sts;
    connector.source = Source::TlsAuthLevel;
    dane.source = Source::Dane;
    sts.source = Source::MtaSts;
    CHECK(choose_tls_policy(connector, dane, sts).source == Source::Dane);
    CHECK(choose_tls_policy(connector, std::nullopt, sts).source == Source::MtaSts);
    CHECK(choose_tls_policy(connector, std::nullopt, std::nullopt).source == Source::TlsAuthLevel);
}

TEST_CASE("next-hop resolution: usable authenticated TLSA makes the host DANE and MTA-STS is not asked", "[tls policy]") {
    auto cfg = tls_config(tls_connector(config::TlsAuthLevel::DomainValidation));
    TlsFakeDns dns;
    dns.tlsa["_25._tcp.mx1.fabrikam.example"] = tlsa_answer(3, true);
    FakeSts sts;
    Target t = resolve(*cfg, "fabrikam.example", dns, &sts);
    REQUIRE(t.kind == Target::Kind::Hosts);
    REQUIRE(t.hosts.size() == 2);
    CHECK(t.hosts[0].tls.source == Source::Dane);
    CHECK(t.hosts[0].tls.tlsa.size() == 1);
    CHECK(t.hosts[0].tls.policy_text.starts_with("3 1 1 abab"));
    CHECK(t.hosts[1].tls.source == Source::TlsAuthLevel);  // no TLSA: the connector's level
    CHECK(sts.asked.empty());                              // RFC 8461 §2: DANE wins where it exists
}

TEST_CASE("next-hop resolution: no DANE host (insecure, unusable or no records) asks MTA-STS", "[tls policy]") {
    auto cfg = tls_config(tls_connector(config::TlsAuthLevel::None));
    TlsFakeDns dns;
    dns.tlsa["_25._tcp.mx1.fabrikam.example"] = tlsa_answer(3, false);  // not authenticated
    dns.tlsa["_25._tcp.mx2.fabrikam.example"] = tlsa_answer(1, true);   // PKIX-EE: unusable for SMTP
    FakeSts sts;
    Target t = resolve(*cfg, "fabrikam.example", dns, &sts);
    REQUIRE(t.kind == Target::Kind::Hosts);
    CHECK(sts.asked == std::vector<std::string>{"fabrikam.example"});
    CHECK(t.hosts[0].tls.source == Source::MtaSts);

    // An insecure MX RRset: no DANE at all (RFC 7672 §2.2.1), whatever the TLSA says.
    TlsFakeDns insecure;
    insecure.mx_secure = false;
    insecure.tlsa["_25._tcp.mx1.fabrikam.example"] = tlsa_answer(3, true);
    t = resolve(*cfg, "fabrikam.example", insecure, nullptr);
    CHECK(t.hosts[0].tls.source == Source::Opportunistic);
}

TEST_CASE("next-hop resolution: a bogus TLSA answer leaves the host out, and none left is a 4.7.5 retry", "[tls policy]") {
    auto cfg = tls_config(tls_connector(config::TlsAuthLevel::None));
    TlsFakeDns dns;
    dns.tlsa["_25._tcp.mx1.fabrikam.example"] = tlsa_answer(3, false, DnsStatus::Transient, true);
    Target t = resolve(*cfg, "fabrikam.example", dns, nullptr);
    REQUIRE(t.kind == Target::Kind::Hosts);
    REQUIRE(t.hosts.size() == 1);
    CHECK(t.hosts[0].name == "mx2.fabrikam.example");
    dns.tlsa["_25._tcp.mx2.fabrikam.example"] = tlsa_answer(3, false, DnsStatus::Transient, true);
    t = resolve(*cfg, "fabrikam.example", dns, nullptr);
    CHECK(t.kind == Target::Kind::Transient);
    CHECK(t.error.starts_with("451 4.7.5 DANE: "));
    CHECK(t.error.find("bogus") != std::string::npos);
}

TEST_CASE("next-hop resolution: Domain Security for a listed domain, not for others", "[tls policy]") {
    auto cfg = tls_config(tls_connector(config::TlsAuthLevel::None, true));
    cfg->domain_secure_domains = {"fabrikam.example"};
    TlsFakeDns dns;
    dns.dane = false;
    FakeSts sts;
    Target t = resolve(*cfg, "fabrikam.example", dns, &sts);
    CHECK(t.domain_secure);
    CHECK(t.hosts[0].tls.source == Source::DomainSecure);
    CHECK(t.hosts[0].tls.names == std::vector<std::string>{"fabrikam.example"});
    CHECK(sts.asked.empty());
    t = resolve(*cfg, "contoso.example", dns, &sts);
    CHECK_FALSE(t.domain_secure);
    CHECK(t.hosts[0].tls.source == Source::MtaSts);
}
