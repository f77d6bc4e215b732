// The EdgeSync wire protocol: requests, batches, their digest; what a damaged or
// truncated stream gets.
#include "sync_protocol.hpp"

#include <catch2/catch.hpp>

#include <sstream>

using namespace edge::edgesync;

namespace {

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

// Feeds a batch written by the agent's side to a reader, as the listener does.
// Returns the reader's first complaint, or "" when the batch is whole.
std::string read_back(const std::string& text, BatchReader** out_reader = nullptr) {
    static std::unique_ptr<BatchReader> reader;
    auto ls = lines(text);
    auto start = parse_request(ls.at(0));
    if (auto* err = std::get_if<std::string>(&start)) return *err;
    reader = std::make_unique<BatchReader>(std::get<BatchStart>(std::get<Request>(start)));
    if (out_reader) *out_reader = reader.get();
    std::size_t i = 1;
    for (; i < ls.size() && !reader->complete(); ++i)
        if (auto e = reader->add_record(ls[i])) return *e;
    if (i >= ls.size()) return "truncated";
    if (auto e = reader->finish(ls[i])) return *e;
    return "";
}

}  // namespace

TEST_CASE("sync requests are parsed strictly", "[edgesync][protocol]") {
    auto enroll = parse_request("EDGESYNC 1 ENROLL s3cr3t");
    REQUIRE(std::holds_alternative<Request>(enroll));
    CHECK(std::get<Enroll>(std::get<Request>(enroll)).secret == "s3cr3t");
    CHECK(std::holds_alternative<Request>(parse_request("EDGESYNC 1 HELLO")));
    auto lease = parse_request("LEASE hub1 300 5f2a");
    REQUIRE(std::holds_alternative<Request>(lease));
    CHECK(std::get<Lease>(std::get<Request>(lease)).seconds == 300);
    CHECK(std::get<Lease>(std::get<Request>(lease)).holder == "5f2a");
    CHECK(std::holds_alternative<Release>(std::get<Request>(parse_request("RELEASE"))));
    auto batch = parse_request("BATCH RECIPIENTS DELTA 7 2");
    REQUIRE(std::holds_alternative<Request>(batch));
    auto b = std::get<BatchStart>(std::get<Request>(batch));
    CHECK((b.kind == BatchKind::Recipients && b.mode == BatchMode::Delta && b.base_version == 7 && b.count == 2));

    for (const char* bad : {"", "EDGESYNC 2 HELLO", "EDGESYNC 1 ENROLL", "LEASE hub1 0 h", "LEASE hub1 -5 h",
                            "LEASE hub1 300" /* no holder: the name alone is not a holder */, "RELEASE now",
                            "BATCH CONFIG DELTA 0 1", "BATCH RECIPIENTS FULL 0 99999999999", "BATCH RECIPIENTS FULL x 1",
                            "STATUS now", "DROP TABLE"}) {
        INFO(bad);
        CHECK(std::holds_alternative<std::string>(parse_request(bad)));
    }
    CHECK(std::holds_alternative<std::string>(parse_request(std::string(kMaxLine + 1, 'A'))));
}

TEST_CASE("a batch written by the agent reads back the same", "[edgesync][protocol]") {
    ReplicatedConfig c;
    c.site = "Default-First-Site-Name";
    c.hubs = {"hub1.contoso.com", "127.0.0.1:2626"};
    c.domains = {{"contoso.com", "Authoritative", true}, {"*.fabrikam.com", "ExternalRelay", false}};
    BatchReader* r = nullptr;
    REQUIRE(read_back(write_config_batch(c), &r) == "");
    CHECK(r->config().site == c.site);
    CHECK(r->config().hubs == c.hubs);
    REQUIRE(r->config().domains.size() == 2);
    CHECK(r->config().domains[0].default_domain);
    CHECK(r->config().domains[1].domain_type == "ExternalRelay");

    ReplicatedRecipients rs;
    rs.added = {std::string(32, '\x01'), std::string(32, '\xfe')};
    rs.removed = {std::string(32, '\x07')};
    REQUIRE(read_back(write_recipient_batch(BatchMode::Delta, 3, rs), &r) == "");
    CHECK(r->recipients().added == rs.added);
    CHECK(r->recipients().removed == rs.removed);
    CHECK(r->start().base_version == 3);
}

