// Sender reputation's pure core: HELO analysis, the SRL table, the stored profile.
#include "sender_reputation.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace edge::agents;
using edge::routing::IpAddress;

namespace {

Seconds at(std::int64_t s) { return Seconds(std::chrono::seconds(s)); }
const Seconds kNow = at(1'800'000'000);

HeloContext context(std::string ptr = {}) {
    HeloContext c;
    c.client_ip = "198.51.100.7";
    c.local_ip = "192.0.2.25";
    c.server_fqdn = "edge.contoso.com";
    c.is_accepted_domain = [](std::string_view d) { return d == "contoso.com" || d == "fabrikam.com"; };
    c.ptr_name = std::move(ptr);
    return c;
}

// A profile past the 20 messages Exchange waits for, with nothing against it.
SenderProfile seasoned(std::uint32_t messages = 20) {
    SenderProfile p;
    p.seen(kNow);
    for (std::uint32_t i = 0; i < messages; ++i) p.count_message(kNow);
    p.reverse_dns = ReverseDnsFinding::Pass;
    p.ptr_name = "mail.example.net";
    return p;
}

void helo(SenderProfile& p, std::string_view name, const HeloContext& c) { record_helo(p, name, analyse_helo(name, c)); }

bool has_factor(const SrlResult& r, std::string_view finding) {
    for (const auto& f : r.factors)
        if (f.finding == finding) return true;
    return false;
}

}  // namespace

TEST_CASE("HELO analysis: an IP literal that is not the client's address is a mismatch", "[agents][reputation]") {
    const auto c = context();
    CHECK_FALSE(analyse_helo("[198.51.100.7]", c).literal_mismatch);
    CHECK(analyse_helo("[198.51.100.7]", c).ip_literal);
    CHECK(analyse_helo("[10.0.0.1]", c).literal_mismatch);
    CHECK(analyse_helo("10.0.0.1", c).literal_mismatch);  // bare, as bots send it
    CHECK(analyse_helo("[IPv6:2001:db8::1]", c).literal_mismatch);
    CHECK(analyse_helo("[999.1.1.1]", c).literal_mismatch);  // a literal that is no address is not the client's
    CHECK_FALSE(analyse_helo("mail.example.net", c).ip_literal);
    CHECK_FALSE(analyse_helo("cafe.be", c).ip_literal);  // hex letters and dots, but a name
}

TEST_CASE("HELO analysis: our accepted domain, our name or our address is a claim to be us", "[agents][reputation]") {
    const auto c = context();
    CHECK(analyse_helo("contoso.com", c).claims_ours);
    CHECK(analyse_helo("Fabrikam.COM.", c).claims_ours);
    CHECK(analyse_helo("edge.contoso.com", c).claims_ours);
    CHECK(analyse_helo("[192.0.2.25]", c).claims_ours);
    CHECK_FALSE(analyse_helo("mail.example.net", c).claims_ours);
    CHECK_FALSE(analyse_helo("[198.51.100.7]", c).claims_ours);
}

TEST_CASE("HELO analysis: a name that is not the PTR name nor in its domain is a mismatch", "[agents][reputation]") {
    CHECK_FALSE(analyse_helo("mail.example.net", context("mail.example.net")).ptr_mismatch);
    CHECK_FALSE(analyse_helo("mx1.example.net", context("mail.example.net")).ptr_mismatch);
    CHECK(analyse_helo("mail.brand.example", context("mail.example.net")).ptr_mismatch);  // the seed's case
    CHECK_FALSE(analyse_helo("mail.brand.example", context("")).ptr_mismatch);  // no PTR name: nothing to compare
    CHECK_FALSE(analyse_helo("[198.51.100.7]", context("mail.example.net")).ptr_mismatch);
    CHECK(helo_matches_ptr("MAIL.Example.NET.", "mail.example.net"));
}

TEST_CASE("the set of distinct HELO names is bounded", "[agents][reputation]") {
    SenderProfile p;
    const auto c = context();
    for (int i = 0; i < 50; ++i) helo(p, "host" + std::to_string(i) + ".example", c);
    helo(p, "host0.example", c);
    CHECK(p.helo_names.size() == SenderProfile::kMaxHeloNames);
    CHECK(p.helos == 51);
    CHECK(p.last_helo == "host0.example");
    SenderProfile q;
    helo(q, "Same.Example", c);
    helo(q, "same.example.", c);
    CHECK(q.helo_names.size() == 1);
}

TEST_CASE("the SRL is 0 until 20 messages were seen, whatever the findings", "[agents][reputation]") {
    SenderProfile p = seasoned(19);
    p.reverse_dns = ReverseDnsFinding::NoPtr;
    p.helo_claims_ours = p.helos = 19;
    p.early_talker = 5;
    auto r = sender_reputation_level(p, kNow);
    CHECK(r.level == 0);
    CHECK(r.why().find("19 of the 20 messages") != std::string::npos);
    p.count_message(kNow);
    CHECK(sender_reputation_level(p, kNow).level == 3 + 3 + 2);  // no PTR, claims ours, early talker
}

TEST_CASE("the SRL table: each finding's points", "[agents][reputation]") {
    const auto c = context("mail.example.net");
    SECTION("a clean sender is 0") {
        SenderProfile p = seasoned();
        for (int i = 0; i < 20; ++i) helo(p, "mail.example.net", c);
        auto r = sender_reputation_level(p, kNow);
        CHECK(r.level == 0);
        CHECK(r.factors.empty());
        CHECK(r.why() == "no finding against this sender");
    }
    SECTION("no PTR is 3, a PTR that does not confirm is 3") {
        SenderProfile p = seasoned();
        p.reverse_dns = ReverseDnsFinding::NoPtr;
        p.ptr_name.clear();
        CHECK(sender_reputation_level(p, kNow).level == 3);
        p.reverse_dns = ReverseDnsFinding::Fail;
        p.ptr_name = "dyn-7.isp.example";
        auto r = sender_reputation_level(p, kNow);
        CHECK(r.level == 3);
        CHECK(has_factor(r, "PtrNotConfirmed"));
        p.reverse_dns = ReverseDnsFinding::TempError;  // no evidence either way
        CHECK(sender_reputation_level(p, kNow).level == 0);
    }
    SECTION("distinct HELO names: 3 to 7 is 1, 8 or more is 2") {
        SenderProfile p = seasoned();
        for (int i = 0; i < 3; ++i) helo(p, "mx" + std::to_string(i) + ".example.net", c);
        CHECK(sender_reputation_level(p, kNow).level == 1);
        for (int i = 3; i < 8; ++i) helo(p, "mx" + std::to_string(i) + ".example.net", c);
        CHECK(sender_reputation_level(p, kNow).level == 2);
    }
    SECTION("IP literals that are not the client's: 3 when half the HELOs or more, else 1") {
        SenderProfile p = seasoned();
        helo(p, "[10.0.0.1]", c);
        helo(p, "mail.example.net", c);
        CHECK(sender_reputation_level(p, kNow).level == 3);
        helo(p, "mail.example.net", c);
        CHECK(sender_reputation_level(p, kNow).level == 1);
    }
    SECTION("a HELO claiming to be us is 3") {
        SenderProfile p = seasoned();
        helo(p, "contoso.com", context("mail.example.net"));
        auto r = sender_reputation_level(p, kNow);
        CHECK(has_factor(r, "HeloClaimsOurs"));
        CHECK(r.level == 3 + 1);  // contoso.com is not in the PTR name's domain either
    }
    SECTION("a HELO name that is not the PTR name's domain is 1 (the seed's case)") {
        SenderProfile p = seasoned();
        helo(p, "mail.brand.example", c);
        auto r = sender_reputation_level(p, kNow);
        CHECK(r.level == 1);
        CHECK(has_factor(r, "HeloPtrMismatch"));
    }
    SECTION("other agents' refusals in the last day: 1 below 20 %, 2 below 50 %, 3 from 50 %") {
        SenderProfile p = seasoned();  // 20 messages now
        p.count_rejection(kNow);
        CHECK(sender_reputation_level(p, kNow).level == 1);
        for (int i = 0; i < 5; ++i) p.count_rejection(kNow);  // 6 of 26
        CHECK(sender_reputation_level(p, kNow).level == 2);
        for (int i = 0; i < 14; ++i) p.count_rejection(kNow);  // 20 of 40
        CHECK(sender_reputation_level(p, kNow).level == 3);
        // A day later they no longer count.
        CHECK(sender_reputation_level(p, kNow + std::chrono::hours(25)).level == 0);
    }
    SECTION("an early talker is 2") {
        SenderProfile p = seasoned();
        p.early_talker = 1;
        CHECK(sender_reputation_level(p, kNow).level == 2);
    }
    SECTION("the level never exceeds 9") {
        SenderProfile p = seasoned();
        p.reverse_dns = ReverseDnsFinding::NoPtr;
        p.ptr_name.clear();
        for (int i = 0; i < 20; ++i) helo(p, "[10.0.0." + std::to_string(i) + "]", c);
        helo(p, "contoso.com", c);
        p.early_talker = 3;
        CHECK(sender_reputation_level(p, kNow).level == 9);
    }
}

TEST_CASE("20 messages with bad HELOs and no PTR reach an SRL above 7 (the issue's case)", "[agents][reputation]") {
    SenderProfile p;
    const auto c = context();
    p.reverse_dns = ReverseDnsFinding::NoPtr;
    for (int i = 0; i < 20; ++i) {
        p.seen(kNow);
        helo(p, "[10.9.8." + std::to_string(i) + "]", c);
        p.count_message(kNow);
    }
    auto r = sender_reputation_level(p, kNow);
    CHECK(r.level == 8);
    CHECK(r.level > 7);
    CHECK(has_factor(r, "ManyHeloNames"));
    CHECK(has_factor(r, "HeloIpLiteralMismatch"));
    CHECK(has_factor(r, "NoPtr"));
    CHECK(r.why().find("no PTR record (+3)") != std::string::npos);
}

TEST_CASE("a sender profile round-trips its stored form, and damage is refused with a reason", "[agents][reputation]") {
    SenderProfile p = seasoned(33);
    const auto c = context("mail.example.net");
    for (int i = 0; i < 12; ++i) helo(p, "[10.0.0." + std::to_string(i) + "]", c);
    p.count_rejection(kNow);
    p.early_talker = 2;
    p.srl = 7;
    p.blocked_until = kNow + std::chrono::hours(24);
    p.block_reason = "SRL 8";
    const std::string bytes = encode(p);
    auto back = decode_sender_profile(bytes);
    REQUIRE(back);
    CHECK(*back == p);
    std::string why;
    CHECK_FALSE(decode_sender_profile(bytes.substr(0, bytes.size() - 1), &why));
    CHECK(why.find("truncated") != std::string::npos);
    CHECK_FALSE(decode_sender_profile(bytes + "x", &why));
    CHECK_FALSE(decode_sender_profile(std::string(1, '\x09') + bytes.substr(1), &why));
    CHECK(why.find("format 9") != std::string::npos);
    // Every truncation is refused, never read past the end.
    for (std::size_t n = 0; n < bytes.size(); ++n) CHECK_FALSE(decode_sender_profile(bytes.substr(0, n)));
    // Names longer than the bound are cut when stored.
    SenderProfile big;
    big.last_helo = std::string(1000, 'a');
    auto cut = decode_sender_profile(encode(big));
    REQUIRE(cut);
    CHECK(cut->last_helo.size() == SenderProfile::kMaxNameLength);
}

TEST_CASE("the store key of an address: 4 bytes for IPv4 however written, 16 for IPv6", "[agents][reputation]") {
    auto v4 = IpAddress::parse("192.0.2.1").value;
    auto mapped = IpAddress::parse("::ffff:192.0.2.1").value;
    auto v6 = IpAddress::parse("2001:db8::1").value;
    REQUIRE((v4 && mapped && v6));
    CHECK(reputation_key(*v4) == std::string("\xc0\x00\x02\x01", 4));
    CHECK(reputation_key(*mapped) == reputation_key(*v4));
    CHECK(reputation_key(*v6).size() == 16);
    CHECK(address_of_reputation_key(reputation_key(*v4))->str() == "192.0.2.1");
    CHECK(address_of_reputation_key(reputation_key(*v6))->str() == "2001:db8::1");
    CHECK_FALSE(address_of_reputation_key("abc"));
}
