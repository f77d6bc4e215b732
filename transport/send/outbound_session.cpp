// The outbound SMTP session driver (outbound_session.hpp): one connection at a time to
// one next hop, the socket and TLS on one side, smtp::ClientSession on the other.
#include "outbound_session.hpp"

#include "registry.hpp"
#include "version.hpp"

#include "client_session.hpp"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>

#include <fmt/format.h>

#include <array>
#include <optional>

namespace edge::send {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(30);

std::string endpoint_text(const tcp::endpoint& e) { return send::endpoint_text(e.address(), e.port()); }

// What one session's TLS must do (tls_policy.hpp) and with what.
struct TlsSetup {
    std::shared_ptr<asio::ssl::context> context;
    PeerTlsPolicy policy;
    std::string label;                  // policy_label(policy); "" = opportunistic
    std::string client_cert, client_key;  // files; empty = present none
    std::string peer;                   // "mx1.contoso.com (192.0.2.1:25)", for texts
    std::string sending_ip, receiving_ip;
    TlsResultSink* results = nullptr;
};

// OpenSSL's reasons for a failed handshake: the first queued error's reason (an alert
// from the peer, a protocol or cipher mismatch), else the error code's message.
std::string handshake_reason(const boost::system::error_code& ec) {
    std::string why = ec.message();
    if (ec.category() == asio::error::get_ssl_category()) {
        if (const char* r = ERR_reason_error_string(static_cast<unsigned long>(ec.value()))) why = r;
    }
    if (ec == asio::ssl::error::stream_truncated || ec == asio::error::eof)
        why = "the remote server closed the connection during the handshake";
    return why;
}

// One outbound SMTP connection: the socket, TLS once started, the protocol log and
// the client state machine. Its inactivity clock is the connector's
// ConnectionInactivityTimeOut.
class Outbound final : public OutboundConnection {
public:
    Outbound(tcp::socket sock, TlsSetup tls, smtp::ClientPolicy policy, std::chrono::seconds inactivity,
             logging::ProtocolLogSession plog)
        : sock_(std::move(sock)), setup_(std::move(tls)), client_(std::move(policy)), inactivity_(inactivity),
          plog_(std::move(plog)) {}

    // The connectivity log's session: its "-" line when this connection closes, once it
    // carried mail (a connection that failed to open is told by connect()).
    void follow(logging::ConnectivityLogSession cl) { connectivity_ = std::move(cl); }
    // What became of TLS with this host, for the connectivity log.
    const std::string& tls_outcome() const { return tls_outcome_; }

    smtp::ClientSession& client() { return client_; }
    bool tls_failed() const { return tls_failed_; }
    bool tls_attempted() const { return tls_attempted_; }
    void note(std::string_view text) { plog_.log(logging::LogEvent::Information, text); }
    // TLS-RPT: one outcome with this host (success, or `type` and `reason`).
    void report(bool success, std::string_view type, std::string_view reason) {
        (success ? metrics::process_counters().tls_outbound_ok : metrics::process_counters().tls_outbound_failed).add();
        if (setup_.results == nullptr) return;
        TlsAttemptResult r;
        r.policy_domain = setup_.policy.policy_domain;
        r.policy_type = setup_.policy.source == PeerTlsPolicy::Source::Dane     ? "tlsa"
                        : setup_.policy.source == PeerTlsPolicy::Source::MtaSts ? "sts"
                                                                                : "no-policy-found";
        r.mx_host = sni_;
        r.receiving_ip = setup_.receiving_ip;
        r.sending_ip = setup_.sending_ip;
        r.success = success;
        r.result_type = type;
        r.reason = reason;
        if (!setup_.policy.policy_text.empty()) {
            std::string_view rest = setup_.policy.policy_text;
            while (!rest.empty()) {
                auto nl = rest.find('\n');
                r.policy_text.emplace_back(rest.substr(0, nl));
                if (nl == std::string_view::npos) break;
                rest.remove_prefix(nl + 1);
            }
        }
        setup_.results->record(r);
    }

    bool usable() const override { return !broken_ && client_.ready_for_message(); }
    std::uint32_t messages_sent() const override { return messages_sent_; }
    bool peer_takes_dsn() const override { return client_.extensions().dsn; }
    const std::string& remote_host() const override { return sni_; }
    std::string session_id() const override { return plog_.session_id(); }

    // Greeting, EHLO, STARTTLS: true when ready for a message.
    asio::awaitable<bool> open(const std::string& host_name) {
        sni_ = host_name;
        std::vector<smtp::ClientAction> none;
        co_await drive(std::move(none));
        co_return usable();
    }

