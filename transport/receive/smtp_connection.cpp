// The SMTP connection: the thin driver around smtp::Session. It owns the socket and
// the clocks; every decision is the session's.
//   - Replies are collected and written before the next read, so a pipelining client
//     gets its replies in groups (RFC 2920) and we never read while holding replies.
//   - After STARTTLS, whatever the client sent behind the command is discarded
//     before the handshake (RFC 3207 §5, CVE-2011-0411).
//   - A tarpitted reply waits on this session's own timer: no other session waits.
//     ConnectionTimeout is absolute: the tarpit ends at the deadline too, and the
//     session is cut there with 421 4.4.1 (issue 13: a tarpit used to outlive it).
//   - What the session holds (buffers, the body) is counted in the server's session
//     memory total; a body that would take it past ReceiveSessionMemoryLimit stops
//     being stored and ends with 452 4.3.1.
//   - The finished message goes to MessageAcceptance (acceptance.hpp); the 250 after
//     DATA is written only from its completion, after the queue's fsync.
#include "smtp_connection.hpp"

#include "completion.hpp"

#include "data_reader.hpp"
#include "pipeline_async.hpp"
#include "pre_greet.hpp"
#include "spawn.hpp"
#include "text_helpers.hpp"
#include "tls.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <algorithm>

namespace edge::receive {

namespace {
using namespace std::chrono_literals;
using smtp::ReplyId;
using smtp::Step;
using logging::LogEvent;
using async::use_tuple;  // completion.hpp
constexpr std::size_t kReadSize = 16 * 1024;
using smtp::kLargestMessage;
// What storing `n` more body bytes may add to a session's memory: the bytes and at
// most one new buffer.
constexpr std::uint64_t body_growth(std::uint64_t n) { return n + smtp::MessageBuffer::kBufferSize; }

std::string endpoint_text(const std::string& ip, unsigned short port) {
    return ip.find(':') != std::string::npos ? fmt::format("[{}]:{}", ip, port) : fmt::format("{}:{}", ip, port);
}

// A multi-line reply in one log line, as Exchange writes it: "250 a b c".
std::string reply_for_log(const std::vector<std::string>& lines) {
    std::string s;
    for (const auto& l : lines) {
        if (s.empty()) {
            s = l;
            if (s.size() > 3 && s[3] == '-') s[3] = ' ';
        } else {
            s += " " + (l.size() > 4 ? l.substr(4) : l);
        }
    }
    return s;
}

// AUTH carries secrets: the log keeps the verb only.
std::string command_for_log(std::string_view line) {
    if (text::istarts_with(line, "AUTH")) return "AUTH ****";
    return std::string(line);
}

}  // namespace

Connection::Connection(const ConnectionServices& services, tcp::socket sock, std::shared_ptr<const ReceiveSnapshot> snapshot,
                       const ReceiveConnector& connector, ConnectionAccounting::Admission admission)
    : services_(services),
      sock_(std::move(sock)),
      snapshot_(std::move(snapshot)),
      connector_(connector),
      admission_(std::move(admission)),
      watchdog_timer_(sock_.get_executor()),
      memory_(services.session_memory->share()),
      disk_(services.disk_admission->reservation()) {
    boost::system::error_code ec;
    auto local = sock_.local_endpoint(ec);
    auto remote = sock_.remote_endpoint(ec);
    local_ip_ = address_text(local.address());
    remote_ip_ = address_text(remote.address());
    session_id_ = logging::new_session_id();
    if (connector_.protocol_logging && services_.receive_log != nullptr)
        plog_ = logging::ProtocolLogSession(services_.receive_log, services_.host_name + "\\" + connector_.name,
                                            session_id_, endpoint_text(local_ip_, local.port()),
                                            endpoint_text(remote_ip_, remote.port()));
    sock_.set_option(tcp::no_delay(true), ec);
    touch();
    deadline_ = last_activity_ + connector_.connection_timeout;
}

void Connection::begin_shutdown() {
    shutdown_asked_ = true;
    if (idle_read_) {
        boost::system::error_code ec;
        sock_.cancel(ec);
    }
}

void Connection::force_close() {
    closed_ = true;
    boost::system::error_code ec;
    sock_.close(ec);
    watchdog_timer_.cancel();
}

void Connection::set_waiting(Waiting w) {
    waiting_ = w;
    watchdog_timer_.cancel();  // the watchdog looks again at what it waits for
}

void Connection::begin_final_grace() {
    if (final_grace_) return;
    final_grace_ = true;
    grace_end_ = std::chrono::steady_clock::now() + 5s;
    watchdog_timer_.cancel();
}

void Connection::account() {
    std::uint64_t held = in_.capacity() + out_.capacity() + committing_bytes_;
    if (session_) held += session_->transaction().message.held();
    if (reader_ != nullptr) held += reader_->held();
    memory_.set(held);
}

// The two clocks, while the client is the one waited for. On expiry the pending read
// or write is cancelled; run() then says 421 4.4.1 and closes. If even that cannot be
// written within 5 s, the socket is closed. Every turn of the loop either sleeps
// until a time in the future or changes state, so it never spins (issue 13: it used
// to re-arm a timer in the past for as long as a tarpit lasted).
asio::awaitable<void> Connection::watchdog() {
    auto self = shared_from_this();
    while (!closed_) {
        auto now = std::chrono::steady_clock::now();
        std::chrono::steady_clock::time_point due;
        if (final_grace_) due = grace_end_;
        else if (waiting_ != Waiting::Client) due = std::chrono::steady_clock::time_point::max();  // set_waiting() wakes us
        else due = std::min(last_activity_ + connector_.connection_inactivity_timeout, deadline_);
        if (now >= due) {
            if (final_grace_) {
                force_close();
                co_return;
            }
            timed_out_ = true;
            begin_final_grace();
            boost::system::error_code ignored;
            sock_.cancel(ignored);
            continue;
        }
        watchdog_timer_.expires_at(due);
        auto [ec] = co_await watchdog_timer_.async_wait(use_tuple);
        if (ec && ec != asio::error::operation_aborted) co_return;
        // Woken early (set_waiting, final grace) or on time: look again.
    }
}

asio::awaitable<void> Connection::run() {
    auto self = shared_from_this();
    async::spawn(sock_.get_executor(), watchdog(), "SMTP session " + session_id_ + " watchdog");
    log(LogEvent::Connect, {});
    smtp::SessionPolicy policy;
    // Policy is the agents' (relay control, the Recipient Filter, …): the session asks,
    // the pipeline of this session's snapshot answers (transport/agents).
    policy.agents_at_helo = [this](std::string_view helo, bool extended) {
        std::string before = std::exchange(agents_.info.helo, std::string(helo));
        agents_.new_message();  // EHLO ends a transaction (RFC 5321 §4.1.4)
        auto r = run_agents(extended ? agents::AgentEvent::OnEhloCommand : agents::AgentEvent::OnHeloCommand, {});
        if (r) agents_.info.helo = std::move(before);
        return r;
    };
    policy.agents_at_mail = [this](const smtp::Mailbox& sender) {
        agents_.new_message();
        agents::Envelope env;
        env.sender = sender.str();
        return run_agents(agents::AgentEvent::OnMailCommand, env);
    };
    policy.agents_at_rcpt = [this](smtp::Mailbox& rcpt, std::uint32_t) {
        agents::Envelope env = envelope_so_far();
        env.recipient = rcpt.str();
        env.recipient_domain = rcpt.domain;
        agents_.changes.rewritten_recipient.clear();
        auto r = run_agents(agents::AgentEvent::OnRcptCommand, env);
        // An agent's MessageEdit::rewrite_recipient (Address Rewriting Inbound) is the
        // recipient recorded; the protocol log has the agent's line with both addresses.
        if (!r && !agents_.changes.rewritten_recipient.empty())
            if (auto m = smtp::split_mailbox(agents_.changes.rewritten_recipient)) rcpt = std::move(*m);
        return r;
    };
    policy.agents_at_data = [this]() { return run_agents(agents::AgentEvent::OnDataCommand, envelope_so_far()); };
    policy.accepting_mail = services_.accepting_mail;
    // Admission at the commit: the session decides, this session's hold is the ledger's.
    backpressure::DiskAdmission* admission = services_.disk_admission;
    policy.room_for_body = [admission](std::uint64_t bytes) { return admission->admits(bytes); };
    policy.reserve_body = [this](std::uint64_t bytes) { return disk_.reserve(bytes); };
    policy.release_body = [this] { disk_.release(); };
    smtp::SessionSettings settings = connector_.session_settings(services_.certificates != nullptr);
    if (domain_secure()) settings.domain_secure_domains = snapshot_->domain_secure_domains;
    session_.emplace(std::move(settings), std::move(policy), remote_ip_);
    if (plog_.enabled()) log(LogEvent::Information, permission_names(connector_.session_permissions()), "Set Session Permissions");
    agents_.info.session_id = session_id_;
    agents_.info.remote_ip = remote_ip_;
    agents_.info.local_ip = local_ip_;
    agents_.info.connector = connector_.name;

    Outcome outcome = Outcome::Continue;
    if (snapshot_->agents) {
        // OnConnect: a refusal here is said in place of the banner, and the session ends.
        see_session_for_agents();
        const agents::Envelope none;
        agents::Decision d =
            co_await agents::run_async(*snapshot_->agents, agents::AgentEvent::OnConnect, agents_, none, &verdicts_);
        if (d.reply) {
            Step refused;
            refused.replies.push_back(smtp::render(*d.reply, connector_.enhanced_status_codes));
            refused.next = Step::Next::Close;
            outcome = co_await perform(std::move(refused));
        }
    }
    if (outcome == Outcome::Continue) outcome = co_await pre_greet();
    if (outcome == Outcome::Continue) outcome = co_await perform(session_->greet());
    while (outcome == Outcome::Continue && !closed_) {
        // ConnectionTimeout is absolute: checked here too, so a client whose commands
        // are all buffered, or whose commit ended past the deadline, is cut as well.
        if (past_deadline()) {
            co_await say_goodbye(ReplyId::ConnectionTimedOut);
            break;
        }
        bool too_long = false;
        auto line = next_line(&too_long);
        if (too_long) {
            outcome = co_await perform(session_->on_line_too_long());
            continue;
        }
        if (!line) {
            if (shutdown_asked_) {
                co_await say_goodbye(ReplyId::ServiceNotAvailable);
                break;
            }
            if (!co_await flush()) break;
            idle_read_ = true;
            bool got = co_await read_more();
            idle_read_ = false;
            if (!got) {
                if (timed_out_) co_await say_goodbye(ReplyId::ConnectionTimedOut);
                else if (shutdown_asked_ && !closed_) co_await say_goodbye(ReplyId::ServiceNotAvailable);
                break;
            }
            continue;
        }
        if (plog_.enabled()) log(LogEvent::Receive, command_for_log(*line));
        co_await agents_for_command(*line);  // agents with I/O answer before the session asks them
        outcome = co_await perform(session_->on_command(*line));
    }
    if (outcome == Outcome::Close && !closed_) co_await flush();
    log(LogEvent::Disconnect, {}, remote_closed_ ? "Remote" : "Local");
    closed_ = true;
    in_.clear();
    in_.shrink_to_fit();
    memory_.set(0);
    boost::system::error_code ec;
    if (tls_) {
        // No close_notify wait: the client may be gone; the TCP close ends it.
        sock_.shutdown(tcp::socket::shutdown_both, ec);
    }
    sock_.close(ec);
    watchdog_timer_.cancel();
}

// The pre-greet test (pre_greet.hpp). The wait is a timer raced against the socket's
// readability: no thread, and no buffer until the client talks; an early talker gets
// at most kPreGreetPeekBytes read (for the protocol log), whatever it sends.
asio::awaitable<Connection::Outcome> Connection::pre_greet() {
    if (connector_.pre_greet_delay.count() <= 0) co_return Outcome::Continue;
    PreGreetCache* cache = services_.pre_greet_cache;
    boost::system::error_code ec;
    const asio::ip::address ip = asio::ip::make_address(remote_ip_, ec);
    const bool known = !ec;
    const bool passed_before = cache != nullptr && known && cache->passed(ip, PreGreetCache::Clock::now());
    see_session_for_agents();
    if (pre_greet_step(connector_.pre_greet_delay, agents_.info.internal, agents_.info.allow_listed, passed_before) ==
        PreGreetStep::Greet) {
        if (passed_before) log(LogEvent::Information, "Pre-greet test passed before; not delayed");
        co_return Outcome::Continue;
    }
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer t(sock_.get_executor());
    t.expires_at(std::min(std::chrono::steady_clock::now() + connector_.pre_greet_delay, deadline_));
    set_waiting(Waiting::Tarpit);
    idle_read_ = true;  // a shutdown cancels the wait
    auto r = co_await (sock_.async_wait(tcp::socket::wait_read, use_tuple) || t.async_wait(use_tuple));
    idle_read_ = false;
    set_waiting(Waiting::Client);
    const bool readable = r.index() == 0;
    std::array<char, kPreGreetPeekBytes> peek{};
    std::size_t n = 0;
    if (readable) {
        if (std::get<0>(std::get<0>(r)) == asio::error::operation_aborted && shutdown_asked_) {
            co_await say_goodbye(ReplyId::ServiceNotAvailable);
            co_return Outcome::Close;
        }
        if (!std::get<0>(std::get<0>(r))) n = sock_.read_some(asio::buffer(peek), ec);
        if (ec) n = 0;
    }
    switch (judge_pre_greet(readable, n)) {
        case PreGreetOutcome::Passed:
            if (past_deadline()) {
                co_await say_goodbye(ReplyId::ConnectionTimedOut);
                co_return Outcome::Close;
            }
            if (cache != nullptr && known) cache->remember(ip, PreGreetCache::Clock::now(), connector_.pre_greet_cache_time);
            log(LogEvent::Information, fmt::format("Pre-greet test passed ({} s)", connector_.pre_greet_delay.count()));
            touch();
            co_return Outcome::Continue;
        case PreGreetOutcome::Hangup:
            remote_closed_ = true;
            log(LogEvent::Information, "Pre-greet test: the client left before the greeting");
            co_return Outcome::Close;
        case PreGreetOutcome::EarlyTalker: break;
    }
    // What it said, made printable: the log's reader sees the start of its command.
    std::string said(peek.data(), n);
    for (char& c : said)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '.';
    log(LogEvent::Information, fmt::format("Pre-greet test failed: early talker sent '{}' before the greeting", said));
    if (cache != nullptr && known) cache->forget(ip);
    if (services_.on_early_talker) services_.on_early_talker(remote_ip_);
    co_await say_goodbye(ReplyId::TalkedBeforeGreeting);
    co_return Outcome::Close;
}

asio::awaitable<void> Connection::say_goodbye(ReplyId reply) {
    if (closed_) co_return;
    begin_final_grace();  // the goodbye itself gets 5 s
    timed_out_ = false;
    std::vector<std::string> r{smtp::render(reply, {}, connector_.enhanced_status_codes)};
    queue_replies(r);
    co_await flush();
}

// One complete CRLF-terminated line from the input, without its CRLF. Only CRLF ends
// a line (a bare LF stays inside it and the parser refuses it). A line longer than
// kMaxCommandLine is skipped to its CRLF and reported once.
std::optional<std::string> Connection::next_line(bool* too_long) {
    std::string_view pending(in_.data() + in_pos_, in_.size() - in_pos_);
    auto crlf = pending.find("\r\n");
    if (crlf == std::string_view::npos) {
        if (pending.size() > smtp::kMaxCommandLine) {
            // Keep only a trailing CR that may pair with the next LF.
            bool cr = pending.back() == '\r';
            in_.clear();
            in_pos_ = 0;
            if (cr) in_ = "\r";
            skipping_long_line_ = true;
        }
        return std::nullopt;
    }
    std::string line(pending.substr(0, crlf));
    in_pos_ += crlf + 2;
    if (in_pos_ == in_.size()) {
        in_.clear();
        in_pos_ = 0;
    }
    if (skipping_long_line_ || line.size() + 2 > smtp::kMaxCommandLine) {
        skipping_long_line_ = false;
        *too_long = true;
        return std::nullopt;
    }
    return line;
}

void Connection::queue_replies(const std::vector<std::string>& replies) {
    if (replies.empty()) return;
    if (plog_.enabled()) log(LogEvent::Send, reply_for_log(replies));
    for (const auto& r : replies) {
        out_ += r;
        out_ += "\r\n";
    }
}

asio::awaitable<bool> Connection::flush() {
    if (out_.empty() || closed_) co_return !closed_;
    boost::system::error_code ec;
    std::size_t n = 0;
    if (tls_) std::tie(ec, n) = co_await asio::async_write(*tls_, asio::buffer(out_), use_tuple);
    else std::tie(ec, n) = co_await asio::async_write(sock_, asio::buffer(out_), use_tuple);
    out_.clear();
    if (out_.capacity() > 64 * 1024) out_.shrink_to_fit();
    account();
    if (ec) {
        if (!timed_out_) remote_closed_ = true;
        co_return false;
    }
    touch();
    co_return true;
}

// Reads what the client sent next into in_. A plain connection waits for
// readability first and only then takes a buffer, so an idle session holds none.
asio::awaitable<bool> Connection::read_more() {
    if (closed_) co_return false;
    if (in_pos_ > 0) {
        in_.erase(0, in_pos_);
        in_pos_ = 0;
    }
    boost::system::error_code ec;
    std::size_t n = 0;
    std::size_t old = in_.size();
    if (tls_) {
        in_.resize(old + kReadSize);
        std::tie(ec, n) = co_await tls_->async_read_some(asio::buffer(in_.data() + old, kReadSize), use_tuple);
    } else {
        if (in_.empty() && idle_read_) in_.shrink_to_fit();  // an idle session holds no buffer
        std::tie(ec) = co_await sock_.async_wait(tcp::socket::wait_read, use_tuple);
        if (!ec) {
            std::size_t want = std::clamp<std::size_t>(sock_.available(ec), 512, kReadSize);
            in_.resize(old + want);
            n = sock_.read_some(asio::buffer(in_.data() + old, want), ec);
        }
    }
    in_.resize(old + n);
    account();
    if (ec || n == 0) {
        if (ec != asio::error::operation_aborted) remote_closed_ = true;
        co_return false;
    }
    touch();
    co_return true;
}

asio::awaitable<Connection::Outcome> Connection::perform(Step step) {
    // An agent's Tarpit verdict delays this reply, as the connector's tarpit does.
    const auto agent_delay = std::exchange(agents_.pending_delay, std::chrono::milliseconds(0));
    const bool tarpit = step.tarpit && connector_.tarpit_interval.count() > 0 && !step.replies.empty();
    if (tarpit || agent_delay.count() > 0) {
        // Reference §7: a negative reply to an anonymous session waits TarpitInterval.
        if (!co_await flush()) co_return Outcome::Close;
        if (tarpit)
            log(LogEvent::Information, fmt::format("Tarpit for '{}' {}", config::format_time_span(connector_.tarpit_interval),
                                                   step.replies.front()));
        if (agent_delay.count() > 0) log(LogEvent::Information, fmt::format("Agent tarpit for {} ms", agent_delay.count()));
        // The wait is ours (the inactivity clock stops) but ConnectionTimeout is
        // absolute: the wait ends at the deadline, and the session with it.
        asio::steady_timer t(sock_.get_executor());
        const auto wait = (tarpit ? std::chrono::steady_clock::duration(connector_.tarpit_interval)
                                  : std::chrono::steady_clock::duration::zero()) + agent_delay;
        t.expires_at(std::min(std::chrono::steady_clock::now() + wait, deadline_));
        set_waiting(Waiting::Tarpit);
        co_await t.async_wait(use_tuple);
        set_waiting(Waiting::Client);
        if (past_deadline()) {
            co_await say_goodbye(ReplyId::ConnectionTimedOut);
            co_return Outcome::Close;
        }
        touch();
    }
    queue_replies(step.replies);
    switch (step.next) {
        case Step::Next::ReadCommand: co_return Outcome::Continue;
        case Step::Next::Close: co_return Outcome::Close;
        case Step::Next::StartTls: co_return co_await start_tls();
        case Step::Next::ReadData: co_return co_await read_data();
        case Step::Next::ReadChunk: co_return co_await read_chunk(step.chunk_size);
        case Step::Next::Commit: co_return co_await commit();
    }
    co_return Outcome::Close;
}

asio::awaitable<Connection::Outcome> Connection::start_tls() {
    if (!co_await flush()) co_return Outcome::Close;
    // RFC 3207 §5, CVE-2011-0411: nothing sent before the handshake is executed.
    if (in_.size() > in_pos_) log(LogEvent::Information, fmt::format("{} bytes sent after STARTTLS discarded", in_.size() - in_pos_));
    in_.clear();
    in_pos_ = 0;
    // The certificates of now (issue 20): this session keeps the set it starts TLS with,
    // whatever the administrator enables or removes meanwhile.
    certificates_ = services_.certificates;
    tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(sock_, certificates_->default_context());
    certificates_->attach(tls_->native_handle());  // SNI chooses among them
    if (!connector_.pinned_client_certificates.empty() || domain_secure()) request_client_certificate(tls_->native_handle());
    auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::server, use_tuple);
    (ec ? metrics::process_counters().tls_inbound_failed : metrics::process_counters().tls_inbound_ok).add();
    if (ec) {
        log(LogEvent::Information, "TLS negotiation failed: " + ec.message());
        closed_ = true;
        co_return Outcome::Close;
    }
    touch();
    log(LogEvent::Information,
        fmt::format("TLS protocol {} cipher {}", tls_version(tls_->native_handle()), tls_cipher(tls_->native_handle())),
        "TLS negotiation succeeded");
    Step step = session_->on_tls_established();
    if (domain_secure()) {
        // Domain Security: what the client certificate proves; the session decides at MAIL.
        smtp::ClientCertificate c = certificates_->judge_client_certificate(tls_->native_handle());
        if (plog_.enabled())
            log(LogEvent::Information,
                !c.presented ? std::string("no client certificate")
                : c.valid    ? fmt::format("client certificate valid for {}", fmt::join(c.names, ","))
                             : fmt::format("client certificate for {} not trusted: {}", fmt::join(c.names, ","), c.problem),
                "Domain Security");
        session_->set_client_certificate(std::move(c));
    }
    if (!connector_.pinned_client_certificates.empty()) {
        std::string fp = peer_certificate_sha256(tls_->native_handle());
        const auto& pins = connector_.pinned_client_certificates;
        if (!fp.empty() && std::find(pins.begin(), pins.end(), fp) != pins.end()) {
            // A pinned hub certificate: the session is a hub from now on.
            session_->set_permissions(connector_.pinned_hub_permissions());
            if (plog_.enabled())
                log(LogEvent::Information, permission_names(session_->permissions()), "Set Session Permissions");
        } else if (!fp.empty() && plog_.enabled()) {
            log(LogEvent::Information, "client certificate " + fp + " is not pinned");
        }
    }
    co_return co_await perform(std::move(step));
}

