// The IP Block / Allow List lookup: entries swept into disjoint intervals once per
// config generation, binary search per connection (see the header).
#include "ip_list.hpp"

#include "text_helpers.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <set>
#include <tuple>

namespace edge::agents {

namespace {
using routing::IpAddress;
using Clock = std::chrono::system_clock;

// a + 1, or nullopt past the last address.
std::optional<IpAddress> next(IpAddress a) {
    auto b = a.bytes();
    for (std::size_t i = b.size(); i-- > 0;) {
        if (++b[i] != 0) return IpAddress(b);
    }
    return std::nullopt;
}

// a - 1; a is never :: here.
IpAddress previous(IpAddress a) {
    auto b = a.bytes();
    for (std::size_t i = b.size(); i-- > 0;) {
        if (b[i]-- != 0) break;
    }
    return IpAddress(b);
}

// The IPv4-mapped block ::ffff:0.0.0.0 - ::ffff:255.255.255.255, where IPv4 clients live.
const IpAddress kMappedFirst = IpAddress::v4(0);
const IpAddress kMappedLast = IpAddress::v4(0xffffffffu);
}  // namespace

std::string format_expiration_time(Clock::time_point t) { return text::iso_date_time_utc(t); }

std::optional<Clock::time_point> parse_expiration_time(std::string_view text) {
    // Exactly "YYYY-MM-DDTHH:MM:SSZ": the one form the store holds.
    if (text.size() != 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
        text[16] != ':' || text[19] != 'Z')
        return std::nullopt;
    auto num = [&](std::size_t at, std::size_t len, int& out) {
        out = 0;
        for (std::size_t i = at; i < at + len; ++i) {
            if (text[i] < '0' || text[i] > '9') return false;
            out = out * 10 + (text[i] - '0');
        }
        return true;
    };
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
    if (!num(0, 4, y) || !num(5, 2, mo) || !num(8, 2, d) || !num(11, 2, h) || !num(14, 2, mi) || !num(17, 2, s))
        return std::nullopt;
    using namespace std::chrono;
    const year_month_day ymd{year(y), month(static_cast<unsigned>(mo)), day(static_cast<unsigned>(d))};
    if (!ymd.ok() || h > 23 || mi > 59 || s > 59) return std::nullopt;
    return Clock::time_point(sys_days(ymd)) + hours(h) + minutes(mi) + seconds(s);
}

IpList::IpList(std::vector<IpListEntry> entries) : entries_(std::move(entries)) {
    // Which entry an interval keeps where several cover it: the one that holds longest.
    auto rank = [this](std::uint32_t i) {
        const IpListEntry& e = entries_[i];
        const bool expires = e.expiration_time.has_value();
        const auto when = expires ? e.expiration_time->time_since_epoch().count() : 0;
        return std::make_tuple(expires, -when, e.is_machine, e.identity, i);
    };
    auto better = [&rank](std::uint32_t a, std::uint32_t b) { return rank(a) < rank(b); };

    struct Event {
        IpAddress at;
        bool start;
        std::uint32_t entry;
    };
    std::vector<Event> events;
    events.reserve(entries_.size() * 2 + 4);
    auto add = [&](IpAddress first, IpAddress last, std::uint32_t i) {
        events.push_back({first, true, i});
        if (auto after = next(last)) events.push_back({*after, false, i});
    };
    for (std::uint32_t i = 0; i < entries_.size(); ++i) {
        if (const auto& x = entries_[i].expiration_time; x && (!next_expiration_ || *x < *next_expiration_))
            next_expiration_ = x;
        const routing::IpRange& r = entries_[i].range;
        if (r.is_v4()) {
            add(r.first(), r.last(), i);
            continue;
        }
        // An IPv6 range holds IPv6 clients only: the IPv4-mapped block is cut out of it.
        if (r.first() < kMappedFirst) add(r.first(), std::min(r.last(), previous(kMappedFirst)), i);
        if (r.last() > kMappedLast) add(std::max(r.first(), *next(kMappedLast)), r.last(), i);
    }
    std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.at < b.at; });

    std::set<std::uint32_t, decltype(better)> active(better);
    for (std::size_t k = 0; k < events.size();) {
        const IpAddress at = events[k].at;
        for (; k < events.size() && events[k].at == at; ++k) {
            if (events[k].start) active.insert(events[k].entry);
            else active.erase(events[k].entry);
        }
        if (active.empty()) continue;
        const std::uint32_t best = *active.begin();
        // Up to the next event, or to the last address when none follows.
        const IpAddress last = k < events.size() ? previous(events[k].at) : IpAddress(IpAddress::Bytes{
                                                                                 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                                                                 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
        if (!intervals_.empty() && intervals_.back().entry == best && next(intervals_.back().last) == at)
            intervals_.back().last = last;
        else
            intervals_.push_back({at, last, best});
    }
}

const IpListEntry* IpList::find(const routing::IpAddress& a, Clock::time_point now) const {
    auto it = std::upper_bound(intervals_.begin(), intervals_.end(), a,
                               [](const IpAddress& x, const Interval& i) { return x < i.first; });
    if (it == intervals_.begin()) return nullptr;
    --it;
    if (a > it->last) return nullptr;
    const IpListEntry& e = entries_[it->entry];
    if (e.expiration_time && *e.expiration_time <= now) return nullptr;
    return &e;
}

std::vector<const IpListEntry*> IpList::all_containing(const routing::IpAddress& a) const {
    std::vector<const IpListEntry*> out;
    for (const auto& e : entries_)
        if (e.range.contains(a)) out.push_back(&e);
    return out;
}

}  // namespace edge::agents
