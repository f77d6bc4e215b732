// Command lines: verbs, paths, ESMTP parameters, and the reply for each bad line.
#include "command.hpp"

#include <catch2/catch.hpp>

#include <random>

using namespace edge::smtp;

namespace {
std::optional<ReplyId> error_of(std::string_view line) { return parse_command(line).error; }
}  // namespace

TEST_CASE("verbs are recognised in any case", "[smtp][command]") {
    CHECK(parse_command("ehlo client.example.com").command.verb == Verb::Ehlo);
    CHECK(parse_command("StartTLS").command.verb == Verb::StartTls);
    CHECK(parse_command("QUIT").command.verb == Verb::Quit);
    CHECK(error_of("FOO bar") == ReplyId::CommandUnrecognized);
    CHECK(error_of("") == ReplyId::CommandUnrecognized);
}

TEST_CASE("EHLO and HELO take a domain or an address literal", "[smtp][command]") {
    struct Row {
        const char* line;
        bool ok;
    };
    const Row rows[] = {
        {"EHLO mail.example.com", true},      {"EHLO [192.0.2.1]", true},  {"EHLO [IPv6:2001:db8::1]", true},
        {"HELO localhost", true},             {"EHLO a-b.c", true},        {"EHLO", false},
        {"EHLO -bad.example", false},         {"EHLO bad-.example", false}, {"EHLO bad..example", false},
        {"EHLO [999.1.1.1]", false},          {"EHLO exa_mple.com", false}, {"EHLO [IPv6:nonsense]", false},
        {"EHLO mail.example.com extra words", true},
    };
    for (const auto& r : rows) {
        INFO(r.line);
        auto p = parse_command(r.line);
        if (r.ok)
            CHECK_FALSE(p.error);
        else
            CHECK(p.error == ReplyId::InvalidDomain);
    }
    CHECK(parse_command("EHLO mail.example.com extra").command.argument == "mail.example.com");
    CHECK_FALSE(valid_domain(std::string(64, 'a') + ".com"));  // label of 64
    CHECK(valid_domain(std::string(63, 'a') + ".com"));
}

TEST_CASE("MAIL FROM parses the path and every ESMTP parameter", "[smtp][command]") {
    auto p = parse_command("MAIL FROM:<Alice.Smith@example.com> SIZE=12345 BODY=8BITMIME RET=HDRS ENVID=QQ314159");
    REQUIRE_FALSE(p.error);
    const Command& c = p.command;
    CHECK(c.path.local == "Alice.Smith");
    CHECK(c.path.domain == "example.com");
    CHECK(c.size == 12345u);
    CHECK(c.body == BodyType::EightBitMime);
    CHECK(c.ret == Ret::Headers);
    CHECK(c.envid == "QQ314159");

    CHECK(parse_command("MAIL FROM:<>").command.path.null());
    CHECK_FALSE(parse_command("MAIL FROM:<>").error);
    CHECK_FALSE(error_of("mail from: <a@b.example>"));  // space after the colon, as many clients send
    CHECK_FALSE(error_of("MAIL FROM:a@b.example"));      // no brackets (Exchange and Postfix accept it)
    CHECK(parse_command("MAIL FROM:<@relay.example:a@b.example>").command.path.str() == "a@b.example");
    CHECK(parse_command("MAIL FROM:<\"john doe\"@example.com>").command.path.local == "\"john doe\"");
    CHECK(parse_command("MAIL FROM:<a@[192.0.2.7]>").command.path.domain == "[192.0.2.7]");
}

TEST_CASE("bad MAIL FROM lines get the reply that says what is wrong", "[smtp][command]") {
    CHECK(error_of("MAIL <a@b.example>") == ReplyId::InvalidArguments);
    CHECK(error_of("MAIL FROM:<a@b.example") == ReplyId::InvalidSender);
    CHECK(error_of("MAIL FROM:<ab.example>") == ReplyId::InvalidSender);
    CHECK(error_of("MAIL FROM:<a..b@example.com>") == ReplyId::InvalidSender);
    CHECK(error_of("MAIL FROM:<.a@example.com>") == ReplyId::InvalidSender);
    CHECK(error_of("MAIL FROM:<a@exa mple.com>") == ReplyId::InvalidAddress);
    CHECK(error_of("MAIL FROM:<" + std::string(65, 'a') + "@example.com>") == ReplyId::InvalidSender);
    CHECK(error_of("MAIL FROM:<a@b.example> SIZE=abc") == ReplyId::InvalidParameter);
    CHECK(error_of("MAIL FROM:<a@b.example> XFOO=1") == ReplyId::ParameterUnsupported);
}

