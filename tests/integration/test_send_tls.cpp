// Outbound TLS authentication end to end (issue 20): the real edge-transport relays to
// smtp_peer.py peers that present certificates of the tests' own CA (test_ca.hpp) —
// valid, expired, for another name, self-signed — under each TlsAuthLevel, with Domain
// Security to a partner, and an opportunistic session that falls back to clear text
// saying why. Each refusal leaves the message in Retry with a LastError that says why.
#include "dns_server.hpp"
#include "edge_server.hpp"
#include "smtp_peer.hpp"
#include "test_ca.hpp"
#include "unbound_server.hpp"

#include <catch2/catch.hpp>

#include <dirent.h>

#include <filesystem>

using namespace edge::test;
using namespace std::chrono_literals;

namespace {

// The peers and the certificates, made once per test case.
struct TlsPeers {
    TempDir dir;
    TestCa ca{dir.sub("ca")};
    TestCertificate valid = ca.issue("valid", {"mx.tls.test"});
    TestCertificate expired = ca.issue("expired", {"mx.tls.test"}, Validity::Expired);
    TestCertificate wrong = ca.issue("wrong", {"other.example.test"});
    TestCertificate self = self_signed(dir.sub("ca"), "self", {"mx.tls.test"});
};

void tls_relay_setup(EdgeServer& s, const SmtpPeer& back, const std::string& ca_file) {
    s.must_edgectl("New-AcceptedDomain -Name Tests -DomainName *.test -DomainType ExternalRelay");
    s.must_edgectl("New-SendConnector Back -AddressSpaces back.test -DNSRoutingEnabled '$false' -SmartHosts " +
                   back.ip() + " -Port " + std::to_string(back.port()));
    s.must_edgectl("Set-TransportServer -TlsCertificateAuthorityFile " + shell_quote(ca_file));
}

// A smart-host connector `name` for domain <name>.test to `peer`, with `extra` settings.
void connector_to(EdgeServer& s, const std::string& name, const SmtpPeer& peer, const std::string& extra) {
    s.must_edgectl("New-SendConnector " + name + " -AddressSpaces " + name + ".test -DNSRoutingEnabled '$false' -SmartHosts " +
                   peer.ip() + " -Port " + std::to_string(peer.port()) + " -ProtocolLoggingLevel Verbose " + extra);
}

void send_to(const EdgeServer& s, const std::string& rcpt, const std::string& tag) {
    SmtpClient c(s.port());
    REQUIRE(c.reply().starts_with("220"));
    REQUIRE(c.command("EHLO client.test").starts_with("250"));
    auto r = c.send_mail("sender@back.test", {rcpt},
                         "From: sender@back.test\r\nTo: " + rcpt + "\r\nSubject: " + tag + "\r\n\r\nHello " + tag + ".\r\n");
    REQUIRE(r.starts_with("250"));
    c.command("QUIT");
}

// LastError of next-hop queue `name` ("" while it has none).
std::string last_error(const EdgeServer& s, const std::string& name) {
    edge::queue::QueueDbOptions o;
    o.recover_leases = false;
    auto db = edge::queue::QueueDb::open(s.data(), o);
    if (!db) return {};
    auto q = (*db)->get_queue(edge::queue::QueueId::next_hop_domain(name));
    return q && q->status == edge::queue::QueueStatus::Retry ? q->last_error : std::string();
}

// Waits until queue `name` is in Retry with a LastError holding every one of `parts`.
bool retry_with(const EdgeServer& s, const std::string& name, const std::vector<std::string>& parts) {
    return wait_until([&] {
        std::string e = last_error(s, name);
        if (e.empty()) return false;
        for (const auto& p : parts)
            if (e.find(p) == std::string::npos) return false;
        return true;
    }, 30s);
}

std::string send_log(const EdgeServer& s) {
    std::string log;
    const std::string dir = s.data() + "/Logs/ProtocolLog/SmtpSend";
    if (DIR* d = ::opendir(dir.c_str())) {
        while (auto* e = ::readdir(d)) {
            if (!std::string(e->d_name).starts_with("SEND")) continue;
            std::ifstream in(dir + "/" + e->d_name);
            std::stringstream ss;
            ss << in.rdbuf();
            log += ss.str();
        }
        ::closedir(d);
    }
    return log;
}

std::vector<std::string> starttls_peer(const TestCertificate& c) { return {"--starttls", c.chain + "," + c.key}; }

}  // namespace

