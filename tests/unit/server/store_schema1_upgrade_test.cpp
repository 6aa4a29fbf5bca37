// STYLE.md: upgrades from every released schema are tested. The databases
// under tests/data/schema1/ were written by the store code of the release that
// shipped schema 1 (see tests/data/schema1/README.md), not by today's
// migrations; this build opens them, migrates them in place and must read back
// every row. The expected rows are literals here, written from the README's
// table, never read through the code under test.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "common/hex.h"
#include "server/store/migrations.h"
#include "server/store/store.h"
#include "tests/support/run_command.h"
#include "tests/support/temporary_directory.h"
#include "tests/support/temporary_postgres.h"

using namespace argus;
using namespace argus::store;

namespace {

const std::string schema1_dir = std::string(ARGUS_TEST_DATA_DIR) + "/schema1";

template <std::size_t N>
ByteArray<N> hex_array(std::string_view text) {
    return parse_hex_array<N>(text).value();
}

// blob byte i = (seed + i) mod 256, as make_schema1.cpp fills them
Bytes pattern(std::size_t size, std::uint8_t seed) {
    Bytes out(size);
    for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::uint8_t>(seed + i);
    return out;
}

const UserId user_a = hex_array<33>("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
const UserId user_b = hex_array<33>("02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5");
const UserId user_c = hex_array<33>("02f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9");
const Locator teos_locator = hex_array<16>("b4a11e76c7115e2cd79526f3543e6bec");

// rust-teos teos-common/src/cryptography.rs ENC_BLOB.
const Bytes teos_blob = parse_hex(
    "f64d730654738fdbcd9e65068be17bc1abb44e74f8977985cce48e77209cf97292c862e4eb7190aedc6c53ceddda6871a3988d1d9608e2d0"
    "dd7a1f59769e410618a7029001479ac3b9d699b11a08b0ccb04e56bfee88461d9cd3207623a4a543996dd3805323c93cd62069636305aaf1"
    "59e9cca1063ad1f097c16fb3c2ebbcf09be96512c5d7c195c684569cbe8b7979870b04cada9806b7610569c66021afcc63f46dd4af757169"
    "50c4de094334cdf7d9e532820afe29d2621dd79920c7e0ecc10853517dd84ca9d699f712c229e86954c227cba1d0fc87c8d48ac05e2de8a6"
    "bc980afdfafcd7064e411c8d76065c06cc7f233e869eaff5bd8ccb5d8f0090d91a8f017355cc115863356ecf06cdda9b309096ea766d033d"
    "bd4f70a789a5b03138cfc7e2900a79bb465abf07a7ac45c41b4b30c008d4b299aad9d001cf45acd07e47cdd63c3b13d4b0788b041735225b"
    "5db1a43a2142311f695478168e31deb260702976fd70d0724ded84a7c3f89b")
                            .value();

std::vector<UserRecord> expected_users() {
    return {
        {user_a, 9'996, 799'900, 804'220},
        {user_b, 19'999, 799'910, 808'550},
        {user_c, 0, 799'000, 803'320},
    };
}

AppointmentRecord appointment(const UserId& user, const Locator& locator, std::uint32_t to_self_delay,
                              std::uint32_t start_block, Bytes blob, TriggerKind trigger = TriggerKind::txid_locator,
                              PayloadKind payload = PayloadKind::encrypted_penalty) {
    AppointmentRecord a;
    a.user_id = user;
    a.locator = locator;
    a.trigger = trigger;
    a.payload = payload;
    a.to_self_delay = to_self_delay;
    a.start_block = start_block;
    a.blob = std::move(blob);
    return a;
}

std::vector<AppointmentRecord> expected_appointments() {
    return {
        appointment(user_a, teos_locator, 144, 799'901, teos_blob),
        appointment(user_a, hex_array<16>("00000000000000000000000000000001"), 2016, 799'902, pattern(1, 0x10)),
        appointment(user_a, hex_array<16>("ffffffffffffffffffffffffffffffff"), 4'294'967'295u, 799'903, pattern(2049, 0x20)),
        appointment(user_b, teos_locator, 6, 799'911, pattern(2048, 0x30)),
        appointment(user_c, hex_array<16>("0123456789abcdef0123456789abcdef"), 0, 799'500, pattern(300, 0x40),
                    TriggerKind::txid_hint, PayloadKind::encrypted_justice_kit),
    };
}

// Mainnet block 800000, internal byte order.
const ChainPosition expected_position{800'000,
                                      hex_array<32>("54a02827d7a8b75601275a160279a3c5768de4c1c4a702000000000000000000")};

void check_schema1_rows(Store& store, int latest_version) {
    CHECK(store.schema_version().value() == latest_version);

    auto users = store.load_users().value();
    auto by_id = [](const UserRecord& x, const UserRecord& y) { return x.user_id < y.user_id; };
    std::sort(users.begin(), users.end(), by_id);
    auto want_users = expected_users();
    std::sort(want_users.begin(), want_users.end(), by_id);
    CHECK(users == want_users);
    for (const auto& u : want_users) CHECK(store.get_user(u.user_id).value() == u);

    for (const auto& a : expected_appointments()) {
        CAPTURE(to_hex(a.locator));
        CAPTURE(to_hex(a.user_id));
        auto got = store.get_appointment({a.locator, a.user_id}).value();
        REQUIRE(got.has_value());
        CHECK(*got == a);
        CHECK(store.get_blob_size({a.locator, a.user_id}).value() == a.blob.size());
    }
    CHECK(store.find_by_locator(teos_locator).value().size() == 2);
    auto a_locators = store.user_locators(user_a).value();
    std::sort(a_locators.begin(), a_locators.end());
    CHECK(a_locators == std::vector<Locator>{hex_array<16>("00000000000000000000000000000001"), teos_locator,
                                             hex_array<16>("ffffffffffffffffffffffffffffffff")});
    std::size_t visited = 0;
    REQUIRE(store.for_each_locator_prefix([&](std::span<const Locator> batch) { visited += batch.size(); }));
    CHECK(visited == 5);
    auto counts = store.counts().value();
    CHECK(counts.users == 3);
    CHECK(counts.appointments == 5);
    CHECK(store.chain_position().value() == expected_position);
    CHECK(store.load_trackers().value().empty());  // schema 1 had no trackers table
}

// What the upgraded database must still do: take a tracker (schema 2), a new
// user (a fresh surrogate key), and cascade a user's removal.
void check_upgraded_database_is_writable(Store& store) {
    TrackerRecord tracker;
    tracker.locator = teos_locator;
    tracker.user_id = user_a;
    tracker.dispute_txid.bytes[0] = 0xd1;
    tracker.dispute_tx = Bytes(200, 3);
    tracker.penalty_txid.bytes[0] = 0xe1;
    tracker.penalty_tx = Bytes(150, 4);
    tracker.broadcast_height = 800'001;
    tracker.blob_size = static_cast<std::uint32_t>(teos_blob.size());
    WriteBatch block;
    block.put_tracker(tracker);
    block.put_user({hex_array<33>("02e493dbf1c10d80f3581e4904930b1404cc6c13900ee0758474fa94abe8c4cd13"), 10'000,
                    800'001, 804'321});
    block.set_chain_position(ChainPosition{800'001, {}});
    REQUIRE(store.write(block));
    CHECK(store.load_trackers().value() == std::vector<TrackerRecord>{tracker});
    CHECK(store.counts()->users == 4);
    WriteBatch removal;
    removal.remove_user(user_c);
    CHECK(store.write(removal).value().removed.size() == 1);
    CHECK(store.counts()->appointments == 4);
}

}  // namespace

TEST_CASE("store: the released schema-1 SQLite database is upgraded in place, every row intact [sqlite]") {
    test::TemporaryDirectory dir;
    std::string path = dir.path() + "/tower.sqlite";
    std::filesystem::copy_file(schema1_dir + "/tower.sqlite", path);
    int latest = sqlite_migrations().back().version;
    REQUIRE(latest > 1);  // otherwise there is nothing to upgrade
    {
        auto store = open_sqlite_store(path);
        REQUIRE(store);
        check_schema1_rows(**store, latest);
    }
    // Reopened: already at the latest version, nothing re-applied, still intact.
    auto store = open_sqlite_store(path);
    REQUIRE(store);
    check_schema1_rows(**store, latest);
    check_upgraded_database_is_writable(**store);
}

TEST_CASE("store: the released schema-1 PostgreSQL dump is upgraded in place, every row intact [postgres]") {
    auto pg = test::TemporaryPostgres::start();
    std::string psql = test::find_postgres_bin_dir() + "/psql";
    auto loaded = test::run_command(psql + " -X -q -v ON_ERROR_STOP=1 -d '" + pg->connection_string() + "' -f " +
                                    schema1_dir + "/tower.pg.sql");
    INFO(loaded.output);
    REQUIRE(loaded.status == 0);
    int latest = postgres_migrations().back().version;
    REQUIRE(latest > 1);
    {
        auto store = open_postgres_store(pg->connection_string());
        REQUIRE(store);
        check_schema1_rows(**store, latest);
    }
    auto store = open_postgres_store(pg->connection_string());
    REQUIRE(store);
    check_schema1_rows(**store, latest);
    check_upgraded_database_is_writable(**store);
}
