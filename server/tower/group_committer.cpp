#include "server/tower/group_committer.h"

#include <chrono>
#include <optional>
#include <vector>

namespace argus::tower {

GroupCommitter::GroupCommitter(store::Store& store, std::function<void(const Error&)> on_failure,
                               std::function<void(const store::WriteEffects&)> on_committed, Clock& clock,
                               std::size_t max_parts_per_batch)
    : store_(store),
      on_failure_(std::move(on_failure)),
      on_committed_(std::move(on_committed)),
      clock_(clock),
      max_parts_(max_parts_per_batch) {
    thread_ = std::thread([this] { run(); });
}

GroupCommitter::~GroupCommitter() { stop(); }

bool GroupCommitter::submit(store::WriteBatch part, Done done) {
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
    queue_.push_back(Part{std::move(part), std::move(done)});
    wake_.notify_one();
    return true;
}

std::size_t GroupCommitter::fail_pending(const Error& error) {
    std::deque<Part> failed;
    {
        std::lock_guard lock(mutex_);
        failed.swap(queue_);
    }
    for (auto& part : failed) part.done(error);
    return failed.size();
}

void GroupCommitter::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && !thread_.joinable()) return;
        stopping_ = true;
        wake_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
}

void GroupCommitter::set_observer(std::function<void(std::size_t, double, bool)> observer) {
    std::lock_guard lock(mutex_);
    observer_ = std::move(observer);
}

CommitterStats GroupCommitter::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

void GroupCommitter::run() {
    for (;;) {
        std::vector<Part> parts;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping and drained
            while (!queue_.empty() && parts.size() < max_parts_) {
                parts.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        // Parts are concatenated in submission order: the transaction applies
        // every operation in the order it was submitted.
        store::WriteBatch merged;
        std::vector<std::pair<std::size_t, std::optional<std::uint64_t>>> ranges;  // each part's end, and its fence
        for (auto& p : parts) {
            ranges.emplace_back(0, p.batch.fence_epoch);
            merged.append(std::move(p.batch));
            ranges.back().first = merged.operations.size();
        }
        auto started = clock_.monotonic_now();
        auto written = store_.write(merged);
        Status status = written ? Status{} : Status{written.error()};
        // The in-memory index follows what committed, before anyone is told.
        if (written && on_committed_) on_committed_(*written);
        // A conflict (another tower wrote a user first) or a fenced watcher
        // write fails only its own part: the others are written again alone.
        bool isolate = !written && parts.size() > 1 &&
                       (written.error().code == ErrorCode::conflict || written.error().code == ErrorCode::fenced);
        std::vector<Status> statuses(parts.size(), status);
        if (isolate) {
            std::size_t begin = 0;
            for (std::size_t i = 0; i < parts.size(); ++i) {
                store::WriteBatch alone;
                alone.fence_epoch = ranges[i].second;
                for (std::size_t k = begin; k < ranges[i].first; ++k) alone.add(std::move(merged.operations[k]));
                begin = ranges[i].first;
                auto one = store_.write(alone);
                if (one && on_committed_) on_committed_(*one);
                statuses[i] = one ? Status{} : Status{one.error()};
            }
            status = Status{};  // a conflict or a fence is reported to its part only
            for (const auto& st : statuses) {
                if (!st && st.error().code != ErrorCode::conflict && st.error().code != ErrorCode::fenced) status = st;
            }
        }
        bool local = !written && !isolate && (written.error().code == ErrorCode::conflict || written.error().code == ErrorCode::fenced);
        double seconds = std::chrono::duration<double>(clock_.monotonic_now() - started).count();
        {
            std::lock_guard lock(mutex_);
            ++stats_.batches;
            stats_.parts += parts.size();
            stats_.last_batch_parts = parts.size();
            stats_.largest_batch_parts = std::max(stats_.largest_batch_parts, parts.size());
            if (!written) ++stats_.failed_batches;
            stats_.write_seconds += seconds;
        }
        std::function<void(std::size_t, double, bool)> observer;
        {
            std::lock_guard lock(mutex_);
            observer = observer_;
        }
        if (observer) observer(parts.size(), seconds, static_cast<bool>(written));
        for (std::size_t i = 0; i < parts.size(); ++i) parts[i].done(statuses[i]);
        // A conflict or a fence concerns the parts that carried it, not what
        // the tower holds in memory for everyone else.
        if (!status && !local && on_failure_) on_failure_(status.error());
    }
}

}  // namespace argus::tower
