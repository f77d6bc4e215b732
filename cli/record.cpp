// What a Get-* cmdlet returns: typed values, records of them, and the time formats
// tables, -Json and -Filter share. The time forms are the ones an Exchange
// administrator types into -Start/-End and -Filter.
#include "record.hpp"

#include "settings.hpp"
#include "text_helpers.hpp"

#include <fmt/format.h>

#include <cmath>
#include <ctime>

namespace edge::cli {
namespace {

std::time_t to_time_t(queue::Timestamp t) {
    // floor, not truncation: a time before 1970 still shows the second it falls in
    return static_cast<std::time_t>(std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count());
}

// "yyyy-mm-dd hh:mm:ss" in local time (tables); -Json's RFC 3339 UTC form is text::iso_date_time_utc.
std::string format_local_tm(const std::tm& tm) {
    return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                       tm.tm_min, tm.tm_sec);
}

// A cursor over the text of parse_time.
struct TimeScanner {
    std::string_view s;
    std::size_t i = 0;

    bool at_end() const { return i == s.size(); }
    bool peek(char c) const { return i < s.size() && s[i] == c; }
    bool take(char c) {
        if (!peek(c)) return false;
        ++i;
        return true;
    }
    bool take_ci(char c) {  // c is upper case
        if (i < s.size() && (s[i] == c || s[i] == c + ('a' - 'A'))) {
            ++i;
            return true;
        }
        return false;
    }
    std::size_t spaces() {
        std::size_t n = 0;
        while (take(' ')) ++n;
        return n;
    }
    // min..max decimal digits
    bool digits(std::size_t min, std::size_t max, int& out) {
        std::size_t n = 0;
        int v = 0;
        while (n < max && i < s.size() && s[i] >= '0' && s[i] <= '9') {
            v = v * 10 + (s[i] - '0');
            ++i;
            ++n;
        }
        out = v;
        return n >= min;
    }
};

bool leap_year(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap_year(y) ? 29 : kDays[m - 1];
}

struct CivilTime {
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    bool utc = false;
};

// hh:mm[:ss]; the hour is one or two digits.
bool scan_clock(TimeScanner& sc, CivilTime& c) {
    if (!sc.digits(1, 2, c.hour) || !sc.take(':') || !sc.digits(2, 2, c.minute)) return false;
    if (sc.take(':') && !sc.digits(2, 2, c.second)) return false;
    return true;
}

// "2026-11-23", "2026-11-23 14:05[:09][Z]", "2026-11-23T14:05[:09][Z]"
bool scan_iso(TimeScanner& sc, CivilTime& c) {
    if (!sc.digits(4, 4, c.year) || !sc.take('-') || !sc.digits(1, 2, c.month) || !sc.take('-') ||
        !sc.digits(1, 2, c.day))
        return false;
    if (sc.at_end()) return true;
    if (!sc.take_ci('T') && sc.spaces() == 0) return false;
    if (!scan_clock(sc, c)) return false;
    c.utc = sc.take_ci('Z');
    return sc.at_end();
}

// Exchange's US form: "11/23/2026", "11/23/2026 2:05[:09] [AM|PM]"
bool scan_us(TimeScanner& sc, CivilTime& c) {
    if (!sc.digits(1, 2, c.month) || !sc.take('/') || !sc.digits(1, 2, c.day) || !sc.take('/') ||
        !sc.digits(4, 4, c.year))
        return false;
    if (sc.at_end()) return true;
    if (sc.spaces() == 0 || !scan_clock(sc, c)) return false;
    sc.spaces();
    if (sc.at_end()) return true;
    bool pm = false;
    if (sc.take_ci('P')) pm = true;
    else if (!sc.take_ci('A')) return false;
    if (!sc.take_ci('M') || !sc.at_end()) return false;
    if (c.hour < 1 || c.hour > 12) return false;  // "0:30 AM" and "13:00 PM" are not times
    c.hour = c.hour % 12 + (pm ? 12 : 0);
    return true;
}

bool valid(const CivilTime& c) {
    return c.year >= 1 && c.month >= 1 && c.month <= 12 && c.day >= 1 && c.day <= days_in_month(c.year, c.month) &&
           c.hour <= 23 && c.minute <= 59 && c.second <= 59;
}

}  // namespace

