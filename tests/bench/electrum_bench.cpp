// argus-bench-electrum: durably acknowledged add_sweep_tx calls per second
// through the Electrum front door, with 1, 16 and 64 concurrent clients, on
// SQLite (WAL, synchronous=FULL) and PostgreSQL (fsync on), side by side with
// Electrum 4.3.4's own watchtower (daemon.WatchTowerServer with its
// SweepStore, tests/electrum/electrum_reference_tower.py) driven by the same
// load generator (tests/bench/http_load.h, one thread for every connection,
// as argus-bench-scale): each client one keep-alive connection, one call in
// flight, Electrum's request shape (JSON-RPC 2.0, string id, Basic auth), a
// fresh signed-shaped sweep per call, every call built before the clock. Prints the machine's ceiling beside the
// figures: loopback HTTP round trips/s (GET /ping of the teos API with the
// same clients).
//
//   argus-bench-electrum [seconds per run, default 10]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <functional>
#include <random>
#include <thread>

#include "common/hex.h"
#include "server/api/electrum_router.h"
#include "tests/integration/tower_fixture.h"
#include "tests/support/child_process.h"
#include "tests/bench/http_load.h"
#include "tests/support/http_client.h"

using namespace argus;
using namespace argus::test;
using BenchClock = std::chrono::steady_clock;
using json = nlohmann::json;

namespace {

const std::string auth = "Basic YmVuY2g6YmVuY2gtcGFzc3dvcmQ=";  // bench:bench-password

struct RunResult {
    double calls_per_second = 0;
    double p50_ms = 0, p99_ms = 0;
    std::size_t calls = 0, failures = 0;
    double parts_per_commit = 0;  // Argus only: acknowledged writes per store transaction
    double commit_ms = 0;         // Argus only: mean time of one store transaction
    double busy = 0;              // Argus only: share of the run the committer spent writing
};

std::string txid_hex(std::mt19937_64& rng) {
    Bytes b(32);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    return to_hex(b);
}

// One sweep of `prevout` as Electrum's lnsweep shapes it: version 2, one
// input (sequence 0xfffffffe), one P2WPKH output, locktime 0.
std::string sweep_hex(const std::string& prevout_display_txid) {
    Transaction tx;
    TxIn in;
    in.prevout = {Txid::from_display_hex(prevout_display_txid).value(), 0};
    in.sequence = 0xfffffffe;
    in.witness = {Bytes(72, 1), Bytes(1, 1), Bytes(120, 2)};
    tx.inputs.push_back(in);
    Bytes script(22, 0);
    script[1] = 20;
    tx.outputs.push_back({990'000, script});
    return to_hex(tx.serialize());
}

// The same load generator as argus-bench-scale (tests/bench/http_load.h):
// one thread drives every keep-alive connection, each request built before
// the clock, so the generator takes as little of the 2 cores as it can.
RunResult load(std::uint16_t port, int clients, std::chrono::seconds duration, bool sweeps) {
    // Every run draws new channels and prevouts: a sweep repeated from an
    // earlier run would be an update (a store read in the request path), not
    // the new sweep Electrum sends.
    static std::atomic<std::uint64_t> run_number{0};
    std::uint64_t run = ++run_number;
    std::size_t failures = 0;
    // Enough requests for 25,000 sweeps/s (70,000 pings/s) in all.
    const auto per_client = static_cast<std::size_t>((sweeps ? 25'000.0 : 70'000.0) * static_cast<double>(duration.count()) /
                                                     clients) + 1000;
    std::vector<std::vector<std::string>> bodies(static_cast<std::size_t>(clients));
    for (int c = 0; c < clients; ++c) {
        auto& mine = bodies[static_cast<std::size_t>(c)];
        if (!sweeps) {
            mine.assign(per_client, std::string());
            continue;
        }
        std::mt19937_64 rng(run * 1'000'003 + static_cast<std::uint64_t>(c) * 7919 + 1);
        std::string funding = txid_hex(rng) + ":0";
        HttpClient http(port);  // Electrum asks get_ctn of each channel first: the tower learns its funding outpoint
        auto r = http.post("/", R"({"jsonrpc": "2.0", "id":"1", "method": "get_ctn", "params": [")" + funding +
                                    R"(", "bcrt1qbench"]})", auth);
        if (r.status != 200 || r.body.find("\"result\"") == std::string::npos) ++failures;
        mine.reserve(per_client);
        for (std::size_t n = 1; n <= per_client; ++n) {
            std::string prevout = txid_hex(rng);
            mine.push_back(R"({"jsonrpc": "2.0", "id":")" + std::to_string(n + 1) +
                           R"(", "method": "add_sweep_tx", "params": [")" + funding + "\", " + std::to_string(n) + ", \"" +
                           prevout + ":0\", \"" + sweep_hex(prevout) + "\"]}");
        }
    }
    bench::LoadOptions options;
    if (sweeps) {
        options.authorization = auth;
        options.accept = [](const std::string& body) {  // acknowledged: a null result, no error
            return body.find("\"result\": null") != std::string::npos || body.find("\"result\":null") != std::string::npos;
        };
    } else {
        options.method = boost::beast::http::verb::get;
    }
    auto result = bench::run_http_load(port, sweeps ? "/" : "/ping", bodies, duration, options);
    if (result.exhausted > 0) std::fprintf(stderr, "warning: %zu connections ran out of requests\n", result.exhausted);
    RunResult r;
    r.calls = result.latencies_ms.size();
    r.failures = failures + result.errors + result.transport_errors;
    r.calls_per_second = result.rate();
    r.p50_ms = result.percentile(0.50);
    r.p99_ms = result.percentile(0.99);
    return r;
}

