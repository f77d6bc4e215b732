// edgesync — the EdgeSync agent. Runs on the internal network next to the hubs, reads
// the directory, and pushes accepted domains, the hubs (the inbound connector's smart
// hosts) and hashed recipients to the edge over mutual TLS. It connects out to the
// edge; the edge never connects in.
//
//   edgesync --subscription edge.sub --ldap-uri ldap://dc1 --bind-dn … --password-file …
//            --base-dn … --hub hub1.contoso.com:25 [--hub …] --accepted-domain contoso.com|none
//            [--site NAME] [--state-dir DIR] [--edge HOST:PORT] [--name AGENT] [--once]
//            [--full] [--config-interval SECONDS] [--recipient-interval SECONDS] [--filter LDAPFILTER]
//            [--lease SECONDS]
//
// --filter REPLACES the default recipient filter "(|(mail=*)(proxyAddresses=*))". Against
// Active Directory, leave disabled accounts out as Exchange does:
//   '(&(|(mail=*)(proxyAddresses=*))(!(userAccountControl:1.2.840.113556.1.4.803:=2)))'
//
// The sync lease (one agent process per edge subscription; --lease, default 600 s): a
// daemon renews it every cycle and gives it back on SIGTERM, --once when it ends. An agent refused the
// lease waits until it expires (plus jitter) and says so once per wait.
//
// State (--state-dir, default /var/lib/edgesync): the agent's client certificate, the
// recipient hash key learnt at enrollment, and the last recipient set sent with its
// version — the base of the next incremental (DELTA) sync.
#include "certificate.hpp"
#include "directory.hpp"
#include "edge_state.hpp"
#include "host_name.hpp"
#include "private_file.hpp"
#include "recipient_filter.hpp"
#include "service_notify.hpp"
#include "sync_protocol.hpp"
#include "version.hpp"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace {

using namespace edge::edgesync;

struct Options {
    std::string subscription, state_dir = "/var/lib/edgesync", edge, name, site = "Default-First-Site-Name";
    DirectoryOptions directory;
    std::vector<std::string> hubs;
    std::vector<ReplicatedDomain> domains;
    bool once = false, full = false, no_domains = false;
    int config_interval = 180, recipient_interval = 300, lease = 600;
};

constexpr const char* kUsage =
    "usage: edgesync --subscription FILE --ldap-uri URI [--bind-dn DN --password-file FILE] --base-dn DN\n"
    "                --hub HOST[:PORT]... --accepted-domain DOMAIN[:TYPE[:default]]...|none\n"
    "                [--site NAME] [--state-dir DIR] [--edge HOST:PORT] [--name AGENT] [--once] [--full]\n"
    "                [--config-interval S] [--recipient-interval S] [--filter LDAPFILTER] [--lease S]\n"
    "\n"
    "  --subscription FILE     the file of edgectl New-EdgeSubscription on the edge (holds a secret)\n"
    "  --edge HOST:PORT        where the edge's sync listener is (default: the file's EdgeServerFQDN\n"
    "                          and EdgeSyncPort); the agent connects out, the edge never connects in\n"
    "  --state-dir DIR         the agent's certificate, hash key and last set (default /var/lib/edgesync)\n"
    "  --hub HOST[:PORT]       a hub the edge delivers inbound mail to (repeat for more)\n"
    "  --accepted-domain D[:TYPE[:default]]  a domain the edge accepts; TYPE Authoritative (default),\n"
    "                          InternalRelay or ExternalRelay, any case; 'none' replicates no domain\n"
    "                          (the edge then removes its accepted domains: say it on purpose)\n"
    "  --filter LDAPFILTER     replaces the default recipient filter (|(mail=*)(proxyAddresses=*))\n"
    "  --site NAME             the site (default Default-First-Site-Name)\n"
    "  --name AGENT            this agent's name in the edge's lease and logs (default the host name)\n"
    "  --once                  sync now, give the lease back, exit (0: synced)\n"
    "  --full                  send the whole recipient set, not the difference\n"
    "  --config-interval S     configuration sync interval (default 180)\n"
    "  --recipient-interval S  recipient sync interval (default 300)\n"
    "  --lease S               the sync lease taken on the edge (default 600); a daemon renews it\n"
    "                          every cycle, so it must be longer than both intervals\n"
    "  --version               the version\n"
    "  --help                  this text\n";

