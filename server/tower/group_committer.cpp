#include "server/tower/group_committer.h"

#include <chrono>
#include <vector>

namespace argus::tower {

GroupCommitter::GroupCommitter(store::Store& store, std::function<void(const Error&)> on_failure,
                               std::size_t max_parts_per_batch)
    : store_(store), on_failure_(std::move(on_failure)), max_parts_(max_parts_per_batch) {
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
        // Parts are merged in submission order, so later snapshots of the same
        // user overwrite earlier ones inside the one transaction.
        store::WriteBatch merged;
        for (const auto& p : parts) {
            merged.users.insert(merged.users.end(), p.batch.users.begin(), p.batch.users.end());
            merged.appointments.insert(merged.appointments.end(), p.batch.appointments.begin(),
                                       p.batch.appointments.end());
            merged.removed_appointments.insert(merged.removed_appointments.end(),
                                               p.batch.removed_appointments.begin(),
                                               p.batch.removed_appointments.end());
            merged.trackers.insert(merged.trackers.end(), p.batch.trackers.begin(), p.batch.trackers.end());
            merged.removed_trackers.insert(merged.removed_trackers.end(), p.batch.removed_trackers.begin(),
                                           p.batch.removed_trackers.end());
            if (p.batch.chain_position) merged.chain_position = p.batch.chain_position;
        }
        auto started = std::chrono::steady_clock::now();
        Status status = store_.write(merged);
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        {
            std::lock_guard lock(mutex_);
            ++stats_.batches;
            stats_.parts += parts.size();
            stats_.last_batch_parts = parts.size();
            stats_.largest_batch_parts = std::max(stats_.largest_batch_parts, parts.size());
            if (!status) ++stats_.failed_batches;
        }
        std::function<void(std::size_t, double, bool)> observer;
        {
            std::lock_guard lock(mutex_);
            observer = observer_;
        }
        if (observer) observer(parts.size(), seconds, static_cast<bool>(status));
        for (auto& p : parts) p.done(status);
        if (!status && on_failure_) on_failure_(status.error());
    }
}

}  // namespace argus::tower
