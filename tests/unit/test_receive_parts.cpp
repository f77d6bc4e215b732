// The receive side's pure parts: header scanning and the headers we add, connector
// selection, session rights and connection accounting.
#include "back_pressure.hpp"
#include "message_headers.hpp"
#include "receive_connector.hpp"

#include <catch2/catch.hpp>

using namespace edge::receive;
using namespace edge::server;
using edge::config::ConfigObject;
using edge::config::ObjectKind;

namespace {
ReceiveConnector connector(const std::string& name, const std::string& bindings, const std::string& ranges,
                           const std::string& groups = "AnonymousUsers", const std::string& auth = "Tls") {
    ConfigObject o(ObjectKind::ReceiveConnector);
    REQUIRE(o.set("Name", name).empty());
    REQUIRE(o.set("Bindings", bindings).empty());
    REQUIRE(o.set("RemoteIPRanges", ranges).empty());
    REQUIRE(o.set("PermissionGroups", groups).empty());
    REQUIRE(o.set("AuthMechanism", auth).empty());
    return ReceiveConnector::from_object(o, "edge.example");
}
edge::routing::IpAddress ip(const char* s) { return *edge::routing::IpAddress::parse(s); }
}  // namespace

TEST_CASE("header scanning counts Received fields, finds Message-ID and Subject across chunks and folds", "[receive]") {
    std::vector<std::string> chunks = {"Received: from a\r\n by b; x\r\nreceived: from c\r\nSub", "ject: hello\r\n  world\r\n",
                                       "MESSAGE-ID: <id@x>\r\n\r\nReceived: in the body\r\n"};
    HeaderSummary s = scan_headers(chunks, 64 * 1024);
    CHECK(s.complete);
    CHECK(s.received_count == 2);
    CHECK(s.message_id == "<id@x>");
    CHECK(s.subject == "hello  world");
    CHECK_FALSE(scan_headers({std::string(100, 'x') + "\r\n\r\n"}, 50).complete);
    CHECK(scan_headers({"Subject: no body"}, 1000).subject == "no body");
}

TEST_CASE("Authentication-Results fields are found where they lie and removed byte-exactly, across chunks and folds",
          "[receive][auth]") {
    // A forged field split over two chunks and folded, one of someone else's, and one at the end of the header.
    const std::vector<std::string> chunks = {"Received: from a\r\nAuthentication-Results: edge.example;\r\n\tsp",
                                             "f=pass\r\nSubject: s\r\nauthentication-results : other.example; none\r\n",
                                             "Authentication-Results: (c) EDGE.example; dkim=pass\r\n\r\nbody\r\n"};
    HeaderSummary s = scan_headers(chunks, 64 * 1024);
    REQUIRE(s.authentication_results.size() == 3);
    CHECK(s.authentication_results[0].value == "edge.example;\tspf=pass");
    CHECK(s.authentication_results[1].value == "other.example; none");
    std::string whole;
    for (const auto& c : chunks) whole += c;
    for (const auto& f : s.authentication_results)
        CHECK(whole.substr(f.offset, f.size).ends_with("\r\n"));
    std::vector<FieldSpan> ours{s.authentication_results[0], s.authentication_results[2]};
    std::vector<std::string> left = chunks;
    remove_fields(left, ours);
    std::string after;
    for (const auto& c : left) after += c;
    CHECK(after == "Received: from a\r\nSubject: s\r\nauthentication-results : other.example; none\r\n\r\nbody\r\n");
    // Nothing to remove leaves the chunks as they were.
    std::vector<std::string> same = chunks;
    remove_fields(same, {});
    CHECK(same == chunks);
}

TEST_CASE("header names match as RFC 5322 reads them: any case, obsolete whitespace before the colon", "[receive][security]") {
    // Issue 13 weakness 8: "Received :" was not counted, so MaxHopCount was bypassed by spelling.
    std::string h;
    for (int i = 0; i < 40; ++i) h += i % 4 == 0 ? "Received : from x\r\n" : i % 4 == 1 ? "RECEIVED\t: from x\r\n"
                                    : i % 4 == 2 ? "received  \t :from x\r\n" : "Received:from x\r\n";
    h += "Message-ID  : <spaced@x>\r\nSUBJECT\t: tabbed\r\n\r\nbody\r\n";
    HeaderSummary s = scan_headers({h}, 64 * 1024);
    CHECK(s.received_count == 40);
    CHECK(s.message_id == "<spaced@x>");
    CHECK(s.subject == "tabbed");
    // Names that only look alike are other fields.
    HeaderSummary other = scan_headers({"X-Received: a\r\nReceived-SPF: pass\r\nRe ceived: b\r\nMessage-IDs: <n@x>\r\n\r\n"}, 1024);
    CHECK(other.received_count == 0);
    CHECK_FALSE(other.message_id);
    // A name folded onto the next line before its colon is unfolded first, as a parser does.
    CHECK(scan_headers({"Received\r\n : from x\r\n\r\n"}, 1024).received_count == 1);
}

