// The server's counters and histograms: see registry.hpp.
#include "registry.hpp"

#include <algorithm>

namespace edge::metrics {

namespace {
void make_key(std::string& key, std::initializer_list<std::string_view> values) {
    key.clear();
    for (std::string_view v : values) {
        key.append(v);
        key.push_back('\0');
    }
}

Labels labels_of(const std::vector<std::string>& names, std::string_view key) {
    Labels out;
    std::size_t start = 0;
    for (const auto& n : names) {
        std::size_t end = key.find('\0', start);
        if (end == std::string_view::npos) end = key.size();
        out.emplace_back(n, std::string(key.substr(start, end - start)));
        start = std::min(key.size(), end + 1);
    }
    return out;
}
}  // namespace

CounterVec::CounterVec(std::string name, std::string help, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

void CounterVec::add(std::initializer_list<std::string_view> label_values, std::uint64_t n) {
    make_key(scratch_, label_values);
    auto it = values_.find(scratch_);
    if (it == values_.end()) it = values_.emplace(scratch_, 0).first;
    it->second += n;
}

std::uint64_t CounterVec::value(std::initializer_list<std::string_view> label_values) const {
    std::string key;
    make_key(key, label_values);
    auto it = values_.find(key);
    return it == values_.end() ? 0 : it->second;
}

Family CounterVec::collect() const {
    Family f{name_, help_, MetricType::Counter, {}, {}, {}};
    for (const auto& [key, v] : values_) f.samples.push_back({labels_of(label_names_, key), static_cast<double>(v)});
    return f;
}

HistogramVec::HistogramVec(std::string name, std::string help, std::vector<std::string> label_names,
                           std::vector<double> bounds)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)), bounds_(std::move(bounds)) {}

void HistogramVec::observe(std::initializer_list<std::string_view> label_values, double value) {
    make_key(scratch_, label_values);
    auto it = cells_.find(scratch_);
    if (it == cells_.end()) it = cells_.emplace(scratch_, Cell{std::vector<std::uint64_t>(bounds_.size() + 1), 0, 0}).first;
    Cell& c = it->second;
    // The first bound >= value: le is "less than or equal".
    auto b = std::lower_bound(bounds_.begin(), bounds_.end(), value);
    ++c.counts[static_cast<std::size_t>(b - bounds_.begin())];
    c.sum += value;
    ++c.count;
}

Family HistogramVec::collect() const {
    Family f{name_, help_, MetricType::Histogram, {}, bounds_, {}};
    for (const auto& [key, c] : cells_) f.histograms.push_back({labels_of(label_names_, key), c.counts, c.sum, c.count});
    return f;
}

ProcessCounters& process_counters() {
    static ProcessCounters counters;
    return counters;
}

std::vector<double> accept_latency_bounds() { return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}; }

std::vector<double> delivery_latency_bounds() {
    return {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 2 * 24 * 3600};
}

Registry::Registry()
    : sessions_accepted("edge_transport_receive_sessions_accepted_total",
                        "SMTP sessions accepted, by Receive connector", {"connector"}),
      messages("edge_transport_receive_messages_total",
               "Messages at the end of data, by Receive connector and the class of the reply (2xx received, 4xx/5xx refused)",
               {"connector", "class"}),
      accept_latency("edge_transport_receive_accept_latency_seconds",
                     "From the end of data to the reply (header checks, agents, the durable group commit)", {"connector"},
                     accept_latency_bounds()),
      delivery_attempts("edge_transport_delivery_attempts_total",
                        "Message attempts toward a next hop (one per message per connection), by Send connector",
                        {"connector"}),
      delivery_recipients("edge_transport_delivery_recipients_total",
                          "Recipient outcomes of delivery attempts, by Send connector and status class (2xx delivered, "
                          "4xx deferred, 5xx failed)",
                          {"connector", "class"}),
      delivery_latency("edge_transport_delivery_latency_seconds",
                       "From the message's arrival to its delivery to the next hop, per delivered recipient", {},
                       delivery_latency_bounds()) {}

std::vector<Family> Registry::collect() const {
    return {sessions_accepted.collect(), messages.collect(),          accept_latency.collect(),
            delivery_attempts.collect(), delivery_recipients.collect(), delivery_latency.collect()};
}

std::string_view reply_class(int code) {
    if (code >= 200 && code < 300) return "2xx";
    if (code >= 400 && code < 500) return "4xx";
    if (code >= 500 && code < 600) return "5xx";
    return "other";
}

}  // namespace edge::metrics
