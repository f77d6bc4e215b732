// SmtpPeer: runs tests/support/smtp_peer.py (a scriptable SMTP server on Debian's
// python3-aiosmtpd) as the next hop edge-transport delivers to, in a private directory,
// and reads back what it recorded: the messages it accepted, byte for byte, with their
// envelope and the client's address, and the connections it saw.
#pragma once

#include "temp_dir.hpp"
#include "text_helpers.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#ifndef SMTP_PEER_SCRIPT
#error "define SMTP_PEER_SCRIPT as the path of tests/support/smtp_peer.py (see tests/integration/CMakeLists.txt)"
#endif
#ifndef SMTP_PEER_PYTHON
#define SMTP_PEER_PYTHON "/usr/bin/python3"  // Debian's, with python3-aiosmtpd (not a pyenv one)
#endif

namespace edge::test {

// One message the peer accepted: a line of messages.jsonl.
struct PeerMessage {
    int seq = 0;         // 1, 2, … in the order the peer accepted them
    int connection = 0;  // the connection's number (PeerEvent::connection)
    double time = 0;     // Unix time of the final reply
    std::string peer_ip;  // the client's address: the edge's source IP
    std::uint16_t peer_port = 0;
    std::string helo;     // the HELO/EHLO name in force for the transaction
    bool esmtp = false;   // EHLO (true) or HELO
    bool tls = false;     // STARTTLS was in force
    std::string tls_version, tls_cipher;
    std::string tls_client_subject;        // --client-ca: the CN of the certificate we presented
    std::string mail_from;                 // "" for the null reverse-path <>
    std::vector<std::string> mail_params;  // as sent, e.g. "SIZE=1234", "BODY=8BITMIME"
    std::vector<std::string> rcpt_to;      // accepted recipients only, in order
    std::vector<std::string> rcpt_params;  // per accepted recipient: its parameters joined by spaces
    std::string via;                       // "DATA" or "BDAT"
    bool pipelined = false;  // a MAIL/RCPT of this transaction arrived behind more input (best effort)
    std::string reply;       // the peer's final reply (first line)
    std::string data;        // the message bytes exactly as received, dot-unstuffed
};

// One line of connections.jsonl: connect, helo, ehlo, starttls, mail, rcpt, data, rset,
// quit, violation, disconnect.
struct PeerEvent {
    double time = 0;
    int connection = 0;
    std::string event;
    std::string peer_ip;
    std::uint16_t peer_port = 0;
    std::string arg;    // ehlo/helo: the name; mail/rcpt: the argument; violation: what happened
    std::string reply;  // the peer's reply (first line); connect: the greeting
};

namespace peer_detail {

// A value of the peer's JSON lines: flat objects whose values are strings, numbers,
// booleans, null, or arrays of those. Nothing else is needed, so nothing else is parsed.
struct JsonValue {
    std::string text;  // a string's bytes, or a number's or literal's spelling
    bool is_string = false;
    std::vector<JsonValue> items;  // an array's
};
using JsonObject = std::map<std::string, JsonValue, std::less<>>;

inline void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

class JsonLine {
public:
    explicit JsonLine(std::string_view s) : s_(s) {}

