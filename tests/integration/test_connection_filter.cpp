// The Connection Filtering Agent on the real binaries, on loopback, one server start:
// IP Block List entries (a single address, a CIDR block, a range) answer 550 5.7.1 with
// StaticEntryRejectionResponse at every RCPT, then the session is closed at DATA; the
// IP Allow List wins over a block; an entry with an ExpirationTime stops matching at
// it; behind InternalSMTPServers the first external Received: address is judged at the
// end of headers; the refusals are tarpitted; Get-AgentLog shows them with reasons.
// Clients are bound to 127.0.0.2..9.
#include "edge_server.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <ctime>
#include <sstream>
#include <thread>

using namespace edge::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kResponse = "550 5.7.1 Go away, you are on our list";

struct Rcpt {
    std::string mail, rcpt, data;
    bool closed = false;
};

// EHLO, MAIL, one RCPT, then DATA: what each got, and whether the server closed after.
Rcpt try_rcpt(const EdgeServer& s, const char* source, const std::string& to = "user@contoso.test") {
    SmtpClient c(s.port(), source);
    Rcpt r;
    c.reply();
    c.command("EHLO client.example");
    r.mail = c.command("MAIL FROM:<someone@example.org>");
    r.rcpt = c.command("RCPT TO:<" + to + ">");
    r.data = c.command("DATA");
    if (r.data.starts_with("354")) {
        c.send_raw(simple_body("cf") + ".\r\n");
        c.reply();
        c.command("QUIT");
        return r;  // accepted: not closed by the server's choice
    }
    r.closed = c.closed_by_server();
    return r;
}

std::string utc_in(std::chrono::seconds from_now) {
    std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() + from_now);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return buf;
}

std::size_t count_with(const std::vector<std::string>& lines, std::initializer_list<std::string_view> parts) {
    std::size_t n = 0;
    for (const auto& l : lines) {
        bool all = true;
        for (auto p : parts) all = all && l.find(p) != std::string::npos;
        n += all ? 1 : 0;
    }
    return n;
}

}  // namespace

