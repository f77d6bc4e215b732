// The one canonical form of an address (transport/smtp/address.*): table-driven, every
// spelling of issue 13's weaknesses 4 and 5 and their variants.
#include "address.hpp"

#include <catch2/catch.hpp>

#include <random>

using namespace edge::smtp;

namespace {
const char* const kU = "\xc3\xbc";  // ü
const char* const kUU = "\xc3\x9c";  // Ü
std::string u(std::string_view before, std::string_view after = {}) { return std::string(before) + kU + std::string(after); }
}  // namespace

TEST_CASE("spellings of one address have one canonical form", "[smtp][address]") {
    struct Row {
        std::string input;
        std::string canonical;
    };
    const Row rows[] = {
        // Quoted local parts that are dot-atoms lose their quotes; quoted-pairs resolve.
        {"ceo@accepted.test", "ceo@accepted.test"},
        {"\"ceo\"@accepted.test", "ceo@accepted.test"},
        {"\"c\\eo\"@accepted.test", "ceo@accepted.test"},
        {"\"\\c\\e\\o\"@accepted.test", "ceo@accepted.test"},
        {"\"c.e.o\"@accepted.test", "c.e.o@accepted.test"},
        {"CEO@Accepted.TEST", "ceo@accepted.test"},
        {"ceo@accepted.test.", "ceo@accepted.test"},
        {"\"CEO\"@ACCEPTED.test.", "ceo@accepted.test"},
        // Quoted local parts that are not dot-atoms stay quoted, minimally escaped.
        {"\"john doe\"@example.org", "\"john doe\"@example.org"},
        {"\"John\\ Doe\"@example.org", "\"john doe\"@example.org"},
        {"\"a@b\"@example.org", "\"a@b\"@example.org"},
        {"\"a\\\"b\"@example.org", "\"a\\\"b\"@example.org"},
        {"\"a..b\"@example.org", "\"a..b\"@example.org"},
        {"\".a\"@example.org", "\".a\"@example.org"},
        {"\"\"@example.org", "\"\"@example.org"},
        {"\"x;ceo@accepted.test;y\"@accepted.test", "\"x;ceo@accepted.test;y\"@accepted.test"},
        // SMTPUTF8: Unicode case folding and NFC in local parts, IDNA2008 A-labels for domains.
        {u("", "@accepted.test"), u("", "@accepted.test")},
        {std::string(kUU) + "@accepted.test", u("", "@accepted.test")},
        {"\"" + u("") + "\"@accepted.test", u("", "@accepted.test")},
        {u("", "@accepted.test."), u("", "@accepted.test")},
        {"\"" + std::string(kUU) + "\"@ACCEPTED.test.", u("", "@accepted.test")},
        {"u\xcc\x88@accepted.test", u("", "@accepted.test")},  // decomposed ü (u + U+0308) is NFC ü
        {"Stra\xc3\x9f" "e@example.org", "strasse@example.org"},  // full case folding
        {"info@B" + u("") + "cher.test", "info@xn--bcher-kva.test"},
        {"info@b" + u("") + "cher.test", "info@xn--bcher-kva.test"},
        {"info@xn--bcher-kva.test", "info@xn--bcher-kva.test"},
        {"info@XN--BCHER-KVA.test.", "info@xn--bcher-kva.test"},
        {u("", "@") + u("b", "cher.test"), u("", "@xn--bcher-kva.test")},
        // Address literals are parsed and re-written.
        {"user@[192.0.2.1]", "user@[192.0.2.1]"},
        {"user@[IPv6:2001:DB8::1]", "user@[IPv6:2001:db8::1]"},
        {"user@[ipv6:2001:db8:0:0:0:0:0:1]", "user@[IPv6:2001:db8::1]"},
    };
    for (const auto& r : rows) {
        INFO(r.input);
        auto c = canonical_address(r.input);
        REQUIRE(c);
        CHECK(c.str() == r.canonical);
        // Canonical forms are fixed points: the edgesync agent canonicalises the directory
        // and the edge canonicalises again before hashing.
        auto again = canonical_address(c.str());
        REQUIRE(again);
        CHECK(again.str() == r.canonical);
    }
}