TEST_CASE("TlsAuthLevel EncryptionOnly delivers over TLS to every certificate, checked or not", "[send][tls][tlsauth]") {
    TlsPeers k;
    SmtpPeer back, valid(starttls_peer(k.valid)), expired(starttls_peer(k.expired)), wrong(starttls_peer(k.wrong)),
        self(starttls_peer(k.self));
    EdgeServer s;
    tls_relay_setup(s, back, k.ca.cert());
    connector_to(s, "valid", valid, "-TlsAuthLevel EncryptionOnly");
    connector_to(s, "expired", expired, "-TlsAuthLevel EncryptionOnly");
    connector_to(s, "wrong", wrong, "-TlsAuthLevel EncryptionOnly");
    connector_to(s, "self", self, "-TlsAuthLevel EncryptionOnly");
    s.start();
    for (const char* n : {"valid", "expired", "wrong", "self"}) send_to(s, std::string("x@") + n + ".test", n);
    for (SmtpPeer* p : {&valid, &expired, &wrong, &self}) {
        auto got = p->wait_for_messages(1, 30s);
        INFO(s.server_log() + p->log_text());
        REQUIRE(got.size() == 1);
        CHECK(got[0].tls);
    }
}

TEST_CASE("TlsAuthLevel CertificateValidation refuses expired and self-signed certificates, the message waits in Retry saying why",
          "[send][tls][tlsauth]") {
    TlsPeers k;
    SmtpPeer back, valid(starttls_peer(k.valid)), expired(starttls_peer(k.expired)), wrong(starttls_peer(k.wrong)),
        self(starttls_peer(k.self));
    EdgeServer s;
    tls_relay_setup(s, back, k.ca.cert());
    for (auto [n, p] : {std::pair<const char*, SmtpPeer*>{"valid", &valid}, {"expired", &expired}, {"wrong", &wrong}, {"self", &self}})
        connector_to(s, n, *p, "-TlsAuthLevel CertificateValidation");
    s.start();
    for (const char* n : {"valid", "expired", "wrong", "self"}) send_to(s, std::string("x@") + n + ".test", n);
    // Trusted chains go, whatever the name (that is DomainValidation's check).
    REQUIRE(valid.wait_for_messages(1, 30s).size() == 1);
    REQUIRE(wrong.wait_for_messages(1, 30s).size() == 1);
    INFO(s.server_log());
    CHECK(retry_with(s, "expired", {"451 4.7.5 TLS with [" + expired.ip() + "]", "certificate has expired",
                                    "TlsAuthLevel CertificateValidation"}));
    CHECK(retry_with(s, "self", {"4.7.5", "self-signed certificate", "TlsAuthLevel CertificateValidation"}));
    INFO(last_error(s, "expired") + " | " + last_error(s, "self"));
    // Never in clear after the refusal: no MAIL reached them at all.
    CHECK(expired.events("mail").empty());
    CHECK(self.events("mail").empty());
    CHECK(expired.messages().empty());
    CHECK(self.messages().empty());
    s.stop();
    const std::string log = send_log(s);
    CHECK(log.find("peer not verified: certificate has expired (TlsAuthLevel CertificateValidation)") != std::string::npos);
    CHECK(log.find("peer verified (TlsAuthLevel CertificateValidation)") != std::string::npos);
}

