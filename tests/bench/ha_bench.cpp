// argus-bench-ha: durable add_appointment rate of a group of towers on one
// PostgreSQL (fsync on, deploy/postgres/argus.conf) against one tower with
// --ha on the same server, under the same external load: 64 keep-alive
// clients spread over the towers, requests signed before the clock. Each
// run gets a database of its own. Prints the machine's ceilings (secp256k1
// recovery and signing per core) beside the figures.
//
//   argus-bench-ha [seconds=10] [clients=64] [tower flags...]
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "common/message_signing.h"
#include "tests/bench/http_load.h"
#include "tests/bench/signed_bodies.h"
#include "tests/support/child_process.h"
#include "tests/support/http_client.h"
#include "tests/support/teos_user.h"
#include "tests/support/temporary_directory.h"
#include "tests/support/temporary_postgres.h"

using namespace argus;
using namespace argus::test;
using bench::BenchClock;
using json = nlohmann::json;

namespace {

double per_second(const std::function<void(std::size_t)>& op) {
    std::size_t n = 0;
    auto start = BenchClock::now();
    while (BenchClock::now() - start < std::chrono::seconds(1)) {
        for (int i = 0; i < 100; ++i) op(n + static_cast<std::size_t>(i));
        n += 100;
    }
    return static_cast<double>(n) / std::chrono::duration<double>(BenchClock::now() - start).count();
}

struct Run {
    double rate = 0, p50 = 0, p99 = 0;
    std::size_t errors = 0;
};

Run run_group(int towers, bool ha, int seconds, int clients, const TemporaryPostgres& pg, std::uint16_t rpc_port,
              const std::string& dir, int run, const std::vector<std::string>& extra) {
    std::string database = "bench_" + std::to_string(run);
    {
        pqxx::connection c(pg.tcp_connection_string());
        pqxx::nontransaction n(c);
        n.exec0("CREATE DATABASE " + database);
    }
    std::string conninfo = pg.tcp_connection_string(database);
    std::vector<std::unique_ptr<ChildProcess>> processes;
    std::vector<std::uint16_t> ports;
    for (int t = 0; t < towers; ++t) {
        std::string data = dir + "/run" + std::to_string(run) + "/t" + std::to_string(t);
        std::filesystem::create_directories(data);
        if (t > 0) {  // the group's key
            std::filesystem::copy_file(dir + "/run" + std::to_string(run) + "/t0/tower_key", data + "/tower_key");
            std::filesystem::permissions(data + "/tower_key",
                                         std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
        }
        std::string ready = data + "/ready.json";
        std::vector<std::string> argv{ARGUS_TOWER_BINARY, "--data-dir", data, "--api-port", "0", "--wtwire-port", "0",
                                      "--electrum-port", "0", "--admin-port", "0", "--metrics-port", "0",
                                      "--bitcoind-rpc-port", std::to_string(rpc_port), "--bitcoind-rpc-user", "u",
                                      "--bitcoind-rpc-password", "p", "--chain-poll-ms", "200", "--ready-file", ready,
                                      "--subscription-slots", "4000000000", "--max-connections", "1000",
                                      "--postgres", conninfo, "--ha", ha ? "true" : "false"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        processes.push_back(std::make_unique<ChildProcess>(argv, data + "/tower.log"));
        ports.push_back(json::parse(wait_for_file(ready))["api_port"].get<std::uint16_t>());
    }
    const std::size_t per_client = static_cast<std::size_t>(12'000.0 * seconds / clients) + 500;
    std::vector<std::vector<std::string>> bodies(static_cast<std::size_t>(clients));
    {
        HttpClient http(ports[0]);
        for (int c = 0; c < clients; ++c) {
            TeosUser user(static_cast<std::uint8_t>(c + 1));
            if (http.post("/register", user.register_body()).status != 200) {
                std::fprintf(stderr, "register failed\n");
                std::exit(1);
            }
        }
        bodies = bench::signed_appointment_bodies(clients, per_client, static_cast<unsigned>(run * 10));
    }
    // Let the users reach every tower's memory (adopted on first use) before the clock.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto load = bench::run_http_load(ports, "/add_appointment", bodies, std::chrono::seconds(seconds));
    for (auto& p : processes) p->signal(SIGTERM);
    for (auto& p : processes) p->wait(std::chrono::seconds(30));
    return Run{load.rate(), load.percentile(0.5), load.percentile(0.99), load.errors + load.transport_errors};
}

}  // namespace

int main(int argc, char** argv) {
    int seconds = argc > 1 ? std::atoi(argv[1]) : 10;
    int clients = argc > 2 ? std::atoi(argv[2]) : 64;
    auto key = PrivateKey::from_bytes(Bytes(32, 7)).value();
    Hash256 digest{};
    RecoverableSignature sig = ecdsa_sign_recoverable(key, digest);
    double recover = per_second([&](std::size_t i) {
        digest[1] = static_cast<std::uint8_t>(i);
        (void)ecdsa_recover(digest, sig);
    });
    double sign = per_second([&](std::size_t i) { (void)sign_message(key, as_bytes(std::to_string(i))); });
    std::printf("ceiling: secp256k1 on one core: %.0f recoveries/s, %.0f signatures/s; %u cores\n", recover, sign,
                std::thread::hardware_concurrency());

    TemporaryDirectory dir;
    PostgresOptions options;
    options.fsync = true;
    options.shared_buffers.clear();
    auto pg = TemporaryPostgres::start(options);
    ChildProcess sim({ARGUS_SIM_BINARY, "--rpc-user", "u", "--rpc-password", "p", "--port-file", dir.path() + "/sim.port"},
                     dir.path() + "/sim.log");
    auto rpc_port = static_cast<std::uint16_t>(std::stoi(wait_for_file(dir.path() + "/sim.port")));
    std::printf("load: %d keep-alive clients, %d s per run, PostgreSQL 15 fsync on (deploy/postgres/argus.conf)\n", clients,
                seconds);
    std::vector<std::string> extra;
    for (int i = 3; i < argc; ++i) extra.push_back(argv[i]);  // more tower flags, e.g. --postgres-read-connections 16
    Run alone = run_group(1, false, seconds, clients, *pg, rpc_port, dir.path(), 1, extra);
    std::printf("1 tower  (no --ha): %8.0f appointments/s  p50 %6.1f ms  p99 %6.1f ms  errors %zu\n", alone.rate, alone.p50,
                alone.p99, alone.errors);
    Run one = run_group(1, true, seconds, clients, *pg, rpc_port, dir.path(), 2, extra);
    std::printf("1 tower  (--ha):    %8.0f appointments/s  p50 %6.1f ms  p99 %6.1f ms  errors %zu\n", one.rate, one.p50, one.p99,
                one.errors);
    Run three = run_group(3, true, seconds, clients, *pg, rpc_port, dir.path(), 3, extra);
    std::printf("3 towers (--ha):    %8.0f appointments/s  p50 %6.1f ms  p99 %6.1f ms  errors %zu\n", three.rate, three.p50,
                three.p99, three.errors);
    std::printf("ratio --ha / alone: %.2f; 3 towers / 1 tower (--ha): %.2f (all on the same %u cores as PostgreSQL and the load generator)\n",
                alone.rate > 0 ? one.rate / alone.rate : 0, one.rate > 0 ? three.rate / one.rate : 0,
                std::thread::hardware_concurrency());
    return 0;
}
