// Helpers shared by the queue-db tests: a private work directory and message builders.
#pragma once

#include "queue_db.hpp"
#include "temp_dir.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace edge::test {

// Opens the queue database in `dir`; a failure ends the test with the reason.
inline std::unique_ptr<queue::QueueDb> open_queue(const TempDir& dir, const queue::QueueDbOptions& options = {}) {
    auto db = queue::QueueDb::open(dir.path(), options);
    if (!db) throw std::runtime_error("QueueDb::open(" + dir.path() + "): " + db.error().message());
    return std::move(*db);
}

// Deterministic body for a tag: the same tag always gives the same bytes, so a test
// can check a stored message byte for byte without keeping a copy.
inline std::string body_for(std::uint64_t tag, std::size_t size) {
    std::string head = "Message-ID: <" + std::to_string(tag) + "@test>\r\nSubject: t" + std::to_string(tag) + "\r\n\r\n";
    std::string s(size, '\0');
    std::uint64_t x = tag * 0x9E3779B97F4A7C15ull + 1;
    char* p = s.data();  // filled by index: push_back per byte is slow under ASan
    for (std::size_t i = 0; i < size; ++i) {
        if (i < head.size()) {
            p[i] = head[i];
        } else if (i % 78 == 76) {
            p[i] = '\r';
        } else if (i % 78 == 77) {
            p[i] = '\n';
        } else {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            p[i] = static_cast<char>('A' + (x % 26));
        }
    }
    return s;
}

inline queue::NewMessage make_message(std::uint64_t tag, std::size_t size = 1024,
                                      std::vector<std::string> hops = {"example.net"}) {
    queue::NewMessage m;
    auto& e = m.envelope;
    e.sender = "sender" + std::to_string(tag) + "@example.com";
    e.arrival_time = queue::now_timestamp();
    e.expiration_time = e.arrival_time + std::chrono::hours(48);
    e.receive_connector = "Default internal receive connector TEST";
    e.client_address = "127.0.0.1";
    e.client_hostname = "client.example.com";
    e.hop_count = 1;
    e.dsn_envid = "env" + std::to_string(tag);
    e.internet_message_id = "<" + std::to_string(tag) + "@test>";
    for (std::size_t i = 0; i < hops.size(); ++i) {
        queue::Recipient r;
        r.address = "rcpt" + std::to_string(i) + "@" + hops[i];
        r.next_hop = queue::QueueId::next_hop_domain(hops[i]);
        r.delivery_type = queue::DeliveryType::DnsConnectorDelivery;
        r.notify = queue::notify::Failure;
        e.recipients.push_back(std::move(r));
    }
    // Two chunks, as the SMTP reader would hand them over.
    std::string body = body_for(tag, size);
    m.body.chunks.push_back(body.substr(0, size / 2));
    m.body.chunks.push_back(body.substr(size / 2));
    e.size = size;
    return m;
}

}  // namespace edge::test