    // One message: every recipient's outcome (Deferred ones when the connection broke).
    asio::awaitable<std::vector<smtp::RecipientOutcome>> send(const smtp::OutboundMessage& m) override {
        auto actions = client_.begin_message(m);
        co_await drive(std::move(actions));
        if (auto r = client_.take_message_result()) {
            ++messages_sent_;
            co_return std::move(*r);
        }
        // The state machine always decides every recipient once the connection ends.
        client_.on_connection_lost("the connection ended");
        auto r = client_.take_message_result();
        co_return r ? std::move(*r) : std::vector<smtp::RecipientOutcome>{};
    }

    asio::awaitable<void> quit() override {
        if (!broken_) {
            auto actions = client_.quit();
            co_await drive(std::move(actions));
        }
        close("");
    }

    void close(std::string_view why) {
        if (closed_) return;
        closed_ = true;
        boost::system::error_code ec;
        sock_.shutdown(tcp::socket::shutdown_both, ec);
        sock_.close(ec);
        plog_.log(logging::LogEvent::Disconnect, "", why);
        connectivity_.log(logging::ConnectivityDirection::Disconnect,
                          fmt::format("Messages: {}{}{}", messages_sent_, why.empty() ? "" : " ", why));
    }

private:
    // Performs actions, then reads replies and performs what they call for, until the
    // client owes nothing (no reply awaited) or the connection is gone.
    // Arguments are named objects passed by reference: GCC 12 destroys twice a
    // temporary with a destructor that lives in a co_await expression.
    asio::awaitable<void> drive(std::vector<smtp::ClientAction>&& actions) {
        while (true) {
            // By index: a StartTls appends the EHLO that follows the handshake.
            for (std::size_t i = 0; i < actions.size(); ++i) {
                if (broken_) break;
                smtp::ClientAction a = std::move(actions[i]);
                if (a.kind == smtp::ClientAction::Kind::Close) {
                    close("");
                    broken_ = true;
                } else if (a.kind == smtp::ClientAction::Kind::StartTls) {
                    if (!co_await start_tls()) {
                        tls_failed_ = true;
                        tls_lost();
                    } else {
                        auto more = client_.on_tls_established();
                        actions.insert(actions.end(), more.begin(), more.end());
                    }
                } else {
                    log_sent(a);
                    if (!co_await write(a.bytes) || (!a.content.empty() && !co_await write(a.content)))
                        lost("write failed");
                }
            }
            actions.clear();
            if (broken_ || !client_.awaiting_reply()) co_return;
            auto reply = co_await read_reply();
            if (!reply) co_return;  // lost() told the client
            plog_.log(logging::LogEvent::Receive, reply->text());
            expecting_content_ = reply->code == 354;
            actions = client_.on_reply(*reply);
        }
    }

    void log_sent(const smtp::ClientAction& a) {
        if (!plog_.enabled()) return;
        if (expecting_content_) {  // message content is never logged, only that it went
            plog_.log(logging::LogEvent::Information, fmt::format("sending message content ({} bytes)", a.bytes.size()));
            expecting_content_ = false;
            return;
        }
        std::string_view rest = a.bytes;
        while (!rest.empty()) {
            auto nl = rest.find("\r\n");
            std::string_view line = rest.substr(0, nl);
            // Credentials never reach the log (the client marks what holds them).
            if (a.secret) plog_.log(logging::LogEvent::Send, line.starts_with("AUTH ") ? "AUTH ****" : "****");
            else plog_.log(logging::LogEvent::Send, line);
            if (nl == std::string_view::npos) break;
            rest.remove_prefix(nl + 2);
        }
        if (!a.content.empty())
            plog_.log(logging::LogEvent::Information, fmt::format("sending message content ({} bytes)", a.content.size()));
    }

    // The handshake failed or the peer did not prove what the policy asks (tls_reason_).
    void tls_lost() {
        if (broken_) return;
        broken_ = true;
        const std::string label = setup_.label.empty() ? "opportunistic TLS" : setup_.label;
        client_.on_tls_failed(setup_.peer, tls_reason_ + " (" + label + ")");
        tls_.reset();
        close("TLS failed: " + tls_reason_);
    }

    void lost(std::string_view why) {
        if (broken_) return;
        broken_ = true;
        client_.on_connection_lost(why);
        close(why);
    }

