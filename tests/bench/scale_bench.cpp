// argus-bench-scale: the tower at scale. Builds a store of N appointments
// (PostgreSQL by default, 10^6 unless told), through the store's own bulk
// loader (COPY on PostgreSQL), then measures on it, with the real argus-tower
// process and the chain simulator:
//   - start-up to ready, and the tower's RSS, on the loaded store (and that
//     the tower reads every appointment back);
//   - disk bytes per appointment (table, indexes) against locator + blob;
//   - sustained durable add_appointment for `--seconds` (120) with
//     `--clients` (64) keep-alive clients outside the tower process, requests
//     signed before the clock starts: rate, p50/p99, the slowest second,
//     checkpoints during the run; meanwhile a day's expiry (1% of N, users
//     whose subscription ends) is removed by the tower;
//   - block matching: a 20,000-transaction block with 10 breaches whose
//     appointments are in the loaded table, candidates read from the store.
// Prints the machine's ceilings beside them: secp256k1 recovery and signing
// per core, and (PostgreSQL) pgbench's group-commit TPS on the same server.
//
//   argus-bench-scale [--store postgres|sqlite] [--appointments N] [--seconds S] [--clients C]
//                     [--pg-setting name=value ...] [--tower-option name=value ...]
// ARGUS_BENCH_DIAG=1 (PostgreSQL) also samples the server every 100 ms for the
// first 3 s of the load: WAL position, blocks read and hit, and what each
// client backend waits for (how the start-up stall below was traced).
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <random>
#include <thread>

#include "common/hex.h"
#include "common/message_signing.h"
#include "common/watchtower_crypto.h"
#include "net/bitcoind_rpc.h"
#include "server/chain/chain_source.h"
#include "tests/bench/counting_broadcaster.h"
#include "server/store/store.h"
#include "server/tower/locator_index.h"
#include "server/watch/chain_follower.h"
#include "server/watch/watch_core.h"
#include "tests/bench/http_load.h"
#include "tests/bench/signed_bodies.h"
#include "tests/support/child_process.h"
#include "tests/support/http_client.h"
#include "tests/support/simulated_context.h"
#include "tests/support/teos_user.h"
#include "tests/support/temporary_directory.h"
#include "tests/support/temporary_postgres.h"
#include "tests/support/watch_chain.h"

using namespace argus;
using namespace argus::test;
using bench::BenchClock;
using json = nlohmann::json;

