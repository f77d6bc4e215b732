// EdgeSync end to end: a real OpenLDAP slapd on loopback holding 10,000 users, the
// real `edgesync` agent, the real server with its sync listener, edgectl, and a
// scripted SMTP peer acting as the hub. Then the attacks: an unpinned client, a
// replayed or expired enrollment secret, malformed and truncated batches, an agent
// killed in the middle of a sync.
#include "edge_server.hpp"
#include "slapd_server.hpp"
#include "smtp_peer.hpp"

#include "edge_state.hpp"
#include "queue_db.hpp"
#include "sync_protocol.hpp"

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <openssl/ssl.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

using namespace edge::test;
using namespace std::chrono_literals;

namespace {

constexpr int kUsers = 10'000;

std::string uid(int i) { return fmt::format("u{:05}", i); }

// 10,000 users with primary addresses; one known only by a secondary smtp: proxy
// address; one in fabrikam.test (a domain the edge learns later); X400 noise.
std::vector<DirectoryUser> directory_users() {
    std::vector<DirectoryUser> users;
    users.reserve(kUsers + 2);
    for (int i = 0; i < kUsers; ++i)
        users.push_back({uid(i), uid(i) + "@contoso.test", {"SMTP:" + uid(i) + "@contoso.test", "X400:c=US;a= ;p=Contoso"}});
    users.push_back({"alias", "", {"SMTP:primary.alias@contoso.test", "smtp:second.alias@contoso.test"}});
    users.push_back({"fab", "someone@fabrikam.test", {}});
    return users;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string rcpt(const EdgeServer& s, const std::string& address) {
    SmtpClient c(s.port());
    c.reply();
    c.command("EHLO client.example");
    c.command("MAIL FROM:<a@example.org>");
    return c.command("RCPT TO:<" + address + ">");
}

struct Fixture {
    SlapdServer ldap{directory_users()};
    SmtpPeer hub;
    EdgeServer edge;
    std::uint16_t sync_port = free_port();
    std::string subscription, state, password_file;

    Fixture() {
        subscription = edge.dir().sub("edge.sub");
        state = edge.dir().sub("edgesync-state");
        password_file = edge.dir().sub("ldap.password");
        std::ofstream(password_file) << SlapdServer::kPassword << "\n";
        edge.must_edgectl("New-EdgeSubscription -FileName " + shell_quote(subscription) +
                          " -Port " + std::to_string(sync_port));
        edge.start();
        edge.must_edgectl("Set-ReceiveConnector " + shell_quote(edge.default_connector()) + " -TarpitInterval 00:00:01");
        edge.must_edgectl("Set-RecipientFilterConfig -RecipientValidationEnabled '$true'");
    }

    // edgesync with this fixture's directory, hub and edge; returns its exit code.
    int agent(const std::string& extra = "", std::string* out = nullptr, const std::string& state_dir = "") const {
        std::string cmd = std::string(EDGESYNC_PATH) + " --subscription " + shell_quote(subscription) +
                          " --ldap-uri " + ldap.uri() + " --bind-dn " + shell_quote(SlapdServer::kAdmin) +
                          " --password-file " + shell_quote(password_file) + " --base-dn " +
                          shell_quote(SlapdServer::kBase) + " --hub 127.0.0.1:" + std::to_string(hub.port()) +
                          " --site Site1 --accepted-domain contoso.test --state-dir " +
                          shell_quote(state_dir.empty() ? state : state_dir) + " --edge 127.0.0.1:" +
                          std::to_string(sync_port) + " --name agent1 --once " + extra;
        std::string local;
        int code = run_command(cmd + " 2>&1", out ? out : &local);
        return code;
    }

    std::uint64_t recipients() const {
        edge::queue::QueueDbOptions o;
        o.recover_leases = false;
        auto db = edge::queue::QueueDb::open(edge.data(), o);
        REQUIRE(db);
        return (*db)->recipient_count();
    }
};

// A raw client of the sync listener with the enrolled agent's certificate: sends
// exactly the bytes a test wants, as a broken or hostile agent would.
class RawSyncClient {
public:
    RawSyncClient(std::uint16_t port, const std::string& cert, const std::string& key) {
        fd_ = connect_loopback(port);
        if (fd_ < 0) throw std::runtime_error("connect");
        timeval tv{20, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ctx_ = SSL_CTX_new(TLS_client_method());
        if (!cert.empty()) {
            SSL_CTX_use_certificate_file(ctx_, cert.c_str(), SSL_FILETYPE_PEM);
            SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM);
        }
        ssl_ = SSL_new(ctx_);
        SSL_set_fd(ssl_, fd_);
        if (SSL_connect(ssl_) != 1) throw std::runtime_error("TLS");
    }
    ~RawSyncClient() {
        SSL_free(ssl_);
        SSL_CTX_free(ctx_);
        ::close(fd_);
    }
    void send(const std::string& text) { SSL_write(ssl_, text.data(), static_cast<int>(text.size())); }
    std::string line() {
        while (buf_.find('\n') == std::string::npos) {
            char tmp[4096];
            int n = SSL_read(ssl_, tmp, sizeof tmp);
            if (n <= 0) return "<closed>";
            buf_.append(tmp, static_cast<std::size_t>(n));
        }
        auto nl = buf_.find('\n');
        std::string l = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return l;
    }
    std::string request(const std::string& text) {
        send(text);
        return line();
    }
    void abort() { ::shutdown(fd_, SHUT_RDWR); }

private:
    int fd_ = -1;
    SSL_CTX* ctx_ = nullptr;
    SSL* ssl_ = nullptr;
    std::string buf_;
};

}  // namespace

TEST_CASE("EdgeSync: after edgesync --once the edge knows the directory's recipients and domains, and filters",
          "[edgesync][ldap]") {
    Fixture f;
    std::string out;
    REQUIRE(f.agent("", &out) == 0);
    INFO(out);
    CHECK(out.find("enrolled with") != std::string::npos);
    CHECK(out.find("recipients: 10003 in the directory, full") != std::string::npos);
    CHECK(f.recipients() == kUsers + 3);  // 10,000 + the alias's two + fabrikam's one
    std::this_thread::sleep_for(1500ms);  // ConfigPollInterval: the server sees the sync

    // Existing users, one known only by a secondary proxy address, are accepted and
    // delivered through "EdgeSync - Inbound to Site1" to the hub.
    SmtpClient c(f.edge.port());
    c.reply();
    c.command("EHLO client.example");
    REQUIRE(c.send_mail("a@example.org", {"u00042@contoso.test", "second.alias@contoso.test"},
                        simple_body("to the hub"))
                .starts_with("250 2.6.0"));
    auto got = f.hub.wait_for_messages(1, 20s);
    REQUIRE(got.size() == 1);
    CHECK(got[0].rcpt_to == std::vector<std::string>{"u00042@contoso.test", "second.alias@contoso.test"});

    // An unknown user: 550 5.1.1 after the tarpit.
    auto t0 = std::chrono::steady_clock::now();
    CHECK(rcpt(f.edge, "nobody@contoso.test") == "550 5.1.1 User unknown");
    CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() >= 1.0);
    CHECK(rcpt(f.edge, "someone@fabrikam.test") == "550 5.7.1 Unable to relay");  // not an accepted domain yet

