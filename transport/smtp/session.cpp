// The session state machine: the command table, then one check/apply per verb.
#include "session.hpp"

#include "text_helpers.hpp"

#include <algorithm>
#include <array>

namespace edge::smtp {

namespace {
constexpr std::uint16_t bit(SessionState s) { return static_cast<std::uint16_t>(1u << static_cast<unsigned>(s)); }
constexpr std::uint16_t kGreetedOn = bit(SessionState::Greeted) | bit(SessionState::Mail) | bit(SessionState::Rcpt) |
                                     bit(SessionState::Bdat);
constexpr std::uint16_t kAnyCommandState = bit(SessionState::Connected) | kGreetedOn;

}  // namespace

const char* to_string(SessionState s) {
    switch (s) {
        case SessionState::Connected: return "Connected";
        case SessionState::Greeted: return "Greeted";
        case SessionState::Mail: return "Mail";
        case SessionState::Rcpt: return "Rcpt";
        case SessionState::Data: return "Data";
        case SessionState::Bdat: return "Bdat";
        case SessionState::TlsHandshake: return "TlsHandshake";
        case SessionState::Committing: return "Committing";
        case SessionState::Closed: return "Closed";
    }
    return "?";
}

// One row per verb: where it is allowed, whether RequireTLS lets it through before
// STARTTLS, whether it ends a pipelined group (RFC 2920 §3.1: the client waits for
// its reply), and its handler.
struct CommandRule {
    Verb verb;
    std::uint16_t allowed_in;
    bool before_tls;
    bool ends_group;
    Step (Session::*apply)(const Command&);
};

struct CommandTable {
    static const CommandRule* find(Verb v) {
        static const std::array<CommandRule, 14> rows = {{
            {Verb::Ehlo, kAnyCommandState, true, true, nullptr},  // apply_helo(extended), dispatched below
            {Verb::Helo, kAnyCommandState, true, true, nullptr},
            {Verb::Mail, bit(SessionState::Greeted), false, false, &Session::apply_mail},
            {Verb::Rcpt, bit(SessionState::Mail) | bit(SessionState::Rcpt), false, false, &Session::apply_rcpt},
            {Verb::Data, bit(SessionState::Rcpt), false, true, &Session::apply_data},
            {Verb::Bdat, bit(SessionState::Rcpt) | bit(SessionState::Bdat), false, false, &Session::apply_bdat},
            {Verb::Rset, kAnyCommandState, true, false, &Session::apply_rset},
            {Verb::Noop, kAnyCommandState, true, true, &Session::apply_noop},
            {Verb::Quit, kAnyCommandState, true, true, &Session::apply_quit},
            {Verb::Vrfy, kGreetedOn, false, true, &Session::apply_vrfy},
            {Verb::Help, kAnyCommandState, true, true, &Session::apply_help},
            {Verb::StartTls, bit(SessionState::Greeted), true, true, &Session::apply_starttls},
            {Verb::Expn, kAnyCommandState, false, true, &Session::apply_not_implemented},
            {Verb::Auth, kAnyCommandState, true, true, &Session::apply_not_implemented},
        }};
        for (const auto& r : rows)
            if (r.verb == v) return &r;
        return nullptr;
    }
};

bool ends_pipeline_group(Verb v) {
    const CommandRule* r = CommandTable::find(v);
    return r == nullptr || r->ends_group;
}

Session::Session(SessionSettings settings, SessionPolicy policy, std::string client_address)
    : settings_(std::move(settings)), policy_(std::move(policy)), client_(std::move(client_address)) {}

void Session::transition(SessionState to, std::string_view cause) {
    if (to == state_) return;
    SessionState from = state_;
    state_ = to;
    if (on_transition) on_transition(from, to, cause);
}

void Session::reset_transaction() {
    txn_ = Transaction{};
    if (policy_.release_body) policy_.release_body();
}

Step Session::reply(ReplyId id, std::initializer_list<std::string_view> args) {
    Step s;
    s.replies.push_back(render(id, args, enhanced()));
    if (reply_entry(id).closes) {
        s.next = Step::Next::Close;
        transition(SessionState::Closed, "reply closes");
    }
    return s;
}

// A negative reply: counted toward MaxProtocolErrors when the client broke the
// protocol, tarpitted when the session is anonymous and the reply is permanent.
Step Session::refuse(ReplyId id, std::initializer_list<std::string_view> args) {
    Step s = reply(id, args);
    const ReplyEntry& e = reply_entry(id);
    s.tarpit = (settings_.permissions & permission::Anonymous) != 0 && e.code >= 500;
    if (e.kind == ReplyClass::Protocol && ++errors_ >= settings_.max_protocol_errors) {
        s.replies.push_back(render(ReplyId::TooManyErrors, {}, enhanced()));
        s.next = Step::Next::Close;
        transition(SessionState::Closed, "MaxProtocolErrors");
    }
    return s;
}

Step Session::greet() {
    std::string_view banner = settings_.banner;
    if (banner.starts_with("220 ")) banner.remove_prefix(4);  // Exchange's Banner includes the code
    if (banner.empty()) return reply(ReplyId::DefaultBanner, {settings_.fqdn});
    return reply(ReplyId::ServiceReady, {banner});
}

Step Session::on_command(std::string_view line) {
    if (state_ == SessionState::Closed) return Step{{}, Step::Next::Close};
    Parsed p = parse_command(line);
    if (p.error) return refuse(*p.error, {p.error_argument});
    const Command& cmd = p.command;
    const CommandRule* rule = CommandTable::find(cmd.verb);
    if (rule == nullptr) return refuse(ReplyId::CommandUnrecognized);
    // A verb of an extension this connector does not offer does not exist here.
    if (cmd.verb == Verb::Bdat && !settings_.chunking_enabled) return refuse(ReplyId::CommandNotImplemented);
    // OnDataCommand comes before the sequence check: after MAIL with no accepted
    // recipient DATA is out of sequence, yet the agents must see it (the Connection
    // Filtering Agent disconnects a blocked client there, issue 17).
    if ((cmd.verb == Verb::Data || cmd.verb == Verb::Bdat) && policy_.agents_at_data &&
        (state_ == SessionState::Mail || state_ == SessionState::Rcpt))
        if (auto r = policy_.agents_at_data()) {
            Step s = refuse(*r);
            if (cmd.verb == Verb::Bdat && s.next != Step::Next::Close) {
                s.next = Step::Next::Close;
                transition(SessionState::Closed, "BDAT refused by an agent");
            }
            return s;
        }
    if ((rule->allowed_in & bit(state_)) == 0) {
        if (state_ == SessionState::Connected) return refuse(ReplyId::SendHelloFirst);
        switch (cmd.verb) {
            case Verb::Mail: return refuse(ReplyId::SenderAlreadyGiven);
            case Verb::Rcpt: return refuse(ReplyId::NeedMail);
            case Verb::Data:
            case Verb::Bdat:
                if (state_ == SessionState::Greeted) return refuse(ReplyId::NeedMail);
                if (state_ == SessionState::Mail) return refuse(ReplyId::NeedRcpt);
                return refuse(ReplyId::BadSequence);
            default: return refuse(ReplyId::BadSequence);
        }
    }
    if (settings_.require_tls && !tls_ && !rule->before_tls) return refuse(ReplyId::StartTlsFirst);
    if (cmd.verb == Verb::Ehlo || cmd.verb == Verb::Helo) return apply_helo(cmd, cmd.verb == Verb::Ehlo);
    return (this->*(rule->apply))(cmd);
}

Step Session::apply_helo(const Command& cmd, bool extended) {
    if (settings_.require_ehlo_domain && cmd.argument.starts_with("[")) return refuse(ReplyId::InvalidDomain);
    if (policy_.agents_at_helo)
        if (auto r = policy_.agents_at_helo(cmd.argument, extended)) return refuse(*r);
    reset_transaction();  // RFC 5321 §4.1.4: EHLO in a transaction resets it
    helo_ = cmd.argument;
    esmtp_ = extended;
    transition(SessionState::Greeted, extended ? "EHLO" : "HELO");
    Step s;
    if (!extended) {
        s.replies.push_back(render(ReplyId::HelloOk, {settings_.fqdn, client_}, enhanced()));
        return s;
    }
    std::vector<std::string> keywords;
    if (settings_.size_enabled) {
        bool unlimited = settings_.size_without_value || (settings_.permissions & permission::BypassMessageSizeLimit) != 0;
        keywords.push_back(unlimited ? "SIZE" : "SIZE " + std::to_string(settings_.max_message_size));
    }
    if (settings_.pipelining_enabled) keywords.emplace_back("PIPELINING");
    if (settings_.dsn_enabled) keywords.emplace_back("DSN");
    if (settings_.enhanced_status_codes_enabled) keywords.emplace_back("ENHANCEDSTATUSCODES");
    if (settings_.tls_available && !tls_) keywords.emplace_back("STARTTLS");
    if (settings_.eight_bit_mime_enabled) keywords.emplace_back("8BITMIME");
    if (settings_.chunking_enabled) keywords.emplace_back("CHUNKING");
    if (settings_.smtputf8_enabled) keywords.emplace_back("SMTPUTF8");
    s.replies.push_back(render(ReplyId::HelloOk, {settings_.fqdn, client_}, enhanced(), !keywords.empty()));
    for (std::size_t i = 0; i < keywords.size(); ++i)
        s.replies.push_back(render(ReplyId::EhloKeyword, {keywords[i]}, enhanced(), i + 1 < keywords.size()));
    return s;
}

Step Session::apply_mail(const Command& cmd) {
    if ((settings_.permissions & permission::Submit) == 0) return refuse(ReplyId::NotAuthenticated);
    // Parameters of extensions this connector does not offer are not parameters at all.
    // The refusal names the parameter (issue 13).
    if (cmd.size && !settings_.size_enabled) return refuse(ReplyId::ParameterUnsupported, {"SIZE"});
    if ((cmd.body != BodyType::Unspecified && !settings_.eight_bit_mime_enabled) ||
        (cmd.body == BodyType::BinaryMime && !settings_.chunking_enabled))
        return refuse(ReplyId::ParameterUnsupported, {"BODY"});
    if (cmd.smtputf8 && !settings_.smtputf8_enabled) return refuse(ReplyId::ParameterUnsupported, {"SMTPUTF8"});
    if (cmd.ret != Ret::Unspecified && !settings_.dsn_enabled) return refuse(ReplyId::ParameterUnsupported, {"RET"});
    if (!cmd.envid.empty() && !settings_.dsn_enabled) return refuse(ReplyId::ParameterUnsupported, {"ENVID"});
    if (cmd.size && over_size_limit(*cmd.size)) return refuse(ReplyId::MessageTooBig);
    if (auto why = check_domain_secure(cmd.path); !why.empty()) return refuse(ReplyId::DomainSecureRequired, {why});
    if (policy_.accepting_mail && !policy_.accepting_mail(settings_.permissions))
        return reply(ReplyId::InsufficientResources);  // back pressure: 452 4.3.1, never tarpitted
    if (policy_.room_for_body && !policy_.room_for_body(cmd.size.value_or(0)))
        return reply(ReplyId::InsufficientResources);  // the queue volume would reach High
    if (policy_.agents_at_mail)
        if (auto r = policy_.agents_at_mail(cmd.path)) return refuse(*r);
    reset_transaction();
    txn_.sender = cmd.path;
    txn_.declared_size = cmd.size;
    txn_.body = cmd.body;
    txn_.smtputf8 = cmd.smtputf8;
    txn_.ret = cmd.ret;
    txn_.envid = cmd.envid;
    transition(SessionState::Mail, "MAIL");
    return reply(ReplyId::SenderOk);
}

Step Session::apply_rcpt(const Command& cmd) {
    if (cmd.notify != 0 && !settings_.dsn_enabled) return refuse(ReplyId::ParameterUnsupported, {"NOTIFY"});
    if (!cmd.orcpt.empty() && !settings_.dsn_enabled) return refuse(ReplyId::ParameterUnsupported, {"ORCPT"});
    if (text::has_non_ascii(cmd.path.local) || text::has_non_ascii(cmd.path.domain))
        if (!txn_.smtputf8) return refuse(ReplyId::Utf8NeedsSmtpUtf8);
    if (txn_.recipients.size() >= settings_.max_recipients) return reply(ReplyId::TooManyRecipients);
    RecipientVerdict v =
        policy_.check_recipient ? policy_.check_recipient(cmd.path, settings_.permissions) : RecipientVerdict::Accept;
    if (v == RecipientVerdict::RelayDenied) return refuse(ReplyId::UnableToRelay);
    if (v == RecipientVerdict::UnknownUser) return refuse(ReplyId::UserUnknown);
    Mailbox recipient = cmd.path;
    if (policy_.agents_at_rcpt)
        if (auto r = policy_.agents_at_rcpt(recipient, settings_.permissions)) return refuse(*r);
    txn_.recipients.push_back({std::move(recipient), cmd.notify, cmd.orcpt});
    transition(SessionState::Rcpt, "RCPT");
    return reply(ReplyId::RecipientOk);
}

Step Session::apply_data(const Command&) {
    if (policy_.room_for_body && !policy_.room_for_body(txn_.declared_size.value_or(0))) {
        reset_transaction();
        transition(SessionState::Greeted, "DATA (no room)");
        return reply(ReplyId::InsufficientResources);
    }
    transition(SessionState::Data, "DATA");
    Step s = reply(ReplyId::StartMailInput);
    s.next = Step::Next::ReadData;
    return s;
}

Step Session::on_data(DataReader& reader) {
    if (auto refusal = reader.refusal()) {
        reset_transaction();
        transition(SessionState::Greeted, "end of data (refused)");
        return refuse(*refusal);
    }
    txn_.message = reader.take_buffer();
    transition(SessionState::Committing, "end of data");
    return Step{{}, Step::Next::Commit};
}

Step Session::apply_bdat(const Command& cmd) {
    transition(SessionState::Bdat, "BDAT");
    // Saturating: sizes announced by the client must not wrap past the limit.
    txn_.bdat_bytes = cmd.chunk_size > kLargestMessage ? kLargestMessage + 1
                                                       : std::min(txn_.bdat_bytes + cmd.chunk_size, kLargestMessage + 1);
    bdat_last_ = cmd.last_chunk;
    if (!txn_.no_room && policy_.reserve_body && !policy_.reserve_body(txn_.bdat_bytes))
        stop_storing_body();  // read to its end, refused at LAST
    Step s;
    s.next = Step::Next::ReadChunk;
    s.chunk_size = cmd.chunk_size;
    return s;
}

void Session::chunk_piece(std::string_view piece) {
    // Past MaxMessageSize nothing more is kept; the chunk is still read to the end
    // so the session stays in step with the client.
    if (over_size_limit(txn_.bdat_bytes) || txn_.no_room) {
        if (!txn_.message.empty()) txn_.message.clear();
        return;
    }
    txn_.message.append(piece);
}

void Session::stop_storing_body() {
    txn_.no_room = true;
    txn_.message.clear();
}

Step Session::on_chunk_end() {
    bool too_big = over_size_limit(txn_.bdat_bytes);
    // Until LAST every chunk is acknowledged, even past the limit: the client
    // pipelines its chunks, and the refusal comes once, with LAST.
    if (!bdat_last_) return reply(ReplyId::ChunkReceived, {std::to_string(txn_.bdat_bytes)});
    if (too_big || txn_.no_room) {
        reset_transaction();
        transition(SessionState::Greeted, "BDAT LAST (refused)");
        return refuse(too_big ? ReplyId::MessageTooBig : ReplyId::InsufficientResources);
    }
    transition(SessionState::Committing, "BDAT LAST");
    return Step{{}, Step::Next::Commit};
}

Step Session::on_committed(std::optional<std::string> queued_id, bool storage_full) {
    reset_transaction();
    transition(SessionState::Greeted, "committed");
    if (queued_id) return reply(ReplyId::Queued, {*queued_id});
    return reply(storage_full ? ReplyId::InsufficientResources : ReplyId::QueueWriteFailed);
}

Step Session::on_commit_refused(ReplyId id) { return on_commit_refused(AgentReply{id, {}}); }

Step Session::on_commit_refused(const AgentReply& reply) {
    reset_transaction();
    transition(SessionState::Greeted, "commit refused");
    return refuse(reply);
}

Step Session::on_line_too_long() { return refuse(ReplyId::LineTooLong); }

Step Session::apply_rset(const Command&) {
    reset_transaction();
    if (state_ != SessionState::Connected) transition(SessionState::Greeted, "RSET");
    return reply(ReplyId::Resetting);
}

Step Session::apply_noop(const Command&) { return reply(ReplyId::Ok); }

Step Session::apply_quit(const Command&) { return reply(ReplyId::Closing); }

// RFC 5321 §3.5.3: 252 says neither yes nor no — VRFY reveals nothing.
Step Session::apply_vrfy(const Command&) { return reply(ReplyId::CannotVrfy); }

Step Session::apply_help(const Command&) { return reply(ReplyId::HelpText); }

Step Session::apply_starttls(const Command&) {
    if (tls_) return refuse(ReplyId::BadSequence);
    if (!settings_.tls_available) return reply(ReplyId::TlsNotAvailable);
    transition(SessionState::TlsHandshake, "STARTTLS");
    Step s = reply(ReplyId::ReadyToStartTls);
    // RFC 3207 §5, CVE-2011-0411: whatever the client sent after STARTTLS in the
    // clear is discarded by the driver before the handshake, never executed.
    s.next = Step::Next::StartTls;
    return s;
}

Step Session::on_tls_established() {
    // RFC 3207 §4.2: the session starts over; the client must EHLO again.
    tls_ = true;
    reset_transaction();
    helo_.clear();
    transition(SessionState::Connected, "TLS established");
    return Step{};
}

Step Session::apply_not_implemented(const Command&) { return refuse(ReplyId::CommandNotImplemented); }

bool certificate_name_matches(std::string_view name, std::string_view domain) {
    if (name.empty() || domain.empty()) return false;
    if (text::iequals(name, domain)) return true;
    // A wildcard stands for exactly one whole label, the left-most (RFC 6125 §6.4.3);
    // "*.com"-style names of one label after the star are never matched.
    if (!name.starts_with("*.")) return false;
    const std::string_view parent = name.substr(2);
    if (parent.find('.') == std::string_view::npos) return false;
    const auto dot = domain.find('.');
    return dot != std::string_view::npos && dot > 0 && text::iequals(domain.substr(dot + 1), parent);
}

// Domain Security (Exchange 2007's mutual TLS with partners): a sender whose domain is
// listed is believed only when the TLS client certificate proved that domain. The null
// sender (a partner's bounce) names no domain and is not held to it.
std::string Session::check_domain_secure(const Mailbox& sender) const {
    if (settings_.domain_secure_domains.empty() || sender.null()) return {};
    const std::string domain = text::to_lower(sender.domain);
    bool listed = false;
    for (const auto& d : settings_.domain_secure_domains) listed = listed || d == domain;
    if (!listed) return {};
    if (!tls_) return "mail from " + domain + " needs mutual TLS; issue STARTTLS and present a certificate";
    const ClientCertificate& c = client_certificate_;
    if (!c.presented) return "mail from " + domain + " needs a TLS client certificate";
    if (!c.valid) return "the client certificate is not trusted (" + c.problem + ")";
    for (const auto& n : c.names)
        if (certificate_name_matches(n, domain)) return {};
    return "the client certificate is not for " + domain;
}

}  // namespace edge::smtp
