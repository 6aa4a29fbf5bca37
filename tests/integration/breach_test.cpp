// End to end: breaches punished by a real argus-tower process following
// argus-chain-sim over RPC and ZMQ (issue #4 scenarios). The simulator does
// not verify scripts; the transactions are nevertheless properly signed.
#include <doctest/doctest.h>

#include "tests/integration/breach_world.h"

using namespace argus;
using namespace argus::test;

TEST_CASE("e2e: a breach in a live block is punished, confirmed, resolved and refunded") {
    BreachWorld world;
    Transaction dispute = world.make_dispute();
    Transaction penalty = world.make_penalty(dispute);
    REQUIRE(world.add_appointment(dispute, penalty).status == 200);
    CHECK(world.get_appointment(dispute)["status"] == "being_watched");

    world.send(dispute);
    world.mine(1);
    REQUIRE(wait_until([&] { return world.in_mempool(penalty.txid()); }));
    // The tracker becomes visible once its block's effects are committed.
    REQUIRE(wait_until([&] { return world.get_appointment(dispute)["status"] == "dispute_responded"; }));
    auto responded = world.get_appointment(dispute);
    CHECK(responded["status"] == "dispute_responded");
    CHECK(responded["appointment"]["dispute_txid"] == dispute.txid().to_display_hex());
    CHECK(responded["appointment"]["penalty_txid"] == penalty.txid().to_display_hex());
    CHECK(responded["appointment"]["penalty_rawtx"] == to_hex(penalty.serialize()));
    // The operator sees it too.
    auto listed = world.admin_get("/appointments/" + to_hex(teos::locator(dispute.txid())));
    CHECK(listed[0]["status"] == "dispute_responded");
    CHECK(listed[0]["penalty_txid"] == penalty.txid().to_display_hex());
    // A second copy of the same appointment is refused: already triggered (35).
    CHECK(world.add_appointment(dispute, penalty).status == 400);

    world.mine(1);
    CHECK(world.confirmations(penalty.txid()) == 1);
    REQUIRE(wait_until([&] { return world.tower_at_tip(); }));
    CHECK(world.admin_info()["trackers"] == 1);
    // --resolve-depth 3: resolved at 3 confirmations, slot refunded, data gone.
    world.mine(2);
    REQUIRE(wait_until([&] { return world.admin_info()["trackers"] == 0; }));
    auto info = world.api().post("/get_subscription_info", world.user.get_subscription_info_body());
    CHECK(json::parse(info.body)["available_slots"] == 10000);
    CHECK(world.get_appointment(dispute)["http_status"] == 404);
}

TEST_CASE("e2e: a breach while the tower was down is punished when it catches up") {
    BreachWorld world;
    Transaction dispute = world.make_dispute();
    Transaction penalty = world.make_penalty(dispute);
    REQUIRE(world.add_appointment(dispute, penalty).status == 200);
    world.kill_tower();
    world.send(dispute);
    world.mine(3);
    world.start_tower();  // catches up every missed block before serving
    CHECK(world.tower_at_tip());
    REQUIRE(wait_until([&] { return world.in_mempool(penalty.txid()); }));
    CHECK(wait_until([&] { return world.get_appointment(dispute)["status"] == "dispute_responded"; }));
}

TEST_CASE("e2e: the breach block is reorged out and replaced by a branch without the breach") {
    BreachWorld world;
    Transaction dispute = world.make_dispute();
    Transaction penalty = world.make_penalty(dispute);
    REQUIRE(world.add_appointment(dispute, penalty).status == 200);
    world.send(dispute);
    world.mine(1);
    REQUIRE(wait_until([&] { return world.in_mempool(penalty.txid()); }));
    // The new branch spends the dispute's input elsewhere: the breach never happened.
    Transaction conflict = world.make_conflict(dispute);
    world.reorg(1, 2, {conflict});
    REQUIRE(wait_until([&] { return world.tower_at_tip() && world.admin_info()["trackers"] == 0; }));
    CHECK(world.get_appointment(dispute)["status"] == "being_watched");  // watched again
    CHECK_FALSE(world.in_mempool(penalty.txid()));
    // The tracker was dropped by the reorg, not resolved: one penalty sent, one
    // response undone, one block disconnected.
    CHECK(world.metric_reaches("argus_breaches_reorged_out_total", 1));
    CHECK(world.metric_reaches("argus_blocks_disconnected_total", 1));
    CHECK(world.metric("argus_penalties_broadcast_total") == 1);
    CHECK(world.metric("argus_penalties_confirmed_total") == 0);
}

