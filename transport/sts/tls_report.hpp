// TLS-RPT (RFC 8460): the counts kept per day and policy, their stored form, and the
// daily aggregate report — its JSON (§4), gzip, and the mail that carries it (§5.3).
// Pure: no I/O and no clock; tls_report_service.* does the counting, storing and sending.
#pragma once

#include "queue_types.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edge::sts {

// One line of the counters: sessions of one UTC day with one MX of one policy domain
// under one policy, that ended one way (result_type empty = success).
struct TlsCount {
    std::string date;           // "2026-12-07", UTC
    std::string policy_domain;  // the next-hop domain
    std::string policy_type;    // "sts", "tlsa", "no-policy-found"
    std::vector<std::string> policy_string;  // the policy's lines (RFC 8460 §4.4); empty for no-policy-found
    std::vector<std::string> mx_patterns;    // sts: the policy's mx lines; else empty
    std::string result_type;    // empty for a success, else RFC 8460 §4.3's ("certificate-expired", …)
    std::string mx_host;        // receiving-mx-hostname
    std::string receiving_ip;
    std::string sending_ip;
    std::string reason;         // failure-reason-code (OpenSSL's text), cut to 256 octets
    std::uint64_t count = 0;

    // What makes two counts one: everything but count (and reason, which follows the result).
    std::string identity() const;
};

// The day of a time: "2026-12-07" (UTC).
std::string utc_date(std::chrono::system_clock::time_point t);
// "2026-12-07" → its first second, nullopt when not a date of that form.
std::optional<std::chrono::system_clock::time_point> parse_utc_date(std::string_view date);

// The store's key (at most 511 octets: date, domain, then a digest of the rest, so a
// long policy does not make a long key) and detail (every field, one per line).
inline constexpr std::string_view kCountPrefix = "c\x1f";
std::string count_key(const TlsCount& c);
std::string count_prefix(std::string_view date);  // every count of one day
std::string encode_count_detail(const TlsCount& c);
// nullopt when the detail is not ours (a newer format, or damaged).
std::optional<TlsCount> decode_count(std::string_view detail, std::uint64_t count);
// The key that says a day's report for a domain was sent.
std::string sent_key(std::string_view date, std::string_view policy_domain);

// Who writes the report.
struct ReportSubmitter {
    std::string organization_name;  // the Default accepted domain, else the server's FQDN
    std::string submitter;          // the server's FQDN (TLS-Report-Submitter, file name)
    std::string contact_info;       // the From address (postmaster)
};

// RFC 8460 §4.4's JSON for one policy domain and one day, from that day's counts for
// the domain (others are ignored). Policies appear in the order first seen; failures
// are summed per (result-type, sending ip, receiving mx, receiving ip).
std::string report_json(const ReportSubmitter& who, std::string_view date, std::string_view policy_domain,
                        const std::vector<TlsCount>& counts);
// RFC 8460 §5.3's report-id and file name ("<submitter>!<domain>!<begin>!<end>.json.gz").
std::string report_id(const ReportSubmitter& who, std::string_view date, std::string_view policy_domain);
std::string report_file_name(const ReportSubmitter& who, std::string_view date, std::string_view policy_domain);

// gzip (RFC 1952) of `data` with zlib; and its inverse for tests (nullopt: not gzip,
// or larger than `max_size` unpacked).
std::string gzip(std::string_view data);
std::optional<std::string> gunzip(std::string_view data, std::size_t max_size = 64u << 20);

// The mail of one report (RFC 8460 §5.3): multipart/report; report-type="tlsrpt",
// a text/plain part for people and the application/tlsrpt+gzip attachment, with the
// TLS-Report-Domain and TLS-Report-Submitter fields and the Subject
// "Report Domain: <d> Submitter: <s> Report-ID: <id>". The envelope: null sender (no
// bounce of a report comes back to loop), the rua addresses with NOTIFY=NEVER;
// `route` gives each recipient's queue; expiration `expires`.
struct ReportMail {
    const ReportSubmitter& who;
    std::string_view date;
    std::string_view policy_domain;
    std::string_view json;
    std::vector<std::string> rua;  // mailto: addresses
    std::string from;              // the From: field's address
    std::chrono::system_clock::time_point now;
    std::chrono::seconds expiration{2 * 86400};
    std::function<std::pair<queue::QueueId, queue::DeliveryType>(std::string_view)> route;
};
queue::NewMessage report_message(const ReportMail& mail);

}  // namespace edge::sts
