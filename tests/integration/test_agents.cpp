// Transport agents on the real binaries, on loopback: Get-TransportAgent lists them,
// Disable-/Enable-TransportAgent "Recipient Filter Agent" change the next session's
// RCPT without a restart, Get-AgentLog returns the rejections with their fields, relay
// control cannot be disabled, and bad input gets a clear error.
#include "edge_server.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

using namespace edge::test;
using namespace std::chrono_literals;

namespace {

std::string out_of(const EdgeServer& s, const std::string& args, int expected_exit = 0) {
    std::string out;
    int code = s.edgectl(args, &out);
    INFO("edgectl " << args << "\n" << out);
    CHECK(code == expected_exit);
    return out;
}

// One session per recipient: MAIL from a stranger, then RCPT; the RCPT's reply.
std::string rcpt(const EdgeServer& s, const std::string& to) {
    SmtpClient c(s.port());
    c.reply();
    c.command("EHLO client.example");
    REQUIRE(c.command("MAIL FROM:<stranger@example.org>") == "250 2.1.0 Sender OK");
    std::string r = c.command("RCPT TO:<" + to + ">");
    c.command("QUIT");
    return r;
}

// Every file in `dir` whose name starts with `prefix`, one after another.
std::string files_text(const std::string& dir, const std::string& prefix) {
    std::string all;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.path().filename().string().starts_with(prefix)) {
            std::ifstream in(e.path());
            std::stringstream ss;
            ss << in.rdbuf();
            all += ss.str();
        }
    return all;
}

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
    return n;
}

}  // namespace

TEST_CASE("Disable-TransportAgent of the Recipient Filter Agent lets the next RCPT through, live, Enable refuses it "
          "again, and Get-AgentLog returns each rejection with its fields",
          "[agents][live]") {
    EdgeServer s;
    s.must_edgectl("Set-RecipientFilterConfig -BlockListEnabled '$true' -BlockedRecipients ceo@contoso.test");
    basic_setup(s, "-ProtocolLoggingLevel Verbose");  // contoso.test Authoritative, server started, no tarpit

    std::string list = out_of(s, "Get-TransportAgent");
    CHECK(list.find("Identity") != std::string::npos);
    CHECK(list.find("Priority") != std::string::npos);
    CHECK(list.find("Relay Control") != std::string::npos);
    CHECK(list.find("Recipient Filter Agent") != std::string::npos);
    std::string json = out_of(s, "Get-TransportAgent -Json");
    CHECK(json.find("{\"Identity\": \"Relay Control\", \"Enabled\": true, \"Priority\": 0}") != std::string::npos);
    // Issue 17: Exchange's order, Connection Filtering 1; issue 19: Address Rewriting Inbound
    // right after it, the Milter Agent after DMARC, Sender Filter 8, Recipient Filter 9.
    CHECK(json.find("{\"Identity\": \"Connection Filtering Agent\", \"Enabled\": true, \"Priority\": 1}") != std::string::npos);
    CHECK(json.find("{\"Identity\": \"Address Rewriting Inbound Agent\", \"Enabled\": true, \"Priority\": 2}") != std::string::npos);
    CHECK(json.find("{\"Identity\": \"Milter Agent\", \"Enabled\": true, \"Priority\": 6}") != std::string::npos);
    CHECK(json.find("{\"Identity\": \"Sender Filter Agent\", \"Enabled\": true, \"Priority\": 8}") != std::string::npos);
    CHECK(json.find("{\"Identity\": \"Recipient Filter Agent\", \"Enabled\": true, \"Priority\": 9}") != std::string::npos);

    CHECK(rcpt(s, "ceo@contoso.test") == "550 5.1.1 User unknown");
    CHECK(rcpt(s, "cfo@contoso.test") == "250 2.1.5 Recipient OK");

    s.must_edgectl("Disable-TransportAgent 'Recipient Filter Agent'");
    CHECK(out_of(s, "Get-TransportAgent 'Recipient Filter Agent' -Json").find("\"Enabled\": false") != std::string::npos);
    CHECK(rcpt(s, "ceo@contoso.test") == "250 2.1.5 Recipient OK");
    // Relay control still guards while the filter is off.
    CHECK(rcpt(s, "someone@elsewhere.example") == "550 5.7.1 Unable to relay");

    s.must_edgectl("Enable-TransportAgent 'Recipient Filter Agent'");
    CHECK(rcpt(s, "ceo@contoso.test") == "550 5.1.1 User unknown");

    // Two rejections by the filter (before the disable and after the enable), none while it was off.
    auto lines = agent_log_lines(s, "-Agent 'Recipient Filter Agent'", 2);
    REQUIRE(lines.size() == 2);
    for (const auto& l : lines) {
        INFO(l);
        CHECK(l.find("\"Agent\": \"Recipient Filter Agent\"") != std::string::npos);
        CHECK(l.find("\"Event\": \"OnRcptCommand\"") != std::string::npos);
        CHECK(l.find("\"Action\": \"RejectCommand\"") != std::string::npos);
        CHECK(l.find("\"SmtpResponse\": \"550 5.1.1 User unknown\"") != std::string::npos);
        CHECK(l.find("\"Reason\": \"BlockedRecipient\"") != std::string::npos);
        CHECK(l.find("\"ReasonData\": \"ceo@contoso.test\"") != std::string::npos);
        CHECK(l.find("\"Recipients\": [\"ceo@contoso.test\"]") != std::string::npos);
        CHECK(l.find("\"P1FromAddress\": \"stranger@example.org\"") != std::string::npos);
        CHECK(l.find("\"IPAddress\": \"127.0.0.1\"") != std::string::npos);
        CHECK(l.find("\"SessionId\": null") == std::string::npos);
    }
    // Relay control's refusal is in the log too, under its own name; -Agent selects.
    auto relay = agent_log_lines(s, "-Agent 'Relay Control'", 1);
    REQUIRE(relay.size() == 1);
    CHECK(relay[0].find("\"Reason\": \"RelayDenied\"") != std::string::npos);
    CHECK(relay[0].find("\"SmtpResponse\": \"550 5.7.1 Unable to relay\"") != std::string::npos);
    // -StartDate in the future selects nothing.
    CHECK(agent_log_lines(s, "-StartDate 2999-01-01", 0).empty());

    // The verdicts are in the sessions' protocol log too, and counted by agent and action.
    REQUIRE(s.stop() == 0);
    const std::string plog = files_text(s.data() + "/Logs/ProtocolLog/SmtpReceive", "RECV");
    CHECK(count_of(plog, "Recipient Filter Agent: RejectCommand at OnRcptCommand (BlockedRecipient: ceo@contoso.test)") == 2);
    CHECK(count_of(plog, "Relay Control: RejectCommand at OnRcptCommand (RelayDenied") == 1);
    const std::string log = s.server_log();
    INFO(log);
    CHECK(log.find("agent verdicts: Recipient Filter Agent RejectCommand=2, Relay Control RejectCommand=1") !=
          std::string::npos);
}

