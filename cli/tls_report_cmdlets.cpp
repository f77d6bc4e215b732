// MTA-STS and TLS-RPT (issue 20): Get-TlsReport shows the TLS-RPT counts of outbound
// sessions (per day, recipient domain, policy, result and MX); Send-TlsReport mails a
// day's reports now, through the same code the server runs after 00:05 UTC for the
// day before; Get-MtaStsPolicy shows the MTA-STS policies cached. The settings
// (MtaStsEnabled, MtaStsPolicyPort, MtaStsFetchTimeout, TlsReportingEnabled) are
// Set-TransportServer's.
#include "cmdlet.hpp"

#include "config_store.hpp"
#include "host_name.hpp"
#include "mta_sts.hpp"
#include "queue_db.hpp"
#include "send_connector.hpp"
#include "tls_report.hpp"
#include "tls_report_service.hpp"
#include "typed_settings.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <fmt/format.h>

#include <chrono>

namespace edge::cli {

namespace {

namespace asio = boost::asio;

std::string date_param(const Invocation& inv, std::string_view name, const std::string& fallback) {
    const std::string* d = inv.get(name);
    if (d == nullptr) return fallback;
    if (!sts::parse_utc_date(*d)) fail(fmt::format("-{}: '{}' is not a date; expected yyyy-mm-dd (UTC), for example 2026-12-07", name, *d), 2);
    return *d;
}

std::string domain_param(const Invocation& inv) {
    const std::string* d = inv.get("Domain");
    if (d == nullptr) return {};
    std::string v = text::to_lower(*d);
    if (!v.empty() && v.back() == '.') v.pop_back();
    if (v.empty() || v.size() > 253 || v.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") != std::string::npos)
        fail(fmt::format("-Domain: '{}' is not a domain name", *d), 2);
    return v;
}

queue::Timestamp stamp(std::chrono::system_clock::time_point t) {
    return std::chrono::time_point_cast<std::chrono::microseconds>(t);
}

Output get_tls_report(Context& ctx, const Invocation& inv) {
    const std::string date = date_param(inv, "Date", "");
    const std::string domain = domain_param(inv);
    std::vector<Record> records;
    const std::string prefix = date.empty() ? std::string(sts::kCountPrefix) : sts::count_prefix(date);
    for (const auto& s : ctx.db->tls_report_scan(prefix, 1000000)) {
        auto c = sts::decode_count(s.detail, s.count);
        if (!c || (!domain.empty() && c->policy_domain != domain)) continue;
        Record r;
        r.add("Date", Value::of_text(c->date));
        r.add("Domain", Value::of_text(c->policy_domain));
        r.add("PolicyType", Value::of_text(c->policy_type));
        r.add("Result", Value::of_text(c->result_type.empty() ? "success" : c->result_type));
        r.add("MxHost", Value::of_text_or_null(c->mx_host));
        r.add("ReceivingIp", Value::of_text_or_null(c->receiving_ip));
        r.add("SendingIp", Value::of_text_or_null(c->sending_ip));
        r.add("Sessions", Value::of_number(static_cast<double>(c->count)));
        r.add("Reason", Value::of_text_or_null(c->reason));
        r.add("PolicyString", Value::of_list(c->policy_string));
        records.push_back(std::move(r));
    }
    Output out;
    out.records = select_records(std::move(records), inv,
                                 {"Date", "Domain", "PolicyType", "Result", "MxHost", "ReceivingIp", "SendingIp", "Sessions",
                                  "Reason", "PolicyString"});
    out.columns = {"Date", "Domain", "PolicyType", "Result", "MxHost", "Sessions"};
    return out;
}

Output send_tls_report(Context& ctx, const Invocation& inv) {
    const auto now = std::chrono::system_clock::now();
    const std::string date = date_param(inv, "Date", sts::utc_date(now - std::chrono::hours(24)));
    const std::string domain = domain_param(inv);
    const config::TransportServerSettings ts =
        config::transport_server_settings(config::load_singleton(*ctx.db, config::ObjectKind::TransportServer));
    std::vector<std::string> errors;
    std::shared_ptr<const send::SendConfig> cfg = send::load_send_config(*ctx.db, config::host_fqdn(), ctx.data_directory, &errors);
    asio::io_context io;
    sts::ResolverStsDns dns(io.get_executor());
    dns.apply(ts.internal_dns_servers, ts.external_dns_servers);
    std::vector<sts::PreparedReport> reports;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            auto prepare = sts::prepare_tls_reports(*ctx.db, dns, cfg, date, domain, /*again=*/true);
            reports = co_await std::move(prepare);
        },
        asio::detached);
    io.run();
    if (reports.empty())
        fail(domain.empty() ? fmt::format("no TLS sessions counted on {}; 'edgectl Get-TlsReport' shows the counts", date)
                            : fmt::format("no TLS sessions with {} counted on {}; 'edgectl Get-TlsReport' shows the counts",
                                          domain, date));
    std::vector<Record> records;
    bool any_failed = false;
    for (auto& rep : reports) {
        std::string status = "Queued";
        if (rep.message) {
            auto id = ctx.db->enqueue(std::move(*rep.message));
            if (!id) status = "NotQueued: " + id.error().message();
            else if (auto m = ctx.db->tls_report_mark(sts::sent_key(rep.date, rep.domain), sts::sent_marker_value(rep),
                                                      sts::expired_count_keys(*ctx.db, now));
                     !m)
                status = "Queued (not marked sent: " + m.error().message() + ")";
        } else {
            status = "NotSent: " + rep.skipped;
        }
        if (!status.starts_with("Queued")) any_failed = true;
        Record r;
        r.add("Date", Value::of_text(rep.date));
        r.add("Domain", Value::of_text(rep.domain));
        r.add("ReportId", Value::of_text(rep.report_id));
        r.add("Recipients", Value::of_list(rep.rua));
        r.add("SuccessfulSessions", Value::of_number(static_cast<double>(rep.successes)));
        r.add("FailedSessions", Value::of_number(static_cast<double>(rep.failures)));
        r.add("Status", Value::of_text(status));
        records.push_back(std::move(r));
    }
    Output out;
    out.records = std::move(records);
    out.columns = {"Date", "Domain", "Recipients", "SuccessfulSessions", "FailedSessions", "Status"};
    out.exit_code = any_failed ? 1 : 0;
    return out;
}

Output get_mta_sts_policy(Context& ctx, const Invocation& inv) {
    const std::string domain = domain_param(inv);
    std::vector<Record> records;
    for (const auto& [name, stored] : ctx.db->mta_sts_list(100000)) {
        if (!domain.empty() && name != domain) continue;
        auto c = sts::decode_cached_policy(stored);
        if (!c) continue;
        std::string why;
        auto p = sts::parse_sts_policy(c->text, &why);
        Record r;
        r.add("Domain", Value::of_text(name));
        r.add("Id", Value::of_text(c->id));
        r.add("Mode", Value::of_text(p ? std::string(sts::to_string(p->mode)) : "invalid: " + why));
        r.add("MaxAge", Value::of_number(p ? static_cast<double>(p->max_age.count()) : 0));
        r.add("Mx", Value::of_list(p ? p->mx : std::vector<std::string>{}));
        r.add("Fetched", Value::of_time(stamp(c->fetched)));
        r.add("Expires", Value::of_time(stamp(c->fetched + (p ? p->max_age : std::chrono::seconds(0)))));
        records.push_back(std::move(r));
    }
    if (!domain.empty() && records.empty())
        fail(fmt::format("no MTA-STS policy of {} is cached (none was fetched, or the domain publishes none)", domain));
    Output out;
    out.records = select_records(std::move(records), inv, {"Domain", "Id", "Mode", "MaxAge", "Mx", "Fetched", "Expires"});
    out.columns = {"Domain", "Mode", "Mx", "Expires"};
    return out;
}

}  // namespace