[[noreturn]] void usage(const std::string& why) { throw std::invalid_argument(why + "\n" + kUsage); }

// SIGTERM or SIGINT (systemctl stop): the daemon gives its lease back before it exits,
// so its successor (systemctl restart) need not wait for the lease to expire.
volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop_signal(int) { g_stop = 1; }

// Sleeps until `t`, or until a stop signal.
void nap_until(std::chrono::steady_clock::time_point t) {
    while (!g_stop && std::chrono::steady_clock::now() < t)
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
            t - std::chrono::steady_clock::now(), std::chrono::milliseconds(200)));
}

// Thrown when another agent holds the sync lease: how long it still does.
struct LeaseBusy : std::runtime_error {
    LeaseBusy(const std::string& reply, std::uint32_t s) : std::runtime_error(reply), seconds(s) {}
    std::uint32_t seconds;
};

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The agent's state (the hash key, the last set sent): 0600 from the first byte,
// through the one file writer (queue-db/private_file.hpp).
void write_private(const std::string& path, const std::string& text) {
    if (auto ec = edge::queue::write_file_atomically(path, text, 0600))
        throw std::runtime_error("cannot write " + path + ": " + ec.message());
}

Options parse(int argc, char** argv) {
    Options o;
    o.name = edge::config::short_host_name();
    std::string password_file;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(a + " needs a value");
            return argv[++i];
        };
        auto seconds = [&]() {
            std::string v = value();
            int n = 0;
            try {
                n = std::stoi(v);
            } catch (...) {
                usage(a + ": '" + v + "' is not a number of seconds");
            }
            if (n < 1 || n > 86400) usage(a + ": from 1 to 86400 seconds");
            return n;
        };
        if (a == "--help" || a == "-h") {
            std::cout << kUsage;
            std::exit(0);
        }
        if (a == "--version") {
            std::cout << edge::kVersionText << "\n";
            std::exit(0);
        }
        if (a == "--subscription") o.subscription = value();
        else if (a == "--ldap-uri") o.directory.uri = value();
        else if (a == "--bind-dn") o.directory.bind_dn = value();
        else if (a == "--password-file") password_file = value();
        else if (a == "--base-dn") o.directory.base_dn = value();
        else if (a == "--filter") o.directory.filter = value();
        else if (a == "--hub") o.hubs.push_back(value());
        else if (a == "--site") o.site = value();
        else if (a == "--state-dir") o.state_dir = value();
        else if (a == "--edge") o.edge = value();
        else if (a == "--name") o.name = value();
        else if (a == "--once") o.once = true;
        else if (a == "--full") o.full = true;
        else if (a == "--config-interval") o.config_interval = seconds();
        else if (a == "--recipient-interval") o.recipient_interval = seconds();
        else if (a == "--lease") o.lease = seconds();
        else if (a == "--accepted-domain") {
            // contoso.com, contoso.com:InternalRelay, contoso.com:authoritative:default, none
            std::string v = value();
            if (v == "none") {
                o.no_domains = true;
                continue;
            }
            ReplicatedDomain d;
            auto c = v.find(':');
            d.domain_name = v.substr(0, c);
            d.domain_type = "Authoritative";
            if (c != std::string::npos) {
                std::string rest = v.substr(c + 1);
                auto c2 = rest.find(':');
                auto type = canonical_domain_type(rest.substr(0, c2));
                if (!type) usage("--accepted-domain " + v + ": the type is Authoritative, InternalRelay or ExternalRelay");
                d.domain_type = *type;
                if (c2 != std::string::npos) {
                    std::string flag = rest.substr(c2 + 1);
                    for (char& ch : flag) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                    if (flag != "default") usage("--accepted-domain " + v + ": after the type only ':default' may follow");
                    d.default_domain = true;
                }
            }
            if (d.domain_name.empty()) usage("--accepted-domain " + v + ": no domain name");
            o.domains.push_back(d);
        } else usage("unknown option " + a);
    }
    // Issue 15: leaving the option out removed every accepted domain of the edge.
    if (o.domains.empty() && !o.no_domains)
        usage("--accepted-domain is required: the edge replaces its accepted domains with these "
              "(--accepted-domain none removes them all, on purpose)");
    if (!o.domains.empty() && o.no_domains) usage("--accepted-domain none cannot be given with domains");
    if (!o.once && o.lease <= std::max(o.config_interval, o.recipient_interval))
        usage("--lease must be longer than --config-interval and --recipient-interval (the agent renews it every cycle)");
    if (o.subscription.empty()) usage("--subscription is required");
    if (o.directory.uri.empty() || o.directory.base_dn.empty()) usage("--ldap-uri and --base-dn are required");
    if (o.hubs.empty()) usage("--hub is required (the hubs the edge delivers inbound mail to)");
    if (o.site.find_first_of(" ,") != std::string::npos) usage("--site: a name without spaces or commas");
    if (!password_file.empty()) {
        o.directory.password = slurp(password_file);
        while (!o.directory.password.empty() &&
               (o.directory.password.back() == '\n' || o.directory.password.back() == '\r'))
            o.directory.password.pop_back();
    }
    return o;
}

