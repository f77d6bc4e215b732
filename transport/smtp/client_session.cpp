// The SMTP client state machine: the handshake (greeting, EHLO/HELO, STARTTLS), then
// transactions matched reply by reply against the commands in flight, in order.
#include "client_session.hpp"

#include "address.hpp"
#include "text_helpers.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace edge::smtp {

namespace {
using CT = ClientText;
// clang-format off
constexpr std::array kClientTexts = {
    ClientTextEntry{CT::MessageTooBigForPeer, 552, "5.3.4", "Message size {} exceeds the size limit {} of {}"},
    ClientTextEntry{CT::NeedsSmtpUtf8,        553, "5.6.7", "{} does not offer SMTPUTF8, which the address {} needs"},
    ClientTextEntry{CT::NeedsSmtpUtf8Headers, 554, "5.6.7", "{} does not offer SMTPUTF8, which the message's UTF-8 header fields need"},
    ClientTextEntry{CT::AddressNotSendable,   501, "5.1.3", "The address {} cannot be sent in an SMTP command"},
    ClientTextEntry{CT::NotReady,             451, "4.4.0", "The connection to {} was not ready for a message"},
    ClientTextEntry{CT::ClosedByUs,           451, "4.4.0", "The connection to {} was closed before the message was sent"},
    ClientTextEntry{CT::ConnectionLost,       451, "4.4.2", "Connection to {} lost {}: {}"},
    ClientTextEntry{CT::GreetingRefused,      451, "4.4.0", "{} refused the connection: {}"},
    ClientTextEntry{CT::HelloRefused,         451, "4.4.0", "{} answered {} with {}"},
    ClientTextEntry{CT::TlsNotOffered,        451, "4.7.4", "RequireTLS is set and {} does not offer STARTTLS"},
    ClientTextEntry{CT::TlsRefused,           451, "4.7.4", "RequireTLS is set and {} answered STARTTLS with {}"},
    ClientTextEntry{CT::TlsNotPossible,       451, "4.7.4", "RequireTLS is set but no TLS client context is available to connect to {}"},
    ClientTextEntry{CT::TlsNeedsEhlo,         451, "4.7.4", "RequireTLS is set but ForceHELO leaves no way to ask {} for STARTTLS"},
    ClientTextEntry{CT::ServiceClosing,       451, "4.4.0", "{} closed the session: {}"},
    ClientTextEntry{CT::UnexpectedReply,      451, "4.5.0", "Unexpected reply from {} {}: {}"},
    ClientTextEntry{CT::ReplyBeforeTls,       451, "4.7.0", "{} sent a reply in clear after agreeing to STARTTLS: {}"},
    ClientTextEntry{CT::RsetRefused,          451, "4.5.0", "{} answered RSET with {}"},
    ClientTextEntry{CT::AuthNotOffered,       451, "4.7.0", "SmartHostAuthMechanism is BasicAuth and {} offers no AUTH PLAIN or LOGIN"},
    ClientTextEntry{CT::AuthNeedsTls,         451, "4.7.4", "SmartHostAuthMechanism is BasicAuthRequireTLS and the connection to {} is not encrypted"},
    ClientTextEntry{CT::AuthRefused,          451, "4.7.0", "{} refused our credentials: {}"},
    ClientTextEntry{CT::TlsPolicyNotOffered,  451, "4.7.5", "{} does not offer STARTTLS, which {} requires"},
    ClientTextEntry{CT::TlsPolicyRefused,     451, "4.7.5", "{} answered STARTTLS with {}, and {} requires TLS"},
    ClientTextEntry{CT::TlsFailed,            451, "4.7.5", "TLS with {} failed: {}"},
};
// clang-format on
static_assert(kClientTexts.size() == static_cast<std::size_t>(CT::TlsFailed) + 1);

const ClientTextEntry& entry(ClientText id) { return kClientTexts.at(static_cast<std::size_t>(id)); }

std::string response_line(ClientText id, const std::string& text) {
    const ClientTextEntry& e = entry(id);
    return std::to_string(e.code) + " " + std::string(e.enhanced) + " " + text;
}


// An address goes between <> in a command line: a control character would split the
// command (command injection), an angle bracket would end the path early (parameter
// injection). Such an address is never sent.
bool sendable(std::string_view address) {
    return std::none_of(address.begin(), address.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f || c == '<' || c == '>';
    });
}

// Configuration text that goes on the wire (the Fqdn) loses control characters.
std::string wire_safe(std::string_view s) {
    std::string out;
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) out.push_back(c);
    return out;
}

RecipientResult result_of(const Reply& r) {
    if (r.kind() == 2) return RecipientResult::Delivered;
    return r.kind() == 4 ? RecipientResult::Deferred : RecipientResult::Failed;
}

