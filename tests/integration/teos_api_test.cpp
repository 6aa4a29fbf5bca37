// The teos API end to end over loopback HTTP, on SQLite and on PostgreSQL.
// Expected codes and messages follow rust-teos (teos/src/api/http.rs,
// teos/src/api/internal.rs, teos-common/src/errors.rs).
#include <doctest/doctest.h>

#include <future>
#include <thread>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "common/hex.h"
#include "common/message_signing.h"
#include "tests/integration/tower_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/teos_user.h"

using namespace argus;
using namespace argus::test;
using json = nlohmann::json;

#define BOTH_BACKENDS(name, function)                        \
    TEST_CASE(name " [sqlite]") { function(Backend::sqlite); } \
    TEST_CASE(name " [postgres]") { function(Backend::postgres); }

namespace {

json ok_json(const HttpResult& r) {
    INFO(r.body);
    REQUIRE(r.status == 200);
    return json::parse(r.body);
}

void check_error(const HttpResult& r, unsigned status, int code, const std::string& message_part = "") {
    INFO(r.body);
    CHECK(r.status == status);
    auto j = json::parse(r.body, nullptr, false);
    REQUIRE(j.is_object());
    CHECK(j["error_code"].get<int>() == code);
    if (!message_part.empty()) CHECK(j["error"].get<std::string>().find(message_part) != std::string::npos);
}

bool signed_by(const PublicKey& tower, ByteSpan message, const std::string& signature) {
    auto signer = recover_message_signer(message, signature);
    return signer && *signer == tower;
}

void full_flow(Backend backend) {
    TowerFixture tower(backend);
    HttpClient http(tower.port());
    TeosUser alice(1);

    auto ping = http.get("/ping");
    CHECK(ping.status == 200);
    CHECK(ping.body.empty());

    auto reg = ok_json(http.post("/register", alice.register_body()));
    CHECK(reg["user_id"] == alice.id_hex());
    CHECK(reg["available_slots"] == 10000);
    CHECK(reg["subscription_start"] == 100);
    CHECK(reg["subscription_expiry"] == 100 + 4320);
    // rust-teos's 2,048-byte add_appointment limit takes no penalty kit: none advertised.
    CHECK_FALSE(reg.contains("argus_penalty_kits"));
    // teos receipt: user_id || slots || start || expiry, signed by the tower.
    CHECK(signed_by(tower.service->tower_id(),
                    teos::registration_receipt_message(alice.id(), 10000, 100, 4420),
                    reg["subscription_signature"].get<std::string>()));

    Locator locator = test_locator(7);
    Bytes blob(300, 0xab);
    std::string user_signature;
    auto added = ok_json(http.post("/add_appointment", alice.add_appointment_body(locator, blob, 144, &user_signature)));
    CHECK(added["locator"] == to_hex(locator));
    CHECK(added["start_block"] == 100);
    CHECK(added["available_slots"] == 9999);
    CHECK(added["subscription_expiry"] == 4420);
    // teos receipt: the user's signature string || start_block, signed by the tower.
    CHECK(signed_by(tower.service->tower_id(), teos::appointment_receipt_message(user_signature, 100),
                    added["signature"].get<std::string>()));

    auto got = ok_json(http.post("/get_appointment", alice.get_appointment_body(locator)));
    CHECK(got["status"] == "being_watched");
    CHECK(got["appointment"]["locator"] == to_hex(locator));
    CHECK(got["appointment"]["encrypted_blob"] == to_hex(blob));
    CHECK(got["appointment"]["to_self_delay"] == 144);

    auto info = ok_json(http.post("/get_subscription_info", alice.get_subscription_info_body()));
    CHECK(info["available_slots"] == 9999);
    CHECK(info["subscription_expiry"] == 4420);
    CHECK(info["locators"] == json::array({to_hex(locator)}));

    // Another user cannot see Alice's appointment.
    TeosUser bob(2);
    ok_json(http.post("/register", bob.register_body()));
    check_error(http.post("/get_appointment", bob.get_appointment_body(locator)), 404, 36, "Appointment not found");

    // Data is durable and reloads: a new service on the same store sees it.
    CHECK(tower.store->get_appointment({locator, alice.id()}).value()->blob == blob);
}
BOTH_BACKENDS("teos API: register, add, get, subscription info; receipts verify with the tower id", full_flow)

void slots(Backend backend) {
    TowerFixtureOptions options;
    options.policy.slots = 10;
    options.limits.add_appointment_body = 20'000;  // room for multi-slot blobs
    TowerFixture tower(backend, options);
    HttpClient http(tower.port());
    TeosUser alice(3);
    ok_json(http.post("/register", alice.register_body()));
    Locator l = test_locator(1);

    // ceil(len / 2048) slots; an update pays only the difference.
    CHECK(ok_json(http.post("/add_appointment", alice.add_appointment_body(l, Bytes(2048, 1), 1)))["available_slots"] == 9);
    CHECK(ok_json(http.post("/add_appointment", alice.add_appointment_body(l, Bytes(2049, 1), 1)))["available_slots"] == 8);
    CHECK(ok_json(http.post("/add_appointment", alice.add_appointment_body(l, Bytes(6000, 1), 1)))["available_slots"] == 7);
    CHECK(ok_json(http.post("/add_appointment", alice.add_appointment_body(l, Bytes(10, 1), 1)))["available_slots"] == 9);
    CHECK(tower.store->get_blob_size({l, alice.id()}).value().value() == 10);
    for (std::uint32_t i = 2; i <= 10; ++i) {
        ok_json(http.post("/add_appointment", alice.add_appointment_body(test_locator(i), Bytes(100, 2), 1)));
    }
    check_error(http.post("/add_appointment", alice.add_appointment_body(test_locator(11), Bytes(100, 2), 1)), 401, 7,
                "does not have enough slots");
    CHECK(tower.store->counts()->appointments == 10);

    // Re-registering adds slots and extends expiry from the old expiry.
    tower.height = 150;
    auto again = ok_json(http.post("/register", alice.register_body()));
    CHECK(again["available_slots"] == 10);
    CHECK(again["subscription_start"] == 100);
    CHECK(again["subscription_expiry"] == 100 + 2 * 4320);
    CHECK(tower.store->get_user(alice.id()).value()->available_slots == 10);
}
BOTH_BACKENDS("teos API: slot accounting, updates charge the difference, top-up", slots)

void slot_overflow(Backend backend) {
    TowerFixtureOptions options;
    options.policy.slots = 3'000'000'000u;
    TowerFixture tower(backend, options);
    HttpClient http(tower.port());
    TeosUser alice(4);
    ok_json(http.post("/register", alice.register_body()));
    check_error(http.post("/register", alice.register_body()), 400, 65, "Subscription maximum slots count reached");
    // The failed top-up changed nothing.
    CHECK(tower.store->get_user(alice.id()).value()->available_slots == 3'000'000'000u);
}
BOTH_BACKENDS("teos API: registration at the slot cap fails with code 65", slot_overflow)

void expiry(Backend backend) {
    TowerFixtureOptions options;
    options.policy.duration = 10;
    options.policy.expiry_delta = 6;
    TowerFixture tower(backend, options);
    HttpClient http(tower.port());
    TeosUser alice(5);
    ok_json(http.post("/register", alice.register_body()));  // expiry 110
    Locator l = test_locator(3);
    ok_json(http.post("/add_appointment", alice.add_appointment_body(l, Bytes(50, 1), 1)));

    tower.height = 109;
    ok_json(http.post("/get_subscription_info", alice.get_subscription_info_body()));
    tower.height = 110;  // height >= expiry: expired
    check_error(http.post("/add_appointment", alice.add_appointment_body(test_locator(4), Bytes(50, 1), 1)), 401, 7,
                "Your subscription expired at 110");
    check_error(http.post("/get_appointment", alice.get_appointment_body(l)), 401, 7, "expired at 110");
    check_error(http.post("/get_subscription_info", alice.get_subscription_info_body()), 401, 7, "expired at 110");

    // Outdated at expiry + delta: the user and its data are removed.
    CHECK(tower.service->remove_outdated_users(115).value() == 0);
    CHECK(tower.service->remove_outdated_users(116).value() == 1);
    CHECK_FALSE(tower.store->get_user(alice.id()).value().has_value());
    CHECK(tower.store->counts()->appointments == 0);
    CHECK_FALSE(tower.index.maybe_contains(l));
    check_error(http.post("/get_subscription_info", alice.get_subscription_info_body()), 401, 7, "User not found");
}
BOTH_BACKENDS("teos API: expired users get code 7, outdated users are removed", expiry)

void expiry_budget(Backend backend) {
    // Three users outdated at one height, a budget of 3 appointments a block:
    // the block takes users in order while they fit (always the first), the
    // next blocks take the rest; nothing of a user is removed in part.
    TowerFixtureOptions options;
    options.policy.duration = 10;
    options.policy.expiry_delta = 6;
    options.policy.removals_per_block = 3;
    TowerFixture tower(backend, options);
    HttpClient http(tower.port());
    std::vector<TeosUser> users;
    for (std::uint8_t k = 1; k <= 3; ++k) users.emplace_back(static_cast<std::uint8_t>(20 + k));
    for (std::size_t u = 0; u < users.size(); ++u) {
        ok_json(http.post("/register", users[u].register_body()));  // expiry 110
        for (std::uint8_t i = 0; i < 2; ++i) {
            Locator l = test_locator(static_cast<std::uint8_t>(u * 10 + i + 1));
            ok_json(http.post("/add_appointment", users[u].add_appointment_body(l, Bytes(50, 1), 1)));
        }
    }
    REQUIRE(tower.store->counts()->appointments == 6);
    CHECK(tower.service->remove_outdated_users(116).value() == 1);  // 2 fit, 2 more would not
    CHECK(tower.store->counts()->appointments == 4);
    CHECK(tower.service->remove_outdated_users(117).value() == 1);
    CHECK(tower.store->counts()->appointments == 2);
    CHECK(tower.service->remove_outdated_users(118).value() == 1);
    CHECK(tower.store->counts()->appointments == 0);
    CHECK(tower.store->counts()->users == 0);
    CHECK(tower.service->remove_outdated_users(119).value() == 0);
    for (std::size_t u = 0; u < users.size(); ++u) {
        CHECK_FALSE(tower.index.maybe_contains(test_locator(static_cast<std::uint8_t>(u * 10 + 1))));
    }
}
BOTH_BACKENDS("teos API: outdated users are removed over several blocks within the per-block budget", expiry_budget)

// The backend of a removal waiting for a row lock (pg_stat_activity), or 0.
int waiting_backend(pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    auto r = tx.exec("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE%'");
    return r.empty() ? 0 : r[0][0].as<int>();
}

int wait_for_waiting_backend(pqxx::connection& c) {
    for (int i = 0; i < 1000; ++i) {
        if (int pid = waiting_backend(c)) return pid;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return 0;
}

// Runs `request` on a thread of its own: answered within 10 s, or nullopt.
std::optional<HttpResult> answered_soon(std::function<HttpResult()> request) {
    auto future = std::async(std::launch::async, std::move(request));
    if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
        // Still held up: leave it to finish once the lock goes (the fixture outlives it).
        std::thread([f = std::move(future)]() mutable { f.wait(); }).detach();
        return std::nullopt;
    }
    return future.get();
}

TEST_CASE("teos API [postgres]: an expiry removal runs beside the group commit: others' writes go on, the user cannot come back meanwhile, a failed removal gives the user back") {
    TowerFixtureOptions options;
    options.policy.duration = 10;
    options.policy.expiry_delta = 6;
    TowerFixture tower(Backend::postgres, options);
    REQUIRE(tower.store->writes_apart());
    HttpClient http(tower.port());
    TeosUser alice(31);
    TeosUser carol(33);
    ok_json(http.post("/register", alice.register_body()));  // expiry 110, outdated at 116
    ok_json(http.post("/register", carol.register_body()));
    for (std::uint8_t i = 1; i <= 2; ++i) {
        ok_json(http.post("/add_appointment", alice.add_appointment_body(test_locator(i), Bytes(50, 1), 1)));
    }
    ok_json(http.post("/add_appointment", carol.add_appointment_body(test_locator(9), Bytes(50, 1), 1)));
    tower.height = 112;
    TeosUser bob(32);  // registered later: expiry 122, outdated at 128
    ok_json(http.post("/register", bob.register_body()));

    pqxx::connection blocker(tower.postgres->connection_string());
    pqxx::connection observer(tower.postgres->connection_string());
    // Locks Alice's row (FOR KEY SHARE, as an appointment insert would) in
    // `hold`, starts the block-116 expiry in `removal`, and returns the
    // removal's backend once it waits for that lock (0: it never did).
    // Callers declare `removal` before `hold`, so a failing check ends the
    // lock before the removal is waited for.
    auto hold_and_remove = [&](std::future<Result<std::size_t>>& removal, std::unique_ptr<pqxx::work>& hold) {
        hold = std::make_unique<pqxx::work>(blocker);
        hold->exec("SELECT 1 FROM users WHERE user_id = '\\x" + alice.id_hex() + "'::bytea FOR KEY SHARE");
        tower.height = 116;
        removal = std::async(std::launch::async, [&] { return tower.service->remove_outdated_users(116); });
        return wait_for_waiting_backend(observer);
    };

    SUBCASE("a removal held up by a row lock does not hold up other users' writes") {
        // Alice's row is locked; Carol is removed in the same transaction.
        std::future<Result<std::size_t>> removal;
        std::unique_ptr<pqxx::work> hold;
        REQUIRE(hold_and_remove(removal, hold) != 0);

        // Through the group commit while the removal waits: with the removal
        // inside the group commit, these would wait for the lock too.
        auto added = answered_soon([&] {
            return HttpClient(tower.port()).post("/add_appointment", bob.add_appointment_body(test_locator(20), Bytes(50, 2), 1));
        });
        REQUIRE(added.has_value());
        CHECK(added->status == 200);
        // Alice cannot register again before her old data is gone.
        auto again = answered_soon([&] { return HttpClient(tower.port()).post("/register", alice.register_body()); });
        REQUIRE(again.has_value());
        check_error(*again, 503, 32, "unavailable");
        CHECK(tower.store->get_user(alice.id()).value().has_value());  // not removed yet

        hold->commit();
        auto removed = removal.get();
        REQUIRE(removed);
        CHECK(*removed == 2);
        CHECK_FALSE(tower.store->get_user(alice.id()).value().has_value());
        CHECK_FALSE(tower.store->get_user(carol.id()).value().has_value());
        CHECK(tower.store->counts()->appointments == 1);  // Bob's
        CHECK_FALSE(tower.index.maybe_contains(test_locator(1)));
        CHECK_FALSE(tower.index.maybe_contains(test_locator(9)));
        CHECK(tower.index.maybe_contains(test_locator(20)));
        // Now she registers anew, with none of her old appointments.
        auto fresh = ok_json(http.post("/register", alice.register_body()));
        CHECK(fresh["subscription_start"] == 116);
        CHECK(tower.store->user_locators(alice.id()).value().empty());
    }

    SUBCASE("a removal that fails gives the users back, and the next block removes them") {
        std::future<Result<std::size_t>> removal;
        std::unique_ptr<pqxx::work> hold;
        int pid = hold_and_remove(removal, hold);
        REQUIRE(pid != 0);
        pqxx::nontransaction(observer).exec("SELECT pg_terminate_backend(" + std::to_string(pid) + ")");
        auto removed = removal.get();
        CHECK_FALSE(removed);
        hold->commit();
        // Back in memory as in the store: expired (code 7 with its expiry), not unknown.
        CHECK(tower.store->get_user(alice.id()).value().has_value());
        CHECK(tower.service->get_user(alice.id()).has_value());
        CHECK(tower.service->get_user(carol.id()).has_value());
        check_error(http.post("/get_subscription_info", alice.get_subscription_info_body()), 401, 7, "expired at 110");
        CHECK(tower.index.maybe_contains(test_locator(1)));
        // The tower serves others meanwhile and after.
        CHECK(http.post("/add_appointment", bob.add_appointment_body(test_locator(21), Bytes(50, 2), 1)).status == 200);
        auto next = tower.service->remove_outdated_users(117);
        REQUIRE(next);
        CHECK(*next == 2);
        CHECK_FALSE(tower.store->get_user(alice.id()).value().has_value());
        CHECK(tower.store->counts()->appointments == 1);
    }
}

void bad_bodies(Backend backend) {
    TowerFixture tower(backend);
    HttpClient http(tower.port());
    TeosUser alice(6);
    ok_json(http.post("/register", alice.register_body()));
    std::string sig = json::parse(alice.get_subscription_info_body())["signature"];
    std::string l = to_hex(test_locator(1));
    struct Case {
        const char* path;
        std::string body;
        unsigned status;
        int code;
        const char* message;
    };
    const Case cases[] = {
        {"/register", "{}", 400, 1, "missing field `user_id`"},
        {"/register", R"({"user_id":""})", 400, 2, "`user_id` field is empty"},
        {"/register", R"({"user_id":42})", 400, 3, "invalid type"},
        {"/register", R"({"user_id":"0011"})", 400, 4, "Expected 33, received 2"},
        {"/register", R"({"user_id":"zz"})", 400, 5, "Invalid character"},
        {"/register", R"({"user_id":"abc"})", 400, 5, "Odd number of digits"},
        {"/register", R"({"user_id":"040000000000000000000000000000000000000000000000000000000000000000"})", 400, 5,
         "33-byte compressed key"},
        {"/register", R"({"user_id":)", 400, 6, ""},
        {"/register", "[]", 400, 3, ""},
        {"/add_appointment", R"({"signature":"x"})", 400, 1, "missing field `appointment`"},
        {"/add_appointment", R"({"appointment":{"encrypted_blob":"00","to_self_delay":1},"signature":"x"})", 400, 1,
         "missing field `locator`"},
        {"/add_appointment", R"({"appointment":{"locator":"","encrypted_blob":"00","to_self_delay":1},"signature":"x"})",
         400, 2, "`locator` field is empty"},
        {"/add_appointment", R"({"appointment":{"locator":"0011","encrypted_blob":"00","to_self_delay":1},"signature":"x"})",
         400, 4, "Expected 16, received 2"},
        {"/add_appointment", R"({"appointment":{"locator":")" + l + R"(","encrypted_blob":"0g","to_self_delay":1},"signature":"x"})",
         400, 5, "Invalid character"},
        {"/add_appointment", R"({"appointment":{"locator":")" + l + R"(","encrypted_blob":"00","to_self_delay":"1"},"signature":"x"})",
         400, 3, "expected u32"},
        {"/add_appointment", R"({"appointment":{"locator":")" + l + R"(","encrypted_blob":"00","to_self_delay":-1},"signature":"x"})",
         400, 6, "expected u32"},
        {"/add_appointment", R"({"appointment":{"locator":")" + l + R"(","encrypted_blob":"00","to_self_delay":4294967296},"signature":"x"})",
         400, 6, "expected u32"},
        {"/add_appointment", R"({"appointment":{"locator":")" + l + R"(","encrypted_blob":"00","to_self_delay":1},"signature":""})",
         400, 2, "`signature` field is empty"},
        {"/add_appointment", R"({"appointment":{"locator":")" + l + R"(","encrypted_blob":"00","to_self_delay":1},"signature":"notzbase32!"})",
         401, 7, "Invalid signature"},
        {"/add_appointment", R"({"appointment":[],"signature":"x"})", 400, 3, ""},
        {"/get_appointment", R"({"signature":")" + sig + R"("})", 400, 1, "missing field `locator`"},
        {"/get_appointment", R"({"locator":")" + l + R"(","signature":")" + sig + R"("})", 401, 7,
         "User cannot be authenticated"},
        {"/get_subscription_info", "{}", 400, 1, "missing field `signature`"},
        {"/get_subscription_info", R"({"signature":1})", 400, 3, ""},
        {"/get_subscription_info", R"({"signature":")" + std::string(104, 'y') + R"("})", 401, 7, "User not found"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.path);
        CAPTURE(c.body);
        check_error(http.post(c.path, c.body), c.status, c.code, c.message);
    }
    // A signature by a key that never registered.
    TeosUser stranger(7);
    check_error(http.post("/add_appointment", stranger.add_appointment_body(test_locator(2), Bytes(10, 1), 1)), 401, 7);
    // Nothing was stored by any of it.
    CHECK(tower.store->counts()->appointments == 0);
}
BOTH_BACKENDS("teos API: every bad-body class gets rust-teos's error code", bad_bodies)

void triggered_and_unavailable(Backend backend) {
    Locator triggered = test_locator(99);
    TowerFixtureOptions options;
    options.hooks.tracker_for = [triggered](const Locator& l, const store::UserId&) -> std::optional<tower::TrackerView> {
        if (l != triggered) return std::nullopt;
        tower::TrackerView t;
        t.dispute_txid.bytes[0] = 0x01;  // internal order; shown reversed
        t.penalty_txid.bytes[0] = 0x02;
        t.penalty_rawtx = {0xde, 0xad};
        return t;
    };
    TowerFixture tower(backend, options);
    HttpClient http(tower.port());
    TeosUser alice(8);
    ok_json(http.post("/register", alice.register_body()));
    check_error(http.post("/add_appointment", alice.add_appointment_body(triggered, Bytes(10, 1), 1)), 400, 35,
                "already been triggered");
    auto responded = ok_json(http.post("/get_appointment", alice.get_appointment_body(triggered)));
    CHECK(responded["status"] == "dispute_responded");
    CHECK(responded["appointment"]["dispute_txid"] == std::string(62, '0') + "01");
    CHECK(responded["appointment"]["penalty_txid"] == std::string(62, '0') + "02");
    CHECK(responded["appointment"]["penalty_rawtx"] == "dead");

    tower.reachable = false;  // bitcoind gone: code 32, HTTP 503
    check_error(http.post("/register", alice.register_body()), 503, 32, "Service currently unavailable");
    check_error(http.post("/add_appointment", alice.add_appointment_body(test_locator(1), Bytes(10, 1), 1)), 503, 32);
    check_error(http.post("/get_subscription_info", alice.get_subscription_info_body()), 503, 32);
    tower.reachable = true;
    ok_json(http.post("/get_subscription_info", alice.get_subscription_info_body()));
}
BOTH_BACKENDS("teos API: triggered appointments (35, dispute_responded) and bitcoind unreachable (32)", triggered_and_unavailable)

}  // namespace

TEST_CASE("teos API: store outage answers 503 and recovers without losing state [postgres]") {
    TowerFixture tower(Backend::postgres);
    HttpClient http(tower.port());
    TeosUser alice(9);
    ok_json(http.post("/register", alice.register_body()));
    ok_json(http.post("/add_appointment", alice.add_appointment_body(test_locator(1), Bytes(10, 1), 1)));
    tower.postgres->stop();
    check_error(http.post("/add_appointment", alice.add_appointment_body(test_locator(2), Bytes(10, 1), 1)), 503, 32);
    tower.postgres->restart();
    // The first write after the restart may still meet the dead connection.
    HttpResult r;
    for (int i = 0; i < 5 && r.status != 200; ++i) {
        r = http.post("/add_appointment", alice.add_appointment_body(test_locator(3), Bytes(10, 1), 1));
    }
    CHECK(r.status == 200);
    auto info = ok_json(http.post("/get_subscription_info", alice.get_subscription_info_body()));
    // Exactly the acknowledged appointments, and slots that match them.
    CHECK(info["locators"].size() == 2);
    CHECK(info["available_slots"] == 9998);
}