    JsonObject object() {
        JsonObject obj;
        expect('{');
        if (peek() == '}') {
            ++i_;
            return obj;
        }
        for (;;) {
            JsonValue key = string();
            expect(':');
            obj[key.text] = value();
            char c = next();
            if (c == '}') break;
            if (c != ',') fail("',' or '}'");
        }
        skip_space();
        if (i_ != s_.size()) fail("the end of the line");
        return obj;
    }

private:
    [[noreturn]] void fail(const char* what) const {
        throw std::runtime_error("smtp_peer record: expected " + std::string(what) + " at offset " +
                                 std::to_string(i_) + " of: " + std::string(s_));
    }
    void skip_space() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
    }
    char peek() {
        skip_space();
        return i_ < s_.size() ? s_[i_] : '\0';
    }
    char next() {
        char c = peek();
        if (i_ < s_.size()) ++i_;
        return c;
    }
    void expect(char c) {
        if (next() != c) fail(std::string(1, c).c_str());
    }
    std::uint32_t hex4() {
        if (i_ + 4 > s_.size()) fail("four hex digits");
        std::uint32_t v = 0;
        for (int k = 0; k < 4; ++k) {
            char c = s_[i_++];
            v <<= 4;
            if (c >= '0' && c <= '9') v |= static_cast<std::uint32_t>(c - '0');
            else if (c >= 'a' && c <= 'f') v |= static_cast<std::uint32_t>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') v |= static_cast<std::uint32_t>(c - 'A' + 10);
            else fail("a hex digit");
        }
        return v;
    }
    JsonValue string() {
        expect('"');
        JsonValue v;
        v.is_string = true;
        for (;;) {
            if (i_ >= s_.size()) fail("'\"'");
            char c = s_[i_++];
            if (c == '"') return v;
            if (c != '\\') {
                v.text += c;
                continue;
            }
            if (i_ >= s_.size()) fail("an escape");
            switch (char e = s_[i_++]) {
                case '"': case '\\': case '/': v.text += e; break;
                case 'b': v.text += '\b'; break;
                case 'f': v.text += '\f'; break;
                case 'n': v.text += '\n'; break;
                case 'r': v.text += '\r'; break;
                case 't': v.text += '\t'; break;
                case 'u': {
                    std::uint32_t cp = hex4();
                    if (cp >= 0xD800 && cp < 0xDC00 && i_ + 6 <= s_.size() && s_[i_] == '\\' && s_[i_ + 1] == 'u') {
                        std::size_t at = i_;
                        i_ += 2;
                        std::uint32_t low = hex4();
                        if (low >= 0xDC00 && low < 0xE000) {
                            append_utf8(v.text, 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00));
                            break;
                        }
                        i_ = at;
                    }
                    if (cp >= 0xDC80 && cp <= 0xDCFF) {
                        v.text += static_cast<char>(cp - 0xDC00);  // surrogateescape: the raw byte
                    } else if (cp >= 0xD800 && cp < 0xE000) {
                        v.text += '?';  // a lone surrogate Python would not write
                    } else {
                        append_utf8(v.text, cp);
                    }
                    break;
                }
                default: fail("a JSON escape");
            }
        }
    }
    JsonValue value() {
        char c = peek();
        if (c == '"') return string();
        JsonValue v;
        if (c == '[') {
            ++i_;
            if (peek() == ']') {
                ++i_;
                return v;
            }
            for (;;) {
                v.items.push_back(value());
                char d = next();
                if (d == ']') return v;
                if (d != ',') fail("',' or ']'");
            }
        }
        while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}' && s_[i_] != ']' && s_[i_] != ' ') v.text += s_[i_++];
        if (v.text.empty()) fail("a value");
        return v;
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

inline std::string base64_decode(std::string_view in) {
    std::string out;
    out.reserve(in.size() / 4 * 3);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        if (c == '=') break;
        int v = edge::text::base64_digit_value(c);
        if (v < 0) throw std::runtime_error("smtp_peer record: bad base64");
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xFF);
        }
    }
    return out;
}

// The complete lines of a file the peer appends to; a last line still being written
// (no "\n" yet) is left for the next read.
inline std::vector<JsonObject> read_records(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string all = ss.str();
    std::vector<JsonObject> out;
    std::size_t start = 0;
    for (std::size_t nl = all.find('\n'); nl != std::string::npos; start = nl + 1, nl = all.find('\n', start))
        if (nl > start) out.push_back(JsonLine(std::string_view(all).substr(start, nl - start)).object());
    return out;
}

inline const JsonValue& field(const JsonObject& o, std::string_view key) {
    static const JsonValue none;
    auto it = o.find(key);
    return it == o.end() ? none : it->second;
}
inline std::string text(const JsonObject& o, std::string_view key) { return field(o, key).text; }
inline long long integer(const JsonObject& o, std::string_view key) {
    const auto& t = field(o, key).text;
    return t.empty() ? 0 : std::stoll(t);
}
inline double number(const JsonObject& o, std::string_view key) {
    const auto& t = field(o, key).text;
    return t.empty() ? 0.0 : std::stod(t);
}
inline bool boolean(const JsonObject& o, std::string_view key) { return field(o, key).text == "true"; }
inline std::vector<std::string> strings(const JsonObject& o, std::string_view key) {
    std::vector<std::string> out;
    for (const auto& v : field(o, key).items) out.push_back(v.text);
    return out;
}

}  // namespace peer_detail