// RFC 5321 §4.5.3.1.10: a server out of room for recipients says 452 (or, from old
// servers, 552 5.5.3); the client sends the rest in a later transaction. 452 with
// another enhanced code (4.3.1 back pressure, 4.2.2 mailbox full) is an ordinary
// deferral.
bool too_many_recipients(const Reply& r) {
    if (r.code == 452) return r.enhanced.empty() || r.enhanced == "4.5.3";
    return r.code == 552 && r.enhanced == "5.5.3";
}

ClientAction send(std::string bytes) { return ClientAction{ClientAction::Kind::Send, std::move(bytes), {}}; }
ClientAction send_secret(std::string bytes) { return ClientAction{ClientAction::Kind::Send, std::move(bytes), {}, true}; }

ClientAction close_action() { return ClientAction{ClientAction::Kind::Close, {}, {}}; }
}  // namespace

std::span<const ClientTextEntry> client_text_catalogue() { return kClientTexts; }

const char* to_string(RecipientResult r) {
    switch (r) {
        case RecipientResult::Delivered: return "Delivered";
        case RecipientResult::Deferred: return "Deferred";
        case RecipientResult::Failed: return "Failed";
    }
    return "?";
}

const char* to_string(ClientState s) {
    switch (s) {
        case ClientState::Connected: return "Connected";
        case ClientState::Ehlo: return "Ehlo";
        case ClientState::Helo: return "Helo";
        case ClientState::StartTls: return "StartTls";
        case ClientState::TlsHandshake: return "TlsHandshake";
        case ClientState::Ready: return "Ready";
        case ClientState::Authenticating: return "Authenticating";
        case ClientState::Transaction: return "Transaction";
        case ClientState::Quitting: return "Quitting";
        case ClientState::Closed: return "Closed";
    }
    return "?";
}

// Also the words of failure texts: "while waiting for the reply to RCPT TO".
const char* to_string(Awaiting e) {
    switch (e) {
        case Awaiting::Nothing: return "nothing";
        case Awaiting::Greeting: return "the greeting";
        case Awaiting::Ehlo: return "the reply to EHLO";
        case Awaiting::Helo: return "the reply to HELO";
        case Awaiting::StartTls: return "the reply to STARTTLS";
        case Awaiting::Mail: return "the reply to MAIL FROM";
        case Awaiting::Rcpt: return "the reply to RCPT TO";
        case Awaiting::Data: return "the reply to DATA";
        case Awaiting::EndOfData: return "the reply to the end of data";
        case Awaiting::EmptyEndOfData: return "the reply to an empty end of data";
        case Awaiting::Bdat: return "the reply to BDAT";
        case Awaiting::Rset: return "the reply to RSET";
        case Awaiting::Quit: return "the reply to QUIT";
        case Awaiting::Auth: return "the reply to AUTH";
        case Awaiting::AuthLoginUser: return "the reply to AUTH LOGIN";
        case Awaiting::AuthLoginPassword: return "the reply to the AUTH LOGIN user name";
    }
    return "a reply";
}

PeerExtensions parse_ehlo_reply(const Reply& ehlo) {
    PeerExtensions x;
    if (ehlo.kind() != 2) return x;
    x.esmtp = true;
    // The first line greets; each further line is "KEYWORD [params]".
    for (std::size_t i = 1; i < ehlo.lines.size(); ++i) {
        std::string_view line = ehlo.lines[i];
        std::size_t sp = line.find(' ');
        std::string_view key = line.substr(0, sp);
        std::string_view param = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
        if (text::iequals(key, "PIPELINING")) x.pipelining = true;
        else if (text::iequals(key, "STARTTLS")) x.starttls = true;
        else if (text::iequals(key, "8BITMIME")) x.eightbitmime = true;
        else if (text::iequals(key, "DSN")) x.dsn = true;
        else if (text::iequals(key, "CHUNKING")) x.chunking = true;
        else if (text::iequals(key, "SMTPUTF8")) x.smtputf8 = true;
        else if (text::iequals(key, "ENHANCEDSTATUSCODES")) x.enhanced_status_codes = true;
        else if (text::iequals(key, "AUTH") || (key.size() > 5 && text::iequals(key.substr(0, 5), "AUTH="))) {
            // "AUTH PLAIN LOGIN", or the old "AUTH=LOGIN PLAIN" some servers still send.
            std::string_view mechs = text::iequals(key, "AUTH") ? param : line.substr(5);
            while (!mechs.empty()) {
                auto end = mechs.find(' ');
                std::string_view m = mechs.substr(0, end);
                if (text::iequals(m, "PLAIN")) x.auth_plain = true;
                if (text::iequals(m, "LOGIN")) x.auth_login = true;
                mechs = end == std::string_view::npos ? std::string_view() : mechs.substr(end + 1);
            }
        }
        else if (text::iequals(key, "SIZE")) {
            x.size = true;
            // RFC 1870 §4: "SIZE" alone or "SIZE 0" means no fixed limit. A value we
            // cannot read is treated the same: the peer's reply to MAIL still decides.
            std::uint64_t n = 0;
            bool ok = !param.empty();
            for (char c : param) {
                if (c < '0' || c > '9' || n > (UINT64_MAX - 9) / 10) {
                    ok = false;
                    break;
                }
                n = n * 10 + static_cast<std::uint64_t>(c - '0');
            }
            x.max_size = ok ? n : 0;
        }
    }
    return x;
}

