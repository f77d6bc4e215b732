// Address rewriting (issue 19) on the real binary, on loopback: the seed's masquerade
// (*.contoso.local leaves as contoso.com, lab.contoso.local excepted) on mail from the
// hubs to the internet, with display names, groups, comments and encoded words kept byte
// for byte at the next hop (smtp_peer.py); a message for inside and outside recipients
// bifurcated; the DKIM signature made after the rewrite verified by dkimpy; and the
// inbound RCPT TO rewrite as the hub receives it.
#include "edge_server.hpp"
#include "smtp_peer.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#ifndef EDGE_SOURCE_DIR
#error "define EDGE_SOURCE_DIR"
#endif

using namespace edge::test;
using namespace std::chrono_literals;

namespace {

std::string submit_as(const EdgeServer& s, const char* source, const std::string& mail_from,
                      const std::vector<std::string>& rcpts, const std::string& data) {
    SmtpClient c(s.port(), source);
    c.reply();
    c.command("EHLO client.example");
    std::string r = c.send_mail(mail_from, rcpts, data);
    c.command("QUIT");
    return r;
}

// The header the hub sends out; the lines the edge must rewrite, and the ones it must not.
const std::string kBody =
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b@corp.contoso.local\"\r\n"
    "\r\n"
    "--b@corp.contoso.local\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: inner@corp.contoso.local\r\n"
    "To: other@corp.contoso.local\r\n"
    "\r\n"
    "attached\r\n"
    "--b@corp.contoso.local--\r\n";
std::string header(const std::string& from, const std::string& cc, const std::string& reply_to, const std::string& sender) {
    return "From: " + from +
           "\r\n"
           "To: friend@elsewhere.example\r\n"
           "Cc: " + cc +
           "\r\n"
           "Reply-To: " + reply_to +
           "\r\n"
           "Sender: " + sender +
           "\r\n"
           "Subject: masquerade\r\n"
           "Message-ID: <m1@corp.contoso.local>\r\n"
           "Return-Receipt-To: john@corp.contoso.local\r\n";
}
const std::string kFrom = "\"Smith, John\" (sales) <john@corp.contoso.local>";
const std::string kCc = "team: colleague@corp.contoso.local,\r\n \"Lab\" <lab@lab.contoso.local>;";
const std::string kReplyTo = "=?utf-8?Q?J=C3=B6rg?= <joerg@Sales.Contoso.Local>";
const std::string kSender = "john@corp.contoso.local (John)";

}  // namespace

