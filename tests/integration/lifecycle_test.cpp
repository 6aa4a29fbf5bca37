// The tower's life as an operator sees it, on real processes: an online
// backup taken under load restores and punishes; SIGHUP applies what can
// change while running; SIGTERM drains under load and loses no acknowledged
// appointment.
#include <doctest/doctest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/hex.h"
#include "tests/integration/breach_world.h"
#include "tests/support/run_command.h"

using namespace argus;
using namespace argus::test;

namespace {

// Clients adding appointments as fast as the tower answers, each its own
// user on its own keep-alive connection; every acknowledged locator is kept.
class AppointmentLoad {
public:
    AppointmentLoad(std::uint16_t port, int clients, std::uint8_t first_seed) {
        for (int c = 0; c < clients; ++c) {
            threads_.emplace_back([this, port, c, first_seed] {
                TeosUser user(static_cast<std::uint8_t>(first_seed + c));
                HttpClient http(port);
                if (http.post("/register", user.register_body()).status != 200) {
                    failed_.fetch_add(1);
                    return;
                }
                for (std::uint32_t n = 0; running_; ++n) {
                    Locator l = test_locator(n, static_cast<std::uint8_t>(first_seed + c));
                    auto r = http.post("/add_appointment", user.add_appointment_body(l, Bytes(200, 0x5a), 144));
                    if (r.status == 200) {
                        std::lock_guard lock(mutex_);
                        acknowledged_.push_back(l);
                    } else {
                        failed_.fetch_add(1);
                        if (r.status == 0) return;  // the tower closed the door: this client stops
                    }
                }
            });
        }
    }
    ~AppointmentLoad() { stop(); }
    void stop() {
        running_ = false;
        for (auto& t : threads_) {
            if (t.joinable()) t.join();
        }
    }
    void join() {
        for (auto& t : threads_) {
            if (t.joinable()) t.join();
        }
    }
    std::size_t acknowledged_count() {
        std::lock_guard lock(mutex_);
        return acknowledged_.size();
    }
    std::vector<Locator> acknowledged() {
        std::lock_guard lock(mutex_);
        return acknowledged_;
    }
    std::size_t failed() const { return failed_.load(); }

private:
    std::atomic<bool> running_{true};
    std::atomic<std::size_t> failed_{0};
    std::mutex mutex_;
    std::vector<Locator> acknowledged_;
    std::vector<std::thread> threads_;
};

std::string cli(BreachWorld& world) {
    return std::string(ARGUS_CLI_BINARY) + " --admin-port " + std::to_string(world.admin_port()) + " --data-dir " +
           world.tower_dir() + " ";
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::trunc) << text;
}

// The part of the tower's log written after `offset` bytes.
std::string log_since(BreachWorld& world, std::size_t offset) {
    std::string log = world.tower_log();
    return offset < log.size() ? log.substr(offset) : std::string();
}

}  // namespace

TEST_CASE("lifecycle: a backup taken under load restores, catches up the chain from its tip and punishes a breach") {
    BreachWorld world;
    Transaction dispute = world.make_dispute(), penalty = world.make_penalty(dispute);
    REQUIRE(world.add_appointment(dispute, penalty).status == 200);

    AppointmentLoad load(world.api_port(), 4, 40);
    REQUIRE(wait_until([&] { return load.acknowledged_count() >= 200; }, std::chrono::seconds(30)));
    std::string backup = world.work_dir() + "/tower-backup.sqlite";
    auto taken = run_command(cli(world) + "backup " + backup + " --json");
    REQUIRE_MESSAGE(taken.status == 0, taken.output);
    auto info = json::parse(taken.output);
    std::size_t acknowledged_before = load.acknowledged_count();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // ingestion goes on during and after it
    load.stop();
    CHECK(load.acknowledged_count() > acknowledged_before);
    CHECK(info["path"] == backup);
    CHECK(info["appointments"].get<std::size_t>() >= 200);
    CHECK(info["users"].get<std::size_t>() == 5);
    std::uint32_t backup_height = info["chain_height"].get<std::uint32_t>();
    CHECK(backup_height == world.chain_height());

    // Taken again onto the same file: refused, the first copy untouched.
    auto again = run_command(cli(world) + "backup " + backup);
    CHECK(again.status == 2);
    CHECK(again.output.find("never overwrites") != std::string::npos);

    // An appointment after the backup is what a restore loses.
    Transaction late_dispute = world.make_dispute(), late_penalty = world.make_penalty(late_dispute);
    REQUIRE(world.add_appointment(late_dispute, late_penalty).status == 200);
    world.mine(3);  // the chain moves on past the backup's tip

    // The machine is lost: the tower dies, its database is replaced by the backup.
    world.kill_tower();
    namespace fs = std::filesystem;
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(world.tower_dir() + "/tower.sqlite" + suffix);
    fs::copy_file(backup, world.tower_dir() + "/tower.sqlite");
    std::size_t offset = world.tower_log().size();
    world.start_tower();
    CHECK(log_since(world, offset).find("chain_caught_up height=" + std::to_string(backup_height + 3) + " blocks=3") !=
          std::string::npos);
    auto restored = world.admin_info();
    CHECK(restored["appointments"] == info["appointments"]);
    CHECK(restored["chain_height"] == backup_height + 3);
    CHECK(world.get_appointment(late_dispute)["http_status"] == 404);

    // The breach whose appointment is in the backup is punished.
    world.send(dispute);
    world.mine(1);
    REQUIRE_MESSAGE(wait_until([&] { return world.in_mempool(penalty.txid()); }), world.tower_log());
    world.mine(1);
    CHECK(world.confirmations(penalty.txid()) == 1);
    CHECK(world.get_appointment(dispute)["status"] == "dispute_responded");
}