TEST_CASE("TlsAuthLevel DomainValidation also refuses a certificate for another name (TlsDomain)", "[send][tls][tlsauth]") {
    TlsPeers k;
    SmtpPeer back, valid(starttls_peer(k.valid)), expired(starttls_peer(k.expired)), wrong(starttls_peer(k.wrong));
    EdgeServer s;
    tls_relay_setup(s, back, k.ca.cert());
    for (auto [n, p] : {std::pair<const char*, SmtpPeer*>{"valid", &valid}, {"expired", &expired}, {"wrong", &wrong}})
        connector_to(s, n, *p, "-TlsAuthLevel DomainValidation -TlsDomain mx.tls.test");
    s.start();
    for (const char* n : {"valid", "expired", "wrong"}) send_to(s, std::string("x@") + n + ".test", n);
    auto got = valid.wait_for_messages(1, 30s);
    INFO(s.server_log());
    REQUIRE(got.size() == 1);
    CHECK(got[0].tls);
    CHECK(retry_with(s, "wrong", {"451 4.7.5", "hostname mismatch", "TlsAuthLevel DomainValidation"}));
    CHECK(retry_with(s, "expired", {"451 4.7.5", "certificate has expired", "TlsAuthLevel DomainValidation"}));
    CHECK(wrong.events("mail").empty());
    CHECK(expired.events("mail").empty());
}

TEST_CASE("DomainValidation by MX checks the MX host's own name when TlsDomain is empty", "[send][tls][tlsauth]") {
    TlsPeers k;
    const std::uint16_t port = free_port();
    SmtpPeer back, good(starttls_peer(k.valid), "127.0.0.21", port), other(starttls_peer(k.valid), "127.0.0.22", port);
    // good.test's MX is mx.tls.test (the certificate's name); bad.test's MX is named otherwise.
    NsdServer dns({{"good.test", "@ IN MX 10 mx.tls.test.\n"},
                   {"tls.test", "mx IN A 127.0.0.21\n"},
                   {"bad.test", "@ IN MX 10 mx\nmx IN A 127.0.0.22\n"}});
    EdgeServer s;
    tls_relay_setup(s, back, k.ca.cert());
    s.must_edgectl("Set-TransportServer -InternalDNSServers " + dns.endpoint());
    s.must_edgectl("New-SendConnector Internet -AddressSpaces '*' -AllowPrivateTargetAddresses '$true' -Port " +
                   std::to_string(port) + " -TlsAuthLevel DomainValidation");
    s.start();
    send_to(s, "a@good.test", "good");
    send_to(s, "b@bad.test", "bad");
    auto got = good.wait_for_messages(1, 30s);
    INFO(s.server_log());
    REQUIRE(got.size() == 1);
    CHECK(got[0].tls);
    CHECK(retry_with(s, "bad.test", {"451 4.7.5 TLS with mx.bad.test (127.0.0.22:", "hostname mismatch"}));
    CHECK(other.events("mail").empty());
}

TEST_CASE("opportunistic TLS that fails falls back to clear text, and the SmtpSend log says why first", "[send][tls]") {
    TlsPeers k;
    auto args = starttls_peer(k.valid);
    args.insert(args.end(), {"--tls-max-version", "1.1"});
    SmtpPeer back, old(args);
    EdgeServer s;
    tls_relay_setup(s, back, k.ca.cert());
    connector_to(s, "old", old, "");
    s.start();
    send_to(s, "x@old.test", "old");
    auto got = old.wait_for_messages(1, 30s);
    INFO(s.server_log() + old.log_text());
    REQUIRE(got.size() == 1);
    CHECK(!got[0].tls);
    s.stop();
    const std::string log = send_log(s);
    INFO(log);
    const auto failed = log.find("TLS negotiation failed: ");
    REQUIRE(failed != std::string::npos);
    // A reason, not a bare "failed": OpenSSL's alert when the peer sends one (Python's
    // TLS 1.1-only server just closes, which is what we saw and say).
    const std::string reason = log.substr(failed + 24, 60);
    CHECK((reason.find("protocol") != std::string::npos || reason.find("version") != std::string::npos ||
           reason.starts_with("the remote server closed the connection during the handshake")));
    CHECK(log.find("retrying in clear after the TLS failure", failed) != std::string::npos);
}