namespace {

struct Args {
    std::string store = "postgres";
    std::size_t appointments = 1'000'000;
    int seconds = 120;
    int clients = 64;
    std::vector<std::pair<std::string, std::string>> pg_settings{{"checkpoint_timeout", "60s"}};
    std::vector<std::string> tower_options;  // passed to argus-tower as --name value
};

[[noreturn]] void fail(const std::string& why) {
    std::fprintf(stderr, "argus-bench-scale: %s\n", why.c_str());
    std::exit(1);
}

double seconds_since(BenchClock::time_point t) { return std::chrono::duration<double>(BenchClock::now() - t).count(); }

std::size_t rss_of(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string key;
    while (in >> key) {
        if (key == "VmRSS:") {
            std::size_t kb = 0;
            in >> kb;
            return kb * 1024;
        }
        std::string rest;
        std::getline(in, rest);
    }
    return 0;
}

double recoveries_per_second() {
    auto key = PrivateKey::from_bytes(Bytes(32, 7)).value();
    Hash256 digest{};
    RecoverableSignature sig = ecdsa_sign_recoverable(key, digest);
    std::size_t n = 0;
    auto start = BenchClock::now();
    while (seconds_since(start) < 1.0) {
        for (int i = 0; i < 100; ++i) {
            digest[1] = static_cast<std::uint8_t>(n + i);
            (void)ecdsa_recover(digest, sig);
        }
        n += 100;
    }
    return static_cast<double>(n) / seconds_since(start);
}

double signatures_per_second() {
    auto key = PrivateKey::from_bytes(Bytes(32, 7)).value();
    std::size_t n = 0;
    auto start = BenchClock::now();
    while (seconds_since(start) < 1.0) {
        for (int i = 0; i < 100; ++i) (void)sign_message(key, as_bytes(std::to_string(n + i)));
        n += 100;
    }
    return static_cast<double>(n) / seconds_since(start);
}

// pgbench on the same server: 64 clients, each transaction one 340-byte
// insert committed durably (the group-commit ceiling of this disk).
double pgbench_tps(TemporaryPostgres& pg, int clients) {
    {
        pqxx::connection c(pg.connection_string());
        pqxx::work tx(c);
        tx.exec0("CREATE TABLE IF NOT EXISTS bench_ceiling (k bigint, v bytea)");
        tx.commit();
    }
    std::string script = pg.directory() + "/ceiling.sql";
    std::ofstream(script) << "INSERT INTO bench_ceiling VALUES (:client_id, decode(repeat('ab', 340), 'hex'));\n";
    std::string out = pg.directory() + "/pgbench.out";
    std::string command = find_postgres_bin_dir() + "/pgbench -n -h 127.0.0.1 -p " + std::to_string(pg.port()) +
                          " -U postgres -c " + std::to_string(clients) + " -j 2 -T 10 -f " + script + " postgres > " + out +
                          " 2>&1";
    if (std::system(command.c_str()) != 0) return 0;
    std::ifstream in(out);
    std::string line;
    double tps = 0;
    while (std::getline(in, line)) {
        if (line.rfind("tps = ", 0) == 0) tps = std::atof(line.c_str() + 6);
    }
    pqxx::connection c(pg.connection_string());
    pqxx::work tx(c);
    tx.exec0("DROP TABLE bench_ceiling");
    tx.commit();
    return tps;
}


struct DiskUse {
    double table = 0, indexes = 0, total = 0;  // bytes per appointment
};

DiskUse disk_use(const Args& args, const std::string& conninfo, const std::string& sqlite_path, std::size_t appointments) {
    DiskUse d;
    auto n = static_cast<double>(appointments);
    if (args.store == "postgres") {
        pqxx::connection c(conninfo);
        pqxx::work tx(c);
        // The table and, when it is partitioned, every partition (the parent holds nothing).
        auto r = tx.exec1(
            "SELECT sum(pg_table_size(c.oid)), sum(pg_indexes_size(c.oid)), sum(pg_total_relation_size(c.oid)) "
            "FROM pg_class c WHERE c.oid = 'appointments'::regclass OR c.oid IN "
            "(SELECT inhrelid FROM pg_inherits WHERE inhparent = 'appointments'::regclass)");
        d.table = r[0].as<double>() / n;
        d.indexes = r[1].as<double>() / n;
        d.total = r[2].as<double>() / n;
    } else {
        std::error_code ec;
        double bytes = static_cast<double>(std::filesystem::file_size(sqlite_path, ec));
        auto wal = std::filesystem::file_size(sqlite_path + "-wal", ec);
        if (!ec) bytes += static_cast<double>(wal);
        d.total = bytes / n;
    }
    return d;
}

std::uint64_t checkpoints(const std::string& conninfo) {
    pqxx::connection c(conninfo);
    pqxx::work tx(c);
    return tx.exec1("SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter")[0].as<std::uint64_t>();
}

// WAL written so far, in bytes (PostgreSQL).
std::uint64_t wal_position(const std::string& conninfo) {
    pqxx::connection c(conninfo);
    pqxx::nontransaction tx(c);
    return tx.exec1("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")[0].as<std::uint64_t>();
}

// Writes completed by the block device holding `path`, from /proc/diskstats
// (every process on the machine: the benchmark is what runs).
std::uint64_t device_writes(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return 0;
    unsigned want_major = major(st.st_dev), want_minor = minor(st.st_dev);
    std::ifstream in("/proc/diskstats");
    std::string line;
    while (std::getline(in, line)) {
        unsigned maj = 0, min = 0;
        char name[64] = {0};
        unsigned long long f[8] = {0};
        if (std::sscanf(line.c_str(), "%u %u %63s %llu %llu %llu %llu %llu %llu %llu %llu", &maj, &min, name, &f[0], &f[1],
                        &f[2], &f[3], &f[4], &f[5], &f[6], &f[7]) == 11 &&
            maj == want_major && min == want_minor) {
            return f[4];  // writes completed
        }
    }
    return 0;
}

Args parse_args(int argc, char** argv) {
    Args a;
    bool settings_given = false;
    for (int i = 1; i < argc; ++i) {
        std::string flag = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) fail(flag + " needs a value");
            return argv[++i];
        };
        if (flag == "--store") {
            a.store = value();
            if (a.store != "postgres" && a.store != "sqlite") fail("--store is postgres or sqlite");
        } else if (flag == "--appointments") {
            a.appointments = std::stoull(value());
        } else if (flag == "--seconds") {
            a.seconds = std::stoi(value());
        } else if (flag == "--clients") {
            a.clients = std::stoi(value());
        } else if (flag == "--pg-setting") {
            std::string s = value();
            auto eq = s.find('=');
            if (eq == std::string::npos) fail("--pg-setting is name=value");
            if (!settings_given) a.pg_settings.clear();
            settings_given = true;
            a.pg_settings.emplace_back(s.substr(0, eq), s.substr(eq + 1));
        } else if (flag == "--tower-option") {
            std::string s = value();
            auto eq = s.find('=');
            if (eq == std::string::npos) fail("--tower-option is name=value");
            a.tower_options.push_back("--" + s.substr(0, eq));
            a.tower_options.push_back(s.substr(eq + 1));
        } else {
            fail("unknown argument " + flag +
                 " (argus-bench-scale [--store postgres|sqlite] [--appointments N] [--seconds S] [--clients C] "
                 "[--pg-setting name=value] [--tower-option name=value])");
        }
    }
    if (a.appointments < 1000 || a.seconds < 10 || a.clients < 1 || a.clients > 250) fail("arguments out of range");
    return a;
}

