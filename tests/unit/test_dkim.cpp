// DKIM (transport/auth/dkim_*): canonicalisation against RFC 6376's own example; messages
// signed by dkimpy (Debian's python3-dkim, tests/support/dkim_tool.py) verify with ours
// and fail on any one-byte change; what we sign verifies with dkimpy; the key and
// signature rules of RFC 6376 §6, RFC 8301 and RFC 8463.
#include "dkim_core.hpp"
#include "dkim_sign.hpp"
#include "dkim_verify.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <openssl/rsa.h>

#include <cctype>
#include <fstream>
#include <map>
#include <sstream>

using namespace edge::auth;
using Clock = std::chrono::system_clock;

namespace {

const std::string kTool = std::string(EDGE_SOURCE_DIR) + "/tests/support/dkim_tool.py";

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_file(const std::string& path, std::string_view text) {
    std::ofstream(path, std::ios::binary) << text;
}

int run(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()); }

// Key pairs made once by dknewkey (dkimpy's own tool): the private key in its format, the
// TXT record it says to publish.
struct DknewKey {
    std::string key_file;
    std::string record;
};
const DknewKey& dknew_key(const std::string& type) {
    static edge::test::TempDir dir;
    static std::map<std::string, DknewKey> keys;
    auto it = keys.find(type);
    if (it != keys.end()) return it->second;
    auto base = dir.sub(type);
    REQUIRE(run("cd " + dir.path() + " && /usr/bin/dknewkey --ktype " + type + " " + type) == 0);
    auto record = read_file(base + ".dns");
    while (!record.empty() && std::isspace(static_cast<unsigned char>(record.back()))) record.pop_back();
    return keys[type] = {base + ".key", record};
}

const std::string kMessage =
    "Received: from client.example.org (client.example.org [192.0.2.7])\r\n"
    "\tby mx.example.com with ESMTP id 4711\r\n"
    "From: Alice Example <alice@example.com>\r\n"
    "To: bob@example.org\r\n"
    "Subject:  A  test   message,\r\n"
    "  folded\t over two lines \r\n"
    "Date: Mon, 7 Dec 2026 10:00:00 +0000\r\n"
    "Message-ID: <m1@example.com>\r\n"
    "X-Unsigned: nobody signs me\r\n"
    "\r\n"
    "Hello Bob,  \r\n"
    "\r\n"
    "  a line\twith \t white space\r\n"
    "the end\r\n"
    "\r\n"
    "\r\n";

// The message as chunks of `size` octets (0: one chunk), so the streaming code sees the
// header/body boundary and line ends split anywhere.
std::vector<std::string> chunked(std::string_view m, std::size_t size = 0) {
    if (size == 0) return {std::string(m)};
    std::vector<std::string> out;
    for (std::size_t k = 0; k < m.size(); k += size) out.emplace_back(m.substr(k, size));
    return out;
}

std::string dkimpy_sign(const std::string& type, std::string_view canon, const std::string& message, bool length) {
    edge::test::TempDir dir;
    write_file(dir.sub("in"), message);
    auto algorithm = type == "rsa" ? "rsa-sha256" : "ed25519-sha256";
    REQUIRE(run(kTool + " sign " + dknew_key(type).key_file + " example.com sel " + algorithm + " " + std::string(canon) +
                " " + dir.sub("in") + " " + dir.sub("out") + (length ? " --length" : "")) == 0);
    return read_file(dir.sub("out"));
}

bool dkimpy_verifies(const std::string& record, const std::string& message) {
    edge::test::TempDir dir;
    write_file(dir.sub("record"), record);
    write_file(dir.sub("in"), message);
    return run(kTool + " verify " + dir.sub("record") + " " + dir.sub("in")) == 0;
}

KeyLookup found(const std::string& record) { return {KeyLookupStatus::Ok, {record}, {}}; }

DkimVerdict verify_one(const std::string& message, const KeyLookup& key, Clock::time_point now = Clock::now(),
                       std::size_t chunk = 0) {
    auto chunks = chunked(message, chunk);
    auto sigs = find_signatures(chunks, 8);
    REQUIRE(sigs.size() == 1);
    return verify_signature(sigs[0], key, chunks, now);
}

