// The Content Filter Agent (issue 19): the phrase search (whole words, any case, through
// quoted-printable, base64, HTML and nested MIME, bounded), the SCL from phrases, scanner
// milters and other agents' stamps, and the verdict each threshold gives.
#include "content_filter.hpp"

#include "auth_agents.hpp"
#include "queue_db.hpp"
#include "replies.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

using namespace edge::agents;
using edge::config::ContentFilterConfigSettings;

namespace {

PhraseMatcher::Found find_in(const std::vector<PhraseMatcher::Phrase>& phrases, const std::string& message) {
    PhraseMatcher m(phrases);
    PhraseMatcher::Search s(m);
    search_message_text({message}, s);
    return s.found();
}

const std::vector<PhraseMatcher::Phrase> kPhrases{{"Free Money", false}, {"project falcon", true}, {"viagra", false}};

bool bad(const std::string& message) { return find_in(kPhrases, message).bad >= 0; }
bool good(const std::string& message) { return find_in(kPhrases, message).good >= 0; }

Envelope message(std::string text, std::vector<std::string> recipients = {"alice@contoso.test"}) {
    static std::vector<std::string> holder;
    holder = {std::move(text)};
    Envelope e;
    e.sender = "someone@fabrikam.test";
    e.recipients = std::move(recipients);
    e.message = &holder;
    e.size = holder[0].size();
    return e;
}

}  // namespace

TEST_CASE("a phrase matches as whole words in any case, across spaces, line breaks and punctuation", "[agents][content-filter]") {
    CHECK(bad("Subject: hi\r\n\r\nget FREE   money now\r\n"));
    CHECK(bad("Subject: hi\r\n\r\nget free\r\nmoney now\r\n"));
    CHECK(bad("Subject: hi\r\n\r\nfree, money!\r\n"));
    CHECK(bad("Subject: VIAGRA\r\n\r\nbody\r\n"));
    CHECK_FALSE(bad("Subject: hi\r\n\r\nfreemoney, carefree money-market\r\n"));  // "free money" is not two whole words here
    CHECK(bad("Subject: hi\r\n\r\ncarefree money free money\r\n"));
    CHECK_FALSE(bad("Subject: hi\r\n\r\nviagras\r\n"));
    CHECK(good("Subject: about Project Falcon\r\n\r\nx\r\n"));
}

TEST_CASE("encoded text is searched decoded: RFC 2047 subjects, quoted-printable and base64 text parts, HTML",
          "[agents][content-filter]") {
    CHECK(bad("Subject: =?utf-8?B?RnJlZSBtb25leQ==?=\r\n\r\nhello\r\n"));
    CHECK(bad("Subject: =?iso-8859-1?Q?free_money?=\r\n\r\nhello\r\n"));
    CHECK(bad("Subject: x\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nfree m=\r\noney =46ree\r\n"));
    CHECK(bad("Subject: x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nZ2V0IGZyZWUgbW9u\r\nZXkgbm93\r\n"));
    CHECK(bad("Subject: x\r\nContent-Type: text/html\r\n\r\n<p>free <b>money</b></p>\r\n"));
    // A tag's name is no word of the text.
    CHECK_FALSE(find_in({{"table", false}}, "Subject: x\r\nContent-Type: text/html\r\n\r\n<table><tr><td>hi</td></tr></table>\r\n").bad >= 0);
}

TEST_CASE("nested multiparts and message/rfc822 parts are walked, other parts are not read", "[agents][content-filter]") {
    const std::string nested =
        "Subject: x\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\npreamble viagra\r\n"
        "--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"
        "--inner\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
        "--inner\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<i>free</i> mon=\r\ney\r\n"
        "--inner--\r\n"
        "--outer\r\nContent-Type: application/octet-stream\r\n\r\nviagra\r\n"
        "--outer--\r\nepilogue viagra\r\n";
    auto f = find_in(kPhrases, nested);
    REQUIRE(f.bad >= 0);
    CHECK(kPhrases[f.bad].text == "Free Money");  // not viagra: the preamble, the epilogue and the octet-stream are not text
    const std::string attached =
        "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: text/plain\r\n\r\nfree money\r\n--b--\r\n";
    CHECK(bad(attached));
}

