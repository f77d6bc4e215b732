// An in-memory DNS for the SPF evaluator's tests (transport/auth/spf.hpp's SpfDns):
// answers at once from records a test adds, follows CNAMEs, and can be told that a
// name times out (every question about it that has no records) or answers SERVFAIL.
// Counts the questions it was asked, so tests can check the evaluator's limits.
#pragma once

#include "dns_resolver.hpp"
#include "spf.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <exception>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace edge::test {

class MemorySpfDns final : public auth::SpfDns {
public:
    struct Node {
        std::vector<std::string> txt, ptr, cname;
        std::vector<boost::asio::ip::address> a, aaaa;
        std::vector<std::pair<int, std::string>> mx;
        bool timeout = false;   // questions without records time out
        bool servfail = false;  // every question fails
    };

    Node& node(const std::string& name) { return zone_[key(name)]; }
    MemorySpfDns& txt(const std::string& name, std::string text) {
        node(name).txt.push_back(std::move(text));
        return *this;
    }
    MemorySpfDns& a(const std::string& name, const std::string& address) {
        auto addr = boost::asio::ip::make_address(address);
        (addr.is_v4() ? node(name).a : node(name).aaaa).push_back(addr);
        return *this;
    }
    MemorySpfDns& mx(const std::string& name, int preference, const std::string& exchange) {
        node(name).mx.emplace_back(preference, key(exchange));
        return *this;
    }
    // PTR records of an address (its in-addr.arpa / ip6.arpa name).
    MemorySpfDns& ptr(const std::string& address, const std::string& host) {
        node(reverse_zone_name(boost::asio::ip::make_address(address))).ptr.push_back(key(host));
        return *this;
    }
    MemorySpfDns& cname(const std::string& name, const std::string& target) {
        node(name).cname.push_back(key(target));
        return *this;
    }
    MemorySpfDns& timeout(const std::string& name) {
        node(name).timeout = true;
        return *this;
    }
    MemorySpfDns& servfail(const std::string& name) {
        node(name).servfail = true;
        return *this;
    }

    int queries() const { return queries_; }
    const std::multiset<std::string>& asked() const { return asked_; }  // "TXT example.com", …

    boost::asio::awaitable<auth::SpfTexts> txt(std::string name) override { co_return answer<std::string>(name, "TXT", &Node::txt); }
    boost::asio::awaitable<auth::SpfAddresses> a(std::string name) override {
        co_return answer<boost::asio::ip::address>(name, "A", &Node::a);
    }
    boost::asio::awaitable<auth::SpfAddresses> aaaa(std::string name) override {
        co_return answer<boost::asio::ip::address>(name, "AAAA", &Node::aaaa);
    }
    boost::asio::awaitable<auth::SpfNames> mx_names(std::string name) override {
        auto r = answer<std::pair<int, std::string>>(name, "MX", &Node::mx);
        auth::SpfNames out{r.status, {}, r.error};
        std::stable_sort(r.records.begin(), r.records.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
        for (auto& [preference, exchange] : r.records)
            if (!exchange.empty()) out.records.push_back(exchange);
        co_return out;
    }
    boost::asio::awaitable<auth::SpfNames> ptr(boost::asio::ip::address address) override {
        co_return answer<std::string>(reverse_zone_name(address), "PTR", &Node::ptr);
    }

    static std::string reverse_zone_name(const boost::asio::ip::address& a) {
        const bool v4 = a.is_v4() || a.to_v6().is_v4_mapped();
        return dns::reverse_name(a) + (v4 ? ".in-addr.arpa" : ".ip6.arpa");
    }

private:
    static std::string key(std::string name) {
        for (char& c : name)
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (!name.empty() && name.back() == '.') name.pop_back();
        return name;
    }

    // The records of one type at `name`, after up to 8 CNAMEs (a longer chain or a loop
    // is a failure, as the resolver says).
    template <class Record, class Field>
    auth::SpfAnswer<Record> answer(const std::string& asked, const char* type, Field field) {
        ++queries_;
        asked_.insert(std::string(type) + " " + key(asked));
        auth::SpfAnswer<Record> out;
        std::string name = key(asked);
        for (int hops = 0; hops <= 8; ++hops) {
            auto it = zone_.find(name);
            if (it == zone_.end()) {
                out.status = auth::SpfDnsStatus::NxDomain;
                return out;
            }
            const Node& n = it->second;
            if (n.servfail) {
                out.error = "DNS query for " + std::string(type) + " " + name + " answered SERVFAIL (memory)";
                return out;
            }
            const auto& records = n.*field;
            if (!records.empty()) {
                out.status = auth::SpfDnsStatus::Ok;
                out.records.assign(records.begin(), records.end());
                return out;
            }
            if (!n.cname.empty()) {
                name = n.cname.front();
                continue;
            }
            if (n.timeout) {
                out.error = "DNS query for " + std::string(type) + " " + name + " timed out (memory)";
                return out;
            }
            out.status = auth::SpfDnsStatus::NoData;
            return out;
        }
        out.error = "CNAME chain too long at " + name;
        return out;
    }

    std::map<std::string, Node> zone_;
    int queries_ = 0;
    std::multiset<std::string> asked_;
};

// Runs one evaluation to its end on a fresh io_context (the zone answers at once).
template <class T>
T run_now(boost::asio::awaitable<T> task) {
    boost::asio::io_context io;
    std::optional<T> result;
    std::exception_ptr error;
    boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
        error = e;
        result = std::move(value);
    });
    io.run();
    if (error) std::rethrow_exception(error);
    return std::move(*result);
}

}  // namespace edge::test
