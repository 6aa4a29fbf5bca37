// Group commit: writes submitted concurrently are concatenated, in submission
// order, into one store transaction, so one fsync acknowledges many requests. A part's `done` runs on
// the committer thread after its transaction is durable (or failed).
//
// A batch failing with ErrorCode::conflict or ::fenced (a tower of a group)
// is written again part by part, so only the parts that carry the conflict
// fail, and `on_failure` does not run. On any other failed write every part
// of that batch fails, then `on_failure` runs on the committer thread; the owner uses it to fail whatever is still queued
// (fail_pending) and to re-sync its in-memory state with the store.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "common/context.h"
#include "server/store/store.h"

namespace argus::tower {

struct CommitterStats {
    std::uint64_t batches = 0;
    std::uint64_t parts = 0;
    std::uint64_t failed_batches = 0;
    std::size_t last_batch_parts = 0;
    std::size_t largest_batch_parts = 0;
    double write_seconds = 0;  // spent in the store's writes (the committer's busy time)
};

class GroupCommitter {
public:
    using Done = std::function<void(const Status&)>;

    // `on_committed` runs on the committer thread after each successful
    // transaction and before its parts' `done`, with what it changed.
    GroupCommitter(store::Store& store, std::function<void(const Error&)> on_failure,
                   std::function<void(const store::WriteEffects&)> on_committed = nullptr,
                   Clock& clock = system_clock(), std::size_t max_parts_per_batch = 512);
    ~GroupCommitter();
    GroupCommitter(const GroupCommitter&) = delete;
    GroupCommitter& operator=(const GroupCommitter&) = delete;

    // Queues a part. Returns false (and never calls `done`) once stopping, so a
    // caller holding locks is never re-entered.
    [[nodiscard]] bool submit(store::WriteBatch part, Done done);
    // Fails every part queued but not yet being written. Returns how many.
    std::size_t fail_pending(const Error& error);
    // Writes everything queued, then stops the thread. Later submits fail.
    void stop();
    CommitterStats stats() const;
    // Called on the committer thread after each transaction: parts, seconds, success.
    void set_observer(std::function<void(std::size_t, double, bool)> observer);

private:
    struct Part {
        store::WriteBatch batch;
        Done done;
    };
    void run();

    store::Store& store_;
    std::function<void(const Error&)> on_failure_;
    std::function<void(const store::WriteEffects&)> on_committed_;
    Clock& clock_;
    std::size_t max_parts_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Part> queue_;
    bool stopping_ = false;
    CommitterStats stats_;
    std::function<void(std::size_t, double, bool)> observer_;
    std::thread thread_;
};

}  // namespace argus::tower