TEST_CASE("a refused MAIL or RCPT parameter names itself, bounded and printable", "[smtp][command]") {
    struct Row {
        std::string line;
        ReplyId error;
        std::string named;
        std::string reply;
    };
    const Row rows[] = {
        {"MAIL FROM:<a@b.example> SIZE=abc", ReplyId::InvalidParameter, "SIZE", "501 5.5.4 Invalid SIZE parameter"},
        {"MAIL FROM:<a@b.example> size", ReplyId::InvalidParameter, "SIZE", "501 5.5.4 Invalid SIZE parameter"},
        {"MAIL FROM:<a@b.example> SIZE=99999999999999999999", ReplyId::InvalidParameter, "SIZE", ""},
        {"MAIL FROM:<a@b.example> BODY=9BIT", ReplyId::InvalidParameter, "BODY", "501 5.5.4 Invalid BODY parameter"},
        {"MAIL FROM:<a@b.example> RET=ALL", ReplyId::InvalidParameter, "RET", "501 5.5.4 Invalid RET parameter"},
        {"MAIL FROM:<a@b.example> ENVID=has=equals", ReplyId::InvalidParameter, "ENVID", ""},
        {"MAIL FROM:<a@b.example> SMTPUTF8=yes", ReplyId::InvalidParameter, "SMTPUTF8", ""},
        {"RCPT TO:<b@c.example> NOTIFY=SOMETIMES", ReplyId::InvalidParameter, "NOTIFY", "501 5.5.4 Invalid NOTIFY parameter"},
        {"RCPT TO:<b@c.example> ORCPT=nosemicolon", ReplyId::InvalidParameter, "ORCPT", "501 5.5.4 Invalid ORCPT parameter"},
        {"MAIL FROM:<a@b.example> XFOO=1", ReplyId::ParameterUnsupported, "XFOO", "555 5.5.4 Unsupported parameter XFOO"},
        {"MAIL FROM:<a@b.example> NOTIFY=NEVER", ReplyId::ParameterUnsupported, "NOTIFY", ""},  // RCPT's, not MAIL's
        {"RCPT TO:<b@c.example> SIZE=10", ReplyId::ParameterUnsupported, "SIZE", ""},
        // A client's name: control bytes become '?', at most 32 characters then "...".
        {"MAIL FROM:<a@b.example> X]0;PWNED=1", ReplyId::ParameterUnsupported, "X?]0;PWNED?", ""},
        {"MAIL FROM:<a@b.example> " + std::string(500, 'Q'), ReplyId::ParameterUnsupported, std::string(32, 'Q') + "...", ""},
    };
    for (const auto& r : rows) {
        INFO(r.line);
        auto p = parse_command(r.line);
        CHECK(p.error == r.error);
        CHECK(p.error_argument == r.named);
        if (!r.reply.empty()) CHECK(render(*p.error, {p.error_argument}) == r.reply);
    }
}

TEST_CASE("MAIL and RCPT refuse a domain that is not a domain, and control bytes, with 501 5.1.3", "[smtp][command]") {
    const std::string rows[] = {
        "RCPT TO:<\xc3\xbc@\x1b[31mX.wild.test>",
        "RCPT TO:<\xc3\xbc@a,b;c.wild.test>",
        "RCPT TO:<\xc3\xbc@evil.test\"@\".wild.test>",
        "RCPT TO:<x@evil.test\"@\".wild.test>",
        "RCPT TO:<x@a..wild.test>",
        "RCPT TO:<x@" + std::string(64, 'a') + ".wild.test>",
        "RCPT TO:<x@[999.0.0.1]>",
        "RCPT TO:<x@xn--zz.wild.test>",
        "RCPT TO:<c\x1b" "eo@accepted.test>",
        "RCPT TO:<\"c\teo\"@accepted.test>",
        "RCPT TO:<@relay\x7f.example:ceo@accepted.test>",
        "MAIL FROM:<a@b_c.example>",
        "MAIL FROM:<a@exa\x1b" "mple.com>",
        "MAIL FROM:<\xc3\xbc@a,b.example> SMTPUTF8",
    };
    for (const auto& line : rows) {
        INFO(line);
        auto p = parse_command(line);
        CHECK(p.error == ReplyId::InvalidAddress);
        if (p.error) CHECK(render(*p.error) == "501 5.1.3 Invalid address");
    }
    // And what is an address still is: IDNs as U-labels and A-labels, literals, trailing dot.
    for (const char* ok : {"RCPT TO:<\xc3\xbc@b\xc3\xbc" "cher.wild.test>", "RCPT TO:<x@xn--bcher-kva.wild.test>",
                           "RCPT TO:<x@[IPv6:2001:db8::1]>", "RCPT TO:<x@accepted.test.>", "RCPT TO:<\"a@b\"@accepted.test>"}) {
        INFO(ok);
        CHECK_FALSE(error_of(ok));
    }
}

