// argus-bench-ingest: durable add_appointment throughput and latency with 1,
// 16 and 64 concurrent keep-alive clients, on PostgreSQL (fsync on,
// synchronous_commit on) and SQLite (WAL, synchronous=FULL). Requests are
// signed before the clock starts. Prints this machine's secp256k1 public-key
// recovery rate per core next to the figures: every request costs one recovery
// (authentication) and one signature (the receipt).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "common/message_signing.h"
#include "tests/bench/http_load.h"
#include "tests/integration/tower_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/teos_user.h"

using namespace argus;
using namespace argus::test;
using bench::BenchClock;

namespace {

double recoveries_per_second() {
    auto key = PrivateKey::from_bytes(Bytes(32, 7)).value();
    Hash256 digest{};
    digest[0] = 1;
    RecoverableSignature sig = ecdsa_sign_recoverable(key, digest);
    std::size_t n = 0;
    auto start = BenchClock::now();
    while (BenchClock::now() - start < std::chrono::seconds(2)) {
        for (int i = 0; i < 100; ++i) {
            digest[1] = static_cast<std::uint8_t>(n + i);
            (void)ecdsa_recover(digest, sig);
        }
        n += 100;
    }
    return static_cast<double>(n) / std::chrono::duration<double>(BenchClock::now() - start).count();
}

double signatures_per_second() {
    auto key = PrivateKey::from_bytes(Bytes(32, 7)).value();
    std::size_t n = 0;
    auto start = BenchClock::now();
    while (BenchClock::now() - start < std::chrono::seconds(1)) {
        for (int i = 0; i < 100; ++i) (void)sign_message(key, as_bytes(std::to_string(n + i)));
        n += 100;
    }
    return static_cast<double>(n) / std::chrono::duration<double>(BenchClock::now() - start).count();
}

struct RunResult {
    double per_second;
    double p50_ms;
    double p99_ms;
    std::size_t errors;
    std::size_t largest_batch;
};

RunResult run(Backend backend, int clients, std::chrono::seconds duration) {
    TowerFixtureOptions options;
    options.http.threads = 2;
    options.http.max_connections = 1000;
    options.durable_postgres = true;  // fsync on, synchronous_commit on
    TowerFixture tower(backend, options);
    // Pre-sign enough requests for a fast run; registration happens before the clock.
    std::size_t per_client = clients == 1 ? 4'000 : 80'000 / static_cast<std::size_t>(clients);
    std::vector<std::vector<std::string>> bodies(static_cast<std::size_t>(clients));
    {
        HttpClient http(tower.port());
        for (int c = 0; c < clients; ++c) {
            TeosUser user(static_cast<std::uint8_t>(c + 1));
            if (http.post("/register", user.register_body()).status != 200) throw std::runtime_error("register failed");
            Bytes blob(300, static_cast<std::uint8_t>(c));
            for (std::size_t i = 0; i < per_client; ++i) {
                blob[0] = static_cast<std::uint8_t>(i);
                bodies[static_cast<std::size_t>(c)].push_back(
                    user.add_appointment_body(test_locator(static_cast<std::uint32_t>(i), static_cast<std::uint8_t>(c)), blob, 144));
            }
        }
    }
    auto load = bench::run_http_load(tower.port(), "/add_appointment", bodies, duration);
    RunResult r{load.rate(), load.percentile(0.50), load.percentile(0.99), load.errors + load.transport_errors,
                tower.service->committer_stats().largest_batch_parts};
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    int seconds = argc > 1 ? std::atoi(argv[1]) : 5;
    std::printf("argus-bench-ingest: %u hardware threads, %d s per run, 300-byte blobs, one user per connection\n",
                std::thread::hardware_concurrency(), seconds);
    double recover = recoveries_per_second();
    double sign = signatures_per_second();
    std::printf("ceiling: secp256k1 pubkey recovery %.0f/s per core; message signing %.0f/s per core\n", recover, sign);
    std::printf("         (one of each per appointment: at most %.0f appointments/s per core for crypto alone)\n\n",
                1.0 / (1.0 / recover + 1.0 / sign));
    std::printf("%-10s %8s %14s %10s %10s %8s %12s\n", "store", "clients", "appointments/s", "p50 ms", "p99 ms", "errors",
                "max batch");
    for (Backend backend : {Backend::postgres, Backend::sqlite}) {
        for (int clients : {1, 16, 64}) {
            auto r = run(backend, clients, std::chrono::seconds(seconds));
            std::printf("%-10s %8d %14.0f %10.2f %10.2f %8zu %12zu\n", backend == Backend::postgres ? "postgres" : "sqlite",
                        clients, r.per_second, r.p50_ms, r.p99_ms, r.errors, r.largest_batch);
            std::fflush(stdout);
        }
    }
    return 0;
}
