// ip_list_fill: writes N IP Block List entries into a data directory's config store in
// one transaction, for receive_bench's agents-on cell. edgectl Add-IPBlockListEntry
// takes a process, a scan of the list (Identity = max + 1) and a commit per entry: fine
// for an administrator, hours for 100,000. Half the entries are single addresses in
// 10.0.0.0/8, half /28 blocks in 11.0.0.0/8; none holds the bench's client 127.0.0.1.
//   ip_list_fill --data DIR [--entries N]
#include "queue_db.hpp"
#include "settings.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

std::string v4(std::uint32_t a) {
    return fmt::format("{}.{}.{}.{}", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

}  // namespace

int main(int argc, char** argv) {
    std::string data;
    std::uint64_t entries = 100000;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string_view a = argv[i];
        if (a == "--data") data = argv[i + 1];
        else if (a == "--entries") entries = std::strtoull(argv[i + 1], nullptr, 10);
        else {
            fmt::print(stderr, "usage: ip_list_fill --data DIR [--entries N]\n");
            return 2;
        }
    }
    if (data.empty() || entries == 0 || entries > 4000000) {
        fmt::print(stderr, "usage: ip_list_fill --data DIR [--entries N (1..4000000)]\n");
        return 2;
    }
    auto opened = edge::queue::QueueDb::open(data);
    if (!opened) {
        fmt::print(stderr, "ip_list_fill: cannot open {}: {}\n", data, opened.error().message());
        return 1;
    }
    auto& db = **opened;
    using edge::config::ObjectKind;
    const std::string kind = edge::config::to_string(ObjectKind::IPBlockListEntry);
    std::uint64_t first = 1;
    for (const auto& r : db.config_list(kind)) first = std::max<std::uint64_t>(first, std::strtoull(r.name.c_str(), nullptr, 10) + 1);
    std::vector<edge::queue::ConfigChange> changes;
    changes.reserve(entries);
    for (std::uint64_t i = 0; i < entries; ++i) {
        edge::config::ConfigObject o(ObjectKind::IPBlockListEntry);
        const auto n = static_cast<std::uint32_t>(i / 2);
        const std::string range = i % 2 == 0 ? v4((10u << 24) + n * 2 + 1) : v4((11u << 24) + n * 16) + "/28";
        for (auto [name, value] : {std::pair<std::string_view, std::string_view>{"IPRange", range},
                                   {"Comment", "receive_bench"}}) {
            if (auto err = o.set(name, value); !err.empty()) {
                fmt::print(stderr, "ip_list_fill: {}: {}\n", name, err);
                return 1;
            }
        }
        changes.push_back({kind, std::to_string(first + i), o.serialize()});
    }
    auto applied = db.config_apply(std::move(changes));
    if (!applied) {
        fmt::print(stderr, "ip_list_fill: {}\n", applied.error().message());
        return 1;
    }
    fmt::print("ip_list_fill: {} IPBlockListEntry objects, Identity {}..{}\n", entries, first, first + entries - 1);
    return 0;
}