TEST_CASE("our Received header names the connector FQDN, the protocol and TLS, folded under 79 columns", "[receive]") {
    ReceivedFields f;
    f.helo = "client.example.org";
    f.client_ip = "192.0.2.7";
    f.by_fqdn = "mail.contoso.com";
    f.local_ip = "198.51.100.1";
    f.tls = true;
    f.tls_version = "TLSv1.3";
    f.tls_cipher = "TLS_AES_256_GCM_SHA384";
    f.id = "08D675E58CA1DA38.1";
    f.when = std::chrono::system_clock::now();
    std::string h = received_header(f);
    CHECK(h.starts_with("Received: from client.example.org (192.0.2.7) by mail.contoso.com"));
    CHECK(h.find("(198.51.100.1) with ESMTPS") != std::string::npos);
    CHECK(h.find("cipher=TLS_AES_256_GCM_SHA384") != std::string::npos);
    std::string unfolded = h;
    for (auto p = unfolded.find("\r\n "); p != std::string::npos; p = unfolded.find("\r\n ")) unfolded.replace(p, 3, " ");
    CHECK(unfolded.find("id 08D675E58CA1DA38.1;") != std::string::npos);
    CHECK(h.ends_with("\r\n"));
    std::size_t start = 0;
    for (auto p = h.find("\r\n"); p != std::string::npos; p = h.find("\r\n", start)) {
        CHECK(p - start <= 78);
        start = p + 2;
        if (start < h.size()) CHECK(h[start] == ' ');  // continuation lines are folded
    }
    f.tls = false;
    f.esmtp = false;
    CHECK(received_header(f).find(" with SMTP id") != std::string::npos);
    std::string id = new_message_id("mail.contoso.com");
    CHECK(id.size() == 1 + 32 + 1 + 16 + 1);
    CHECK(id != new_message_id("mail.contoso.com"));
}

TEST_CASE("the connector whose RemoteIPRanges match the client most specifically serves it", "[receive][connectors]") {
    std::vector<ReceiveConnector> cs = {connector("Internet", "0.0.0.0:25", "0.0.0.0-255.255.255.255"),
                                        connector("Partners", "0.0.0.0:25", "192.0.2.0/24", "Partners"),
                                        connector("OnePartner", "0.0.0.0:25", "192.0.2.7", "Partners"),
                                        connector("OtherPort", "0.0.0.0:2525", "192.0.2.0/24")};
    auto pick = [&](const char* local, std::uint16_t port, const char* remote) {
        auto c = select_connector(cs, ip(local), port, ip(remote));
        return c ? c->name : std::string("none");
    };
    CHECK(pick("10.0.0.1", 25, "203.0.113.5") == "Internet");
    CHECK(pick("10.0.0.1", 25, "192.0.2.8") == "Partners");
    CHECK(pick("10.0.0.1", 25, "192.0.2.7") == "OnePartner");
    CHECK(pick("10.0.0.1", 2525, "192.0.2.7") == "OtherPort");
    CHECK(pick("10.0.0.1", 2525, "203.0.113.5") == "none");
    CHECK(pick("10.0.0.1", 587, "192.0.2.7") == "none");
    cs[2].enabled = false;
    CHECK(pick("10.0.0.1", 25, "192.0.2.7") == "Partners");
}

