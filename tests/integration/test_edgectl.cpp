// edgectl against a real data directory: the queue cmdlets' output and exit codes.
#include "queue_db.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace edge::queue;
using edge::test::body_for;
using edge::test::make_message;
using edge::test::TempDir;

namespace {
struct Run {
    int code = -1;
    std::string out;
};

// Runs edgectl with `args` (already shell-quoted), capturing stdout and stderr.
Run edgectl(const std::string& args) {
    std::string cmd = std::string(EDGECTL_PATH) + " " + args + " 2>&1";
    Run r;
    FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    int status = ::pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}
}  // namespace

TEST_CASE("edgectl lists queues and messages, exports byte for byte, and checks the database", "[edgectl]") {
    TempDir dir;
    MessageId id = 0;
    {
        auto db = QueueDb::open(dir.path());
        REQUIRE(db);
        id = *(*db)->enqueue(make_message(42, 3000, {"contoso.com"}));
        (*db)->suspend_queue(QueueId::next_hop_domain("contoso.com"));
    }
    std::string data = "--data '" + dir.path() + "'";

    Run q = edgectl(data + " get-queue");  // cmdlet names are case-insensitive
    CHECK(q.code == 0);
    CHECK(q.out.find("\\Submission") != std::string::npos);
    CHECK(q.out.find("\\contoso.com") != std::string::npos);
    CHECK(q.out.find("DnsConnectorDelivery") != std::string::npos);
    CHECK(q.out.find("Suspended") != std::string::npos);

    Run m = edgectl(data + " Get-Message -Queue contoso.com");
    CHECK(m.code == 0);
    CHECK(m.out.find("sender42@example.com") != std::string::npos);
    CHECK(m.out.find("\\contoso.com\\" + std::to_string(id)) != std::string::npos);

    std::string eml = dir.path() + "/out.eml";
    Run e = edgectl(data + " Export-Message 'contoso.com\\" + std::to_string(id) + "' -Path '" + eml + "'");
    CHECK(e.code == 0);
    std::ifstream in(eml, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    CHECK(bytes.str() == body_for(42, 3000));

    Run t = edgectl(data + " Test-QueueDatabase");
    CHECK(t.code == 0);
    CHECK(t.out.find("Consistent     : True") != std::string::npos);
}

TEST_CASE("edgectl refuses bad input with a clear error and a non-zero exit", "[edgectl]") {
    TempDir dir;
    std::string data = "--data '" + dir.path() + "'";
    Run unknown = edgectl(data + " Get-Nothing");
    CHECK(unknown.code == 2);
    CHECK(unknown.out.find("there is no cmdlet 'Get-Nothing'") != std::string::npos);

    Run missing = edgectl(data + " Export-Message 999 -Path '" + dir.path() + "/x.eml'");
    CHECK(missing.code == 1);
    CHECK(missing.out.find("no message 999") != std::string::npos);

    Run bad_id = edgectl(data + " Export-Message abc -Path x");
    CHECK(bad_id.code == 2);

    Run no_dir = edgectl("--data '" + dir.path() + "/does-not-exist' Get-Queue");
    CHECK(no_dir.code == 1);
    CHECK(no_dir.out.find("no data directory") != std::string::npos);
}

// Issue 21, cloned configuration: a representative edge (connectors, domains, the
// transport server and transport config, every agent's configuration and lists, a DKIM
// signing configuration, a milter, a certificate) is exported, imported into an empty
// data directory with the answer file that directory wrote, and exported again.
namespace {
std::string file_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void must(const std::string& args) {
    Run r = edgectl(args);
    INFO(args << "\n" << r.out);
    REQUIRE(r.code == 0);
}

// What an administrator sees of a configuration: Get-* of the main nouns.
std::string shown_configuration(const std::string& data) {
    std::string all;
    for (const char* get : {"Get-SendConnector -Format List", "Get-AcceptedDomain", "Get-ExchangeCertificate -Format List"})
        all += edgectl(data + " " + get).out;
    return all;
}
}  // namespace

TEST_CASE("Export-EdgeConfig, Import-EdgeConfig into an empty data directory and export again is byte-identical",
          "[edgectl][edge_config]") {
    TempDir dir;
    const std::string src = dir.path() + "/source", dst = dir.path() + "/clone";
    REQUIRE(::mkdir(src.c_str(), 0750) == 0);
    REQUIRE(::mkdir(dst.c_str(), 0750) == 0);
    const std::string a = "--data '" + src + "'", b = "--data '" + dst + "'";
    must(a + " New-AcceptedDomain Contoso -DomainName contoso.com -Default '$true'");
    must(a + " New-AcceptedDomain Relay -DomainName fabrikam.com -DomainType ExternalRelay");
    must(a + " New-ReceiveConnector Internet -Bindings 127.0.0.2:2525 -RemoteIPRanges 0.0.0.0-255.255.255.255 -Fqdn "
             "mx1.contoso.com -MaxMessageSize 20MB");
    must(a + " New-ExchangeCertificate -SubjectName CN=mx1.contoso.com");
    std::string thumbprint;
    for (const auto& e : std::filesystem::directory_iterator(src + "/certificates"))
        if (e.path().extension() == ".pem") thumbprint = e.path().stem().string();
    REQUIRE(thumbprint.size() == 40);
    must(a + " New-SendConnector Outbound -AddressSpaces '*' -SourceIPAddress 127.0.0.2 -Fqdn mx1.contoso.com "
             "-TlsCertificateName " + thumbprint);
    must(a + " Set-TransportServer -MessageRetryInterval 00:02:00");
    must(a + " Set-TransportConfig -InternalSMTPServers 10.0.0.0/8");
    must(a + " Add-IPBlockListEntry -IPRange 192.0.2.0/24 -Comment 'documentation net'");
    must(a + " Add-IPAllowListEntry -IPAddress 198.51.100.7");
    must(a + " Add-ContentFilterPhrase -Phrase 'Free Money' -Influence BadWord");
    must(a + " Add-AttachmentFilterEntry -Name '*.xyz' -Type FileName");
    must(a + " New-AddressRewriteEntry Masquerade -InternalAddress '*.contoso.local' -ExternalAddress contoso.com -OutboundOnly '$true'");
    must(a + " New-MilterServer rspamd -Address 127.0.0.1:11332");
    must(a + " New-DkimSigningKey -DomainName contoso.com -Selector s1 -KeyFile '" + dir.path() + "/s1.pem'");
    must(a + " New-DkimSigningConfig -DomainName contoso.com -Selector s1 -KeyFile '" + dir.path() + "/s1.pem'");
    must(a + " Disable-TransportAgent 'Content Filter Agent'");
    must(a + " Export-EdgeConfig -Path '" + dir.path() + "/edge.json'");

    // The certificate's key is never exported: the administrator brings it to the clone first.
    must(b + " Import-ExchangeCertificate -Path '" + src + "/certificates/" + thumbprint + ".pem' -KeyPath '" + src +
         "/certificates/" + thumbprint + ".key'");
    const std::string files = " -Path '" + dir.path() + "/edge.json' -AnswerFile '" + dir.path() + "/answers.json'";
    Run answers = edgectl(b + " Import-EdgeConfig" + files + " -IsImport '$false'");
    INFO(answers.out);
    REQUIRE(answers.code == 0);
    CHECK(answers.out.find("0 with a problem") != std::string::npos);
    CHECK(file_text(dir.path() + "/answers.json").find("\"Setting\": \"SourceIPAddress\"") != std::string::npos);
    must(b + " Import-EdgeConfig" + files);
    must(b + " Export-EdgeConfig -Path '" + dir.path() + "/again.json'");

    const std::string first = file_text(dir.path() + "/edge.json"), again = file_text(dir.path() + "/again.json");
    CHECK(first.find("\"Outbound\"") != std::string::npos);
    CHECK(first.find("\"Free Money\"") != std::string::npos);
    CHECK(first.find("BEGIN") == std::string::npos);  // no key, no certificate body
    CHECK(first == again);
    CHECK(shown_configuration(a) == shown_configuration(b));
}

TEST_CASE("Import-EdgeConfig refuses an answer file whose SourceIPAddress is not on this host and changes nothing",
          "[edgectl][edge_config]") {
    TempDir dir;
    const std::string src = dir.path() + "/source", dst = dir.path() + "/clone";
    REQUIRE(::mkdir(src.c_str(), 0750) == 0);
    REQUIRE(::mkdir(dst.c_str(), 0750) == 0);
    const std::string a = "--data '" + src + "'", b = "--data '" + dst + "'";
    must(a + " New-AcceptedDomain Contoso -DomainName contoso.com");
    must(a + " New-SendConnector Outbound -AddressSpaces '*' -SourceIPAddress 127.0.0.2");
    must(a + " Export-EdgeConfig -Path '" + dir.path() + "/edge.json'");
    // The clone has a configuration of its own, which a refused import must leave as it was.
    must(b + " New-AcceptedDomain Fabrikam -DomainName fabrikam.com");
    must(b + " New-SendConnector Smarthost -AddressSpaces fabrikam.com -SmartHosts 127.0.0.3 -DnsRoutingEnabled '$false'");
    const std::string before = shown_configuration(b);
    must(b + " Export-EdgeConfig -Path '" + dir.path() + "/before.json'");

    const std::string files = " -Path '" + dir.path() + "/edge.json' -AnswerFile '" + dir.path() + "/answers.json'";
    must(b + " Import-EdgeConfig" + files + " -IsImport '$false'");
    // 192.0.2.1 (RFC 5737 documentation) is on no interface here: only its absence is checked.
    std::string answers = file_text(dir.path() + "/answers.json");
    const auto at = answers.find("\"Value\": \"127.0.0.2\"");
    REQUIRE(at != std::string::npos);
    answers.replace(at, std::strlen("\"Value\": \"127.0.0.2\""), "\"Value\": \"192.0.2.1\"");
    std::ofstream(dir.path() + "/answers.json", std::ios::binary | std::ios::trunc) << answers;

    Run refused = edgectl(b + " Import-EdgeConfig" + files);
    INFO(refused.out);
    CHECK(refused.code == 1);
    CHECK(refused.out.find("nothing was changed") != std::string::npos);
    CHECK(refused.out.find("SendConnector 'Outbound' -SourceIPAddress: 192.0.2.1 is not an address of this host") !=
          std::string::npos);
    CHECK(shown_configuration(b) == before);
    must(b + " Export-EdgeConfig -Path '" + dir.path() + "/after.json'");
    CHECK(file_text(dir.path() + "/after.json") == file_text(dir.path() + "/before.json"));
}
