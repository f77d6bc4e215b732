// Delivery status notifications: the NDR, the delay notice and the relay notice as
// RFC 3464 multipart/report messages, built as a queue::NewMessage ready to enqueue.
// Pure: no I/O, no clock of its own, no settings lookup — the caller passes it all.
//
// What the message looks like (RFC 3464, RFC 6522, RFC 3461 §6):
//   From: `from` (ExternalPostmasterAddress) envelope MAIL FROM:<> (null)
//     or postmaster@<reporting_mta>
//   To: <original sender>                   envelope RCPT: the original sender,
//     (UTF-8 as it is for an SMTPUTF8       plus copy_to for a Failure (Exchange's
//     sender, RFC 6532)                     copy of NDRs to a postmaster address)
//   Subject: see dsn_subject()
//   Date, Message-ID <…@message_id_domain>, MIME-Version: 1.0,
//   Auto-Submitted: auto-replied (RFC 3834 §5), In-Reply-To/References: the original
//   Message-ID when it is a plain <…> id,
//   Content-Type: multipart/report; report-type=delivery-status; boundary="…"
//     1. text/plain; charset=us-ascii — for people: which recipients, why, what next
//     2. message/delivery-status — Reporting-MTA, Original-Envelope-Id, Arrival-Date;
//        per recipient Original-Recipient, Final-Recipient, Action, Status,
//        Remote-MTA, Diagnostic-Code, Will-Retry-Until (delay)
//     3. text/rfc822-headers (the original header block), or message/rfc822 (the
//        whole original) for a Failure with RET=FULL when the original is at most
//        max_full_return_size and has no line over 998 octets.
//
// Guarantees: every line ends in CRLF and is at most 998 octets (RFC 5322 §2.1.1);
// parts 1 and 2 are 7-bit: what remote peers wrote (diagnostics, host names) has
// CR, LF and TAB turned into spaces and every other control or 8-bit octet into '?',
// is cut at 1000 octets and folded, so it cannot add a header, a field or a MIME
// boundary. Part 3 is the original as queued, its line ends made CRLF; it is
// labelled 8bit (and the whole message with it) when it holds 8-bit octets.
// The Message-ID is made of `now`, a hash of the original and a process-wide counter
// (the one piece of state here), so two notices never share one.
#pragma once

#include "queue_types.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::send {

// Remove-Message. Exchange writes "550 4.3.2 QUEUE.Admin; message deleted by
// administrative action"; a failed Action needs a 5.x.x Status (RFC 3464 §2.3.4), so
// ours is 5.3.2. The NDR (scheduler.cpp) and the tracking log's ADMIN line (edgectl) say it.
inline constexpr std::string_view kAdminRemovedStatus = "5.3.2";
inline constexpr std::string_view kAdminRemovedText = "550 5.3.2 QUEUE.Admin; message deleted by administrative action";

// Failure: the NDR (Action: failed). Delay: the delay notice (Action: delayed; the
// caller sends it once, after DelayNotificationTimeout). Success: the relay notice
// (Action: relayed) — an Edge server never delivers into a mailbox, so it reports
// success only when it hands a NOTIFY=SUCCESS recipient to a server that does not
// offer DSN (RFC 3461 §5.2.2.2); "delivered" is never written.
enum class DsnKind { Failure, Delay, Success };

struct DsnRecipient {
    std::size_t index;        // into envelope.recipients; out of range throws std::out_of_range
    std::string status;       // RFC 3463 "5.3.4"; not of the form [245].d{1,3}.d{1,3}: 5.0.0 / 4.0.0 / 2.0.0
    std::string diagnostic;   // remote reply "550 5.1.1 User unknown" (Diagnostic-Code: smtp; …) or our
                              // text (Diagnostic-Code: X-edge-transport; …); empty: no Diagnostic-Code
    std::string remote_mta;   // host name or IP of the server that answered; empty: no Remote-MTA
};

struct DsnRequest {
    DsnKind kind;
    const queue::Envelope& envelope;   // the original message's
    std::string_view original_message; // the raw RFC 5322 message as queued
    std::vector<DsnRecipient> recipients;
    std::string reporting_mta;         // this server's FQDN
    queue::Timestamp now;
    std::uint64_t max_full_return_size = 10u << 20;  // RET=FULL above this returns the headers only
    std::string message_id_domain;     // right side of our Message-ID; empty: reporting_mta
    std::string copy_to;               // Exchange's "send a copy of NDRs to"; Failure only; may be empty
    std::string from;                  // From: ExternalPostmasterAddress; empty: postmaster@<reporting_mta>
};

// Whether this recipient asked for this kind of notice (RFC 3461 §4.1): NOTIFY=NEVER
// wants none; without NOTIFY the default is FAILURE,DELAY; otherwise the bits given
// (SUCCESS only when asked for).
bool wants_notice(const queue::Recipient& recipient, DsnKind kind);

// The subject, Exchange's way ([inf]: the 2007/2010 English texts): "Undeliverable:
// <subject>", "Delivery delayed: <subject>", "Relayed: <subject>"; without an original
// subject "Delivery Status Notification (Failure)" / "(Delay)" / "(Relay)". The
// original subject is used as queued (an encoded-word stays as it is); control
// characters become spaces. The header carries it as RFC 2047 UTF-8 encoded-words
// when it holds 8-bit octets (invalid UTF-8 becomes U+FFFD); this returns the
// unencoded text, cut at 900 octets.
std::string dsn_subject(DsnKind kind, std::string_view original_subject);

// The notice, or nullopt when none must be sent: the original sender is null (never
// a DSN to <>, RFC 3461 §6.2 / RFC 5321 §4.5.5), or no listed recipient wants this
// kind of notice. Only the recipients that want it are reported.
//
// The new envelope: sender "" (so no DSN can ever be made about this one — the
// caller needs no other mark: build_dsn() refuses a null sender), recipients with
// notify = NEVER and next_hop left default (the caller routes them), arrival_time =
// now, subject, internet_message_id, size = body size, dsn_ret Unspecified.
// expiration_time is left default: the caller sets it (MessageExpirationTimeout).
// Which status codes deserve the postmaster copy (Exchange's GenerateCopyOfDSNFor)
// is the caller's choice: it passes copy_to only when it wants one.
std::optional<queue::NewMessage> build_dsn(const DsnRequest& request);

}  // namespace edge::send