// A self-signed certificate and its key (P-256) for a STARTTLS peer: {cert, key} paths
// in `dir`, made with the openssl command.
inline std::pair<std::string, std::string> make_test_certificate(const std::string& dir, const std::string& cn) {
    std::string cert = dir + "/" + cn + ".crt", key = dir + "/" + cn + ".key";
    std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj '/CN=" + cn +
                      "' -keyout '" + key + "' -out '" + cert + "' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("openssl could not make a certificate in " + dir);
    return {cert, key};
}

// The peer process. The constructor starts it and returns once it listens; the
// destructor stops it. `args` are smtp_peer.py's options beyond --listen and --record,
// e.g. {"--data-reply", "451 4.3.0 Try again later"} (see the script's header).
class SmtpPeer {
public:
    explicit SmtpPeer(std::vector<std::string> args = {}, std::string ip = "127.0.0.1", std::uint16_t port = 0)
        : args_(std::move(args)), ip_(std::move(ip)), port_(port) {
        std::filesystem::create_directories(dir());
        start();
    }
    ~SmtpPeer() {
        try {
            stop();
        } catch (...) {
        }
    }
    SmtpPeer(const SmtpPeer&) = delete;
    SmtpPeer& operator=(const SmtpPeer&) = delete;

    const std::string& ip() const { return ip_; }
    std::uint16_t port() const { return port_; }  // the one it listens on (chosen at the first start)
    std::string dir() const { return tmp_.sub("record"); }  // messages.jsonl, connections.jsonl, max_concurrent, mode
    pid_t pid() const { return pid_; }