TEST_CASE("what is not an address gets an error that says why", "[smtp][address]") {
    struct Row {
        std::string input;
        AddressError error;
    };
    const std::string label63(63, 'a'), label64(64, 'a');
    const Row rows[] = {
        // Issue 13, weakness 5: ESC, punctuation and a quoted '@' in the domain.
        {u("", "@\x1b[31mX.wild.test"), AddressError::ControlByte},
        {u("", "@a,b;c.wild.test"), AddressError::Domain},
        {u("", "@evil.test\"@\".wild.test"), AddressError::Domain},
        {"x@evil.test\"@\".wild.test", AddressError::Domain},
        {"x@a_b.test", AddressError::Domain},
        {"x@a b.test", AddressError::Domain},
        // Labels: empty, overlong, hyphens; the whole name at most 255.
        {"x@a..test", AddressError::Domain},
        {"x@.test", AddressError::Domain},
        {"x@test..", AddressError::Domain},
        {"x@.", AddressError::Domain},
        {"x@" + label64 + ".test", AddressError::Domain},
        {"x@-a.test", AddressError::Domain},
        {"x@a-.test", AddressError::Domain},
        {"x@" + label63 + "." + label63 + "." + label63 + "." + label63 + ".test", AddressError::Domain},
        {"x@", AddressError::Domain},
        // IDNA2008: broken A-labels and what maps to punctuation are not domains.
        {"x@xn--zz.test", AddressError::Domain},
        {"x@xn--a.test", AddressError::Domain},
        {"x@a\xef\xbc\x8c" "b.test", AddressError::Domain},  // FULLWIDTH COMMA maps to ','
        {u("x@", "..test"), AddressError::Domain},
        // Address literals are addresses.
        {"x@[999.1.1.1]", AddressError::Domain},
        {"x@[IPv6:nonsense]", AddressError::Domain},
        {"x@[192.0.2.1", AddressError::Domain},
        {"x@[TAG:whatever]", AddressError::Domain},
        // Control bytes anywhere: C0, DEL, C1 (as UTF-8), also inside quotes.
        {"c\x7f" "eo@accepted.test", AddressError::ControlByte},
        {"\"c\teo\"@accepted.test", AddressError::ControlByte},
        {"\"c\\\x1b" "eo\"@accepted.test", AddressError::ControlByte},
        {"ceo@accepted\xc2\x85.test", AddressError::ControlByte},
        {std::string("ceo@accepted.test\0", 18), AddressError::ControlByte},
        // Local parts.
        {"@accepted.test", AddressError::LocalPart},
        {"a..b@accepted.test", AddressError::LocalPart},
        {".a@accepted.test", AddressError::LocalPart},
        {"a b@accepted.test", AddressError::LocalPart},
        {std::string(65, 'a') + "@accepted.test", AddressError::LocalPart},
        {"\"a\\\"@accepted.test", AddressError::Syntax},  // the quote never closes
        // No '@' outside quotes; broken UTF-8.
        {"postmaster", AddressError::Syntax},
        {"", AddressError::Syntax},
        {"\"a@b\"", AddressError::Syntax},
        {"\xc3(@accepted.test", AddressError::Utf8},
        {"x@\xed\xa0\x80.test", AddressError::Utf8},  // a surrogate
    };
    for (const auto& r : rows) {
        INFO(r.input);
        auto c = canonical_address(r.input);
        CHECK(c.error == r.error);
        CHECK_FALSE(c);
    }
}

TEST_CASE("the U-label and the A-label of a domain are one domain", "[smtp][address]") {
    CHECK(canonical_domain("b" + u("", "cher.test")) == "xn--bcher-kva.test");
    CHECK(canonical_domain("XN--BCHER-KVA.TEST") == "xn--bcher-kva.test");
    CHECK(canonical_domain("xn--bcher-kva.test.") == "xn--bcher-kva.test");
    // Non-transitional (IDNA2008 as registries use it): ß is not ss.
    CHECK(canonical_domain("stra\xc3\x9f" "e.test") == "xn--strae-oqa.test");
    CHECK(canonical_domain("contoso.com") == "contoso.com");
    CHECK(canonical_domain("Contoso.COM.") == "contoso.com");
    CHECK_FALSE(canonical_domain(""));
    CHECK_FALSE(canonical_domain("."));
}

TEST_CASE("the mailbox splits at the last '@' outside quotes", "[smtp][address]") {
    struct Row {
        const char* path;
        const char* local;
        const char* domain;
    };
    const Row rows[] = {
        {"julia@Contoso.COM", "julia", "Contoso.COM"},
        {"\"a@b\"@example.org", "\"a@b\"", "example.org"},
        {"\"a\\\"@b\"@example.org", "\"a\\\"@b\"", "example.org"},
        {"x@evil.test\"@\".wild.test", "x", "evil.test\"@\".wild.test"},
    };
    for (const auto& r : rows) {
        INFO(r.path);
        auto m = split_mailbox(r.path);
        REQUIRE(m);
        CHECK(m->local == r.local);
        CHECK(m->domain == r.domain);
    }
    CHECK_FALSE(split_mailbox("postmaster"));
    CHECK_FALSE(split_mailbox("\"a@b"));
}

TEST_CASE("the canonicaliser survives random bytes", "[smtp][address]") {
    std::mt19937 rng(13);
    const std::string alphabet = std::string("aZ09.-@\"\\[]:;, \x1b\x7f") + "\xc3\xbc\xc3\x9cxn--\xc2\x85\xe2\x80";
    for (int i = 0; i < 20000; ++i) {
        std::string s;
        const auto n = rng() % 40;
        for (unsigned k = 0; k < n; ++k) s.push_back(alphabet[rng() % alphabet.size()]);
        auto c = canonical_address(s);
        if (!c) continue;
        // Whatever it accepts, it accepts again unchanged, and never with a control byte.
        CHECK_FALSE(has_control_byte(c.str()));
        auto again = canonical_address(c.str());
        REQUIRE(again);
        CHECK(again.str() == c.str());
    }
}

// Found by the address fuzz target: U+023A (2 octets) folds to U+2C65 (3 octets), so a
// 64-octet local part had a 65-octet canonical form that was itself no address.
TEST_CASE("a local part that case folding makes too long is refused, so the canonical form is always an address",
          "[smtp][address]") {
    const std::string at_limit = std::string(62, 'x') + "\xC8\xBA";  // 64 octets, ends in U+023A
    REQUIRE(at_limit.size() == 64);
    Mailbox m{at_limit, "contoso.test"};
    CHECK(check_mailbox(m, true) == AddressError::LocalPart);
    CHECK(canonical_address(m.str()).error == AddressError::LocalPart);
    // One octet shorter it fits once folded, and the canonical form is a fixed point.
    const std::string fits = std::string(61, 'x') + "\xC8\xBA";
    auto c = canonical_address(fits + "@contoso.test");
    REQUIRE(c);
    CHECK(c.local == std::string(61, 'x') + "\xE2\xB1\xA5");
    auto again = canonical_address(c.str());
    REQUIRE(again);
    CHECK(again.str() == c.str());
}
