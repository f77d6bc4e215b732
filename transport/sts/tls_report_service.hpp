// TLS-RPT at work: the send side's TlsResultSink (counts kept in memory on the I/O
// thread, written to the queue database in batches every two seconds — never a commit
// per session), and the daily reports: for each policy domain with counts of a day and
// a `_smtp._tls` record, the RFC 8460 report mailed to its rua mailto: addresses by
// enqueueing it into our own queue, as DSNs are. The server sends the previous UTC
// day's reports after 00:05 UTC; `edgectl Send-TlsReport` sends any day's now, through
// the same prepare_tls_reports(). HTTPS rua endpoints are not posted to.
#pragma once

#include "mta_sts.hpp"
#include "send_connector.hpp"
#include "tls_policy.hpp"
#include "tls_report.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace edge::queue {
class QueueDb;
}

namespace edge::sts {

// The count of one TLS attempt, as record() keeps it (pure: for tests).
std::optional<TlsCount> count_of(const send::TlsAttemptResult& r, std::chrono::system_clock::time_point now);

// Who reports, from the configuration: organization-name the Default accepted
// domain's name (else the FQDN), submitter the FQDN, contact-info the DSN From
// address (ExternalPostmasterAddress, else postmaster@…).
ReportSubmitter report_submitter(const send::SendConfig& cfg);

// One day's report for one domain: made (message set), or not and why.
struct PreparedReport {
    std::string date, domain;
    std::string report_id;
    std::vector<std::string> rua;
    std::uint64_t successes = 0, failures = 0;
    std::optional<queue::NewMessage> message;
    std::string json;     // the report, for tests and logs
    std::string skipped;  // why no message: "no _smtp._tls record", "sent already"
};
// The reports of `date` ("2026-12-07"), for `only_domain` or every domain with counts;
// a domain already sent for that date is skipped unless `again`. Looks up each
// domain's `_smtp._tls` record through `dns` (ExternalDNSServers).
boost::asio::awaitable<std::vector<PreparedReport>> prepare_tls_reports(const queue::QueueDb& db, StsDns& dns,
                                                                      std::shared_ptr<const send::SendConfig> cfg,
                                                                      std::string date, std::string only_domain,
                                                                      bool again);
// The marker written once a report is queued (tls_report_mark), and the old counts it
// clears: counts are kept 14 days (Get-TlsReport shows them).
std::string sent_marker_value(const PreparedReport& r);
std::vector<std::string> expired_count_keys(const queue::QueueDb& db, std::chrono::system_clock::time_point now);

class TlsReportService final : public send::TlsResultSink {
public:
    TlsReportService(boost::asio::any_io_executor executor, queue::QueueDb* db, StsDns& dns);
    ~TlsReportService() override;
    void configure(bool enabled, std::shared_ptr<const send::SendConfig> cfg);
    void record(const send::TlsAttemptResult& r) override;
    // Every two seconds: the counts gathered go to the database; after 00:05 UTC the
    // previous day's reports are sent (once: the sent markers say which were).
    boost::asio::awaitable<void> run();
    // At shutdown, after the I/O thread stopped: writes what is pending (blocking).
    void flush_now();
    // Called after reports were queued (the delivery scheduler should look), and for log lines.
    std::function<void()> on_queued;
    std::function<void(const std::string&)> say;

private:
    void flush();
    boost::asio::awaitable<void> send_day(std::string date);

    boost::asio::any_io_executor executor_;
    queue::QueueDb* db_;
    StsDns& dns_;
    bool enabled_ = true;
    std::shared_ptr<const send::SendConfig> cfg_;
    std::map<std::string, TlsCount> pending_;  // by TlsCount::identity()
    std::string last_daily_;                   // the day whose reports were last sent
};

}  // namespace edge::sts
