// QueueDb for outbound TLS policy (issue 20): the MTA-STS policy cache (`mta_sts`,
// domain → the caller's record) and the TLS-RPT counters (`tls_report`, key → count and
// the caller's detail). The records' formats belong to transport/sts/.
#include "queue_db_impl.hpp"

namespace edge::queue {

namespace {

// A counter's stored value: the count (big-endian, 8 bytes), then the caller's detail.
constexpr std::size_t kCountSize = 8;
// LMDB's default maximum key size; a longer key is refused before anything is written.
constexpr std::size_t kMaxTlsKey = 511;

void put_count(std::string& out, std::uint64_t v) {
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
std::uint64_t get_count(std::string_view s) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < kCountSize && i < s.size(); ++i) v = v << 8 | static_cast<unsigned char>(s[i]);
    return v;
}
bool valid_tls_key(std::string_view key) { return !key.empty() && key.size() <= kMaxTlsKey; }

void apply_counts(QueueDb::Impl& d, lmdb::Txn& txn, const std::vector<QueueDb::TlsReportCount>& adds) {
    for (const auto& a : adds) {
        auto old = txn.get(d.tls_report, a.key);
        std::uint64_t count = a.count;
        std::string detail = a.detail;
        if (old && old->size() >= kCountSize) {
            count += get_count(*old);
            detail.assign(old->substr(kCountSize));  // the first writer's detail stays
        }
        std::string value;
        put_count(value, count);
        value += detail;
        txn.put(d.tls_report, a.key, value);
    }
}

}  // namespace

std::optional<std::string> QueueDb::mta_sts_get(std::string_view domain) const {
    const Impl& d = *impl_;
    if (!d.has_tls_policy || !valid_tls_key(domain)) return std::nullopt;
    lmdb::Txn txn = lmdb::Txn::begin_read(d.env);
    auto v = txn.get(d.mta_sts, domain);
    if (!v) return std::nullopt;
    return std::string(*v);
}

void QueueDb::mta_sts_put_async(std::string domain, std::optional<std::string> value,
                                std::function<void(std::error_code)> done) {
    Impl& d = *impl_;
    if (!valid_tls_key(domain)) return done(make_error_code(QueueError::invalid_argument));
    if (!d.has_tls_policy) return done(make_error_code(QueueError::read_only));
    d.write_async(
        [&d, domain = std::move(domain), value = std::move(value)](lmdb::Txn& txn) {
            if (value) txn.put(d.mta_sts, domain, *value);
            else txn.del(d.mta_sts, domain);
        },
        std::move(done));
}

Status QueueDb::mta_sts_put(std::string domain, std::optional<std::string> value) {
    Impl& d = *impl_;
    if (!valid_tls_key(domain)) return make_error_code(QueueError::invalid_argument);
    if (!d.has_tls_policy) return make_error_code(QueueError::read_only);
    return d.write([&](lmdb::Txn& txn) {
        if (value) txn.put(d.mta_sts, domain, *value);
        else txn.del(d.mta_sts, domain);
    });
}

std::vector<std::pair<std::string, std::string>> QueueDb::mta_sts_list(std::size_t max) const {
    const Impl& d = *impl_;
    std::vector<std::pair<std::string, std::string>> out;
    if (!d.has_tls_policy) return out;
    lmdb::Txn txn = lmdb::Txn::begin_read(d.env);
    lmdb::Cursor c(txn, d.mta_sts);
    for (bool ok = c.first(); ok && out.size() < max; ok = c.next()) out.emplace_back(c.key(), c.value());
    return out;
}

void QueueDb::tls_report_add_async(std::vector<TlsReportCount> adds, std::function<void(std::error_code)> done) {
    Impl& d = *impl_;
    for (const auto& a : adds)
        if (!valid_tls_key(a.key)) return done(make_error_code(QueueError::invalid_argument));
    if (!d.has_tls_policy) return done(make_error_code(QueueError::read_only));
    d.write_async([&d, adds = std::move(adds)](lmdb::Txn& txn) { apply_counts(d, txn, adds); }, std::move(done));
}

Status QueueDb::tls_report_add(std::vector<TlsReportCount> adds) {
    Impl& d = *impl_;
    for (const auto& a : adds)
        if (!valid_tls_key(a.key)) return make_error_code(QueueError::invalid_argument);
    if (!d.has_tls_policy) return make_error_code(QueueError::read_only);
    return d.write([&](lmdb::Txn& txn) { apply_counts(d, txn, adds); });
}

std::vector<QueueDb::TlsReportCount> QueueDb::tls_report_scan(std::string_view prefix, std::size_t max) const {
    const Impl& d = *impl_;
    std::vector<TlsReportCount> out;
    if (!d.has_tls_policy) return out;
    lmdb::Txn txn = lmdb::Txn::begin_read(d.env);
    lmdb::for_each_prefix(txn, d.tls_report, prefix, [&](std::string_view k, std::string_view v) {
        if (v.size() < kCountSize) return true;  // not ours: skipped
        out.push_back({std::string(k), get_count(v), std::string(v.substr(kCountSize))});
        return out.size() < max;
    });
    return out;
}

namespace {
void apply_mark(QueueDb::Impl& d, lmdb::Txn& txn, const std::string& key, const std::string& value,
                const std::vector<std::string>& erase) {
    std::string stored;
    put_count(stored, 0);
    stored += value;
    txn.put(d.tls_report, key, stored);
    for (const auto& k : erase)
        if (valid_tls_key(k)) txn.del(d.tls_report, k);
    // Reports may have been enqueued by another process (edgectl Send-TlsReport):
    // the server's scheduler looks now, as after any administrator's change.
    d.bump_admin_generation(txn);
}
}  // namespace

Status QueueDb::tls_report_mark(std::string key, std::string value, std::vector<std::string> erase) {
    Impl& d = *impl_;
    if (!valid_tls_key(key)) return make_error_code(QueueError::invalid_argument);
    if (!d.has_tls_policy) return make_error_code(QueueError::read_only);
    return d.write([&](lmdb::Txn& txn) { apply_mark(d, txn, key, value, erase); });
}

void QueueDb::tls_report_mark_async(std::string key, std::string value, std::vector<std::string> erase,
                                    std::function<void(std::error_code)> done) {
    Impl& d = *impl_;
    if (!valid_tls_key(key)) return done(make_error_code(QueueError::invalid_argument));
    if (!d.has_tls_policy) return done(make_error_code(QueueError::read_only));
    d.write_async([&d, key = std::move(key), value = std::move(value), erase = std::move(erase)](
                      lmdb::Txn& txn) { apply_mark(d, txn, key, value, erase); },
                  std::move(done));
}

}  // namespace edge::queue
