// Issue 20 on the receive side, against the real binaries: certificates managed live
// (Import-/Enable-/Remove-ExchangeCertificate, seen by `openssl s_client -starttls smtp`
// without a restart, SNI choosing among several) and Domain Security inbound (mail from
// a TLSReceiveDomainSecureList partner only over mutual TLS with a valid certificate
// for its domain).
#include "edge_server.hpp"
#include "test_ca.hpp"

#include <catch2/catch.hpp>

using namespace edge::test;
using namespace std::chrono_literals;

namespace {

// The SHA-1 thumbprint of the certificate the server presents after STARTTLS, as
// openssl s_client sees it; `server_name` "" sends no SNI. "" when none was read.
std::string served_thumbprint(std::uint16_t port, const std::string& server_name) {
    std::string out;
    const std::string sni = server_name.empty() ? " -noservername" : " -servername " + shell_quote(server_name);
    run_command("echo QUIT | timeout 10 openssl s_client -starttls smtp -connect 127.0.0.1:" + std::to_string(port) + sni +
                    " 2>/dev/null | openssl x509 -noout -fingerprint -sha1 2>/dev/null",
                &out);
    const auto eq = out.find('=');
    if (eq == std::string::npos) return {};
    std::string hex;
    for (char c : out.substr(eq + 1))
        if (std::isxdigit(static_cast<unsigned char>(c))) hex += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return hex;
}

}  // namespace

TEST_CASE("an imported certificate enabled for SMTP is offered to new STARTTLS sessions without a restart, and SNI picks "
          "among several",
          "[receive][tls][certificates]") {
    EdgeServer s;
    TestCa ca(s.dir().path() + "/ca");
    const TestCertificate contoso = ca.issue("contoso", {"mail.contoso.test"});
    const TestCertificate fabrikam = ca.issue("fabrikam", {"mail.fabrikam.test", "*.fabrikam.test"});
    const std::string t_contoso = thumbprint(contoso.cert), t_fabrikam = thumbprint(fabrikam.cert);
    s.start();
    const std::string bootstrap = served_thumbprint(s.port(), "");
    REQUIRE(bootstrap.size() == 40);

    // Imported: stored, not offered yet.
    std::string out;
    REQUIRE(s.edgectl("Import-ExchangeCertificate -Path " + contoso.chain + " -KeyPath " + contoso.key, &out) == 0);
    CHECK(out.find(t_contoso) != std::string::npos);
    CHECK(served_thumbprint(s.port(), "") == bootstrap);

    // Enabled: the next session gets it, the server never restarted.
    const pid_t pid = s.pid();
    s.must_edgectl("Enable-ExchangeCertificate -Thumbprint " + t_contoso + " -Services SMTP");
    CHECK(wait_until([&] { return served_thumbprint(s.port(), "") == t_contoso; }));
    CHECK(s.pid() == pid);

    // A second one: SNI chooses by name (exact, then wildcard); an unknown name gets a default that is one of them.
    s.must_edgectl("Import-ExchangeCertificate -Path " + fabrikam.chain + " -KeyPath " + fabrikam.key + " -Services SMTP");
    CHECK(wait_until([&] { return served_thumbprint(s.port(), "mail.fabrikam.test") == t_fabrikam; }));
    CHECK(served_thumbprint(s.port(), "smtp.fabrikam.test") == t_fabrikam);
    CHECK(served_thumbprint(s.port(), "mail.contoso.test") == t_contoso);
    const std::string unknown = served_thumbprint(s.port(), "nobody.example");
    CHECK((unknown == t_contoso || unknown == t_fabrikam));

    // Remove: refused for the last one enabled, allowed while another is.
    s.must_edgectl("Remove-ExchangeCertificate -Thumbprint " + t_contoso);
    CHECK(wait_until([&] { return served_thumbprint(s.port(), "mail.contoso.test") == t_fabrikam; }));
    CHECK(s.edgectl("Remove-ExchangeCertificate -Thumbprint " + t_fabrikam, &out) == 1);
    CHECK(out.find("is the one STARTTLS offers") != std::string::npos);
    // -Services None: back to the bootstrap certificate, on purpose.
    s.must_edgectl("Enable-ExchangeCertificate -Thumbprint " + t_fabrikam + " -Services None");
    CHECK(wait_until([&] { return served_thumbprint(s.port(), "mail.fabrikam.test") == bootstrap; }));
    CHECK(s.server_log().find("STARTTLS: 1 certificate(s) enabled for SMTP") != std::string::npos);
}

