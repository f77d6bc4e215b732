// The edge-transport server: Receive connectors listening, SMTP sessions, the queue,
// back pressure, protocol logs, live configuration, graceful shutdown.
#pragma once

#include "settings.hpp"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace edge::server {

struct ServerOptions {
    config::ConfigObject bootstrap{config::ObjectKind::Bootstrap};
    std::string host_name;  // the short host name: names the default connector and the server in logs
    // Where the bootstrap came from, so SIGHUP can read it again (back-pressure
    // thresholds apply live; the other keys need a restart).
    std::string config_path;
    std::vector<std::pair<std::string, std::string>> overrides;
};

class Server {
public:
    // Opens the data directory (creating the queue database, the default Receive
    // connector and the TLS certificate at first start). Throws std::runtime_error
    // with the reason when it cannot.
    explicit Server(ServerOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Serves until SIGTERM or SIGINT (graceful: stop accepting, let transactions in
    // flight finish within ShutdownTimeout, flush logs). SIGHUP reloads the config
    // store now. Returns the process exit code.
    int run();

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace edge::server