TEST_CASE("the Connection Filtering Agent blocks, allows, expires and looks behind InternalSMTPServers, live",
          "[connection filter][live]") {
    EdgeServer s;
    // Written with the server down; the server reads them at start.
    s.must_edgectl("Add-IPBlockListEntry -IPAddress 127.0.0.3 -Comment 'single'");
    s.must_edgectl("Add-IPBlockListEntry -IPRange 127.0.0.4/31 -Comment 'cidr'");
    s.must_edgectl("Add-IPBlockListEntry -IPRange 127.0.0.6-127.0.0.7 -Comment 'range'");
    s.must_edgectl("Add-IPAllowListEntry -IPAddress 127.0.0.5 -Comment 'partner inside the CIDR block'");
    s.must_edgectl("Set-IPBlockListConfig -StaticEntryRejectionResponse 'Go away, you are on our list'");
    s.must_edgectl("Set-TransportConfig -InternalSMTPServers 127.0.0.2");
    basic_setup(s);  // contoso.test, started, TarpitInterval 0

    // A static block: 550 5.7.1 with the configured text at RCPT, then closed at DATA.
    for (const char* source : {"127.0.0.3", "127.0.0.4", "127.0.0.6", "127.0.0.7"}) {
        INFO("client " << source);
        Rcpt r = try_rcpt(s, source);
        CHECK(r.mail.starts_with("250"));
        CHECK(r.rcpt == kResponse);
        CHECK(r.data.starts_with("554 5.7.1"));
        CHECK(r.closed);
    }
    // The IP Allow List wins over the block list's CIDR block; other clients are not judged.
    for (const char* source : {"127.0.0.5", "127.0.0.8"}) {
        INFO("client " << source);
        Rcpt r = try_rcpt(s, source);
        CHECK(r.rcpt == "250 2.1.5 Recipient OK");
        CHECK(r.data.starts_with("354"));
    }

    // Every RCPT of a blocked session is refused (each is logged), and DATA closes it.
    {
        SmtpClient c(s.port(), "127.0.0.3");
        c.reply();
        c.command("EHLO client.example");
        c.command("MAIL FROM:<someone@example.org>");
        CHECK(c.command("RCPT TO:<a@contoso.test>") == kResponse);
        CHECK(c.command("RCPT TO:<b@contoso.test>") == kResponse);
        CHECK(c.command("DATA").starts_with("554 5.7.1"));
        CHECK(c.closed_by_server());
    }

    // BypassedRecipients (Set-IPBlockListProvidersConfig): postmaster@ is still accepted
    // from a client on the static list too (ours; Exchange applies it to the providers'
    // blocks), and its message goes on.
    s.must_edgectl("Set-IPBlockListProvidersConfig -BypassedRecipients postmaster@contoso.test");
    {
        SmtpClient c(s.port(), "127.0.0.3");
        c.reply();
        c.command("EHLO client.example");
        CHECK(c.command("MAIL FROM:<someone@example.org>").starts_with("250"));
        CHECK(c.command("RCPT TO:<user@contoso.test>") == kResponse);
        CHECK(c.command("RCPT TO:<PostMaster@Contoso.Test>") == "250 2.1.5 Recipient OK");
        CHECK(c.command("DATA").starts_with("354"));
        c.send_raw(simple_body("bypassed") + ".\r\n");
        CHECK(c.reply().starts_with("250"));
    }

    // Behind an internal MTA: 127.0.0.2 is never judged itself; its message is, by the
    // first Received: address that is not an internal server.
    {
        SmtpClient c(s.port(), "127.0.0.2");
        c.reply();
        c.command("EHLO relay.contoso.test");
        const std::string relayed_blocked =
            "Received: from relay2.contoso.test (relay2.contoso.test [127.0.0.2]) by relay.contoso.test with ESMTP\r\n"
            "Received: from spam.example (spam.example [127.0.0.3]) by relay2.contoso.test with ESMTP id 1;\r\n"
            " Mon, 7 Dec 2026 08:00:00 +0000\r\n" +
            simple_body("relayed-blocked");
        CHECK(c.send_mail("someone@example.org", {"user@contoso.test"}, relayed_blocked) == kResponse);
        const std::string relayed_clean =
            "Received: from good.example (good.example [192.0.2.10]) by relay.contoso.test with ESMTP\r\n" +
            simple_body("relayed-clean");
        CHECK(c.send_mail("someone@example.org", {"user@contoso.test"}, relayed_clean).starts_with("250"));
    }

    // Written live: an entry that ends in 3 to 4 s (ExpirationTime is whole seconds), and
    // a tarpit, applied by the server before edgectl returns.
    const auto expiring_at = std::chrono::steady_clock::now() + 4s;
    s.must_edgectl("Add-IPBlockListEntry -IPAddress 127.0.0.9 -ExpirationTime " + utc_in(4s));
    s.must_edgectl("Set-ReceiveConnector " + shell_quote(s.default_connector()) + " -TarpitInterval 00:00:01");
    {
        Rcpt r = try_rcpt(s, "127.0.0.9");
        CHECK(r.rcpt == kResponse);
        CHECK(r.closed);
    }
    // The refusal is a policy reply: tarpitted for anonymous sessions like any other 5xx.
    {
        SmtpClient c(s.port(), "127.0.0.3");
        c.reply();
        c.command("EHLO client.example");
        c.command("MAIL FROM:<someone@example.org>");
        const auto t0 = std::chrono::steady_clock::now();
        CHECK(c.command("RCPT TO:<user@contoso.test>") == kResponse);
        CHECK(std::chrono::steady_clock::now() - t0 >= 900ms);
    }

    // 127.0.0.9's entry has expired: it no longer matches (the sweep removes it later).
    std::this_thread::sleep_until(expiring_at + 500ms);
    {
        Rcpt r = try_rcpt(s, "127.0.0.9");
        CHECK(r.rcpt == "250 2.1.5 Recipient OK");
    }

    // The agent log: each refusal with its reason and the entry.
    auto lines = agent_log_lines(s, "-Agent 'Connection Filtering Agent'", 13);
    CHECK(count_with(lines, {"\"Event\": \"OnRcptCommand\"", "\"Action\": \"RejectCommand\"", "\"Reason\": \"LocalBlockList\"",
                             "\"SmtpResponse\": \"550 5.7.1 Go away, you are on our list\""}) >= 8);
    CHECK(count_with(lines, {"\"IPAddress\": \"127.0.0.3\"", "\"ReasonData\": \"IPBlockListEntry 1: 127.0.0.3\""}) >= 3);
    CHECK(count_with(lines, {"\"IPAddress\": \"127.0.0.4\"", "\"ReasonData\": \"IPBlockListEntry 2: 127.0.0.4/31\""}) == 2);
    CHECK(count_with(lines, {"\"IPAddress\": \"127.0.0.6\"", "IPBlockListEntry 3: 127.0.0.6-127.0.0.7"}) == 2);
    CHECK(count_with(lines, {"\"Event\": \"OnDataCommand\"", "\"Action\": \"Disconnect\""}) >= 6);
    CHECK(count_with(lines, {"\"Event\": \"OnConnectEvent\"", "\"Reason\": \"LocalAllowList\"", "\"IPAddress\": \"127.0.0.5\""}) == 1);
    CHECK(count_with(lines, {"\"Event\": \"OnEndOfHeaders\"", "\"Action\": \"RejectMessage\"", "\"IPAddress\": \"127.0.0.2\"",
                             "\"ReasonData\": \"127.0.0.3 (IPBlockListEntry 1: 127.0.0.3)\""}) == 1);
}