DkimSigner signer_for(const DkimKeyPair& pair, DkimAlgorithm a) {
    auto key = signing_key_from_pem(pair.private_key_pem);
    REQUIRE(key.error.empty());
    DkimSigner s;
    s.domain = "example.com";
    s.selector = "sel";
    s.algorithm = a;
    s.key = key.key;
    return s;
}

const DkimKeyPair& our_key(DkimAlgorithm a) {
    static const DkimKeyPair rsa = generate_signing_key(DkimAlgorithm::RsaSha256, 2048);
    static const DkimKeyPair ed = generate_signing_key(DkimAlgorithm::Ed25519Sha256);
    return a == DkimAlgorithm::RsaSha256 ? rsa : ed;
}

char changed(char c) {
    if (c >= '0' && c <= '8') return static_cast<char>(c + 1);
    if (c == 'z' || c == 'Z' || c == '9') return static_cast<char>(c - 1);
    return static_cast<char>(c + 1);
}

}  // namespace

TEST_CASE("canonicalisation follows the example of RFC 6376 section 3.4.5") {
    const std::string m = "A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n";
    for (std::size_t chunk : {0, 1, 2, 5}) {
        auto chunks = chunked(m, chunk);
        auto header = split_header(chunks);
        REQUIRE(header.spans.size() == 2);
        CHECK(canonicalize_header(header.field(0), DkimCanonicalization::Relaxed) == "a:X\r\n");
        CHECK(canonicalize_header(header.field(1), DkimCanonicalization::Relaxed) == "b:Y Z\r\n");
        CHECK(canonicalize_header(header.field(1), DkimCanonicalization::Simple) == "B : Y\t\r\n\tZ  \r\n");
        for (auto [canon, expected] : {std::pair{DkimCanonicalization::Relaxed, std::string(" C\r\nD E\r\n")},
                                       std::pair{DkimCanonicalization::Simple, std::string(" C \r\nD \t E\r\n")}}) {
            std::string out;
            DkimBodyCanonicalizer c(
                canon, [](void* ctx, std::string_view s) { *static_cast<std::string*>(ctx) += s; }, &out);
            for (std::size_t k = header.body_chunk; k < chunks.size(); ++k)
                c.feed(std::string_view(chunks[k]).substr(k == header.body_chunk ? header.body_offset : 0));
            c.finish();
            CHECK(out == expected);
        }
    }
}

TEST_CASE("an empty body is CRLF in simple and nothing in relaxed, and a last line gets its CRLF") {
    auto canon = [](DkimCanonicalization c, std::string_view body) {
        std::string out;
        DkimBodyCanonicalizer b(c, [](void* ctx, std::string_view s) { *static_cast<std::string*>(ctx) += s; }, &out);
        b.feed(body);
        b.finish();
        return out;
    };
    CHECK(canon(DkimCanonicalization::Simple, "") == "\r\n");
    CHECK(canon(DkimCanonicalization::Simple, "\r\n\r\n") == "\r\n");
    CHECK(canon(DkimCanonicalization::Relaxed, "") == "");
    CHECK(canon(DkimCanonicalization::Relaxed, " \r\n\t\r\n") == "");
    CHECK(canon(DkimCanonicalization::Simple, "abc") == "abc\r\n");
    CHECK(canon(DkimCanonicalization::Relaxed, "abc  ") == "abc\r\n");
    CHECK(canon(DkimCanonicalization::Relaxed, "a\rb\r\n\r\nc") == "a\rb\r\n\r\nc\r\n");
}

