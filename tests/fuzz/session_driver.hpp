// A driver for smtp::Session without sockets, as transport/receive/smtp_connection.cpp
// drives it: command lines up to CRLF, DATA through a DataReader, BDAT chunks read raw,
// the commit decided by the header scan and then by the tape (queued, storage full,
// failed), STARTTLS succeeding or not. The policy answers from the tape too, so a run
// is a function of the input. Used by the smtp_session and smtp_bdat targets.
#pragma once

#include "fuzz_target.hpp"
#include "message_headers.hpp"
#include "session.hpp"

#include <string>
#include <string_view>

namespace edge::fuzz {

// RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets, CRLF included.
inline constexpr std::size_t kMaxReplyLineOut = 510;

inline void check_replies(const char* target, const smtp::Step& step) {
    if (std::getenv("EDGE_FUZZ_VERBOSE") != nullptr)
        for (const auto& l : step.replies) std::fprintf(stderr, "<- %s\n", l.c_str());
    // A step may hold several replies (a refusal, then 421 when the errors reached
    // MaxProtocolErrors); each is one or more lines of one code.
    std::string_view code;
    for (const std::string& l : step.replies) {
        // "ddd-text" / "ddd text", codes 2xx-5xx (RFC 5321 §4.2.1).
        FUZZ_CHECK_AT(target, l.size() >= 3 && l[0] >= '2' && l[0] <= '5' && std::isdigit(static_cast<unsigned char>(l[1])) &&
                                  std::isdigit(static_cast<unsigned char>(l[2])));
        FUZZ_CHECK_AT(target, l.size() == 3 || l[3] == '-' || l[3] == ' ');
        if (!code.empty()) FUZZ_CHECK_AT(target, l.compare(0, 3, code) == 0);
        bool continued = l.size() > 3 && l[3] == '-';
        code = continued ? std::string_view(l).substr(0, 3) : std::string_view();
        FUZZ_CHECK_AT(target, l.size() <= kMaxReplyLineOut);
        // Nothing a client sent comes back with control bytes (issue 13, weakness 10).
        for (char c : l) FUZZ_CHECK_AT(target, static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
    }
    FUZZ_CHECK_AT(target, code.empty());  // the last reply is complete
}

struct SessionRun {
    SessionRun(const char* name, Tape& choices, std::string_view client) : target(name), tape(choices), in(client) {}

    const char* target;
    Tape& tape;          // choices
    std::string_view in;  // what the client sends
    std::size_t at = 0;
    smtp::SessionSettings settings;
    bool bdat_mode = false;  // chunking on, rights to send, no TLS required
    std::uint64_t max_seen_body = 0;

    static smtp::SessionSettings settings_from(Tape& t) {
        smtp::SessionSettings s;
        s.fqdn = "mx.example.test";
        s.max_message_size = 1 + t.u16() % 8192;
        s.max_recipients = 1 + t.byte() % 8;
        s.max_protocol_errors = 1 + t.byte() % 8;
        s.max_header_size = 1 + t.u16() % 4096;
        std::uint8_t f = t.byte();
        s.require_tls = (f & 1) != 0;
        s.tls_available = (f & 2) != 0;
        s.require_ehlo_domain = (f & 4) != 0;
        s.size_without_value = (f & 8) != 0;
        std::uint8_t g = t.byte();
        s.chunking_enabled = (g & 1) == 0;
        s.pipelining_enabled = (g & 2) == 0;
        s.dsn_enabled = (g & 4) == 0;
        s.smtputf8_enabled = (g & 8) == 0;
        s.eight_bit_mime_enabled = (g & 16) == 0;
        s.enhanced_status_codes_enabled = (g & 32) == 0;
        s.size_enabled = (g & 64) == 0;
        s.permissions = static_cast<std::uint32_t>(t.u16()) & 0x7ff;
        return s;
    }

    // The bytes the session holds for the transaction: the body's buffers and what each
    // std::string costs. Bounded by MaxMessageSize and a small constant, whatever the
    // chunking (issue 13, weakness 1). The constant covers the DATA reader's first
    // reservation (4 KiB) and a string's bookkeeping.
    static std::uint64_t held(const smtp::Transaction& t) {
        return t.message.held() + t.message.buffers().size() * sizeof(std::string);
    }

    void check_memory(const smtp::Session& s) {
        if ((settings.permissions & smtp::permission::BypassMessageSizeLimit) != 0) return;
        auto h = held(s.transaction());
        if (h > max_seen_body) max_seen_body = h;
        FUZZ_CHECK_AT(target, h <= 2 * settings.max_message_size + 8192);
        FUZZ_CHECK_AT(target, s.transaction().recipients.size() <= settings.max_recipients);
    }

    // Until the session closes or the client's bytes run out.
    void run() {
        settings = settings_from(tape);
        if (bdat_mode) {
            settings.chunking_enabled = true;
            settings.require_tls = false;
            settings.permissions |= smtp::permission::Submit;
        }
        smtp::SessionPolicy policy;
        policy.check_recipient = [this](const smtp::Mailbox&, std::uint32_t) {
            return static_cast<smtp::RecipientVerdict>(tape.byte() % 3);
        };
        policy.accepting_mail = [this](std::uint32_t) { return tape.byte() % 8 != 7; };
        smtp::Session s(settings, policy, "192.0.2.1");
        smtp::SessionState last = s.state();
        s.on_transition = [&last](smtp::SessionState from, smtp::SessionState to, std::string_view) {
            FUZZ_CHECK_AT("session transition", from == last);
            last = to;
        };
        smtp::Step step = s.greet();
        for (int guard = 0; guard < 100000; ++guard) {
            check_replies(target, step);
            check_memory(s);
            switch (step.next) {
                case smtp::Step::Next::Close: return;
                case smtp::Step::Next::ReadCommand: {
                    auto rest = in.substr(at);
                    auto crlf = rest.find("\r\n");
                    if (crlf == std::string_view::npos) return;  // the client went away
                    at += crlf + 2;
                    if (std::getenv("EDGE_FUZZ_VERBOSE") != nullptr)
                        std::fprintf(stderr, "-> %.*s\n", static_cast<int>(std::min<std::size_t>(crlf, 200)), rest.data());
                    if (crlf + 2 > smtp::kMaxCommandLine) step = s.on_line_too_long();
                    else step = s.on_command(rest.substr(0, crlf));
                    break;
                }
                case smtp::Step::Next::StartTls:
                    if (tape.byte() % 4 == 0) return;  // handshake failed: the driver closes
                    step = s.on_tls_established();
                    break;
                case smtp::Step::Next::ReadData: {
                    bool bypass = (settings.permissions & smtp::permission::BypassMessageSizeLimit) != 0;
                    smtp::DataReader reader({bypass ? 1u << 20 : settings.max_message_size, settings.max_header_size});
                    at += reader.feed(in.substr(at));
                    if (!reader.done()) return;
                    step = s.on_data(reader);
                    break;
                }
                case smtp::Step::Next::ReadChunk: {
                    if (in.size() - at < step.chunk_size) return;  // the client went away mid-chunk
                    auto chunk = in.substr(at, static_cast<std::size_t>(step.chunk_size));
                    at += chunk.size();
                    // The network delivers a chunk in pieces.
                    std::size_t off = 0;
                    do {
                        std::size_t n = std::min<std::size_t>(chunk.size() - off, 1 + tape.byte() % 64);
                        s.chunk_piece(chunk.substr(off, n));
                        off += n;
                        check_memory(s);
                    } while (off < chunk.size());
                    step = s.on_chunk_end();
                    break;
                }
                case smtp::Step::Next::Commit: {
                    auto& txn = s.transaction_for_commit();
                    FUZZ_CHECK_AT(target, !txn.recipients.empty());
                    auto headers = server::scan_headers(txn.message.buffers(), settings.max_header_size);
                    if (!headers.complete) {
                        step = s.on_commit_refused(smtp::ReplyId::HeaderTooBig);
                    } else if (headers.received_count > 30) {
                        step = s.on_commit_refused(smtp::ReplyId::HopCountExceeded);
                    } else {
                        std::string id = headers.message_id && !headers.message_id->empty() ? *headers.message_id
                                                                                            : "<0123456789abcdef@mx.example.test>";
                        switch (tape.byte() % 4) {
                            case 0: step = s.on_committed(std::nullopt, true); break;
                            case 1: step = s.on_committed(std::nullopt, false); break;
                            default: step = s.on_committed(id, false); break;
                        }
                    }
                    FUZZ_CHECK_AT(target, s.transaction().recipients.empty() && s.transaction().message.empty());
                    break;
                }
            }
        }
    }
};

}  // namespace edge::fuzz