std::string encode_for_data(std::string_view content) {
    std::string out;
    out.reserve(content.size() + content.size() / 64 + 5);
    bool line_start = true;
    std::size_t i = 0;
    while (i < content.size()) {
        // RFC 5321 §4.5.2: a line that starts with a dot gets one more.
        if (line_start && content[i] == '.') out.push_back('.');
        std::size_t end = content.find_first_of("\r\n", i);
        if (end == std::string_view::npos) {
            out.append(content.substr(i));
            line_start = false;
            break;
        }
        out.append(content.substr(i, end - i));
        // RFC 5321 §2.3.8: only CRLF is a line end on the wire. A bare CR or a bare LF
        // (BDAT can bring them to our queue) becomes CRLF, so the peer never sees a
        // sequence that some server might take for the end of data (CVE-2023-51764).
        out.append("\r\n");
        i = end + ((content[end] == '\r' && end + 1 < content.size() && content[end + 1] == '\n') ? 2 : 1);
        line_start = true;
    }
    if (!line_start) out.append("\r\n");
    out.append(".\r\n");
    return out;
}

std::optional<std::string> xtext_decode(std::string_view s) {
    auto hex = text::hex_digit_value;
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '+') {
            out += s[i];
            continue;
        }
        if (i + 2 >= s.size()) return std::nullopt;
        const int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

std::string orcpt_decoded(std::string_view received) {
    const auto semi = received.find(';');
    if (semi == std::string_view::npos) return std::string(received);
    auto value = xtext_decode(received.substr(semi + 1));
    return value ? std::string(received.substr(0, semi + 1)) + *value : std::string(received);
}

std::string xtext_encode(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u >= 33 && u <= 126 && c != '+' && c != '=') {
            out.push_back(c);
        } else {
            out.push_back('+');
            out.push_back(hex[u >> 4]);
            out.push_back(hex[u & 0xf]);
        }
    }
    return out;
}

ClientSession::ClientSession(ClientPolicy policy) : policy_(std::move(policy)) { expect(Awaiting::Greeting); }

void ClientSession::transition(ClientState to, std::string_view cause) {
    if (to == state_) return;
    ClientState from = state_;
    state_ = to;
    if (on_transition) on_transition(from, to, cause);
}

std::string ClientSession::say(ClientText id, std::initializer_list<std::string_view> args) const {
    std::string_view text = entry(id).text;
    std::string out;
    const std::string_view* arg = args.begin();
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '{' && i + 1 < text.size() && text[i + 1] == '}') {
            if (arg != args.end()) out += wire_safe(*arg++);
            ++i;
            continue;
        }
        out.push_back(text[i]);
    }
    return out;
}

// --- outcomes ------------------------------------------------------------------

void ClientSession::decide(const OutboundRecipient& r, RecipientResult result, std::string response, std::string status) {
    outcomes_.push_back({r.index, result, std::move(response), std::move(status)});
}

void ClientSession::decide_by_reply(Slot& s, const Reply& r) {
    decide(s.rcpt, result_of(r), r.text(), r.status());
    s.state = Slot::State::Decided;
}

void ClientSession::defer_undecided(const std::string& response, const std::string& status) {
    for (auto& s : slots_) {
        if (s.state == Slot::State::Decided || s.state == Slot::State::Moved) continue;
        decide(s.rcpt, RecipientResult::Deferred, response, status);
        s.state = Slot::State::Decided;
    }
    for (const auto& r : next_batch_) decide(r, RecipientResult::Deferred, response, status);
    next_batch_.clear();
}

