// Time and randomness, injected (STYLE.md rule 3): logic takes a Context and
// never calls std::chrono's now() or the OS's RNG itself. The binaries pass
// system_clock() and system_rng(); tests pass a simulated clock and a seeded
// RNG. Pure: std::chrono and OpenSSL's RAND_bytes only.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>

namespace argus {

class Clock {
public:
    virtual ~Clock() = default;
    // Wall-clock time: may jump; for timestamps that outlive the process.
    virtual std::chrono::system_clock::time_point system_now() = 0;
    // Monotonic time: never goes back; for timeouts and intervals.
    virtual std::chrono::steady_clock::time_point monotonic_now() = 0;
    // With `lock` held on the mutex guarding `done`'s state: waits until
    // `done()` holds (others notify `wake`) or `timeout` of this clock's
    // monotonic time has passed. Returns done(). May release and retake `lock`.
    virtual bool wait_for(std::unique_lock<std::mutex>& lock, std::condition_variable& wake,
                          std::chrono::milliseconds timeout, const std::function<bool()>& done) = 0;
};

class Rng {
public:
    virtual ~Rng() = default;
    // Fills `out` with cryptographically strong random bytes; false when none are available.
    [[nodiscard]] virtual bool fill(std::span<std::uint8_t> out) = 0;
};

struct Context {
    Clock& clock;
    Rng& rng;
};

// The process's real clocks (std::chrono::system_clock and steady_clock).
Clock& system_clock();
// OpenSSL's RAND_bytes.
Rng& system_rng();

}  // namespace argus
