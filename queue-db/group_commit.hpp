// GroupCommitter: the one thread that writes to the environment. Jobs that arrive
// while a commit (and its fsync) runs are applied together in the next write
// transaction, so N concurrent writers pay for one sync, not N.
#pragma once

#include "lmdb.hpp"

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace edge::queue {

class GroupCommitter {
public:
    // One unit of work inside a batch. apply() may run more than once: when a batch
    // fails, each of its jobs is re-run alone so that one bad job (or one that does
    // not fit in the map) fails by itself. apply() therefore writes its results
    // afresh each time and only throws (lmdb::Error, JobError) to fail.
    class Job {
    public:
        virtual ~Job() = default;
        virtual void apply(lmdb::Txn& txn) = 0;
        // Runs on the committer thread after the durable commit (ec empty) or the
        // failure. Must not block on the committer.
        virtual void finish(std::error_code ec) = 0;
    };

    struct Hooks {
        std::function<void(lmdb::Txn&)> before_batch;  // e.g. load cached counters
        std::function<void(lmdb::Txn&)> after_batch;   // e.g. write them back once
        std::function<void()> after_abort;             // drop what before_batch loaded
    };

    GroupCommitter(const lmdb::Env& env, Hooks hooks);
    ~GroupCommitter();
    GroupCommitter(const GroupCommitter&) = delete;
    GroupCommitter& operator=(const GroupCommitter&) = delete;

    void submit(std::unique_ptr<Job> job);
    // Commits what was submitted, then stops; later submissions fail with shutting_down.
    void stop();

    // How many batches and jobs have been committed (for tests and benchmarks).
    struct Stats {
        std::uint64_t batches = 0;
        std::uint64_t jobs = 0;
    };
    Stats stats() const;

private:
    void run();
    void commit_batch(std::vector<std::unique_ptr<Job>>& batch);
    std::error_code try_commit(std::unique_ptr<Job>* first, std::unique_ptr<Job>* last);

    const lmdb::Env& env_;
    Hooks hooks_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<Job>> pending_;
    bool stopping_ = false;
    Stats stats_;
    std::thread thread_;
};

}  // namespace edge::queue
