// The Prometheus text exposition format 0.0.4: see exposition.hpp.
#include "exposition.hpp"

#include <fmt/format.h>

#include <cmath>

namespace edge::metrics {

namespace {
const char* type_name(MetricType t) {
    switch (t) {
        case MetricType::Counter: return "counter";
        case MetricType::Gauge: return "gauge";
        case MetricType::Histogram: return "histogram";
    }
    return "untyped";
}

// {a="x",b="y"}, with `extra` (le="…") last; nothing when there are no labels.
void append_labels(std::string& out, const Labels& labels, std::string_view extra_name = {}, std::string_view extra_value = {}) {
    if (labels.empty() && extra_name.empty()) return;
    out += '{';
    bool first = true;
    for (const auto& [name, value] : labels) {
        if (!first) out += ',';
        first = false;
        out += name;
        out += "=\"";
        out += escape_label_value(value);
        out += '"';
    }
    if (!extra_name.empty()) {
        if (!first) out += ',';
        out += extra_name;
        out += "=\"";
        out += extra_value;
        out += '"';
    }
    out += '}';
}
}  // namespace

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string escape_help(std::string_view help) {
    std::string out;
    out.reserve(help.size());
    for (char c : help) {
        if (c == '\\') out += "\\\\";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string format_value(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    // Counts are integers: no exponent for them up to 2^53 (exact in a double).
    if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0) return fmt::format("{}", static_cast<std::int64_t>(v));
    return fmt::format("{}", v);  // the shortest text that reads back as v
}

std::string render(const std::vector<Family>& families) {
    std::string out;
    for (const Family& f : families) {
        out += "# HELP " + f.name + " " + escape_help(f.help) + "\n";
        out += "# TYPE " + f.name + " " + type_name(f.type) + "\n";
        if (f.type != MetricType::Histogram) {
            for (const Sample& s : f.samples) {
                out += f.name;
                append_labels(out, s.labels);
                out += ' ';
                out += format_value(s.value);
                out += '\n';
            }
            continue;
        }
        for (const HistogramSample& h : f.histograms) {
            // Buckets are cumulative: le="x" counts every observation <= x.
            std::uint64_t cumulative = 0;
            for (std::size_t i = 0; i < f.bounds.size(); ++i) {
                cumulative += i < h.bucket_counts.size() ? h.bucket_counts[i] : 0;
                out += f.name + "_bucket";
                append_labels(out, h.labels, "le", format_value(f.bounds[i]));
                out += ' ' + format_value(static_cast<double>(cumulative)) + '\n';
            }
            out += f.name + "_bucket";
            append_labels(out, h.labels, "le", "+Inf");
            out += ' ' + format_value(static_cast<double>(h.count)) + '\n';
            out += f.name + "_sum";
            append_labels(out, h.labels);
            out += ' ' + format_value(h.sum) + '\n';
            out += f.name + "_count";
            append_labels(out, h.labels);
            out += ' ' + format_value(static_cast<double>(h.count)) + '\n';
        }
    }
    return out;
}

}  // namespace edge::metrics