    // A directory read that fails (a filter the server refuses) sends no recipients.
    std::string failed;
    CHECK(f.agent("--filter '(((bad'", &failed) == 1);
    CHECK(failed.find("LDAP search") != std::string::npos);
    CHECK(f.recipients() == kUsers + 3);

    // A user deleted in LDAP is refused after the next sync; a domain added is accepted.
    f.ldap.remove_user(uid(7));
    CHECK(rcpt(f.edge, "u00007@contoso.test").starts_with("250"));
    REQUIRE(f.agent("--accepted-domain fabrikam.test", &out) == 0);
    CHECK(out.find("incremental (+0 -1)") != std::string::npos);
    std::this_thread::sleep_for(1500ms);
    CHECK(rcpt(f.edge, "u00007@contoso.test") == "550 5.1.1 User unknown");
    CHECK(rcpt(f.edge, "u00008@contoso.test").starts_with("250"));
    CHECK(rcpt(f.edge, "someone@fabrikam.test").starts_with("250"));

    // What edgectl says about it; replicated objects are read-only here.
    std::string test;
    CHECK(f.edge.edgectl("Test-EdgeSynchronization -Format List", &test) == 0);
    CHECK(test.find("SyncStatus        : Normal") != std::string::npos);
    std::string sub;
    REQUIRE(f.edge.edgectl("Get-EdgeSubscription -Format List", &sub) == 0);
    CHECK(sub.find("Enrolled          : True") != std::string::npos);
    CHECK(sub.find("Site              : Site1") != std::string::npos);
    CHECK(sub.find("RecipientCount    : 10002") != std::string::npos);
    std::string domains;
    REQUIRE(f.edge.edgectl("Get-AcceptedDomain", &domains) == 0);
    CHECK(domains.find("fabrikam.test") != std::string::npos);
    std::string refused;
    CHECK(f.edge.edgectl("Set-AcceptedDomain contoso.test -DomainType InternalRelay", &refused) == 1);
    CHECK(refused.find("replicated by EdgeSync") != std::string::npos);
    CHECK(f.edge.edgectl("New-SendConnector Mine -AddressSpaces x.test", &refused) == 1);
    std::string connectors;
    REQUIRE(f.edge.edgectl("Get-SendConnector", &connectors) == 0);
    CHECK(connectors.find("EdgeSync - Inbound to Site1") != std::string::npos);
    CHECK(connectors.find("EdgeSync - Site1 to Internet") != std::string::npos);