    template <class Op>
    asio::awaitable<std::optional<std::size_t>> timed(Op op) {
        asio::steady_timer timer(sock_.get_executor());
        timer.expires_after(inactivity_);
        auto r = co_await (std::move(op) || timer.async_wait(asio::as_tuple(asio::use_awaitable)));
        if (r.index() == 1) co_return std::nullopt;
        auto [ec, n] = std::get<0>(r);
        if (ec) co_return std::nullopt;
        co_return n;
    }

    asio::awaitable<bool> write(std::string_view bytes) {
        std::optional<std::size_t> n;
        if (tls_)
            n = co_await timed(asio::async_write(*tls_, asio::buffer(bytes), asio::as_tuple(asio::use_awaitable)));
        else
            n = co_await timed(asio::async_write(sock_, asio::buffer(bytes), asio::as_tuple(asio::use_awaitable)));
        co_return n.has_value();
    }

    asio::awaitable<std::optional<smtp::Reply>> read_reply() {
        while (true) {
            if (auto r = reader_.next()) co_return r;
            if (reader_.failed()) {
                lost(reader_.error());
                co_return std::nullopt;
            }
            std::optional<std::size_t> n;
            if (tls_)
                n = co_await timed(tls_->async_read_some(asio::buffer(buf_), asio::as_tuple(asio::use_awaitable)));
            else
                n = co_await timed(sock_.async_read_some(asio::buffer(buf_), asio::as_tuple(asio::use_awaitable)));
            if (!n || *n == 0) {
                lost(n ? "the remote server closed the connection" : "the remote server did not answer in time");
                co_return std::nullopt;
            }
            reader_.feed(std::string_view(buf_.data(), *n));
        }
    }

    asio::awaitable<bool> start_tls() {
        // RFC 3207 §4.2 / CVE-2011-0411 on the client side: anything that arrived in
        // clear after the 220 must not be read as if it came over TLS.
        tls_attempted_ = true;
        if (!reader_.empty()) {
            tls_reason_ = "the remote server sent data in clear after agreeing to STARTTLS";
            tls_outcome_ = "TLS failed: " + tls_reason_;
            co_return false;
        }
        tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(sock_, *setup_.context);
        SSL* ssl = tls_->native_handle();
        if (!sni_.empty() && sni_.front() != '[') SSL_set_tlsext_host_name(ssl, sni_.c_str());
        if (!prepare(ssl)) {
            report(false, "validation-failure", tls_reason_);
            co_return false;
        }
        asio::steady_timer timer(sock_.get_executor());
        timer.expires_after(inactivity_);
        auto r = co_await (tls_->async_handshake(asio::ssl::stream_base::client, asio::as_tuple(asio::use_awaitable)) ||
                           timer.async_wait(asio::as_tuple(asio::use_awaitable)));
        if (r.index() == 1 || std::get<0>(std::get<0>(r))) {
            tls_reason_ = r.index() == 1 ? "the TLS handshake timed out" : handshake_reason(std::get<0>(std::get<0>(r)));
            plog_.log(logging::LogEvent::Information, "TLS negotiation failed: " + tls_reason_);
            tls_outcome_ = "TLS failed: " + tls_reason_;
            report(false, "validation-failure", tls_reason_);
            tls_.reset();
            co_return false;
        }
        const PeerTlsPolicy& p = setup_.policy;
        const bool checked = p.verify_chain || !p.tlsa.empty();
        const long verify = SSL_get_verify_result(ssl);
        tls_outcome_ = fmt::format("TLS negotiated: {} {}{}", SSL_get_version(ssl), SSL_get_cipher_name(ssl),
                                   !checked ? "" : verify == X509_V_OK ? ", peer verified" : ", peer not verified");
        plog_.log(logging::LogEvent::Information,
                  fmt::format("TLS negotiated: {} {}{}", SSL_get_version(ssl), SSL_get_cipher_name(ssl),
                              !checked                ? ""
                              : verify == X509_V_OK ? fmt::format(", peer verified ({})", setup_.label)
                                                    : fmt::format(", peer not verified: {} ({})",
                                                                  X509_verify_cert_error_string(verify), setup_.label)));
        if (checked && verify != X509_V_OK) {
            tls_reason_ = X509_verify_cert_error_string(verify);
            metrics::process_counters().tls_outbound_verification_failures.add();
            report(false, tls_result_type(verify), tls_reason_);
            // MTA-STS testing: report, never refuse (RFC 8461 §5).
            if (!p.report_only) co_return false;
        } else {
            report(true, "", "");
        }
        co_return true;
    }

