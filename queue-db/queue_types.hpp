// The queue's vocabulary: queue identities, the one enum of queue states and the one
// enum of message states, the envelope, and the views the administration API returns.
// Names follow Exchange 2007's Get-Queue / Get-Message properties.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::queue {

using MessageId = std::uint64_t;  // the MessageInteger of Exchange's <SERVER>\<queue>\<n>
using Timestamp = std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds>;

inline Timestamp now_timestamp() {
    return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

// Which kind of queue. The server-wide queues exist once; next-hop queues (Exchange's
// remote delivery queues) one per NextHopDomain.
enum class QueueKind : std::uint8_t { Submission = 1, NextHop = 2, Unreachable = 3, Poison = 4 };

struct QueueId {
    QueueKind kind = QueueKind::Submission;
    std::string next_hop;  // the NextHopDomain; empty for the server-wide queues

    static QueueId submission() { return {QueueKind::Submission, {}}; }
    static QueueId unreachable() { return {QueueKind::Unreachable, {}}; }
    static QueueId poison() { return {QueueKind::Poison, {}}; }
    static QueueId next_hop_domain(std::string domain) { return {QueueKind::NextHop, std::move(domain)}; }

    // Exchange's display name: the NextHopDomain, or Submission / Unreachable / Poison.
    std::string name() const;
    // Parses what name() prints; "Poison Message" is accepted as Exchange writes it.
    static std::optional<QueueId> parse(std::string_view name);

    friend bool operator==(const QueueId&, const QueueId&) = default;
};

// Exchange's DeliveryType of a queue.
enum class DeliveryType : std::uint8_t {
    Undefined = 0,                   // Submission, Poison
    DnsConnectorDelivery = 1,        // Send connector with DNS routing
    SmartHostConnectorDelivery = 2,  // Send connector to smart hosts
    Unreachable = 3,                 // no route
};

// Queue status, as Get-Queue shows it. Active and Ready are derived from the messages;
// Retry and Suspended are stored.
enum class QueueStatus : std::uint8_t { Ready = 0, Active = 1, Retry = 2, Suspended = 3 };

// Message status within one queue, as Get-Message shows it. This is the one enum of
// message states; the item index keys carry it as a byte.
enum class MessageStatus : std::uint8_t {
    Active = 'A',         // leased for delivery
    Ready = 'R',          // waiting for the next-hop queue to take it
    Retry = 'T',          // deferred; waits for its NextRetryTime
    Suspended = 'S',      // held by an administrator (every Poison message)
    PendingRemove = 'P',  // removal asked while in delivery, or waiting for its NDR
};

const char* to_string(QueueKind);
const char* to_string(DeliveryType);
const char* to_string(QueueStatus);
const char* to_string(MessageStatus);
std::optional<MessageStatus> parse_message_status(std::string_view);

// RFC 3461 DSN parameters.
enum class DsnRet : std::uint8_t { Unspecified = 0, Full = 1, Headers = 2 };
namespace notify {  // RFC 3461 NOTIFY, a bit set; 0 = not given (sender wants the default)
inline constexpr std::uint8_t Never = 1, Success = 2, Failure = 4, Delay = 8;
}

enum class RecipientStatus : std::uint8_t { Pending = 0, Delivered = 1, Failed = 2 };

struct Recipient {
    std::string address;
    std::string orcpt;            // RFC 3461 ORCPT, as given ("rfc822;a@b"), or empty
    std::uint8_t notify = 0;      // notify:: bits
    QueueId next_hop;             // the queue this recipient is delivered from
    DeliveryType delivery_type = DeliveryType::Undefined;
    RecipientStatus status = RecipientStatus::Pending;
    std::string last_response;    // last remote answer or our own error text
    std::uint32_t attempts = 0;
    bool delay_notified = false;  // the one delay DSN (DelayNotificationTimeout) went out
    // Failed, and its NDR not sent yet: the message's one NDR waits until every other
    // recipient has had an attempt (or its hold ends; ARCHITECTURE.md "One NDR per
    // message"). ndr_status is the RFC 3463 code that NDR reports ("5.1.1").
    bool ndr_pending = false;
    std::string ndr_status;

    friend bool operator==(const Recipient&, const Recipient&) = default;
};

struct Envelope {
    std::string sender;            // MAIL FROM; empty = the null sender <>
    DsnRet dsn_ret = DsnRet::Unspecified;
    std::string dsn_envid;         // RFC 3461 ENVID
    std::vector<Recipient> recipients;
    Timestamp arrival_time{};      // DateReceived
    std::string receive_connector; // Name of the Receive connector
    std::string client_address;    // remote IP of the SMTP client
    std::string client_hostname;   // HELO/EHLO argument
    std::uint64_t size = 0;        // body bytes as stored
    std::uint32_t hop_count = 0;   // Received: headers counted on arrival
    std::string internet_message_id;
    std::string subject;
    Timestamp expiration_time{};   // ExpirationTime: arrival + MessageExpirationTimeout
    // The edge's verdicts on who sent it (issue 18): the value of the Authentication-Results
    // field it stamped ("mx.contoso.com; spf=pass …; dkim=…; dmarc=…"), for later agents
    // and Get-Message; empty when no check ran.
    std::string authentication_results;
    // The Content Filter's Spam Confidence Level (issue 19): 0-9, or -1 when it did not
    // judge the message (not scanned, bypassed, internal mail).
    int scl = -1;
    // A quarantined message's recipients as sent (its recipients are then the
    // QuarantineMailbox, Exchange's redirect); empty otherwise.
    std::vector<std::string> original_recipients;
    // Received with MAIL FROM … SMTPUTF8 (RFC 6531 §3.4): its header fields may carry
    // UTF-8 (RFC 6532), so it needs SMTPUTF8 of every next hop unless none does.
    bool smtputf8 = false;

    friend bool operator==(const Envelope&, const Envelope&) = default;
};

// A message body as the SMTP reader produced it: a list of chunks, copied once into
// the database page that stores it.
struct MessageBody {
    std::vector<std::string> chunks;
    std::uint64_t size() const {
        std::uint64_t n = 0;
        for (const auto& c : chunks) n += c.size();
        return n;
    }
};

struct NewMessage {
    Envelope envelope;
    MessageBody body;
};

// --- what the administration API returns -------------------------------------

struct QueueInfo {
    QueueId id;
    DeliveryType delivery_type = DeliveryType::Undefined;
    QueueStatus status = QueueStatus::Ready;
    std::uint64_t message_count = 0;
    std::uint64_t active_count = 0, ready_count = 0, retry_count = 0, suspended_count = 0,
                  pending_remove_count = 0;
    // When the oldest message in it arrived (ids grow with arrival): the metrics' oldest
    // message age. nullopt for an empty queue.
    std::optional<Timestamp> oldest_arrival;
    std::optional<Timestamp> last_retry_time;
    std::optional<Timestamp> next_retry_time;
    std::string last_error;
};

struct MessageInfo {
    MessageId id = 0;
    QueueId queue;
    MessageStatus status = MessageStatus::Ready;
    Envelope envelope;
    std::uint32_t retry_count = 0;  // delivery attempts from this queue
    std::optional<Timestamp> next_retry_time;
    std::string last_error;
    std::uint32_t crash_count = 0;  // transport crashes while this message was Active
    bool ndr_requested = false;     // Remove-Message -WithNDR $true waiting for its NDR
};

struct MessageFilter {
    std::optional<QueueId> queue;
    std::optional<MessageStatus> status;
    std::size_t limit = 1000;  // Exchange's ResultSize default
};

}  // namespace edge::queue