TEST_CASE("session rights follow PermissionGroups and AuthMechanism", "[receive][permissions]") {
    namespace p = edge::smtp::permission;
    auto anon = connector("a", "0.0.0.0:25", "0.0.0.0/0", "AnonymousUsers,ExchangeServers,Partners", "Tls,ExchangeServer");
    CHECK((anon.session_permissions() & p::Anonymous));
    CHECK_FALSE((anon.session_permissions() & p::AcceptAnyRecipient));
    CHECK(permission_names(anon.session_permissions()) ==
          "SMTPSubmit SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender AcceptRoutingHeaders");
    auto hub = connector("h", "0.0.0.0:25", "10.0.0.5", "ExchangeServers", "Tls,ExternalAuthoritative");
    CHECK((hub.session_permissions() & p::AcceptAnyRecipient));
    CHECK((hub.session_permissions() & p::BypassMessageSizeLimit));
    CHECK((hub.session_permissions() & p::HubOrPartner));
    CHECK_FALSE((hub.session_permissions() & p::Anonymous));
    auto partner = connector("p", "0.0.0.0:25", "192.0.2.0/24", "Partners");
    CHECK((partner.session_permissions() & p::AcceptAnyRecipient));
    CHECK((partner.session_permissions() & p::HubOrPartner));
    auto nobody = connector("n", "0.0.0.0:25", "192.0.2.0/24", "ExchangeServers", "Tls");
    CHECK_FALSE((nobody.session_permissions() & p::Submit));  // Exchange auth is not available here
}

TEST_CASE("connection accounting enforces the connector, per-source and percentage limits", "[receive][limits]") {
    ConfigObject o(ObjectKind::ReceiveConnector);
    o.set("Name", "c");
    o.set("Bindings", "0.0.0.0:25");
    o.set("MaxInboundConnection", "10");
    o.set("MaxInboundConnectionPerSource", "3");
    o.set("MaxInboundConnectionPercentagePerSource", "100");
    auto c = ReceiveConnector::from_object(o, "e");
    ConnectionAccounting acc;
    ConnectionAccounting::Refusal why{};
    std::vector<ConnectionAccounting::Admission> held;
    for (int i = 0; i < 3; ++i) held.push_back(acc.admit(c, ip("192.0.2.1"), &why));
    CHECK(static_cast<bool>(held.back()));
    CHECK_FALSE(acc.admit(c, ip("192.0.2.1"), &why));
    CHECK(why == ConnectionAccounting::Refusal::SourceLimit);
    held.pop_back();  // one closes: room again
    CHECK(static_cast<bool>(acc.admit(c, ip("192.0.2.1"), &why)));
    for (int i = 0; i < 8; ++i) held.push_back(acc.admit(c, ip(("192.0.2." + std::to_string(10 + i)).c_str()), &why));
    CHECK(acc.total("c") == 10);
    CHECK_FALSE(acc.admit(c, ip("198.51.100.1"), &why));
    CHECK(why == ConnectionAccounting::Refusal::ConnectorLimit);
    // 2 % of the remaining connections, at least one.
    o.set("MaxInboundConnection", "100");
    o.set("MaxInboundConnectionPercentagePerSource", "2");
    o.set("MaxInboundConnectionPerSource", "unlimited");
    auto d = ReceiveConnector::from_object(o, "e");
    ConnectionAccounting acc2;
    auto a1 = acc2.admit(d, ip("192.0.2.1"), &why);
    auto a2 = acc2.admit(d, ip("192.0.2.1"), &why);
    CHECK(static_cast<bool>(a1));
    CHECK(static_cast<bool>(a2));
    CHECK_FALSE(acc2.admit(d, ip("192.0.2.1"), &why));  // 2 % of 100
    std::vector<ConnectionAccounting::Admission> others;
    for (int i = 0; i < 50; ++i) others.push_back(acc2.admit(d, ip(("198.51.100." + std::to_string(i)).c_str()), &why));
    auto a3 = acc2.admit(d, ip("203.0.113.1"), &why);
    auto a4 = acc2.admit(d, ip("203.0.113.1"), &why);
    CHECK(static_cast<bool>(a3));
    CHECK_FALSE(a4);  // 2 % of the 50 the others leave is 1
}

TEST_CASE("every back-pressure key is declared in the settings table with the monitor's default", "[receive][settings]") {
    edge::backpressure::BackPressureSettings defaults;
    ConfigObject bootstrap(ObjectKind::Bootstrap);
    CHECK(edge::config::bootstrap_settings(bootstrap).back_pressure == defaults);
    for (const char* key : {"EnableResourceMonitoring", "ResourceMonitoringInterval", "PercentageDatabaseDiskSpaceUsedHighThreshold",
                            "PercentagePrivateBytesUsedHighThreshold", "DatabaseMapUsageHighThreshold",
                            "SubmissionQueueLengthHighThreshold"}) {
        INFO(key);
        CHECK(edge::config::bound_member(ObjectKind::Bootstrap, key).starts_with("back_pressure."));
    }
}
