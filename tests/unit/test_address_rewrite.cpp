// Address rewriting (issue 19): the RFC 5322 address-list scanner, the entries' matching
// (one address, a domain, *.domain with exceptions, inbound only when not OutboundOnly),
// the header section rewrite (only the listed fields, only addr-spec bytes), the two
// agents' verdicts and validate_object's rules for New-AddressRewriteEntry.
#include "address_rewrite.hpp"
#include "address_rewrite_agents.hpp"
#include "settings.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace edge::agents;
using edge::config::AddressRewriteEntrySettings;

namespace {

AddressRewriteEntrySettings entry(std::string internal, std::string external, bool outbound_only = false,
                                  std::vector<std::string> exceptions = {}) {
    AddressRewriteEntrySettings e;
    e.name = internal;
    e.internal_address = std::move(internal);
    e.external_address = std::move(external);
    e.outbound_only = outbound_only;
    e.exception_list = std::move(exceptions);
    return e;
}

// The seed's masquerade: every corp.contoso.local address leaves as contoso.com, but for
// one subdomain; the CEO's own address has its own entry.
AddressRewriter masquerade() {
    return AddressRewriter({entry("*.contoso.local", "contoso.com", true, {"lab.contoso.local"}),
                            entry("ceo@corp.contoso.local", "chief@contoso.com"),
                            entry("fabrikam.local", "fabrikam.com")});
}

std::string out(const AddressRewriter& r, std::string_view value) {
    return r.rewrite_address_list(value, RewriteDirection::Outbound).value_or(std::string(value));
}

std::string joined(const std::vector<std::string>& chunks) {
    std::string s;
    for (const auto& c : chunks) s += c;
    return s;
}

std::vector<std::string> validate(std::vector<std::pair<std::string, std::string>> params) {
    edge::config::ConfigObject o(edge::config::ObjectKind::AddressRewriteEntry);
    o.set("Name", "e");
    for (auto& [k, v] : params) {
        auto err = o.set(k, v);
        if (!err.empty()) return {err};
    }
    return edge::config::validate_object(o);
}

}  // namespace

TEST_CASE("the scanner finds the addr-spec of every address form RFC 5322 has, and nothing in names or comments",
          "[agents][address-rewrite]") {
    struct Case {
        std::string value;
        std::vector<std::string> addresses;  // local@domain as found
    };
    const std::vector<Case> cases = {
        {" a@b.test", {"a@b.test"}},
        {" \"Smith, John\" <john@b.test>, jane@c.test", {"john@b.test", "jane@c.test"}},
        {" John (the boss) <john(x)@b.test> (comment a@evil.test)", {"john@b.test"}},
        {" undisclosed: a@b.test, \"C\" <c@d.test>;, e@f.test", {"a@b.test", "c@d.test", "e@f.test"}},
        {" undisclosed-recipients:;", {}},
        {" =?utf-8?Q?J=C3=B6rg?= <joerg@b.test>", {"joerg@b.test"}},
        {" \"a@fake.test\" <real@b.test>", {"real@b.test"}},
        {" <@relay1.test,@relay2.test:user@b.test>", {"user@b.test"}},
        {" \"quoted local\"@b.test", {"\"quoted local\"@b.test"}},
        {" first.last@[192.0.2.1]", {"first.last@[192.0.2.1]"}},
        {" Name\r\n <folded@b.test>,\r\n\tnext@c.test", {"folded@b.test", "next@c.test"}},
        {" no address at all", {}},
        {" bad@@b.test, <unclosed@b.test, ok@c.test", {}},
        {" two words@b.test, ok@c.test", {"ok@c.test"}},
        {" ends.@b.test, .starts@b.test, x@b.test.", {}},
    };
    for (const auto& c : cases) {
        INFO(c.value);
        std::vector<std::string> found;
        for (const auto& s : find_addr_specs(c.value)) {
            CHECK(s.local_end <= s.domain_begin);
            CHECK(s.domain_end <= c.value.size());
            found.push_back(s.local + "@" + s.domain);
        }
        CHECK(found == c.addresses);
    }
}