store::UserRecord bulk_user(std::uint32_t n, std::uint32_t expiry) {
    store::UserRecord u;
    u.user_id[0] = 0x03;
    std::memcpy(u.user_id.data() + 1, &n, sizeof n);
    u.user_id[5] = 0xb7;
    u.available_slots = 4'000'000'000u;
    u.subscription_start = 1;
    u.subscription_expiry = expiry;
    return u;
}

}  // namespace

int main(int argc, char** argv) {
    Args args = parse_args(argc, argv);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    std::printf("argus-bench-scale: store %s, %zu appointments, %d s sustained with %d clients, %u hardware threads\n",
                args.store.c_str(), args.appointments, args.seconds, args.clients, std::thread::hardware_concurrency());
    double recover = recoveries_per_second(), sign = signatures_per_second();
    std::printf("ceiling: secp256k1 recovery %.0f/s, signing %.0f/s per core: %.0f appointments/s per core for crypto alone\n",
                recover, sign, 1.0 / (1.0 / recover + 1.0 / sign));

    TemporaryDirectory dir;
    std::unique_ptr<TemporaryPostgres> pg;
    std::string conninfo, sqlite_path = dir.path() + "/tower/tower.sqlite";
    std::filesystem::create_directories(dir.path() + "/tower");
    if (args.store == "postgres") {
        PostgresOptions options;
        options.fsync = true;
        options.shared_buffers.clear();  // deploy/postgres/argus.conf's
        options.settings = args.pg_settings;
        pg = TemporaryPostgres::start(options);
        conninfo = pg->tcp_connection_string();
        std::string shown;
        for (const auto& [k, v] : args.pg_settings) shown += " " + k + "=" + v;
        std::printf("postgres: deploy/postgres/argus.conf, overridden:%s\n", shown.empty() ? " nothing" : shown.c_str());
        std::printf("ceiling: pgbench, %d clients, one durable 340-byte insert per transaction: %.0f tps\n", args.clients,
                    pgbench_tps(*pg, args.clients));
    }
    auto open_store = [&]() {
        auto s = args.store == "postgres" ? store::open_postgres_store(conninfo) : store::open_sqlite_store(sqlite_path);
        if (!s) fail("cannot open the store: " + s.error().message);
        return std::move(*s);
    };

    // --- build: users, then N appointments in chunks, through the store's bulk loader
    // A day's expiry is 1% of the store, owned by users of at most 10,000
    // appointments each (10 users up to 10^7, 100 at 10^8).
    const std::uint32_t bulk_users = 1000;
    const auto expiring_users = static_cast<std::uint32_t>(std::max<std::size_t>(10, args.appointments / 1'000'000));
    // The store holds 100 days of appointments (start heights spread over
    // 14,400 blocks); the chain's tip is just past them, where new ones land.
    const std::uint32_t history_blocks = 14'400, tip = history_blocks + 20;
    const std::uint32_t expiring_at = tip + 10;  // subscription expiry height of the expiring users
    const std::size_t expiring = args.appointments / 100;
    std::mt19937_64 rng(42);
    std::vector<Transaction> disputes;
    {
        auto store = open_store();
        store::WriteBatch users;
        for (std::uint32_t u = 0; u < bulk_users + expiring_users; ++u) {
            users.put_user(bulk_user(u, u < bulk_users ? 1'000'000 : expiring_at));
        }
        if (!store->write(users)) fail("cannot write the users");
        auto start = BenchClock::now();
        std::vector<store::AppointmentRecord> chunk;
        const std::size_t chunk_size = 100'000;
        for (std::size_t i = 0; i < args.appointments; ++i) {
            store::AppointmentRecord a;
            auto owner = i < expiring ? bulk_users + static_cast<std::uint32_t>(i % expiring_users)
                                      : static_cast<std::uint32_t>(i % bulk_users);
            a.user_id = bulk_user(owner, 0).user_id;
            for (std::size_t k = 0; k < a.locator.size(); k += 8) {
                std::uint64_t r = rng();
                std::memcpy(a.locator.data() + k, &r, 8);
            }
            a.blob.resize(320);
            for (std::size_t k = 0; k < a.blob.size(); k += 8) {
                std::uint64_t r = rng();
                std::memcpy(a.blob.data() + k, &r, 8);
            }
            a.to_self_delay = 144;
            a.start_block = 10 + static_cast<std::uint32_t>(i * history_blocks / args.appointments);
            if (i >= expiring && (i - expiring) % (args.appointments / 10) == 7 && disputes.size() < 10) {
                // A breach to find later: the locator of a real dispute, its penalty encrypted.
                Transaction dispute = random_transaction(rng), penalty = random_transaction(rng);
                a.locator = teos::locator(dispute.txid());
                a.blob = teos::encrypt_penalty(penalty.serialize(), dispute.txid());
                disputes.push_back(dispute);
            }
            chunk.push_back(std::move(a));
            if (chunk.size() == chunk_size || i + 1 == args.appointments) {
                if (auto ok = store->bulk_load_appointments(chunk); !ok) fail("bulk load: " + ok.error().message);
                chunk.clear();
                if ((i + 1) % 1'000'000 == 0) std::printf("  loaded %zu (%.0f/s)\n", i + 1, static_cast<double>(i + 1) / seconds_since(start));
            }
        }
        std::printf("build: %zu appointments of %u users in %.1f s (%.0f/s)\n", args.appointments, bulk_users + expiring_users,
                    seconds_since(start), static_cast<double>(args.appointments) / seconds_since(start));
        if (args.store == "postgres") {
            pqxx::connection c(conninfo);
            pqxx::nontransaction tx(c);
            auto vacuum = BenchClock::now();
            tx.exec0("VACUUM (ANALYZE) appointments");  // what autovacuum does to a freshly loaded table
            tx.exec0("CHECKPOINT");
            std::printf("build: vacuum analyze and checkpoint %.1f s\n", seconds_since(vacuum));
        }
    }
    DiskUse loaded = disk_use(args, conninfo, sqlite_path, args.appointments);

    // --- the tower: start-up to ready on the loaded store, RSS, read back
    std::uint16_t rpc_port = 0;
    ChildProcess sim({ARGUS_SIM_BINARY, "--rpc-port", "0", "--rpc-user", "u", "--rpc-password", "p", "--ports-file",
                      dir.path() + "/sim.ports", "--state-file", dir.path() + "/chain.dat"},
                     dir.path() + "/sim.log");
    rpc_port = json::parse(wait_for_file(dir.path() + "/sim.ports")).at("rpc_port").get<std::uint16_t>();
    chain::BitcoindRpc rpc(chain::RpcEndpoint{"127.0.0.1", rpc_port, "u", "p", "", std::chrono::seconds(60)});
    const std::string address = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
    if (!rpc.call("generatetoaddress", json::array({tip, address}))) fail("the chain simulator does not answer");
    std::vector<std::string> tower_argv = {ARGUS_TOWER_BINARY, "--data-dir", dir.path() + "/tower", "--api-port", "0",
                                           "--wtwire-port", "0", "--admin-port", "0", "--metrics-port", "0",
                                           "--bitcoind-rpc-port", std::to_string(rpc_port), "--bitcoind-rpc-user", "u",
                                           "--bitcoind-rpc-password", "p", "--chain-poll-ms", "200", "--ready-file",
                                           dir.path() + "/tower.ready", "--subscription-slots", "4000000000",
                                           "--max-connections", "1000", "--electrum-port", "0"};
    if (args.store == "postgres") tower_argv.insert(tower_argv.end(), {"--postgres", conninfo});
    tower_argv.insert(tower_argv.end(), args.tower_options.begin(), args.tower_options.end());
    // Start-up from a cold cache, as after a reboot: PostgreSQL restarted
    // (its shared buffers empty) and the kernel's page cache dropped (root
    // only; else the figure is warm and says so). On PostgreSQL twice: without
    // pg_prewarm, then with it (docs/operations.md), the second tower serving
    // the rest of the run.
    bool root = geteuid() == 0;
    auto make_cold = [&] {
        if (pg) pg->restart();
        if (!root) return;
        ::sync();
        std::ofstream("/proc/sys/vm/drop_caches") << "3\n";
    };
    const char* cache_state = root ? "cold: page cache dropped, PostgreSQL restarted" : "warm: not root, caches kept";
    auto start_tower = [&](const char* label) {
        std::filesystem::remove(dir.path() + "/tower.ready");
        make_cold();
        auto started = BenchClock::now();
        auto child = std::make_unique<ChildProcess>(tower_argv, dir.path() + "/tower.log");
        wait_for_file(dir.path() + "/tower.ready", std::chrono::minutes(30));
        double seconds = seconds_since(started);
        std::size_t resident = rss_of(child->pid());
        std::printf("startup: ready in %.2f s%s (%s), RSS %.0f MB (%.1f B per appointment)\n", seconds, label, cache_state,
                    static_cast<double>(resident) / 1e6, static_cast<double>(resident) / static_cast<double>(args.appointments));
        return child;
    };
    if (pg) {
        auto first = start_tower(", without pg_prewarm");
        first->signal(SIGTERM);
        if (first->wait(std::chrono::seconds(60)) != 0) fail("the first tower did not stop cleanly");
        pqxx::connection c(conninfo);
        pqxx::nontransaction(c).exec0("CREATE EXTENSION IF NOT EXISTS pg_prewarm");
    }
    auto tower_process = start_tower(pg ? ", with pg_prewarm" : "");
    ChildProcess& tower = *tower_process;
    json ready = json::parse(wait_for_file(dir.path() + "/tower.ready"));
    auto api_port = ready["api_port"].get<std::uint16_t>(), admin_port = ready["admin_port"].get<std::uint16_t>();
    std::string token;
    std::ifstream(dir.path() + "/tower/admin_token") >> token;
    auto admin_info = [&]() {
        HttpClient admin(admin_port);
        return json::parse(admin.get("/info", "Bearer " + token).body);
    };
    json info = admin_info();
    std::size_t read_back = info["appointments"].get<std::size_t>();
    std::printf("startup: the tower reads back %zu appointments%s\n", read_back,
                read_back == args.appointments ? "" : " (MISMATCH)");
    std::printf("disk after build: %.0f B per appointment (table %.0f, indexes %.0f); locator + blob = 336 B: %.2fx\n",
                loaded.total, loaded.table, loaded.indexes, loaded.total / 336.0);

    // --- sustained load: registered users, requests signed before the clock
    const std::size_t per_client = static_cast<std::size_t>(15'000.0 * args.seconds / args.clients) + 1000;
    std::vector<std::vector<std::string>> bodies(static_cast<std::size_t>(args.clients));
    {
        HttpClient http(api_port);
        for (int c = 0; c < args.clients; ++c) {
            TeosUser user(static_cast<std::uint8_t>(c + 1));
            if (http.post("/register", user.register_body()).status != 200) fail("register failed");
        }
        auto signing = BenchClock::now();
        bodies = bench::signed_appointment_bodies(args.clients, per_client, 1000);
        std::printf("load: %zu requests signed in %.1f s (before the clock)\n", per_client * bodies.size(), seconds_since(signing));
    }
    std::uint64_t checkpoints_before = args.store == "postgres" ? checkpoints(conninfo) : 0;
    std::uint64_t wal_before = args.store == "postgres" ? wal_position(conninfo) : 0;
    std::uint64_t writes_before = device_writes(dir.path());
    // A day's expiry in the middle of the run: the expiring users' subscriptions
    // end (tip + 10, + expiry delta 6: outdated from block tip + 16), and the
    // tower deletes their appointments, up to 20,000 a block (the default
    // budget). Blocks come every 2 s from there (a chain's 10 minutes, shortened).
    double expiry_s = -1;
    std::size_t expired = 0, expiry_blocks = 0;
    double expiry_started_at = 0;
    std::thread expiry([&] {
        std::this_thread::sleep_for(std::chrono::seconds(args.seconds / 3));
        auto t = BenchClock::now();
        expiry_started_at = args.seconds / 3.0;
        if (!rpc.call("generatetoaddress", json::array({15, address}))) return;
        auto next_block = BenchClock::now();
        while (seconds_since(t) < args.seconds) {
            json now = admin_info();
            if (now["users"].get<std::size_t>() == bulk_users + static_cast<std::size_t>(args.clients)) {
                expiry_s = seconds_since(t);
                expired = expiring;  // the expired users' appointments, all gone with them
                return;
            }
            if (BenchClock::now() >= next_block) {
                if (!rpc.call("generatetoaddress", json::array({1, address}))) return;
                ++expiry_blocks;
                next_block += std::chrono::seconds(2);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    });
    std::thread diag([&] {
        if (!std::getenv("ARGUS_BENCH_DIAG") || args.store != "postgres") return;
        pqxx::connection c(conninfo);
        auto t0 = BenchClock::now();
        while (seconds_since(t0) < 3.0) {
            pqxx::nontransaction tx(c);
            std::string line;
            for (const auto& row : tx.exec("SELECT coalesce(wait_event_type,'-')||':'||coalesce(wait_event,'-')||':'||state, count(*) FROM pg_stat_activity WHERE backend_type='client backend' AND pid <> pg_backend_pid() GROUP BY 1")) {
                line += " " + row[0].as<std::string>() + "=" + row[1].as<std::string>();
            }
            auto w = tx.exec1("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, (SELECT sum(blks_read) FROM pg_stat_database), (SELECT sum(blks_hit) FROM pg_stat_database)");
            std::printf("diag t=%.2f wal=%s read=%s hit=%s%s\n", seconds_since(t0), w[0].c_str(), w[1].c_str(), w[2].c_str(), line.c_str());
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    });
    auto load = bench::run_http_load(api_port, "/add_appointment", bodies, std::chrono::seconds(args.seconds));
    diag.join();
    expiry.join();
    std::uint64_t checkpoints_during = args.store == "postgres" ? checkpoints(conninfo) - checkpoints_before : 0;
    std::uint64_t wal_during = args.store == "postgres" ? wal_position(conninfo) - wal_before : 0;
    std::uint64_t writes_during = device_writes(dir.path()) - writes_before;
    std::size_t whole_seconds = std::min(load.per_second.size(), static_cast<std::size_t>(args.seconds));
    std::size_t slowest = SIZE_MAX, fastest = 0, slowest_at = 0;
    for (std::size_t s = 0; s < whole_seconds; ++s) {
        if (load.per_second[s] < slowest) slowest_at = s;
        slowest = std::min(slowest, load.per_second[s]);
        fastest = std::max(fastest, load.per_second[s]);
    }
    std::string seconds_below;  // every second under half the average, with its offset
    for (std::size_t s = 0; s < whole_seconds; ++s) {
        if (static_cast<double>(load.per_second[s]) < load.rate() / 2) {
            seconds_below += " t=" + std::to_string(s) + ":" + std::to_string(load.per_second[s]);
        }
    }
    double average = load.rate();
    std::printf("sustained: %.0f appointments/s durable over %.0f s (%zu), p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, errors %zu\n",
                average, load.elapsed_s, load.latencies_ms.size(), load.percentile(0.50), load.percentile(0.99),
                load.percentile(0.999), load.errors + load.transport_errors);
    std::printf("sustained: slowest second %zu at t=%zu s (%.2f of the average), fastest %zu; checkpoints during the run: %llu\n",
                slowest, slowest_at, static_cast<double>(slowest) / average, fastest,
                static_cast<unsigned long long>(checkpoints_during));
    std::printf("sustained: WAL %.0f B per appointment, %.1f MB/s; device writes %.0f/s (%.2f per appointment)\n",
                static_cast<double>(wal_during) / static_cast<double>(load.latencies_ms.size()),
                static_cast<double>(wal_during) / 1e6 / load.elapsed_s, static_cast<double>(writes_during) / load.elapsed_s,
                static_cast<double>(writes_during) / static_cast<double>(load.latencies_ms.size()));
    std::printf("sustained: seconds under half the average:%s\n", seconds_below.empty() ? " none" : seconds_below.c_str());
    std::string first_seconds;
    for (std::size_t s = 0; s < std::min<std::size_t>(whole_seconds, 5); ++s) first_seconds += " " + std::to_string(load.per_second[s]);
    std::printf("sustained: the first seconds:%s\n", first_seconds.c_str());
    std::string first_tenths;
    for (std::size_t s = 0; s < 30; ++s) first_tenths += " " + std::to_string(load.per_tenth[s]);
    std::printf("sustained: the first 3 s by 100 ms:%s\n", first_tenths.c_str());
    std::printf("expiry: %zu appointments of %u expired users removed over %zu blocks 2 s apart, %.1f s in all (from t=%.0f s), while ingesting\n",
                expired, expiring_users, expiry_blocks, expiry_s, expiry_started_at);
    std::size_t total_after = admin_info()["appointments"].get<std::size_t>();
    DiskUse after = disk_use(args, conninfo, sqlite_path, total_after);
    std::printf("disk after the run: %.0f B per appointment (table %.0f, indexes %.0f) over %zu appointments: %.2fx\n",
                after.total, after.table, after.indexes, total_after, after.total / 336.0);
    tower.signal(SIGTERM);
    tower.wait(std::chrono::seconds(60));

    // --- block matching on the loaded table: 20,000 transactions, 10 breaches
    {
        auto store = open_store();
        SeededRng seed(7);
        tower::LocatorIndex index(seed);
        auto t = BenchClock::now();
        if (auto ok = store->for_each_locator_prefix([&](std::span<const Locator> batch) { index.insert_all(batch); }); !ok) fail(ok.error().message);
        double index_s = seconds_since(t);
        Block block;
        for (std::size_t i = 0; i < 20'000; ++i) block.transactions.push_back(random_transaction(rng));
        for (std::size_t k = 0; k < disputes.size(); ++k) block.transactions[k * 2000 + 1] = disputes[k];
        block.header.merkle_root = compute_merkle_root(block);
        Bytes raw = block.serialize();
        if (args.store == "postgres" && std::getenv("ARGUS_BENCH_EXPLAIN")) {
            // The plan of the watcher's lookup, as the store runs it (a generic plan).
            pqxx::connection c(conninfo);
            pqxx::nontransaction tx(c);
            tx.exec0("SET plan_cache_mode = force_generic_plan");
            tx.exec0("PREPARE q(bigint[]) AS SELECT a.loc_hi, a.loc_lo, u.user_id, a.blob FROM appointments a "
                     "JOIN users u USING (user_key) WHERE a.loc_hi = ANY($1)");
            std::string array = "{";
            for (std::size_t k = 0; k < disputes.size(); ++k) {
                Locator l = teos::locator(disputes[k].txid());
                std::int64_t hi = 0;
                for (int b = 0; b < 8; ++b) hi = static_cast<std::int64_t>((static_cast<std::uint64_t>(hi) << 8) | l[b]);
                array += (k ? "," : "") + std::to_string(hi);
            }
            array += "}";
            for (int r = 0; r < 2; ++r) {
                for (const auto& row : tx.exec("EXPLAIN (ANALYZE, BUFFERS) EXECUTE q('" + array + "')")) {
                    std::printf("explain: %s\n", row[0].c_str());
                }
            }
        }
        double total = 0, worst = 0, parse_ms = 0, read_ms = 0;
        std::size_t breaches = 0, candidates = 0;
        const int rounds = 10, warm_up = 4;  // the store's four reader connections, each opened at its first lookup
        for (int r = -warm_up; r < rounds; ++r) {
            bench::CountingBroadcaster broadcaster;
            watch::WatchCore core;
            auto start = BenchClock::now();
            auto parsed = std::make_shared<const Block>(parse_block(raw).value());
            auto view = watch::make_block_view(parsed, parsed->header.hash(), tip + 100, false);
            auto parsed_at = BenchClock::now();
            auto event = watch::read_block_candidates(view, index, *store);
            if (!event) fail("candidates: " + event.error().message);
            parse_ms += std::chrono::duration<double, std::milli>(parsed_at - start).count();
            read_ms += std::chrono::duration<double, std::milli>(BenchClock::now() - parsed_at).count();
            candidates = event->candidates.size();
            watch::Round round;
            if (!watch::run_round(core, std::move(*event), broadcaster, round)) fail("round failed");
            double ms = std::chrono::duration<double, std::milli>(BenchClock::now() - start).count();
            if (r < 0) {
                parse_ms = read_ms = 0;
                continue;
            }
            total += ms;
            worst = std::max(worst, ms);
            breaches = broadcaster.sent;
        }
        std::printf("block: 20,000 transactions, %zu of %zu breaches answered, %.2f ms average, %.2f ms worst of %d "
                    "(parse, index, store reads, decisions; after a warm-up round per reader connection)\n",
                    breaches, disputes.size(), total / rounds, worst, rounds);
        std::printf("block: of which parse and txids %.2f ms, index and %zu candidates read from the store %.2f ms, "
                    "decisions %.2f ms\n",
                    parse_ms / rounds, candidates, read_ms / rounds, (total - parse_ms - read_ms) / rounds);
        std::printf("index: %zu locators loaded from the store in %.2f s, %.1f B each in memory\n", index.size(), index_s,
                    static_cast<double>(index.memory_bytes()) / static_cast<double>(index.size()));
    }
    return 0;
}