asio::awaitable<Connection::Outcome> Connection::read_data() {
    if (!co_await flush()) co_return Outcome::Close;
    // Bypass-Message-Size-Limit (hubs): the largest MaxMessageSize Exchange allows still bounds memory.
    bool bypass = (session_->permissions() & smtp::permission::BypassMessageSizeLimit) != 0;
    smtp::DataReader reader({bypass ? kLargestMessage : connector_.max_message_size, connector_.max_header_size});
    reader_ = &reader;
    while (true) {
        if (in_.size() > in_pos_) {
            std::string_view input = std::string_view(in_).substr(in_pos_);
            if (!memory_.room_for(body_growth(input.size()))) reader.stop_storing();
            // The hold grows with the body: a burst cannot pass the disk High threshold
            // between two samples (issue 14). Only bytes received are held, not the
            // declared SIZE: a slow client must not keep space it never sends.
            if (!disk_.reserve(reader.size() + input.size()))
                reader.stop_storing();
            in_pos_ += reader.feed(input);
            account();
            if (in_pos_ == in_.size()) {
                in_.clear();
                in_pos_ = 0;
            }
        }
        if (reader.done()) break;
        if (!co_await read_more()) {
            reader_ = nullptr;
            if (timed_out_) co_await say_goodbye(ReplyId::ConnectionTimedOut);
            co_return Outcome::Close;
        }
    }
    if (plog_.enabled()) log(LogEvent::Information, fmt::format("{} bytes of message data received", reader.size()));
    Step step = session_->on_data(reader);  // the body moves into the transaction
    reader_ = nullptr;
    account();
    co_return co_await perform(std::move(step));
}

