// The Pickup directory (Set-TransportServer PickupDirectoryPath): the server watches it
// with inotify and submits each finished *.eml file through the acceptance path, then
// deletes it; a file that cannot be submitted is renamed <name>.bad and the reason goes
// to the server log and the tracking log (BADMAIL, source PICKUP), as Exchange does.
//
// Which files are taken: those whose writer closed them (IN_CLOSE_WRITE) or that were
// renamed into the directory (IN_MOVED_TO) — never one still being written — and, at
// start or when the directory changes, those already there (written while we were not
// watching: taken as finished). Only names ending ".eml" (case-insensitive); dot files
// and subdirectories are left alone. At most PickupDirectoryMaxMessagesPerMinute are
// submitted in any minute; the rest wait. While back pressure refuses new mail (or the
// queue has no room) files wait where they are.
#pragma once

#include "asio.hpp"
#include "pickup_file.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>

namespace edge::server {

struct PickupSettings {
    std::string directory;                // PickupDirectoryPath (resolved: never empty)
    std::uint64_t max_messages_per_minute = 100;
    PickupLimits limits;
    friend bool operator==(const PickupSettings&, const PickupSettings&) = default;
};

// What became of one submission.
struct PickupSubmitted {
    enum class Result : std::uint8_t { Queued, Bad, TryLater } result = Result::TryLater;
    std::string reason;  // Bad / TryLater: why
};

class PickupDirectory {
public:
    using Say = std::function<void(const std::string&)>;
    // Submits one parsed file (named `file`, without the directory). Runs on the I/O thread.
    using Submit = std::function<asio::awaitable<PickupSubmitted>(PickupMessage message, std::string file)>;
    // A file renamed .bad: its name and the reason (the server writes BADMAIL).
    using BadFile = std::function<void(const std::string& file, const std::string& reason)>;
    // False while new mail is not taken (back pressure): files wait.
    using MaySubmit = std::function<bool()>;

    PickupDirectory(asio::io_context& io, Say say, Submit submit, BadFile bad, MaySubmit may_submit);
    ~PickupDirectory();
    PickupDirectory(const PickupDirectory&) = delete;
    PickupDirectory& operator=(const PickupDirectory&) = delete;

    // Applies at once; another directory is watched (and scanned) from now on.
    void configure(PickupSettings settings);
    asio::awaitable<void> run();
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace edge::server
