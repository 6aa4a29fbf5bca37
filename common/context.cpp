#include "common/context.h"

#include <openssl/rand.h>

#include <algorithm>
#include <climits>

namespace argus {

namespace {
class SystemClock final : public Clock {
public:
    std::chrono::system_clock::time_point system_now() override { return std::chrono::system_clock::now(); }
    std::chrono::steady_clock::time_point monotonic_now() override { return std::chrono::steady_clock::now(); }
    bool wait_for(std::unique_lock<std::mutex>& lock, std::condition_variable& wake, std::chrono::milliseconds timeout,
                  const std::function<bool()>& done) override {
        return wake.wait_for(lock, timeout, done);
    }
};

class SystemRng final : public Rng {
public:
    bool fill(std::span<std::uint8_t> out) override {
        while (!out.empty()) {
            std::size_t chunk = std::min<std::size_t>(out.size(), INT_MAX);
            if (RAND_bytes(out.data(), static_cast<int>(chunk)) != 1) return false;
            out = out.subspan(chunk);
        }
        return true;
    }
};
}  // namespace

Clock& system_clock() {
    static SystemClock clock;
    return clock;
}

Rng& system_rng() {
    static SystemRng rng;
    return rng;
}

}  // namespace argus
