// What the receive side reads from and adds to a message's header, without I/O:
// counting Received: headers (MaxHopCount), finding Message-ID and Subject, writing
// our Received: header (RFC 5321 §4.4, RFC 3848 protocol names) and a Message-ID
// when the message has none.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edge::server {

// The fields only the organisation may write (Exchange's organization headers).
inline constexpr std::string_view kOrganizationHeaderPrefix = "X-MS-Exchange-Organization-";

// Where one header field lies in the message: its first byte and its length with the
// folded lines and the final CRLF; its value unfolded.
struct FieldSpan {
    std::uint64_t offset = 0, size = 0;
    std::string value;
};

struct HeaderSummary {
    std::uint32_t received_count = 0;  // Received: fields (the hop count)
    std::optional<std::string> message_id;
    std::optional<std::string> subject;
    std::optional<std::string> from;  // the From: field's value, unfolded
    // With keep_fields, every field as received (name, unfolded value), in order: what
    // the end-of-headers agents see. Bounded by the scan's limit (MaxHeaderSize).
    std::vector<std::pair<std::string, std::string>> fields;
    // Every Authentication-Results field (RFC 8601), always: the edge removes those that
    // carry its own authserv-id (§5) so a stranger cannot forge its verdict.
    std::vector<FieldSpan> authentication_results;
    // Every X-MS-Exchange-Organization-* field (the SCL among them), always: a session
    // without AcceptOrganizationHeaders (a stranger) may not set them (Exchange's
    // Ms-Exch-Accept-Headers-Organization right), so they are removed.
    std::vector<FieldSpan> organization_headers;
    bool complete = false;  // the header ended (blank line) within the limit
};

// Scans the header section of a message held in chunks, looking at no more than
// `max_header_size` bytes. Field names are case-insensitive; folded lines are joined.
// The addresses of a From: value: each angle-addr's content, or each comma-separated
// item when there are none (RFC 5322 §3.6.2 mailbox-list; no group or comment syntax:
// what an agent log shows, not what a policy decides on).
std::vector<std::string> from_addresses(std::string_view value);

// `keep_fields`: also copy every field into `fields` (only when an agent will read them:
// the scan runs for every message).
HeaderSummary scan_headers(const std::vector<std::string>& chunks, std::uint64_t max_header_size,
                           bool keep_fields = false);

// Removes the fields at `spans` (offsets into the concatenated chunks, in order, not
// overlapping) from the message; the other bytes stay as they are.
void remove_fields(std::vector<std::string>& chunks, const std::vector<FieldSpan>& spans);

struct ReceivedFields {
    std::string helo;           // the EHLO/HELO argument, as given
    std::string client_ip;
    std::string by_fqdn;        // the Receive connector's Fqdn (what the world sees)
    std::string local_ip;
    bool esmtp = true;          // EHLO (ESMTP) or HELO (SMTP)
    bool tls = false;           // RFC 3848: ESMTPS
    std::string tls_version;    // "TLSv1.3"
    std::string tls_cipher;     // "TLS_AES_256_GCM_SHA384"
    std::string id;             // our receive id
    bool pickup = false;        // from the Pickup directory: "Received: by <fqdn> (Pickup directory) id …"
    std::chrono::system_clock::time_point when;
};

// "Received: from … by … with ESMTPS (…) id …; <date>\r\n", folded before 78 columns.
std::string received_header(const ReceivedFields& f);
// RFC 5322 date with the local numeric zone: "Mon, 23 Nov 2026 08:33:00 +0000".
std::string rfc5322_date(std::chrono::system_clock::time_point t);
// A new Message-ID value "<32 hex digits@fqdn>" (random, as Exchange's GUID form).
std::string new_message_id(std::string_view fqdn);

}  // namespace edge::server
