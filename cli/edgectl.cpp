// edgectl — queue inspection over queue-db, the first cmdlets of the administration CLI.
// Works on the data directory directly, whether or not the server runs.
// The full Exchange-shell grammar (-Filter, -Format List, -Json, connectors) is the
// edgectl issue's work; this file grows into one file per noun then.
#include "config_cmdlets.hpp"
#include "queue_db.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <strings.h>
#include <vector>

namespace {

using namespace edge::queue;

int usage() {
    std::fputs(
        "usage: edgectl [--data DIR] <cmdlet> [arguments]\n"
        "  Get-Queue                       list queues (Identity, DeliveryType, Status, MessageCount, NextHopDomain)\n"
        "  Get-Message [-Queue NAME]       list messages (Identity, FromAddress, Status, Size, Queue)\n"
        "  Export-Message ID -Path FILE    write the message as queued, byte for byte\n"
        "  Test-QueueDatabase              check every record and index of the queue database\n"
        "  New-|Set-|Get-|Remove-ReceiveConnector [Name] [-Parameter value]...\n"
        "  New-|Set-|Get-|Remove-SendConnector [Name] [-Parameter value]...\n"
        "  New-|Set-|Get-|Remove-AcceptedDomain [Name] [-Parameter value]...\n"
        "  Get-|Set-TransportServer [-Parameter value]...\n",
        stderr);
    return 2;
}

bool iequals(const std::string& a, const char* b) { return ::strcasecmp(a.c_str(), b) == 0; }

std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
    std::string h(buf);
    return h.substr(0, h.find('.'));
}

int get_queue(QueueDb& db) {
    std::string server = host_name();
    fmt::print("{:<40} {:<28} {:<10} {:>12} {}\n", "Identity", "DeliveryType", "Status", "MessageCount", "NextHopDomain");
    fmt::print("{:<40} {:<28} {:<10} {:>12} {}\n", "--------", "------------", "------", "------------", "-------------");
    for (const auto& q : db.list_queues())
        fmt::print("{:<40} {:<28} {:<10} {:>12} {}\n", server + "\\" + q.id.name(), to_string(q.delivery_type),
                   to_string(q.status), q.message_count, q.id.name());
    return 0;
}

int get_message(QueueDb& db, const std::vector<std::string>& args) {
    MessageFilter filter;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (iequals(args[i], "-Queue") && i + 1 < args.size()) {
            std::string name = args[++i];
            if (auto slash = name.rfind('\\'); slash != std::string::npos) name = name.substr(slash + 1);
            filter.queue = QueueId::parse(name);
            if (!filter.queue) {
                fmt::print(stderr, "edgectl: Get-Message: -Queue: not a queue identity: {}\n", args[i]);
                return 1;
            }
        } else {
            fmt::print(stderr, "edgectl: Get-Message: unknown parameter {}\n", args[i]);
            return 2;
        }
    }
    std::string server = host_name();
    fmt::print("{:<40} {:<32} {:<14} {:>10} {}\n", "Identity", "FromAddress", "Status", "Size", "Queue");
    fmt::print("{:<40} {:<32} {:<14} {:>10} {}\n", "--------", "-----------", "------", "----", "-----");
    for (const auto& m : db.list_messages(filter))
        fmt::print("{:<40} {:<32} {:<14} {:>10} {}\n", fmt::format("{}\\{}\\{}", server, m.queue.name(), m.id),
                   m.envelope.sender.empty() ? "<>" : m.envelope.sender, to_string(m.status), m.envelope.size,
                   server + "\\" + m.queue.name());
    return 0;
}

int export_message(QueueDb& db, const std::vector<std::string>& args) {
    std::string id_text, path;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (iequals(args[i], "-Path") && i + 1 < args.size())
            path = args[++i];
        else if (iequals(args[i], "-Identity") && i + 1 < args.size())
            id_text = args[++i];
        else
            id_text = args[i];
    }
    // Accept the bare number or Exchange's <SERVER>\<queue>\<n>.
    if (auto slash = id_text.rfind('\\'); slash != std::string::npos) id_text = id_text.substr(slash + 1);
    char* end = nullptr;
    unsigned long long id = std::strtoull(id_text.c_str(), &end, 10);
    if (id_text.empty() || *end != '\0' || id == 0 || path.empty()) {
        std::fputs("edgectl: Export-Message: expected a message identity and -Path FILE\n", stderr);
        return 2;
    }
    auto bytes = db.export_message(id);
    if (!bytes) {
        fmt::print(stderr, "edgectl: Export-Message: no message with identity {}\n", id);
        return 1;
    }
    std::ofstream out(path, std::ios::binary);
    out.write(bytes->data(), static_cast<std::streamsize>(bytes->size()));
    if (!out.flush()) {
        fmt::print(stderr, "edgectl: Export-Message: cannot write {}\n", path);
        return 1;
    }
    return 0;
}

int test_queue_database(QueueDb& db) {
    const auto& rec = db.recovery_report();
    auto rep = db.check();
    auto use = db.usage();
    fmt::print("Messages        : {}\nQueueItems      : {}\nMapUsed         : {} of {} bytes\n", rep.messages,
               rep.queue_items, use.used_bytes, use.map_size);
    fmt::print("Recovered       : {} leases returned, {} poisoned, {} quarantined\n", rec.leases_returned,
               rec.poisoned, rec.quarantined);
    for (const auto& p : rep.problems) fmt::print("Problem         : {}\n", p);
    fmt::print("Consistent      : {}\n", rep.ok() ? "True" : "False");
    return rep.ok() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    std::string data = "data";
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--data" && i + 1 < argc)
            data = argv[++i];
        else
            args.push_back(std::move(a));
    }
    if (args.empty()) return usage();
    std::string cmd = args.front();
    args.erase(args.begin());

    auto db = QueueDb::open(data);
    if (!db) {
        fmt::print(stderr, "edgectl: cannot open the queue database in {}: {}\n", data, db.error().message());
        return 1;
    }
    if (iequals(cmd, "Get-Queue")) return get_queue(**db);
    if (iequals(cmd, "Get-Message")) return get_message(**db, args);
    if (iequals(cmd, "Export-Message")) return export_message(**db, args);
    if (iequals(cmd, "Test-QueueDatabase")) return test_queue_database(**db);
    if (edge::cli::is_config_cmdlet(cmd)) return edge::cli::run_config_cmdlet(**db, cmd, args);
    fmt::print(stderr, "edgectl: unknown cmdlet {}\n", cmd);
    return usage();
}