TEST_CASE("a hostile message costs one pass: deep nesting, many parts and endless lines are bounded",
          "[agents][content-filter]") {
    std::string deep = "Subject: x\r\n";
    for (int i = 0; i < 200; ++i) deep += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" + std::to_string(i) + "\r\n";
    deep += "Content-Type: text/plain\r\n\r\nfree money\r\n";
    // Past kMaxMimeDepth levels, the parts are not read (and nothing loops or grows).
    auto start = std::chrono::steady_clock::now();
    (void)find_in(kPhrases, deep);
    std::string many = "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n";
    for (int i = 0; i < 10000; ++i) many += "--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n";
    many += "--b\r\nContent-Type: text/plain\r\n\r\nfree money\r\n--b--\r\n";
    CHECK(bad(many));
    std::string long_line = "Subject: x\r\n\r\n" + std::string(3 << 20, 'a') + " free money\r\n";
    CHECK(bad(long_line));
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
}

TEST_CASE("a GoodWord gives SCL 0 whatever else is found, a BadWord SCL 9", "[agents][content-filter]") {
    ContentFilterConfigSettings s;
    s.scl_reject_enabled = false;
    ContentFilter f(s, kPhrases);
    SessionInfo session;
    session.properties[std::string(auth_property::kDmarcQuarantine)] = "true";
    auto r = f.rate(session, message("Subject: project falcon\r\n\r\nfree money\r\n"));
    CHECK(r.scl == 0);
    CHECK(r.reason == "GoodWord");
    r = f.rate(session, message("Subject: hello\r\n\r\nfree money\r\n"));
    CHECK(r.scl == 9);
    CHECK(r.reason == "BadWord");
    Verdict v = f.decide(r, {});
    CHECK(v.action == AgentAction::Stamp);
    REQUIRE(v.headers.size() == 4);
    CHECK(v.headers[0] == HeaderField{"X-MS-Exchange-Organization-SCL", "9"});
    CHECK(v.headers[1] == HeaderField{"X-Spam-Flag", "YES"});
    CHECK(v.headers[2] == HeaderField{"X-Spam-Level", "*********"});
    CHECK(v.headers[3] == HeaderField{"X-Spam-Status", "Yes, scl=9 tests=BadWord"});
    CHECK(v.properties.at(std::string(content_filter_property::kScl)) == "9");
}

