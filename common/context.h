// Time and randomness, injected: logic takes a Clock and an Rng (usually
// through a Context) instead of calling std::chrono's clocks or the OS RNG, so
// tests can run it on a simulated clock and a seeded RNG.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>

namespace argus {

class Clock {
public:
    using SystemTime = std::chrono::system_clock::time_point;
    using MonotonicTime = std::chrono::steady_clock::time_point;
    virtual ~Clock() = default;
    virtual SystemTime system_now() const = 0;        // wall-clock time (may jump)
    virtual MonotonicTime monotonic_now() const = 0;  // for durations and deadlines
};

class Rng {
public:
    virtual ~Rng() = default;
    virtual void fill(std::span<std::uint8_t> out) = 0;
    std::uint64_t next_u64();
};

struct Context {
    const Clock& clock;
    Rng& rng;
};

// The process's real clock and cryptographic RNG (OpenSSL RAND_bytes; a
// failure of the OS RNG aborts rather than return predictable bytes).
const Clock& system_clock();
Rng& system_rng();
Context system_context();

// A clock that moves only when told: tests.
class ManualClock final : public Clock {
public:
    explicit ManualClock(std::chrono::nanoseconds start = std::chrono::hours(24 * 365 * 50)) : now_(start.count()) {}
    SystemTime system_now() const override { return SystemTime(std::chrono::duration_cast<SystemTime::duration>(elapsed())); }
    MonotonicTime monotonic_now() const override { return MonotonicTime(elapsed()); }
    void advance(std::chrono::nanoseconds by) { now_ += by.count(); }

private:
    std::chrono::nanoseconds elapsed() const { return std::chrono::nanoseconds(now_.load()); }
    std::atomic<std::int64_t> now_;
};

// A deterministic RNG (splitmix64 stream) for tests: never for keys.
class SeededRng final : public Rng {
public:
    explicit SeededRng(std::uint64_t seed) : state_(seed) {}
    void fill(std::span<std::uint8_t> out) override;

private:
    std::uint64_t state_;
};

}  // namespace argus
