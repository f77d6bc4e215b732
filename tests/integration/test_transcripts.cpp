// Transcript tests: each tests/transcripts/*.t file is a session at the shell, run
// against a fresh data directory and compared line by line. The format (see
// tests/transcripts/README.md):
//
//   # a comment
//   % enqueue from=a@x.test to=b@contoso.com,c@contoso.com subject="Hi" size=2000
//   $ edgectl Get-Queue -Filter "MessageCount -gt 0"
//   Identity ...                      expected stdout, line by line
//   ! edgectl: Get-Queue: ...         expected stderr lines start with "! "
//   [exit 2]                          expected exit code (0 when absent)
//
// In expected lines {SERVER} is this host's short name and {*} matches any text
// within the line; in commands {SERVER} and {DATA} (the data directory) are replaced,
// and the word edgectl becomes the binary with --data. Commands run under sh, so
// other programs (cmp, python3) check what edgectl wrote.
#include "data_dir_lock.hpp"
#include "edgectl_command.hpp"
#include "queue_db.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

using namespace edge::queue;

namespace {

std::string host_name() {
    char buf[256] = {};
    ::gethostname(buf, sizeof buf - 1);
    std::string h(buf);
    return h.substr(0, h.find('.'));
}

std::string sh_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// Tables are aligned to the widest identity, and identities start with the host's
// name: each command runs in its own UTS namespace named kTranscriptHost, so the
// expected tables are the same on every machine. Where unshare(1) cannot (not root),
// the real name is used and tables with it may not line up.
constexpr const char* kTranscriptHost = "EDGE";
bool uts_namespace_works() {
    static const bool works = std::system("unshare -u sh -c 'hostname EDGE' >/dev/null 2>&1") == 0;
    return works;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (std::size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
    return s;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::string line;
    std::istringstream in(text);
    while (std::getline(in, line)) out.push_back(line);
    while (!out.empty() && out.back().empty()) out.pop_back();
    return out;
}

// An expected line against an actual one: {*} matches any run of characters.
bool line_matches(std::string_view expected, std::string_view actual) {
    auto star = expected.find("{*}");
    if (star == std::string_view::npos) return expected == actual;
    if (!actual.starts_with(expected.substr(0, star))) return false;
    std::string_view rest = expected.substr(star + 3);
    for (std::size_t from = star; from <= actual.size(); ++from)
        if (line_matches(rest, actual.substr(from))) return true;
    return false;
}

// The word `edgectl` (at the start or after a space, ;, |, &, or '(') becomes `replacement`.
std::string replace_edgectl(const std::string& cmd, const std::string& replacement) {
    std::string out;
    for (std::size_t i = 0; i < cmd.size();) {
        bool start = i == 0 || std::string_view(" ;|&(").find(cmd[i - 1]) != std::string_view::npos;
        bool end = i + 7 == cmd.size() || (i + 7 < cmd.size() && cmd[i + 7] == ' ');
        if (start && end && cmd.compare(i, 7, "edgectl") == 0) {
            out += replacement;
            i += 7;
        } else {
            out += cmd[i++];
        }
    }
    return out;
}

// key=value words; values may be "quoted".
std::map<std::string, std::string> directive_args(const std::string& text) {
    std::map<std::string, std::string> out;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && text[i] == ' ') ++i;
        auto eq = text.find('=', i);
        if (eq == std::string::npos) break;
        std::string key = text.substr(i, eq - i), value;
        i = eq + 1;
        if (i < text.size() && text[i] == '"') {
            auto close = text.find('"', i + 1);
            value = text.substr(i + 1, close - i - 1);
            i = close + 1;
        } else {
            auto sp = text.find(' ', i);
            value = text.substr(i, sp == std::string::npos ? std::string::npos : sp - i);
            i = sp == std::string::npos ? text.size() : sp;
        }
        out[key] = value;
    }
    return out;
}

struct Step {
    std::size_t line = 0;
    std::string command;
    std::vector<std::string> out, err;
    int exit_code = 0;
};

class Transcript {
public:
    explicit Transcript(std::string name)
        : name_(std::move(name)), server_(uts_namespace_works() ? kTranscriptHost : host_name()) {}

