// argus-bench-wtwire: durable StateUpdate throughput and latency of the LND
// front door with 64 concurrent sessions, on PostgreSQL (fsync on,
// synchronous_commit on) and SQLite (WAL, synchronous=FULL). Each session
// behaves as lnd's session queue: one connection, one StateUpdate in flight,
// the next sent when the reply arrives. Prints the machine's ceilings next to
// the figures: BOLT 8 message seal+open rate and the store's commit rate.
//
//   argus-bench-wtwire [seconds per backend, default 20] [sessions, default 64]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "common/bolt8.h"
#include "server/api/wtwire_listener.h"
#include "tests/integration/tower_fixture.h"
#include "tests/support/wtclient/client.h"
#include "tests/support/wtclient/wtwire.h"

using namespace argus;
using namespace argus::test;
namespace wt = argus::test::wtclient;
using BenchClock = std::chrono::steady_clock;

namespace {

PrivateKey key_from(std::uint32_t n, std::uint8_t tag) {
    Bytes secret(32, tag);
    secret[28] = static_cast<std::uint8_t>(n >> 24);
    secret[29] = static_cast<std::uint8_t>(n >> 16);
    secret[30] = static_cast<std::uint8_t>(n >> 8);
    secret[31] = static_cast<std::uint8_t>(n);
    return PrivateKey::from_bytes(secret).value();
}

Hash256 regtest_chain() {
    return Txid::from_display_hex("0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206").value().bytes;
}

// The transport's own ceiling on one core: seal and open a 360-byte message.
double bolt8_messages_per_second() {
    auto a = key_from(1, 0x51), b = key_from(2, 0x52);
    bolt8::Initiator initiator(a, b.public_key(), key_from(3, 0x53));
    bolt8::Responder responder(b, key_from(4, 0x54));
    auto two = responder.read_act_one(initiator.act_one()).value();
    auto three = initiator.read_act_two(two).value();
    auto receiving = responder.read_act_three(three).value();
    auto sending = initiator.transport().value();
    Bytes message(360, 7);
    std::size_t n = 0;
    auto start = BenchClock::now();
    while (BenchClock::now() - start < std::chrono::seconds(1)) {
        Bytes frame = sending.encrypt(message).value();
        auto length = receiving.decrypt_length(ByteSpan(frame).subspan(0, bolt8::length_header_size)).value();
        (void)receiving.decrypt_body(ByteSpan(frame).subspan(bolt8::length_header_size, length + 16)).value();
        ++n;
    }
    return static_cast<double>(n) / std::chrono::duration<double>(BenchClock::now() - start).count();
}

struct RunResult {
    double updates_per_second = 0;
    double p50_ms = 0, p99_ms = 0, max_ms = 0;
    std::size_t updates = 0, failures = 0;
    std::size_t largest_batch = 0, batches = 0;
};

RunResult run(Backend backend, int sessions, std::chrono::seconds duration) {
    TowerFixtureOptions options;
    options.durable_postgres = true;
    TowerFixture tower(backend, options);
    api::WtwireListenerOptions w;
    w.port = 0;
    w.bind_address = "127.0.0.1";
    w.max_connections = static_cast<std::size_t>(sessions) * 2 + 8;
    w.messages_per_second = 1e9;
    w.message_burst = 1e9;
    tower::WtwirePolicy policy;
    tower.service->set_wtwire_policy(policy);
    api::WtwireListener listener(*tower.service, *tower.tower_key, regtest_chain(), w, Context{system_clock(), system_rng()});
    std::uint16_t port = listener.start().value();
    PublicKey tower_id = tower.tower_key->public_key();

    std::vector<std::vector<double>> latencies(static_cast<std::size_t>(sessions));
    std::atomic<std::size_t> failures{0};
    std::atomic<bool> go{false}, stop{false};
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int s = 0; s < sessions; ++s) {
        threads.emplace_back([&, s] {
            PrivateKey session = key_from(static_cast<std::uint32_t>(s), 0x61);
            auto open = [&](std::uint32_t salt) -> std::optional<wt::Client> {
                auto c = wt::Client::connect("127.0.0.1", port, tower_id, session,
                                             key_from(static_cast<std::uint32_t>(s) * 1000 + salt, 0x62),
                                             std::chrono::seconds(30));
                if (!c || !c->exchange_init(wt::lnd_client_features(0x0006), regtest_chain())) return std::nullopt;
                return std::move(*c);
            };
            {
                auto c = open(0);
                if (!c || !c->create_session(0x0006, 65535, 0, 0, 2500)) ++failures;
            }
            auto c = open(1);
            ++ready;
            while (!go) std::this_thread::yield();
            Bytes blob(314, static_cast<std::uint8_t>(s));
            std::uint16_t seq = 0;
            auto& mine = latencies[static_cast<std::size_t>(s)];
            while (c && !stop && seq < 65535) {
                ByteArray<16> hint{};
                hint[0] = static_cast<std::uint8_t>(s);
                hint[1] = static_cast<std::uint8_t>(seq >> 8);
                hint[2] = static_cast<std::uint8_t>(seq);
                blob[0] = static_cast<std::uint8_t>(seq);
                auto sent = BenchClock::now();
                auto reply = c->state_update(static_cast<std::uint16_t>(seq + 1), seq, false, hint, blob);
                if (!reply || reply->code != 0) {
                    ++failures;
                    break;
                }
                mine.push_back(std::chrono::duration<double, std::milli>(BenchClock::now() - sent).count());
                ++seq;
            }
        });
    }
    while (ready < sessions) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    auto before = tower.service->committer_stats();
    auto start = BenchClock::now();
    go = true;
    std::this_thread::sleep_for(duration);
    stop = true;
    double elapsed = std::chrono::duration<double>(BenchClock::now() - start).count();
    for (auto& t : threads) t.join();
    auto after = tower.service->committer_stats();
    listener.stop();

    std::vector<double> all;
    for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
    std::sort(all.begin(), all.end());
    RunResult r;
    r.updates = all.size();
    r.failures = failures;
    r.updates_per_second = static_cast<double>(all.size()) / elapsed;
    if (!all.empty()) {
        r.p50_ms = all[all.size() / 2];
        r.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
        r.max_ms = all.back();
    }
    r.batches = after.batches - before.batches;
    r.largest_batch = after.largest_batch_parts;
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    int seconds = argc > 1 ? std::atoi(argv[1]) : 20;
    int sessions = argc > 2 ? std::atoi(argv[2]) : 64;
    if (seconds <= 0 || sessions <= 0 || sessions > 1000) {
        std::fprintf(stderr, "usage: argus-bench-wtwire [seconds > 0] [sessions 1..1000]\n");
        return 2;
    }
    std::printf("machine: %u hardware threads; BOLT 8 seal+open of a StateUpdate-sized message: %.0f/s per core\n",
                std::thread::hardware_concurrency(), bolt8_messages_per_second());
    std::printf("%-10s %8s %14s %10s %10s %10s %9s %10s %8s\n", "store", "sessions", "updates/s", "p50 ms", "p99 ms",
                "max ms", "updates", "commits", "failed");
    for (Backend backend : {Backend::postgres, Backend::sqlite}) {
        RunResult r = run(backend, sessions, std::chrono::seconds(seconds));
        std::printf("%-10s %8d %14.0f %10.2f %10.2f %10.2f %9zu %10zu %8zu\n",
                    backend == Backend::postgres ? "postgres" : "sqlite", sessions, r.updates_per_second, r.p50_ms,
                    r.p99_ms, r.max_ms, r.updates, r.batches, r.failures);
        std::fflush(stdout);
    }
    return 0;
}
