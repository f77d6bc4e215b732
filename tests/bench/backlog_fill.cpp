// backlog_fill: puts N messages into a data directory's queue, as a long outage of the
// next hop would leave them (issue 21, "a million queued messages"). Every message is
// committed through QueueDb's group commit, with WINDOW enqueues in flight, so the
// directory is exactly what the receive side would have written. Used by
// tests/bench/backlog_bench.sh; prints "FILL messages=N seconds=S msgs_per_s=R".
//   backlog_fill --dir DATA --messages N [--size BYTES] [--domain bench.test] [--queue Q] [--window 512]
// --queue: the next-hop queue the categorizer would choose (a Send connector to smart hosts
// names its queue after itself, lower case: "tosink"); default the domain.
#include "queue_db.hpp"

#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

using namespace edge::queue;

int main(int argc, char** argv) {
    std::string dir, domain = "bench.test", queue_name;
    std::uint64_t count = 0, size = 2048, window = 512;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string_view k = argv[i];
        std::string v = argv[i + 1];
        if (k == "--dir") dir = v;
        else if (k == "--messages") count = std::strtoull(v.c_str(), nullptr, 10);
        else if (k == "--size") size = std::strtoull(v.c_str(), nullptr, 10);
        else if (k == "--domain") domain = v;
        else if (k == "--queue") queue_name = v;
        else if (k == "--window") window = std::strtoull(v.c_str(), nullptr, 10);
        else {
            fmt::print(stderr, "backlog_fill: unknown option {}\n", k);
            return 2;
        }
    }
    if (dir.empty() || count == 0 || window == 0) {
        fmt::print(stderr, "usage: backlog_fill --dir DATA --messages N [--size BYTES] [--domain D] [--window W]\n");
        return 2;
    }
    if (queue_name.empty()) queue_name = domain;
    QueueDbOptions options;
    options.reserve_size = 0;
    auto opened = QueueDb::open(dir, options);
    if (!opened) {
        fmt::print(stderr, "backlog_fill: {}: {}\n", dir, opened.error().message());
        return 1;
    }
    QueueDb& db = **opened;
    std::string header = fmt::format("From: <bench@client.bench.test>\r\nTo: <rcpt@{}>\r\nSubject: backlog\r\n"
                                     "Message-ID: <{{}}@client.bench.test>\r\n\r\n",
                                     domain);
    std::mutex mu;
    std::condition_variable cv;
    std::uint64_t in_flight = 0, done = 0, failed = 0;
    const auto start = std::chrono::steady_clock::now();
    for (std::uint64_t n = 1; n <= count; ++n) {
        NewMessage m;
        Envelope& e = m.envelope;
        e.sender = "bench@client.bench.test";
        e.arrival_time = now_timestamp();
        e.expiration_time = e.arrival_time + std::chrono::hours(48);
        e.receive_connector = "Bench";
        e.client_address = "127.0.0.1";
        e.client_hostname = "client.bench.test";
        e.internet_message_id = fmt::format("<{}@client.bench.test>", n);
        Recipient r;
        r.address = "rcpt@" + domain;
        r.next_hop = QueueId::next_hop_domain(queue_name);
        r.delivery_type = DeliveryType::SmartHostConnectorDelivery;
        e.recipients.push_back(std::move(r));
        std::string body = fmt::format(fmt::runtime(header), n);
        while (body.size() + 2 < size) body.append(std::min<std::size_t>(76, size - body.size() - 2), 'x').append("\r\n");
        e.size = body.size();
        m.body.chunks.push_back(std::move(body));
        {
            std::unique_lock lk(mu);
            cv.wait(lk, [&] { return in_flight < window; });
            ++in_flight;
        }
        db.enqueue_async(std::move(m), [&](std::error_code ec, MessageId) {
            std::lock_guard lk(mu);
            --in_flight;
            ++done;
            if (ec) ++failed;
            cv.notify_all();
        });
    }
    {
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return in_flight == 0; });
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    db.close();
    if (failed != 0) {
        fmt::print(stderr, "backlog_fill: {} of {} enqueues failed\n", failed, done);
        return 1;
    }
    fmt::print("FILL messages={} seconds={:.1f} msgs_per_s={:.0f}\n", count, seconds, static_cast<double>(count) / seconds);
    return 0;
}
