// The Prometheus text exposition format 0.0.4: metric families in, text out. Pure (no
// I/O, no clock), so every rule of the format is a unit test: label values escaped,
// histogram buckets cumulative and ending at +Inf, one HELP and TYPE per family.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edge::metrics {

// What the HTTP endpoint answers with (Prometheus's "text/plain; version=0.0.4").
inline constexpr std::string_view kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType : std::uint8_t { Counter, Gauge, Histogram };

using Labels = std::vector<std::pair<std::string, std::string>>;  // name -> value, in order

struct Sample {
    Labels labels;
    double value = 0;
};

// One histogram series: counts per bucket as observed (not cumulative), one per bound
// of the family and a last one for values above every bound.
struct HistogramSample {
    Labels labels;
    std::vector<std::uint64_t> bucket_counts;
    double sum = 0;
    std::uint64_t count = 0;
};

struct Family {
    std::string name;  // edge_transport_..._total for counters, base units (_seconds, _bytes)
    std::string help;
    MetricType type = MetricType::Counter;
    std::vector<Sample> samples;              // Counter, Gauge
    std::vector<double> bounds;               // Histogram: ascending upper bounds, +Inf implied
    std::vector<HistogramSample> histograms;  // Histogram
};

// The families as the format writes them, each with its # HELP and # TYPE lines.
std::string render(const std::vector<Family>& families);

// A label value with \ " and newline escaped (the only escapes 0.0.4 knows).
std::string escape_label_value(std::string_view value);
// HELP text: \ and newline escaped.
std::string escape_help(std::string_view help);
// A sample value: integers without exponent or point, +Inf/-Inf/NaN as the format spells them.
std::string format_value(double value);

}  // namespace edge::metrics