TEST_CASE("a damaged, truncated or padded batch is refused", "[edgesync][protocol]") {
    ReplicatedRecipients rs;
    rs.added = {std::string(32, 'a'), std::string(32, 'b'), std::string(32, 'c')};
    const std::string good = write_recipient_batch(BatchMode::Full, 0, rs);
    REQUIRE(read_back(good) == "");

    std::string flipped = good;
    flipped[flipped.find("+ ") + 5] = flipped[flipped.find("+ ") + 5] == '0' ? '1' : '0';  // one hash changed
    CHECK(read_back(flipped) == "the batch digest does not match");

    std::string truncated = good.substr(0, good.rfind("+ "));
    CHECK_FALSE(read_back(truncated).empty());

    std::string extra = good;
    extra.insert(extra.find("END"), "+ " + std::string(64, 'd') + "\n");
    CHECK_FALSE(read_back(extra).empty());

    std::string short_hash = good;
    short_hash.replace(short_hash.find("+ ") + 2, 64, "abcd");
    CHECK(read_back(short_hash) == "a recipient hash is 64 hex digits");

    std::string removal_in_full = write_recipient_batch(BatchMode::Full, 0, ReplicatedRecipients{{}, {std::string(32, 'x')}});
    CHECK(read_back(removal_in_full) == "a FULL batch only adds");

    ReplicatedConfig no_site;
    no_site.domains = {{"contoso.com", "Authoritative", false}};
    std::string text = write_config_batch(no_site);  // writes "SITE " with nothing after it
    CHECK_FALSE(read_back(text).empty());
    ReplicatedConfig bad_type{"Site", {}, {{"contoso.com", "Sometimes", false}}};
    CHECK(read_back(write_config_batch(bad_type)) == "a domain type is Authoritative, InternalRelay or ExternalRelay");
}

TEST_CASE("hex round-trips and refuses what is not hex", "[edgesync][protocol]") {
    CHECK(to_hex(std::string("\x00\xff\x10", 3)) == "00ff10");
    CHECK(from_hex("00FF10") == std::optional<std::string>(std::string("\x00\xff\x10", 3)));
    CHECK_FALSE(from_hex("abc"));
    CHECK_FALSE(from_hex("zz"));
}

TEST_CASE("a lease refusal says how long to wait, and the agent reads it back", "[edgesync][protocol]") {
    const std::string r = lease_refusal("vm", 574);
    CHECK(r == "ERR 450 vm holds the sync lease for 574 more seconds");
    CHECK(lease_wait_seconds(r) == std::optional<std::uint32_t>(574));
    CHECK_FALSE(lease_wait_seconds("ERR 450 take the LEASE first (or it expired)"));
    CHECK_FALSE(lease_wait_seconds("OK"));
}

TEST_CASE("domain types are case-insensitive, as everywhere else", "[edgesync][protocol]") {
    CHECK(canonical_domain_type("authoritative") == std::optional<std::string>("Authoritative"));
    CHECK(canonical_domain_type("INTERNALRELAY") == std::optional<std::string>("InternalRelay"));
    CHECK(canonical_domain_type("externalRelay") == std::optional<std::string>("ExternalRelay"));
    CHECK_FALSE(canonical_domain_type("Authoritativ"));
    // The edge reads a batch written by another agent in any case and stores Exchange's.
    const std::string body = "SITE S\nDOMAIN contoso.test authoritative default\n";
    const std::string text = "BATCH CONFIG FULL 0 2\n" + body + "END " + sha256_hex(body) + "\n";
    BatchReader* r = nullptr;
    REQUIRE(read_back(text, &r) == "");
    REQUIRE(r->config().domains.size() == 1);
    CHECK(r->config().domains[0].domain_type == "Authoritative");
}

TEST_CASE("a configuration batch without accepted domains must say so", "[edgesync][protocol]") {
    // Issue 15: an agent run without --accepted-domain removed every domain of the edge.
    ReplicatedConfig none{"Site", {"hub1"}, {}};
    CHECK(read_back(write_config_batch(none)).find("would remove every accepted domain") != std::string::npos);
    none.no_domains = true;
    BatchReader* r = nullptr;
    REQUIRE(read_back(write_config_batch(none), &r) == "");
    CHECK(r->config().no_domains);
    CHECK(r->config().domains.empty());
    ReplicatedConfig both{"Site", {}, {{"contoso.com", "Authoritative", false}}, true};
    CHECK(read_back(write_config_batch(both)) == "a CONFIG batch has DOMAIN records or says DOMAINS none, not both");
}