TEST_CASE("e2e: the breach block is reorged out and the breach is mined again in the new branch") {
    BreachWorld world;
    Transaction dispute = world.make_dispute();
    Transaction penalty = world.make_penalty(dispute);
    REQUIRE(world.add_appointment(dispute, penalty).status == 200);
    world.send(dispute);
    world.mine(1);
    REQUIRE(wait_until([&] { return world.in_mempool(penalty.txid()); }));
    world.mine(1);  // penalty confirmed in the old branch
    REQUIRE(wait_until([&] { return world.tower_at_tip(); }));
    // Replace both blocks; the dispute is mined again in the first new block.
    world.reorg(2, 3, {dispute});
    REQUIRE(wait_until([&] { return world.tower_at_tip(); }));
    // The simulator returns disconnected transactions to its mempool by itself, so
    // the mempool alone proves nothing: the tower must have dropped the tracker
    // with the breach block and punished the breach again in the new branch.
    REQUIRE(world.metric_reaches("argus_penalties_broadcast_total", 2));
    CHECK(world.metric_reaches("argus_breaches_reorged_out_total", 1));
    CHECK(world.metric("argus_breaches_detected_total") == 2);
    CHECK(world.metric("argus_blocks_disconnected_total") == 2);
    REQUIRE(wait_until([&] { return world.in_mempool(penalty.txid()) || world.confirmations(penalty.txid()) > 0; }));
    CHECK(wait_until([&] { return world.get_appointment(dispute)["status"] == "dispute_responded"; }));
    world.mine(1);
    CHECK(world.confirmations(penalty.txid()) >= 1);
}

TEST_CASE("e2e: a breach is punished although its ZMQ notification was dropped") {
    BreachWorld world({.tower_args = {"--chain-poll-ms", "600000"}, .postgres = ""});  // only ZMQ can wake it
    Transaction dispute = world.make_dispute();
    Transaction penalty = world.make_penalty(dispute);
    REQUIRE(world.add_appointment(dispute, penalty).status == 200);
    world.mine(1);  // a first notification gives the subscriber its sequence baseline
    REQUIRE(wait_until([&] { return world.tower_at_tip(); }));
    // Let the subscriber's one-off reconcile after joining pass: from now on
    // only a ZMQ message (or the 10-minute poll) wakes the tower.
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    world.drop_zmq(true);
    world.send(dispute);
    world.mine(1);  // its notification is lost
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK_FALSE(world.in_mempool(penalty.txid()));
    world.drop_zmq(false);
    world.mine(1);  // the next notification shows a gap; RPC reconciliation finds both blocks
    REQUIRE(wait_until([&] { return world.in_mempool(penalty.txid()) || world.confirmations(penalty.txid()) > 0; }));
    // The gap was seen (not merely recovered from by polling).
    CHECK(wait_until([&] { return world.metric("argus_zmq_gaps_total").value_or(0) >= 1; }));
}

TEST_CASE("e2e: a penalty bitcoind rejects drops the appointment, as rust-teos does") {
    BreachWorld world;
    Transaction dispute = world.make_dispute();
    Transaction bogus = world.make_penalty(dispute);
    bogus.inputs[0].prevout.txid.bytes[0] ^= 0xff;  // spends an output that does not exist (-25)
    REQUIRE(world.add_appointment(dispute, bogus).status == 200);
    world.send(dispute);
    world.mine(1);
    REQUIRE(wait_until([&] { return world.tower_at_tip(); }));
    CHECK(world.get_appointment(dispute)["http_status"] == 404);
    CHECK(world.admin_info()["trackers"] == 0);
    CHECK(world.metric_reaches("argus_penalties_rejected_total", 1));
    CHECK(world.metric("argus_breaches_detected_total") == 1);
    CHECK(world.metric("argus_penalties_broadcast_total") == 0);
}