TEST_CASE("Domain Security: mail to a listed partner goes over mutual TLS, and a partner certificate for another name is refused",
          "[send][tls][domainsecure]") {
    TlsPeers k;
    TestCertificate partner_cert = k.ca.issue("partner", {"partner.test"});
    TestCertificate client = k.ca.issue("client", {"edge.test.example"});
    const std::uint16_t port = free_port();
    auto mutual = [&](const TestCertificate& c) {
        auto a = starttls_peer(c);
        a.insert(a.end(), {"--client-ca", k.ca.cert()});
        return a;
    };
    SmtpPeer back, partner(mutual(partner_cert), "127.0.0.31", port), impostor(mutual(k.wrong), "127.0.0.32", port),
        plain(starttls_peer(k.self), "127.0.0.33", port);
    NsdServer dns({{"partner.test", "@ IN MX 10 mx\nmx IN A 127.0.0.31\n"},
                   {"impostor.test", "@ IN MX 10 mx\nmx IN A 127.0.0.32\n"},
                   {"unlisted.test", "@ IN MX 10 mx\nmx IN A 127.0.0.33\n"}});
    EdgeServer s;
    tls_relay_setup(s, back, k.ca.cert());
    // Our client certificate, in the store's layout: <DataDirectory>/certificates/<THUMBPRINT>.pem/.key.
    const std::string thumb = thumbprint(client.cert);
    std::filesystem::create_directories(s.data() + "/certificates");
    std::filesystem::copy_file(client.chain, s.data() + "/certificates/" + thumb + ".pem");
    std::filesystem::copy_file(client.key, s.data() + "/certificates/" + thumb + ".key");
    s.must_edgectl("Set-TransportServer -InternalDNSServers " + dns.endpoint());
    s.must_edgectl("Set-TransportConfig -TLSSendDomainSecureList partner.test,impostor.test");
    s.must_edgectl("New-SendConnector Internet -AddressSpaces '*' -AllowPrivateTargetAddresses '$true' -Port " +
                   std::to_string(port) + " -DomainSecureEnabled '$true' -TlsCertificateName " + thumb);
    s.start();
    send_to(s, "a@partner.test", "partner");
    send_to(s, "b@impostor.test", "impostor");
    send_to(s, "c@unlisted.test", "unlisted");
    auto got = partner.wait_for_messages(1, 30s);
    INFO(s.server_log() + partner.log_text());
    REQUIRE(got.size() == 1);
    CHECK(got[0].tls);
    CHECK(got[0].tls_client_subject == "edge.test.example");  // mutual TLS: we presented our certificate
    CHECK(retry_with(s, "impostor.test", {"451 4.7.5", "hostname mismatch", "Domain Security"}));
    CHECK(impostor.events("mail").empty());
    // A domain that is not listed keeps opportunistic TLS (the self-signed peer is fine).
    REQUIRE(plain.wait_for_messages(1, 30s).size() == 1);
}

TEST_CASE("Domain Security without TlsCertificateName presents the certificate enabled for SMTP, not the bootstrap one",
          "[send][tls][domainsecure]") {
    TlsPeers k;
    TestCertificate partner_cert = k.ca.issue("partner", {"partner.test"});
    TestCertificate enabled = k.ca.issue("enabled", {"enabled.test.example"});
    const std::uint16_t port = free_port();
    auto a = starttls_peer(partner_cert);
    a.insert(a.end(), {"--client-ca", k.ca.cert()});
    SmtpPeer back, partner(a, "127.0.0.34", port);
    NsdServer dns(std::vector<DnsZone>{{"partner.test", "@ IN MX 10 mx\nmx IN A 127.0.0.34\n"}});
    EdgeServer s;
    tls_relay_setup(s, back, k.ca.cert());
    s.must_edgectl("Set-TransportServer -InternalDNSServers " + dns.endpoint());
    s.must_edgectl("Set-TransportConfig -TLSSendDomainSecureList partner.test");
    s.must_edgectl("New-SendConnector Internet -AddressSpaces '*' -AllowPrivateTargetAddresses '$true' -Port " +
                   std::to_string(port) + " -DomainSecureEnabled '$true'");
    s.must_edgectl("Import-ExchangeCertificate -Path " + shell_quote(enabled.chain) + " -KeyPath " + shell_quote(enabled.key) +
                   " -Services SMTP");
    s.start();
    send_to(s, "a@partner.test", "partner");
    auto got = partner.wait_for_messages(1, 30s);
    INFO(s.server_log() + partner.log_text());
    REQUIRE(got.size() == 1);
    CHECK(got[0].tls_client_subject == "enabled.test.example");
}