TEST_CASE("relay control cannot be disabled or moved, and unknown agents and bad priorities get clear errors",
          "[agents][edgectl]") {
    EdgeServer s;  // edgectl works with the server down
    std::string out;
    CHECK(s.edgectl("Disable-TransportAgent 'Relay Control'", &out) == 1);
    CHECK(out.find("cannot be disabled") != std::string::npos);
    CHECK(out.find("open relay") != std::string::npos);
    CHECK(out_of(s, "Get-TransportAgent 'Relay Control' -Json").find("\"Enabled\": true") != std::string::npos);

    // Exchange's Edge Rule Agent is one we do not have.
    CHECK(s.edgectl("Disable-TransportAgent 'Edge Rule Agent'", &out) == 1);
    CHECK(out.find("no transport agent named 'Edge Rule Agent'") != std::string::npos);
    CHECK(s.edgectl("Get-TransportAgent Nope", &out) == 1);
    CHECK(out.find("no transport agent named 'Nope'") != std::string::npos);

    CHECK(s.edgectl("Set-TransportAgent 'Recipient Filter Agent' -Priority 0", &out) == 1);
    CHECK(out.find("-Priority: 0 is out of range; expected 1 to 12") != std::string::npos);
    CHECK(s.edgectl("Set-TransportAgent 'Recipient Filter Agent' -Priority 99", &out) == 1);
    CHECK(out.find("-Priority: 99 is out of range") != std::string::npos);
    CHECK(s.edgectl("Set-TransportAgent 'Recipient Filter Agent' -Priority abc", &out) == 2);
    CHECK(out.find("-Priority: 'abc' is not a whole number") != std::string::npos);
    CHECK(s.edgectl("Set-TransportAgent 'Relay Control' -Priority 1", &out) == 1);
    CHECK(out.find("cannot be changed") != std::string::npos);
    CHECK(out_of(s, "Set-TransportAgent 'recipient filter agent' -Priority 1").empty());
    CHECK(out_of(s, "Get-TransportAgent -Json").find("\"Recipient Filter Agent\", \"Enabled\": true, \"Priority\": 1") !=
          std::string::npos);
}