TEST_CASE("address rewriting live: the seed's masquerade at the next hop, bifurcation, DKIM after the rewrite, inbound "
          "RCPT TO",
          "[address-rewrite]") {
    SmtpPeer hub, internet;
    TempDir keys;
    EdgeServer s;
    s.must_edgectl("New-AcceptedDomain -Name Contoso -DomainName contoso.com -DomainType Authoritative");
    s.must_edgectl("New-AcceptedDomain -Name Corp -DomainName '*.contoso.local' -DomainType Authoritative");
    s.must_edgectl("New-SendConnector Hub -AddressSpaces 'contoso.com,*.contoso.local' -DNSRoutingEnabled '$false' -SmartHosts " +
                   hub.ip() + " -Port " + std::to_string(hub.port()));
    s.must_edgectl("New-SendConnector Out -AddressSpaces elsewhere.example -DNSRoutingEnabled '$false' -SmartHosts " +
                   internet.ip() + " -Port " + std::to_string(internet.port()));
    s.must_edgectl("New-ReceiveConnector -Name Hubs -Bindings 127.0.0.1:" + std::to_string(s.port()) +
                   " -RemoteIPRanges 127.0.0.2 -PermissionGroups ExchangeServers -AuthMechanism Tls,ExternalAuthoritative");
    s.must_edgectl("New-AddressRewriteEntry Masquerade -InternalAddress '*.contoso.local' -ExternalAddress contoso.com "
                   "-OutboundOnly '$true' -ExceptionList lab.contoso.local");
    s.must_edgectl("New-AddressRewriteEntry Jane -InternalAddress jane@corp.contoso.local -ExternalAddress jane.doe@contoso.com");
    // Signing for contoso.com only: a signed message is one whose From: was rewritten.
    std::string key_out;
    REQUIRE(s.edgectl("New-DkimSigningKey -DomainName contoso.com -Selector sel -KeyFile " + keys.sub("c.pem"), &key_out) == 0);
    const std::string record = write_file(keys, "record.txt", dns_record_text(key_out));
    s.must_edgectl("New-DkimSigningConfig -DomainName contoso.com -Selector sel -KeyFile " + keys.sub("c.pem"));
    s.start();
    s.must_edgectl("Set-ReceiveConnector " + shell_quote(s.default_connector()) + " -TarpitInterval 00:00:00");

    SECTION("outbound: the outside copy rewritten and signed, the inside copy as it came, both before the 250") {
        const std::string original = header(kFrom, kCc, kReplyTo, kSender) + kBody;
        CHECK(submit_as(s, "127.0.0.2", "john@corp.contoso.local",
                        {"friend@elsewhere.example", "colleague@corp.contoso.local"}, original)
                  .starts_with("250"));
        auto out = internet.wait_for_messages(1, 20s);
        auto in = hub.wait_for_messages(1, 20s);
        REQUIRE(out.size() == 1);
        REQUIRE(in.size() == 1);

        // The internet: MAIL FROM and the listed fields rewritten, only their addr-specs;
        // the exception, Message-ID, the boundary and the attached message untouched.
        CHECK(out[0].mail_from == "john@contoso.com");
        CHECK(out[0].rcpt_to == std::vector<std::string>{"friend@elsewhere.example"});
        const std::string expected =
            header("\"Smith, John\" (sales) <john@contoso.com>",
                   "team: colleague@contoso.com,\r\n \"Lab\" <lab@lab.contoso.local>;",
                   "=?utf-8?Q?J=C3=B6rg?= <joerg@contoso.com>", "john@contoso.com (John)");
        const std::string expected_with_receipt =
            expected.substr(0, expected.rfind("Return-Receipt-To:")) + "Return-Receipt-To: john@contoso.com\r\n" + kBody;
        const auto at = out[0].data.find("From: ");
        REQUIRE(at != std::string::npos);
        CHECK(out[0].data.substr(at) == expected_with_receipt);
        CHECK(out[0].data.find("\r\nDKIM-Signature: v=1; a=rsa-sha256;") != std::string::npos);
        CHECK(out[0].data.find("d=contoso.com") != std::string::npos);
        // dkimpy verifies the signature over what left, with the published key.
        TempDir dir;
        std::string verdict;
        CHECK(run_command("/usr/bin/python3 " EDGE_SOURCE_DIR "/tests/support/dkim_tool.py verify " + record + " " +
                              write_file(dir, "out.eml", out[0].data),
                          &verdict) == 0);
        // Python's email package reads the display names and the group as the sender wrote them.
        std::string parsed;
        CHECK(run_command("/usr/bin/python3 -c \"import sys, email\nfrom email import policy\n"
                          "m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=policy.default)\n"
                          "print(m['From'].addresses[0].display_name, m['From'].addresses[0].addr_spec)\n"
                          "print(m['Cc'].groups[0].display_name, [a.addr_spec for a in m['Cc'].groups[0].addresses])\n"
                          "print(m['Reply-To'].addresses[0].display_name, m['Reply-To'].addresses[0].addr_spec)\" " +
                              write_file(dir, "out2.eml", out[0].data),
                          &parsed) == 0);
        CHECK(parsed ==
              "Smith, John john@contoso.com\nteam ['colleague@contoso.com', 'lab@lab.contoso.local']\n"
              "J\xc3\xb6rg joerg@contoso.com\n");

        // The hub: the message as it came, for the recipient inside.
        CHECK(in[0].mail_from == "john@corp.contoso.local");
        CHECK(in[0].rcpt_to == std::vector<std::string>{"colleague@corp.contoso.local"});
        const auto hub_at = in[0].data.find("From: ");
        REQUIRE(hub_at != std::string::npos);
        CHECK(in[0].data.substr(hub_at) == original);
        CHECK(in[0].data.find("DKIM-Signature:") == std::string::npos);  // corp.contoso.local has no signing configuration

        auto lines = agent_log_lines(s, "-Agent 'Address Rewriting Outbound Agent'", 1);
        REQUIRE(lines.size() == 1);
        CHECK(lines[0].find("5 header addresses; MAIL FROM john@corp.contoso.local -> john@contoso.com") != std::string::npos);
    }

    SECTION("outbound only: every recipient outside, one message; no entry matches, nothing changes") {
        CHECK(submit_as(s, "127.0.0.2", "jane@corp.contoso.local", {"friend@elsewhere.example"},
                        "From: Jane <jane@corp.contoso.local>\r\nTo: friend@elsewhere.example\r\nSubject: one\r\n\r\nx\r\n")
                  .starts_with("250"));
        CHECK(submit_as(s, "127.0.0.2", "x@partner.example", {"friend@elsewhere.example"},
                        "From: X <x@partner.example>\r\nSubject: two\r\n\r\ny\r\n")
                  .starts_with("250"));
        auto out = internet.wait_for_messages(2, 20s);
        REQUIRE(out.size() == 2);
        for (const auto& m : out) {
            if (m.data.find("Subject: one") != std::string::npos) {
                CHECK(m.mail_from == "jane.doe@contoso.com");  // the address entry wins over the wildcard
                CHECK(m.data.find("From: Jane <jane.doe@contoso.com>\r\n") != std::string::npos);
            } else {
                CHECK(m.mail_from == "x@partner.example");
                CHECK(m.data.find("From: X <x@partner.example>\r\n") != std::string::npos);
            }
        }
        CHECK(hub.messages().empty());
    }

    SECTION("inbound: RCPT TO rewritten external -> internal, as the hub receives it and the agent log says") {
        CHECK(submit_as(s, nullptr, "someone@elsewhere.example", {"jane.doe@contoso.com", "bob@contoso.com"},
                        "From: someone@elsewhere.example\r\nTo: Jane <jane.doe@contoso.com>\r\nSubject: in\r\n\r\nhi\r\n")
                  .starts_with("250"));
        auto in = hub.wait_for_messages(1, 20s);
        REQUIRE(in.size() == 1);
        CHECK(in[0].rcpt_to == std::vector<std::string>{"jane@corp.contoso.local", "bob@contoso.com"});
        // Inbound rewrites the envelope only (reference §9.8): the header is as sent.
        CHECK(in[0].data.find("To: Jane <jane.doe@contoso.com>\r\n") != std::string::npos);
        auto lines = agent_log_lines(s, "-Agent 'Address Rewriting Inbound Agent'", 1);
        REQUIRE(lines.size() == 1);
        CHECK(lines[0].find("jane.doe@contoso.com -> jane@corp.contoso.local") != std::string::npos);
        CHECK(lines[0].find("OnRcptCommand") != std::string::npos);
    }
}