TEST_CASE("tag lists follow RFC 6376 section 3.2") {
    auto ok = parse_tag_list(" v = 1 ;a=rsa-sha256;\r\n\tb=ab cd\r\n ef; ");
    REQUIRE(ok.error.empty());
    REQUIRE(ok.tags.size() == 3);
    CHECK(ok.find("v")->value == "1");
    CHECK(ok.find("b")->value == "ab cd\r\n ef");
    CHECK_FALSE(parse_tag_list("a=1; a=2").error.empty());
    CHECK_FALSE(parse_tag_list("1a=1").error.empty());
    CHECK_FALSE(parse_tag_list("a=1; b").error.empty());
    CHECK_FALSE(parse_tag_list("a=\x01").error.empty());
    CHECK_FALSE(parse_tag_list("a=1;b=2;c=3", 2).error.empty());
    CHECK(dkim_base64_decode("aGVs\r\n bG8=") == "hello");
    CHECK_FALSE(dkim_base64_decode("aGVsbG8=x").has_value());
    CHECK_FALSE(dkim_base64_decode("a").has_value());
    CHECK(dkim_base64_encode("hello") == "aGVsbG8=");

    auto key = parse_key_record("v=DKIM1; k=ed25519; h=sha256:sha1; s=email; t=y:s; p=aGVsbG8=");
    CHECK(key.error.empty());
    CHECK(key.k == "ed25519");
    CHECK(key.p == "hello");
    CHECK(key.testing);
    CHECK(key.strict_identity);
    CHECK_FALSE(parse_key_record("k=rsa; v=DKIM1; p=").error.empty());
    CHECK_FALSE(parse_key_record("v=DKIM1; k=rsa").error.empty());
    CHECK(parse_key_record("v=DKIM1; p=").p.empty());
}

TEST_CASE("messages dkimpy signs verify as pass, however the message is chunked") {
    for (std::string type : {"rsa", "ed25519"})
        for (std::string canon : {"relaxed/relaxed", "simple/simple", "relaxed/simple", "simple/relaxed"})
            for (bool length : {false, true}) {
                CAPTURE(type, canon, length);
                auto signed_message = dkimpy_sign(type, canon, kMessage, length);
                for (std::size_t chunk : {0, 1, 3, 64}) {
                    auto v = verify_one(signed_message, found(dknew_key(type).record), Clock::now(), chunk);
                    CAPTURE(chunk, v.reason);
                    CHECK(v.result == Result::Pass);
                    CHECK_FALSE(v.unsigned_content);
                    CHECK(v.d == "example.com");
                    CHECK(v.s == "sel");
                    CHECK(v.a == (type == "rsa" ? "rsa-sha256" : "ed25519-sha256"));
                    CHECK(v.header_b.size() == 8);
                }
                // Content appended past l= is reported, not trusted; without l= it breaks the body hash.
                auto extended = signed_message + "P.S. added by a list\r\n";
                auto v = verify_one(extended, found(dknew_key(type).record));
                CAPTURE(v.reason);
                if (length) {
                    CHECK(v.result == Result::Pass);
                    CHECK(v.unsigned_content);
                } else {
                    CHECK(v.result == Result::Fail);
                }
            }
}

TEST_CASE("each one-byte change in a signed header field or the body fails the signature") {
    for (std::string type : {"rsa", "ed25519"})
        for (std::string canon : {"relaxed/relaxed", "simple/simple"}) {
            CAPTURE(type, canon);
            auto m = dkimpy_sign(type, canon, kMessage, false);
            const auto record = found(dknew_key(type).record);
            auto header = split_header({m});
            std::size_t checked = 0;
            for (std::size_t k = 0; k < header.spans.size(); ++k) {
                const auto& name = header.names[k];
                if (name == "dkim-signature" || name == "received") continue;
                auto span = header.spans[k];
                for (std::size_t p = span.begin + name.size() + 1; p < span.begin + span.size; ++p) {
                    if (!std::isalnum(static_cast<unsigned char>(m[p]))) continue;
                    auto bad = m;
                    bad[p] = changed(bad[p]);
                    auto v = verify_one(bad, record);
                    CAPTURE(name, p, v.reason);
                    if (name == "x-unsigned") CHECK(v.result == Result::Pass);
                    else CHECK(v.result == Result::Fail);
                    ++checked;
                }
            }
            auto body_at = m.find("\r\n\r\n") + 4;
            for (std::size_t p = body_at; p < m.size(); ++p) {
                if (!std::isalnum(static_cast<unsigned char>(m[p]))) continue;
                auto bad = m;
                bad[p] = changed(bad[p]);
                auto v = verify_one(bad, record);
                CAPTURE(p, v.reason);
                CHECK(v.result == Result::Fail);
                CHECK(v.reason == "body hash did not verify");
                ++checked;
            }
            CHECK(checked > 100);
        }
}