TEST_CASE("non-ASCII addresses need SMTPUTF8 and must be valid UTF-8", "[smtp][command]") {
    CHECK(error_of("MAIL FROM:<j\xc3\xb6rg@example.de>") == ReplyId::Utf8NeedsSmtpUtf8);
    auto p = parse_command("MAIL FROM:<j\xc3\xb6rg@b\xc3\xbc" "cher.example> SMTPUTF8");
    CHECK_FALSE(p.error);
    CHECK(p.command.smtputf8);
    CHECK(error_of("MAIL FROM:<j\xc3@example.de> SMTPUTF8") == ReplyId::InvalidSender);      // truncated sequence
    CHECK(error_of("MAIL FROM:<j\xc0\xaf@example.de> SMTPUTF8") == ReplyId::InvalidSender);  // overlong
}

TEST_CASE("RCPT TO parses NOTIFY and ORCPT and refuses the null path", "[smtp][command]") {
    auto p = parse_command("RCPT TO:<bob@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.net");
    REQUIRE_FALSE(p.error);
    CHECK(p.command.path.str() == "bob@example.net");
    CHECK(p.command.notify == (notify_bits::Success | notify_bits::Failure));
    CHECK(p.command.orcpt == "rfc822;bob@example.net");
    CHECK(parse_command("RCPT TO:<postmaster@example.net> NOTIFY=NEVER").command.notify == notify_bits::Never);
    CHECK(error_of("RCPT TO:<>") == ReplyId::InvalidRecipient);
    CHECK(error_of("RCPT TO:<bob@example.net> NOTIFY=NEVER,DELAY") == ReplyId::InvalidParameter);
    CHECK(error_of("RCPT TO:<bob@example.net> NOTIFY=SOMETIMES") == ReplyId::InvalidParameter);
    CHECK(error_of("RCPT TO:<bob@example.net> ORCPT=nosemicolon") == ReplyId::InvalidParameter);
    CHECK(error_of("RCPT TO:<bob@example.net> SIZE=10") == ReplyId::ParameterUnsupported);
    CHECK(error_of("RCPT bob@example.net") == ReplyId::InvalidRecipient);
}

TEST_CASE("BDAT takes a size and an optional LAST", "[smtp][command]") {
    auto p = parse_command("BDAT 1000 LAST");
    REQUIRE_FALSE(p.error);
    CHECK(p.command.chunk_size == 1000);
    CHECK(p.command.last_chunk);
    CHECK_FALSE(parse_command("BDAT 0").command.last_chunk);
    CHECK(error_of("BDAT") == ReplyId::InvalidArguments);
    CHECK(error_of("BDAT 10 FIRST") == ReplyId::InvalidArguments);
    CHECK(error_of("BDAT -1") == ReplyId::InvalidArguments);
}

TEST_CASE("commands that take no argument refuse one, overlong and NUL lines are refused", "[smtp][command]") {
    CHECK(error_of("DATA now") == ReplyId::InvalidArguments);
    CHECK(error_of("STARTTLS please") == ReplyId::InvalidArguments);
    CHECK_FALSE(error_of("NOOP anything goes"));
    CHECK(error_of("NOOP " + std::string(kMaxCommandLine, 'x')) == ReplyId::LineTooLong);
    CHECK(error_of(std::string("MAIL FROM:<a@b.example>\0x", 25)) == ReplyId::CommandUnrecognized);
}

TEST_CASE("random command lines get a command or a catalogue reply, never a crash", "[smtp][command][fuzz]") {
    std::mt19937 rng(5321);
    const std::string seeds[] = {"MAIL FROM:<a@b.example> SIZE=1 BODY=8BITMIME", "RCPT TO:<\"q\\\"x\"@[IPv6:::1]> NOTIFY=DELAY",
                                 "EHLO [127.0.0.1]", "BDAT 12 LAST"};
    for (int round = 0; round < 20000; ++round) {
        std::string line = seeds[rng() % 4];
        for (int e = 0; e < 1 + static_cast<int>(rng() % 5); ++e) {
            std::size_t at = line.empty() ? 0 : rng() % line.size();
            if (rng() % 2 && !line.empty())
                line[at] = static_cast<char>(rng());
            else
                line.insert(at, 1, static_cast<char>(rng()));
        }
        auto p = parse_command(line);
        if (!p.error && (p.command.verb == Verb::Mail || p.command.verb == Verb::Rcpt) && !p.command.path.null()) {
            CHECK(p.command.path.local.size() <= 64);
            CHECK_FALSE(p.command.path.domain.empty());
        }
        if (p.error) CHECK(static_cast<std::size_t>(*p.error) < reply_catalogue().size());
    }
}
