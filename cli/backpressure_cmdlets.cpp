// Get-BackPressure: what the running server's resource monitor last measured — the
// overall level and since when, and each resource's reading, level and thresholds.
// The server writes its snapshot to <data>/BackPressure.status after every sample;
// with the server down there is nothing current to show, and edgectl says so.
#include "cmdlet.hpp"

#include "back_pressure.hpp"
#include "data_dir_lock.hpp"

#include <fmt/format.h>

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


Output get_back_pressure(Context& ctx, const Invocation& inv) {
    if (!queue::running_server_pid(ctx.data_directory))
        fail(fmt::format("the server is not running on {}; back pressure is measured by the running server",
                         ctx.data_directory));
    auto snap = read_status_file(ctx.data_directory);
    if (!snap) fail("the server has not written a back-pressure sample yet; try again in a few seconds");

    std::vector<Record> records;
    Record overall;
    overall.add("Resource", Value::of_text("Overall"));
    overall.add("Level", Value::of_text(snap->monitoring_enabled ? to_string(snap->level) : "Normal"));
    overall.add("Reading", Value::null());
    overall.add("Unit", Value::null());
    overall.add("NormalThreshold", Value::null());
    overall.add("MediumThreshold", Value::null());
    overall.add("HighThreshold", Value::null());
    overall.add("SampleFailed", Value::of_bool(false));
    overall.add("Detail", Value::of_text(snap->monitoring_enabled ? "EnableResourceMonitoring is $true"
                                                                   : "EnableResourceMonitoring is $false"));
    overall.add("Since", Value::of_time(to_timestamp(snap->since)));
    overall.add("SampledAt", Value::of_time(to_timestamp(snap->sampled_at)));
    records.push_back(std::move(overall));
    for (const auto& r : snap->resources) {
        Record rec;
        rec.add("Resource", Value::of_text(r.resource));
        rec.add("Level", Value::of_text(to_string(r.level)));
        rec.add("Reading", reading(r.value, r.unit));
        rec.add("Unit", Value::of_text_or_null(r.unit));
        rec.add("NormalThreshold", reading(r.thresholds.normal, r.unit));
        rec.add("MediumThreshold", reading(r.thresholds.medium, r.unit));
        rec.add("HighThreshold", reading(r.thresholds.high, r.unit));
        rec.add("SampleFailed", Value::of_bool(r.sample_failed));
        std::string detail = r.detail;
        if (!r.failure.empty()) detail += (detail.empty() ? "" : "; ") + r.failure;
        if (r.storage_full_reported) detail += (detail.empty() ? "" : "; ") + std::string("held at High after a full commit");
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