TEST_CASE("outbound rewriting changes only addr-spec bytes: display names, groups, comments and encoded words stay",
          "[agents][address-rewrite]") {
    const AddressRewriter r = masquerade();
    CHECK(out(r, " \"Smith, John\" <john@corp.contoso.local>") == " \"Smith, John\" <john@contoso.com>");
    CHECK(out(r, " =?utf-8?Q?J=C3=B6rg_corp.contoso.local?= <Joerg@Sales.Corp.Contoso.Local>") ==
          " =?utf-8?Q?J=C3=B6rg_corp.contoso.local?= <Joerg@contoso.com>");
    CHECK(out(r, " team: a@corp.contoso.local, \"B\" <b@sales.contoso.local> (desk);, x@outside.test") ==
          " team: a@contoso.com, \"B\" <b@contoso.com> (desk);, x@outside.test");
    CHECK(out(r, " \"john@corp.contoso.local\" <john@corp.contoso.local> (john@corp.contoso.local)") ==
          " \"john@corp.contoso.local\" <john@contoso.com> (john@corp.contoso.local)");
    CHECK(out(r, " Folded\r\n <a@corp.contoso.local>,\r\n\tb@corp.contoso.local") ==
          " Folded\r\n <a@contoso.com>,\r\n\tb@contoso.com");
    // The domain itself is under its wildcard too; an exception is left as it is.
    CHECK(out(r, " a@contoso.local, b@lab.contoso.local, c@x.lab.contoso.local") ==
          " a@contoso.com, b@lab.contoso.local, c@contoso.com");
    // One address wins over the wildcard, and is written whole; a domain entry keeps the local part as written.
    CHECK(out(r, " Boss <\"CEO\"@corp.contoso.local>, \"Mr X\"@fabrikam.local") ==
          " Boss <chief@contoso.com>, \"Mr X\"@fabrikam.com");
    // Not ours: untouched, and reported as no change.
    CHECK_FALSE(r.rewrite_address_list(" a@contoso.local.evil.test, b@evilcontoso.local", RewriteDirection::Outbound));
}

TEST_CASE("inbound rewriting is for RCPT TO, from entries that are not OutboundOnly, never from a wildcard",
          "[agents][address-rewrite]") {
    const AddressRewriter r = masquerade();
    CHECK(r.rewrite_address("chief@contoso.com", RewriteDirection::Inbound) == "ceo@corp.contoso.local");
    CHECK(r.rewrite_address("Someone@Fabrikam.com", RewriteDirection::Inbound) == "Someone@fabrikam.local");
    CHECK_FALSE(r.rewrite_address("someone@contoso.com", RewriteDirection::Inbound));  // only the wildcard maps there
    CHECK_FALSE(r.rewrite_address("someone@fabrikam.local", RewriteDirection::Inbound));
    CHECK(r.rewrite_address("someone@fabrikam.local", RewriteDirection::Outbound) == "someone@fabrikam.com");
    CHECK_FALSE(r.rewrite_address("", RewriteDirection::Outbound));  // the null sender stays null
    const AddressRewriter outbound_only({entry("a@inside.test", "b@outside.test", true)});
    CHECK_FALSE(outbound_only.rewrite_address("b@outside.test", RewriteDirection::Inbound));

    AddressRewritingInboundAgent agent(std::make_shared<const AddressRewriter>(masquerade()));
    Envelope env;
    env.recipient = "chief@contoso.com";
    env.recipient_domain = "contoso.com";
    Verdict v = agent.on_event(AgentEvent::OnRcptCommand, {}, env);
    REQUIRE(v.edit);
    CHECK(v.edit->rewrite_recipient == "ceo@corp.contoso.local");
    CHECK(v.reason_data == "chief@contoso.com -> ceo@corp.contoso.local");
    // The pipeline shows the agents after it the rewritten recipient and its domain.
    MessageChanges changes;
    Envelope view = env;
    apply_edit(changes, *v.edit, view);
    CHECK(view.recipient == "ceo@corp.contoso.local");
    CHECK(view.recipient_domain == "corp.contoso.local");
    env.recipient = "nobody@else.test";
    CHECK_FALSE(agent.on_event(AgentEvent::OnRcptCommand, {}, env).edit);
}

