// Routing: IP addresses, RemoteIPRanges, Bindings, accepted domains, address spaces
// and the categorizer's choice of Send connector. Table-driven; one randomized pass.
#include "categorizer.hpp"
#include "ip.hpp"
#include "text.hpp"

#include <catch2/catch.hpp>

#include <random>

using namespace edge::routing;

namespace {

IpAddress ip(std::string_view text) {
    auto r = IpAddress::parse(text);
    INFO(text << ": " << r.error);
    REQUIRE(r);
    return *r;
}

IpRange range(std::string_view text) {
    auto r = IpRange::parse(text);
    INFO(text << ": " << r.error);
    REQUIRE(r);
    return *r;
}

AddressSpace space(std::string_view text) {
    auto r = AddressSpace::parse(text);
    INFO(text << ": " << r.error);
    REQUIRE(r);
    return *r;
}

bool contains_text(const std::string& haystack, std::string_view needle) { return haystack.find(needle) != std::string::npos; }

}  // namespace

// --- IpAddress -----------------------------------------------------------------

TEST_CASE("IP addresses parse in every accepted form and print canonically", "[routing][ip]") {
    struct Row {
        const char* text;
        const char* canonical;
        bool v4;
    };
    const Row rows[] = {
        {"192.0.2.1", "192.0.2.1", true},
        {"0.0.0.0", "0.0.0.0", true},
        {"255.255.255.255", "255.255.255.255", true},
        {"[192.0.2.1]", "192.0.2.1", true},
        {"::1", "::1", false},
        {"[::1]", "::1", false},
        {"::", "::", false},
        {"2001:DB8::1", "2001:db8::1", false},
        {"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1", false},
        {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1", false},   // RFC 5952 §4.2.3: the first of equal runs
        {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1", false}, // RFC 5952 §4.2.2: one zero word stays
        {"2001:db8::1:0:0:0:1", "2001:db8:0:1::1", false},       // the longest run wins
        {"fe80::", "fe80::", false},
        {"::ffff:192.0.2.1", "192.0.2.1", true},
        {"::FFFF:c000:0201", "192.0.2.1", true},
        {"::192.0.2.1", "::c000:201", false},  // IPv4-compatible (deprecated) is plain IPv6
    };
    for (const auto& r : rows) {
        INFO(r.text);
        auto a = IpAddress::parse(r.text);
        REQUIRE(a);
        CHECK(a.error.empty());
        CHECK(a->str() == r.canonical);
        CHECK(a->is_v4() == r.v4);
        CHECK(*IpAddress::parse(a->str()) == *a);
    }
}

TEST_CASE("an IPv4-mapped IPv6 client address equals the IPv4 address", "[routing][ip]") {
    CHECK(ip("::ffff:192.0.2.1") == ip("192.0.2.1"));
    CHECK(ip("[::ffff:10.1.2.3]") == IpAddress::v4(0x0a010203));
    CHECK(ip("192.0.2.1").v4_value() == 0xc0000201u);
    CHECK(ip("::ffff:0.0.0.0") == IpAddress::any_v4());
    CHECK(ip("0.0.0.0") != IpAddress::any_v6());
    CHECK(ip("::192.0.2.1") != ip("192.0.2.1"));
}

TEST_CASE("malformed IP addresses are refused with a sentence saying what was expected", "[routing][ip]") {
    struct Row {
        const char* text;
        const char* expected;
    };
    const Row rows[] = {
        {"", "found nothing"},
        {"192.0.2", "IPv4 address of four decimal parts"},
        {"192.0.2.1.5", "IPv4 address of four decimal parts"},
        {"192.0.2.256", "IPv4 address of four decimal parts"},
        {"192.0.2.01", "without leading zeros"},
        {"192.0.2.1 ", "IPv4"},
        {" 192.0.2.1", "IPv4"},
        {"0x7f.0.0.1", "IPv4"},
        {"localhost", "IPv4"},
        {"2001:db8::1::1", "IPv6 address"},
        {"2001:db8:::1", "IPv6 address"},
        {"12345::1", "IPv6 address"},
        {"fe80::1%eth0", "zone id"},
        {"[::1", "bracketed address"},
        {"::1]", "bracketed address"},
        {"[]", "expected an IP address"},
        {"[", "bracketed address"},
        {"1:2:3:4:5:6:7:8:9", "IPv6 address"},
        {"ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255:1", "expected an IP address"},
    };
    for (const auto& r : rows) {
        INFO(r.text);
        auto a = IpAddress::parse(r.text);
        CHECK_FALSE(a);
        CHECK(contains_text(a.error, r.expected));
    }
}

// --- IpRange -------------------------------------------------------------------

TEST_CASE("RemoteIPRanges entries parse in all three forms and round-trip their canonical text", "[routing][range]") {
    struct Row {
        const char* text;
        const char* canonical;
        IpRange::Form form;
        const char* first;
        const char* last;
    };
    using F = IpRange::Form;
    const Row rows[] = {
        {"192.0.2.1", "192.0.2.1", F::Single, "192.0.2.1", "192.0.2.1"},
        {"2001:db8::1", "2001:db8::1", F::Single, "2001:db8::1", "2001:db8::1"},
        {"::ffff:192.0.2.1", "192.0.2.1", F::Single, "192.0.2.1", "192.0.2.1"},
        {"192.0.2.1-192.0.2.9", "192.0.2.1-192.0.2.9", F::Range, "192.0.2.1", "192.0.2.9"},
        {"192.0.2.1 - 192.0.2.9", "192.0.2.1-192.0.2.9", F::Range, "192.0.2.1", "192.0.2.9"},
        {"192.0.2.5-192.0.2.5", "192.0.2.5-192.0.2.5", F::Range, "192.0.2.5", "192.0.2.5"},
        {"0.0.0.0-255.255.255.255", "0.0.0.0-255.255.255.255", F::Range, "0.0.0.0", "255.255.255.255"},
        {"2001:db8::1-2001:db8::ff", "2001:db8::1-2001:db8::ff", F::Range, "2001:db8::1", "2001:db8::ff"},
        {"192.0.2.0/24", "192.0.2.0/24", F::Cidr, "192.0.2.0", "192.0.2.255"},
        {"10.0.0.0/8", "10.0.0.0/8", F::Cidr, "10.0.0.0", "10.255.255.255"},
        {"0.0.0.0/0", "0.0.0.0/0", F::Cidr, "0.0.0.0", "255.255.255.255"},
        {"192.0.2.7/32", "192.0.2.7/32", F::Cidr, "192.0.2.7", "192.0.2.7"},
        {"192.0.2.0 / 25", "192.0.2.0/25", F::Cidr, "192.0.2.0", "192.0.2.127"},
        {"2001:db8::/32", "2001:db8::/32", F::Cidr, "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"},
        {"::/0", "::/0", F::Cidr, "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
        {"::1/128", "::1/128", F::Cidr, "::1", "::1"},
        {"::ffff:192.0.2.0/120", "192.0.2.0/24", F::Cidr, "192.0.2.0", "192.0.2.255"},
    };
    for (const auto& r : rows) {
        INFO(r.text);
        auto p = IpRange::parse(r.text);
        REQUIRE(p);
        CHECK(p.warning.empty());
        CHECK(p->form() == r.form);
        CHECK(p->str() == r.canonical);
        CHECK(p->first() == ip(r.first));
        CHECK(p->last() == ip(r.last));
        auto again = IpRange::parse(p->str());
        REQUIRE(again);
        CHECK(*again == *p);
        CHECK(again->str() == p->str());
    }
}

TEST_CASE("a CIDR block with host bits set is accepted and normalised and the warning says so", "[routing][range]") {
    auto p = IpRange::parse("192.0.2.77/24");
    REQUIRE(p);
    CHECK(p->str() == "192.0.2.0/24");
    CHECK(contains_text(p.warning, "host bits"));
    CHECK(contains_text(p.warning, "192.0.2.0/24"));

    auto v6 = IpRange::parse("2001:db8::1/32");
    REQUIRE(v6);
    CHECK(v6->str() == "2001:db8::/32");
    CHECK_FALSE(v6.warning.empty());

    auto odd = IpRange::parse("192.0.2.255/31");
    REQUIRE(odd);
    CHECK(odd->str() == "192.0.2.254/31");
    CHECK(odd->last() == ip("192.0.2.255"));
}

TEST_CASE("malformed RemoteIPRanges entries are refused with what was expected", "[routing][range]") {
    struct Row {
        const char* text;
        const char* expected;
    };
    const Row rows[] = {
        {"", "found nothing"},
        {"   ", "found nothing"},
        {"192.0.2.9-192.0.2.1", "first address of a range not to exceed the last"},
        {"192.0.2.1-2001:db8::1", "same family"},
        {"::1-192.0.2.1", "same family"},
        {"192.0.2.1-", "the last address"},
        {"-192.0.2.1", "the first address"},
        {"192.0.2.1-192.0.2.2-192.0.2.3", "the last address"},
        {"192.0.2.0/33", "prefix length from 0 to 32"},
        {"2001:db8::/129", "prefix length from 0 to 128"},
        {"192.0.2.0/", "prefix length"},
        {"192.0.2.0/-1", "prefix length"},
        {"192.0.2.0/2a", "prefix length"},
        {"192.0.2.0/0024", "prefix length"},
        {"/24", "CIDR block"},
        {"192.0.2/24", "CIDR block"},
        {"::ffff:0:0/95", "/96 or longer"},
        {"192.0.2.1/24/8", "prefix length"},
        {"host.example.com", "expected an IP address, a range"},
        {"192.0.2.*", "expected an IP address, a range"},
    };
    for (const auto& r : rows) {
        INFO(r.text);
        auto p = IpRange::parse(r.text);
        CHECK_FALSE(p);
        INFO(p.error);
        CHECK(contains_text(p.error, r.expected));
    }
}

TEST_CASE("a range contains its edges and nothing beyond them", "[routing][range]") {
    struct Row {
        const char* range;
        const char* address;
        bool inside;
    };
    const Row rows[] = {
        {"192.0.2.10-192.0.2.20", "192.0.2.10", true},    {"192.0.2.10-192.0.2.20", "192.0.2.20", true},
        {"192.0.2.10-192.0.2.20", "192.0.2.9", false},    {"192.0.2.10-192.0.2.20", "192.0.2.21", false},
        {"192.0.2.0/24", "192.0.2.0", true},              {"192.0.2.0/24", "192.0.2.255", true},
        {"192.0.2.0/24", "192.0.1.255", false},           {"192.0.2.0/24", "192.0.3.0", false},
        {"192.0.2.1", "192.0.2.1", true},                 {"192.0.2.1", "192.0.2.2", false},
        {"192.0.2.1", "::ffff:192.0.2.1", true},          {"0.0.0.0/0", "0.0.0.0", true},
        {"0.0.0.0/0", "255.255.255.255", true},           {"2001:db8::/32", "2001:db8::", true},
        {"2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true},
        {"2001:db8::/32", "2001:db9::", false},           {"2001:db8::/32", "2001:db7:ffff::", false},
        {"::/0", "::", true},                             {"::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
        {"::1-::3", "::3", true},                         {"::1-::3", "::4", false},
    };
    for (const auto& r : rows) {
        INFO(r.range << " contains " << r.address);
        CHECK(range(r.range).contains(ip(r.address)) == r.inside);
    }
}

TEST_CASE("IPv4 ranges never contain IPv6 addresses and IPv6 ranges never contain IPv4 ones", "[routing][range]") {
    const IpRange v4_all[] = {range("0.0.0.0-255.255.255.255"), range("0.0.0.0/0"), IpRange::whole_v4()};
    const IpRange v6_all[] = {range("::/0"), IpRange::whole_v6(), range("::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")};
    for (const char* a : {"::", "::1", "2001:db8::1", "::192.0.2.1", "fe80::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}) {
        INFO(a);
        for (const auto& r : v4_all) CHECK_FALSE(r.contains(ip(a)));
        for (const auto& r : v6_all) CHECK(r.contains(ip(a)));
    }
    for (const char* a : {"0.0.0.0", "192.0.2.1", "::ffff:192.0.2.1", "255.255.255.255"}) {
        INFO(a);
        for (const auto& r : v4_all) CHECK(r.contains(ip(a)));
        for (const auto& r : v6_all) CHECK_FALSE(r.contains(ip(a)));
    }
}

TEST_CASE("range sizes count addresses exactly and ::/0 saturates", "[routing][range]") {
    CHECK(range("192.0.2.1").size() == Count128{0, 1});
    CHECK(range("192.0.2.1").span() == Count128{0, 0});
    CHECK(range("192.0.2.0/24").size() == Count128{0, 256});
    CHECK(range("192.0.2.10-192.0.2.20").size() == Count128{0, 11});
    CHECK(range("0.0.0.0/0").size() == Count128{0, 1ull << 32});
    CHECK(range("2001:db8::/64").size() == Count128{1, 0});
    CHECK(range("2001:db8::/63").size() == Count128{2, 0});
    CHECK(range("::/1").size() == Count128{1ull << 63, 0});
    CHECK(range("::/0").span() == Count128{~0ull, ~0ull});
    CHECK(range("::/0").size() == Count128{~0ull, ~0ull});
    CHECK(range("2001:db8::ffff:ffff:ffff:ffff-2001:db8:0:1::").size() == Count128{0, 2});  // borrow across halves
}

TEST_CASE("the most specific RemoteIPRanges entry is the smallest that contains the client", "[routing][range]") {
    const std::vector<IpRange> ranges = {
        range("0.0.0.0-255.255.255.255"), range("192.0.2.0/24"), range("192.0.2.10-192.0.2.20"),
        range("192.0.2.15"),              range("::/0"),         range("2001:db8::/32"),
        range("192.0.2.0-192.0.2.255"),  // same size as the /24: the earlier one wins
    };
    struct Row {
        const char* client;
        std::ptrdiff_t expected;  // index, -1 = none
    };
    const Row rows[] = {
        {"192.0.2.15", 3}, {"192.0.2.16", 2}, {"192.0.2.10", 2}, {"192.0.2.21", 1}, {"192.0.2.255", 1},
        {"198.51.100.1", 0}, {"::ffff:192.0.2.15", 3}, {"2001:db8::25", 5}, {"2001:db9::1", 4},
    };
    for (const auto& r : rows) {
        INFO(r.client);
        const IpRange* best = most_specific(ranges, ip(r.client));
        REQUIRE(best != nullptr);
        CHECK(best - ranges.data() == r.expected);
    }
    const std::vector<IpRange> v4_only = {range("192.0.2.0/24")};
    CHECK(most_specific(v4_only, ip("2001:db8::1")) == nullptr);
    CHECK(most_specific(v4_only, ip("198.51.100.1")) == nullptr);
    CHECK(most_specific({}, ip("192.0.2.1")) == nullptr);
}

// --- Binding -------------------------------------------------------------------

TEST_CASE("bindings parse as IP:port with IPv6 in brackets and print the same way", "[routing][binding]") {
    struct Row {
        const char* text;
        const char* canonical;
        std::uint16_t port;
        bool any;
    };
    const Row rows[] = {
        {"0.0.0.0:25", "0.0.0.0:25", 25, true},
        {"127.0.0.1:2525", "127.0.0.1:2525", 2525, false},
        {"[::]:25", "[::]:25", 25, true},
        {"[2001:DB8::1]:587", "[2001:db8::1]:587", 587, false},
        {"192.0.2.1:65535", "192.0.2.1:65535", 65535, false},
        {"192.0.2.1:1", "192.0.2.1:1", 1, false},
        {"[192.0.2.1]:25", "192.0.2.1:25", 25, false},
    };
    for (const auto& r : rows) {
        INFO(r.text);
        auto b = Binding::parse(r.text);
        REQUIRE(b);
        CHECK(b->str() == r.canonical);
        CHECK(b->port == r.port);
        CHECK(b->is_any() == r.any);
        CHECK(*Binding::parse(b->str()) == *b);
    }
}

TEST_CASE("malformed bindings are refused with what was expected", "[routing][binding]") {
    struct Row {
        const char* text;
        const char* expected;
    };
    const Row rows[] = {
        {"", "expected IP:port"},
        {"0.0.0.0", "expected IP:port"},
        {"0.0.0.0:", "TCP port from 1 to 65535"},
        {"0.0.0.0:0", "TCP port from 1 to 65535"},
        {"0.0.0.0:65536", "TCP port from 1 to 65535"},
        {"0.0.0.0:250000", "TCP port from 1 to 65535"},
        {"0.0.0.0:-1", "TCP port"},
        {"0.0.0.0:smtp", "TCP port"},
        {"::1:25", "IPv6 address in brackets"},
        {"[::1]25", "expected [IPv6]:port"},
        {"[::1]", "expected [IPv6]:port"},
        {"[::1:25", "expected [IPv6]:port"},
        {"[::g]:25", "IPv6 address"},
        {"mail.example.com:25", "IPv4"},
        {":25", "found nothing"},
    };
    for (const auto& r : rows) {
        INFO(r.text);
        auto b = Binding::parse(r.text);
        CHECK_FALSE(b);
        INFO(b.error);
        CHECK(contains_text(b.error, r.expected));
    }
}

TEST_CASE("a binding matches its own address or a wildcard of the family on its own port", "[routing][binding]") {
    const auto any4 = *Binding::parse("0.0.0.0:25");
    const auto any6 = *Binding::parse("[::]:25");
    const auto one4 = *Binding::parse("192.0.2.1:25");
    const auto one6 = *Binding::parse("[2001:db8::1]:25");
    struct Row {
        const Binding* binding;
        const char* local;
        std::uint16_t port;
        bool matches;
    };
    const Row rows[] = {
        {&any4, "192.0.2.1", 25, true},         {&any4, "::ffff:192.0.2.1", 25, true}, {&any4, "2001:db8::1", 25, false},
        {&any4, "192.0.2.1", 587, false},       {&any6, "2001:db8::1", 25, true},      {&any6, "::ffff:192.0.2.1", 25, true},
        {&any6, "192.0.2.1", 25, true},         {&any6, "::1", 2525, false},           {&one4, "192.0.2.1", 25, true},
        {&one4, "::ffff:192.0.2.1", 25, true},  {&one4, "192.0.2.2", 25, false},       {&one4, "192.0.2.1", 26, false},
        {&one6, "2001:db8::1", 25, true},       {&one6, "2001:db8::2", 25, false},     {&one6, "192.0.2.1", 25, false},
    };
    for (const auto& r : rows) {
        INFO(r.binding->str() << " vs " << r.local << ":" << r.port);
        CHECK(binding_matches(*r.binding, ip(r.local), r.port) == r.matches);
    }
}

TEST_CASE("the best binding prefers an exact address then the family's wildcard then the IPv6 wildcard", "[routing][binding]") {
    const std::vector<Binding> bindings = {*Binding::parse("[::]:25"), *Binding::parse("0.0.0.0:25"),
                                           *Binding::parse("192.0.2.1:25"), *Binding::parse("[2001:db8::1]:25")};
    CHECK(best_binding(bindings, ip("192.0.2.1"), 25) == &bindings[2]);
    CHECK(best_binding(bindings, ip("192.0.2.2"), 25) == &bindings[1]);
    CHECK(best_binding(bindings, ip("2001:db8::1"), 25) == &bindings[3]);
    CHECK(best_binding(bindings, ip("2001:db8::2"), 25) == &bindings[0]);
    CHECK(best_binding(bindings, ip("192.0.2.1"), 587) == nullptr);
    const std::vector<Binding> only6 = {*Binding::parse("[::]:25")};
    CHECK(best_binding(only6, ip("192.0.2.2"), 25) == &only6[0]);
}

// --- accepted domains ----------------------------------------------------------

TEST_CASE("accepted-domain types print and parse in any case", "[routing][domain]") {
    for (auto t : {AcceptedDomainType::Authoritative, AcceptedDomainType::InternalRelay, AcceptedDomainType::ExternalRelay}) {
        CHECK(parse_accepted_domain_type(to_string(t)) == t);
        CHECK(parse_accepted_domain_type(to_lower(to_string(t))) == t);
    }
    CHECK(parse_accepted_domain_type("INTERNALRELAY") == AcceptedDomainType::InternalRelay);
    CHECK(std::string(to_string(AcceptedDomainType::ExternalRelay)) == "ExternalRelay");
    CHECK_FALSE(parse_accepted_domain_type("Internal"));
    CHECK_FALSE(parse_accepted_domain_type(""));
}

TEST_CASE("domain names are LDH labels optionally led by a wildcard label", "[routing][domain]") {
    const char* good[] = {"contoso.com", "*.contoso.com", "*.com", "localhost", "a-b.c0.example", "XN--BCHER-KVA.example",
                          "123.example", "a"};
    for (const char* d : good) {
        INFO(d);
        CHECK_FALSE(validate_domain_name(d));
    }
    const std::string label63(63, 'a'), label64(64, 'a');
    CHECK_FALSE(validate_domain_name(label63 + ".com"));
    std::string long255;
    while (long255.size() < 250) long255 += label63.substr(0, 49) + ".";
    long255 += "abcde";  // 255 characters
    REQUIRE(long255.size() == 255);
    CHECK_FALSE(validate_domain_name(long255));

    struct Row {
        std::string text;
        const char* expected;
    };
    const Row bad[] = {
        {"", "found nothing"},
        {"*", "'*' alone"},
        {"*.", "a domain after '*.'"},
        {"*contoso.com", "'*' only as the whole first label"},
        {"sales.*.contoso.com", "'*' only as the whole first label"},
        {"*.*.com", "'*' only as the whole first label"},
        {"contoso.com.", "trailing dot"},
        {".contoso.com", "empty label"},
        {"contoso..com", "empty label"},
        {"-contoso.com", "hyphen"},
        {"contoso-.com", "hyphen"},
        {"exa_mple.com", "letters, digits and hyphens"},
        {"exa mple.com", "letters, digits and hyphens"},
        {"[192.0.2.1]", "letters, digits and hyphens"},
        {"b\xc3\xbc" "cher_x.example", "IDNA2008"},
        {label64 + ".com", "at most 63"},
        {long255 + "f", "at most 255"},
    };
    for (const auto& r : bad) {
        INFO(r.text);
        auto why = validate_domain_name(r.text);
        REQUIRE(why);
        CHECK(contains_text(*why, r.expected));
    }
}

TEST_CASE("an internationalised domain name is valid when IDNA2008 allows it and compares as its A-labels", "[routing][domain][idn]") {
    const char* good[] = {"b\xc3\xbc" "cher.example", "*.b\xc3\xbc" "cher.example", "xn--bcher-kva.example", "XN--BCHER-KVA.example",
                          "xn--invalid.example" /* a valid A-label: five CJK ideographs */};
    for (const char* d : good) {
        INFO(d);
        CHECK_FALSE(validate_domain_name(d));
    }
    struct Row {
        const char* text;
        const char* expected;  // libidn2's reason, in our sentence
    };
    const Row bad[] = {
        {"xn--zz.example", "invalid punycode"},
        {"xn--ls8h.example", "disallowed character"},                         // U+1F4A9 as an A-label
        {"\xe2\x98\x83.example", "disallowed character"},                   // U+2603 SNOWMAN
        {"a\xd7\x90.example", "bi-directional"},                             // Latin and Hebrew in one label
        {"a\xe2\x80\x8d" "b.example", "context-j"},                          // ZERO WIDTH JOINER between letters
        {"*.xn--zz.example", "invalid punycode"},
    };
    for (const auto& r : bad) {
        INFO(r.text);
        auto why = validate_domain_name(r.text);
        REQUIRE(why);
        CHECK(contains_text(*why, "IDNA2008"));
        CHECK(contains_text(*why, r.expected));
    }
    CHECK(normalize_domain("B\xc3\xbc" "cher.Example.") == "xn--bcher-kva.example");
    CHECK(normalize_domain("*.b\xc3\xbc" "cher.example") == "*.xn--bcher-kva.example");
    CHECK(normalize_domain("XN--BCHER-KVA.example") == "xn--bcher-kva.example");
    CHECK(normalize_domain("contoso.com") == "contoso.com");

    // Entered either way, an accepted domain matches the other spelling.
    const AcceptedDomainTable table({
        {"Buecher", "b\xc3\xbc" "cher.example", AcceptedDomainType::Authoritative, false},
        {"Muenchen", "*.xn--mnchen-3ya.example", AcceptedDomainType::Authoritative, false},
    });
    for (const char* d : {"xn--bcher-kva.example", "b\xc3\xbc" "cher.example", "B\xc3\x9c" "CHER.example"}) {
        INFO(d);
        REQUIRE(table.find(d) != nullptr);
        CHECK(table.find(d)->name == "Buecher");
    }
    for (const char* d : {"mail.m\xc3\xbc" "nchen.example", "xn--mnchen-3ya.example", "a.xn--mnchen-3ya.example"}) {
        INFO(d);
        REQUIRE(table.find(d) != nullptr);
        CHECK(table.find(d)->name == "Muenchen");
    }
    CHECK(table.find("bucher.example") == nullptr);

    // An address space entered in Unicode is stored and matched as A-labels.
    const AddressSpace unicode = space("SMTP:*.b\xc3\xbc" "cher.example;5");
    CHECK(unicode.domain == "*.xn--bcher-kva.example");
    CHECK(unicode.str() == "SMTP:*.xn--bcher-kva.example;5");
    CHECK(match_address_space(unicode, "mail.xn--bcher-kva.example", {}) == 2u);
    CHECK(match_address_space(space("xn--bcher-kva.example"), "b\xc3\xbc" "cher.example", {}) == kExactMatch);
    CHECK_FALSE(AddressSpace::parse("SMTP:xn--zz.example;1"));

    // The categorizer routes both spellings to one next-hop queue, named by the A-labels.
    SendConnectorRoute buecher, internet;
    buecher.name = "Buecher";
    buecher.address_spaces = {space("b\xc3\xbc" "cher.example")};
    internet.name = "Internet";
    internet.address_spaces = {space("*")};
    const Categorizer cat({}, {buecher, internet});
    for (const char* d : {"xn--bcher-kva.example", "b\xc3\xbc" "cher.example"}) {
        INFO(d);
        const Route r = cat.route(d);
        CHECK(r.connector == "Buecher");
        CHECK(r.next_hop_domain == "xn--bcher-kva.example");
    }
}

TEST_CASE("accepted-domain lookup prefers exact to wildcard and longer to shorter wildcard and ignores case and a trailing dot",
          "[routing][domain]") {
    const AcceptedDomainTable table({
        {"Contoso", "contoso.com", AcceptedDomainType::Authoritative, true},
        {"Contoso subs", "*.contoso.com", AcceptedDomainType::InternalRelay, false},
        {"Sales", "*.Sales.Contoso.com", AcceptedDomainType::ExternalRelay, false},
        {"Exact sales", "eu.sales.contoso.com", AcceptedDomainType::Authoritative, false},
        {"Fabrikam", "*.fabrikam.com", AcceptedDomainType::Authoritative, false},
        {"Duplicate", "CONTOSO.COM", AcceptedDomainType::ExternalRelay, false},
    });
    struct Row {
        const char* domain;
        const char* entry;  // nullptr = not accepted
    };
    const Row rows[] = {
        {"contoso.com", "Contoso"},
        {"CONTOSO.COM", "Contoso"},
        {"contoso.com.", "Contoso"},
        {"mail.contoso.com", "Contoso subs"},
        {"a.b.c.contoso.com", "Contoso subs"},
        {"sales.contoso.com", "Sales"},  // *.sales.contoso.com covers sales.contoso.com itself
        {"us.sales.contoso.com", "Sales"},
        {"eu.sales.contoso.com", "Exact sales"},
        {"x.eu.sales.contoso.com", "Sales"},
        {"fabrikam.com", "Fabrikam"},
        {"Mail.Fabrikam.Com.", "Fabrikam"},
        {"badcontoso.com", nullptr},
        {"contoso.com.evil.example", nullptr},
        {"com", nullptr},
        {"example.org", nullptr},
        {"", nullptr},
        {".", nullptr},
        {"[192.0.2.1]", nullptr},
    };
    for (const auto& r : rows) {
        INFO(r.domain);
        const AcceptedDomain* d = table.find(r.domain);
        if (r.entry == nullptr) {
            CHECK(d == nullptr);
        } else {
            REQUIRE(d != nullptr);
            CHECK(d->name == r.entry);
        }
    }
    REQUIRE(table.default_domain() != nullptr);
    CHECK(table.default_domain()->name == "Contoso");
    CHECK(AcceptedDomainTable().find("contoso.com") == nullptr);
    CHECK(AcceptedDomainTable().default_domain() == nullptr);
}

// --- address spaces ------------------------------------------------------------

TEST_CASE("address spaces parse in every form and print the full form", "[routing][addrspace]") {
    struct Row {
        const char* text;
        const char* canonical;
    };
    const Row rows[] = {
        {"SMTP:contoso.com;1", "SMTP:contoso.com;1"},
        {"contoso.com", "SMTP:contoso.com;1"},
        {"Contoso.COM;7", "SMTP:contoso.com;7"},
        {"smtp:*.contoso.com;5", "SMTP:*.contoso.com;5"},
        {"*.com", "SMTP:*.com;1"},
        {"*", "SMTP:*;1"},
        {"SMTP:*;100", "SMTP:*;100"},
        {"--", "SMTP:--;1"},
        {"SMTP:--;1", "SMTP:--;1"},
        {" SMTP:contoso.com;2 ", "SMTP:contoso.com;2"},
    };
    for (const auto& r : rows) {
        INFO(r.text);
        auto a = AddressSpace::parse(r.text);
        REQUIRE(a);
        CHECK(a->str() == r.canonical);
        CHECK(a->type == "SMTP");
        CHECK(*AddressSpace::parse(a->str()) == *a);
    }
    CHECK(space("SMTP:*;100").cost == 100);
    CHECK(space("*").is_everything());
    CHECK(space("--").is_accepted_domains());
}

TEST_CASE("malformed address spaces are refused with what was expected", "[routing][addrspace]") {
    struct Row {
        const char* text;
        const char* expected;
    };
    const Row rows[] = {
        {"", "found nothing"},
        {"contoso.com;0", "cost from 1 to 100"},
        {"contoso.com;101", "cost from 1 to 100"},
        {"contoso.com;", "cost from 1 to 100"},
        {"contoso.com;1000", "cost from 1 to 100"},
        {"contoso.com;-1", "cost from 1 to 100"},
        {"contoso.com;one", "cost from 1 to 100"},
        {"X400:c=US;a= ;p=Contoso;1", "type SMTP"},
        {"X400:contoso.com;1", "type SMTP"},
        {"Local:SMTP:contoso.com;1", "'Local:' scope"},
        {"SMTP:SMTP:contoso.com", "one type prefix"},
        {"SMTP:", "found nothing"},
        {"*contoso.com", "whole first label"},
        {"contoso..com", "empty label"},
        {"SMTP:-", "hyphen"},
        {"---", "hyphen"},
        {"**", "whole first label"},
        {"exa_mple.com;2", "letters, digits and hyphens"},
    };
    for (const auto& r : rows) {
        INFO(r.text);
        auto a = AddressSpace::parse(r.text);
        CHECK_FALSE(a);
        INFO(a.error);
        CHECK(contains_text(a.error, r.expected));
    }
}

TEST_CASE("an exact address space beats a longer wildcard which beats a shorter one which beats the catch-all", "[routing][addrspace]") {
    const AcceptedDomainTable none;
    const std::string d = "julia.marketing.contoso.com";
    const auto exact = match_address_space(space(d), d, none);
    const auto w3 = match_address_space(space("*.marketing.contoso.com"), d, none);
    const auto w2 = match_address_space(space("*.contoso.com"), d, none);
    const auto w1 = match_address_space(space("*.com"), d, none);
    const auto all = match_address_space(space("*"), d, none);
    REQUIRE(exact);
    REQUIRE(w3);
    REQUIRE(w2);
    REQUIRE(w1);
    REQUIRE(all);
    CHECK(*exact > *w3);
    CHECK(*w3 > *w2);
    CHECK(*w2 > *w1);
    CHECK(*w1 > *all);
    CHECK(*all == 0);

    struct Row {
        const char* space;
        const char* domain;
        bool matches;
    };
    const Row rows[] = {
        {"*.contoso.com", "contoso.com", true},     {"*.contoso.com", "CONTOSO.com.", true},
        {"*.contoso.com", "badcontoso.com", false}, {"*.contoso.com", "contoso.com.evil.example", false},
        {"contoso.com", "mail.contoso.com", false}, {"contoso.com", "Contoso.Com", true},
        {"*", "[192.0.2.1]", true},                 {"*.com", "[192.0.2.1]", false},
        {"--", "contoso.com", false},  // no accepted domains here
    };
    for (const auto& r : rows) {
        INFO(r.space << " vs " << r.domain);
        CHECK(match_address_space(space(r.space), r.domain, none).has_value() == r.matches);
    }
}

TEST_CASE("the accepted-domains address space matches Authoritative and InternalRelay domains only and as specifically as their entry", "[routing][addrspace]") {
    const AcceptedDomainTable table({
        {"Contoso", "contoso.com", AcceptedDomainType::Authoritative, true},
        {"Relay", "*.relay.contoso.com", AcceptedDomainType::InternalRelay, false},
        {"Partner", "partner.example", AcceptedDomainType::ExternalRelay, false},
    });
    const auto dd = space("--");
    CHECK(match_address_space(dd, "contoso.com", table) == kExactMatch);
    CHECK(match_address_space(dd, "CONTOSO.COM.", table) == kExactMatch);
    CHECK(match_address_space(dd, "a.relay.contoso.com", table) == Specificity{3});
    CHECK(match_address_space(dd, "relay.contoso.com", table) == Specificity{3});
    CHECK_FALSE(match_address_space(dd, "partner.example", table));
    CHECK_FALSE(match_address_space(dd, "mail.contoso.com", table));  // contoso.com is exact, not *.contoso.com
    CHECK_FALSE(match_address_space(dd, "example.org", table));
}

// --- categorizer ---------------------------------------------------------------

namespace {

AcceptedDomainTable org_domains() {
    return AcceptedDomainTable({
        {"Contoso", "contoso.com", AcceptedDomainType::Authoritative, true},
        {"Contoso subs", "*.corp.contoso.com", AcceptedDomainType::InternalRelay, false},
        {"Partner", "partner.example", AcceptedDomainType::ExternalRelay, false},
    });
}

SendConnectorRoute connector(std::string name, std::vector<std::string> spaces, bool dns = true,
                             std::vector<std::string> smart_hosts = {}) {
    SendConnectorRoute c;
    c.name = std::move(name);
    for (const auto& s : spaces) c.address_spaces.push_back(space(s));
    c.dns_routing_enabled = dns;
    c.smart_hosts = std::move(smart_hosts);
    return c;
}

// The two connectors EdgeSync creates (reference §8.5), plus what an administrator adds.
std::vector<SendConnectorRoute> edge_connectors() {
    auto internet = connector("EdgeSync - Site to Internet", {"SMTP:*;100"});
    internet.max_message_size = 10485760;
    return {
        internet,
        connector("EdgeSync - Inbound to Site", {"SMTP:--;1"}, false, {"--"}),
        connector("Partner", {"SMTP:partner.example;1"}, false, {"mx.partner.example"}),
        connector("Fabrikam Wide", {"SMTP:*.fabrikam.com;5"}),
        connector("Fabrikam Sales", {"SMTP:*.sales.fabrikam.com;50"}),
    };
}

}  // namespace

TEST_CASE("the categorizer routes each domain to its most specific connector", "[routing][categorizer]") {
    const Categorizer cat(org_domains(), edge_connectors());
    struct Row {
        const char* domain;
        const char* connector;
        DeliveryKind delivery;
        const char* next_hop;
    };
    const Row rows[] = {
        {"contoso.com", "EdgeSync - Inbound to Site", DeliveryKind::SmartHost, "edgesync - inbound to site"},
        {"Contoso.COM.", "EdgeSync - Inbound to Site", DeliveryKind::SmartHost, "edgesync - inbound to site"},
        {"eu.corp.contoso.com", "EdgeSync - Inbound to Site", DeliveryKind::SmartHost, "edgesync - inbound to site"},
        {"mail.contoso.com", "EdgeSync - Site to Internet", DeliveryKind::Dns, "mail.contoso.com"},
        {"partner.example", "Partner", DeliveryKind::SmartHost, "partner"},
        {"example.org", "EdgeSync - Site to Internet", DeliveryKind::Dns, "example.org"},
        {"EXAMPLE.ORG", "EdgeSync - Site to Internet", DeliveryKind::Dns, "example.org"},
        {"fabrikam.com", "Fabrikam Wide", DeliveryKind::Dns, "fabrikam.com"},
        {"eu.sales.fabrikam.com", "Fabrikam Sales", DeliveryKind::Dns, "eu.sales.fabrikam.com"},  // specific beats cheap
        {"[192.0.2.1]", "EdgeSync - Site to Internet", DeliveryKind::Dns, "[192.0.2.1]"},
    };
    for (const auto& r : rows) {
        INFO(r.domain);
        const Route route = cat.route(r.domain);
        CHECK(route.kind == RouteKind::NextHop);
        CHECK(route.connector == r.connector);
        CHECK(route.delivery == r.delivery);
        CHECK(route.next_hop_domain == r.next_hop);
        CHECK(route.reason.empty());
    }
    CHECK(cat.route("example.org").max_message_size == 10485760);
    CHECK(cat.route("contoso.com").max_message_size == 0);
}

TEST_CASE("equal specificity is decided by the lower cost and then by the connector name", "[routing][categorizer]") {
    SECTION("the cheaper connector wins") {
        const Categorizer cat({}, {connector("A", {"*.contoso.com;10"}), connector("B", {"*.contoso.com;3"})});
        CHECK(cat.route("mail.contoso.com").connector == "B");
    }
    SECTION("on equal cost, the lower name wins, whatever the order given") {
        const Categorizer cat({}, {connector("beta", {"*.contoso.com;3"}), connector("Alpha", {"*.contoso.com;3"})});
        CHECK(cat.route("mail.contoso.com").connector == "Alpha");
        const Categorizer rev({}, {connector("Alpha", {"*.contoso.com;3"}), connector("beta", {"*.contoso.com;3"})});
        CHECK(rev.route("mail.contoso.com").connector == "Alpha");
    }
    SECTION("a connector's best space counts, not its first") {
        const Categorizer cat({}, {connector("A", {"*;1", "mail.contoso.com;90"}), connector("B", {"*.contoso.com;1"})});
        CHECK(cat.route("mail.contoso.com").connector == "A");
        CHECK(cat.route("www.contoso.com").connector == "B");
        CHECK(cat.route("example.org").connector == "A");
    }
    SECTION("-- and an equal wildcard tie, and cost decides") {
        const AcceptedDomainTable domains({{"Subs", "*.contoso.com", AcceptedDomainType::Authoritative, false}});
        const Categorizer cheap_wild(domains, {connector("Inbound", {"--;5"}, false, {"hub"}), connector("Wild", {"*.contoso.com;2"})});
        CHECK(cheap_wild.route("mail.contoso.com").connector == "Wild");
        const Categorizer cheap_inbound(domains, {connector("Inbound", {"--;1"}, false, {"hub"}), connector("Wild", {"*.contoso.com;2"})});
        CHECK(cheap_inbound.route("mail.contoso.com").connector == "Inbound");
        const Categorizer exact(domains, {connector("Inbound", {"--;1"}, false, {"hub"}), connector("Exact", {"mail.contoso.com;100"})});
        CHECK(exact.route("mail.contoso.com").connector == "Exact");
    }
}

TEST_CASE("a domain no enabled connector covers is Unreachable with the reason", "[routing][categorizer]") {
    auto off = connector("Off", {"*"});
    off.enabled = false;
    const Categorizer cat(org_domains(), {off, connector("Contoso only", {"contoso.com"})});
    const Route r = cat.route("example.org");
    CHECK(r.kind == RouteKind::Unreachable);
    CHECK(r.next_hop_domain.empty());
    CHECK(contains_text(r.reason, "no enabled Send connector"));
    CHECK(contains_text(r.reason, "example.org"));
    CHECK(cat.route("contoso.com").kind == RouteKind::NextHop);

    const Categorizer empty({}, {});
    CHECK(empty.route("contoso.com").kind == RouteKind::Unreachable);

    const Categorizer everything({}, {connector("All", {"*"})});
    const Route none = everything.route("");
    CHECK(none.kind == RouteKind::Unreachable);
    CHECK(contains_text(none.reason, "no domain"));
}

TEST_CASE("routing is by address space alone so without an accepted-domains connector an accepted domain follows the catch-all", "[routing][categorizer]") {
    const Categorizer cat(org_domains(), {connector("Internet", {"*;100"})});
    CHECK(cat.route("contoso.com").connector == "Internet");
    const Categorizer inbound_only(org_domains(), {connector("Inbound", {"--"}, false, {"hub.contoso.com"})});
    CHECK(inbound_only.route("contoso.com").kind == RouteKind::NextHop);
    CHECK(inbound_only.route("example.org").kind == RouteKind::Unreachable);
    CHECK(inbound_only.route("partner.example").kind == RouteKind::Unreachable);  // ExternalRelay is not "--"
}

TEST_CASE("a winning smart-host connector without smart hosts makes the domain Unreachable", "[routing][categorizer]") {
    const Categorizer cat(org_domains(), {connector("Inbound", {"--"}, false, {}), connector("Internet", {"*;100"})});
    const Route r = cat.route("contoso.com");
    CHECK(r.kind == RouteKind::Unreachable);
    CHECK(r.connector == "Inbound");
    CHECK(contains_text(r.reason, "no smart hosts"));
    CHECK(cat.route("example.org").connector == "Internet");
}

TEST_CASE("the categorizer tells RCPT which domains are accepted whatever their type", "[routing][categorizer]") {
    const Categorizer cat(org_domains(), {});
    REQUIRE(cat.accepted("CONTOSO.com") != nullptr);
    CHECK(cat.accepted("contoso.com")->domain_type == AcceptedDomainType::Authoritative);
    REQUIRE(cat.accepted("x.corp.contoso.com") != nullptr);
    CHECK(cat.accepted("x.corp.contoso.com")->domain_type == AcceptedDomainType::InternalRelay);
    REQUIRE(cat.accepted("partner.example") != nullptr);
    CHECK(cat.accepted("partner.example")->domain_type == AcceptedDomainType::ExternalRelay);
    CHECK(cat.accepted("example.org") == nullptr);
    CHECK(cat.accepted("mail.contoso.com") == nullptr);
}

// The domain of an address is smtp::canonical_address's (tests/unit/test_smtp_address.cpp):
// routing is handed canonical domains and never splits an address itself.

TEST_CASE("route kinds and delivery types print Exchange's names", "[routing][categorizer]") {
    CHECK(std::string(to_string(DeliveryKind::Dns)) == "DnsConnectorDelivery");
    CHECK(std::string(to_string(DeliveryKind::SmartHost)) == "SmartHostConnectorDelivery");
    CHECK(std::string(to_string(RouteKind::Unreachable)) == "Unreachable");
    CHECK(std::string(to_string(RouteKind::NextHop)) == "NextHop");
}

// --- randomized ----------------------------------------------------------------

TEST_CASE("random ranges round-trip through str and parse and contain their edges", "[routing][range][random]") {
    std::mt19937_64 rng(20240611);
    auto random_address = [&](bool v4) {
        if (v4) return IpAddress::v4(static_cast<std::uint32_t>(rng()));
        IpAddress::Bytes b;
        for (auto& x : b) x = static_cast<std::uint8_t>(rng());
        if (rng() % 4 == 0) std::fill(b.begin() + 2, b.begin() + 2 + rng() % 12, std::uint8_t{0});  // zero runs
        IpAddress a(b);
        return a.is_v4() ? IpAddress() : a;
    };
    for (int i = 0; i < 20000; ++i) {
        const bool v4 = rng() % 2 == 0;
        std::string text;
        switch (rng() % 3) {
        case 0: text = random_address(v4).str(); break;
        case 1: {
            auto a = random_address(v4), b = random_address(v4);
            if (b < a) std::swap(a, b);
            text = a.str() + "-" + b.str();
            break;
        }
        default: text = random_address(v4).str() + "/" + std::to_string(rng() % (v4 ? 33 : 129)); break;
        }
        INFO(text);
        const auto r = IpRange::parse(text);
        REQUIRE(r);
        CHECK(r->is_v4() == v4);
        const auto again = IpRange::parse(r->str());
        REQUIRE(again);
        CHECK(*again == *r);
        CHECK(again->str() == r->str());
        CHECK(again.warning.empty());
        CHECK(r->contains(r->first()));
        CHECK(r->contains(r->last()));
        CHECK(r->first() <= r->last());
        const auto addr = IpAddress::parse(r->first().str());
        REQUIRE(addr);
        CHECK(*addr == r->first());
    }
}

TEST_CASE("random garbage never crashes a parser", "[routing][random]") {
    std::mt19937_64 rng(7);
    const std::string alphabet = "0123456789abcdefABCDEF:.-/[]*;%@ SMTPsmtp\t\x01\xff";
    for (int i = 0; i < 50000; ++i) {
        std::string s;
        const auto len = rng() % 48;
        for (std::size_t k = 0; k < len; ++k) s += alphabet[rng() % alphabet.size()];
        // Whatever each parser says, it says it without crashing and either succeeds or explains.
        auto a = IpAddress::parse(s);
        CHECK((a.value.has_value() || !a.error.empty()));
        auto r = IpRange::parse(s);
        CHECK((r.value.has_value() || !r.error.empty()));
        if (r) CHECK(IpRange::parse(r->str()));
        auto b = Binding::parse(s);
        CHECK((b.value.has_value() || !b.error.empty()));
        auto sp = AddressSpace::parse(s);
        CHECK((sp.value.has_value() || !sp.error.empty()));
        if (sp) CHECK(AddressSpace::parse(sp->str()));
        (void)validate_domain_name(s);
        (void)AcceptedDomainTable({{"x", s, AcceptedDomainType::Authoritative, false}}).find(s);
    }
}
