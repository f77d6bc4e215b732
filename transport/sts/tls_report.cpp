// TLS-RPT counts, report JSON, gzip and the report mail (tls_report.hpp).
#include "tls_report.hpp"

#include "text_helpers.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <map>
#include <stdexcept>

namespace edge::sts {

namespace {

constexpr std::string_view kDetailVersion = "tlsrpt1";

// A field as it may stand on one stored line and in a mail: no line ends, no controls.
std::string one_line(std::string_view s, std::size_t max = 1024) {
    std::string out;
    for (char c : s.substr(0, max)) out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c);
    return out;
}

std::string sha256_hex16(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr) != 1) throw std::runtime_error("SHA-256 failed");
    return text::hex(std::string_view(reinterpret_cast<const char*>(md), 8));
}

// JSON string: RFC 8259 escapes; octets outside printable ASCII become '?' — every
// field here is ASCII by its grammar (host names, addresses, policy lines), and a
// report must be valid JSON whatever a peer sent.
void json_string(std::string& out, std::string_view s) {
    out.push_back('"');
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(c);
        } else if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
            out += c == '\t' ? "\\t" : "?";
        } else {
            out.push_back(c);
        }
    }
    out.push_back('"');
}

std::int64_t unix_seconds(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

std::string TlsCount::identity() const {
    std::string s = date + '\n' + policy_domain + '\n' + policy_type + '\n' + result_type + '\n' + mx_host + '\n' +
                    receiving_ip + '\n' + sending_ip + '\n';
    for (const auto& l : policy_string) s += l + '\x1e';
    s += '\n';
    for (const auto& m : mx_patterns) s += m + '\x1e';
    return s;
}

std::string utc_date(std::chrono::system_clock::time_point t) {
    std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    return fmt::format("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

std::optional<std::chrono::system_clock::time_point> parse_utc_date(std::string_view d) {
    if (d.size() != 10 || d[4] != '-' || d[7] != '-') return std::nullopt;
    auto num = [&](std::size_t at, std::size_t n) -> int {
        int v = 0;
        for (std::size_t i = at; i < at + n; ++i) {
            if (d[i] < '0' || d[i] > '9') return -1;
            v = v * 10 + (d[i] - '0');
        }
        return v;
    };
    int y = num(0, 4), m = num(5, 2), day = num(8, 2);
    if (y < 1970 || m < 1 || m > 12 || day < 1 || day > 31) return std::nullopt;
    using namespace std::chrono;
    year_month_day ymd{year{y}, month{static_cast<unsigned>(m)}, std::chrono::day{static_cast<unsigned>(day)}};
    if (!ymd.ok()) return std::nullopt;
    return system_clock::time_point(sys_days(ymd));
}

std::string count_key(const TlsCount& c) {
    std::string k(kCountPrefix);
    k += c.date;
    k += '\x1f';
    k += c.policy_domain.substr(0, 253);
    k += '\x1f';
    k += sha256_hex16(c.identity());
    return k;
}

std::string count_prefix(std::string_view date) {
    std::string k(kCountPrefix);
    k += date;
    k += '\x1f';
    return k;
}

std::string sent_key(std::string_view date, std::string_view policy_domain) {
    return fmt::format("s\x1f{}\x1f{}", date, policy_domain.substr(0, 253));
}

std::string encode_count_detail(const TlsCount& c) {
    std::string s(kDetailVersion);
    for (const auto* f : {&c.date, &c.policy_domain, &c.policy_type, &c.result_type, &c.mx_host, &c.receiving_ip,
                          &c.sending_ip, &c.reason})
        s += '\n' + one_line(*f, f == &c.reason ? 256 : 1024);
    s += '\n' + std::to_string(c.mx_patterns.size());
    for (const auto& m : c.mx_patterns) s += '\n' + one_line(m);
    for (const auto& l : c.policy_string) s += '\n' + one_line(l);
    return s;
}

std::optional<TlsCount> decode_count(std::string_view detail, std::uint64_t count) {
    std::vector<std::string_view> lines;
    while (true) {
        auto nl = detail.find('\n');
        lines.push_back(detail.substr(0, nl));
        if (nl == std::string_view::npos) break;
        detail.remove_prefix(nl + 1);
    }
    if (lines.size() < 10 || lines[0] != kDetailVersion) return std::nullopt;
    TlsCount c;
    std::string* fields[] = {&c.date, &c.policy_domain, &c.policy_type, &c.result_type, &c.mx_host,
                             &c.receiving_ip, &c.sending_ip, &c.reason};
    for (std::size_t i = 0; i < 8; ++i) fields[i]->assign(lines[i + 1]);
    std::size_t n = 0;
    for (char ch : lines[9]) {
        if (ch < '0' || ch > '9' || n > 100000) return std::nullopt;
        n = n * 10 + static_cast<std::size_t>(ch - '0');
    }
    if (lines.size() < 10 + n) return std::nullopt;
    for (std::size_t i = 0; i < n; ++i) c.mx_patterns.emplace_back(lines[10 + i]);
    for (std::size_t i = 10 + n; i < lines.size(); ++i) c.policy_string.emplace_back(lines[i]);
    c.count = count;
    return c;
}

std::string report_id(const ReportSubmitter& who, std::string_view date, std::string_view policy_domain) {
    return fmt::format("{}.{}@{}", date, policy_domain, who.submitter);
}

std::string report_file_name(const ReportSubmitter& who, std::string_view date, std::string_view policy_domain) {
    // RFC 8460 §5.3: filename = sender "!" policy-domain "!" begin-timestamp "!" end-timestamp
    // [ "!" unique-id ] "." extension, the timestamps in seconds since the epoch.
    auto begin = parse_utc_date(date).value_or(std::chrono::system_clock::time_point{});
    return fmt::format("{}!{}!{}!{}.json.gz", who.submitter, policy_domain, unix_seconds(begin),
                       unix_seconds(begin + std::chrono::seconds(86399)));
}

std::string report_json(const ReportSubmitter& who, std::string_view date, std::string_view policy_domain,
                        const std::vector<TlsCount>& counts) {
    struct Failure {
        std::string result_type, sending_ip, mx_host, receiving_ip, reason;
        std::uint64_t count = 0;
    };
    struct Policy {
        const TlsCount* first = nullptr;
        std::uint64_t ok = 0, failed = 0;
        std::vector<Failure> failures;
    };
    std::vector<Policy> policies;
    std::map<std::string, std::size_t> by_policy;
    for (const auto& c : counts) {
        if (c.date != date || c.policy_domain != policy_domain) continue;
        std::string pk = c.policy_type + '\n';
        for (const auto& l : c.policy_string) pk += l + '\x1e';
        auto [it, fresh] = by_policy.try_emplace(pk, policies.size());
        if (fresh) policies.push_back(Policy{&c, 0, 0, {}});
        Policy& p = policies[it->second];
        if (c.result_type.empty()) {
            p.ok += c.count;
            continue;
        }
        p.failed += c.count;
        auto f = std::find_if(p.failures.begin(), p.failures.end(), [&](const Failure& x) {
            return x.result_type == c.result_type && x.sending_ip == c.sending_ip && x.mx_host == c.mx_host &&
                   x.receiving_ip == c.receiving_ip;
        });
        if (f == p.failures.end()) {
            p.failures.push_back({c.result_type, c.sending_ip, c.mx_host, c.receiving_ip, c.reason, 0});
            f = p.failures.end() - 1;
        }
        f->count += c.count;
    }
    auto begin = parse_utc_date(date).value_or(std::chrono::system_clock::time_point{});
    std::string j = "{\"organization-name\":";
    json_string(j, who.organization_name);
    j += ",\"date-range\":{\"start-datetime\":";
    json_string(j, text::iso_date_time_utc(begin));
    j += ",\"end-datetime\":";
    json_string(j, text::iso_date_time_utc(begin + std::chrono::seconds(86399)));
    j += "},\"contact-info\":";
    json_string(j, who.contact_info);
    j += ",\"report-id\":";
    json_string(j, report_id(who, date, policy_domain));
    j += ",\"policies\":[";
    for (std::size_t i = 0; i < policies.size(); ++i) {
        const Policy& p = policies[i];
        if (i) j += ',';
        j += "{\"policy\":{\"policy-type\":";
        json_string(j, p.first->policy_type);
        if (!p.first->policy_string.empty()) {
            j += ",\"policy-string\":[";
            for (std::size_t k = 0; k < p.first->policy_string.size(); ++k) {
                if (k) j += ',';
                json_string(j, p.first->policy_string[k]);
            }
            j += ']';
        }
        j += ",\"policy-domain\":";
        json_string(j, policy_domain);
        if (!p.first->mx_patterns.empty()) {
            j += ",\"mx-host\":[";
            for (std::size_t k = 0; k < p.first->mx_patterns.size(); ++k) {
                if (k) j += ',';
                json_string(j, p.first->mx_patterns[k]);
            }
            j += ']';
        }
        j += fmt::format("}},\"summary\":{{\"total-successful-session-count\":{},\"total-failure-session-count\":{}}}", p.ok,
                         p.failed);
        if (!p.failures.empty()) {
            j += ",\"failure-details\":[";
            for (std::size_t k = 0; k < p.failures.size(); ++k) {
                const Failure& f = p.failures[k];
                if (k) j += ',';
                j += "{\"result-type\":";
                json_string(j, f.result_type);
                if (!f.sending_ip.empty()) {
                    j += ",\"sending-mta-ip\":";
                    json_string(j, f.sending_ip);
                }
                if (!f.mx_host.empty()) {
                    j += ",\"receiving-mx-hostname\":";
                    json_string(j, f.mx_host);
                }
                if (!f.receiving_ip.empty()) {
                    j += ",\"receiving-ip\":";
                    json_string(j, f.receiving_ip);
                }
                j += fmt::format(",\"failed-session-count\":{}", f.count);
                if (!f.reason.empty()) {
                    j += ",\"failure-reason-code\":";
                    json_string(j, f.reason);
                }
                j += '}';
            }
            j += ']';
        }
        j += '}';
    }
    j += "]}";
    return j;
}

std::string gzip(std::string_view data) {
    z_stream z{};
    // 15 + 16: a gzip wrapper (RFC 1952), not zlib's (RFC 1950).
    if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("zlib: deflateInit2 failed");
    std::string out(deflateBound(&z, static_cast<uLong>(data.size())) + 32, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    int rc = deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    if (rc != Z_STREAM_END) throw std::runtime_error("zlib: deflate did not finish");
    return out;
}

std::optional<std::string> gunzip(std::string_view data, std::size_t max_size) {
    z_stream z{};
    if (inflateInit2(&z, 15 + 16) != Z_OK) return std::nullopt;
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    std::string out;
    char buf[16384];
    int rc = Z_OK;
    while (rc == Z_OK) {
        z.next_out = reinterpret_cast<Bytef*>(buf);
        z.avail_out = sizeof buf;
        rc = inflate(&z, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) break;
        out.append(buf, sizeof buf - z.avail_out);
        if (out.size() > max_size) break;
        if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) break;  // truncated input
    }
    inflateEnd(&z);
    if (rc != Z_STREAM_END || out.size() > max_size) return std::nullopt;
    return out;
}

queue::NewMessage report_message(const ReportMail& m) {
    static std::atomic<std::uint64_t> counter{0};
    const std::string id = report_id(m.who, m.date, m.policy_domain);
    const std::string file = report_file_name(m.who, m.date, m.policy_domain);
    const std::string subject = fmt::format("Report Domain: {} Submitter: {} Report-ID: <{}>", one_line(m.policy_domain),
                                            one_line(m.who.submitter), one_line(id));
    const std::string message_id = fmt::format("<tlsrpt.{}.{}.{}@{}>", unix_seconds(m.now), ++counter,
                                               sha256_hex16(id), one_line(m.who.submitter));
    const std::string boundary = fmt::format("=_tlsrpt_{}", sha256_hex16(id + message_id));
    std::string to;
    for (const auto& r : m.rua) to += (to.empty() ? "" : ",\r\n ") + one_line(r);
    std::string s;
    s += "From: " + one_line(m.from) + "\r\n";
    s += "To: " + to + "\r\n";
    s += "Subject: " + subject + "\r\n";
    s += "Date: " + text::rfc5322_date_utc(m.now) + "\r\n";
    s += "Message-ID: " + message_id + "\r\n";
    s += "TLS-Report-Domain: " + one_line(m.policy_domain) + "\r\n";
    s += "TLS-Report-Submitter: " + one_line(m.who.submitter) + "\r\n";
    s += "Auto-Submitted: auto-generated\r\n";
    s += "MIME-Version: 1.0\r\n";
    s += "Content-Type: multipart/report; report-type=\"tlsrpt\";\r\n boundary=\"" + boundary + "\"\r\n\r\n";
    s += "This is a multi-part message in MIME format.\r\n";
    s += "\r\n--" + boundary + "\r\n";
    s += "Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n";
    s += fmt::format("This is an aggregate TLS report (RFC 8460) from {} for {}, {} (UTC).\r\n", one_line(m.who.submitter),
                     one_line(m.policy_domain), one_line(m.date));
    s += "\r\n--" + boundary + "\r\n";
    s += "Content-Type: application/tlsrpt+gzip; name=\"" + file + "\"\r\n";
    s += "Content-Transfer-Encoding: base64\r\n";
    s += "Content-Disposition: attachment; filename=\"" + file + "\"\r\n\r\n";
    const std::string b64 = text::base64(gzip(m.json));
    for (std::size_t i = 0; i < b64.size(); i += 76) s += b64.substr(i, 76) + "\r\n";
    s += "\r\n--" + boundary + "--\r\n";

    queue::NewMessage msg;
    msg.body.chunks.push_back(std::move(s));
    queue::Envelope& env = msg.envelope;
    env.sender.clear();
    for (const auto& r : m.rua) {
        queue::Recipient rcpt;
        rcpt.address = r;
        rcpt.notify = queue::notify::Never;
        if (m.route) std::tie(rcpt.next_hop, rcpt.delivery_type) = m.route(r);
        env.recipients.push_back(std::move(rcpt));
    }
    env.arrival_time = std::chrono::time_point_cast<std::chrono::microseconds>(m.now);
    env.expiration_time = env.arrival_time + std::chrono::duration_cast<std::chrono::microseconds>(m.expiration);
    env.subject = subject;
    env.internet_message_id = message_id;
    env.size = msg.body.size();
    return msg;
}

}  // namespace edge::sts
