// The group-commit loop: take everything pending, one write transaction, one sync.
#include "group_commit.hpp"

#include "errors.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <new>
#include <utility>

namespace edge::queue {

QueueError classify_write_failure(int rc, const lmdb::Env& env) {
    QueueError q = classify_lmdb_error(rc);
    // LMDB reports a short write as EIO: on a volume with no room left, that is "full".
    if (q == QueueError::io_error && rc == EIO && lmdb::out_of_space(env)) q = QueueError::storage_full;
    return q;
}

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
    // New mail never touches the reserve: while delivery holds it, new mail is refused
    // before it writes anything (452 4.3.1 on the receive side).
    if (hooks_.refuse_new_mail && std::any_of(batch.begin(), batch.end(), [](const auto& j) { return j->new_mail(); }) &&
        hooks_.refuse_new_mail()) {
        for (auto& j : batch)
            if (j->new_mail()) std::exchange(j, nullptr)->finish(make_error_code(QueueError::storage_full));
        std::erase(batch, nullptr);
        if (batch.empty()) return;
    }
    std::unique_ptr<Job>* first = batch.data();
    std::unique_ptr<Job>* last = first + batch.size();
    std::vector<std::error_code> refused(batch.size());
    std::error_code ec = try_commit(first, last, refused);
    if (!ec || (batch.size() == 1 && !(is_storage_full(ec) && batch[0]->may_use_reserve()))) {
        for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->finish(ec ? ec : refused[i]);
        return;
    }
    // LMDB failed the batch as a whole; re-run each job alone so only the guilty fail.
    for (auto& j : batch) j->finish(commit_alone(j));
}

std::error_code GroupCommitter::commit_alone(std::unique_ptr<Job>& job) {
    std::vector<std::error_code> one(1);
    std::error_code e = try_commit(&job, &job + 1, one);
    if (is_storage_full(e) && job->may_use_reserve() && hooks_.give_back_reserve && hooks_.give_back_reserve())
        e = try_commit(&job, &job + 1, one);
    return e ? e : one[0];
}

std::error_code GroupCommitter::try_commit(std::unique_ptr<Job>* first, std::unique_ptr<Job>* last,
                                           std::vector<std::error_code>& refused) {
    const auto began = std::chrono::steady_clock::now();
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
        const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
        const auto size = static_cast<double>(last - first);
        std::lock_guard lk(mu_);
        stats_.batches += 1;
        stats_.jobs += static_cast<std::uint64_t>(last - first);
        // The first bound >= the value (le: less than or equal), else the last bucket.
        ++stats_.batch_size_counts[static_cast<std::size_t>(
            std::lower_bound(kBatchSizeBounds.begin(), kBatchSizeBounds.end(), size) - kBatchSizeBounds.begin())];
        ++stats_.commit_seconds_counts[static_cast<std::size_t>(
            std::lower_bound(kCommitSecondsBounds.begin(), kCommitSecondsBounds.end(), took) - kCommitSecondsBounds.begin())];
        stats_.commit_seconds_sum += took;
        return {};
    } catch (const lmdb::Error& e) {
        if (hooks_.after_abort) hooks_.after_abort();
        return make_error_code(classify_write_failure(e.rc(), env_));
    } catch (const std::bad_alloc&) {
        if (hooks_.after_abort) hooks_.after_abort();
        return make_error_code(QueueError::io_error);
    }
}

}  // namespace edge::queue
