// Issue 18 on the real binaries, on loopback: SPF (the Sender ID agent), DKIM and DMARC
// against NSD serving the records, Authentication-Results as the hub receives it (read
// back by Python's email package), a forged Authentication-Results removed, and DKIM
// signing on the way out checked by dkimpy with the key fetched from NSD.
#include "dns_server.hpp"
#include "edge_server.hpp"
#include "smtp_peer.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#ifndef EDGE_SOURCE_DIR
#error "define EDGE_SOURCE_DIR"
#endif

using namespace edge::test;
using namespace std::chrono_literals;

namespace {

const std::string kAuthZone = R"(@ TXT "v=spf1 ip4:127.0.0.1 -all"
_dmarc TXT "v=DMARC1; p=reject"
bounce TXT "v=spf1 ip4:127.0.0.1 -all"
fail TXT "v=spf1 -all exp=why.fail.auth.test"
why.fail TXT "%{d} never sends from %{i}"
quarantine TXT "v=spf1 ?all"
_dmarc.quarantine TXT "v=DMARC1; p=quarantine"
)";
const std::string kOtherZone = R"(soft TXT "v=spf1 ~all"
)";
const std::string kStrictZone = R"(_dmarc TXT "v=DMARC1; p=reject; aspf=s"
bounce TXT "v=spf1 ip4:127.0.0.1 -all"
)";
const std::string kCoUkZone = R"(@ TXT "v=spf1 ?all"
_dmarc TXT "v=DMARC1; p=none; sp=reject"
mail TXT "v=spf1 ?all"
)";

std::string message(const std::string& from, const std::string& subject, const std::string& extra_header = {}) {
    return extra_header + "From: " + from + "\r\nTo: user@contoso.test\r\nSubject: " + subject +
           "\r\nDate: Mon, 07 Dec 2026 10:00:00 +0000\r\nMessage-ID: <" + subject +
           "@client.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nHello from " + subject + ".\r\n";
}

// One transaction from 127.0.0.1 (or `source`); the final reply.
std::string submit(const EdgeServer& s, const std::string& mail_from, const std::string& rcpt, const std::string& data,
                   const char* source = nullptr) {
    SmtpClient c(s.port(), source);
    c.reply();
    c.command("EHLO client.example");
    std::string r = c.send_mail(mail_from, {rcpt}, data);
    c.command("QUIT");
    return r;
}

// Python's email package reads the message: how many Authentication-Results carry our
// authserv-id, and the first Authentication-Results field, unfolded.
std::pair<int, std::string> parsed_auth_results(const TempDir& dir, const std::string& data) {
    const std::string path = write_file(dir, "received.eml", data);
    std::string out;
    const int rc = run_command(
        "/usr/bin/python3 -c \"import sys, email\nfrom email import policy\n"
        "m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=policy.default)\n"
        "ar = [' '.join(str(a).split()) for a in (m.get_all('Authentication-Results') or [])]\n"
        "print(len([a for a in ar if a.split(';')[0].strip().lower() == 'edge.test.example']))\n"
        "print(ar[0] if ar else '')\" " +
            shell_quote(path),
        &out);
    REQUIRE(rc == 0);
    std::istringstream in(out);
    int ours = -1;
    std::string first;
    in >> ours;
    std::getline(in >> std::ws, first);
    return {ours, first};
}

// The same text as a zone-file TXT: character-strings of at most 255 octets.
std::string zone_txt(const std::string& owner, const std::string& text) {
    std::string line = owner + " TXT";
    for (std::size_t i = 0; i < text.size(); i += 255) line += " \"" + text.substr(i, 255) + "\"";
    return line + "\n";
}

}  // namespace

