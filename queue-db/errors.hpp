// queue-db's own error codes (an std::error_category), and Result<T>.
// storage_full is the one the receive side turns into back pressure (452 4.3.1).
#pragma once

#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace edge::queue {

enum class QueueError {
    ok = 0,
    storage_full,      // MDB_MAP_FULL, ENOSPC, EFBIG, EDQUOT: refuse new mail, keep delivering
    not_found,         // no such message or queue
    invalid_argument,  // a caller's record does not pass validation
    invalid_state,     // the operation does not apply in the current state
    conflict,          // config generation moved since the caller read it
    corrupt_record,    // a stored record failed validation (it is moved aside)
    io_error,          // any other LMDB or system failure
    shutting_down,     // the database is closing; the operation was not run
    read_only,         // opened read-only (edgectl's read cmdlets): no write is made
};

const std::error_category& queue_category() noexcept;

inline std::error_code make_error_code(QueueError e) noexcept {
    return {static_cast<int>(e), queue_category()};
}

// Maps an LMDB return code (MDB_* or errno) to our taxonomy.
QueueError classify_lmdb_error(int rc) noexcept;

// True for the errors back pressure acts on.
inline bool is_storage_full(const std::error_code& ec) noexcept {
    return ec == make_error_code(QueueError::storage_full);
}

// Thrown inside a write job to fail that job; the group committer turns it into the
// job's error code after re-running the job on its own.
struct JobError {
    QueueError code;
    std::string detail;
};

// A value or an error. (std::expected is C++23.)
template <class T>
class Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(std::error_code ec) : v_(ec) {}
    Result(QueueError e) : v_(make_error_code(e)) {}
    bool ok() const noexcept { return std::holds_alternative<T>(v_); }
    explicit operator bool() const noexcept { return ok(); }
    T& value() & { return std::get<T>(v_); }
    const T& value() const& { return std::get<T>(v_); }
    T&& value() && { return std::get<T>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    std::error_code error() const noexcept {
        return ok() ? std::error_code{} : std::get<std::error_code>(v_);
    }

private:
    std::variant<T, std::error_code> v_;
};

// For operations that return nothing but an outcome.
struct Done {};
using Status = Result<Done>;

}  // namespace edge::queue

template <>
struct std::is_error_code_enum<edge::queue::QueueError> : std::true_type {};
