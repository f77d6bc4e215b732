// The EdgeSync listener's connection watchdog (issue 13, weakness 11): when its expiry
// is already queued as the connection's coroutine ends — too late for cancel() — it
// must not close a stream that the coroutine's frame destroyed.
#include "sync_listener.hpp"

#include <catch2/catch.hpp>

#include <thread>

using namespace edge;
using namespace std::chrono_literals;

TEST_CASE("a sync connection's watchdog never touches a destroyed stream when its expiry is queued as the connection ends",
          "[edgesync][watchdog]") {
    asio::io_context io;
    asio::ssl::context ctx(asio::ssl::context::tls_server);
    // What the connection's coroutine frame holds: the stream and its watchdog.
    struct Frame {
        std::shared_ptr<server::SyncConnectionWatchdog::Stream> stream;
        server::SyncConnectionWatchdog watchdog;
        Frame(asio::io_context& io, asio::ssl::context& c)
            // Not make_shared: the weak_ptr below must not keep the stream's memory
            // allocated once it is destroyed, or ASan could not see a use after it.
            : stream(new server::SyncConnectionWatchdog::Stream(io, c)), watchdog(io, stream) {}
    };
    auto frame = std::make_unique<Frame>(io, ctx);
    frame->stream->lowest_layer().open(tcp::v4());
    std::weak_ptr<server::SyncConnectionWatchdog::Stream> seen = frame->stream;
    frame->watchdog.arm(20ms);

    bool ended = false, stream_outlived_frame = false;
    // The expiry passes before the I/O loop runs. Its first pass (the reactor) finds
    // the timer expired and queues its completion behind the handler posted here,
    // which ends the "coroutine" as serve() does: cancel the watchdog (too late: the
    // completion is queued, with success), destroy the frame.
    std::this_thread::sleep_for(60ms);
    asio::post(io, [&] {
        frame->watchdog.cancel();
        frame.reset();
        ended = true;
        stream_outlived_frame = !seen.expired();  // the queued expiry holds its own share
    });
    io.run();
    CHECK(ended);
    CHECK(stream_outlived_frame);  // the expiry was still to run when the frame went
    CHECK(seen.expired());         // and the stream went once it had run
}
