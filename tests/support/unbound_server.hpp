// DNSSEC on loopback for the DANE tests: zones signed with ldns-keygen/ldns-signzone
// (Debian's ldnsutils) for NSD to serve (dns_server.hpp), and unbound (Debian's) as the
// validating resolver in front of it — a stub zone per test zone, each signed zone's key
// as its trust anchor — which sets AD on what it validated and answers SERVFAIL for
// what is bogus. Run unprivileged in the foreground from a private directory.
#pragma once

#include "child_process.hpp"
#include "dns_server.hpp"
#include "temp_dir.hpp"

#include <sys/wait.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace edge::test {

namespace dnssec_detail {
inline std::string run(const std::string& cmd) {
    return checked_output(cmd, "");
}
inline std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}
}  // namespace dnssec_detail

// A zone signed for NSD: its text (with SOA, NS and every RRSIG) and its key's DNSKEY
// line, the trust anchor unbound is given.
struct SignedZone {
    DnsZone zone;
    std::string trust_anchor;
};

// Signs `text` (zone-file records relative to `name`, without SOA: one is added with an
// NS) with a new ECDSA P-256 key, in `dir`.
inline SignedZone sign_zone(const std::string& dir, const std::string& name, const std::string& text) {
    using namespace dnssec_detail;
    const std::string file = dir + "/" + name + ".zone";
    {
        std::ofstream z(file);
        z << "$ORIGIN " << name << ".\n$TTL 300\n"
          << "@ IN SOA ns." << name << ". hostmaster." << name << ". 1 3600 600 86400 60\n"
          << "@ IN NS ns." << name << ".\nns IN A 127.0.0.1\n"
          << text << "\n";
    }
    std::string key = run("cd '" + dir + "' && ldns-keygen -a ECDSAP256SHA256 -k " + name);
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
    run("cd '" + dir + "' && ldns-signzone -o " + name + " '" + file + "' " + key);
    SignedZone z{{name, slurp(file + ".signed")}, slurp(dir + "/" + key + ".key")};
    auto semi = z.trust_anchor.find(';');  // ldns writes a comment after the key
    if (semi != std::string::npos) z.trust_anchor.erase(semi);
    return z;
}

// Breaks the signature over the RRset of `type` (the first "RRSIG <type>" line): four
// base64 characters changed, so a validator finds it bogus. Not the last ones: before
// "==" padding only A, Q, g and w are canonical, and NSD refuses to load a zone with
// anything else there (SERVFAIL for the whole zone instead of one bogus RRset).
inline void break_signature(SignedZone& z, const std::string& type) {
    std::string& t = z.zone.text;
    auto at = t.find("RRSIG\t" + type + " ");
    if (at == std::string::npos) at = t.find("RRSIG " + type + " ");
    if (at == std::string::npos) throw std::runtime_error("no RRSIG " + type + " in the signed zone");
    auto eol = t.find('\n', at);
    // The 9th to 12th base64 characters from the end (ldns may split the blob with spaces).
    int seen = 0;
    for (std::size_t i = eol - 1; seen < 12; --i) {
        if (!std::isalnum(static_cast<unsigned char>(t[i])) && t[i] != '+' && t[i] != '/') continue;
        if (++seen > 8) t[i] = t[i] == 'A' ? 'B' : 'A';
    }
}

// unbound validating the zones `nsd` serves: `anchors` are the trust anchors (DNSKEY
// lines), `stub_zones` every zone to ask NSD for (signed or not).
class UnboundServer {
public:
    UnboundServer(const NsdServer& nsd, const std::vector<std::string>& stub_zones, const std::vector<std::string>& anchors) {
        for (int attempt = 0;; ++attempt) {
            port_ = NsdServer::free_udp_tcp_port();
            write_files(nsd, stub_zones, anchors);
            try {
                start(stub_zones.front());
                return;
            } catch (const std::exception&) {
                if (attempt >= 4) throw;
            }
        }
    }
    ~UnboundServer() { stop_child(pid_, std::chrono::seconds(5)); }
    UnboundServer(const UnboundServer&) = delete;
    UnboundServer& operator=(const UnboundServer&) = delete;

    std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
    std::string log_text() const { return dnssec_detail::slurp(dir_.sub("unbound.log")) + dnssec_detail::slurp(dir_.sub("unbound.out")); }

private:
    void write_files(const NsdServer& nsd, const std::vector<std::string>& zones, const std::vector<std::string>& anchors) {
        std::ofstream a(dir_.sub("anchors"));
        for (const auto& k : anchors) a << k << "\n";
        std::ofstream c(dir_.sub("unbound.conf"));
        c << "server:\n"
          << "  interface: 127.0.0.1@" << port_ << "\n  port: " << port_ << "\n"
          << "  do-ip6: no\n  username: \"\"\n  chroot: \"\"\n  directory: \"" << dir_.path() << "\"\n"
          << "  pidfile: \"" << dir_.sub("unbound.pid") << "\"\n  use-syslog: no\n"
          << "  logfile: \"" << dir_.sub("unbound.log") << "\"\n  verbosity: 1\n  val-log-level: 2\n"
          << "  num-threads: 1\n  so-reuseport: no\n  do-not-query-localhost: no\n"
          << "  access-control: 127.0.0.0/8 allow\n  module-config: \"validator iterator\"\n"
          << "  trust-anchor-file: \"" << dir_.sub("anchors") << "\"\n"
          << "  qname-minimisation: no\n  harden-referral-path: no\n  prefetch: no\n"
          // Under load NSD may answer late: without these, one timeout marks NSD down
          // (infra cache) or a zone's keys bad (60 s of SERVFAIL for every name in it),
          // and a test sees SERVFAIL for its MX where it expected a bogus TLSA.
          << "  infra-host-ttl: 1\n  infra-keep-probing: yes\n  val-bogus-ttl: 1\n"
          // RFC 6761: unbound answers for test. itself unless told not to.
          << "  local-zone: \"test.\" nodefault\n"
          << "remote-control:\n  control-enable: no\n";
        for (const auto& z : zones) c << "stub-zone:\n  name: \"" << z << "\"\n  stub-addr: 127.0.0.1@" << nsd.port() << "\n";
    }

    void start(const std::string& probe_zone) {
        pid_ = spawn_logged({"/usr/sbin/unbound", "-d", "-c", dir_.sub("unbound.conf")}, dir_.sub("unbound.out"));
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < until) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                throw std::runtime_error("unbound exited at start: " + log_text());
            }
            try {
                // drill (ldnsutils) exits 0 once anyone answers.
                std::string out = dnssec_detail::run("drill -p " + std::to_string(port_) + " @127.0.0.1 " + probe_zone + " SOA");
                if (out.find("rcode: NOERROR") != std::string::npos) return;
            } catch (const std::exception&) {
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        stop_child(pid_, std::chrono::seconds(5));
        throw std::runtime_error("unbound did not answer on " + endpoint() + ": " + log_text());
    }

    TempDir dir_;
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace edge::test