// One TLS connection to the edge, line by line. The edge's certificate must be the
// one in the subscription file; ours is the one we enrolled.
class EdgeConnection {
public:
    EdgeConnection(const SubscriptionFile& sub, const std::string& edge, const std::string& state_dir) {
        std::string host = sub.edge_fqdn, port = std::to_string(sub.port);
        if (!edge.empty()) {
            auto c = edge.rfind(':');
            host = edge.substr(0, c);
            if (c != std::string::npos) port = edge.substr(c + 1);
        }
        addrinfo hints{};
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* res = nullptr;
        if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0)
            throw std::runtime_error(fmt::format("cannot find the edge {}: {}", host, gai_strerror(rc)));
        for (addrinfo* a = res; a != nullptr && fd_ < 0; a = a->ai_next) {
            int fd = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
            if (fd < 0) continue;
            timeval tv{120, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) fd_ = fd;
            else ::close(fd);
        }
        ::freeaddrinfo(res);
        if (fd_ < 0) throw std::runtime_error(fmt::format("cannot connect to the edge {}:{}", host, port));
        ctx_ = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
        if (SSL_CTX_use_certificate_file(ctx_, (state_dir + "/agent.crt").c_str(), SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx_, (state_dir + "/agent.key").c_str(), SSL_FILETYPE_PEM) != 1)
            throw std::runtime_error("cannot load the agent's certificate from " + state_dir);
        ssl_ = SSL_new(ctx_);
        SSL_set_fd(ssl_, fd_);
        SSL_set_tlsext_host_name(ssl_, sub.edge_fqdn.c_str());
        if (SSL_connect(ssl_) != 1) throw std::runtime_error("TLS handshake with the edge failed");
        X509* peer = SSL_get1_peer_certificate(ssl_);
        std::string fp = edge::tls::certificate_sha256(peer);
        X509_free(peer);
        if (fp.empty() || fp != edge::tls::pem_certificate_sha256(sub.certificate_pem))
            throw std::runtime_error("the edge's certificate is not the one in the subscription file: refusing to talk");
    }
    ~EdgeConnection() {
        if (ssl_) SSL_free(ssl_);
        if (ctx_) SSL_CTX_free(ctx_);
        if (fd_ >= 0) ::close(fd_);
    }
    EdgeConnection(const EdgeConnection&) = delete;
    EdgeConnection& operator=(const EdgeConnection&) = delete;

    void send(const std::string& text) {
        std::size_t off = 0;
        while (off < text.size()) {
            int n = SSL_write(ssl_, text.data() + off, static_cast<int>(std::min<std::size_t>(text.size() - off, 1 << 20)));
            if (n <= 0) throw std::runtime_error("the edge closed the connection");
            off += static_cast<std::size_t>(n);
        }
    }
    std::string line() {
        while (true) {
            auto nl = buf_.find('\n');
            if (nl != std::string::npos) {
                std::string l = buf_.substr(0, nl);
                buf_.erase(0, nl + 1);
                return l;
            }
            if (buf_.size() > kMaxLine) throw std::runtime_error("the edge sent an overlong line");
            char tmp[4096];
            int n = SSL_read(ssl_, tmp, sizeof tmp);
            if (n <= 0) throw std::runtime_error("the edge closed the connection");
            buf_.append(tmp, static_cast<std::size_t>(n));
        }
    }
    std::string request(const std::string& text) {
        send(text);
        return line();
    }

