// Test implementations of common/context.h: a clock whose time moves only when
// the test says so, and a deterministic RNG. Waiting on the simulated clock
// wakes on advance() as on a notification, so a test drives a worker thread's
// timeouts without sleeping.
#pragma once

#include <algorithm>
#include <atomic>
#include <vector>

#include "common/context.h"
#include "common/hash.h"

namespace argus::test {

class SimulatedClock final : public Clock {
public:
    // Starts at an arbitrary fixed wall-clock time (2023-11-14T22:13:20Z).
    explicit SimulatedClock(std::chrono::milliseconds system_start = std::chrono::milliseconds(1'700'000'000'000))
        : system_start_(system_start) {}

    std::chrono::system_clock::time_point system_now() override {
        return std::chrono::system_clock::time_point(
            std::chrono::duration_cast<std::chrono::system_clock::duration>(system_start_ + elapsed()));
    }
    std::chrono::steady_clock::time_point monotonic_now() override {
        return std::chrono::steady_clock::time_point(
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(elapsed()));
    }
    std::int64_t system_ms() {
        return std::chrono::duration_cast<std::chrono::milliseconds>(system_now().time_since_epoch()).count();
    }

    // Moves both clocks forward and wakes every wait_for so it re-checks its deadline.
    void advance(std::chrono::milliseconds by) {
        std::lock_guard lock(mutex_);
        elapsed_ms_ += by.count();
        for (Waiter* w : waiters_) {
            // Taking the waiter's mutex orders this after its deadline check:
            // either it has not checked yet (and sees the new time) or it is
            // blocked in wait() and gets the notification.
            std::lock_guard waiter_lock(*w->mutex);
            w->wake->notify_all();
        }
    }

    bool wait_for(std::unique_lock<std::mutex>& lock, std::condition_variable& wake, std::chrono::milliseconds timeout,
                  const std::function<bool()>& done) override {
        auto deadline = monotonic_now() + timeout;
        Waiter self{lock.mutex(), &wake};
        // Never take mutex_ while holding the caller's mutex: advance() takes them the other way round.
        lock.unlock();
        {
            std::lock_guard guard(mutex_);
            waiters_.push_back(&self);
            waiters_changed_.notify_all();
        }
        lock.lock();
        while (!done() && monotonic_now() < deadline) wake.wait(lock);
        lock.unlock();
        {
            std::lock_guard guard(mutex_);
            waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &self));
            waiters_changed_.notify_all();
        }
        lock.lock();
        return done();
    }

    // Blocks (for at most `limit` of real time) until `count` threads wait on this clock.
    bool await_waiters(std::size_t count, std::chrono::seconds limit = std::chrono::seconds(10)) {
        std::unique_lock lock(mutex_);
        return waiters_changed_.wait_for(lock, limit, [&] { return waiters_.size() >= count; });
    }

private:
    struct Waiter {
        std::mutex* mutex;
        std::condition_variable* wake;
    };
    std::chrono::milliseconds elapsed() const { return std::chrono::milliseconds(elapsed_ms_.load()); }

    std::chrono::milliseconds system_start_;
    std::atomic<std::int64_t> elapsed_ms_{0};
    std::mutex mutex_;
    std::condition_variable waiters_changed_;
    std::vector<Waiter*> waiters_;
};

// Deterministic bytes: SHA256(seed || counter) blocks. Not for real keys.
class SeededRng final : public Rng {
public:
    explicit SeededRng(std::uint64_t seed) : seed_(seed) {}
    bool fill(std::span<std::uint8_t> out) override {
        if (exhausted) return false;
        for (auto& byte : out) {
            if (used_ == block_.size()) {
                Bytes input;
                for (int i = 0; i < 8; ++i) input.push_back(static_cast<std::uint8_t>(seed_ >> (8 * i)));
                for (int i = 0; i < 8; ++i) input.push_back(static_cast<std::uint8_t>(counter_ >> (8 * i)));
                block_ = sha256(input);
                ++counter_;
                used_ = 0;
            }
            byte = block_[used_++];
        }
        return true;
    }
    bool exhausted = false;  // set to simulate an RNG that has nothing to give

private:
    std::uint64_t seed_;
    std::uint64_t counter_ = 0;
    Hash256 block_{};
    std::size_t used_ = 32;
};

}  // namespace argus::test