TEST_CASE("lifecycle: SIGTERM under load drains: every acknowledged appointment is durable, the tower exits in time") {
    BreachWorld world({{"--shutdown-timeout-ms", "5000"}, ""});
    AppointmentLoad load(world.api_port(), 8, 60);
    REQUIRE(wait_until([&] { return load.acknowledged_count() >= 500; }, std::chrono::seconds(30)));
    auto start = std::chrono::steady_clock::now();
    world.tower_process().signal(SIGTERM);
    int status = world.tower_process().wait(std::chrono::seconds(20));
    auto took = std::chrono::steady_clock::now() - start;
    load.join();  // every client has seen the door close
    CHECK(status == 0);
    CHECK(took < std::chrono::seconds(8));  // the 5 s drain bound plus the rest of the shutdown
    std::string log = world.tower_log();
    CHECK(log.find("tower_stopping signal=15 shutdown_timeout_ms=5000") != std::string::npos);
    CHECK(log.find("api_drained complete=true") != std::string::npos);
    CHECK(log.find("tower_stopped") != std::string::npos);
    auto acknowledged = load.acknowledged();
    MESSAGE("acknowledged ", acknowledged.size(), " appointments; ", load.failed(), " requests unanswered at shutdown");

    world.start_tower();
    auto info = world.admin_info();
    CHECK(info["appointments"].get<std::size_t>() >= acknowledged.size());
    std::size_t lost = 0;
    for (const auto& l : acknowledged) {
        auto found = world.admin_get("/appointments/" + to_hex(l));
        if (!found.is_array() || found.empty()) ++lost;
    }
    CHECK(lost == 0);
}