void add_tls_report_cmdlets(std::vector<Cmdlet>& table) {
    Cmdlet get{"Get-TlsReport",
               "Show the TLS-RPT counts of outbound sessions: per UTC day, recipient domain, policy (sts, tlsa, "
               "no-policy-found), result and MX host",
               {{"Domain", "String", "", "Only this recipient (policy) domain", false, false, true},
                {"Date", "String", "", "Only this UTC day, yyyy-mm-dd", false, false, false}},
               true,
               get_tls_report};
    for (auto& p : output_params()) get.params.push_back(std::move(p));
    table.push_back(std::move(get));
    Cmdlet send{"Send-TlsReport",
                "Mail a day's TLS-RPT reports now (RFC 8460) to the rua mailto: addresses each recipient domain publishes "
                "at _smtp._tls; the server sends the previous day's by itself after 00:05 UTC",
                {{"Date", "String", "", "The UTC day, yyyy-mm-dd; default yesterday", false, false, false},
                 {"Domain", "String", "", "Only this recipient (policy) domain", false, false, true}},
                true,
                send_tls_report};
    for (auto& p : output_params())
        if (p.name == "Format" || p.name == "Json") send.params.push_back(std::move(p));
    table.push_back(std::move(send));
    Cmdlet sts{"Get-MtaStsPolicy",
               "Show the MTA-STS policies cached (RFC 8461): mode, MX patterns, when each expires",
               {{"Domain", "String", "", "Only this recipient domain", false, false, true}},
               true,
               get_mta_sts_policy};
    for (auto& p : output_params()) sts.params.push_back(std::move(p));
    table.push_back(std::move(sts));
}

}  // namespace edge::cli