    // --filter chooses who is replicated (against AD: leave disabled accounts out).
    REQUIRE(f.agent("--filter '(|(cn=u0000*)(cn=alias))'", &out) == 0);
    CHECK(f.recipients() == 11);  // u00000..u00009 without the deleted u00007, and the alias's two
    std::this_thread::sleep_for(1500ms);
    CHECK(rcpt(f.edge, "u00042@contoso.test") == "550 5.1.1 User unknown");
    CHECK(rcpt(f.edge, "u00003@contoso.test").starts_with("250"));

    // The data directory holds no replicated address in clear (u00123 was never mailed).
    f.edge.stop();
    std::string everything;
    for (const auto& e : std::filesystem::recursive_directory_iterator(f.edge.data()))
        if (e.is_regular_file()) everything += slurp(e.path().string());
    CHECK(everything.find("u00123@contoso.test") == std::string::npos);
    CHECK(everything.find("primary.alias@contoso.test") == std::string::npos);
}

TEST_CASE("EdgeSync security: pinned certificates, a one-time and expiring secret, batches whole or not at all",
          "[edgesync][security]") {
    Fixture f;
    REQUIRE(f.agent() == 0);
    const auto before = f.recipients();
    REQUIRE(before == kUsers + 3);

    // Replaying the enrollment secret (another agent, its own certificate) fails.
    std::string out;
    CHECK(f.agent("", &out, f.edge.dir().sub("other-state")) == 1);
    CHECK(out.find("the enrollment secret was used already") != std::string::npos);
    // A client with a certificate that is not the pinned one is refused, whatever it knows.
    {
        const std::string other = f.edge.dir().sub("other-state");
        RawSyncClient c(f.sync_port, other + "/agent.crt", other + "/agent.key");
        CHECK(c.request("EDGESYNC 1 HELLO\n").starts_with("ERR 530"));
        CHECK(c.line() == "<closed>");
    }
    {
        RawSyncClient c(f.sync_port, "", "");  // no certificate at all
        CHECK(c.request("EDGESYNC 1 HELLO\n").starts_with("ERR 530"));
    }

    const std::string cert = f.state + "/agent.crt", key = f.state + "/agent.key";
    auto hello_and_lease = [&](RawSyncClient& c) {
        REQUIRE(c.request("EDGESYNC 1 HELLO\n") == "OK");
        REQUIRE(c.request("LEASE agent1 60\n") == "OK");
    };
    edge::edgesync::ReplicatedRecipients one{{std::string(32, 'x')}, {}};
    const std::string whole = edge::edgesync::write_recipient_batch(edge::edgesync::BatchMode::Full, 0, one);
    {
        // A damaged batch (one hex digit changed) is refused and nothing of it applies.
        RawSyncClient c(f.sync_port, cert, key);
        hello_and_lease(c);
        std::string damaged = whole;
        damaged[damaged.find("+ ") + 2] = damaged[damaged.find("+ ") + 2] == '7' ? '8' : '7';
        CHECK(c.request(damaged).find("the batch digest does not match") != std::string::npos);
    }
    {
        // Records that are not records.
        RawSyncClient c(f.sync_port, cert, key);
        hello_and_lease(c);
        CHECK(c.request("BATCH RECIPIENTS FULL 0 2\n+ 00\nDROP everything\nEND 00\n").starts_with("ERR 400"));
    }
    {
        // Truncated: the agent dies after part of a FULL batch (the connection drops).
        RawSyncClient c(f.sync_port, cert, key);
        hello_and_lease(c);
        c.send("BATCH RECIPIENTS FULL 0 3\n+ " + std::string(64, 'a') + "\n");
        c.abort();
    }
    {
        // Another agent's lease is respected.
        RawSyncClient c(f.sync_port, cert, key);
        REQUIRE(c.request("EDGESYNC 1 HELLO\n") == "OK");
        CHECK(c.request("LEASE agent2 60\n").starts_with("ERR 450 agent1 holds the sync lease"));
        CHECK(c.request(whole).starts_with("ERR 450"));
    }
    std::this_thread::sleep_for(300ms);
    CHECK(f.recipients() == before);  // the previous data is still what is served
    std::this_thread::sleep_for(1200ms);
    CHECK(rcpt(f.edge, "u00042@contoso.test").starts_with("250"));

    // An expired secret fails: a new subscription whose secret's time has passed.
    f.edge.must_edgectl("New-EdgeSubscription -Force -FileName " + shell_quote(f.subscription) +
                        " -Port " + std::to_string(f.sync_port));
    {
        edge::queue::QueueDbOptions o;
        o.recover_leases = false;
        auto db = edge::queue::QueueDb::open(f.edge.data(), o);
        REQUIRE(db);
        auto sub = edge::edgesync::load_subscription(**db);
        REQUIRE(sub);
        sub->secret_expires = static_cast<std::int64_t>(std::time(nullptr)) - 60;
        REQUIRE((*db)->config_apply({edge::edgesync::subscription_change(*sub)}));
    }
    std::this_thread::sleep_for(1500ms);  // the listener picks up the new certificate
    CHECK(f.agent("", &out, f.edge.dir().sub("third-state")) == 1);
    CHECK(out.find("the enrollment secret has expired") != std::string::npos);
}