void print(const char* target, int clients, const RunResult& r, double ceiling) {
    char commits[64] = "-";
    if (r.parts_per_commit > 0) {
        std::snprintf(commits, sizeof commits, "%.1f / %.2f / %.0f%%", r.parts_per_commit, r.commit_ms, 100 * r.busy);
    }
    std::printf("%-22s %7d %12.0f %9.2f %9.2f %9zu %8zu %14.0f  %s\n", target, clients, r.calls_per_second, r.p50_ms,
                r.p99_ms, r.calls, r.failures, ceiling, commits);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    int seconds = argc > 1 ? std::atoi(argv[1]) : 10;
    if (seconds <= 0) {
        std::fprintf(stderr, "usage: argus-bench-electrum [seconds > 0]\n");
        return 2;
    }
    const std::vector<int> client_counts{1, 16, 64};
    auto duration = std::chrono::seconds(seconds);
    std::printf("machine: %u hardware threads; add_sweep_tx calls durably acknowledged, %d s per run\n",
                std::thread::hardware_concurrency(), seconds);
    std::printf("%-22s %7s %12s %9s %9s %9s %8s %14s  %s\n", "tower", "clients", "calls/s", "p50 ms", "p99 ms", "calls",
                "failed", "ceiling req/s", "parts/commit / commit ms / committer busy");
    std::map<int, double> ceilings;
    for (Backend backend : {Backend::sqlite, Backend::postgres}) {
        TowerFixtureOptions options;
        options.durable_postgres = true;
        options.http.threads = 2;
        options.http.max_connections = 512;
        options.policy.slots = 100'000'000;
        TowerFixture tower(backend, options);
        auto account = tower.service->create_electrum_account("bench", "bench-password");
        if (!account) {
            std::fprintf(stderr, "cannot create the bench account: %s\n", account.error().message.c_str());
            return 1;
        }
        api::ElectrumRouter router(*tower.service);
        api::HttpServerOptions http;
        http.port = 0;
        http.threads = 2;
        http.max_connections = 512;
        api::HttpServer server(http, router);
        if (auto ok = server.start(); !ok) return 1;
        for (int clients : client_counts) {
            if (!ceilings.count(clients)) ceilings[clients] = load(tower.port(), clients, duration, false).calls_per_second;
            auto before = tower.service->committer_stats();
            RunResult r = load(server.port(), clients, duration, true);
            auto after = tower.service->committer_stats();
            if (after.batches > before.batches) {
                auto batches = static_cast<double>(after.batches - before.batches);
                r.parts_per_commit = static_cast<double>(after.parts - before.parts) / batches;
                r.commit_ms = 1000 * (after.write_seconds - before.write_seconds) / batches;
                r.busy = (after.write_seconds - before.write_seconds) / static_cast<double>(duration.count());
            }
            print(backend == Backend::sqlite ? "argus sqlite" : "argus postgres", clients, r, ceilings[clients]);
        }
        server.stop();
    }
    // Electrum 4.3.4's own tower, the same load.
    TemporaryDirectory dir;
    ChildProcess electrum({"/usr/bin/python3", std::string(ARGUS_SOURCE_DIR) + "/tests/electrum/electrum_reference_tower.py",
                           "--port", "0", "--user", "bench", "--password", "bench-password", "--datadir", dir.path() + "/e"},
                          dir.path() + "/electrum.log");
    std::uint16_t port = 0;
    for (int i = 0; i < 600 && port == 0; ++i) {
        std::ifstream log(dir.path() + "/electrum.log");
        std::string word;
        while (log >> word) {
            if (word == "READY" && log >> port) break;
        }
        if (port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (port == 0) {
        std::fprintf(stderr, "Electrum's reference tower did not start (see %s/electrum.log)\n", dir.path().c_str());
        return 1;
    }
    for (int clients : client_counts) print("electrum 4.3.4", clients, load(port, clients, duration, true), ceilings[clients]);
    return 0;
}