TEST_CASE("the scanners' verdicts and scores map to an SCL through the configured table, only when a milter ran",
          "[agents][content-filter]") {
    ContentFilterConfigSettings s;
    ContentFilter f(s, {});
    SessionInfo none;
    Envelope forged = message("Subject: x\r\n\r\nhi\r\n");
    forged.headers = {{"X-Spam-Score", "20"}, {"X-Spam-Flag", "YES"}};
    CHECK(f.rate(none, forged).scl == 0);  // no milter: a sender's own score fields mean nothing

    SessionInfo scanned;
    scanned.properties["Message.Milter.Verdict"] = "reject";
    scanned.properties["Message.Milter.Server"] = "rspamd";
    Envelope e = message("Subject: x\r\n\r\nhi\r\n");
    CHECK(f.rate(scanned, e).scl == 9);
    scanned.properties["Message.Milter.Verdict"] = "tempfail";
    CHECK(f.rate(scanned, e).scl == 5);
    scanned.properties["Message.Milter.Verdict"] = "quarantine";
    CHECK(f.rate(scanned, e).scl == 8);
    scanned.properties["Message.Milter.Verdict"] = "accept";
    CHECK(f.rate(scanned, e).scl == 0);
    // Thresholds 0,1,2,3,4,6,8,10,15: a score at or above the n-th gives SCL n.
    for (auto [score, scl] : std::vector<std::pair<const char*, int>>{
             {"-3.5", 0}, {"0", 1}, {"0.5", 1}, {"4", 5}, {"5.9", 5}, {"6", 6}, {"9.99", 7}, {"14", 8}, {"15", 9}, {"100", 9}}) {
        INFO(score);
        e.headers = {{"X-Spam-Score", score}};
        CHECK(f.rate(scanned, e).scl == scl);
        e.headers = {{"X-Rspamd-Score", score}};
        CHECK(f.rate(scanned, e).scl == scl);
        e.headers = {{"X-Spam-Status", std::string("No, score=") + score + " required=5.0 tests=NONE"}};
        CHECK(f.rate(scanned, e).scl == scl);
    }
    e.headers = {{"X-Spamd-Result", "default: False [7.20 / 15.00]; R_X(1.0)"}};
    CHECK(f.rate(scanned, e).scl == 6);
    // A spam flag (rspamd's add header action: X-Spam: Yes) gives ScannerSpamFlagScl.
    e.headers = {{"X-Spam", "Yes"}};
    CHECK(f.rate(scanned, e).scl == 6);
    // Several score fields: the highest counts (a sender's own cannot lower the scanner's).
    e.headers = {{"X-Spam-Score", "-50"}, {"X-Spam-Score", "15.5"}};
    CHECK(f.rate(scanned, e).scl == 9);

    s.scanner_score_thresholds = {"1", "2", "3", "4", "5", "6", "7", "8", "9"};
    s.milter_temp_fail_scl = 2;
    ContentFilter g(s, {});
    e.headers = {{"X-Spam-Score", "6.5"}};
    CHECK(g.rate(scanned, e).scl == 6);
}

TEST_CASE("DMARC quarantine and Sender ID SoftFail raise the SCL by their increases", "[agents][content-filter]") {
    ContentFilterConfigSettings s;
    ContentFilter f(s, {});
    SessionInfo session;
    Envelope e = message("Subject: x\r\n\r\nhi\r\n");
    session.properties[std::string(auth_property::kSenderIdStatus)] = "SoftFail";
    CHECK(f.rate(session, e).scl == 1);
    session.properties[std::string(auth_property::kDmarcQuarantine)] = "true";
    auto r = f.rate(session, e);
    CHECK(r.scl == 6);
    CHECK(r.reason == "DmarcQuarantine");
}

TEST_CASE("delete, reject and quarantine thresholds decide the action", "[agents][content-filter]") {
    ContentFilterConfigSettings s;
    s.scl_delete_enabled = true;
    s.scl_delete_threshold = 9;
    s.scl_reject_enabled = true;
    s.scl_reject_threshold = 7;
    s.scl_quarantine_enabled = true;
    s.scl_quarantine_threshold = 5;
    s.quarantine_mailbox = "quarantine@contoso.test";
    s.rejection_response = "Go away";
    ContentFilter f(s, {});
    auto at = [&](int scl) {
        SclRating r;
        r.scl = scl;
        r.reason = "Score";
        return f.decide(r, {});
    };
    CHECK(at(9).action == AgentAction::Delete);
    Verdict reject = at(7);
    CHECK(reject.action == AgentAction::Reject);
    CHECK(reject.reply == edge::smtp::ReplyId::ContentFilterRejected);
    CHECK(reject.reply_text == "Go away");
    CHECK(reject.reason == "SclReject");
    Verdict q = at(6);
    CHECK(q.action == AgentAction::Stamp);
    REQUIRE(q.edit);
    CHECK(q.edit->redirect_to == "quarantine@contoso.test");
    CHECK(q.reason == "SclQuarantine");
    Verdict pass = at(4);
    CHECK(pass.action == AgentAction::Stamp);
    CHECK_FALSE(pass.edit);
    CHECK(pass.headers[1] == HeaderField{"X-Spam-Level", "****"});
    CHECK(pass.headers[2] == HeaderField{"X-Spam-Status", "No, scl=4 tests=Score"});
    CHECK(edge::smtp::render(edge::smtp::AgentReply{edge::smtp::ReplyId::ContentFilterRejected,
                                                    "Message rejected as spam by Content Filtering"}) ==
          "550 5.7.1 Message rejected as spam by Content Filtering");
}