TEST_CASE("the header section is rewritten in the listed fields only, the body and MIME parts never",
          "[agents][address-rewrite]") {
    const AddressRewriter r = masquerade();
    const std::string header =
        "Return-Path: <a@corp.contoso.local>\r\n"
        "Received: from hub.corp.contoso.local by edge (a@corp.contoso.local)\r\n"
        "Message-ID: <123@corp.contoso.local>\r\n"
        "From: \"A\" <a@corp.contoso.local>\r\n"
        "To: team: b@corp.contoso.local,\r\n c@partner.test;\r\n"
        "cc: <d@sales.contoso.local>\r\n"
        "Reply-To: e@corp.contoso.local\r\n"
        "Resent-From: f@corp.contoso.local\r\n"
        "Disposition-Notification-To: g@corp.contoso.local\r\n"
        "Content-Type: multipart/mixed; boundary=\"x@corp.contoso.local\"\r\n";
    const std::string body =
        "\r\n--x@corp.contoso.local\r\nFrom: inner@corp.contoso.local\r\n\r\nTo: h@corp.contoso.local\r\n"
        "--x@corp.contoso.local--\r\n";
    // Chunks cut anywhere, the header's end across two of them.
    const std::string whole = header + body;
    for (std::size_t cut : {std::size_t{1}, header.size() - 1, header.size(), header.size() + 1, whole.size() - 3}) {
        INFO(cut);
        std::vector<std::string> message{whole.substr(0, cut), whole.substr(cut)};
        CHECK(r.rewrite_message(message, 65536) == 6);
        const std::string got = joined(message);
        CHECK(got ==
              "Return-Path: <a@corp.contoso.local>\r\n"
              "Received: from hub.corp.contoso.local by edge (a@corp.contoso.local)\r\n"
              "Message-ID: <123@corp.contoso.local>\r\n"
              "From: \"A\" <a@contoso.com>\r\n"
              "To: team: b@contoso.com,\r\n c@partner.test;\r\n"
              "cc: <d@contoso.com>\r\n"
              "Reply-To: e@contoso.com\r\n"
              "Resent-From: f@contoso.com\r\n"
              "Disposition-Notification-To: g@contoso.com\r\n"
              "Content-Type: multipart/mixed; boundary=\"x@corp.contoso.local\"\r\n" +
                  body);
    }
    // Chunks before the first rewritten field keep their place (acceptance signs after chunk 0).
    std::vector<std::string> stamped{"Received: by edge\r\n", "X-A: 1\r\nFrom: a@corp.contoso.local\r\n\r\nbody"};
    CHECK(r.rewrite_message(stamped, 65536) == 1);
    CHECK(stamped == std::vector<std::string>{"Received: by edge\r\n", "X-A: 1\r\nFrom: a@contoso.com\r\n", "\r\nbody"});
    // Nothing to rewrite: the chunks are not touched.
    std::vector<std::string> other{"From: x@partner.test\r\n\r\nbody\r\n"};
    CHECK(r.rewrite_message(other, 65536) == 0);
    CHECK(other == std::vector<std::string>{"From: x@partner.test\r\n\r\nbody\r\n"});
    // A header with no end within the limit is left alone.
    std::vector<std::string> endless{"From: a@corp.contoso.local\r\nX: " + std::string(200, 'x')};
    CHECK(r.rewrite_message(endless, 100) == 0);
}

TEST_CASE("the outbound agent rewrites MAIL FROM and the header, and says what it did", "[agents][address-rewrite]") {
    AddressRewritingOutboundAgent agent(std::make_shared<const AddressRewriter>(masquerade()));
    std::vector<std::string> message{"From: <a@corp.contoso.local>\r\n\r\nhi\r\n"};
    std::string sender = "a@corp.contoso.local";
    OutboundRewrite r = agent.rewrite_outbound(message, sender, 65536);
    CHECK(sender == "a@contoso.com");
    CHECK(r.header_addresses == 1);
    CHECK(joined(message) == "From: <a@contoso.com>\r\n\r\nhi\r\n");
    Verdict v = outbound_rewrite_verdict(r);
    CHECK(v.reason == "AddressRewritten");
    CHECK(v.reason_data == "1 header address; MAIL FROM a@corp.contoso.local -> a@contoso.com");
    CHECK_FALSE(AddressRewritingOutboundAgent(std::make_shared<const AddressRewriter>()).has_entries());
}

