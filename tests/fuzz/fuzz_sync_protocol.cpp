// The EdgeSync wire protocol (edgesync/sync_protocol.*): request lines and batches as
// the edge's sync listener reads them from the agent (after mutual TLS, but a stolen or
// replayed client certificate makes them untrusted too). An END line written "END *"
// gets the right digest, so the fuzzer reaches the end of a batch; a batch that is
// read whole is written again by the agent's writer and must read back the same.
#include "fuzz_target.hpp"
#include "sync_protocol.hpp"

#include <string>
#include <variant>

using namespace edge::edgesync;

namespace {
constexpr const char* kName = "sync_protocol";

std::optional<BatchReader> read_back(std::string_view text) {
    auto lf = text.find('\n');
    auto req = parse_request(text.substr(0, lf));
    FUZZ_CHECK_AT(kName, std::holds_alternative<Request>(req));
    auto* start = std::get_if<BatchStart>(&std::get<Request>(req));
    FUZZ_CHECK_AT(kName, start != nullptr);
    BatchReader r(*start);
    text.remove_prefix(lf + 1);
    while (!r.complete()) {
        lf = text.find('\n');
        FUZZ_CHECK_AT(kName, lf != std::string_view::npos);
        FUZZ_CHECK_AT(kName, !r.add_record(text.substr(0, lf)));
        text.remove_prefix(lf + 1);
    }
    FUZZ_CHECK_AT(kName, !r.finish(text.substr(0, text.size() - 1)));
    return r;
}

bool same(const ReplicatedConfig& a, const ReplicatedConfig& b) {
    if (a.site != b.site || a.hubs != b.hubs || a.no_domains != b.no_domains || a.domains.size() != b.domains.size())
        return false;
    for (std::size_t i = 0; i < a.domains.size(); ++i)
        if (a.domains[i].domain_name != b.domains[i].domain_name || a.domains[i].domain_type != b.domains[i].domain_type ||
            a.domains[i].default_domain != b.domains[i].default_domain)
            return false;
    return true;
}
}  // namespace

FUZZ_TARGET(sync_protocol) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    // Hex, both ways.
    std::string hex = to_hex(in.substr(0, 64));
    FUZZ_CHECK(from_hex(hex) == std::string(in.substr(0, 64)));
    if (auto raw = from_hex(in.substr(0, 128))) FUZZ_CHECK(to_hex(*raw).size() == std::min<std::size_t>(in.size(), 128));

    edge::fuzz::Tape tape(data, size);
    int requests = 0;
    while (!tape.empty() && ++requests < 64) {
        std::string_view line = tape.line();
        // The agent reads the edge's lease refusal; a domain type is read in any case.
        if (auto wait = lease_wait_seconds(line)) FUZZ_CHECK(lease_wait_seconds(lease_refusal("agent", *wait)) == wait);
        if (auto type = canonical_domain_type(line)) FUZZ_CHECK(canonical_domain_type(*type) == type);
        auto parsed = parse_request(line);
        if (!std::holds_alternative<Request>(parsed)) {
            FUZZ_CHECK(!std::get<std::string>(parsed).empty());
            continue;
        }
        if (auto* lease = std::get_if<Lease>(&std::get<Request>(parsed))) {
            FUZZ_CHECK(!lease->holder.empty());
            FUZZ_CHECK(lease_wait_seconds(lease_refusal(lease->agent, lease->seconds)) == lease->seconds);
        }
        auto* start = std::get_if<BatchStart>(&std::get<Request>(parsed));
        if (start == nullptr) continue;
        FUZZ_CHECK(start->count <= kMaxRecords);
        BatchReader reader(*start);
        std::string records;
        bool broken = false;
        while (!reader.complete() && !tape.empty()) {
            std::string_view rec = tape.line();
            records.append(rec).append("\n");
            if (reader.add_record(rec)) {
                broken = true;
                break;
            }
        }
        if (broken || !reader.complete()) continue;
        // More records than announced are refused.
        FUZZ_CHECK(reader.add_record("SITE extra").has_value());
        std::string end(tape.line());
        if (end == "END *") end = "END " + sha256_hex(records);
        if (reader.finish(end)) continue;
        FUZZ_CHECK(end == "END " + sha256_hex(records));
        if (start->kind == BatchKind::Config) {
            auto again = read_back(write_config_batch(reader.config()));
            FUZZ_CHECK(again && same(again->config(), reader.config()));
        } else {
            auto again = read_back(write_recipient_batch(start->mode, start->base_version, reader.recipients()));
            FUZZ_CHECK(again && again->recipients().added == reader.recipients().added &&
                       again->recipients().removed == reader.recipients().removed);
            for (const auto& h : reader.recipients().added) FUZZ_CHECK(h.size() == kHashBytes);
        }
    }
    return 0;
}