void ClientSession::finish_message() {
    std::sort(outcomes_.begin(), outcomes_.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
    results_.push_back(std::move(outcomes_));
    outcomes_.clear();
    slots_.clear();
    next_batch_.clear();
    msg_ = OutboundMessage{};  // the content view is the driver's again
    in_message_ = false;
}

std::optional<std::vector<RecipientOutcome>> ClientSession::take_message_result() {
    if (results_.empty()) return std::nullopt;
    std::vector<RecipientOutcome> r = std::move(results_.front());
    results_.pop_front();
    return r;
}

ClientSession::Actions ClientSession::fail(ClientText why, std::initializer_list<std::string_view> args, bool polite,
                                           const Reply* peer_reply) {
    if (state_ == ClientState::Closed) return {};
    failure_ = say(why, args);
    failure_id_ = why;
    scope_ = in_message_ ? FailureScope::Message : FailureScope::Connection;
    if (in_message_) {
        // A 421 speaks for itself; otherwise the recipients carry our sentence.
        if (peer_reply != nullptr) defer_undecided(peer_reply->text(), peer_reply->status());
        else defer_undecided(response_line(why, failure_), std::string(entry(why).enhanced));
        finish_message();
    }
    expected_.clear();
    transition(ClientState::Closed, failure_);
    Actions out;
    // RFC 5321 §3.8: after a refusal the client still says QUIT when the peer is in step
    // with us; after a 421, garbage or a reply out of order it just closes.
    if (polite) out.push_back(send("QUIT\r\n"));
    out.push_back(close_action());
    return out;
}

ClientSession::Actions ClientSession::unexpected(const Reply& r, Awaiting answered) {
    std::string when = std::string("while waiting for ") + to_string(answered);
    return fail(ClientText::UnexpectedReply, {policy_.remote_host, when, r.text()}, false);
}

// --- the handshake ---------------------------------------------------------------

std::vector<ClientAction> ClientSession::on_reply(const Reply& r) {
    if (state_ == ClientState::Closed) return {};
    // RFC 3207 §5: between 220 to STARTTLS and the handshake nothing may be read as a
    // reply; a peer (or a man in the middle) that sends one is injecting responses.
    if (state_ == ClientState::TlsHandshake)
        return fail(ClientText::ReplyBeforeTls, {policy_.remote_host, r.text()}, false);
    if (expected_.empty()) {
        if (r.code == 421) return fail(ClientText::ServiceClosing, {policy_.remote_host, r.text()}, false, &r);
        return fail(ClientText::UnexpectedReply, {policy_.remote_host, "while idle", r.text()}, false);
    }
    Awaiting e = expected_.front();
    expected_.pop_front();
    // RFC 5321 §3.8: 421 may answer any command; the peer is closing.
    if (r.code == 421 && e != Awaiting::Quit)
        return fail(ClientText::ServiceClosing, {policy_.remote_host, r.text()}, false, &r);
    const std::string& host = policy_.remote_host;
    switch (e) {
        case Awaiting::Nothing: break;  // never queued
        case Awaiting::Greeting:
            if (r.code == 220) {
                if (policy_.force_helo) {
                    if (policy_.require_tls) return fail(ClientText::TlsNeedsEhlo, {host}, true);
                    expect(Awaiting::Helo);
                    transition(ClientState::Helo, "greeting (ForceHELO)");
                    return {send("HELO " + wire_safe(policy_.fqdn) + "\r\n")};
                }
                expect(Awaiting::Ehlo);
                transition(ClientState::Ehlo, "greeting");
                return {send("EHLO " + wire_safe(policy_.fqdn) + "\r\n")};
            }
            if (r.kind() == 4 || r.kind() == 5) return fail(ClientText::GreetingRefused, {host, r.text()}, true);
            return unexpected(r, e);
        case Awaiting::Ehlo:
            if (r.kind() == 2) {
                ext_ = parse_ehlo_reply(r);
                return after_hello();
            }
            if (r.kind() == 5) {
                // A server that knows no EHLO (500/502) knows no STARTTLS either.
                if (policy_.require_tls && !tls_) return fail_not_offered();
                expect(Awaiting::Helo);
                transition(ClientState::Helo, "EHLO refused");
                return {send("HELO " + wire_safe(policy_.fqdn) + "\r\n")};
            }
            if (r.kind() == 4) return fail(ClientText::HelloRefused, {host, "EHLO", r.text()}, true);
            return unexpected(r, e);
        case Awaiting::Helo:
            if (r.kind() == 2) {
                ext_ = PeerExtensions{};
                return after_hello();
            }
            if (r.kind() == 4 || r.kind() == 5) return fail(ClientText::HelloRefused, {host, "HELO", r.text()}, true);
            return unexpected(r, e);
        case Awaiting::StartTls:
            if (r.code == 220) {
                transition(ClientState::TlsHandshake, "STARTTLS");
                return {ClientAction{ClientAction::Kind::StartTls, {}, {}}};
            }
            if (r.kind() == 4 || r.kind() == 5) {
                if (policy_.require_tls) {
                    if (!policy_.tls_required_by.empty())
                        return fail(ClientText::TlsPolicyRefused, {host, r.text(), policy_.tls_required_by}, true);
                    return fail(ClientText::TlsRefused, {host, r.text()}, true);
                }
                // RFC 3207 §4: without RequireTLS the client may go on in clear.
                transition(ClientState::Ready, "STARTTLS refused, in clear");
                return {};
            }
            return unexpected(r, e);
        case Awaiting::Mail: return on_mail(r);
        case Awaiting::Rcpt: return on_rcpt(r);
        case Awaiting::Data: return on_data(r);
        case Awaiting::EndOfData: return on_final(r, false);
        case Awaiting::Bdat: return on_final(r, true);
        case Awaiting::EmptyEndOfData:
            // The empty message after an unwanted 354 is over whatever the peer says;
            // the RSET sent with the dot cleans up.
            if (r.kind() == 2 || r.kind() == 4 || r.kind() == 5) return {};
            return unexpected(r, e);
        case Awaiting::Rset:
            if (r.kind() == 2) return end_transaction();
            return fail(ClientText::RsetRefused, {host, r.text()}, true);
        case Awaiting::Quit:
            transition(ClientState::Closed, "QUIT answered");
            return {close_action()};
        case Awaiting::Auth:
            if (r.code == 235) {
                authenticated_ = true;
                transition(ClientState::Ready, "authenticated");
                return {};
            }
            return fail(ClientText::AuthRefused, {host, r.text()}, true);
        case Awaiting::AuthLoginUser:
            if (r.code != 334) return fail(ClientText::AuthRefused, {host, r.text()}, true);
            expect(Awaiting::AuthLoginPassword);
            return {send_secret(text::base64(policy_.auth_user) + "\r\n")};
        case Awaiting::AuthLoginPassword:
            if (r.code != 334) return fail(ClientText::AuthRefused, {host, r.text()}, true);
            expect(Awaiting::Auth);
            return {send_secret(text::base64(policy_.auth_password) + "\r\n")};
    }
    return unexpected(r, e);
}

ClientSession::Actions ClientSession::after_hello() {
    if (!tls_) {
        bool want_tls = ext_.starttls && policy_.tls_possible && (policy_.require_tls || !policy_.ignore_starttls);
        if (want_tls) {
            expect(Awaiting::StartTls);
            transition(ClientState::StartTls, "STARTTLS offered");
            return {send("STARTTLS\r\n")};
        }
        // RequireTLS: not one byte of a message in clear; the connection ends here.
        if (policy_.require_tls)
            return ext_.starttls ? fail(ClientText::TlsNotPossible, {policy_.remote_host}, true) : fail_not_offered();
    }
    if (!policy_.auth_user.empty() && !authenticated_) return start_auth();
    transition(ClientState::Ready, tls_ ? "greeted over TLS" : "greeted");
    return {};
}

// RFC 4954: PLAIN with an initial response (one round trip), else LOGIN. Never
// pipelined; no message before 235.
ClientSession::Actions ClientSession::start_auth() {
    const std::string& host = policy_.remote_host;
    if (policy_.auth_require_tls && !tls_) return fail(ClientText::AuthNeedsTls, {host}, true);
    if (ext_.auth_plain) {
        expect(Awaiting::Auth);
        transition(ClientState::Authenticating, "AUTH PLAIN");
        std::string plain = std::string(1, '\0') + policy_.auth_user + std::string(1, '\0') + policy_.auth_password;
        return {send_secret("AUTH PLAIN " + text::base64(plain) + "\r\n")};
    }
    if (ext_.auth_login) {
        expect(Awaiting::AuthLoginUser);
        transition(ClientState::Authenticating, "AUTH LOGIN");
        return {send("AUTH LOGIN\r\n")};
    }
    return fail(ClientText::AuthNotOffered, {host}, true);
}

std::vector<ClientAction> ClientSession::on_tls_established() {
    if (state_ != ClientState::TlsHandshake) return {};
    // RFC 3207 §4.2: forget everything learned in clear and ask again.
    tls_ = true;
    ext_ = PeerExtensions{};
    expect(Awaiting::Ehlo);
    transition(ClientState::Ehlo, "TLS established");
    return {send("EHLO " + wire_safe(policy_.fqdn) + "\r\n")};
}

// --- a message -------------------------------------------------------------------

std::optional<std::string> address_without_smtputf8(std::string_view address) {
    if (!text::has_non_ascii(address)) return std::string(address);
    auto m = split_mailbox(address);
    if (!m || text::has_non_ascii(m->local)) return std::nullopt;
    auto domain = canonical_domain(m->domain);
    if (!domain) return std::nullopt;
    return m->local + "@" + *domain;
}

bool needs_smtputf8(const OutboundMessage& m) {
    if (!m.smtputf8) return false;
    // The header block: up to the first empty line (CRLF CRLF, or LF LF as stored bare).
    std::string_view c = m.content;
    std::size_t end = c.size();
    for (std::size_t i = 0; i + 1 < c.size(); ++i)
        if (c[i] == '\n' && (c[i + 1] == '\n' || (c[i + 1] == '\r' && i + 2 < c.size() && c[i + 2] == '\n'))) {
            end = i;
            break;
        }
    return text::has_non_ascii(c.substr(0, end));
}

std::vector<ClientAction> ClientSession::begin_message(const OutboundMessage& m) {
    if (!ready_for_message()) {
        // Nothing is sent; the caller gets its recipients back at once.
        std::string response = failed() ? response_line(ClientText::ConnectionLost, failure_)
                                        : response_line(ClientText::NotReady, say(ClientText::NotReady, {policy_.remote_host}));
        std::string status(entry(failed() ? ClientText::ConnectionLost : ClientText::NotReady).enhanced);
        std::vector<RecipientOutcome> out;
        for (const auto& r : m.recipients) out.push_back({r.index, RecipientResult::Deferred, response, status});
        std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
        results_.push_back(std::move(out));
        return {};
    }
    in_message_ = true;
    msg_ = m;
    outcomes_.clear();
    next_batch_.clear();
    eight_bit_ = text::has_non_ascii(m.content);

    // Decisions that need no round trip: the message cannot go to this peer at all, or
    // some recipients cannot.
    auto fail_all = [&](ClientText id, std::initializer_list<std::string_view> args) {
        std::string response = response_line(id, say(id, args));
        for (const auto& r : m.recipients) decide(r, RecipientResult::Failed, response, std::string(entry(id).enhanced));
        finish_message();
        return Actions{};
    };
    // RFC 1870 §6.1: a message larger than the peer's fixed limit is not offered.
    if (ext_.size && ext_.max_size != 0 && m.content.size() > ext_.max_size)
        return fail_all(ClientText::MessageTooBigForPeer,
                        {std::to_string(m.content.size()), std::to_string(ext_.max_size), policy_.remote_host});
    if (!sendable(m.sender)) return fail_all(ClientText::AddressNotSendable, {m.sender});
    // RFC 6531 §3.2: a non-ASCII address goes only to a peer that offers SMTPUTF8, unless
    // only its domain is: then as A-labels, which lose nothing.
    if (!ext_.smtputf8) {
        if (needs_smtputf8(m)) return fail_all(ClientText::NeedsSmtpUtf8Headers, {policy_.remote_host});
        auto sender = address_without_smtputf8(m.sender);
        if (!sender) return fail_all(ClientText::NeedsSmtpUtf8, {policy_.remote_host, m.sender});
        msg_.sender = std::move(*sender);
    }
    for (const auto& r : m.recipients) {
        std::optional<std::string> ascii;
        if (!sendable(r.address)) {
            decide(r, RecipientResult::Failed, response_line(CT::AddressNotSendable, say(CT::AddressNotSendable, {r.address})),
                   std::string(entry(CT::AddressNotSendable).enhanced));
        } else if (ext_.smtputf8) {
            next_batch_.push_back(r);
        } else if (!(ascii = address_without_smtputf8(r.address))) {
            decide(r, RecipientResult::Failed,
                   response_line(CT::NeedsSmtpUtf8, say(CT::NeedsSmtpUtf8, {policy_.remote_host, r.address})),
                   std::string(entry(CT::NeedsSmtpUtf8).enhanced));
        } else {
            next_batch_.push_back(r);
            next_batch_.back().address = std::move(*ascii);
        }
    }
    if (next_batch_.empty()) {
        finish_message();
        return {};
    }
    return start_transaction();
}

std::string ClientSession::mail_command() const {
    std::string cmd = "MAIL FROM:<" + msg_.sender + ">";
    // RFC 1870 §3: the size as stored; the peer refuses at MAIL what it cannot take.
    if (ext_.size) cmd += " SIZE=" + std::to_string(msg_.content.size());
    // RFC 6152 §3. Without 8BITMIME the content goes as it is (TODO(8bit-to-7bit):
    // RFC 6152 asks for a conversion to 7-bit MIME or a bounce; we do neither yet).
    if (eight_bit_ && ext_.eightbitmime) cmd += " BODY=8BITMIME";
    if (ext_.smtputf8) {
        bool utf8 = msg_.smtputf8 || text::has_non_ascii(msg_.sender) ||
                    std::any_of(slots_.begin(), slots_.end(), [](const Slot& s) { return text::has_non_ascii(s.rcpt.address); });
        if (utf8) cmd += " SMTPUTF8";
    }
    // RFC 3461 §4.3, §4.4: only to a peer that offers DSN.
    if (ext_.dsn) {
        if (msg_.ret == OutboundMessage::Ret::Full) cmd += " RET=FULL";
        if (msg_.ret == OutboundMessage::Ret::Headers) cmd += " RET=HDRS";
        if (!msg_.envid.empty()) cmd += " ENVID=" + xtext_encode(msg_.envid);
    }
    return cmd + "\r\n";
}

std::string ClientSession::rcpt_command(const OutboundRecipient& r) const {
    std::string cmd = "RCPT TO:<" + r.address + ">";
    if (ext_.dsn) {
        // RFC 3461 §4.1: NEVER alone, or a list of SUCCESS, FAILURE, DELAY.
        std::string notify;
        if (r.notify & 1u) {
            notify = "NEVER";
        } else {
            if (r.notify & 2u) notify += ",SUCCESS";
            if (r.notify & 4u) notify += ",FAILURE";
            if (r.notify & 8u) notify += ",DELAY";
            if (!notify.empty()) notify.erase(0, 1);
        }
        if (!notify.empty()) cmd += " NOTIFY=" + notify;
        // RFC 3461 §4.2: ORCPT=addr-type;xtext.
        if (!r.orcpt.empty()) {
            std::size_t semi = r.orcpt.find(';');
            std::string_view orcpt = r.orcpt;
            if (semi == std::string::npos || semi == 0) cmd += " ORCPT=rfc822;" + xtext_encode(orcpt);
            else cmd += " ORCPT=" + wire_safe(orcpt.substr(0, semi)) + ";" + xtext_encode(orcpt.substr(semi + 1));
        }
    }
    return cmd + "\r\n";
}

ClientSession::Actions ClientSession::start_transaction() {
    slots_.clear();
    for (auto& r : next_batch_) slots_.push_back({std::move(r), Slot::State::Unsent});
    next_batch_.clear();
    next_reply_ = next_send_ = accepted_ = 0;
    mail_ok_ = false;
    pipelined_ = ext_.pipelining;
    bdat_ = ext_.chunking;
    transition(ClientState::Transaction, "MAIL");
    std::string out = mail_command();
    expect(Awaiting::Mail);
    if (pipelined_) {
        // RFC 2920 §3.1: MAIL and RCPT may sit anywhere in a group, DATA only last.
        // BDAT waits for the RCPT replies: no content goes to a peer that took no one.
        for (auto& s : slots_) {
            out += rcpt_command(s.rcpt);
            s.state = Slot::State::Waiting;
            expect(Awaiting::Rcpt);
        }
        next_send_ = slots_.size();
        if (!bdat_) {
            out += "DATA\r\n";
            expect(Awaiting::Data);
        }
    }
    return {send(std::move(out))};
}

ClientSession::Actions ClientSession::send_next_rcpt() {
    Slot& s = slots_[next_send_++];
    s.state = Slot::State::Waiting;
    expect(Awaiting::Rcpt);
    return {send(rcpt_command(s.rcpt))};
}

ClientSession::Actions ClientSession::send_rset(std::string prefix) {
    if (!prefix.empty()) expect(Awaiting::EmptyEndOfData);
    expect(Awaiting::Rset);
    return {send(std::move(prefix) + "RSET\r\n")};
}

ClientSession::Actions ClientSession::on_mail(const Reply& r) {
    if (r.kind() == 2) {
        mail_ok_ = true;
        return pipelined_ ? Actions{} : send_next_rcpt();
    }
    if (r.kind() != 4 && r.kind() != 5) return unexpected(r, Awaiting::Mail);
    // No transaction: every recipient shares the sender's fate. Pipelined RCPT (and
    // DATA) replies still come and are read in turn.
    for (auto& s : slots_) decide_by_reply(s, r);
    return pipelined_ ? Actions{} : send_rset();
}

ClientSession::Actions ClientSession::on_rcpt(const Reply& r) {
    if (r.kind() != 2 && r.kind() != 4 && r.kind() != 5) return unexpected(r, Awaiting::Rcpt);
    Slot& s = slots_.at(next_reply_++);
    if (mail_ok_) {  // else the MAIL reply decided already
        if (r.kind() == 2) {
            s.state = Slot::State::Accepted;
            ++accepted_;
        } else if (too_many_recipients(r) && accepted_ > 0) {
            // Recipient splitting: this one (and, without pipelining, all not yet sent)
            // go in the next transaction on this connection.
            s.state = Slot::State::Moved;
            next_batch_.push_back(s.rcpt);
            if (!pipelined_) {
                for (; next_send_ < slots_.size(); ++next_send_) {
                    slots_[next_send_].state = Slot::State::Moved;
                    next_batch_.push_back(slots_[next_send_].rcpt);
                }
                next_reply_ = next_send_;
            }
        } else {
            decide_by_reply(s, r);
        }
    }
    if (!pipelined_ && next_send_ < slots_.size()) return send_next_rcpt();
    if (next_reply_ == slots_.size()) return after_rcpts();
    return {};
}

ClientSession::Actions ClientSession::after_rcpts() {
    if (pipelined_ && !bdat_) return {};  // the DATA reply, already on its way, decides
    if (accepted_ == 0) return send_rset();
    if (bdat_) {
        // RFC 3030 §2: the content as it is, byte for byte, in one LAST chunk.
        expect(Awaiting::Bdat);
        return {ClientAction{ClientAction::Kind::Send, "BDAT " + std::to_string(msg_.content.size()) + " LAST\r\n",
                             msg_.content}};
    }
    expect(Awaiting::Data);
    return {send("DATA\r\n")};
}

ClientSession::Actions ClientSession::on_data(const Reply& r) {
    if (r.code == 354) {
        if (accepted_ > 0) {
            expect(Awaiting::EndOfData);
            return {send(encode_for_data(msg_.content))};
        }
        // RFC 2920 §3.1: no recipient was accepted but the pipelined DATA was. A lone
        // dot ends an empty message, its reply is read and ignored, and RSET clears
        // whatever the peer made of it. None of the content is sent.
        return send_rset(".\r\n");
    }
    if (r.kind() != 4 && r.kind() != 5) return unexpected(r, Awaiting::Data);
    for (auto& s : slots_)
        if (s.state == Slot::State::Accepted) decide_by_reply(s, r);
    return send_rset();
}

ClientSession::Actions ClientSession::on_final(const Reply& r, bool bdat) {
    if (r.kind() != 2 && r.kind() != 4 && r.kind() != 5) return unexpected(r, bdat ? Awaiting::Bdat : Awaiting::EndOfData);
    for (auto& s : slots_)
        if (s.state == Slot::State::Accepted) decide_by_reply(s, r);
    // RFC 3030 §2: after a refused BDAT the state is indeterminate; RSET clears it. The
    // reply to the end of DATA ends the transaction either way (RFC 5321 §4.1.1.4).
    if (bdat && r.kind() != 2) return send_rset();
    return end_transaction();
}

ClientSession::Actions ClientSession::end_transaction() {
    if (!next_batch_.empty()) return start_transaction();
    finish_message();
    transition(ClientState::Ready, "message done");
    return {};
}

// --- the end -------------------------------------------------------------------

std::vector<ClientAction> ClientSession::quit() {
    switch (state_) {
        case ClientState::Closed: return {close_action()};
        case ClientState::Quitting: return {};
        case ClientState::Ready:
            expect(Awaiting::Quit);
            transition(ClientState::Quitting, "QUIT");
            return {send("QUIT\r\n")};
        default: break;
    }
    if (in_message_) {
        std::string text = say(ClientText::ClosedByUs, {policy_.remote_host});
        defer_undecided(response_line(ClientText::ClosedByUs, text), std::string(entry(ClientText::ClosedByUs).enhanced));
        finish_message();
    }
    bool handshake = state_ == ClientState::TlsHandshake;  // no clear text inside a handshake
    expected_.clear();
    transition(ClientState::Closed, "quit");
    if (handshake) return {close_action()};
    return {send("QUIT\r\n"), close_action()};
}

std::string ClientSession::failure_line() const {
    if (failure_.empty()) return {};
    // A peer's own reply (421) is the sentence's end; the code is still ours.
    return response_line(failure_id_, failure_);
}

ClientSession::Actions ClientSession::fail_not_offered() {
    if (!policy_.tls_required_by.empty())
        return fail(ClientText::TlsPolicyNotOffered, {policy_.remote_host, policy_.tls_required_by}, true);
    return fail(ClientText::TlsNotOffered, {policy_.remote_host}, true);
}

void ClientSession::on_tls_failed(std::string_view peer, std::string_view reason) {
    if (state_ == ClientState::Closed) return;
    fail(ClientText::TlsFailed, {peer, reason}, false);
}

void ClientSession::on_connection_lost(std::string_view reason) {
    if (state_ == ClientState::Closed) return;
    if (state_ == ClientState::Quitting) {  // the peer closed without its 221: no matter
        expected_.clear();
        transition(ClientState::Closed, "closed after QUIT");
        return;
    }
    std::string when;
    if (state_ == ClientState::TlsHandshake) when = "during the TLS handshake";
    else if (expected_.empty()) when = "while idle";
    else when = std::string("while waiting for ") + to_string(expected_.front());
    fail(ClientText::ConnectionLost, {policy_.remote_host, when, reason}, false);
}

}  // namespace edge::smtp
