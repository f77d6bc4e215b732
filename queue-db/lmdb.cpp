// The LMDB RAII layer's out-of-line parts: opening, committing, error text.
#include "lmdb.hpp"

#include <fmt/format.h>

#include <cstring>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

namespace edge::lmdb {

Error::Error(const char* call, int rc)
    : std::runtime_error(fmt::format("{}: {}", call, mdb_strerror(rc))), call_(call), rc_(rc) {}

void throw_error(const char* call, int rc) { throw Error(call, rc); }

Env Env::open(const std::string& dir, const EnvOptions& options) {
    Env env;
    check("mdb_env_create", mdb_env_create(&env.env_));
    check("mdb_env_set_maxdbs", mdb_env_set_maxdbs(env.env_, options.max_dbs));
    check("mdb_env_set_maxreaders", mdb_env_set_maxreaders(env.env_, options.max_readers));
    check("mdb_env_set_mapsize", mdb_env_set_mapsize(env.env_, options.map_size));
    check("mdb_env_open", mdb_env_open(env.env_, dir.c_str(), options.flags, 0640));
    // Reader slots of processes that died (kill -9) would pin old pages for ever.
    int dead = 0;
    check("mdb_reader_check", mdb_reader_check(env.env_, &dead));
    return env;
}

void Env::close() noexcept {
    if (env_ != nullptr) mdb_env_close(std::exchange(env_, nullptr));
}

std::size_t Env::map_size() const {
    MDB_envinfo info{};
    check("mdb_env_info", mdb_env_info(env_, &info));
    return info.me_mapsize;
}

std::size_t Env::page_size() const {
    MDB_stat st{};
    check("mdb_env_stat", mdb_env_stat(env_, &st));
    return st.ms_psize;
}

bool out_of_space(const Env& env, std::size_t margin) {
    const char* path = nullptr;
    if (mdb_env_get_path(env.get(), &path) != MDB_SUCCESS || path == nullptr) return false;
    struct statvfs vfs {};
    if (::statvfs(path, &vfs) == 0 && static_cast<std::size_t>(vfs.f_bavail) * vfs.f_frsize < margin) return true;
    rlimit lim{};
    struct stat st {};
    std::string data = std::string(path) + "/data.mdb";
    if (::getrlimit(RLIMIT_FSIZE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY && ::stat(data.c_str(), &st) == 0)
        return static_cast<std::size_t>(st.st_size) + margin > lim.rlim_cur;
    return false;
}

std::size_t free_pages(const Env& env) {
    Txn txn = Txn::begin_read(env);
    Cursor c(txn, 0);  // FREE_DBI: transaction id -> list of page numbers, its count first
    std::size_t pages = 0;
    for (bool ok = c.first(); ok; ok = c.next()) {
        std::size_t count = 0;
        if (c.value().size() >= sizeof count) std::memcpy(&count, c.value().data(), sizeof count);
        pages += count;
    }
    return pages;
}

Txn Txn::begin_read(const Env& env) {
    MDB_txn* t = nullptr;
    check("mdb_txn_begin(read)", mdb_txn_begin(env.get(), nullptr, MDB_RDONLY, &t));
    return Txn(t);
}

Txn Txn::begin_write(const Env& env) {
    MDB_txn* t = nullptr;
    check("mdb_txn_begin(write)", mdb_txn_begin(env.get(), nullptr, 0, &t));
    return Txn(t);
}

void Txn::commit() {
    // LMDB frees the handle whatever the outcome: forget it first.
    MDB_txn* t = std::exchange(txn_, nullptr);
    check("mdb_txn_commit", mdb_txn_commit(t));
}

Dbi Txn::open_dbi(const char* name, unsigned flags) {
    Dbi dbi = 0;
    check("mdb_dbi_open", mdb_dbi_open(txn_, name, flags, &dbi));
    return dbi;
}

std::optional<std::string_view> Txn::get(Dbi dbi, std::string_view key) const {
    MDB_val k = val(key);
    MDB_val v{};
    int rc = mdb_get(txn_, dbi, &k, &v);
    if (rc == MDB_NOTFOUND) return std::nullopt;
    check("mdb_get", rc);
    return view(v);
}

void Txn::put(Dbi dbi, std::string_view key, std::string_view value, unsigned flags) {
    MDB_val k = val(key);
    MDB_val v = val(value);
    check("mdb_put", mdb_put(txn_, dbi, &k, &v, flags));
}

std::span<char> Txn::reserve(Dbi dbi, std::string_view key, std::size_t size, unsigned flags) {
    MDB_val k = val(key);
    MDB_val v{size, nullptr};
    check("mdb_put(MDB_RESERVE)", mdb_put(txn_, dbi, &k, &v, flags | MDB_RESERVE));
    return {static_cast<char*>(v.mv_data), size};
}

bool Txn::del(Dbi dbi, std::string_view key) {
    MDB_val k = val(key);
    int rc = mdb_del(txn_, dbi, &k, nullptr);
    if (rc == MDB_NOTFOUND) return false;
    check("mdb_del", rc);
    return true;
}

bool Txn::insert(Dbi dbi, std::string_view key, std::string_view value) {
    MDB_val k = val(key);
    MDB_val v = val(value);
    int rc = mdb_put(txn_, dbi, &k, &v, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) return false;
    check("mdb_put", rc);
    return true;
}

void Txn::drop(Dbi dbi) { check("mdb_drop", mdb_drop(txn_, dbi, 0)); }

Cursor::Cursor(const Txn& txn, Dbi dbi) { check("mdb_cursor_open", mdb_cursor_open(txn.get(), dbi, &c_)); }

bool Cursor::move(MDB_cursor_op op) {
    int rc = mdb_cursor_get(c_, &key_, &value_, op);
    if (rc == MDB_NOTFOUND) return false;
    check("mdb_cursor_get", rc);
    return true;
}

bool Cursor::seek(std::string_view key) {
    if (key.empty()) return first();  // LMDB refuses zero-length keys
    key_ = val(key);
    return move(MDB_SET_RANGE);
}

bool Cursor::current() { return move(MDB_GET_CURRENT); }

void Cursor::del() { check("mdb_cursor_del", mdb_cursor_del(c_, 0)); }

}  // namespace edge::lmdb
