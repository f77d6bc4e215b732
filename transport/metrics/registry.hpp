// The server's counters and histograms (issue 21). Two kinds, so the hot path never
// takes a lock:
//   - CounterVec / HistogramVec belong to ONE thread (the I/O thread, which runs every
//     session, the delivery scheduler and the metrics endpoint): plain integers in a
//     map keyed by label values, updated and read on that thread only;
//   - AtomicCounter is for the threads that are not the I/O thread (queue committers,
//     log writers): one relaxed atomic add, read at scrape.
// Registry holds the instruments the server's parts update; what is read from other
// parts at scrape (queues, back pressure, agents' verdicts) is added by the server.
#pragma once

#include "exposition.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace edge::metrics {

class CounterVec {
public:
    CounterVec(std::string name, std::string help, std::vector<std::string> label_names);
    // Values in the order of the label names; a missing one is "".
    void add(std::initializer_list<std::string_view> label_values, std::uint64_t n = 1);
    std::uint64_t value(std::initializer_list<std::string_view> label_values) const;
    Family collect() const;

private:
    std::string name_, help_;
    std::vector<std::string> label_names_;
    std::map<std::string, std::uint64_t, std::less<>> values_;  // label values joined by '\0'
    std::string scratch_;  // the key of the last add, reused: no allocation once warm
};

class HistogramVec {
public:
    HistogramVec(std::string name, std::string help, std::vector<std::string> label_names, std::vector<double> bounds);
    void observe(std::initializer_list<std::string_view> label_values, double value);
    Family collect() const;

private:
    struct Cell {
        std::vector<std::uint64_t> counts;  // bounds.size() + 1
        double sum = 0;
        std::uint64_t count = 0;
    };
    std::string name_, help_;
    std::vector<std::string> label_names_;
    std::vector<double> bounds_;
    std::map<std::string, Cell, std::less<>> cells_;
    std::string scratch_;
};

class AtomicCounter {
public:
    void add(std::uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> v_{0};
};

// Counters of parts that have no handle on the server (DNS resolvers, log writers):
// process-wide relaxed atomics.
struct ProcessCounters {
    AtomicCounter dns_queries;   // every query sent (each server tried counts)
    AtomicCounter dns_failures;  // queries that got no usable answer (timeout, SERVFAIL, network)
    AtomicCounter log_bytes;     // bytes written to every log (protocol, tracking, agent, ...)
    // TLS handshakes: inbound STARTTLS (the I/O thread) and outbound (a Send connector's).
    AtomicCounter tls_inbound_ok, tls_inbound_failed;
    AtomicCounter tls_outbound_ok, tls_outbound_failed;
    AtomicCounter tls_outbound_verification_failures;  // the peer did not prove what the policy asks
};
ProcessCounters& process_counters();

// Latency buckets, seconds: accept (end of data to the 250 after the group commit) and
// delivery (arrival to the remote 250) live on different scales.
std::vector<double> accept_latency_bounds();
std::vector<double> delivery_latency_bounds();

// The instruments the I/O thread updates. Names follow Prometheus's conventions.
struct Registry {
    Registry();
    // Receive side, per Receive connector.
    CounterVec sessions_accepted;  // connections that became sessions
    CounterVec messages;           // end of data, by reply class (2xx, 4xx, 5xx)
    HistogramVec accept_latency;   // end of data -> reply (the group commit in it)
    // Send side, per Send connector ("" = delivered without one, e.g. by DNS to itself).
    CounterVec delivery_attempts;    // connections' message attempts
    CounterVec delivery_recipients;  // recipient outcomes by status class
    HistogramVec delivery_latency;   // arrival -> delivered
    std::vector<Family> collect() const;
};

// "2xx", "4xx", "5xx" for an SMTP reply code (or an enhanced status "4.x.x").
std::string_view reply_class(int code);

}  // namespace edge::metrics