TEST_CASE("DANE: TLSA 3 1 1 from a validating resolver decides, a mismatch or a bogus answer defers, an unsigned zone falls back",
          "[send][tls][dane]") {
    TlsPeers k;
    TestCertificate stranger = k.ca.issue("stranger", {"stranger.test"});
    const std::uint16_t port = free_port();
    const std::string tlsa = "_" + std::to_string(port) + "._tcp.mx IN TLSA 3 1 1 ";
    // Every peer presents the same certificate (self-signed: DANE-EE needs no CA); only
    // the published TLSA records differ.
    SmtpPeer back, match(starttls_peer(k.self), "127.0.0.41", port), mismatch(starttls_peer(k.self), "127.0.0.42", port),
        bogus(starttls_peer(k.self), "127.0.0.43", port), plain(starttls_peer(k.self), "127.0.0.44", port);
    TempDir keys;
    SignedZone z_match = sign_zone(keys.path(), "match.test", "@ IN MX 10 mx\nmx IN A 127.0.0.41\n" + tlsa + spki_sha256(k.self.cert) + "\n");
    SignedZone z_mismatch =
        sign_zone(keys.path(), "mismatch.test", "@ IN MX 10 mx\nmx IN A 127.0.0.42\n" + tlsa + spki_sha256(stranger.cert) + "\n");
    SignedZone z_bogus = sign_zone(keys.path(), "bogus.test", "@ IN MX 10 mx\nmx IN A 127.0.0.43\n" + tlsa + spki_sha256(k.self.cert) + "\n");
    break_signature(z_bogus, "TLSA");
    // Unsigned: its TLSA record (which would not match) is not authenticated, so ignored.
    DnsZone z_plain{"plain.test", "@ IN MX 10 mx\nmx IN A 127.0.0.44\n" + tlsa + spki_sha256(stranger.cert) + "\n"};
    NsdServer nsd({z_match.zone, z_mismatch.zone, z_bogus.zone, z_plain});
    UnboundServer unbound(nsd, {"match.test", "mismatch.test", "bogus.test", "plain.test"},
                          {z_match.trust_anchor, z_mismatch.trust_anchor, z_bogus.trust_anchor});
    EdgeServer s;
    tls_relay_setup(s, back, k.ca.cert());
    s.must_edgectl("Set-TransportServer -InternalDNSServers " + nsd.endpoint() + " -DnssecValidatingResolver " + unbound.endpoint());
    s.must_edgectl("New-SendConnector Internet -AddressSpaces '*' -AllowPrivateTargetAddresses '$true' -ProtocolLoggingLevel Verbose -Port " +
                   std::to_string(port));
    s.start();
    send_to(s, "a@match.test", "match");
    send_to(s, "b@mismatch.test", "mismatch");
    send_to(s, "c@bogus.test", "bogus");
    send_to(s, "d@plain.test", "plain");
    INFO(s.server_log() + unbound.log_text());
    auto got = match.wait_for_messages(1, 30s);
    REQUIRE(got.size() == 1);
    CHECK(got[0].tls);
    auto fell_back = plain.wait_for_messages(1, 30s);
    REQUIRE(fell_back.size() == 1);
    CHECK(fell_back[0].tls);  // opportunistic TLS, unauthenticated
    const bool mismatch_deferred = retry_with(s, "mismatch.test", {"451 4.7.5 TLS with mx.mismatch.test", "(DANE)"});
    const bool bogus_deferred = retry_with(s, "bogus.test", {"4.7.5", "DANE", "bogus"});
    INFO("LastError: " + last_error(s, "mismatch.test") + " | " + last_error(s, "bogus.test"));
    CHECK(mismatch_deferred);
    CHECK(bogus_deferred);
    // Never in clear: the mismatched host saw TLS but no MAIL; the bogus one not even a connection.
    CHECK(mismatch.events("mail").empty());
    CHECK(!mismatch.events("starttls").empty());
    CHECK(bogus.events("connect").empty());
}