TEST_CASE("New-AddressRewriteEntry's rules: shapes, the wildcard's OutboundOnly and its exceptions",
          "[agents][address-rewrite]") {
    CHECK(validate({{"InternalAddress", "david@contoso.com"}, {"ExternalAddress", "david@northwind.test"}}).empty());
    CHECK(validate({{"InternalAddress", "contoso.com"}, {"ExternalAddress", "northwind.test"}}).empty());
    CHECK(validate({{"InternalAddress", "*.contoso.local"},
                    {"ExternalAddress", "contoso.com"},
                    {"OutboundOnly", "$true"},
                    {"ExceptionList", "lab.contoso.local,x.lab.contoso.local"}})
              .empty());
    auto one = [](std::vector<std::pair<std::string, std::string>> p) {
        auto e = validate(std::move(p));
        return e.empty() ? std::string() : e.front();
    };
    CHECK_THAT(one({{"InternalAddress", "*.contoso.local"}, {"ExternalAddress", "contoso.com"}}),
               Catch::Contains("needs -OutboundOnly $true"));
    CHECK_THAT(one({{"InternalAddress", "contoso.local"}, {"ExternalAddress", "contoso.com"}, {"ExceptionList", "a.contoso.local"}}),
               Catch::Contains("-ExceptionList is allowed only when -InternalAddress is a wildcard"));
    CHECK_THAT(one({{"InternalAddress", "*.contoso.local"},
                    {"ExternalAddress", "contoso.com"},
                    {"OutboundOnly", "$true"},
                    {"ExceptionList", "other.test"}}),
               Catch::Contains("other.test is not a subdomain of contoso.local"));
    CHECK_THAT(one({{"InternalAddress", "*.contoso.local"},
                    {"ExternalAddress", "contoso.com"},
                    {"OutboundOnly", "$true"},
                    {"ExceptionList", "contoso.local"}}),
               Catch::Contains("is not a subdomain"));
    CHECK_THAT(one({{"InternalAddress", "a@contoso.local"}, {"ExternalAddress", "contoso.com"}}),
               Catch::Contains("expected an e-mail address, as -InternalAddress is one"));
    CHECK_THAT(one({{"InternalAddress", "contoso.local"}, {"ExternalAddress", "a@contoso.com"}}),
               Catch::Contains("expected a domain, as -InternalAddress is a domain"));
    CHECK_THAT(one({{"InternalAddress", "contoso.local"}, {"ExternalAddress", "*.contoso.com"}}),
               Catch::Contains("a wildcard is allowed only in -InternalAddress"));
    CHECK_THAT(one({{"InternalAddress", "*contoso.local"}, {"ExternalAddress", "contoso.com"}}),
               Catch::Contains("-InternalAddress: '*contoso.local' is not valid"));
    CHECK_THAT(one({{"InternalAddress", "not an address@"}, {"ExternalAddress", "a@b.test"}}),
               Catch::Contains("-InternalAddress"));
    CHECK_THAT(one({{"InternalAddress", "contoso.local"}}), Catch::Contains("-ExternalAddress is required"));
}

TEST_CASE("a rewrite that would make a header line longer than 998 octets folds before an addr-spec",
          "[agents][address-rewrite]") {
    const AddressRewriter r({entry("a.test", "a-much-longer-external-domain.example")});
    // One To: line of 60 addresses, 15 octets each: under 998 as written, over once rewritten.
    std::string value = " ";
    for (int i = 0; i < 60; ++i) value += (i == 0 ? "" : ", ") + fmt::format("u{:03}@a.test", i);
    value += "\r\n";
    REQUIRE(4 + value.size() < 998);
    std::vector<std::string> message{"To:" + value + "Subject: hi\r\n\r\nbody\r\n"};
    CHECK(r.rewrite_message(message, 64 * 1024) == 60);
    const std::string m = joined(message);
    std::size_t start = 0, longest = 0, lines = 0;
    for (std::size_t lf; (lf = m.find("\r\n", start)) != std::string::npos; start = lf + 2, ++lines)
        longest = std::max(longest, lf - start);
    CHECK(longest <= 998);
    CHECK(lines > 4);  // the To: field was folded
    // Folds come only before an address, never inside one, and no line is white space alone.
    CHECK(m.find("\r\n \r\n") == std::string::npos);
    std::string unfolded = m;
    for (std::size_t p; (p = unfolded.find("\r\n ")) != std::string::npos;) unfolded.erase(p, 2);
    CHECK(unfolded.find("u000@a-much-longer-external-domain.example, ") != std::string::npos);
    CHECK(unfolded.find("u059@a-much-longer-external-domain.example\r\nSubject: hi\r\n\r\nbody\r\n") != std::string::npos);
    // Short lines are never folded.
    CHECK(out(r, " u@a.test, v@a.test") == " u@a-much-longer-external-domain.example, v@a-much-longer-external-domain.example");
}
