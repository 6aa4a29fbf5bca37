// Kill -9 of the tower during concurrent load loses nothing it acknowledged
// and leaves nothing half-written. Real processes: argus-chain-sim and
// argus-tower, on SQLite and on PostgreSQL (fsync on); clients over HTTP.
#include <doctest/doctest.h>

#include <fstream>
#include <signal.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "common/hex.h"
#include "tests/support/child_process.h"
#include "tests/support/http_client.h"
#include "tests/support/teos_user.h"
#include "tests/support/temporary_directory.h"
#include "tests/support/temporary_postgres.h"

using namespace argus;
using namespace argus::test;
using json = nlohmann::json;

namespace {

constexpr int clients = 8;

Bytes blob_for(int client, std::uint32_t i) {
    Bytes blob(200 + (i * 37 + static_cast<std::uint32_t>(client)) % 400);
    for (std::size_t k = 0; k < blob.size(); ++k) blob[k] = static_cast<std::uint8_t>(client * 31 + i * 7 + k);
    return blob;
}

struct TowerProcess {
    std::unique_ptr<ChildProcess> process;
    std::uint16_t api_port = 0;
};

TowerProcess start_tower(const std::string& dir, std::uint16_t rpc_port, const std::string& postgres, int generation) {
    std::string ready = dir + "/ready-" + std::to_string(generation) + ".json";
    std::vector<std::string> argv = {ARGUS_TOWER_BINARY, "--data-dir", dir + "/data", "--api-port", "0", "--wtwire-port", "0", "--electrum-port", "0",
                                     "--admin-port", "0", "--metrics-port", "0", "--bitcoind-rpc-port", std::to_string(rpc_port),
                                     "--bitcoind-rpc-user", "u", "--bitcoind-rpc-password", "p",
                                     "--chain-poll-ms", "100", "--ready-file", ready, "--api-threads", "2"};
    if (!postgres.empty()) {
        argv.push_back("--postgres");
        argv.push_back(postgres);
    }
    TowerProcess t;
    t.process = std::make_unique<ChildProcess>(argv, dir + "/tower-" + std::to_string(generation) + ".log");
    t.api_port = json::parse(wait_for_file(ready))["api_port"].get<std::uint16_t>();
    return t;
}

void kill_during_load(const std::string& postgres, std::uint32_t seed) {
    TemporaryDirectory dir;
    ChildProcess sim({ARGUS_SIM_BINARY, "--rpc-user", "u", "--rpc-password", "p", "--port-file", dir.path() + "/sim.port"},
                     dir.path() + "/sim.log");
    auto rpc_port = static_cast<std::uint16_t>(std::stoi(wait_for_file(dir.path() + "/sim.port")));

    std::mt19937 rng(seed);
    std::vector<TeosUser> users;
    for (int c = 0; c < clients; ++c) users.emplace_back(static_cast<std::uint8_t>(40 + c));
    std::mutex acked_mutex;
    std::set<std::pair<int, std::uint32_t>> acked;
    std::uint32_t next_index[clients] = {};

    for (int round = 0; round < 2; ++round) {
        auto tower = start_tower(dir.path(), rpc_port, postgres, round);
        {
            HttpClient http(tower.api_port);
            for (auto& u : users) REQUIRE(http.post("/register", u.register_body()).status == 200);
        }
        std::atomic<bool> stop{false};
        std::vector<std::thread> threads;
        for (int c = 0; c < clients; ++c) {
            threads.emplace_back([&, c] {
                HttpClient http(tower.api_port);
                while (!stop) {
                    std::uint32_t i = next_index[c]++;
                    auto r = http.post("/add_appointment",
                                       users[static_cast<std::size_t>(c)].add_appointment_body(
                                           test_locator(i, static_cast<std::uint8_t>(c)), blob_for(c, i), 144));
                    if (r.status == 200) {
                        std::lock_guard lock(acked_mutex);
                        acked.insert({c, i});
                    } else if (r.status == 0) {
                        return;  // the tower is gone
                    }
                }
            });
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 700));
        tower.process->signal(SIGKILL);
        tower.process->wait();
        stop = true;
        for (auto& t : threads) t.join();
        MESSAGE("round " << round << ": killed the tower with " << acked.size() << " appointments acknowledged");
    }

    // Restart and check every acknowledged appointment, byte for byte.
    auto tower = start_tower(dir.path(), rpc_port, postgres, 9);
    HttpClient http(tower.api_port);
    std::size_t lost = 0, corrupt = 0, stored_total = 0;
    for (int c = 0; c < clients; ++c) {
        const auto& u = users[static_cast<std::size_t>(c)];
        auto info = http.post("/get_subscription_info", u.get_subscription_info_body());
        REQUIRE(info.status == 200);
        auto j = json::parse(info.body);
        std::set<std::string> stored;
        for (const auto& l : j["locators"]) stored.insert(l.get<std::string>());
        stored_total += stored.size();
        // One registration per round (2 x 10,000 slots); each appointment costs one slot.
        std::size_t slots = j["available_slots"].get<std::size_t>();
        CHECK(slots == 2 * 10'000 - stored.size());
        if (slots != 2 * 10'000 - stored.size()) {
            for (int g : {0, 1, 9}) {
                std::ifstream log(dir.path() + "/tower-" + std::to_string(g) + ".log");
                std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
                MESSAGE("tower generation " << g << " log:\n" << text);
            }
        }
        for (std::uint32_t i = 0; i < next_index[c]; ++i) {
            Locator l = test_locator(i, static_cast<std::uint8_t>(c));
            bool was_acked = acked.count({c, i}) > 0;
            bool is_stored = stored.count(to_hex(l)) > 0;
            if (was_acked && !is_stored) ++lost;
            if (!is_stored) continue;
            auto got = http.post("/get_appointment", u.get_appointment_body(l));
            REQUIRE(got.status == 200);
            auto a = json::parse(got.body)["appointment"];
            if (a["encrypted_blob"].get<std::string>() != to_hex(blob_for(c, i)) || a["to_self_delay"] != 144) ++corrupt;
        }
    }
    MESSAGE("acknowledged " << acked.size() << ", stored " << stored_total << ", lost " << lost << ", corrupt " << corrupt);
    CHECK(acked.size() > 0);
    CHECK(lost == 0);
    CHECK(corrupt == 0);
    CHECK(stored_total >= acked.size());
}

}  // namespace

TEST_CASE("durability: kill -9 under concurrent load loses nothing acknowledged [sqlite]") {
    kill_during_load("", 1);
}

TEST_CASE("durability: kill -9 under concurrent load loses nothing acknowledged [postgres]") {
    auto pg = TemporaryPostgres::start(PostgresOptions::durable(true));
    kill_during_load(pg->connection_string(), 2);
}
