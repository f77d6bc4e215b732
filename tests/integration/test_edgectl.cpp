// edgectl against a real data directory: the queue cmdlets' output and exit codes.
#include "queue_db.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdio>
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
