// The group-commit loop: take everything pending, one write transaction, one sync.
#include "group_commit.hpp"

#include "errors.hpp"

#include <cerrno>
#include <new>

namespace edge::queue {

GroupCommitter::GroupCommitter(const lmdb::Env& env, Hooks hooks)
    : env_(env), hooks_(std::move(hooks)), thread_([this] { run(); }) {}

GroupCommitter::~GroupCommitter() { stop(); }

void GroupCommitter::submit(std::unique_ptr<Job> job) {
    {
        std::lock_guard lk(mu_);
        if (!stopping_) {
            pending_.push_back(std::move(job));
            cv_.notify_one();
            return;
        }
    }
    job->finish(make_error_code(QueueError::shutting_down));
}

void GroupCommitter::stop() {
    {
        std::lock_guard lk(mu_);
        stopping_ = true;
        cv_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
}

GroupCommitter::Stats GroupCommitter::stats() const {
    std::lock_guard lk(mu_);
    return stats_;
}

void GroupCommitter::run() {
    std::vector<std::unique_ptr<Job>> batch;
    for (;;) {
        {
            std::unique_lock lk(mu_);
            cv_.wait(lk, [&] { return stopping_ || !pending_.empty(); });
            if (pending_.empty()) return;  // stopping, and nothing left to commit
            batch.swap(pending_);
        }
        commit_batch(batch);
        batch.clear();
    }
}

void GroupCommitter::commit_batch(std::vector<std::unique_ptr<Job>>& batch) {
    std::unique_ptr<Job>* first = batch.data();
    std::unique_ptr<Job>* last = first + batch.size();
    std::vector<std::error_code> refused(batch.size());
    std::error_code ec = try_commit(first, last, refused);
    if (!ec || batch.size() == 1) {
        for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->finish(ec ? ec : refused[i]);
        return;
    }
    // LMDB failed the batch as a whole; re-run each job alone so only the guilty fail.
    for (auto* j = first; j != last; ++j) {
        std::vector<std::error_code> one(1);
        std::error_code e = try_commit(j, j + 1, one);
        (*j)->finish(e ? e : one[0]);
    }
}

std::error_code GroupCommitter::try_commit(std::unique_ptr<Job>* first, std::unique_ptr<Job>* last,
                                           std::vector<std::error_code>& refused) {
    try {
        lmdb::Txn txn = lmdb::Txn::begin_write(env_);
        if (hooks_.before_batch) hooks_.before_batch(txn);
        for (auto* j = first; j != last; ++j) {
            try {
                (*j)->apply(txn);
            } catch (const JobError& e) {
                // It refused before writing anything: the rest of the batch goes on.
                refused[static_cast<std::size_t>(j - first)] = make_error_code(e.code);
            }
        }
        if (hooks_.after_batch) hooks_.after_batch(txn);
        txn.commit();  // LMDB's default: data pages, then meta page, each fdatasync'd
        if (hooks_.after_commit) hooks_.after_commit();
        std::lock_guard lk(mu_);
        stats_.batches += 1;
        stats_.jobs += static_cast<std::uint64_t>(last - first);
        return {};
    } catch (const lmdb::Error& e) {
        if (hooks_.after_abort) hooks_.after_abort();
        QueueError q = classify_lmdb_error(e.rc());
        if (q == QueueError::io_error && e.rc() == EIO && lmdb::out_of_space(env_)) q = QueueError::storage_full;
        return make_error_code(q);
    } catch (const std::bad_alloc&) {
        if (hooks_.after_abort) hooks_.after_abort();
        return make_error_code(QueueError::io_error);
    }
}

}  // namespace edge::queue
