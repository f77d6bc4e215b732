// The pre-greet test's decisions and its bounded memory (see the header).
#include "pre_greet.hpp"

#include <algorithm>

namespace edge::receive {

PreGreetStep pre_greet_step(std::chrono::seconds delay, bool internal, bool allow_listed, bool passed_before) {
    if (delay.count() <= 0 || internal || allow_listed || passed_before) return PreGreetStep::Greet;
    return PreGreetStep::Wait;
}

PreGreetOutcome judge_pre_greet(bool readable, std::size_t bytes) {
    if (!readable) return PreGreetOutcome::Passed;
    return bytes > 0 ? PreGreetOutcome::EarlyTalker : PreGreetOutcome::Hangup;
}

PreGreetCache::PreGreetCache(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {
    index_.reserve(std::min<std::size_t>(capacity_, 4096));
}

std::size_t PreGreetCache::KeyHash::operator()(const Key& k) const noexcept {
    // FNV-1a over the 16 bytes: a client cannot choose which bucket its address lands
    // in beyond its own address, and the table is bounded anyway.
    std::uint64_t h = 14695981039346656037ull;
    for (unsigned char c : k) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return static_cast<std::size_t>(h);
}

PreGreetCache::Key PreGreetCache::key_of(const boost::asio::ip::address& ip) {
    if (ip.is_v4()) return boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, ip.to_v4()).to_bytes();
    return ip.to_v6().to_bytes();
}

bool PreGreetCache::passed(const boost::asio::ip::address& ip, Clock::time_point now) {
    auto it = index_.find(key_of(ip));
    if (it == index_.end()) return false;
    if (it->second->until > now) return true;
    lru_.erase(it->second);
    index_.erase(it);
    return false;
}

void PreGreetCache::remember(const boost::asio::ip::address& ip, Clock::time_point now, std::chrono::seconds ttl) {
    if (ttl.count() <= 0) return;
    const Key k = key_of(ip);
    if (auto it = index_.find(k); it != index_.end()) {
        it->second->until = now + ttl;
        lru_.splice(lru_.begin(), lru_, it->second);
        return;
    }
    if (lru_.size() >= capacity_) {
        index_.erase(lru_.back().key);
        lru_.pop_back();
    }
    lru_.push_front(Entry{k, now + ttl});
    index_.emplace(k, lru_.begin());
}

void PreGreetCache::forget(const boost::asio::ip::address& ip) {
    auto it = index_.find(key_of(ip));
    if (it == index_.end()) return;
    lru_.erase(it->second);
    index_.erase(it);
}

}  // namespace edge::receive