// The replies of pipelined BDATs are written when we must wait for the client, not
// once per chunk (a BDAT does not end a pipelined group, RFC 3030 §4.2, RFC 2920).
asio::awaitable<Connection::Outcome> Connection::read_chunk(std::uint64_t size) {
    std::uint64_t left = size;
    while (left > 0) {
        if (in_.size() == in_pos_) {
            bool got = co_await flush();
            if (got) got = co_await read_more();
            if (!got) {
                if (timed_out_) co_await say_goodbye(ReplyId::ConnectionTimedOut);
                co_return Outcome::Close;
            }
        }
        std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(left, in_.size() - in_pos_));
        if (!memory_.room_for(body_growth(take))) session_->stop_storing_body();
        session_->chunk_piece(std::string_view(in_).substr(in_pos_, take));
        in_pos_ += take;
        left -= take;
        if (in_pos_ == in_.size()) {
            in_.clear();
            in_pos_ = 0;
        }
    }
    account();
    co_return co_await perform(session_->on_chunk_end());
}

// What the agents see of the session now: its rights may have changed (a pinned hub
// certificate after STARTTLS), and TLS with them.
void Connection::see_session_for_agents() {
    const std::uint32_t perms = session_ ? session_->permissions() : connector_.session_permissions();
    agents_.info.permissions = perms;
    agents_.info.internal = (perms & smtp::permission::HubOrPartner) != 0;
    agents_.info.tls = tls_ != nullptr;
}