TEST_CASE("messages we sign verify with dkimpy and with ours, both algorithms") {
    for (auto a : {DkimAlgorithm::RsaSha256, DkimAlgorithm::Ed25519Sha256})
        for (auto canon : {DkimCanonicalization::Relaxed, DkimCanonicalization::Simple}) {
            CAPTURE(to_string(a), to_string(canon));
            auto signer = signer_for(our_key(a), a);
            signer.header_canon = signer.body_canon = canon;
            auto field = sign_message(signer, chunked(kMessage, 7), Clock::now());
            // Folded: every line at most 78 characters, continuation lines start with WSP.
            std::size_t start = 0;
            while (start < field.size()) {
                auto eol = field.find("\r\n", start);
                REQUIRE(eol != std::string::npos);
                CHECK(eol - start <= 78);
                if (start > 0) CHECK(field[start] == ' ');
                start = eol + 2;
            }
            auto signed_message = field + kMessage;
            CHECK(dkimpy_verifies(our_key(a).txt_record, signed_message));
            auto v = verify_one(signed_message, found(our_key(a).txt_record), Clock::now(), 5);
            CAPTURE(v.reason);
            CHECK(v.result == Result::Pass);
            // dkimpy is no rubber stamp: it refuses our signature on a changed body.
            CHECK_FALSE(dkimpy_verifies(our_key(a).txt_record, field + kMessage + "x\r\n"));
        }
}

TEST_CASE("we sign the fields present and oversign From, so a From added later fails") {
    auto signer = signer_for(our_key(DkimAlgorithm::Ed25519Sha256), DkimAlgorithm::Ed25519Sha256);
    auto field = sign_message(signer, {kMessage}, Clock::now());
    auto sigs = find_signatures({field + kMessage}, 1);
    REQUIRE(sigs.size() == 1);
    CHECK(sigs[0].h == std::vector<std::string>{"from", "from", "to", "subject", "date", "message-id"});
    const auto record = found(our_key(DkimAlgorithm::Ed25519Sha256).txt_record);
    CHECK(verify_one(field + kMessage, record).result == Result::Pass);
    CHECK(verify_one(field + "From: mallory@example.net\r\n" + kMessage, record).result == Result::Fail);
    // Cc was absent and is not oversigned: adding one leaves the signature valid.
    auto from = kMessage.find("From:");
    CHECK(verify_one(field + kMessage.substr(0, from) + "Cc: eve@example.net\r\n" + kMessage.substr(from), record).result ==
          Result::Pass);
}

TEST_CASE("an expired signature fails, one within x= passes") {
    auto signer = signer_for(our_key(DkimAlgorithm::RsaSha256), DkimAlgorithm::RsaSha256);
    signer.expire_after = std::chrono::seconds(3600);
    const auto t = Clock::now();
    auto m = sign_message(signer, {kMessage}, t) + kMessage;
    const auto record = found(our_key(DkimAlgorithm::RsaSha256).txt_record);
    CHECK(verify_one(m, record, t + std::chrono::minutes(30)).result == Result::Pass);
    auto late = verify_one(m, record, t + std::chrono::hours(2));
    CHECK(late.result == Result::Fail);
    CHECK_THAT(late.reason, Catch::Contains("expired"));
}