private:
    int fd_ = -1;
    SSL_CTX* ctx_ = nullptr;
    SSL* ssl_ = nullptr;
    std::string buf_;
};

struct RecipientState {
    std::uint64_t version = 0;
    std::vector<std::string> hashes;  // sorted, raw
};

RecipientState load_recipient_state(const std::string& path) {
    RecipientState s;
    std::ifstream in(path);
    if (!in) return s;
    std::string line;
    if (!std::getline(in, line)) return {};
    try {
        s.version = std::stoull(line);
    } catch (...) {
        return {};
    }
    while (std::getline(in, line)) {
        auto h = from_hex(line);
        if (!h || h->size() != kHashBytes) return {};  // damaged: the next sync is FULL
        s.hashes.push_back(std::move(*h));
    }
    return s;
}

void save_recipient_state(const std::string& path, const RecipientState& s) {
    std::string text = std::to_string(s.version) + "\n";
    for (const auto& h : s.hashes) text += to_hex(h) + "\n";
    write_private(path, text);
}

std::uint64_t ok_version(const std::string& reply) {
    if (!reply.starts_with("OK")) throw std::runtime_error("the edge refused: " + reply);
    return reply.size() > 3 ? std::stoull(reply.substr(3)) : 0;
}

class Agent {
public:
    explicit Agent(Options o) : o_(std::move(o)) {
        // This process's lease holder id: two agents, even of one name, are two holders.
        unsigned char id[8];
        if (RAND_bytes(id, sizeof id) != 1) throw std::runtime_error("no random bytes from OpenSSL");
        holder_ = to_hex(std::string_view(reinterpret_cast<const char*>(id), sizeof id));
        std::string error;
        auto f = SubscriptionFile::read(slurp(o_.subscription), &error);
        if (!f) throw std::runtime_error(o_.subscription + ": " + error);
        sub_ = *f;
        if (auto ec = edge::queue::make_directory(o_.state_dir, 0700))
            throw std::runtime_error("cannot create " + o_.state_dir + ": " + ec.message());
        std::filesystem::permissions(o_.state_dir, std::filesystem::perms::owner_all);  // an existing one too
        if (!std::filesystem::exists(o_.state_dir + "/agent.crt") || !std::filesystem::exists(o_.state_dir + "/agent.key"))
            edge::tls::make_self_signed_certificate(o_.state_dir + "/agent.crt", o_.state_dir + "/agent.key", o_.name);
    }