TEST_CASE("SPF, DKIM and DMARC with NSD on loopback: verdicts, replies, Authentication-Results at the hub, and signing "
          "checked by dkimpy",
          "[auth]") {
    // servfail.test's zone file does not load: NSD answers SERVFAIL for it.
    NsdServer nsd({{"auth.test", kAuthZone}, {"other.test", kOtherZone}, {"strict.test", kStrictZone},
                   {"example.co.uk", kCoUkZone}, {"servfail.test", "@ TXT \"v=spf1 -all\n"}});
    SmtpPeer hub, internet;
    TempDir keys;
    EdgeServer s;
    s.must_edgectl("Set-TransportServer -InternalDNSServers " + nsd.endpoint());
    s.must_edgectl("New-AcceptedDomain -Name Contoso -DomainName contoso.test -DomainType Authoritative");
    s.must_edgectl("New-SendConnector Hub -AddressSpaces contoso.test -DNSRoutingEnabled '$false' -SmartHosts " + hub.ip() +
                   " -Port " + std::to_string(hub.port()));
    s.must_edgectl("New-SendConnector Out -AddressSpaces elsewhere.example -DNSRoutingEnabled '$false' -SmartHosts " +
                   internet.ip() + " -Port " + std::to_string(internet.port()));
    // The hubs: ExchangeServers from 127.0.0.2 (their mail is signed, not judged).
    s.must_edgectl("New-ReceiveConnector -Name Hubs -Bindings 127.0.0.1:" + std::to_string(s.port()) +
                   " -RemoteIPRanges 127.0.0.2 -PermissionGroups ExchangeServers -AuthMechanism Tls,ExternalAuthoritative");
    s.must_edgectl("Set-SenderIdConfig -SpoofedDomainAction Reject -TempErrorAction Reject");

    // A DKIM key for auth.test, made by edgectl, published in NSD.
    std::string key_out;
    REQUIRE(s.edgectl("New-DkimSigningKey -DomainName auth.test -Selector sel -KeyFile " + keys.sub("auth.pem"), &key_out) == 0);
    const std::string record = dns_record_text(key_out);
    REQUIRE(record.starts_with("v=DKIM1; k=rsa; p="));
    nsd.set_zone("auth.test", kAuthZone + zone_txt("sel._domainkey", record));
    // Signing is refused with a key of the other kind, and accepted with its own.
    CHECK(s.edgectl("New-DkimSigningConfig -DomainName auth.test -Selector sel -Algorithm ed25519-sha256 -KeyFile " +
                    keys.sub("auth.pem")) != 0);
    s.must_edgectl("New-DkimSigningConfig -DomainName auth.test -Selector sel -KeyFile " + keys.sub("auth.pem"));
    s.start();
    s.must_edgectl("Set-ReceiveConnector " + shell_quote(s.default_connector()) + " -TarpitInterval 00:00:00");

    SECTION("SPF: pass is stamped, fail is refused 550 5.7.23 with the domain's explanation, a DNS failure 451 4.7.24") {
        CHECK(submit(s, "a@bounce.auth.test", "user@contoso.test", message("a@auth.test", "spf-pass")).starts_with("250"));
        const std::string fail = submit(s, "a@fail.auth.test", "user@contoso.test", message("a@fail.auth.test", "spf-fail"));
        CHECK(fail == "550 5.7.23 fail.auth.test never sends from 127.0.0.1");
        // A zone that SERVFAILs, and one the server refuses to answer for: TempError, TempErrorAction Reject.
        const std::string temp = submit(s, "a@servfail.test", "user@contoso.test", message("a@servfail.test", "spf-temp"));
        CHECK(temp == "451 4.7.24 SPF validation error, please try again later");
        CHECK(submit(s, "a@unserved.test", "user@contoso.test", message("a@unserved.test", "spf-refused"))
                  .starts_with("451 4.7.24 "));
        // SoftFail is stamped; other.test publishes no DMARC policy, so it goes on.
        CHECK(submit(s, "a@soft.other.test", "user@contoso.test", message("a@soft.other.test", "spf-soft")).starts_with("250"));
        auto got = hub.wait_for_messages(2, 20s);
        REQUIRE(got.size() == 2);
        TempDir dir;
        for (const auto& m : got) {
            auto [ours, first] = parsed_auth_results(dir, m.data);
            INFO(first);
            CHECK(ours == 1);
            if (m.data.find("Subject: spf-pass") != std::string::npos) {
                CHECK(first.find("spf=pass smtp.mailfrom=a@bounce.auth.test") != std::string::npos);
                CHECK(first.find("dmarc=pass") != std::string::npos);  // relaxed: bounce.auth.test aligns with auth.test
            } else {
                CHECK(first.find("spf=softfail smtp.mailfrom=a@soft.other.test") != std::string::npos);
                CHECK(first.find("dmarc=none") != std::string::npos);
            }
        }
        // The agent log has the verdicts.
        auto lines = agent_log_lines(s, "-Agent 'Sender Id Agent'", 4);
        CHECK(lines.size() >= 4);
    }

    SECTION("DMARC: p=reject refused at end of data, quarantine stamped, strict alignment, sp= of a co.uk domain") {
        // quarantine.auth.test: SPF neutral, no DKIM: DMARC fails, its own p=quarantine applies.
        CHECK(submit(s, "a@quarantine.auth.test", "user@contoso.test", message("a@quarantine.auth.test", "dmarc-q"))
                  .starts_with("250"));
        // strict.test: SPF passes for bounce.strict.test, which aspf=s does not align with strict.test.
        CHECK(submit(s, "a@bounce.strict.test", "user@contoso.test", message("a@strict.test", "dmarc-strict")) ==
              "550 5.7.1 Email rejected per DMARC policy for strict.test");
        // The subdomain's policy comes from its Organizational Domain, found with the PSL.
        CHECK(submit(s, "a@mail.example.co.uk", "user@contoso.test", message("a@mail.example.co.uk", "dmarc-sp")) ==
              "550 5.7.1 Email rejected per DMARC policy for mail.example.co.uk");
        CHECK(submit(s, "a@example.co.uk", "user@contoso.test", message("a@example.co.uk", "dmarc-p-none")).starts_with("250"));
        // Two From: fields (RFC 7489 §6.6.1, a way around a policy): BadFromAction Reject.
        CHECK(submit(s, "a@bounce.auth.test", "user@contoso.test",
                     message("a@auth.test", "two-from", "From: ceo@auth.test\r\n"))
                  .starts_with("550 5.7.1 Message must have exactly one From:"));
        // No From: at all names no domain: accepted, dmarc=none.
        CHECK(submit(s, "a@bounce.auth.test", "user@contoso.test", "Subject: no-from\r\n\r\nx\r\n").starts_with("250"));
        auto got = hub.wait_for_messages(3, 20s);
        REQUIRE(got.size() == 3);
        TempDir dir;
        for (const auto& m : got) {
            auto [ours, first] = parsed_auth_results(dir, m.data);
            INFO(first);
            CHECK(ours == 1);
            if (m.data.find("Subject: no-from") != std::string::npos) {
                CHECK(first.find("dmarc=none reason=") != std::string::npos);
            } else if (m.data.find("Subject: dmarc-q") != std::string::npos) {
                CHECK(first.find("dmarc=fail (p=quarantine dis=quarantine) reason=") != std::string::npos);
                CHECK(first.find("header.from=quarantine.auth.test") != std::string::npos);
            } else {
                CHECK(first.find("dmarc=fail (p=none dis=none) reason=") != std::string::npos);
                CHECK(first.find("header.from=example.co.uk") != std::string::npos);
            }
        }
    }

    SECTION("signed on the way out (dkimpy verifies it with NSD's key), verified on the way in, a forged verdict removed") {
        const std::string outbound = message("someone@auth.test", "signed");
        CHECK(submit(s, "someone@auth.test", "friend@elsewhere.example", outbound, "127.0.0.2").starts_with("250"));
        auto out = internet.wait_for_messages(1, 20s);
        REQUIRE(out.size() == 1);
        REQUIRE(out[0].data.starts_with("Received: "));
        CHECK(out[0].data.find("\r\nDKIM-Signature: v=1; a=rsa-sha256;") != std::string::npos);
        TempDir dir;
        const std::string signed_path = write_file(dir, "signed.eml", out[0].data);
        std::string verdict;
        CHECK(run_command("/usr/bin/python3 " EDGE_SOURCE_DIR "/tests/support/dkim_verify_nsd.py " + std::to_string(nsd.port()) +
                              " " + signed_path,
                          &verdict) == 0);
        CHECK(verdict.find("pass") != std::string::npos);

        // The same bytes back in from the internet, with a stranger's claim in our name on top.
        const std::string forged = "Authentication-Results: edge.test.example; spf=pass smtp.mailfrom=someone@auth.test\r\n" +
                                   out[0].data;
        CHECK(submit(s, "a@bounce.auth.test", "user@contoso.test", forged).starts_with("250"));
        auto in = hub.wait_for_messages(1, 20s);
        REQUIRE(in.size() == 1);
        auto [ours, first] = parsed_auth_results(dir, in[0].data);
        INFO(first);
        CHECK(ours == 1);  // the forgery is gone; ours is there
        CHECK(first.find("dkim=pass header.d=auth.test header.s=sel") != std::string::npos);
        CHECK(first.find("dmarc=pass") != std::string::npos);
        CHECK(first.find("edge.test.example") == 0);  // the first the hub sees is the edge's own
        CHECK(in[0].data.find("smtp.mailfrom=someone@auth.test") == std::string::npos);
    }
}