TEST_CASE("the key lookup decides: no key is a permerror, a DNS failure a temperror, a revoked key a permerror") {
    auto signer = signer_for(our_key(DkimAlgorithm::RsaSha256), DkimAlgorithm::RsaSha256);
    auto m = sign_message(signer, {kMessage}, Clock::now()) + kMessage;
    auto nx = verify_one(m, {KeyLookupStatus::NxDomain, {}, {}});
    CHECK(nx.result == Result::PermError);
    CHECK_THAT(nx.reason, Catch::Contains("no key for signature at sel._domainkey.example.com"));
    CHECK(verify_one(m, {KeyLookupStatus::NoData, {}, {}}).result == Result::PermError);
    auto temp = verify_one(m, {KeyLookupStatus::TempError, {}, "timeout"});
    CHECK(temp.result == Result::TempError);
    CHECK_THAT(temp.reason, Catch::Contains("timeout"));
    CHECK(verify_one(m, found("v=DKIM1; k=rsa; p=")).reason == "key revoked");
    CHECK(verify_one(m, found("v=DKIM1; k=rsa; p=")).result == Result::PermError);
    CHECK(verify_one(m, found("v=DKIM1; k=rsa; p=bm90IGEga2V5")).result == Result::PermError);
    // The record's own constraints: k=, h=, s=.
    auto p = our_key(DkimAlgorithm::RsaSha256).txt_record.substr(our_key(DkimAlgorithm::RsaSha256).txt_record.find("p="));
    CHECK(verify_one(m, found("v=DKIM1; k=rsa; " + p)).result == Result::Pass);
    CHECK(verify_one(m, found("v=DKIM1; k=ed25519; " + p)).result == Result::PermError);
    CHECK(verify_one(m, found("v=DKIM1; h=sha1; " + p)).result == Result::PermError);
    CHECK(verify_one(m, found("v=DKIM1; h=sha1:sha256; " + p)).result == Result::Pass);
    CHECK(verify_one(m, found("v=DKIM1; s=other; " + p)).result == Result::PermError);
    CHECK(verify_one(m, found("v=DKIM1; s=email; t=s; " + p)).result == Result::Pass);
}

TEST_CASE("t=s in the key refuses an i= in a subdomain of d=") {
    auto m = dkimpy_sign("rsa", "relaxed/relaxed", kMessage, false);
    auto at = m.find("i=@example.com");
    REQUIRE(at != std::string::npos);
    // dkimpy wrote i=@example.com; a key with t=s accepts that, the header hash is unchanged.
    auto rec = dknew_key("rsa").record;
    CHECK(verify_one(m, found(rec + "; t=s")).result == Result::Pass);
    auto sub = m;
    sub.replace(at, 14, "i=@mail.example.com");
    CHECK(verify_one(sub, found(rec + "; t=s")).result == Result::PermError);
}

TEST_CASE("a broken signature is a permerror and says why") {
    auto sig = [](std::string_view tags) {
        std::string m = "DKIM-Signature: " + std::string(tags) + "\r\n" + kMessage;
        auto v = verify_one(m, found("v=DKIM1; p="));
        return std::pair{v.result, v.reason};
    };
    const std::string base = "v=1; a=rsa-sha256; d=example.com; s=sel; bh=aGVsbG8=; b=aGVsbG8=";
    CHECK(sig(base + "; h=from").second == "key revoked");  // parses; only the key is wrong
    CHECK(sig(base + "; h=to:subject") == std::pair{Result::PermError, std::string("From is not in h=")});
    CHECK(sig(base + "; h=from; i=@example.net") == std::pair{Result::PermError, std::string("i= is not in d=")});
    CHECK(sig(base + "; h=from; i=user@sub.example.com").second == "key revoked");
    CHECK(sig(base + "; h=from; i=@badexample.com").first == Result::PermError);
    CHECK(sig("v=1; a=rsa-sha256; d=example.com; s=sel; b=aGVsbG8=; h=from").second == "missing required tag bh=");
    CHECK(sig(base + "; h=from; v=1").first == Result::PermError);
    CHECK(sig(base + "; h=from; c=fancy").first == Result::PermError);
    CHECK(sig(base + "; h=from; l=x").first == Result::PermError);
    CHECK(sig(base + "; h=from; t=20; x=10").first == Result::PermError);
    CHECK(sig("v=2; a=rsa-sha256; d=example.com; s=sel; bh=aGVsbG8=; b=aGVsbG8=; h=from").first == Result::PermError);
    CHECK(sig("v=1; a=rsa-md5; d=example.com; s=sel; bh=aGVsbG8=; b=aGVsbG8=; h=from").first == Result::PermError);
    auto sha1 = sig("v=1; a=rsa-sha1; d=example.com; s=sel; bh=aGVsbG8=; b=aGVsbG8=; h=from");
    CHECK(sha1.first == Result::Policy);
    CHECK_THAT(sha1.second, Catch::Contains("RFC 8301"));
}

