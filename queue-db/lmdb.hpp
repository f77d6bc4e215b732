// Thin RAII layer over the LMDB C API: move-only Env, Txn, Dbi handle, Cursor.
// Errors become lmdb::Error naming the LMDB call; "not found" is an optional.
// Only queue-db uses this header; nothing above queue-db sees LMDB types.
#pragma once

#include <lmdb.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace edge::lmdb {

// An LMDB call failed. rc is LMDB's return code (an MDB_* value or an errno).
class Error : public std::runtime_error {
public:
    Error(const char* call, int rc);
    int rc() const noexcept { return rc_; }
    const char* call() const noexcept { return call_; }

private:
    const char* call_;
    int rc_;
};

[[noreturn]] void throw_error(const char* call, int rc);

inline void check(const char* call, int rc) {
    if (rc != MDB_SUCCESS) throw_error(call, rc);
}

inline std::string_view view(const MDB_val& v) noexcept {
    return {static_cast<const char*>(v.mv_data), v.mv_size};
}
inline MDB_val val(std::string_view s) noexcept {
    return {s.size(), const_cast<char*>(s.data())};
}

struct EnvOptions {
    std::size_t map_size = std::size_t{1} << 34;  // 16 GiB of address space, not of disk
    unsigned max_dbs = 16;
    unsigned max_readers = 126;
    // MDB_NOTLS: read transactions are not tied to a thread, so coroutines on a pool
    // may carry them. MDB_NOSUBDIR is not used: the environment is a directory.
    unsigned flags = MDB_NOTLS;
};

// One LMDB environment. A process must open a given environment at most once
// (LMDB's own rule: a second mdb_env_open in the same process breaks its locks).
class Env {
public:
    Env() = default;
    static Env open(const std::string& dir, const EnvOptions& options);
    Env(Env&& o) noexcept : env_(std::exchange(o.env_, nullptr)) {}
    Env& operator=(Env&& o) noexcept {
        if (this != &o) {
            close();
            env_ = std::exchange(o.env_, nullptr);
        }
        return *this;
    }
    Env(const Env&) = delete;
    Env& operator=(const Env&) = delete;
    ~Env() { close(); }

    MDB_env* get() const noexcept { return env_; }
    explicit operator bool() const noexcept { return env_ != nullptr; }
    std::size_t map_size() const;
    std::size_t page_size() const;
    void close() noexcept;

private:
    MDB_env* env_ = nullptr;
};

using Dbi = MDB_dbi;

// A transaction. Aborts in its destructor unless committed. commit() forgets the
// handle before calling LMDB, because LMDB frees it even when the commit fails.
class Txn {
public:
    Txn() = default;
    static Txn begin_read(const Env& env);
    static Txn begin_write(const Env& env);
    Txn(Txn&& o) noexcept : txn_(std::exchange(o.txn_, nullptr)) {}
    Txn& operator=(Txn&& o) noexcept {
        if (this != &o) {
            abort();
            txn_ = std::exchange(o.txn_, nullptr);
        }
        return *this;
    }
    Txn(const Txn&) = delete;
    Txn& operator=(const Txn&) = delete;
    ~Txn() { abort(); }

    void commit();
    void abort() noexcept {
        if (txn_ != nullptr) mdb_txn_abort(std::exchange(txn_, nullptr));
    }
    MDB_txn* get() const noexcept { return txn_; }

    Dbi open_dbi(const char* name, unsigned flags);

    // The value views point into the map: valid until the end of this transaction
    // (and, in a write transaction, until the next write to the same page).
    std::optional<std::string_view> get(Dbi dbi, std::string_view key) const;
    void put(Dbi dbi, std::string_view key, std::string_view value, unsigned flags = 0);
    // MDB_RESERVE: LMDB allocates `size` bytes for the value and we fill them, so a
    // large body is copied once, straight into the page it is stored on.
    std::span<char> reserve(Dbi dbi, std::string_view key, std::size_t size, unsigned flags = 0);
    bool del(Dbi dbi, std::string_view key);  // false when the key did not exist
    bool insert(Dbi dbi, std::string_view key, std::string_view value);  // false when it did exist
    void drop(Dbi dbi);                        // empties the database

private:
    explicit Txn(MDB_txn* t) : txn_(t) {}
    MDB_txn* txn_ = nullptr;
};

// A cursor over one database inside one transaction.
class Cursor {
public:
    Cursor(const Txn& txn, Dbi dbi);
    Cursor(Cursor&& o) noexcept : c_(std::exchange(o.c_, nullptr)), key_(o.key_), value_(o.value_) {}
    Cursor(const Cursor&) = delete;
    Cursor& operator=(const Cursor&) = delete;
    Cursor& operator=(Cursor&&) = delete;
    ~Cursor() {
        if (c_ != nullptr) mdb_cursor_close(c_);
    }

    bool first() { return move(MDB_FIRST); }
    bool last() { return move(MDB_LAST); }
    bool next() { return move(MDB_NEXT); }
    bool prev() { return move(MDB_PREV); }
    // Positions on the first key >= `key`.
    bool seek(std::string_view key);
    // Deletes the current entry; the cursor then stands on the following one
    // (call current_valid() / key() again rather than next()).
    void del();
    bool current();  // re-reads the entry the cursor stands on

    std::string_view key() const noexcept { return view(key_); }
    std::string_view value() const noexcept { return view(value_); }

private:
    bool move(MDB_cursor_op op);
    MDB_cursor* c_ = nullptr;
    MDB_val key_{};
    MDB_val value_{};
};

// True when the environment's volume, or this process's file-size limit, leaves less
// than `margin` bytes to grow into. LMDB reports a short write as EIO: on a nearly
// full disk that EIO means "full", and the caller should treat it so.
bool out_of_space(const Env& env, std::size_t margin = std::size_t{64} << 20);

// Pages on the environment's free list (LMDB reuses them before it grows its file),
// counted in one short read transaction. Pages a reader still pins are included.
std::size_t free_pages(const Env& env);

// Iterates over every key that starts with `prefix`, calling f(key, value);
// f returns false to stop early.
template <class F>
void for_each_prefix(const Txn& txn, Dbi dbi, std::string_view prefix, F&& f) {
    Cursor c(txn, dbi);
    for (bool ok = c.seek(prefix); ok && c.key().starts_with(prefix); ok = c.next()) {
        if (!f(c.key(), c.value())) return;
    }
}

}  // namespace edge::lmdb
