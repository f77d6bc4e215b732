// Get-BackPressure: what the running server's resource monitor last measured — the
// overall level and since when, and each resource's reading, level and thresholds.
// Asked first over the server's status socket (live, needs no disk space, issue 14);
// without an answer, read from <data>/BackPressure.status, which the server writes
// after every sample — and which a full queue volume stops: a file older than
// kStaleAfter is shown as Stale with the reasons, never as the current level. With the
// server down there is nothing current to show, and edgectl says so.
#include "cmdlet.hpp"

#include "back_pressure.hpp"
#include "data_dir_lock.hpp"

#include <fmt/format.h>

#include <sys/statvfs.h>

#include <cmath>

namespace edge::cli {

namespace {
using namespace edge::backpressure;

queue::Timestamp to_timestamp(std::chrono::system_clock::time_point t) {
    return std::chrono::time_point_cast<std::chrono::microseconds>(t);
}

Value reading(double v, const std::string& unit) {
    Value r = Value::of_number(unit == "%" ? std::floor(v) : v);
    r.text += unit;
    return r;
}


// The server samples every ResourceMonitoringInterval (2 s by default) and rewrites the
// file each time; older than this, the file is not the server's present.
constexpr auto kStaleAfter = std::chrono::seconds(10);

// Why a status file could not be refreshed, as far as edgectl can see.
std::string stale_reason(const std::string& data_directory, const std::string& socket_failure) {
    std::string why = fmt::format("the server did not answer on its status socket ({})", socket_failure);
    struct statvfs st {};
    if (::statvfs(data_directory.c_str(), &st) == 0) {
        const std::uint64_t free = static_cast<std::uint64_t>(st.f_bavail) * (st.f_frsize ? st.f_frsize : st.f_bsize);
        if (free < 1024 * 1024) why += "; the queue volume is full, so the server cannot rewrite its status file";
    }
    return why;
}

Output get_back_pressure(Context& ctx, const Invocation& inv) {
    auto pid = queue::running_server_pid(ctx.data_directory);
    if (!pid)
        fail(fmt::format("the server is not running on {}; back pressure is measured by the running server",
                         ctx.data_directory));
    std::string socket_failure;
    auto snap = read_status_socket(ctx.data_directory, *pid, &socket_failure);
    const bool live = snap.has_value();
    if (!snap) snap = read_status_file(ctx.data_directory);
    if (!snap) fail("the server has not written a back-pressure sample yet; try again in a few seconds");
    const bool stale = !live && std::chrono::system_clock::now() - snap->sampled_at > kStaleAfter;
    std::string overall_level = snap->monitoring_enabled ? to_string(snap->level) : "Normal";
    std::string overall_detail = snap->monitoring_enabled ? "EnableResourceMonitoring is $true"
                                                          : "EnableResourceMonitoring is $false";
    if (stale) {
        overall_detail = fmt::format("Stale: the status file was last written at SampledAt, more than {} s ago, with the "
                                     "level {}; {}",
                                     kStaleAfter.count(), overall_level, stale_reason(ctx.data_directory, socket_failure));
        overall_level = "Stale";
    } else if (!live) {
        overall_detail += fmt::format("; from the status file (no answer on the status socket: {})", socket_failure);
    }

    std::vector<Record> records;
    Record overall;
    overall.add("Resource", Value::of_text("Overall"));
    overall.add("Level", Value::of_text(overall_level));
    overall.add("Reading", Value::null());
    overall.add("Unit", Value::null());
    overall.add("NormalThreshold", Value::null());
    overall.add("MediumThreshold", Value::null());
    overall.add("HighThreshold", Value::null());
    overall.add("SampleFailed", Value::of_bool(false));
    overall.add("Detail", Value::of_text(overall_detail));
    overall.add("Since", Value::of_time(to_timestamp(snap->since)));
    overall.add("SampledAt", Value::of_time(to_timestamp(snap->sampled_at)));
    records.push_back(std::move(overall));
    for (const auto& r : snap->resources) {
        Record rec;
        rec.add("Resource", Value::of_text(r.resource));
        rec.add("Level", Value::of_text(stale ? "Stale" : to_string(r.level)));
        rec.add("Reading", reading(r.value, r.unit));
        rec.add("Unit", Value::of_text_or_null(r.unit));
        rec.add("NormalThreshold", reading(r.thresholds.normal, r.unit));
        rec.add("MediumThreshold", reading(r.thresholds.medium, r.unit));
        rec.add("HighThreshold", reading(r.thresholds.high, r.unit));
        rec.add("SampleFailed", Value::of_bool(r.sample_failed));
        std::string detail = r.detail;
        if (!r.failure.empty()) detail += (detail.empty() ? "" : "; ") + r.failure;
        if (r.storage_full_reported) detail += (detail.empty() ? "" : "; ") + std::string("held at High after a full commit");
        if (stale) detail += fmt::format("{}stale: {} when last sampled", detail.empty() ? "" : "; ", to_string(r.level));
        rec.add("Detail", Value::of_text_or_null(detail));
        rec.add("Since", Value::null());
        rec.add("SampledAt", Value::of_time(to_timestamp(snap->sampled_at)));
        records.push_back(std::move(rec));
    }
    Output out;
    const auto names = records.front().names();  // the Overall record: every resource has the same
    out.records = select_records(std::move(records), inv, names);
    out.columns = {"Resource", "Level", "Reading", "NormalThreshold", "MediumThreshold", "HighThreshold", "Since"};
    return out;
}

}  // namespace

void add_backpressure_cmdlets(std::vector<Cmdlet>& table) {
    Cmdlet c{"Get-BackPressure",
             "The running server's back-pressure level, since when, and each resource's reading and thresholds",
             {},
             false,
             get_back_pressure};
    for (auto& p : output_params()) c.params.push_back(std::move(p));
    table.push_back(std::move(c));
}

}  // namespace edge::cli
