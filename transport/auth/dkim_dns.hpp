// DKIM verification with its DNS: every signature's key (<s>._domainkey.<d> TXT)
// fetched at once, then dkim_verify.hpp's pure checks. The only DKIM file that does I/O.
#pragma once

// <utility> before Asio: Boost's awaitable.hpp needs std::exchange (see receive/asio.hpp).
#include <utility>

#include "dkim_verify.hpp"
#include "dns_resolver.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace edge::auth {

// One verdict per signature find_signatures returns (at most max_signatures checked,
// then one Neutral verdict for the rest), in the message's order. The lookups run
// concurrently, so a message waits for its slowest key, not the sum.
// With `cpu`, the verification itself (hashes, RSA/Ed25519) runs on that pool and the
// calling coroutine resumes on its executor: the I/O thread serves other sessions
// meanwhile. `message_chunks` must outlive the call (it does: the caller awaits it).
boost::asio::awaitable<std::vector<DkimVerdict>> verify_message(dns::DnsResolver& resolver,
                                                                const std::vector<std::string>& message_chunks,
                                                                std::size_t max_signatures,
                                                                std::chrono::system_clock::time_point now,
                                                                boost::asio::thread_pool* cpu = nullptr);

// Every parsed signature's key record, fetched concurrently (one lookup needs no group).
boost::asio::awaitable<std::vector<KeyLookup>> fetch_keys(dns::DnsResolver& resolver,
                                                          const std::vector<DkimSignature>& signatures);

// The resolver's answer in the words of verify_signature (for tests and other callers).
KeyLookup key_lookup_from(dns::TextResult result);

}  // namespace edge::auth