// Issue #14.6: a fee spike. The dispute pays ~90 sat/vB, its penalty ~45;
// the mempool takes >= 60 sat/vB. rust-teos would drop the appointment.
TEST_CASE("e2e: a penalty the mempool refuses for its fee waits, is retried every block, and is mined when fees fall") {
    BreachWorld world;
    Transaction dispute = world.make_dispute();
    Transaction penalty = world.make_penalty(dispute);
    REQUIRE(world.add_appointment(dispute, penalty).status == 200);
    world.set_min_fee(60'000);  // sat per 1000 vB
    world.send(dispute);
    world.mine(1);
    REQUIRE(world.metric_reaches("argus_penalties_waiting_for_fee", 1));
    CHECK(world.metric("argus_penalties_refused_for_fee_total") == 1);
    CHECK(world.metric("argus_penalties_rejected_total") == 0);
    CHECK_FALSE(world.in_mempool(penalty.txid()));
    auto listed = world.admin_get("/appointments/" + to_hex(teos::locator(dispute.txid())));
    REQUIRE(listed.size() == 1);
    CHECK(listed[0]["status"] == "penalty_waiting_for_fee");
    CHECK(listed[0]["retried_until_height"].get<std::uint32_t>() == world.chain_height() + 144);
    world.mine(2);  // still too expensive: kept
    REQUIRE(wait_until([&] { return world.tower_at_tip(); }));
    CHECK(world.metric("argus_penalties_waiting_for_fee") == 1);
    CHECK_FALSE(world.in_mempool(penalty.txid()));
    // The tower restarts while waiting: the wait survives.
    world.kill_tower();
    world.start_tower();
    world.set_min_fee(1'000);  // fees fall
    world.mine(1);
    REQUIRE(wait_until([&] { return world.in_mempool(penalty.txid()); }));
    world.mine(1);
    CHECK(world.confirmations(penalty.txid()) == 1);
    CHECK(world.metric_reaches("argus_penalties_waiting_for_fee", 0));
    CHECK(world.metric("argus_penalties_abandoned_total") == 0);
    CHECK(world.get_appointment(dispute)["status"] == "dispute_responded");
}

TEST_CASE("e2e: an appointment arriving right after its breach block triggers at once") {
    BreachWorld world;
    Transaction dispute = world.make_dispute();
    Transaction penalty = world.make_penalty(dispute);
    world.send(dispute);
    world.mine(1);
    REQUIRE(wait_until([&] { return world.tower_at_tip(); }));
    REQUIRE(world.add_appointment(dispute, penalty).status == 200);
    REQUIRE(wait_until([&] { return world.in_mempool(penalty.txid()); }));
    CHECK(wait_until([&] { return world.get_appointment(dispute)["status"] == "dispute_responded"; }));
}

TEST_CASE("e2e: bitcoind killed and restarted: code 32 meanwhile, no block missed after") {
    BreachWorld world({.tower_args = {"--chain-poll-ms", "200"}, .postgres = ""});
    Transaction dispute = world.make_dispute();
    Transaction penalty = world.make_penalty(dispute);
    REQUIRE(world.add_appointment(dispute, penalty).status == 200);
    world.kill_chain();
    REQUIRE(wait_until([&] {
        return world.api().post("/get_subscription_info", world.user.get_subscription_info_body()).status == 503;
    }));
    auto down = world.api().post("/get_subscription_info", world.user.get_subscription_info_body());
    CHECK(json::parse(down.body)["error_code"] == 32);
    world.start_chain();  // same blocks (state file), empty mempool, same ports
    world.send(dispute);
    world.mine(2);
    REQUIRE(wait_until([&] { return world.in_mempool(penalty.txid()); }, std::chrono::seconds(40)));
    CHECK(world.api().post("/get_subscription_info", world.user.get_subscription_info_body()).status == 200);
}

TEST_CASE("e2e: a breach on PostgreSQL, surviving a tower restart mid-response") {
    auto pg = TemporaryPostgres::start();
    BreachWorld world({.tower_args = {}, .postgres = pg->connection_string()});
    Transaction dispute = world.make_dispute();
    Transaction penalty = world.make_penalty(dispute);
    REQUIRE(world.add_appointment(dispute, penalty).status == 200);
    world.send(dispute);
    world.mine(1);
    REQUIRE(wait_until([&] { return world.in_mempool(penalty.txid()); }));
    world.kill_tower();
    world.start_tower();
    CHECK(wait_until([&] { return world.get_appointment(dispute)["status"] == "dispute_responded"; }));  // tracker persisted
    world.mine(3);
    REQUIRE(wait_until([&] { return world.admin_info()["trackers"] == 0; }));
    CHECK(world.confirmations(penalty.txid()) == 3);
}