    // With EDGE_TRANSCRIPT_BLESS set, the outputs seen are written to <name>.actual
    // beside the transcript, for review (diff) — never over the transcript itself.
    void run() {
        bless_ = std::getenv("EDGE_TRANSCRIPT_BLESS") != nullptr;
        std::ifstream in(std::string(TRANSCRIPT_DIR) + "/" + name_);
        REQUIRE(in.good());
        std::vector<std::string> text;
        for (std::string l; std::getline(in, l);) text.push_back(l);
        for (std::size_t i = 0; i < text.size(); ++i) {
            const std::string& l = text[i];
            if (!l.starts_with("$ ")) actual_ += l + "\n";
            if (l.starts_with("% write ")) {
                std::string content;
                // Exchange's logs end their lines in CRLF; other files (the status file) in LF.
                const char* eol = l.ends_with(".LOG") ? "\r\n" : "\n";
                for (++i; i < text.size() && text[i] != "% end"; ++i) {
                    content += text[i] + eol;
                    actual_ += text[i] + "\n";
                }
                actual_ += "% end\n";
                write_file(l.substr(8), content);
            } else if (l.starts_with("% ")) {
                directive(l.substr(2), i + 1);
            } else if (l.starts_with("$ ")) {
                Step s;
                s.line = i + 1;
                s.command = l.substr(2);
                for (; i + 1 < text.size() && !text[i + 1].starts_with("$ ") && !text[i + 1].starts_with("% ") &&
                       !text[i + 1].starts_with("# ");
                     ++i) {
                    const std::string& e = text[i + 1];
                    if (e.starts_with("! ") || e == "!")
                        s.err.push_back(e.size() > 2 ? e.substr(2) : "");
                    else if (e.starts_with("[exit ") && e.ends_with("]"))
                        s.exit_code = std::stoi(e.substr(6));
                    else
                        s.out.push_back(e);
                }
                while (!s.out.empty() && s.out.back().empty()) s.out.pop_back();
                execute(s);
            }
        }
        if (bless_) std::ofstream(std::string(TRANSCRIPT_DIR) + "/" + name_ + ".actual") << actual_;
    }

private:
    std::string expand(const std::string& s) const {
        return replace_all(replace_all(replace_all(s, "{SERVER}", server_), "{DATA}", dir_.path()), "{SOURCE}",
                           EDGE_SOURCE_DIR);
    }

    void with_db(const std::function<void(QueueDb&)>& f) {
        auto db = QueueDb::open(dir_.path());
        REQUIRE(db);
        f(**db);
    }

    void directive(const std::string& text, std::size_t line) {
        INFO(name_ << ":" << line << ": % " << text);
        auto space = text.find(' ');
        std::string verb = text.substr(0, space);
        auto args = directive_args(space == std::string::npos ? "" : text.substr(space + 1));
        if (verb == "enqueue") {
            with_db([&](QueueDb& db) {
                NewMessage m;
                auto& e = m.envelope;
                e.sender = args["from"];
                e.subject = args.count("subject") ? args["subject"] : "Test";
                e.internet_message_id = args.count("msgid") ? args["msgid"] : "<" + std::to_string(++tag_) + "@transcript.test>";
                e.arrival_time = now_timestamp();
                e.expiration_time = e.arrival_time + std::chrono::hours(48);
                e.receive_connector = "Default internal receive connector";
                e.client_address = "127.0.0.2";
                e.client_hostname = "client.transcript.test";
                std::string to = args["to"];
                for (std::size_t p = 0; p <= to.size();) {
                    auto c = to.find(',', p);
                    if (c == std::string::npos) c = to.size();
                    Recipient r;
                    r.address = to.substr(p, c - p);
                    std::string hop = args.count("hop") ? args["hop"] : r.address.substr(r.address.find('@') + 1);
                    r.next_hop = hop == "Unreachable" ? QueueId::unreachable() : QueueId::next_hop_domain(hop);
                    r.delivery_type = hop == "Unreachable" ? DeliveryType::Unreachable : DeliveryType::DnsConnectorDelivery;
                    e.recipients.push_back(std::move(r));
                    p = c + 1;
                }
                std::string body = "From: " + e.sender + "\r\nTo: " + to + "\r\nSubject: " + e.subject +
                                   "\r\nMessage-ID: " + e.internet_message_id + "\r\n\r\n";
                std::size_t size = args.count("size") ? std::stoul(args["size"]) : 200;
                while (body.size() < size) body += "The quick brown fox jumps over the lazy dog.\r\n";
                body.resize(std::max(size, body.find("\r\n\r\n") + 4));
                e.size = body.size();
                m.body.chunks.push_back(body);
                auto id = db.enqueue(m);
                REQUIRE(id);
                std::ofstream(dir_.sub("msg-" + std::to_string(*id) + ".eml"), std::ios::binary) << body;
            });
        } else if (verb == "defer") {
            with_db([&](QueueDb& db) {
                auto minutes = std::chrono::minutes(args.count("minutes") ? std::stoi(args["minutes"]) : 10);
                REQUIRE(db.defer_queue(QueueId::next_hop_domain(args["hop"]), now_timestamp() + minutes, args["error"]));
            });
        } else if (verb == "suspend-queue") {
            with_db([&](QueueDb& db) { REQUIRE(db.suspend_queue(*QueueId::parse(args["hop"]))); });
        } else if (verb == "server-running") {
            // Holds the data directory's server lock, as a running server does.
            auto lock = DataDirectoryLock::acquire(dir_.path());
            REQUIRE(lock);
            lock_ = std::make_unique<DataDirectoryLock>(std::move(*lock));
        } else {
            FAIL(name_ << ":" << line << ": unknown directive " << verb);
        }
    }

