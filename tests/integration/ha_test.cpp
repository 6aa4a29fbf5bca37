// High availability (issue #13): several argus-tower processes on one
// throwaway PostgreSQL (fsync on), one elected watcher, the chain simulator
// (or a real bitcoind with BITCOIND set). Real processes, killed with
// SIGKILL or paused with SIGSTOP.
#include <doctest/doctest.h>

#include <signal.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "tests/integration/breach_world.h"
#include "tests/support/patroni_cluster.h"
#include "tests/support/temporary_postgres.h"

#include <pqxx/pqxx>

using namespace argus;
using namespace argus::test;

namespace {

constexpr const char* lease_ms = "2000";

std::vector<std::string> group_flags() {
    return {"--ha", "true", "--leader-lease-ms", lease_ms, "--chain-poll-ms", "200"};
}

// Another tower of the world's group: its own data dir and ports, the
// group's tower key (copied, as an operator distributes it), the same chain
// and database.
struct GroupTower {
    std::unique_ptr<ChildProcess> process;
    std::uint16_t api_port = 0, metrics_port = 0, admin_port = 0;
    std::string dir;
};

GroupTower start_group_tower(BreachWorld& world, const std::string& postgres, const std::string& name) {
    GroupTower t;
    t.dir = world.directory() + "/" + name;
    std::filesystem::create_directories(t.dir + "/data");
    std::filesystem::copy_file(world.directory() + "/tower/tower_key", t.dir + "/data/tower_key",
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::permissions(t.dir + "/data/tower_key", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    std::string ready = t.dir + "/ready.json";
    std::filesystem::remove(ready);
    std::vector<std::string> argv = {ARGUS_TOWER_BINARY, "--data-dir", t.dir + "/data", "--api-port", "0", "--wtwire-port", "0",
                                     "--electrum-port", "0", "--admin-port", "0", "--metrics-port", "0",
                                     "--bitcoind-rpc-port", std::to_string(world.rpc_port()), "--bitcoind-rpc-user", "u",
                                     "--bitcoind-rpc-password", "p", "--bitcoind-zmq", world.zmq_endpoint(),
                                     "--ready-file", ready, "--resolve-depth", "3", "--rebroadcast-after", "2",
                                     "--postgres", postgres};
    for (const auto& f : group_flags()) argv.push_back(f);
    t.process = std::make_unique<ChildProcess>(argv, t.dir + "/tower.log");
    auto r = json::parse(wait_for_file(ready));
    t.api_port = r["api_port"].get<std::uint16_t>();
    t.metrics_port = r["metrics_port"].get<std::uint16_t>();
    t.admin_port = r["admin_port"].get<std::uint16_t>();
    return t;
}

// The world's user's appointment for `dispute`, sent to the tower at `port`.
unsigned add_breach_appointment(BreachWorld& world, std::uint16_t port, const Transaction& dispute,
                                const Transaction& penalty) {
    HttpClient http(port);
    Txid id = dispute.txid();
    return http.post("/add_appointment",
                     world.user.add_appointment_body(teos::locator(id), teos::encrypt_penalty(penalty.serialize(), id), 144))
        .status;
}

std::string role_of(std::uint16_t metrics_port) {
    HttpClient http(metrics_port);
    auto r = http.get("/ready");
    if (r.status == 0) return "down";
    try {
        return json::parse(r.body).value("role", "unknown");
    } catch (...) {
        return "unknown";
    }
}

// Appointments a client keeps adding, spread over the towers it is given,
// and the ones acknowledged (HTTP 200).
struct Load {
    std::atomic<bool> stop{false};
    std::mutex mutex;
    std::map<int, std::set<std::uint32_t>> acked;  // user index -> appointment numbers
    std::atomic<std::uint64_t> unavailable{0};
    std::vector<std::thread> threads;

    static Locator locator_for(int user, std::uint32_t n) {
        Locator l{};
        l[0] = 0xa0;
        l[1] = static_cast<std::uint8_t>(user);
        for (int i = 0; i < 4; ++i) l[2 + i] = static_cast<std::uint8_t>(n >> (8 * i));
        return l;
    }
    void run(std::vector<TeosUser>& users, std::vector<std::vector<std::uint16_t>> ports) {
        for (std::size_t u = 0; u < users.size(); ++u) {
            threads.emplace_back([this, &users, u, ports] {
                std::vector<std::unique_ptr<HttpClient>> clients;
                for (auto p : ports[u]) clients.push_back(std::make_unique<HttpClient>(p));
                for (std::uint32_t n = 0; !stop; ++n) {
                    auto& http = *clients[n % clients.size()];
                    Bytes blob(120, static_cast<std::uint8_t>(n));
                    auto r = http.post("/add_appointment",
                                       users[u].add_appointment_body(locator_for(static_cast<int>(u), n), blob, 144));
                    if (r.status == 200) {
                        std::lock_guard lock(mutex);
                        acked[static_cast<int>(u)].insert(n);
                    } else {
                        ++unavailable;
                        std::this_thread::sleep_for(std::chrono::milliseconds(20));
                    }
                }
            });
        }
    }
    void finish() {
        stop = true;
        for (auto& t : threads) t.join();
    }
};

// Every acknowledged appointment is stored, and each user's slots are what
// the stored appointments cost (one slot each), whichever tower is asked.
void check_nothing_lost(Load& load, std::vector<TeosUser>& users, std::uint16_t port) {
    HttpClient http(port);
    std::size_t checked = 0;
    for (auto& entry : load.acked) {
        const int u = entry.first;
        const auto& numbers = entry.second;
        auto info = http.post("/get_subscription_info", users[static_cast<std::size_t>(u)].get_subscription_info_body());
        REQUIRE(info.status == 200);
        auto body = json::parse(info.body);
        std::set<std::string> stored;
        for (const auto& l : body["locators"]) stored.insert(l.get<std::string>());
        for (auto n : numbers) {
            CHECK_MESSAGE(stored.count(to_hex(Load::locator_for(u, n))) == 1, "acknowledged appointment lost: user ", u, " #", n);
            ++checked;
        }
        CHECK(body["available_slots"].get<std::uint64_t>() == 10000 - stored.size());
    }
    MESSAGE("acknowledged appointments checked: ", checked);
    CHECK(checked > 0);
}

}  // namespace

TEST_CASE("ha: three towers on one PostgreSQL, the watcher killed with SIGKILL as a breach is mined: a standby punishes it, nothing acknowledged is lost") {
    auto pg = TemporaryPostgres::start(PostgresOptions::durable());
    std::string conninfo = pg->tcp_connection_string();
    BreachWorld world({group_flags(), conninfo});
    auto t2 = start_group_tower(world, conninfo, "t2");
    auto t3 = start_group_tower(world, conninfo, "t3");
    CHECK(role_of(world.metrics_port()) == "leader");
    CHECK(role_of(t2.metrics_port) == "standby");
    CHECK(role_of(t3.metrics_port) == "standby");

    // Every tower serves the API with the group's key: a user registered on
    // one tower sends appointments to all three.
    std::vector<TeosUser> users;
    for (int i = 0; i < 3; ++i) users.emplace_back(static_cast<std::uint8_t>(70 + i));
    {
        HttpClient http(t2.api_port);
        for (auto& u : users) REQUIRE(http.post("/register", u.register_body()).status == 200);
    }
    Load load;
    std::uint16_t p1 = world.api_port(), p2 = t2.api_port, p3 = t3.api_port;
    load.run(users, {{p1, p2, p3}, {p2, p3}, {p3, p1}});
    std::this_thread::sleep_for(std::chrono::seconds(2));

    // The breach's appointment goes to a standby; the watcher learns it from the feed.
    Transaction dispute = world.make_dispute();
    Transaction penalty = world.make_penalty(dispute);
    REQUIRE(add_breach_appointment(world, t3.api_port, dispute, penalty) == 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    world.send(dispute);
    world.mine(1);
    world.tower_process().signal(SIGKILL);  // the watcher dies with the breach block just mined
    auto killed = std::chrono::steady_clock::now();
    world.tower_process().wait();

    std::string new_leader;
    REQUIRE(wait_until([&] {
        if (role_of(t2.metrics_port) == "leader") new_leader = "t2";
        if (role_of(t3.metrics_port) == "leader") new_leader = "t3";
        return !new_leader.empty();
    }, std::chrono::seconds(15)));
    double takeover = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
    REQUIRE(wait_until([&] { return world.in_mempool(penalty.txid()); }, std::chrono::seconds(20)));
    double punished = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
    MESSAGE("takeover after SIGKILL: ", takeover, " s (", new_leader, "), penalty in the mempool after ", punished, " s");
    CHECK(takeover <= 5.0);
    CHECK(role_of(new_leader == "t2" ? t3.metrics_port : t2.metrics_port) == "standby");

    std::this_thread::sleep_for(std::chrono::seconds(1));
    load.finish();
    MESSAGE("refused or unavailable during the run: ", load.unavailable.load());
    check_nothing_lost(load, users, t2.api_port);
    // The breach is visible from either survivor.
    HttpClient h3(t3.api_port);
    auto seen = json::parse(h3.post("/get_appointment", world.user.get_appointment_body(teos::locator(dispute.txid()))).body);
    CHECK(seen["status"] == "dispute_responded");
    // The next breach is punished by the new watcher.
    Transaction dispute2 = world.make_dispute();
    Transaction penalty2 = world.make_penalty(dispute2);
    REQUIRE(add_breach_appointment(world, t2.api_port, dispute2, penalty2) == 200);
    world.send(dispute2);
    world.mine(1);
    CHECK(wait_until([&] { return world.in_mempool(penalty2.txid()); }, std::chrono::seconds(20)));
}

TEST_CASE("ha: a paused watcher (SIGSTOP) is replaced, and after SIGCONT it is fenced: it writes nothing and becomes a standby") {
    auto pg = TemporaryPostgres::start(PostgresOptions::durable());
    std::string conninfo = pg->tcp_connection_string();
    BreachWorld world({group_flags(), conninfo});
    auto t2 = start_group_tower(world, conninfo, "t2");
    REQUIRE(role_of(world.metrics_port()) == "leader");

    world.tower_process().signal(SIGSTOP);
    auto paused = std::chrono::steady_clock::now();
    REQUIRE(wait_until([&] { return role_of(t2.metrics_port) == "leader"; }, std::chrono::seconds(15)));
    MESSAGE("takeover after SIGSTOP: ", std::chrono::duration<double>(std::chrono::steady_clock::now() - paused).count(),
            " s (lease ", std::string(lease_ms), " ms)");

    // The new watcher punishes a breach while the old one is paused.
    Transaction dispute = world.make_dispute();
    Transaction penalty = world.make_penalty(dispute);
    REQUIRE(add_breach_appointment(world, t2.api_port, dispute, penalty) == 200);
    world.send(dispute);
    world.mine(2);
    REQUIRE(wait_until([&] { return world.in_mempool(penalty.txid()) || world.confirmations(penalty.txid()) > 0; },
                       std::chrono::seconds(20)));
    pqxx::connection c(conninfo);
    auto epoch_of = [&] {
        pqxx::work tx(c);
        auto r = tx.exec1("SELECT epoch, holder FROM tower_leader");
        return std::make_pair(r[0].as<std::uint64_t>(), r[1].as<std::string>());
    };
    auto before = epoch_of();

    // The old watcher resumes with blocks to process: its writes are refused.
    world.mine(1);
    world.tower_process().signal(SIGCONT);
    REQUIRE(wait_until([&] { return role_of(world.metrics_port()) == "standby"; }, std::chrono::seconds(15)));
    world.mine(1);
    std::this_thread::sleep_for(std::chrono::seconds(2));
    CHECK(epoch_of() == before);  // no takeover back: the new watcher kept the lock
    CHECK(role_of(t2.metrics_port) == "leader");
    // The position is the new watcher's, at the tip (the old one wrote no block).
    REQUIRE(wait_until([&] {
        pqxx::work tx(c);
        return tx.exec1("SELECT height FROM chain_position")[0].as<std::uint32_t>() == world.chain_height();
    }, std::chrono::seconds(15)));
    std::string old_log = world.tower_log();
    CHECK(old_log.find("watcher_lost") != std::string::npos);
    // Whatever the paused watcher tried to commit as watcher was fenced, never written.
    bool tried = old_log.find("fenced") != std::string::npos || old_log.find("epoch") != std::string::npos;
    CHECK(tried);
}

TEST_CASE("ha: towers on Patroni (etcd, two PostgreSQL 15 in synchronous mode), the primary SIGKILLed under load: nothing acknowledged is lost, the API comes back, the next breach is punished") {
    std::string missing;
    if (!PatroniCluster::available(&missing)) {
        MESSAGE("skipped: ", missing);
        return;
    }
    auto cluster = PatroniCluster::start();
    std::string conninfo = cluster->multi_host_connection_string();
    BreachWorld world({group_flags(), conninfo});
    auto t2 = start_group_tower(world, conninfo, "t2");
    std::vector<TeosUser> users;
    for (int i = 0; i < 2; ++i) users.emplace_back(static_cast<std::uint8_t>(90 + i));
    {
        HttpClient http(t2.api_port);
        for (auto& u : users) REQUIRE(http.post("/register", u.register_body()).status == 200);
    }
    Load load;
    load.run(users, {{world.api_port(), t2.api_port}, {t2.api_port}});
    std::this_thread::sleep_for(std::chrono::seconds(2));

    int old_primary = cluster->kill_primary();
    auto killed = cluster->killed_at();
    // The API is back when a new appointment is acknowledged again.
    std::size_t acked_at_kill = 0;
    {
        std::lock_guard lock(load.mutex);
        for (auto& [u, n] : load.acked) acked_at_kill += n.size();
    }
    REQUIRE(wait_until([&] {
        std::lock_guard lock(load.mutex);
        std::size_t now = 0;
        for (auto& [u, n] : load.acked) now += n.size();
        return now > acked_at_kill + 20;
    }, std::chrono::seconds(90)));
    double back = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
    int new_primary = cluster->primary_index();
    MESSAGE("API acknowledging again ", back, " s after SIGKILL of the primary (node ", old_primary, " -> ", new_primary, ")");
    CHECK(new_primary != old_primary);
    std::this_thread::sleep_for(std::chrono::seconds(2));
    load.finish();
    check_nothing_lost(load, users, t2.api_port);

    // A watcher is elected again on the new primary and punishes the next breach.
    REQUIRE(wait_until([&] { return role_of(world.metrics_port()) == "leader" || role_of(t2.metrics_port) == "leader"; },
                       std::chrono::seconds(30)));
    Transaction dispute = world.make_dispute();
    Transaction penalty = world.make_penalty(dispute);
    REQUIRE(wait_until([&] { return add_breach_appointment(world, t2.api_port, dispute, penalty) == 200; },
                       std::chrono::seconds(20)));
    world.send(dispute);
    world.mine(1);
    CHECK(wait_until([&] { return world.in_mempool(penalty.txid()); }, std::chrono::seconds(30)));
}
