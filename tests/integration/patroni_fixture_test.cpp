// The HA PostgreSQL fixture (tests/support/patroni_cluster.h) does what the HA
// tower tests rely on: a multi-host libpq string reaches the primary, commits
// are synchronously replicated, and after the primary's machine dies (SIGKILL
// of its Patroni and postmaster) the other node is promoted with every
// acknowledged row and the same string writes again. Label `ha`; skipped when
// patroni or etcd is not installed.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <pqxx/pqxx>
#include <string>
#include <thread>

#include "tests/support/patroni_cluster.h"

using argus::test::PatroniCluster;
using namespace std::chrono_literals;

namespace {

constexpr int acknowledged_rows = 200;

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

}  // namespace

TEST_CASE("patroni fixture: no acknowledged write is lost when the primary is SIGKILLed, and writes resume on the standby") {
    std::string missing;
    if (!PatroniCluster::available(&missing)) {
        MESSAGE("skipped: " << missing << " (scripts/install-deps.sh installs patroni and etcd-server)");
        return;
    }
    const auto started = std::chrono::steady_clock::now();
    auto cluster = PatroniCluster::start();
    const std::string directory = cluster->directory();
    MESSAGE("cluster up in " << seconds_between(started, std::chrono::steady_clock::now()) << " s");
    const int first = cluster->primary_index();
    REQUIRE(first >= 0);
    const int other = 1 - first;
    CHECK(cluster->sync_standby_index() == other);
    for (int node = 0; node < PatroniCluster::node_count; ++node) {
        CHECK(cluster->pg_port(node) != 5432);
        CHECK(cluster->rest_port(node) != 8008);
    }
    CHECK(cluster->etcd_endpoint() != "http://127.0.0.1:2379");

    const std::string conninfo = cluster->multi_host_connection_string();
    {
        pqxx::connection c(conninfo);
        CHECK(c.port() == std::to_string(cluster->pg_port(first)));
        pqxx::work setup(c);
        CHECK(setup.exec1("SHOW synchronous_commit")[0].as<std::string>() == "on");
        CHECK(setup.exec1("SHOW fsync")[0].as<std::string>() == "on");
        CHECK(setup.exec1("SHOW shared_buffers")[0].as<std::string>() == "32MB");
        CHECK(setup.exec1("SHOW max_connections")[0].as<std::string>() == "100");
        // Patroni names the streaming standby synchronous.
        CHECK(setup.exec1("SHOW synchronous_standby_names")[0].as<std::string>().find("node" + std::to_string(other)) !=
              std::string::npos);
        setup.exec0("CREATE TABLE acknowledged (id integer PRIMARY KEY, payload text NOT NULL)");
        setup.commit();
        // Each row its own transaction: its COMMIT returns once the standby has it.
        for (int i = 0; i < acknowledged_rows; ++i) {
            pqxx::work tx(c);
            tx.exec_params0("INSERT INTO acknowledged VALUES ($1, $2)", i, "row " + std::to_string(i));
            tx.commit();
        }
        pqxx::work check(c);
        auto sync = check.exec("SELECT sync_state, state FROM pg_stat_replication");
        REQUIRE(sync.size() == 1);
        CHECK(sync[0][0].as<std::string>() == "sync");
        CHECK(sync[0][1].as<std::string>() == "streaming");
    }

    const int killed = cluster->kill_primary();
    CHECK(killed == first);
    const auto killed_at = cluster->killed_at();
    CHECK_FALSE(cluster->node_alive(killed));
    // Patroni's view first: the standby takes the leader key once the dead
    // primary's expires (ttl).
    CHECK(cluster->wait_for_new_primary(60s) == other);
    const double leader_seconds = seconds_between(killed_at, std::chrono::steady_clock::now());

    // What a tower does: reconnect through the same multi-host string until a
    // write commits.
    std::string last_error;
    int attempts = 0;
    std::string written_on;
    for (;;) {
        ++attempts;
        try {
            pqxx::connection c(conninfo);
            pqxx::work tx(c);
            tx.exec0("INSERT INTO acknowledged VALUES (1000000, 'after the failover')");
            tx.commit();
            written_on = c.port();
            break;
        } catch (const std::exception& e) {
            last_error = e.what();
        }
        if (std::chrono::steady_clock::now() - killed_at > 75s) {
            FAIL("no write succeeded within 75 s of the kill (" << attempts << " attempts); last error: "
                                                                << last_error << "\nnode " << other << " log:\n"
                                                                << cluster->log(other));
        }
        std::this_thread::sleep_for(200ms);
    }
    const double failover_seconds = seconds_between(killed_at, std::chrono::steady_clock::now());
    MESSAGE("failover: Patroni's new leader after " << leader_seconds
                                                    << " s; a write through the multi-host string succeeded "
                                                    << failover_seconds << " s after the primary was SIGKILLed ("
                                                    << attempts << " connection attempts)");
    CHECK(written_on == std::to_string(cluster->pg_port(other)));
    CHECK(failover_seconds < 45);

    CHECK(cluster->primary_index() == other);
    // Every acknowledged row is on the new primary, read from it directly.
    pqxx::connection direct(cluster->node_connection_string(other));
    pqxx::work tx(direct);
    CHECK_FALSE(tx.exec1("SELECT pg_is_in_recovery()")[0].as<bool>());
    CHECK(tx.exec1("SELECT count(*) FROM acknowledged WHERE id < 1000000")[0].as<int>() == acknowledged_rows);
    CHECK(tx.exec1("SELECT count(*) FROM acknowledged WHERE payload = 'row ' || id")[0].as<int>() == acknowledged_rows);
    CHECK(tx.exec1("SELECT max(id) FROM acknowledged WHERE id < 1000000")[0].as<int>() == acknowledged_rows - 1);
    tx.commit();
    direct.disconnect();

    // The destructor: no process of either node (the killed one included) nor
    // etcd is left, and the directory is gone.
    const int survivor_port = cluster->pg_port(other);
    cluster.reset();
    CHECK_FALSE(std::filesystem::exists(directory));
    CHECK_THROWS(pqxx::connection("host=127.0.0.1 connect_timeout=2 user=postgres port=" +
                                  std::to_string(survivor_port)));
    std::string left_behind;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        std::ifstream in(entry.path() / "cmdline");
        std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (cmdline.find(directory) != std::string::npos) left_behind += entry.path().filename().string() + " ";
    }
    CHECK_MESSAGE(left_behind.empty(), "processes left behind: " << left_behind);
}
