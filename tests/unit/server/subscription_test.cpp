// teos subscription rules (rust-teos teos/src/gatekeeper.rs).
#include <doctest/doctest.h>

#include "server/tower/subscription.h"

using namespace argus;
using namespace argus::tower;

TEST_CASE("subscription: registration, top-up and overflow (rust-teos gatekeeper)") {
    SubscriptionPolicy policy;  // 10,000 slots, 4,320 blocks, delta 6
    store::UserId id{};
    auto fresh = register_user(policy, std::nullopt, id, 500).value();
    CHECK(fresh.available_slots == 10'000);
    CHECK(fresh.subscription_start == 500);
    CHECK(fresh.subscription_expiry == 4'820);
    fresh.available_slots = 3;
    auto topped = register_user(policy, fresh, id, 900).value();
    CHECK(topped.available_slots == 10'003);
    CHECK(topped.subscription_start == 500);    // unchanged
    CHECK(topped.subscription_expiry == 9'140);  // extended from the old expiry
    store::UserRecord full = topped;
    full.available_slots = 0xffffffffu - 9'999;
    CHECK_FALSE(register_user(policy, full, id, 900));
    full.subscription_expiry = 0xfffffff0u;
    full.available_slots = 0;
    CHECK(register_user(policy, full, id, 900)->subscription_expiry == 0xffffffffu);  // saturates
}

TEST_CASE("subscription: expiry, outdated and slot charges") {
    SubscriptionPolicy policy;
    store::UserRecord u{{}, 5, 0, 100};
    CHECK_FALSE(is_expired(u, 99));
    CHECK(is_expired(u, 100));
    CHECK_FALSE(is_outdated(policy, u, 105));
    CHECK(is_outdated(policy, u, 106));
    CHECK(teos::appointment_slots(1) == 1);
    CHECK(teos::appointment_slots(2048) == 1);
    CHECK(teos::appointment_slots(2049) == 2);
    CHECK(slots_after_charge(u, 0, 100).value() == 4);
    CHECK(slots_after_charge(u, 100, 2049).value() == 4);   // 1 -> 2 slots
    CHECK(slots_after_charge(u, 5000, 10).value() == 7);    // 3 -> 1: refund 2
    CHECK(slots_after_charge(u, 0, 6 * 2048).has_value() == false);
    CHECK(slots_after_charge(u, 0, 5 * 2048).value() == 0);
}

TEST_CASE("subscription: a block removes outdated users up to its budget of appointments, always at least one") {
    // Not teos' rule (it removes every outdated user at once): Argus bounds
    // the work per block, so a day's expiry cannot stall ingestion or the watcher.
    using argus::tower::outdated_users_to_remove;
    CHECK(outdated_users_to_remove({}, 20'000) == 0);
    CHECK(outdated_users_to_remove({10'000, 10'000, 10'000}, 20'000) == 2);  // exactly the budget
    CHECK(outdated_users_to_remove({10'000, 10'001}, 20'000) == 1);
    CHECK(outdated_users_to_remove({50'000, 1}, 20'000) == 1);  // one user over the budget still goes, whole
    CHECK(outdated_users_to_remove({0, 0, 20'000, 0, 1}, 20'000) == 4);  // users without appointments cost nothing
    CHECK(outdated_users_to_remove({1, 1, 1}, 0) == 1);
    CHECK(outdated_users_to_remove({~0ULL, 1}, ~0ULL) == 1);  // no overflow
    CHECK(outdated_users_to_remove({5, ~0ULL}, ~0ULL) == 1);
}