agents::Envelope Connection::envelope_so_far() const {
    agents::Envelope env;
    const smtp::Transaction& txn = session_->transaction();
    env.sender = txn.sender.str();
    for (const auto& r : txn.recipients) env.recipients.push_back(r.address.str());
    return env;
}

std::optional<smtp::AgentReply> Connection::run_agents(agents::AgentEvent e, const agents::Envelope& envelope) {
    if (!snapshot_->agents) return std::nullopt;
    see_session_for_agents();
    return snapshot_->agents->run(e, agents_, envelope, &verdicts_).reply;
}

void Connection::SessionVerdicts::record(const agents::VerdictRecord& r) {
    const std::string_view action = agents::action_name(r.verdict.action, r.event);
    if (c_.services_.agent_log != nullptr) c_.services_.agent_log->record(r);
    if (c_.services_.verdict_counters != nullptr) c_.services_.verdict_counters->count(r.agent, action);
    if (!c_.plog_.enabled()) return;
    // "<agent>: <action> at <event> (<reason>: <reason data>)": the agent log has the
    // rest; this line says in the conversation why the next reply is what it is.
    std::string why = r.verdict.reason;
    if (!r.verdict.reason_data.empty()) why += (why.empty() ? "" : ": ") + r.verdict.reason_data;
    c_.log(logging::LogEvent::Information,
           fmt::format("{}: {} at {}{}", r.agent, action, agents::to_string(r.event), why.empty() ? "" : " (" + why + ")"));
}