    // The client certificate, the names and DANE records of the policy, on one SSL.
    // With SSL_VERIFY_NONE OpenSSL still verifies and keeps the result, so the
    // handshake ends either way and the reason is X509_verify_cert_error_string's.
    bool prepare(SSL* ssl) {
        if (!setup_.client_cert.empty()) {
            if (SSL_use_certificate_chain_file(ssl, setup_.client_cert.c_str()) != 1 ||
                SSL_use_PrivateKey_file(ssl, setup_.client_key.c_str(), SSL_FILETYPE_PEM) != 1) {
                tls_reason_ = "cannot use the client certificate " + setup_.client_cert;
                ERR_clear_error();
                return false;
            }
        }
        const PeerTlsPolicy& p = setup_.policy;
        if (!p.tlsa.empty()) {
            // RFC 7672 §3.2.3: the reference name is the MX host; DANE-EE matches need no name.
            const std::string& base = p.names.empty() ? sni_ : p.names.front();
            if (SSL_dane_enable(ssl, base.c_str()) <= 0) {
                tls_reason_ = "DANE could not be enabled";
                return false;
            }
            SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
            for (std::size_t i = 1; i < p.names.size(); ++i) SSL_add1_host(ssl, p.names[i].c_str());
            int usable = 0;
            for (const auto& t : p.tlsa)
                if (SSL_dane_tlsa_add(ssl, t.usage, t.selector, t.matching, t.data.data(), t.data.size()) > 0) ++usable;
            ERR_clear_error();
            if (usable == 0) {
                tls_reason_ = "no TLSA record is usable";
                return false;
            }
            return true;
        }
        if (p.verify_chain && !p.names.empty()) {
            SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            for (std::size_t i = 0; i < p.names.size(); ++i) {
                const std::string& n = p.names[i];
                if (n.size() > 2 && n.front() == '[' && n.back() == ']') {
                    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), n.substr(1, n.size() - 2).c_str());
                } else if (i == 0) {
                    SSL_set1_host(ssl, n.c_str());
                } else {
                    SSL_add1_host(ssl, n.c_str());
                }
            }
        }
        return true;
    }

    tcp::socket sock_;
    TlsSetup setup_;
    std::string tls_reason_;
    std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
    smtp::ClientSession client_;
    smtp::ReplyReader reader_;
    std::chrono::seconds inactivity_;
    logging::ProtocolLogSession plog_;
    std::string sni_;
    std::array<char, 16384> buf_{};
    std::uint32_t messages_sent_ = 0;
    bool broken_ = false, closed_ = false, tls_failed_ = false, tls_attempted_ = false, expecting_content_ = false;
    logging::ConnectivityLogSession connectivity_;
    std::string tls_outcome_;
};

}  // namespace

namespace {

// The TLS client context: TLS 1.2 and up, the system trust store (Debian's
// ca-certificates) plus TlsCertificateAuthorityFile, DANE on. SSL_VERIFY_NONE: a session
// whose policy asks for authentication reads the verify result after the handshake
// (prepare() and start_tls()), so that it can say why; opportunistic TLS (Exchange's and
// Postfix's "may" toward the internet) never looks at it.
std::shared_ptr<asio::ssl::context> make_client_context(const std::string& ca_file, std::string& error) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    ctx->set_verify_mode(asio::ssl::verify_none);
    SSL_CTX* native = ctx->native_handle();
    SSL_CTX_set_default_verify_paths(native);
    if (!ca_file.empty() && SSL_CTX_load_verify_locations(native, ca_file.c_str(), nullptr) != 1) {
        unsigned long e = ERR_peek_last_error();
        const char* r = ERR_reason_error_string(e);
        error = fmt::format("TlsCertificateAuthorityFile {} cannot be read: {}", ca_file, r ? r : "unknown error");
    }
    ERR_clear_error();
    SSL_CTX_dane_enable(native);
    return ctx;
}

}  // namespace

std::string_view tls_result_type(long v) {
    switch (v) {
        case X509_V_ERR_CERT_HAS_EXPIRED:
        case X509_V_ERR_CERT_NOT_YET_VALID: return "certificate-expired";
        case X509_V_ERR_HOSTNAME_MISMATCH:
        case X509_V_ERR_IP_ADDRESS_MISMATCH: return "certificate-host-mismatch";
        case X509_V_ERR_DANE_NO_MATCH: return "tlsa-invalid";
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        case X509_V_ERR_CERT_UNTRUSTED: return "certificate-not-trusted";
        default: return "validation-failure";
    }
}

