// The agent log: Exchange 2007 SP1's AgentLog fields, what a stranger chose written
// safely and read back exactly, the enabled switch — on real files in a private
// directory.
#include "agent_config.hpp"
#include "agent_log.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <vector>

using namespace edge::agents;

namespace {

std::vector<std::string> lines_of(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

AgentLogSettings in_dir(const std::string& dir) {
    AgentLogSettings s;
    s.directory = dir;
    return s;
}

}  // namespace

TEST_CASE("the agent log writes Exchange's header and one line per verdict, read back field by field",
          "[agents][agent-log]") {
    edge::test::TempDir dir;
    {
        AgentLog log(in_dir(dir.path()), "edge-transport test");
        SessionInfo session;
        session.session_id = "08D675E58CA1DA38";
        session.remote_ip = "192.0.2.7";
        Envelope env;
        env.sender = "spammer@example.org";
        env.recipient = "ceo@contoso.com";
        Verdict v = Verdict::reject(edge::smtp::ReplyId::UserUnknown, "BlockedRecipient", "ceo@contoso.com");
        log.record(VerdictRecord{AgentEvent::OnRcptCommand, "Recipient Filter Agent", v, session, env,
                                 "550 5.1.1 User unknown"});
        log.flush();
        auto lines = lines_of(log.current_file());
        REQUIRE(lines.size() == 6);
        CHECK(lines[0] == "#Software: edge-transport");
        CHECK(lines[2] == "#Log-type: Agent Log");
        CHECK(lines[4] ==
              "#Fields: Timestamp,SessionId,IPAddress,MessageId,P1FromAddress,P2FromAddresses,Recipients,Agent,Event,"
              "Action,SmtpResponse,Reason,ReasonData,Diagnostics");
        CHECK(lines[5].find(",08D675E58CA1DA38,192.0.2.7,,spammer@example.org,,ceo@contoso.com,Recipient Filter Agent,"
                            "OnRcptCommand,RejectCommand,550 5.1.1 User unknown,BlockedRecipient,ceo@contoso.com,") !=
              std::string::npos);
    }
    auto entries = read_agent_logs(dir.path());
    REQUIRE(entries.size() == 1);
    const auto& e = entries[0];
    CHECK(e.session_id == "08D675E58CA1DA38");
    CHECK(e.ip_address == "192.0.2.7");
    CHECK(e.p1_from == "spammer@example.org");
    CHECK(e.recipients == std::vector<std::string>{"ceo@contoso.com"});
    CHECK(e.agent == "Recipient Filter Agent");
    CHECK(e.event == "OnRcptCommand");
    CHECK(e.action == "RejectCommand");
    CHECK(e.smtp_response == "550 5.1.1 User unknown");
    CHECK(e.reason == "BlockedRecipient");
    CHECK(e.reason_data == "ceo@contoso.com");
    CHECK(e.timestamp.time_since_epoch().count() > 0);
}

TEST_CASE("a verdict's logged_recipient replaces the recipient in the agent log", "[agents][agent-log][security]") {
    edge::test::TempDir dir;
    {
        AgentLog log(in_dir(dir.path()), "t");
        SessionInfo session;
        Envelope env;
        env.recipient = "bob@contoso.com";
        Verdict v = Verdict::reject(edge::smtp::ReplyId::UserUnknown, "RecipientDoesNotExist", "contoso.com");
        v.logged_recipient = "HMAC-SHA256:00ff";
        log.record(VerdictRecord{AgentEvent::OnRcptCommand, "Recipient Filter Agent", v, session, env, "550 5.1.1 User unknown"});
        log.flush();
        for (const auto& l : lines_of(log.current_file())) CHECK(l.find("bob") == std::string::npos);
    }
    auto e = read_agent_logs(dir.path());
    REQUIRE(e.size() == 1);
    CHECK(e[0].recipients == std::vector<std::string>{"HMAC-SHA256:00ff"});
}

TEST_CASE("what a client chose never forges an agent log line and reads back as sent", "[agents][agent-log]") {
    edge::test::TempDir dir;
    AgentLogEntry in;
    in.session_id = "S1";
    in.ip_address = "192.0.2.1";
    in.message_id = "<x@y>\r\n2026-01-01T00:00:00.000Z,forged";
    in.p1_from = "=HYPERLINK(\"http://evil\")@example.org";
    in.p2_from = {"a,b@example.org", "c;d@example.org"};
    in.recipients = {"\"x\x1b[2Jy\"@contoso.com"};
    in.agent = "Recipient Filter Agent";
    in.event = "OnRcptCommand";
    in.action = "RejectCommand";
    in.smtp_response = "550 5.1.1 User unknown";
    in.reason = "BlockedRecipient";
    in.reason_data = "line1\nline2";
    in.diagnostics = "tab\there";
    {
        AgentLog log(in_dir(dir.path()), "t");
        log.write(in);
        log.flush();
        auto lines = lines_of(log.current_file());
        REQUIRE(lines.size() == 6);  // five header lines and one event: no forged line
        CHECK(lines[5].find('\x1b') == std::string::npos);
        CHECK(lines[5].find("'=HYPERLINK") != std::string::npos);  // no formula
    }
    auto out = read_agent_logs(dir.path());
    REQUIRE(out.size() == 1);
    CHECK(out[0].message_id == in.message_id);
    CHECK(out[0].p1_from == in.p1_from);
    CHECK(out[0].p2_from == in.p2_from);
    CHECK(out[0].recipients == in.recipients);
    CHECK(out[0].reason_data == in.reason_data);
    CHECK(out[0].diagnostics == in.diagnostics);
}

TEST_CASE("AgentLogEnabled $false writes nothing and makes no directory", "[agents][agent-log]") {
    edge::test::TempDir dir;
    AgentLogSettings s = in_dir(dir.path() + "/AgentLog");
    s.enabled = false;
    AgentLog log(s, "t");
    log.write(AgentLogEntry{});
    log.flush();
    CHECK(log.current_file().empty());
    CHECK(read_agent_logs(dir.path() + "/AgentLog").empty());
}

TEST_CASE("the AgentLog settings are Exchange 2007 SP1's defaults, under the data directory", "[agents][agent-log]") {
    edge::config::ConfigObject ts(edge::config::ObjectKind::TransportServer);
    AgentLogSettings s = agent_log_settings(edge::config::transport_server_settings(ts), "/var/lib/edge");
    CHECK(s.enabled);
    CHECK(s.directory == "/var/lib/edge/Logs/AgentLog");
    CHECK(s.max_file_size == 10ull << 20);
    CHECK(s.max_directory_size == 250ull << 20);
    CHECK(s.max_age == std::chrono::hours(24 * 7));
    REQUIRE(ts.set("AgentLogPath", "/srv/logs/agent").empty());
    REQUIRE(ts.set("AgentLogMaxDirectorySize", "unlimited").empty());
    REQUIRE(ts.set("AgentLogEnabled", "$false").empty());
    s = agent_log_settings(edge::config::transport_server_settings(ts), "/var/lib/edge");
    CHECK(s.directory == "/srv/logs/agent");
    CHECK(s.max_directory_size == 0);  // unlimited
    CHECK_FALSE(s.enabled);
}