TEST_CASE("lifecycle: SIGHUP applies the log level and connection limits, names what needs a restart, survives a bad file") {
    TemporaryDirectory conf;
    std::string file = conf.path() + "/argus-tower.conf";
    write_file(file, "log-level = info\nmax-connections-per-source = 64\nlimit-loopback-sources = true\n");
    BreachWorld world({{"--config", file}, ""});

    // Three keep-alive connections from loopback: under the cap of 64.
    auto pinger = [&] {
        auto http = std::make_unique<HttpClient>(world.api_port());
        REQUIRE(http->get("/ping").status == 200);
        return http;
    };
    std::vector<std::unique_ptr<HttpClient>> held;
    for (int i = 0; i < 3; ++i) held.push_back(pinger());
    const std::string per_source = "argus_http_connections_evicted_total{reason=\"per_source\"}";
    REQUIRE(world.metric_reaches(per_source, 0));

    write_file(file, "log-level = debug\nmax-connections-per-source = 2\nlimit-loopback-sources = true\napi-threads = 4\n");
    std::size_t offset = world.tower_log().size();
    {
        // The reload happens under load: two clients keep adding appointments
        // across it (two connections: within the new per-source cap).
        AppointmentLoad load(world.api_port(), 2, 90);
        REQUIRE(wait_until([&] { return load.acknowledged_count() >= 50; }));
        world.tower_process().signal(SIGHUP);
        REQUIRE_MESSAGE(wait_until([&] { return log_since(world, offset).find("reload_done") != std::string::npos; }),
                        world.tower_log());
        std::size_t at_reload = load.acknowledged_count();
        REQUIRE(wait_until([&] { return load.acknowledged_count() >= at_reload + 50; }));
        load.stop();
        CHECK(load.failed() == 0);  // not one request refused or dropped by the reload
    }
    std::string reload = log_since(world, offset);
    CHECK(reload.find("config_reloaded option=log-level from=info to=debug") != std::string::npos);
    CHECK(reload.find("config_reloaded option=max-connections-per-source from=64 to=2") != std::string::npos);
    CHECK(reload.find("config_change_needs_restart option=api-threads from=2 to=4") != std::string::npos);
    CHECK(reload.find("reload_done applied=2 needs_restart=1") != std::string::npos);

    // The new level: the watcher's debug events appear.
    world.mine(1);
    CHECK(wait_until([&] { return log_since(world, offset).find("debug block_connected") != std::string::npos; }));
    // The new per-source cap: each newcomer from loopback, over the cap of 2,
    // evicts the source's stalest connection.
    held.push_back(pinger());
    CHECK(world.metric_reaches(per_source, 1));
    held.push_back(pinger());
    CHECK(world.metric_reaches(per_source, 2));

    // A file that does not parse keeps the running configuration.
    write_file(file, "log-level = shouting\nmax-connections-per-source = 2\nlimit-loopback-sources = true\n");
    offset = world.tower_log().size();
    world.tower_process().signal(SIGHUP);
    REQUIRE(wait_until([&] { return log_since(world, offset).find("reload_failed") != std::string::npos; }));
    CHECK(log_since(world, offset).find("--log-level must be debug, info, warn or error") != std::string::npos);
    CHECK(world.tower_process().running());
    CHECK(world.api().get("/ping").status == 200);
    world.mine(1);
    CHECK(wait_until([&] { return log_since(world, offset).find("debug block_connected") != std::string::npos; }));

    // SIGHUP with nothing changed says so; a missing file is an error, not a crash.
    write_file(file, "log-level = debug\nmax-connections-per-source = 2\nlimit-loopback-sources = true\napi-threads = 4\n");
    offset = world.tower_log().size();
    world.tower_process().signal(SIGHUP);
    REQUIRE(wait_until([&] { return log_since(world, offset).find("reload_done") != std::string::npos; }));
    CHECK(log_since(world, offset).find("reload_done applied=0 needs_restart=1") != std::string::npos);
    std::filesystem::remove(file);
    offset = world.tower_log().size();
    world.tower_process().signal(SIGHUP);
    REQUIRE(wait_until([&] { return log_since(world, offset).find("reload_failed") != std::string::npos; }));
    CHECK(world.tower_process().running());
}

TEST_CASE("lifecycle: --log-format json writes one JSON object per line with the text format's fields") {
    TemporaryDirectory dir;
    // No bitcoind on port 1: the tower logs its wait, line after line, and stops at SIGTERM.
    ChildProcess tower({ARGUS_TOWER_BINARY, "--data-dir", dir.path() + "/data", "--api-port", "0", "--wtwire-port", "0",
                        "--electrum-port", "0", "--admin-port", "0", "--metrics-port", "0", "--bitcoind-rpc-port", "1",
                        "--bitcoind-rpc-user", "u", "--bitcoind-rpc-password", "p", "--log-format", "json"},
                       dir.path() + "/tower.log");
    REQUIRE(wait_until([&] { return tower.log().find("waiting_for_bitcoind") != std::string::npos; }));
    tower.signal(SIGTERM);
    CHECK(tower.wait() == 0);
    std::istringstream lines(tower.log());
    int parsed = 0;
    bool waited = false;
    for (std::string line; std::getline(lines, line);) {
        auto j = json::parse(line, nullptr, false);
        CAPTURE(line);
        REQUIRE_FALSE(j.is_discarded());
        CHECK(j["time"].is_string());
        CHECK(j["level"].is_string());
        CHECK(j["event"].is_string());
        if (j["event"] == "waiting_for_bitcoind") {
            waited = true;
            CHECK(j["port"] == "1");
            CHECK(j["level"] == "warn");
            CHECK(j.contains("error"));
            CHECK_FALSE(j.contains("password"));
        }
        ++parsed;
    }
    CHECK(parsed >= 1);
    CHECK(waited);
    CHECK(tower.log().find("\"p\"") == std::string::npos);  // the RPC password is in no line
}
