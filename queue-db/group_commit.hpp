// GroupCommitter: the one thread that writes to the environment. Jobs that arrive
// while a commit (and its fsync) runs are applied together in the next write
// transaction, so N concurrent writers pay for one sync, not N.
#pragma once

#include "errors.hpp"
#include "lmdb.hpp"

#include <array>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace edge::queue {

// An LMDB failure of a write (a commit, or the writes of open()) in our taxonomy.
QueueError classify_write_failure(int rc, const lmdb::Env& env);

class GroupCommitter {
public:
    // One unit of work inside a batch.
    //  - A job that refuses (wrong state, not found) throws JobError, and must do so
    //    before its first write: the batch then goes on without it and it finishes
    //    with that error.
    //  - An LMDB failure (map full, disk full) aborts the batch; every job of it is
    //    then re-run alone, so only the ones that do not fit fail. apply() may thus
    //    run more than once and writes its results afresh each time.
    class Job {
    public:
        virtual ~Job() = default;
        virtual void apply(lmdb::Txn& txn) = 0;
        // Runs on the committer thread after the durable commit (ec empty) or the
        // failure. Must not block on the committer.
        virtual void finish(std::error_code ec) = 0;
        // New mail: refused without a try while Hooks::refuse_new_mail says so.
        virtual bool new_mail() const { return false; }
        // Delivery and recovery: when it finds the volume full, the queue's reserve is
        // given back (Hooks::give_back_reserve) and it is tried once more.
        virtual bool may_use_reserve() const { return false; }
    };

    struct Hooks {
        std::function<void(lmdb::Txn&)> before_batch;  // e.g. load cached counters
        std::function<void(lmdb::Txn&)> after_batch;   // e.g. write them back once
        std::function<void()> after_commit;            // the batch is durable (before finish())
        std::function<void()> after_abort;             // drop what before_batch loaded
        std::function<bool()> refuse_new_mail;         // the reserve is in use: new mail waits
        std::function<bool()> give_back_reserve;       // true when it freed anything
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
        // Histograms for the metrics (issue 21): per bucket of the bounds below, the last
        // past every bound. Updated once per batch, under the mutex the counts already take.
        std::array<std::uint64_t, 9> batch_size_counts{};
        std::array<std::uint64_t, 11> commit_seconds_counts{};
        double commit_seconds_sum = 0;
    };
    static constexpr std::array<double, 8> kBatchSizeBounds{1, 2, 4, 8, 16, 32, 64, 128};
    static constexpr std::array<double, 10> kCommitSecondsBounds{0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                                 0.025,  0.05,  0.1,    0.25,  1};
    Stats stats() const;

private:
    void run();
    void commit_batch(std::vector<std::unique_ptr<Job>>& batch);
    // Applies and commits jobs [first, last); refused jobs' errors land in `refused`.
    std::error_code try_commit(std::unique_ptr<Job>* first, std::unique_ptr<Job>* last,
                               std::vector<std::error_code>& refused);
    // One job in a transaction of its own, with the reserve when it may use it.
    std::error_code commit_alone(std::unique_ptr<Job>& job);

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