TEST_CASE("bypassed senders, sender domains and recipients are not rated (SCL -1)", "[agents][content-filter]") {
    ContentFilterConfigSettings s;
    s.bypassed_senders = {"Friend@Partner.test"};
    s.bypassed_sender_domains = {"trusted.test", "*.corp.test"};
    s.bypassed_recipients = {"postmaster@contoso.test", "abuse@contoso.test"};
    ContentFilter f(s, kPhrases);
    SessionInfo session;
    auto rate = [&](std::string sender, std::vector<std::string> rcpts) {
        Envelope e = message("Subject: free money\r\n\r\nx\r\n", std::move(rcpts));
        e.sender = std::move(sender);
        return f.rate(session, e);
    };
    CHECK(rate("\"friend\"@partner.TEST", {"a@contoso.test"}).reason == "BypassedSender");
    CHECK(rate("x@TRUSTED.test", {"a@contoso.test"}).reason == "BypassedSenderDomain");
    CHECK(rate("x@sub.trusted.test", {"a@contoso.test"}).scl == 9);  // "trusted.test" is the domain alone
    CHECK(rate("x@corp.test", {"a@contoso.test"}).scl == -1);
    CHECK(rate("x@a.b.corp.test", {"a@contoso.test"}).scl == -1);
    CHECK(rate("x@notcorp.test", {"a@contoso.test"}).scl == 9);
    CHECK(rate("x@spam.test", {"Postmaster@contoso.test", "abuse@contoso.test"}).reason == "BypassedRecipients");
    CHECK(rate("x@spam.test", {"postmaster@contoso.test", "alice@contoso.test"}).scl == 9);
    Verdict v = f.decide(rate("x@corp.test", {"a@contoso.test"}), {});
    CHECK(v.action == AgentAction::Stamp);
    CHECK(v.headers[0] == HeaderField{"X-MS-Exchange-Organization-SCL", "-1"});
}

TEST_CASE("a message over MaxScannedMessageSize is not searched for phrases", "[agents][content-filter]") {
    ContentFilterConfigSettings s;
    s.max_scanned_message_size = 10;
    ContentFilter f(s, kPhrases);
    auto r = f.rate(SessionInfo{}, message("Subject: free money\r\n\r\nx\r\n"));
    CHECK(r.scl == 0);
}

TEST_CASE("the phrases in the store: one per phrase in any case, at most 800, read back into the filter",
          "[agents][content-filter]") {
    edge::test::TempDir dir;
    auto opened = edge::queue::QueueDb::open(dir.path());
    REQUIRE(opened);
    edge::queue::QueueDb& db = **opened;
    CHECK(add_content_filter_phrase(db, "Free Money", "BadWord").empty());
    CHECK(add_content_filter_phrase(db, "free MONEY", "GoodWord").find("already there") != std::string::npos);
    CHECK(add_content_filter_phrase(db, "...", "BadWord").find("no letter or digit") != std::string::npos);
    CHECK_FALSE(add_content_filter_phrase(db, "cheap", "Neutral").empty());
    CHECK(add_content_filter_phrase(db, "Project Falcon", "goodword").empty());
    auto stored = load_content_filter_phrases(db);
    REQUIRE(stored.size() == 2);
    auto filter = load_content_filter(db);
    auto r = filter->rate(SessionInfo{}, message("Subject: x\r\n\r\nfree money\r\n"));
    CHECK(r.scl == 9);
    CHECK(remove_content_filter_phrase(db, "FREE money").empty());
    CHECK_FALSE(remove_content_filter_phrase(db, "free money").empty());
    for (int i = 1; i < 800; ++i) REQUIRE(add_content_filter_phrase(db, "word" + std::to_string(i), "BadWord").empty());
    CHECK(add_content_filter_phrase(db, "one too many", "BadWord").find("800") != std::string::npos);
    CHECK(load_content_filter_phrases(db).size() == 800);
}