TEST_CASE("an RSA key under 1024 bits is refused as policy (RFC 8301)") {
    std::shared_ptr<EVP_PKEY> small(EVP_RSA_gen(512), EVP_PKEY_free);
    REQUIRE(small);
    DkimSigner signer;
    signer.domain = "example.com";
    signer.selector = "sel";
    signer.key = small;
    auto m = sign_message(signer, {kMessage}, Clock::now()) + kMessage;
    auto v = verify_one(m, found(dkim_key_record(small.get())));
    CHECK(v.result == Result::Policy);
    CHECK_THAT(v.reason, Catch::Contains("512 bits"));
}

TEST_CASE("a message with 1000 signatures costs the limit, the rest are reported as not checked") {
    auto signer = signer_for(our_key(DkimAlgorithm::Ed25519Sha256), DkimAlgorithm::Ed25519Sha256);
    auto good = sign_message(signer, {kMessage}, Clock::now());
    std::string m;
    for (int k = 0; k < 999; ++k)
        m += "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel" + std::to_string(k) +
             "; h=from; bh=aGVsbG8=; b=aGVsbG8=\r\n";
    m = good + m + kMessage;
    auto sigs = find_signatures({m}, 10);
    REQUIRE(sigs.size() == 11);
    CHECK(sigs[0].error.empty());
    CHECK(sigs[9].s == "sel8");
    CHECK(sigs[10].not_checked == 990);
    auto v = verify_signature(sigs[10], {}, {m}, Clock::now());
    CHECK(v.result == Result::Neutral);
    CHECK_THAT(v.reason, Catch::Contains("990"));
    CHECK(verify_signature(sigs[0], found(our_key(DkimAlgorithm::Ed25519Sha256).txt_record), {m}, Clock::now()).result ==
          Result::Pass);
}

TEST_CASE("signing keys load from PEM files with clear errors, and generated pairs publish their key") {
    edge::test::TempDir dir;
    auto missing = load_signing_key(dir.sub("nothing.pem"));
    CHECK_FALSE(missing.key);
    CHECK_THAT(missing.error, Catch::Contains("nothing.pem"));
    write_file(dir.sub("junk.pem"), "not a key\n");
    auto junk = load_signing_key(dir.sub("junk.pem"));
    CHECK_FALSE(junk.key);
    CHECK_THAT(junk.error, Catch::Contains("holds no PEM private key"));
    // dknewkey's RSA key (PKCS#8 PEM) loads and signs for the record dknewkey wrote.
    auto rsa = load_signing_key(dknew_key("rsa").key_file);
    REQUIRE(rsa.error.empty());
    CHECK(rsa.algorithm == DkimAlgorithm::RsaSha256);
    DkimSigner signer;
    signer.domain = "example.com";
    signer.selector = "sel";
    signer.key = rsa.key;
    auto m = sign_message(signer, {kMessage}, Clock::now()) + kMessage;
    CHECK(verify_one(m, found(dknew_key("rsa").record)).result == Result::Pass);
    CHECK(dkimpy_verifies(dknew_key("rsa").record, m));
    // Generated pairs: the PEM reads back as the algorithm asked for.
    for (auto a : {DkimAlgorithm::RsaSha256, DkimAlgorithm::Ed25519Sha256}) {
        write_file(dir.sub("k.pem"), our_key(a).private_key_pem);
        auto k = load_signing_key(dir.sub("k.pem"));
        REQUIRE(k.error.empty());
        CHECK(k.algorithm == a);
        CHECK(dkim_key_record(k.key.get()) == our_key(a).txt_record);
    }
    CHECK_THAT(our_key(DkimAlgorithm::Ed25519Sha256).txt_record, Catch::StartsWith("v=DKIM1; k=ed25519; p="));
    CHECK_THROWS_AS(generate_signing_key(DkimAlgorithm::RsaSha256, 512), std::invalid_argument);
    CHECK_THROWS_AS(generate_signing_key(DkimAlgorithm::RsaSha1), std::invalid_argument);
    // A signer whose key is not of its algorithm is a configuration error.
    signer.algorithm = DkimAlgorithm::Ed25519Sha256;
    CHECK_THROWS_AS(sign_message(signer, {kMessage}, Clock::now()), std::invalid_argument);
}
