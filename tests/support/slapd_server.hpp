// A real directory for tests: OpenLDAP's slapd (Debian's slapd package) with an mdb
// database for dc=contoso,dc=test, loaded offline with slapadd, then run unprivileged
// in the foreground on 127.0.0.1 at a free port, and stopped when the fixture goes.
// Users carry AD's attributes the agent reads: `mail` and `proxyAddresses` (a small
// schema of ours declares proxyAddresses as AD does: a multi-valued string).
#pragma once

#include "temp_dir.hpp"
#include "child_process.hpp"
#include "edge_server.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace edge::test {

struct DirectoryUser {
    std::string uid;                  // cn=<uid>,ou=people,dc=contoso,dc=test
    std::string mail;                 // may be empty
    std::vector<std::string> proxy;   // "SMTP:a@x", "smtp:b@x", "X400:…"
};

class SlapdServer {
public:
    static constexpr const char* kBase = "dc=contoso,dc=test";
    static constexpr const char* kAdmin = "cn=admin,dc=contoso,dc=test";
    static constexpr const char* kPassword = "secret";

    explicit SlapdServer(const std::vector<DirectoryUser>& users) {
        write_config();
        std::string ldif = std::string("dn: ") + kBase + "\nobjectClass: dcObject\nobjectClass: organization\no: Contoso\n"
                           "dc: contoso\n\ndn: ou=people," + kBase + "\nobjectClass: organizationalUnit\nou: people\n\n";
        for (const auto& u : users) ldif += entry(u);
        std::ofstream(dir_.sub("users.ldif")) << ldif;
        std::string out;
        if (run_command("/usr/sbin/slapadd -q -f " + dir_.sub("slapd.conf") + " -l " + dir_.sub("users.ldif"), &out) != 0)
            throw std::runtime_error("slapadd failed: " + out);
        for (int attempt = 0;; ++attempt) {
            port_ = free_port();
            try {
                start();
                return;
            } catch (const std::exception&) {
                if (attempt >= 4) throw;
            }
        }
    }
    ~SlapdServer() { stop(); }
    SlapdServer(const SlapdServer&) = delete;
    SlapdServer& operator=(const SlapdServer&) = delete;

    std::string uri() const { return "ldap://127.0.0.1:" + std::to_string(port_); }
    std::string dn(const std::string& uid) const { return "cn=" + uid + ",ou=people," + kBase; }
    const std::string& directory() const { return dir_.path(); }

    // Changes with ldap-utils over the network, as an administrator would.
    void remove_user(const std::string& uid) { ldap("ldapdelete", "'" + dn(uid) + "'"); }
    void add_user(const DirectoryUser& u) {
        std::ofstream(dir_.sub("add.ldif")) << entry(u);
        ldap("ldapadd", "-f " + dir_.sub("add.ldif"));
    }

    void start() {
        // -d 0: stay in the foreground (our child), log nothing extra.
        pid_ = spawn_logged({"/usr/sbin/slapd", "-d", "0", "-f", dir_.sub("slapd.conf"), "-h", uri()}, dir_.sub("slapd.out"));
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
        while (std::chrono::steady_clock::now() < until) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                throw std::runtime_error("slapd exited at start: " + log_text());
            }
            std::string out;
            if (run_command("ldapsearch -x -H " + uri() + " -b '" + kBase + "' -s base dn >/dev/null 2>&1", &out) == 0)
                return;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        stop();
        throw std::runtime_error("slapd did not answer on " + uri() + ": " + log_text());
    }

    void stop() { stop_child(pid_, std::chrono::seconds(10)); }

    std::string log_text() const {
        std::ifstream in(dir_.sub("slapd.out"));
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    }

private:
    static std::string entry(const DirectoryUser& u) {
        std::string e = "dn: cn=" + u.uid + ",ou=people," + std::string(kBase) +
                        "\nobjectClass: inetOrgPerson\nobjectClass: edgeTestRecipient\ncn: " + u.uid + "\nsn: " + u.uid + "\n";
        if (!u.mail.empty()) e += "mail: " + u.mail + "\n";
        for (const auto& p : u.proxy) e += "proxyAddresses: " + p + "\n";
        return e + "\n";
    }

    void ldap(const std::string& tool, const std::string& args) {
        std::string out;
        if (run_command(tool + " -x -H " + uri() + " -D '" + kAdmin + "' -w " + kPassword + " " + args, &out) != 0)
            throw std::runtime_error(tool + " failed: " + out);
    }

    void write_config() {
        std::filesystem::create_directories(dir_.sub("db"));
        std::ofstream(dir_.sub("edge-test.schema"))
            << "attributetype ( 1.3.6.1.4.1.32473.1.1 NAME 'proxyAddresses' EQUALITY caseIgnoreMatch\n"
               "  SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )\n"
               "objectclass ( 1.3.6.1.4.1.32473.2.1 NAME 'edgeTestRecipient' SUP top AUXILIARY MAY ( proxyAddresses ) )\n";
        std::ofstream(dir_.sub("slapd.conf"))
            << "include /etc/ldap/schema/core.schema\n"
               "include /etc/ldap/schema/cosine.schema\n"
               "include /etc/ldap/schema/inetorgperson.schema\n"
               "include " << dir_.sub("edge-test.schema") << "\n"
               "pidfile " << dir_.sub("slapd.pid") << "\n"
               "modulepath /usr/lib/ldap\nmoduleload back_mdb\n"
               "sizelimit 500\n"  // as a real server limits a search: the agent must page
               "limits * size.prtotal=unlimited\n"
               "database mdb\nmaxsize 268435456\n"
               "suffix \"" << kBase << "\"\nrootdn \"" << kAdmin << "\"\nrootpw " << kPassword << "\n"
               "directory " << dir_.sub("db") << "\n"
               "index objectClass eq\nindex mail eq\n";
    }

    TempDir dir_;
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace edge::test