TEST_CASE("EdgeSync: killing edgesync in the middle of a sync leaves the edge on its previous consistent data",
          "[edgesync][crash]") {
    Fixture f;
    REQUIRE(f.agent() == 0);
    const auto before = f.recipients();
    // Ten kills at growing moments of a forced FULL sync of the same directory minus
    // one user: after each, the edge holds either the old set or the new one, whole.
    f.ldap.remove_user(uid(9));
    for (int i = 0; i < 10; ++i) {
        std::string cmd = std::string(EDGESYNC_PATH) + " --subscription " + shell_quote(f.subscription) +
                          " --ldap-uri " + f.ldap.uri() + " --bind-dn " + shell_quote(SlapdServer::kAdmin) +
                          " --password-file " + shell_quote(f.password_file) + " --base-dn " +
                          shell_quote(SlapdServer::kBase) + " --hub 127.0.0.1:" + std::to_string(f.hub.port()) +
                          " --site Site1 --accepted-domain contoso.test --state-dir " + shell_quote(f.state) +
                          " --edge 127.0.0.1:" + std::to_string(f.sync_port) + " --name agent1 --once --full";
        pid_t pid = ::fork();
        if (pid == 0) {
            ::execl("/bin/sh", "sh", "-c", ("exec " + cmd + " >/dev/null 2>&1").c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100 + 60 * i));
        ::kill(pid, SIGKILL);
        int st = 0;
        ::waitpid(pid, &st, 0);
        auto now = f.recipients();
        INFO("kill " << i);
        CHECK((now == before || now == before - 1));
    }
    // The agent's lease is still held (its last run died); a finished run syncs.
    REQUIRE(f.agent("--full") == 0);
    CHECK(f.recipients() == before - 1);
}
