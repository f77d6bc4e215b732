// SPF (RFC 7208): whether the client may send mail for the MAIL FROM (or HELO) domain.
// check_host() of §4 over an injected DNS (SpfDns), so tests answer from memory and the
// server from the resolver (spf_dns.hpp). The Sender ID agent calls check_spf.
#pragma once

#include "auth_result.hpp"

// <utility> before Asio: Boost's awaitable.hpp needs std::exchange (see receive/asio.hpp).
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace edge::auth {

namespace asio = boost::asio;

// What one DNS question answered, in the words of RFC 7208 §2.6 / §4.6.4.
enum class SpfDnsStatus : std::uint8_t {
    Ok,         // records (possibly none: a null MX)
    NxDomain,   // RCODE 3: a void lookup
    NoData,     // the name exists, no records of the type: a void lookup
    TempError,  // timeout, SERVFAIL, …: the evaluation is TempError
};

template <class Record>
struct SpfAnswer {
    SpfDnsStatus status = SpfDnsStatus::TempError;
    std::vector<Record> records;
    std::string error;  // TempError: why, for SpfOutcome::problem
};

using SpfTexts = SpfAnswer<std::string>;                // TXT: each record's strings joined
using SpfAddresses = SpfAnswer<asio::ip::address>;      // A or AAAA
using SpfNames = SpfAnswer<std::string>;                // MX exchanges by preference, PTR names

// The DNS lookups check_host() makes. Names come lower- or mixed-case, without a
// trailing dot, possibly not valid host names (then NxDomain is the right answer).
class SpfDns {
public:
    virtual ~SpfDns() = default;
    virtual asio::awaitable<SpfTexts> txt(std::string name) = 0;
    virtual asio::awaitable<SpfAddresses> a(std::string name) = 0;
    virtual asio::awaitable<SpfAddresses> aaaa(std::string name) = 0;
    // MX exchange names only, by preference; no implicit MX (§5.4); "0 ." is Ok, empty.
    virtual asio::awaitable<SpfNames> mx_names(std::string name) = 0;
    virtual asio::awaitable<SpfNames> ptr(asio::ip::address address) = 0;
};

struct SpfRequest {
    asio::ip::address client;
    std::string sender;         // MAIL FROM, or postmaster@helo (§2.4); "@domain" and "domain" are taken as postmaster@domain
    std::string helo;
    std::string receiver_fqdn;  // %{r}
};

struct SpfOutcome {
    Result result = Result::None;  // None, Neutral, Pass, Fail, SoftFail, TempError or PermError
    std::string domain;            // the domain whose policy was checked (the sender's)
    std::string mechanism;         // the directive that matched, as written ("-all"); empty for a default
    std::string explanation;       // Fail only: the exp= text, expanded (§6.2); empty when none or it failed
    std::string problem;           // TempError / PermError: why
};

// RFC 7208 §4: check_host(<ip>, <domain of sender>, <sender>). Bounded: at most 10
// mechanisms and modifiers that ask DNS (§4.6.4), 2 void lookups, 10 MX and 10 PTR
// names per mechanism (and per %{p}); so at most about 240 queries for one check.
asio::awaitable<SpfOutcome> check_host(SpfDns& dns, SpfRequest request);

struct SpfCheck {
    SpfOutcome outcome;
    // Which identity was checked, as Authentication-Results names it (RFC 8601 §2.7.2):
    // "smtp.mailfrom" or, for the null reverse path, "smtp.helo".
    std::string identity;
};

// The MAIL FROM identity, or the HELO identity when the reverse path is null (§2.4:
// then the sender is postmaster@helo). `mail_from` is the address without brackets.
asio::awaitable<SpfCheck> check_spf(SpfDns& dns, asio::ip::address client, std::string mail_from, std::string helo,
                                    std::string receiver);

}  // namespace edge::auth
