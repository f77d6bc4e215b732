// The queue-db error category and the LMDB-to-taxonomy mapping.
#include "errors.hpp"

#include <lmdb.h>

#include <cerrno>

namespace edge::queue {

namespace {
class Category final : public std::error_category {
public:
    const char* name() const noexcept override { return "queue-db"; }
    std::string message(int ev) const override {
        switch (static_cast<QueueError>(ev)) {
            case QueueError::ok: return "success";
            case QueueError::storage_full: return "queue database storage is full";
            case QueueError::not_found: return "not found";
            case QueueError::invalid_argument: return "invalid argument";
            case QueueError::invalid_state: return "operation not valid in the current state";
            case QueueError::conflict: return "configuration changed concurrently";
            case QueueError::corrupt_record: return "stored record failed validation";
            case QueueError::io_error: return "queue database I/O error";
            case QueueError::shutting_down: return "queue database is shutting down";
            case QueueError::read_only: return "queue database is open read-only";
        }
        return "unknown queue-db error";
    }
};
}  // namespace

const std::error_category& queue_category() noexcept {
    static const Category category;
    return category;
}

QueueError classify_lmdb_error(int rc) noexcept {
    switch (rc) {
        case MDB_SUCCESS: return QueueError::ok;
        case MDB_MAP_FULL:
        case ENOSPC:
        case EFBIG:   // the file size limit (RLIMIT_FSIZE) is a full disk to us
        case EDQUOT: return QueueError::storage_full;
        case MDB_NOTFOUND: return QueueError::not_found;
        case MDB_CORRUPTED:
        case MDB_PAGE_NOTFOUND: return QueueError::corrupt_record;
        default: return QueueError::io_error;
    }
}

}  // namespace edge::queue