SmtpConnector::SmtpConnector(asio::io_context& io) : io_(io) {
    std::string ignored;
    tls_ = make_client_context("", ignored);
}

SmtpConnector::~SmtpConnector() = default;

void SmtpConnector::apply(const DeliverySettings& s) {
    if (!send_log_)
        send_log_ = std::make_unique<logging::ProtocolLog>(logging::ProtocolLogKind::SmtpSend, s.send_log_limits,
                                                           kVersionText);
    else
        send_log_->set_limits(s.send_log_limits);
    if (!connectivity_log_)
        connectivity_log_ = std::make_unique<logging::ConnectivityLog>(s.connectivity_log, kVersionText);
    else
        connectivity_log_->set_settings(s.connectivity_log);
    if (s.ca_file != ca_file_) {
        ca_error_.clear();
        tls_ = make_client_context(s.ca_file, ca_error_);
        ca_file_ = s.ca_file;
    }
}

void SmtpConnector::flush_log() {
    if (send_log_) send_log_->flush();
    if (connectivity_log_) connectivity_log_->flush();
}

asio::awaitable<ConnectResult> SmtpConnector::connect(const SendConfig& cfg, const Target& t) {
    const SendConnector& c = *t.connector;
    ConnectResult result;
    std::string& error = result.error;
    const auto source = source_address(c);
    boost::system::error_code ec;
    // The client certificate: TlsCertificateName's; for Domain Security, else the one
    // enabled for SMTP, else the bootstrap receive certificate. Required only by Domain
    // Security: elsewhere a missing one is logged and the session goes on without.
    std::string client_cert = c.client_certificate_file, client_key = c.client_key_file;
    if (client_cert.empty() && t.domain_secure) {
        const bool enabled = !cfg.smtp_certificate_file.empty();
        client_cert = enabled ? cfg.smtp_certificate_file : receive_cert_;
        client_key = enabled ? cfg.smtp_key_file : receive_key_;
    }
    if (t.domain_secure && client_cert.empty()) {
        error = "451 4.7.5 Domain Security needs a client certificate and none is available" +
                (c.client_certificate_error.empty() ? std::string() : ": " + c.client_certificate_error);
        co_return result;
    }
    auto context = tls_;  // this attempt's, whatever apply() does meanwhile
    // The connectivity log (issue 21): the session for this next hop, the DNS answer it
    // acts on, each address tried and what came of it.
    const logging::ConnectivityLogSession cl(connectivity_log_.get(), t.next_hop.empty() ? c.name : t.next_hop);
    using Dir = logging::ConnectivityDirection;
    if (cl.enabled()) {
        cl.log(Dir::Connect, fmt::format("Creating a session for {} (Send connector {})", t.next_hop, c.name));
        std::string answer;
        for (const auto& h : t.hosts) {
            std::string addresses;
            for (const auto& a : h.addresses) addresses += (addresses.empty() ? "" : ",") + a.to_string();
            answer += fmt::format("{}{}[{}]", answer.empty() ? "" : " ", h.name, addresses);
        }
        cl.log(Dir::Information, fmt::format("DNS: {} host(s) in order: {}", t.hosts.size(), answer));
    }
    for (const auto& attempt : connection_attempts(t, source)) {
        const auto& host = *attempt.host;
        const bool policy_requires_tls = host.tls.require_tls && !host.tls.report_only;
        const std::string label = policy_label(host.tls);
        for (bool tls_possible : {true, false}) {
            tcp::endpoint remote(attempt.address, c.port);
            cl.log(Dir::Send, fmt::format("{}[{}]", host.name, endpoint_text(remote)));
            tcp::socket sock(io_);
            sock.open(remote.protocol(), ec);
            // design.md pitfall: bind first, then the socket's own async_connect;
            // the free async_connect reopens the socket and drops the bind.
            if (!ec && source) sock.bind(tcp::endpoint(*source, 0), ec);
            if (ec) {
                error = fmt::format("451 4.4.0 cannot use SourceIPAddress {}: {}", c.source_ip, ec.message());
                cl.log(Dir::Disconnect, "Failed: " + error);
                co_return result;
            }
            asio::steady_timer timer(io_);
            timer.expires_after(kConnectTimeout);
            auto r = co_await (sock.async_connect(remote, asio::as_tuple(asio::use_awaitable)) ||
                               timer.async_wait(asio::as_tuple(asio::use_awaitable)));
            if (r.index() == 1 || std::get<0>(std::get<0>(r))) {
                error = fmt::format("451 4.4.0 Failed to connect to {} ({}): {}", host.name, endpoint_text(remote),
                                    r.index() == 1 ? std::string("timed out") : std::get<0>(std::get<0>(r)).message());
                cl.log(Dir::Information, fmt::format("Failed connection to {}: {}", endpoint_text(remote),
                                                     r.index() == 1 ? std::string("timed out")
                                                                    : std::get<0>(std::get<0>(r)).message()));
                break;  // next address
            }
            // As on the receive side: a command group ends with a small write (BDAT … LAST,
            // the EHLO after STARTTLS) that Nagle's algorithm holds until the peer's delayed
            // ACK — 41–51 ms a message, measured (issue 16). The client core already joins
            // what it pipelines into one write, so nothing is gained by waiting.
            sock.set_option(tcp::no_delay(true), ec);
            cl.log(Dir::Information, fmt::format("Established connection to {}", endpoint_text(remote)));
            smtp::ClientPolicy policy;
            policy.fqdn = c.fqdn;
            policy.remote_host = host.name;
            policy.force_helo = c.force_helo;
            policy.ignore_starttls = c.ignore_starttls;
            policy.require_tls = c.require_tls || policy_requires_tls;
            if (policy_requires_tls) policy.tls_required_by = label;
            policy.tls_possible = tls_possible;
            if (c.smart_host_auth == config::SmartHostAuthMechanism::BasicAuth ||
                c.smart_host_auth == config::SmartHostAuthMechanism::BasicAuthRequireTLS) {
                policy.auth_user = c.auth_user;
                policy.auth_password = c.auth_password;
                policy.auth_require_tls = c.smart_host_auth == config::SmartHostAuthMechanism::BasicAuthRequireTLS;
            }
            logging::ProtocolLogSession plog;
            auto local = sock.local_endpoint(ec);
            if (c.protocol_logging && send_log_)
                plog = logging::ProtocolLogSession(send_log_.get(), c.name, logging::new_session_id(),
                                                   endpoint_text(local), endpoint_text(remote));
            plog.log(logging::LogEvent::Connect, "", "");
            plog.log(logging::LogEvent::Information, "",
                     fmt::format("attempting to connect to {} for {}", host.name, cfg.server_fqdn));
            if (!label.empty()) plog.log(logging::LogEvent::Information, "", "TLS policy: " + label);
            if (!c.client_certificate_error.empty()) plog.log(logging::LogEvent::Information, "", c.client_certificate_error);
            if (!ca_error_.empty() && host.tls.verify_chain) plog.log(logging::LogEvent::Information, "", ca_error_);
            TlsSetup setup{context, host.tls, label, client_cert, client_key,
                           fmt::format("{} ({})", host.name, endpoint_text(remote)),
                           local.address().to_string(), remote.address().to_string(), results_};
            auto out = std::make_unique<Outbound>(std::move(sock), std::move(setup), policy, c.inactivity_timeout,
                                                  std::move(plog));
            const bool opened = co_await out->open(host.name);
            if (!out->tls_outcome().empty()) cl.log(Dir::Information, out->tls_outcome());
            else if (opened) cl.log(Dir::Information, "TLS: none (not offered, or not asked for)");
            if (opened) {
                out->follow(cl);
                result.connection = std::move(out);
                co_return result;
            }
            error = out->client().failure().empty() ? "451 4.4.0 " + host.name + " did not complete the greeting"
                                                    : out->client().failure_line();
            cl.log(Dir::Information, "Session failed: " + error);
            // RFC 8460 §4.3.2.1: a policy required TLS and the host offered no STARTTLS.
            if (policy_requires_tls && !out->tls_attempted() && error.find("does not offer STARTTLS") != std::string::npos)
                out->report(false, "starttls-not-supported", "");
            const bool retry_in_clear = out->tls_failed() && !c.require_tls && !policy_requires_tls && tls_possible;
            if (retry_in_clear) out->note("retrying in clear after the TLS failure (opportunistic TLS)");
            out->close("");
            if (!retry_in_clear) break;  // opportunistic TLS failed: the same host once more in clear
        }
    }
    if (error.empty()) error = "451 4.4.0 no address of the next hop can be reached from SourceIPAddress " + c.source_ip;
    cl.log(Dir::Disconnect, "Failed: " + error);
    co_return result;
}

}  // namespace edge::send