    // Connects, enrolls once or says hello, takes the lease: ready for batches.
    std::unique_ptr<EdgeConnection> open() {
        auto c = std::make_unique<EdgeConnection>(sub_, o_.edge, o_.state_dir);
        const std::string key_file = o_.state_dir + "/hash.key";
        // A key learnt for another subscription (another certificate) is not ours now.
        const std::string marker = o_.state_dir + "/edge.pin";
        const std::string pin = edge::tls::pem_certificate_sha256(sub_.certificate_pem);
        bool enrolled = std::filesystem::exists(key_file) && std::filesystem::exists(marker) && slurp(marker) == pin;
        if (!enrolled) {
            std::string r = c->request(fmt::format("EDGESYNC {} ENROLL {}\n", kProtocolVersion, sub_.enrollment_secret));
            if (!r.starts_with("OK ")) throw std::runtime_error("enrollment refused: " + r);
            auto key = from_hex(r.substr(3));
            if (!key || key->empty()) throw std::runtime_error("the edge sent no recipient hash key");
            write_private(key_file, r.substr(3));
            write_private(marker, pin);
            std::filesystem::remove(o_.state_dir + "/recipients.state");  // a new edge: start FULL
            std::fprintf(stderr, "edgesync: enrolled with %s\n", sub_.edge_fqdn.c_str());
        } else {
            std::string r = c->request(fmt::format("EDGESYNC {} HELLO\n", kProtocolVersion));
            if (r != "OK") throw std::runtime_error("the edge refused us: " + r);
        }
        key_ = *from_hex(slurp(key_file));
        std::string lease = c->request(fmt::format("LEASE {} {} {}\n", o_.name, o_.lease, holder_));
        if (lease != "OK") {
            if (auto wait = lease_wait_seconds(lease)) {
                c->request("QUIT\n");
                throw LeaseBusy(lease, *wait);
            }
            throw std::runtime_error("no sync lease: " + lease);
        }
        return c;
    }

    void sync_config(EdgeConnection& c) {
        ReplicatedConfig cfg{o_.site, o_.hubs, o_.domains, o_.no_domains};
        ok_version(c.request(write_config_batch(cfg)));
        std::fprintf(stderr, "edgesync: configuration: %zu accepted domains, %zu hubs\n", cfg.domains.size(),
                     cfg.hubs.size());
    }

    void sync_recipients(EdgeConnection& c, bool force_full) {
        // The directory first: a read that fails sends nothing (never "everyone left").
        auto addresses = read_recipient_addresses(o_.directory);
        std::vector<std::string> hashes;
        hashes.reserve(addresses.size());
        for (const auto& a : addresses) hashes.push_back(edge::agents::recipient_hash(key_, a));
        std::sort(hashes.begin(), hashes.end());
        hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());

