// The outbound SMTP session driver (outbound_session.hpp): one connection at a time to
// one next hop, the socket and TLS on one side, smtp::ClientSession on the other.
#include "outbound_session.hpp"

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

// One outbound SMTP connection: the socket, TLS once started, the protocol log and
// the client state machine. Its inactivity clock is the connector's
// ConnectionInactivityTimeOut.
class Outbound final : public OutboundConnection {
public:
    Outbound(tcp::socket sock, asio::ssl::context& tls, smtp::ClientPolicy policy, std::chrono::seconds inactivity,
             logging::ProtocolLogSession plog)
        : sock_(std::move(sock)), tls_ctx_(tls), client_(std::move(policy)), inactivity_(inactivity),
          plog_(std::move(plog)) {}

    smtp::ClientSession& client() { return client_; }
    bool tls_failed() const { return tls_failed_; }

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
                        lost("TLS negotiation failed");
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
        if (!reader_.empty()) co_return false;
        tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(sock_, tls_ctx_);
        if (!sni_.empty() && sni_.front() != '[')
            SSL_set_tlsext_host_name(tls_->native_handle(), sni_.c_str());
        asio::steady_timer timer(sock_.get_executor());
        timer.expires_after(inactivity_);
        auto r = co_await (tls_->async_handshake(asio::ssl::stream_base::client, asio::as_tuple(asio::use_awaitable)) ||
                           timer.async_wait(asio::as_tuple(asio::use_awaitable)));
        if (r.index() == 1 || std::get<0>(std::get<0>(r))) {
            tls_.reset();
            co_return false;
        }
        plog_.log(logging::LogEvent::Information,
                  fmt::format("TLS negotiated: {} {}", SSL_get_version(tls_->native_handle()),
                              SSL_get_cipher_name(tls_->native_handle())));
        co_return true;
    }

    tcp::socket sock_;
    asio::ssl::context& tls_ctx_;
    std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
    smtp::ClientSession client_;
    smtp::ReplyReader reader_;
    std::chrono::seconds inactivity_;
    logging::ProtocolLogSession plog_;
    std::string sni_;
    std::array<char, 16384> buf_{};
    std::uint32_t messages_sent_ = 0;
    bool broken_ = false, closed_ = false, tls_failed_ = false, expecting_content_ = false;
};

}  // namespace

SmtpConnector::SmtpConnector(asio::io_context& io) : io_(io), tls_(asio::ssl::context::tls_client) {
    tls_.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    // Opportunistic TLS, as Exchange and Postfix (smtp_tls_security_level = may) do
    // toward the internet: encrypt when offered, do not authenticate the peer.
    tls_.set_verify_mode(asio::ssl::verify_none);
}

SmtpConnector::~SmtpConnector() = default;

void SmtpConnector::apply(const DeliverySettings& s) {
    if (!send_log_)
        send_log_ = std::make_unique<logging::ProtocolLog>(logging::ProtocolLogKind::SmtpSend, s.send_log_limits,
                                                           kVersionText);
    else
        send_log_->set_limits(s.send_log_limits);
}

void SmtpConnector::flush_log() {
    if (send_log_) send_log_->flush();
}

asio::awaitable<ConnectResult> SmtpConnector::connect(const SendConfig& cfg, const Target& t) {
    const SendConnector& c = *t.connector;
    ConnectResult result;
    std::string& error = result.error;
    const auto source = source_address(c);
    boost::system::error_code ec;
    for (const auto& attempt : connection_attempts(t, source)) {
        const auto& host = *attempt.host;
        for (bool tls_possible : {true, false}) {
            tcp::endpoint remote(attempt.address, c.port);
            tcp::socket sock(io_);
            sock.open(remote.protocol(), ec);
            // design.md pitfall: bind first, then the socket's own async_connect;
            // the free async_connect reopens the socket and drops the bind.
            if (!ec && source) sock.bind(tcp::endpoint(*source, 0), ec);
            if (ec) {
                error = fmt::format("451 4.4.0 cannot use SourceIPAddress {}: {}", c.source_ip, ec.message());
                co_return result;
            }
            asio::steady_timer timer(io_);
            timer.expires_after(kConnectTimeout);
            auto r = co_await (sock.async_connect(remote, asio::as_tuple(asio::use_awaitable)) ||
                               timer.async_wait(asio::as_tuple(asio::use_awaitable)));
            if (r.index() == 1 || std::get<0>(std::get<0>(r))) {
                error = fmt::format("451 4.4.0 Failed to connect to {} ({}): {}", host.name, endpoint_text(remote),
                                    r.index() == 1 ? std::string("timed out") : std::get<0>(std::get<0>(r)).message());
                break;  // next address
            }
            // As on the receive side: a command group ends with a small write (BDAT … LAST,
            // the EHLO after STARTTLS) that Nagle's algorithm holds until the peer's delayed
            // ACK — 41–51 ms a message, measured (issue 16). The client core already joins
            // what it pipelines into one write, so nothing is gained by waiting.
            sock.set_option(tcp::no_delay(true), ec);
            smtp::ClientPolicy policy;
            policy.fqdn = c.fqdn;
            policy.remote_host = host.name;
            policy.force_helo = c.force_helo;
            policy.ignore_starttls = c.ignore_starttls;
            policy.require_tls = c.require_tls;
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
            auto out = std::make_unique<Outbound>(std::move(sock), tls_, policy, c.inactivity_timeout, std::move(plog));
            if (co_await out->open(host.name)) {
                result.connection = std::move(out);
                co_return result;
            }
            error = out->client().failure().empty() ? "451 4.4.0 " + host.name + " did not complete the greeting"
                                                    : out->client().failure();
            const bool retry_in_clear = out->tls_failed() && !c.require_tls && tls_possible;
            out->close("");
            if (!retry_in_clear) break;  // opportunistic TLS failed: the same host once more in clear
        }
    }
    if (error.empty()) error = "451 4.4.0 no address of the next hop can be reached from SourceIPAddress " + c.source_ip;
    co_return result;
}

}  // namespace edge::send