// HELO/EHLO, MAIL and RCPT are decided inside the session, synchronously; the agents
// among them that need I/O are asked here first, each within its timeout, while the
// watchdog waits for us rather than the client. Their answers wait in agents_ for the
// session's call. Nothing runs when no such agent is configured.
asio::awaitable<void> Connection::agents_for_command(std::string_view line) {
    if (!snapshot_->agents || !snapshot_->agents->any_async()) co_return;
    smtp::Parsed p = smtp::parse_command(line);
    if (p.error) co_return;
    agents::AgentEvent e{};
    agents::Envelope env = envelope_so_far();
    switch (p.command.verb) {
        case smtp::Verb::Helo: e = agents::AgentEvent::OnHeloCommand; break;
        case smtp::Verb::Ehlo: e = agents::AgentEvent::OnEhloCommand; break;
        case smtp::Verb::Mail:
            e = agents::AgentEvent::OnMailCommand;
            env = {};
            env.sender = p.command.path.str();
            break;
        case smtp::Verb::Rcpt:
            e = agents::AgentEvent::OnRcptCommand;
            env.recipient = p.command.path.str();
            env.recipient_domain = p.command.path.domain;
            break;
        case smtp::Verb::Data:
        case smtp::Verb::Bdat: e = agents::AgentEvent::OnDataCommand; break;
        default: co_return;
    }
    see_session_for_agents();
    if (!snapshot_->agents->has_async(e, agents_)) co_return;
    set_waiting(Waiting::Tarpit);  // ours, bounded by the agents' timeouts
    co_await agents::gather_async(*snapshot_->agents, e, agents_, env);
    set_waiting(Waiting::Client);
}