    void write_file(const std::string& rel, const std::string& content) {
        std::string path = dir_.sub(expand(rel));
        std::filesystem::create_directories(std::filesystem::path(path).parent_path());
        std::ofstream(path, std::ios::binary) << content;
    }

    void execute(const Step& s) {
        std::string cmd = expand(s.command);
        cmd = replace_edgectl(cmd, std::string(EDGECTL_PATH) + " --data '" + dir_.path() + "'");
        std::string out_file = dir_.sub(".stdout"), err_file = dir_.sub(".stderr");
        std::string full = "cd '" + dir_.path() + "' && COLUMNS=120 TZ=UTC && " + edge::test::edgectl_asan_options() + " && export COLUMNS TZ ASAN_OPTIONS && (" + cmd + ") >'" + out_file +
                           "' 2>'" + err_file + "'";
        if (uts_namespace_works())
            full = "unshare -u sh -c " + sh_quote(std::string("hostname ") + kTranscriptHost + " && " + full);
        int status = std::system(full.c_str());
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        auto out = lines_of(slurp(out_file)), err = lines_of(slurp(err_file));
        // For the blessed copy: the data directory and this host's name (as a whole
        // word: "vm\\q", "Identity : vm") become placeholders.
        auto generic = [&](const std::string& l) {
            std::string t = replace_all(l, dir_.path(), "{DATA}"), g;
            auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; };
            for (std::size_t i = 0; i < t.size();) {
                bool at = t.compare(i, server_.size(), server_) == 0 && (i == 0 || !word(t[i - 1])) &&
                          (i + server_.size() == t.size() || !word(t[i + server_.size()]));
                g += at ? "{SERVER}" : t.substr(i, 1);
                i += at ? server_.size() : 1;
            }
            return g;
        };
        actual_ += "$ " + s.command + "\n";
        for (const auto& l : out) actual_ += generic(l) + "\n";
        for (const auto& l : err) actual_ += "! " + generic(l) + "\n";
        if (code != 0) actual_ += "[exit " + std::to_string(code) + "]\n";
        // ASan/UBSan reports are never expected output: a report must fail the test.
        INFO(name_ << ":" << s.line << ": $ " << s.command << "\n--- stdout\n" << slurp(out_file) << "--- stderr\n"
                   << slurp(err_file) << "--- exit " << code);
        CHECK(code == s.exit_code);
        compare("stdout", s.out, out);
        compare("stderr", s.err, err);
    }

    void compare(const char* what, const std::vector<std::string>& expected, const std::vector<std::string>& actual) {
        bool same = expected.size() == actual.size();
        for (std::size_t i = 0; same && i < expected.size(); ++i) same = line_matches(expand(expected[i]), actual[i]);
        if (!same) {
            std::string e;
            for (const auto& l : expected) e += "  " + l + "\n";
            FAIL_CHECK(what << " differs; expected:\n" << e);
        }
    }

    std::string name_, server_;
    edge::test::TempDir dir_;
    std::unique_ptr<DataDirectoryLock> lock_;
    int tag_ = 0;
    bool bless_ = false;
    std::string actual_;
};

