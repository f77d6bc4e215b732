// TLS-RPT counting and the daily reports (tls_report_service.hpp).
#include "tls_report_service.hpp"

#include "completion.hpp"
#include "queue_db.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <future>

namespace edge::sts {

namespace asio = boost::asio;
using async::use_tuple;

namespace {

constexpr std::chrono::seconds kFlushInterval{2};
constexpr std::size_t kMaxPending = 10000;          // distinct counts held before an early write
constexpr std::chrono::hours kCountsKept{14 * 24};  // Get-TlsReport's history
constexpr std::chrono::minutes kDailyAt{5};          // 00:05 UTC: the previous day is over everywhere we count

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::vector<TlsCount> decode_all(const std::vector<queue::QueueDb::TlsReportCount>& stored) {
    std::vector<TlsCount> out;
    for (const auto& s : stored)
        if (auto c = decode_count(s.detail, s.count)) out.push_back(std::move(*c));
    return out;
}

}  // namespace

std::optional<TlsCount> count_of(const send::TlsAttemptResult& r, std::chrono::system_clock::time_point now) {
    if (r.policy_domain.empty()) return std::nullopt;  // smart hosts: nobody to report to
    TlsCount c;
    c.date = utc_date(now);
    c.policy_domain = lower(r.policy_domain.substr(0, 253));
    c.policy_type = r.policy_type.empty() ? "no-policy-found" : r.policy_type;
    if (c.policy_type != "no-policy-found") c.policy_string = r.policy_text;
    if (c.policy_type == "sts")
        for (const auto& line : r.policy_text)
            if (line.starts_with("mx:")) {
                std::string_view v = std::string_view(line).substr(3);
                while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
                while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
                c.mx_patterns.emplace_back(v);
            }
    if (!r.success) c.result_type = r.result_type.empty() ? "validation-failure" : r.result_type;
    c.mx_host = r.mx_host;
    c.receiving_ip = r.receiving_ip;
    c.sending_ip = r.sending_ip;
    if (!r.success) c.reason = r.reason.substr(0, 256);
    c.count = 1;
    return c;
}

ReportSubmitter report_submitter(const send::SendConfig& cfg) {
    ReportSubmitter who;
    who.submitter = cfg.server_fqdn;
    who.contact_info = cfg.settings.postmaster;
    auto at = who.contact_info.rfind('@');
    who.organization_name = at == std::string::npos ? cfg.server_fqdn : who.contact_info.substr(at + 1);
    return who;
}

std::string sent_marker_value(const PreparedReport& r) {
    std::string rua;
    for (const auto& a : r.rua) rua += (rua.empty() ? "" : ",") + a;
    return fmt::format("{}\n{}\n{}\n{}", r.report_id, rua, r.successes, r.failures);
}

std::vector<std::string> expired_count_keys(const queue::QueueDb& db, std::chrono::system_clock::time_point now) {
    const std::string oldest = utc_date(now - kCountsKept);
    std::vector<std::string> out;
    for (const auto& s : db.tls_report_scan(kCountPrefix, 100000)) {
        std::string_view date = std::string_view(s.key).substr(kCountPrefix.size(), 10);
        if (date < oldest) out.push_back(s.key);
    }
    for (const auto& s : db.tls_report_scan("s\x1f", 100000)) {
        std::string_view date = std::string_view(s.key).substr(2, 10);
        if (date < oldest) out.push_back(s.key);
    }
    return out;
}

asio::awaitable<std::vector<PreparedReport>> prepare_tls_reports(const queue::QueueDb& db, StsDns& dns,
                                                                std::shared_ptr<const send::SendConfig> cfg,
                                                                std::string date, std::string only_domain, bool again) {
    std::vector<PreparedReport> out;
    const std::vector<TlsCount> counts = decode_all(db.tls_report_scan(count_prefix(date), 1000000));
    std::vector<std::string> domains;
    for (const auto& c : counts)
        if ((only_domain.empty() || c.policy_domain == only_domain) &&
            std::find(domains.begin(), domains.end(), c.policy_domain) == domains.end())
            domains.push_back(c.policy_domain);
    const ReportSubmitter who = report_submitter(*cfg);
    for (const auto& domain : domains) {
        PreparedReport r;
        r.date = date;
        r.domain = domain;
        r.report_id = report_id(who, date, domain);
        for (const auto& c : counts)
            if (c.policy_domain == domain) (c.result_type.empty() ? r.successes : r.failures) += c.count;
        auto sent = db.tls_report_scan(sent_key(date, domain), 1);
        if (!again && !sent.empty() && sent.front().key == sent_key(date, domain)) {
            r.skipped = "sent already";
            out.push_back(std::move(r));
            continue;
        }
        const std::string name = "_smtp._tls." + domain;
        auto lookup = dns.resolve_txt(name, /*external=*/true);
        auto txt = co_await std::move(lookup);
        std::string why;
        std::optional<TlsRptRecord> record;
        if (txt.status == dns::DnsStatus::Ok) record = select_tlsrpt_record(txt.texts, &why);
        else why = txt.error.empty() ? std::string(dns::to_string(txt.status)) : txt.error;
        if (!record || record->mailto.empty()) {
            r.skipped = record ? fmt::format("{} names no mailto: rua (https: reports are not sent)", name)
                               : fmt::format("no TLS-RPT record at {}: {}", name, why);
            out.push_back(std::move(r));
            continue;
        }
        r.rua = record->mailto;
        r.json = report_json(who, date, domain, counts);
        ReportMail mail{who, date, domain, r.json, r.rua, cfg->settings.postmaster, std::chrono::system_clock::now(),
                        std::chrono::seconds(2 * 86400),
                        [cfg](std::string_view address) { return cfg->queue_for(address); }};
        r.message = report_message(mail);
        out.push_back(std::move(r));
    }
    co_return out;
}

TlsReportService::TlsReportService(asio::any_io_executor executor, queue::QueueDb* db, StsDns& dns)
    : executor_(std::move(executor)), db_(db), dns_(dns) {}

TlsReportService::~TlsReportService() = default;

void TlsReportService::configure(bool enabled, std::shared_ptr<const send::SendConfig> cfg) {
    enabled_ = enabled;
    cfg_ = std::move(cfg);
}

void TlsReportService::record(const send::TlsAttemptResult& r) {
    if (!enabled_) return;
    auto c = count_of(r, std::chrono::system_clock::now());
    if (!c) return;
    auto [it, fresh] = pending_.try_emplace(c->identity(), *c);
    if (!fresh) it->second.count += 1;
    if (pending_.size() >= kMaxPending) flush();  // bounded memory: write early
}

void TlsReportService::flush() {
    if (pending_.empty() || db_ == nullptr) return;
    std::vector<queue::QueueDb::TlsReportCount> adds;
    adds.reserve(pending_.size());
    for (auto& [id, c] : pending_) adds.push_back({count_key(c), c.count, encode_count_detail(c)});
    pending_.clear();
    auto log = say;
    db_->tls_report_add_async(std::move(adds), [log](std::error_code ec) {
        // Counts are statistics: a failed batch is said and dropped, never retried forever.
        if (ec && log) log("tls-rpt: counts not written: " + ec.message());
    });
}

void TlsReportService::flush_now() {
    if (pending_.empty() || db_ == nullptr) return;
    std::vector<queue::QueueDb::TlsReportCount> adds;
    for (auto& [id, c] : pending_) adds.push_back({count_key(c), c.count, encode_count_detail(c)});
    pending_.clear();
    (void)db_->tls_report_add(std::move(adds));
}

asio::awaitable<void> TlsReportService::send_day(std::string date) {
    auto cfg = cfg_;
    if (!cfg || db_ == nullptr) co_return;
    auto prepare = prepare_tls_reports(*db_, dns_, cfg, date, {}, /*again=*/false);
    auto reports = co_await std::move(prepare);
    bool queued = false;
    for (auto& r : reports) {
        if (!r.message) {
            if (r.skipped != "sent already" && say) say(fmt::format("tls-rpt: no report for {} on {}: {}", r.domain, date, r.skipped));
            continue;
        }
        queue::NewMessage m = std::move(*r.message);
        auto [ec, id] = co_await async::await_completion<std::error_code, queue::MessageId>(
            [this, &m](auto done) { db_->enqueue_async(std::move(m), std::move(done)); });
        (void)id;
        if (ec) {
            if (say) say(fmt::format("tls-rpt: the report for {} on {} was not queued: {}", r.domain, date, ec.message()));
            continue;
        }
        queued = true;
        auto erase = expired_count_keys(*db_, std::chrono::system_clock::now());
        auto [mark_ec] = co_await async::await_completion<std::error_code>([this, &r, &erase](auto done) {
            db_->tls_report_mark_async(sent_key(r.date, r.domain), sent_marker_value(r), std::move(erase), std::move(done));
        });
        if (say)
            say(fmt::format("tls-rpt: report {} for {} on {} queued to {} ({} successful, {} failed sessions){}", r.report_id,
                            r.domain, date, r.rua.front(), r.successes, r.failures,
                            mark_ec ? "; not marked sent: " + mark_ec.message() : std::string()));
    }
    if (queued && on_queued) on_queued();
}

asio::awaitable<void> TlsReportService::run() {
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer timer(ex);
    for (;;) {
        timer.expires_after(kFlushInterval);
        auto [ec] = co_await timer.async_wait(use_tuple);
        if (ec) co_return;
        flush();
        if (!enabled_) continue;
        const auto now = std::chrono::system_clock::now();
        const std::string today = utc_date(now);
        if (today == last_daily_ || now - *parse_utc_date(today) < kDailyAt) continue;
        last_daily_ = today;
        auto send = send_day(utc_date(now - std::chrono::hours(24)));
        co_await std::move(send);
    }
}

}  // namespace edge::sts