// Issue 21: the message's reply class and how long its acceptance took (the group
// commit included), per connector; on the I/O thread, so plain counters.
void Connection::count_commit(const AcceptanceOutcome& out, std::chrono::steady_clock::duration took) {
    int code = 250;
    if (out.result == AcceptanceOutcome::Result::Refused) code = smtp::reply_entry(out.refusal).code;
    else if (out.result == AcceptanceOutcome::Result::Failed) code = out.storage_full ? 452 : 451;
    services_.metrics->messages.add({connector_.name, metrics::reply_class(code)});
    services_.metrics->accept_latency.observe({connector_.name}, std::chrono::duration<double>(took).count());
}

// The end of a transaction: the message goes to MessageAcceptance (header scan,
// routing, the group commit); the reply only after the fsync.
asio::awaitable<Connection::Outcome> Connection::commit() {
    smtp::Transaction& txn = session_->transaction_for_commit();
    FinishedMessage m;
    m.transaction = &txn;
    m.session_id = session_id_;
    m.receive_id = fmt::format("{}.{}", session_id_, ++transactions_);
    m.connector_name = connector_.name;
    m.connector_fqdn = connector_.fqdn;
    m.max_header_size = connector_.max_header_size;
    m.max_hop_count = connector_.max_hop_count;
    m.helo_domain = session_->helo_domain();
    m.client_ip = remote_ip_;
    m.local_ip = local_ip_;
    m.esmtp = session_->extended();
    m.tls = tls_ != nullptr;
    m.permissions = session_->permissions();
    if (tls_) {
        m.tls_version = tls_version(tls_->native_handle());
        m.tls_cipher = tls_cipher(tls_->native_handle());
    }
    if (snapshot_->agents) {
        see_session_for_agents();
        m.agents = snapshot_->agents.get();
        m.agent_session = &agents_;
        m.agent_log = &verdicts_;
    }
    const std::string receive_id = m.receive_id;
    committing_bytes_ = txn.message.held();  // still ours until the commit ends
    account();
    set_waiting(Waiting::Commit);
    const auto commit_began = std::chrono::steady_clock::now();
    AcceptanceOutcome out = co_await services_.acceptance->accept(std::move(m));
    if (services_.metrics) count_commit(out, std::chrono::steady_clock::now() - commit_began);
    committing_bytes_ = 0;
    if (out.result == AcceptanceOutcome::Result::Queued) disk_.commit(out.size);  // counted as used until the next sample sees it
    account();
    set_waiting(Waiting::Client);
    Step step;
    if (out.result == AcceptanceOutcome::Result::Refused) {
        step = session_->on_commit_refused(smtp::AgentReply{out.refusal, out.refusal_text});
    } else if (out.result == AcceptanceOutcome::Result::Failed) {
        touch();
        log(LogEvent::Information, "queue commit failed: " + out.error);
        step = session_->on_committed(std::nullopt, out.storage_full);
    } else if (out.result == AcceptanceOutcome::Result::Deleted) {
        // The client hears 250 as for any message (Exchange's Delete); only the logs know.
        touch();
        if (plog_.enabled())
            log(LogEvent::Information, fmt::format("message {} deleted by the {}, not queued", out.message_id, out.deleted_by),
                receive_id);
        step = session_->on_committed(out.message_id, false);
    } else {
        touch();
        if (plog_.enabled())
            log(LogEvent::Information, fmt::format("message {} queued as {} ({} bytes)", out.message_id, out.queue_id, out.size),
                receive_id);
        step = session_->on_committed(out.message_id, false);
    }
    co_return co_await perform(std::move(step));
}

}  // namespace edge::receive