TEST_CASE("a certificate enabled before the start is offered from the first session, one near its NotAfter is warned of, "
          "and a stored key never leaves 0600",
          "[receive][tls][certificates]") {
    EdgeServer s;
    std::string out;
    REQUIRE(s.edgectl("New-ExchangeCertificate -SubjectName CN=mx.contoso.test -DomainName mx.contoso.test,contoso.test",
                      &out) == 0);
    const auto at = out.find_first_of("0123456789ABCDEF", out.find("\n--"));
    REQUIRE(at != std::string::npos);
    const std::string t = out.substr(at, 40);
    // One within 30 days of its NotAfter: the server log says so at start.
    const std::string dir = s.dir().path();
    REQUIRE(run_command("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 10 -subj /CN=soon.test "
                        "-keyout " + dir + "/soon.key -out " + dir + "/soon.crt", &out) == 0);
    REQUIRE(s.edgectl("Import-ExchangeCertificate -Path " + dir + "/soon.crt -KeyPath " + dir + "/soon.key", &out) == 0);
    CHECK(out.find("WARNING: the certificate " + thumbprint(dir + "/soon.crt") + " expires on") != std::string::npos);
    s.start();
    CHECK(wait_until([&] {
        return s.server_log().find("warning: certificate " + thumbprint(dir + "/soon.crt") + " expires on") != std::string::npos;
    }));
    CHECK(served_thumbprint(s.port(), "") == t);
    CHECK(served_thumbprint(s.port(), "contoso.test") == t);
    namespace fs = std::filesystem;
    CHECK((fs::status(s.data() + "/certificates/" + t + ".key").permissions() & fs::perms::all) ==
          (fs::perms::owner_read | fs::perms::owner_write));
    CHECK((fs::status(s.data() + "/certificates").permissions() & fs::perms::all) == fs::perms::owner_all);
}

TEST_CASE("Domain Security: mail from a listed partner domain needs mutual TLS with a valid certificate for that domain",
          "[receive][tls][domain-security]") {
    EdgeServer s;
    TestCa ca(s.dir().path() + "/ca");
    const TestCertificate partner = ca.issue("partner", {"mail.partner.test", "partner.test"});
    const TestCertificate wrong = ca.issue("wrong", {"mail.other.test"});
    const TestCertificate expired = ca.issue("expired", {"partner.test"}, Validity::Expired);
    const TestCertificate forged = self_signed(s.dir().path() + "/self", "forged", {"partner.test"});
    s.must_edgectl("New-AcceptedDomain -Name Contoso -DomainName contoso.test");
    s.must_edgectl("Set-TransportServer -TlsCertificateAuthorityFile " + ca.cert());
    s.must_edgectl("Set-TransportConfig -TLSReceiveDomainSecureList partner.test");
    s.start();  // the default connector is made at first start
    s.must_edgectl("Set-ReceiveConnector " + shell_quote(s.default_connector()) +
                   " -DomainSecureEnabled true -TarpitInterval 00:00:00 -ProtocolLoggingLevel Verbose");

    // Whatever MAIL FROM gets after STARTTLS with `cert` ("" = none; "clear" = no TLS at all).
    auto mail_from = [&](const std::string& sender, const TestCertificate* cert, bool tls = true) {
        SmtpClient c(s.port());
        c.reply();
        c.command("EHLO client.partner.test");
        if (tls) {
            REQUIRE(c.command("STARTTLS").starts_with("220"));
            // No client certificate is no handshake failure: the refusal is a clear SMTP reply.
            REQUIRE(c.starttls(cert ? cert->cert : "", cert ? cert->key : ""));
            c.command("EHLO client.partner.test");
        }
        std::string r = c.command("MAIL FROM:<" + sender + ">");
        if (r.starts_with("250")) {
            r = c.command("RCPT TO:<user@contoso.test>");
            if (r.starts_with("250")) {
                r = c.command("DATA");
                c.send_raw("Subject: hi\r\n\r\nhello\r\n.\r\n");
                r = c.reply();
            }
        }
        c.command("QUIT");
        return r;
    };
    // The server sees the change at its next config poll.
    REQUIRE(wait_until([&] { return mail_from("a@partner.test", nullptr, false).starts_with("450"); }));
    CHECK(mail_from("a@partner.test", nullptr, false) ==
          "450 4.7.1 Domain Security: mail from partner.test needs mutual TLS; issue STARTTLS and present a certificate");
    CHECK(mail_from("a@partner.test", nullptr) == "450 4.7.1 Domain Security: mail from partner.test needs a TLS client certificate");
    CHECK(mail_from("a@partner.test", &forged).starts_with("450 4.7.1 Domain Security: the client certificate is not trusted ("));
    CHECK(mail_from("a@partner.test", &expired) ==
          "450 4.7.1 Domain Security: the client certificate is not trusted (certificate has expired)");
    CHECK(mail_from("a@partner.test", &wrong) == "450 4.7.1 Domain Security: the client certificate is not for partner.test");
    CHECK(mail_from("a@Partner.Test", &partner).starts_with("250 2.6.0"));
    // Senders of other domains are not held to it, with TLS or without.
    CHECK(mail_from("a@example.org", nullptr, false).starts_with("250 2.6.0"));
    CHECK(mail_from("a@example.org", &wrong).starts_with("250 2.6.0"));

    // Off on the connector: a listed partner in clear is accepted again (after the next config poll).
    s.must_edgectl("Set-ReceiveConnector " + shell_quote(s.default_connector()) + " -DomainSecureEnabled false");
    CHECK(wait_until([&] { return mail_from("b@partner.test", nullptr, false).starts_with("250 2.6.0"); }));
}
