// sync_bench: what EdgeSync costs the edge. (1) A full sync of N recipients as the
// listener does it: the batch text read and checked (BatchReader: parse, hex, SHA-256)
// and applied in one queue-db transaction (fsync). (2) An incremental sync of 1 %.
// (3) RCPT TO lookups per second through the Recipient Filter agent: HMAC-SHA-256 of
// the address and one LMDB read, half of them for addresses that exist.
//   sync_bench --dir DIR [--recipients 100000] [--lookups 1000000]
#include "queue_db.hpp"
#include "recipient_filter.hpp"
#include "sync_protocol.hpp"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>

using namespace edge;
using Clock = std::chrono::steady_clock;

namespace {
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// What the listener does with a batch's text: every record through the reader, then END.
edgesync::BatchReader read_batch(const std::string& text) {
    std::istringstream in(text);
    std::string line;
    std::getline(in, line);
    auto start = std::get<edgesync::BatchStart>(std::get<edgesync::Request>(edgesync::parse_request(line)));
    edgesync::BatchReader r(start);
    while (!r.complete() && std::getline(in, line))
        if (auto e = r.add_record(line)) throw std::runtime_error(*e);
    std::getline(in, line);
    if (auto e = r.finish(line)) throw std::runtime_error(*e);
    return r;
}
}  // namespace

int main(int argc, char** argv) {
    std::string dir;
    std::size_t n = 100'000, lookups = 1'000'000;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--dir") dir = argv[i + 1];
        else if (a == "--recipients") n = std::stoul(argv[i + 1]);
        else if (a == "--lookups") lookups = std::stoul(argv[i + 1]);
    }
    if (dir.empty()) {
        fmt::print(stderr, "usage: sync_bench --dir DIR [--recipients N] [--lookups N]\n");
        return 2;
    }
    std::filesystem::remove_all(dir + "/sync");
    std::filesystem::create_directories(dir + "/sync");
    auto opened = queue::QueueDb::open(dir + "/sync");
    if (!opened) throw std::runtime_error("open: " + opened.error().message());
    auto db = std::move(*opened);
    const std::string key = "0123456789abcdef0123456789abcdef";

    // The agent's side (not timed as the edge's cost): hash the directory, write the batch.
    auto t = Clock::now();
    edgesync::ReplicatedRecipients all;
    for (std::size_t i = 0; i < n; ++i) all.added.push_back(agents::recipient_hash(key, fmt::format("user{}@contoso.com", i)));
    const std::string full_text = edgesync::write_recipient_batch(edgesync::BatchMode::Full, 0, all);
    const double agent_s = seconds_since(t);

    t = Clock::now();
    auto reader = read_batch(full_text);
    const double read_s = seconds_since(t);
    queue::QueueDb::SyncBatch b;
    b.full_recipient_set = true;
    b.recipients_added = reader.recipients().added;
    t = Clock::now();
    if (!db->apply_sync_batch(b)) throw std::runtime_error("apply failed");
    const double apply_s = seconds_since(t);

    edgesync::ReplicatedRecipients delta;
    for (std::size_t i = 0; i < n / 100; ++i) {
        delta.removed.push_back(all.added[i]);
        delta.added.push_back(agents::recipient_hash(key, fmt::format("new{}@contoso.com", i)));
    }
    const std::string delta_text = edgesync::write_recipient_batch(edgesync::BatchMode::Delta, 1, delta);
    t = Clock::now();
    auto dreader = read_batch(delta_text);
    queue::QueueDb::SyncBatch d;
    d.recipients_added = dreader.recipients().added;
    d.recipients_removed = dreader.recipients().removed;
    if (!db->apply_sync_batch(d)) throw std::runtime_error("apply failed");
    const double delta_s = seconds_since(t);

    agents::RecipientFilterSettings s;
    s.recipient_validation_enabled = true;
    const queue::QueueDb* store = db.get();
    agents::RecipientFilter filter(s, key, [store](std::string_view h) { return store->recipient_known(h); });
    routing::AcceptedDomain contoso{"Contoso", "contoso.com", routing::AcceptedDomainType::Authoritative, true};
    std::size_t accepted = 0;
    t = Clock::now();
    for (std::size_t i = 0; i < lookups; ++i) {
        // Even: an existing user; odd: a made-up one (a harvest attempt).
        std::string a = i % 2 == 0 ? fmt::format("user{}@contoso.com", (i / 2) % (n - n / 100) + n / 100)
                                   : fmt::format("nobody{}@contoso.com", i);
        accepted += filter.check(a, &contoso, false) == agents::RecipientFilterVerdict::Accept;
    }
    const double lookup_s = seconds_since(t);
    if (accepted != (lookups + 1) / 2) throw std::runtime_error(fmt::format("lookups wrong: {} accepted", accepted));

    fmt::print("recipients={} batch_bytes={} agent_hash_and_write_s={:.3f}\n", n, full_text.size(), agent_s);
    fmt::print("full_sync: read_and_check_s={:.3f} apply_commit_s={:.3f} total_s={:.3f} recipients_per_s={:.0f}\n",
               read_s, apply_s, read_s + apply_s, static_cast<double>(n) / (read_s + apply_s));
    fmt::print("delta_sync: changes={} total_s={:.3f}\n", 2 * (n / 100), delta_s);
    fmt::print("RESULT full_sync_s={:.3f} rcpt_lookups_per_s={:.0f}\n", read_s + apply_s,
               static_cast<double>(lookups) / lookup_s);
    return 0;
}
