#include "common/context.h"

#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>

namespace argus {

namespace {
class SystemClock final : public Clock {
public:
    SystemTime system_now() const override { return std::chrono::system_clock::now(); }
    MonotonicTime monotonic_now() const override { return std::chrono::steady_clock::now(); }
};

class SystemRng final : public Rng {
public:
    void fill(std::span<std::uint8_t> out) override {
        if (out.empty()) return;
        if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
            std::fprintf(stderr, "argus: the system RNG failed\n");
            std::abort();
        }
    }
};
}  // namespace

std::uint64_t Rng::next_u64() {
    std::uint8_t bytes[8];
    fill(bytes);
    std::uint64_t v = 0;
    for (std::uint8_t b : bytes) v = (v << 8) | b;
    return v;
}

const Clock& system_clock() {
    static const SystemClock clock;
    return clock;
}

Rng& system_rng() {
    static SystemRng rng;
    return rng;
}

Context system_context() { return Context{system_clock(), system_rng()}; }

void SeededRng::fill(std::span<std::uint8_t> out) {
    for (std::size_t i = 0; i < out.size(); i += 8) {
        std::uint64_t x = (state_ += 0x9e3779b97f4a7c15ULL);
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        x ^= x >> 31;
        for (std::size_t j = 0; j < 8 && i + j < out.size(); ++j) out[i + j] = static_cast<std::uint8_t>(x >> (8 * j));
    }
}

}  // namespace argus