    // Starts the peer (again, after stop(): same port, same records) and waits for READY.
    void start() {
        if (pid_ > 0) return;
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
        std::vector<std::string> argv = {SMTP_PEER_PYTHON, SMTP_PEER_SCRIPT, "--listen",
                                         ip_ + ":" + std::to_string(port_), "--record", dir()};
        argv.insert(argv.end(), args_.begin(), args_.end());
        std::vector<char*> cargv;
        for (auto& a : argv) cargv.push_back(a.data());
        cargv.push_back(nullptr);
        std::string log = log_path();
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error("fork");
        if (pid_ == 0) {
            int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            ::dup2(fds[1], 1);  // dup2 clears close-on-exec on the copy
            if (fd >= 0) ::dup2(fd, 2);
            ::execv(cargv[0], cargv.data());
            ::_exit(127);
        }
        ::close(fds[1]);
        ready_fd_ = fds[0];
        std::string out;
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (out.find('\n') == std::string::npos) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
            pollfd p{ready_fd_, POLLIN, 0};
            char buf[256];
            long n = left.count() > 0 && ::poll(&p, 1, static_cast<int>(left.count())) > 0
                         ? ::read(ready_fd_, buf, sizeof buf)
                         : -1;
            if (n <= 0) {
                stop();
                throw std::runtime_error("smtp_peer did not get ready: " + log_text());
            }
            out.append(buf, static_cast<std::size_t>(n));
        }
        // "READY 127.0.0.1:40123"
        auto colon = out.rfind(':');
        if (!out.starts_with("READY ") || colon == std::string::npos) {
            stop();
            throw std::runtime_error("smtp_peer said " + out + ": " + log_text());
        }
        port_ = static_cast<std::uint16_t>(std::stoul(out.substr(colon + 1)));
    }

    // SIGTERM, then SIGKILL after 10 s; returns the exit code (128+signal when killed).
    int stop() {
        if (pid_ <= 0) return exit_code_;
        ::kill(pid_, SIGTERM);
        int st = 0;
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (::waitpid(pid_, &st, WNOHANG) == 0) {
            if (std::chrono::steady_clock::now() > until) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, &st, 0);
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        pid_ = -1;
        if (ready_fd_ >= 0) ::close(ready_fd_);
        ready_fd_ = -1;
        exit_code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return exit_code_;
    }

    // What the peer has accepted so far, in order.
    std::vector<PeerMessage> messages() const {
        using namespace peer_detail;
        std::vector<PeerMessage> out;
        for (const auto& o : read_records(dir() + "/messages.jsonl")) {
            PeerMessage m;
            m.seq = static_cast<int>(integer(o, "seq"));
            m.connection = static_cast<int>(integer(o, "conn"));
            m.time = number(o, "t");
            m.peer_ip = text(o, "peer_ip");
            m.peer_port = static_cast<std::uint16_t>(integer(o, "peer_port"));
            m.helo = text(o, "helo");
            m.esmtp = boolean(o, "esmtp");
            m.tls = boolean(o, "tls");
            m.tls_version = text(o, "tls_version");
            m.tls_cipher = text(o, "tls_cipher");
            m.tls_client_subject = text(o, "tls_client_subject");
            m.mail_from = text(o, "mail_from");
            m.mail_params = strings(o, "mail_params");
            m.rcpt_to = strings(o, "rcpt_to");
            m.rcpt_params = strings(o, "rcpt_params");
            m.via = text(o, "via");
            m.pipelined = boolean(o, "pipelined");
            m.reply = text(o, "reply");
            m.data = base64_decode(text(o, "data_b64"));
            out.push_back(std::move(m));
        }
        return out;
    }

    // Polls until at least `n` messages are recorded or `timeout` passes; returns what
    // there is then (a test checks the count).
    std::vector<PeerMessage> wait_for_messages(std::size_t n,
                                               std::chrono::milliseconds timeout = std::chrono::seconds(20)) const {
        auto until = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            auto m = messages();
            if (m.size() >= n || std::chrono::steady_clock::now() >= until) return m;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }

    // The connection events so far; with `name`, only those ("connect", "rcpt", …).
    std::vector<PeerEvent> events(std::string_view name = {}) const {
        using namespace peer_detail;
        std::vector<PeerEvent> out;
        for (const auto& o : read_records(dir() + "/connections.jsonl")) {
            PeerEvent e;
            e.event = text(o, "event");
            if (!name.empty() && e.event != name) continue;
            e.time = number(o, "t");
            e.connection = static_cast<int>(integer(o, "conn"));
            e.peer_ip = text(o, "peer_ip");
            e.peer_port = static_cast<std::uint16_t>(integer(o, "peer_port"));
            e.arg = text(o, "arg");
            e.reply = text(o, "reply");
            out.push_back(std::move(e));
        }
        return out;
    }
    std::vector<PeerEvent> wait_for_events(std::string_view name, std::size_t n,
                                           std::chrono::milliseconds timeout = std::chrono::seconds(20)) const {
        auto until = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            auto e = events(name);
            if (e.size() >= n || std::chrono::steady_clock::now() >= until) return e;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }

    // The most connections the peer has had open at once since it first started.
    int max_concurrent() const {
        std::ifstream in(dir() + "/max_concurrent");
        int n = 0;
        in >> n;
        return n;
    }

    // From the next message on, the final reply to DATA/BDAT is `reply` ("CODE TEXT"),
    // whatever --data-reply says; clear_mode() goes back to it.
    void set_mode(const std::string& reply) const {
        std::string tmp = dir() + "/mode.tmp";
        std::ofstream(tmp) << reply << "\n";
        std::filesystem::rename(tmp, dir() + "/mode");  // the peer reads all or nothing
    }
    void clear_mode() const {
        std::error_code ec;
        std::filesystem::remove(dir() + "/mode", ec);
    }

    std::string log_path() const { return tmp_.sub("peer.log"); }
    std::string log_text() const {
        std::ifstream in(log_path());
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }

private:
    TempDir tmp_;
    std::vector<std::string> args_;
    std::string ip_;
    std::uint16_t port_;
    pid_t pid_ = -1;
    int ready_fd_ = -1;
    int exit_code_ = -1;
};

}  // namespace edge::test