Value Value::null() { return Value{}; }

Value Value::of_text(std::string text) {
    Value v;
    v.kind = Kind::Text;
    v.text = std::move(text);
    return v;
}

Value Value::of_number(double n) {
    Value v;
    v.kind = Kind::Number;
    v.number = n;
    // A count shows as "12", never "12.0"; 2^53 is where doubles stop holding every integer.
    if (std::isfinite(n) && n == std::trunc(n) && std::fabs(n) < 9007199254740992.0)
        v.text = fmt::format("{:.0f}", n);
    else
        v.text = fmt::format("{}", n);
    if (v.text == "-0") v.text = "0";
    return v;
}

Value Value::of_bool(bool b) {
    Value v;
    v.kind = Kind::Boolean;
    v.boolean = b;
    v.text = b ? "True" : "False";  // as Format-Table shows a PowerShell boolean
    return v;
}

Value Value::of_size(std::uint64_t bytes, std::string shown) {
    Value v;
    v.kind = Kind::Size;
    v.unlimited = bytes == config::kUnlimited;
    v.number = v.unlimited ? 0 : static_cast<double>(bytes);
    v.text = !shown.empty() ? std::move(shown) : v.unlimited ? std::string("unlimited") : std::to_string(bytes);
    return v;
}

Value Value::of_duration(std::int64_t seconds, std::string shown) {
    Value v;
    v.kind = Kind::Duration;
    v.number = static_cast<double>(seconds);
    v.text = !shown.empty() ? std::move(shown) : config::format_time_span(std::chrono::seconds(seconds));
    return v;
}

Value Value::of_time(queue::Timestamp t) {
    Value v;
    v.kind = Kind::Time;
    v.time = t;
    v.text = format_local_time(t);
    return v;
}

Value Value::of_list(std::vector<std::string> items) {
    Value v;
    v.kind = Kind::List;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) v.text += ", ";
        v.text += items[i];
    }
    v.items = std::move(items);
    return v;
}

Value Value::of_text_or_null(std::string text) { return text.empty() ? null() : of_text(std::move(text)); }

Value Value::of_time_or_null(std::optional<queue::Timestamp> t) { return t ? of_time(*t) : null(); }

std::vector<std::string> Record::names() const {
    std::vector<std::string> out;
    out.reserve(properties_.size());
    for (const auto& p : properties_) out.push_back(p.name);
    return out;
}

const Value* Record::find(std::string_view name) const {
    for (const auto& p : properties_)
        if (text::iequals(p.name, name)) return &p.value;
    return nullptr;
}

std::string format_local_time(queue::Timestamp t) {
    std::time_t s = to_time_t(t);
    std::tm tm{};
    if (::localtime_r(&s, &tm) == nullptr) return {};
    return format_local_tm(tm);
}

std::string format_utc_time(queue::Timestamp t) { return text::iso_date_time_utc(t); }

std::optional<queue::Timestamp> parse_time(std::string_view text) {
    text = text::trim_space(text);
    CivilTime c;
    TimeScanner iso{text};
    TimeScanner us{text};
    if (!scan_iso(iso, c)) {
        c = CivilTime{};
        if (!scan_us(us, c)) return std::nullopt;
    }
    if (!valid(c)) return std::nullopt;
    std::tm tm{};
    tm.tm_year = c.year - 1900;
    tm.tm_mon = c.month - 1;
    tm.tm_mday = c.day;
    tm.tm_hour = c.hour;
    tm.tm_min = c.minute;
    tm.tm_sec = c.second;
    tm.tm_isdst = -1;  // let the zone say whether summer time applies on that day
    std::time_t s = c.utc ? ::timegm(&tm) : std::mktime(&tm);
    return queue::Timestamp(std::chrono::seconds(s));
}

}  // namespace edge::cli