        const std::string state_file = o_.state_dir + "/recipients.state";
        RecipientState last = load_recipient_state(state_file);
        bool full = force_full || last.version == 0;
        std::string reply;
        ReplicatedRecipients r;
        if (!full) {
            std::set_difference(hashes.begin(), hashes.end(), last.hashes.begin(), last.hashes.end(),
                                std::back_inserter(r.added));
            std::set_difference(last.hashes.begin(), last.hashes.end(), hashes.begin(), hashes.end(),
                                std::back_inserter(r.removed));
            reply = c.request(write_recipient_batch(BatchMode::Delta, last.version, r));
            if (reply.starts_with("ERR 409")) full = true;  // the edge has another base: start over
        }
        if (full) {
            r = ReplicatedRecipients{hashes, {}};
            reply = c.request(write_recipient_batch(BatchMode::Full, 0, r));
        }
        std::uint64_t version = ok_version(reply);
        save_recipient_state(state_file, RecipientState{version, hashes});
        std::fprintf(stderr, "edgesync: recipients: %zu in the directory, %s (+%zu -%zu), edge version %llu\n",
                     hashes.size(), full ? "full" : "incremental", r.added.size(), r.removed.size(),
                     static_cast<unsigned long long>(version));
    }

    // One cycle on one connection: what is due. --once gives the lease back at its end,
    // synced or not; a daemon keeps it (renewed every cycle) so no other agent interleaves.
    void cycle(bool& first, std::chrono::steady_clock::time_point& next_config,
               std::chrono::steady_clock::time_point& next_recipients) {
        using Clock = std::chrono::steady_clock;
        auto c = open();
        try {
            if (Clock::now() >= next_config) {
                sync_config(*c);
                next_config = Clock::now() + std::chrono::seconds(o_.config_interval);
            }
            if (Clock::now() >= next_recipients) {
                sync_recipients(*c, o_.full && first);
                next_recipients = Clock::now() + std::chrono::seconds(o_.recipient_interval);
            }
        } catch (...) {
            if (o_.once) release(*c);
            throw;
        }
        if (o_.once) release(*c);
        c->request("QUIT\n");
        first = false;
    }

    static void release(EdgeConnection& c) {
        try {
            c.request("RELEASE\n");
        } catch (const std::exception&) {
            // The connection is gone: the lease lapses at its expiry.
        }
    }

    int run() {
        using Clock = std::chrono::steady_clock;
        auto next_config = Clock::now(), next_recipients = Clock::now();
        bool first = true;
        std::mt19937 random(std::random_device{}());
        // Type=notify (conf/edgesync.service.in): ready once the options and the state
        // directory are read; the first sync may take minutes and is not start-up. No
        // watchdog: a full sync blocks in libldap for longer than any sensible WatchdogSec.
        edge::server::ServiceNotifier notifier([](const std::string& line) { std::fprintf(stderr, "edgesync: %s\n", line.c_str()); });
        if (!o_.once) notifier.ready();
        while (true) {
            try {
                cycle(first, next_config, next_recipients);
                if (o_.once) return 0;
            } catch (const LeaseBusy& busy) {
                // Wait for the lease to expire, not a moment less (issue 15: ~220 refused
                // handshakes a second), plus jitter so waiting agents do not all return at
                // once. Said once per wait.
                const std::uint32_t spread = std::clamp<std::uint32_t>(busy.seconds / 10, 1, 30);
                const auto wait = std::chrono::seconds(busy.seconds) +
                                  std::chrono::milliseconds(std::uniform_int_distribution<int>(0, spread * 1000)(random));
                std::fprintf(stderr, "edgesync: no sync lease: %s; waiting %.1f s for it\n", busy.what(),
                             std::chrono::duration<double>(wait).count());
                nap_until(Clock::now() + wait);
                if (g_stop) {
                    notifier.stopping();
                    return o_.once ? 1 : 0;  // --once: stopped before it synced
                }
                continue;
            } catch (const std::exception& e) {
                std::fprintf(stderr, "edgesync: %s\n", e.what());
                if (o_.once) return 1;
                // Retry what is due in 30 s, never at once (a due time is in the past).
                const auto retry = Clock::now() + std::chrono::seconds(30);
                next_config = std::max(next_config, retry);
                next_recipients = std::max(next_recipients, retry);
            }
            nap_until(std::min(next_config, next_recipients));
            if (g_stop) {
                notifier.stopping();
                stop();
                return 0;
            }
        }
    }

    // Stopped between cycles: renew the lease we hold (to prove it is ours on this
    // connection) and give it back. If another agent has it, there is nothing to give.
    void stop() {
        try {
            auto c = open();
            release(*c);
            c->request("QUIT\n");
            std::fprintf(stderr, "edgesync: stopped; the sync lease is released\n");
        } catch (const std::exception& e) {
            std::fprintf(stderr, "edgesync: stopped (%s)\n", e.what());
        }
    }

private:
    Options o_;
    SubscriptionFile sub_;
    std::string key_;
    std::string holder_;  // random per process: the lease's holder id
};

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    struct sigaction stop_action {};
    stop_action.sa_handler = on_stop_signal;
    stop_action.sa_flags = SA_RESTART;  // a sync in progress finishes; the flag is read between cycles
    sigemptyset(&stop_action.sa_mask);
    ::sigaction(SIGTERM, &stop_action, nullptr);
    ::sigaction(SIGINT, &stop_action, nullptr);
    try {
        Agent agent(parse(argc, argv));
        return agent.run();
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "edgesync: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "edgesync: %s\n", e.what());
        return 1;
    }
}