void run_transcript(const std::string& name) { Transcript(name).run(); }

}  // namespace

TEST_CASE("transcript: grammar (case, prefixes, lists, Booleans, errors)", "[transcript]") { run_transcript("grammar.t"); }
TEST_CASE("transcript: Get-Help and edgectl help", "[transcript]") { run_transcript("help.t"); }
TEST_CASE("transcript: ReceiveConnector cmdlets", "[transcript]") { run_transcript("receive_connector.t"); }
TEST_CASE("transcript: SendConnector cmdlets", "[transcript]") { run_transcript("send_connector.t"); }
TEST_CASE("transcript: AcceptedDomain cmdlets", "[transcript]") { run_transcript("accepted_domain.t"); }
TEST_CASE("transcript: TransportServer cmdlets", "[transcript]") { run_transcript("transport_server.t"); }
TEST_CASE("transcript: TLS-RPT counts and reports, MTA-STS policies (issue 20)", "[transcript]") { run_transcript("tls_report.t"); }
TEST_CASE("transcript: RecipientFilterConfig cmdlets", "[transcript]") { run_transcript("recipient_filter.t"); }
TEST_CASE("transcript: TransportAgent cmdlets and Get-AgentLog", "[transcript]") { run_transcript("transport_agent.t"); }
TEST_CASE("transcript: SenderFilterConfig cmdlets and PreGreetDelay", "[transcript]") { run_transcript("sender_filter.t"); }
TEST_CASE("transcript: Sender ID, DKIM and DMARC configuration, DKIM keys and signing configurations", "[transcript]") { run_transcript("auth.t"); }
TEST_CASE("transcript: MilterServer cmdlets", "[transcript]") { run_transcript("milter.t"); }
TEST_CASE("transcript: ContentFilterConfig and ContentFilterPhrase cmdlets", "[transcript]") { run_transcript("content_filter.t"); }
TEST_CASE("transcript: ExchangeCertificate cmdlets (issue 20)", "[transcript]") { run_transcript("certificate.t"); }
TEST_CASE("transcript: SenderReputationConfig and Get-SenderReputation", "[transcript]") {
    run_transcript("sender_reputation.t");
}
TEST_CASE("transcript: Attachment filtering configuration and entries", "[transcript]") { run_transcript("attachment_filter.t"); }
TEST_CASE("transcript: EdgeSubscription cmdlets", "[transcript]") { run_transcript("edgesync.t"); }
TEST_CASE("transcript: queue cmdlets", "[transcript]") { run_transcript("queue.t"); }
TEST_CASE("transcript: message cmdlets", "[transcript]") { run_transcript("message.t"); }
TEST_CASE("transcript: Get-MessageTrackingLog", "[transcript]") { run_transcript("tracking.t"); }
TEST_CASE("transcript: Get-BackPressure", "[transcript]") { run_transcript("backpressure.t"); }
TEST_CASE("transcript: output formats (table width, list, JSON)", "[transcript]") { run_transcript("output.t"); }
TEST_CASE("transcript: IP Block and Allow List entries", "[transcript]") { run_transcript("connection_filter.t"); }
TEST_CASE("transcript: IPBlockListConfig, IPAllowListConfig and TransportConfig", "[transcript]") {
    run_transcript("connection_filter_config.t");
}
TEST_CASE("transcript: IP Block and Allow List providers and their configurations", "[transcript]") {
    run_transcript("ip_provider.t");
}
TEST_CASE("transcript: AddressRewriteEntry cmdlets", "[transcript]") { run_transcript("address_rewrite.t"); }
TEST_CASE("transcript: outbound TLS (TlsAuthLevel, Domain Security, DANE's resolver)", "[transcript]") {
    run_transcript("outbound_tls.t");
}
TEST_CASE("transcript: MetricsBindings (issue 21)", "[transcript]") { run_transcript("metrics.t"); }
TEST_CASE("transcript: Export-EdgeConfig and Import-EdgeConfig (issue 21)", "[transcript]") { run_transcript("edge_config.t"); }
