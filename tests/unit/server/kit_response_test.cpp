// The tower's per-output response to a penalty kit (server/watch/kit_response.h),
// on BOLT 3 Appendix C's revoked commitment with five HTLCs: the kit built by
// the client engine, the cheater's transactions taken from the appendix
// (tests/vectors/bolt3_commitments.json: commit_tx and htlc_txs).
#include <doctest/doctest.h>

#include <set>

#include "common/hex.h"
#include "common/script.h"
#include "server/watch/kit_response.h"
#include "tests/unit/client/appendix_c_alice.h"

using namespace argus;
using namespace argus::watch;
using namespace argus::test;

namespace {

struct Breach {
    kit::PenaltyKit kit;
    Transaction commitment;
    std::vector<Transaction> htlc_txs;  // the appendix's HTLC-success/timeout transactions
};

Breach appendix_c_breach() {
    auto json = load_vectors("bolt3_commitments.json");
    const auto& v = json["appendix_c"][1];
    auto spec = appendix_c_channel(false);
    client::Channel alice = appendix_c_alice(false);
    client::ChannelConfig config = alice.config();
    config.dust_limit_satoshis = v["dust_limit_satoshis"].get<std::int64_t>();
    client::Channel channel(config, alice.local(), alice.remote());
    REQUIRE(channel.receive_revocation(
        42, hex_array<32>("1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100"),
        vector_pubkey("025f7117a78150fe2ef97db7cfc83bd57b2e2c0d0dd25eaf467a4a1c2a45ce1486")));
    client::KitPolicy policy;
    policy.rungs = 8;
    auto built = channel.penalty_kit(alice_view(v, spec), p2wpkh_script(secret_of('4').public_key()), policy);
    REQUIRE(built);
    Breach b{built->kit, parse_transaction(hex_bytes(v["commit_tx"])).value(), {}};
    for (const auto& h : v["htlc_txs"]) b.htlc_txs.push_back(parse_transaction(hex_bytes(h["tx"])).value());
    return b;
}

std::size_t part_of(const KitResponse& r, kit::PartKind kind, std::uint16_t vout = 0) {
    for (std::size_t i = 0; i < r.kit().parts.size(); ++i) {
        if (r.kit().parts[i].kind == kind && (kind == kit::PartKind::to_local || r.kit().parts[i].vout == vout)) return i;
    }
    FAIL("no such part");
    return 0;
}

chain::BroadcastResult accepted() { return {chain::BroadcastResult::Kind::accepted, 0, ""}; }
chain::BroadcastResult fee_refused() { return {chain::BroadcastResult::Kind::fee_too_low, -26, "mempool min fee not met"}; }

Block block_of(std::vector<Transaction> txs) {
    Block b;
    Transaction coinbase;
    coinbase.inputs.push_back(TxIn{});
    coinbase.outputs.push_back({0, Bytes{0x51}});
    b.transactions.push_back(coinbase);
    for (auto& tx : txs) b.transactions.push_back(std::move(tx));
    return b;
}

}  // namespace

TEST_CASE("kit response: every output of the breach gets its own penalty at the lowest rung, second stages wait") {
    Breach b = appendix_c_breach();
    // Mined at 400, before the HTLCs' expiries (500..506).
    KitResponse r = KitResponse::start(b.kit, b.commitment, 400);
    std::size_t live = 0, waiting = 0;
    for (const auto& s : r.parts()) {
        live += s.status == PartStatus::live;
        waiting += s.status == PartStatus::waiting;
    }
    CHECK(live == 6);
    CHECK(waiting == 5);
    KitStep step = r.decide(400, FeeSnapshot{});
    REQUIRE(step.broadcasts.size() == 6);
    std::set<OutPoint> spent;
    for (const auto& rb : step.broadcasts) {
        CHECK(rb.rung == 0);
        REQUIRE(rb.transaction.inputs.size() == 1);
        CHECK(rb.transaction.inputs[0].prevout.txid == b.commitment.txid());
        CHECK(rb.transaction.inputs[0].sequence == 0xfffffffd);
        spent.insert(rb.transaction.inputs[0].prevout);
    }
    CHECK(spent.size() == 6);  // independent: no two spend the same output
    // The deadline of to_local: to_self_delay (144) after the breach.
    CHECK(r.deadline(part_of(r, kit::PartKind::to_local)) == 544);
    // HTLC outputs: their cltv_expiry (Appendix C: 500..506).
    for (std::size_t i = 0; i < r.kit().parts.size(); ++i) {
        if (r.kit().parts[i].kind == kit::PartKind::offered_htlc || r.kit().parts[i].kind == kit::PartKind::received_htlc) {
            CHECK(r.deadline(i) >= 500);
            CHECK(r.deadline(i) <= 506);
        }
    }
    // Past an HTLC's expiry its penalty goes out at the top rung, flagged.
    KitResponse late = KitResponse::start(b.kit, b.commitment, 1000);
    step = late.decide(1000, FeeSnapshot{});
    CHECK(step.parts_past_deadline == 5);
    for (const auto& rb : step.broadcasts) {
        bool htlc = late.kit().parts[rb.part].kind != kit::PartKind::to_local;
        CHECK(rb.rung == (htlc ? late.kit().parts[rb.part].rungs.size() - 1 : 0));
    }
}

TEST_CASE("kit response: a fee refusal climbs one rung at once, a fee spike replaces the rung in the mempool") {
    Breach b = appendix_c_breach();
    KitResponse r = KitResponse::start(b.kit, b.commitment, 1000);
    std::size_t tl = part_of(r, kit::PartKind::to_local);
    KitStep step = r.on_report(tl, 0, fee_refused(), 1000);
    REQUIRE(step.broadcasts.size() == 1);
    CHECK(step.broadcasts[0].rung == 1);
    step = r.on_report(tl, 1, accepted(), 1000);
    CHECK(step.changed);
    CHECK(r.parts()[tl].rung == 1);
    // The top rung refused: nothing more this block.
    CHECK(r.on_report(tl, r.kit().parts[tl].rungs.size() - 1, fee_refused(), 1000).broadcasts.empty());
    // Next block, a spike: bitcoind's estimate is far above rung 1.
    FeeSnapshot spike{1000, {{1, 200'000}, {6, 150'000}, {144, 100'000}}};
    step = r.on_block(block_of({}), 1001, spike);
    std::optional<std::size_t> sent;
    for (const auto& rb : step.broadcasts) {
        if (rb.part == tl) sent = rb.rung;
    }
    REQUIRE(sent);
    CHECK(*sent > 1);
    std::int64_t fee = r.kit().parts[tl].rungs[*sent].fee;
    std::int64_t vsize = static_cast<std::int64_t>((step.broadcasts[0].transaction.weight() + 3) / 4);
    // The lowest rung meeting 100,000 sat/kvB (143 blocks left: the 144-block target... or the top).
    CHECK((fee * 1000 / vsize >= 100'000 || *sent == r.kit().parts[tl].rungs.size() - 1));
    step = r.on_report(tl, *sent, accepted(), 1001);
    CHECK(step.replacements == 1);
    // It never goes down when fees fall.
    step = r.on_block(block_of({}), 1002, FeeSnapshot{1000, {{1, 1000}}});
    for (const auto& rb : step.broadcasts) {
        if (rb.part == tl) CHECK(rb.rung == *sent);
    }
}

TEST_CASE("kit response: the cheater's HTLC-success takes one HTLC output, its second stage starts, the rest is unaffected") {
    Breach b = appendix_c_breach();
    KitResponse r = KitResponse::start(b.kit, b.commitment, 1000);
    // Bob's HTLC transaction of HTLC output `vout`, as the appendix publishes it, in the breach's next block.
    const Transaction& cheat = b.htlc_txs.front();
    std::uint16_t vout = static_cast<std::uint16_t>(cheat.inputs[0].prevout.index);
    std::size_t htlc = r.kit().parts.size();
    for (std::size_t i = 0; i < r.kit().parts.size(); ++i) {
        if (r.kit().parts[i].vout == vout && r.kit().parts[i].kind != kit::PartKind::second_stage &&
            r.kit().parts[i].kind != kit::PartKind::to_local) {
            htlc = i;
        }
    }
    REQUIRE(htlc < r.kit().parts.size());
    std::size_t second = part_of(r, kit::PartKind::second_stage, vout);
    KitStep step = r.on_block(block_of({cheat}), 1001, FeeSnapshot{});
    CHECK(step.parts_lost == 1);
    CHECK(step.second_stages_started == 1);
    CHECK(r.parts()[htlc].status == PartStatus::lost);
    CHECK(r.parts()[htlc].spender == cheat.txid());
    CHECK(r.parts()[second].status == PartStatus::live);
    CHECK(r.deadline(second) == 1001 + 144);
    // Broadcasts this block: the second stage (spending the cheater's
    // transaction) and every other live part, never the lost one.
    bool second_sent = false;
    for (const auto& rb : step.broadcasts) {
        CHECK(rb.part != htlc);
        if (rb.part == second) {
            second_sent = true;
            CHECK(rb.transaction.inputs[0].prevout == OutPoint{cheat.txid(), 0});
        }
    }
    CHECK(second_sent);
    CHECK(step.broadcasts.size() == 6);  // to_local, four HTLCs, one second stage

    // Our penalties confirm in the next block; resolved 100 blocks later, not before.
    std::vector<Transaction> ours;
    for (const auto& rb : step.broadcasts) ours.push_back(rb.transaction);
    step = r.on_block(block_of(ours), 1002, FeeSnapshot{});
    CHECK(step.parts_confirmed == 6);
    // The rungs mined: the four HTLC outputs, past their expiry (500..506),
    // went out at their top rung; to_local and the second stage at rung 0.
    // Blocks left: to_local 1144 - 1002, the second stage 1145 - 1002.
    std::uint64_t top_rungs = 0;
    for (std::size_t i = 0; i < r.kit().parts.size(); ++i) {
        auto kind = r.kit().parts[i].kind;
        if ((kind == kit::PartKind::offered_htlc || kind == kit::PartKind::received_htlc) && i != htlc) {
            top_rungs += r.kit().parts[i].rungs.size() - 1;
        }
    }
    CHECK(step.confirmed_rung_sum == top_rungs);
    CHECK(step.confirmed_margin_sum == (1144 - 1002) + (1145 - 1002));
    CHECK(step.broadcasts.empty());
    CHECK_FALSE(r.resolved(1100, 100));
    CHECK(r.resolved(1101, 100));
    // The other HTLCs' second stages have nothing left to follow.
    for (std::size_t i = 0; i < r.parts().size(); ++i) {
        if (r.kit().parts[i].kind == kit::PartKind::second_stage && i != second) CHECK(r.parts()[i].status == PartStatus::moot);
    }

    // A reorg of the block holding our penalties puts them back to live.
    KitResponse before = r;
    CHECK(r.on_disconnected(1002));
    CHECK(r.parts()[second].status == PartStatus::live);
    CHECK(r.parts()[htlc].status == PartStatus::lost);
    // And of the cheater's block: the HTLC is live again, its second stage waits.
    CHECK(r.on_disconnected(1001));
    CHECK(r.parts()[htlc].status == PartStatus::live);
    CHECK(r.parts()[second].status == PartStatus::waiting);
    CHECK_FALSE(before == r);
}

TEST_CASE("kit response: parts that do not match the dispute are never sent, and the state round-trips") {
    Breach b = appendix_c_breach();
    Transaction other = b.commitment;
    other.outputs[0].value += 1;  // another transaction: amounts differ
    KitResponse r = KitResponse::start(b.kit, other, 1000);
    std::size_t invalid = 0;
    for (const auto& s : r.parts()) invalid += s.status == PartStatus::invalid;
    CHECK(invalid >= 1);

    KitResponse good = KitResponse::start(b.kit, b.commitment, 1000);
    (void)good.on_report(0, 0, accepted(), 1000);
    (void)good.on_block(block_of({b.htlc_txs.front()}), 1001, FeeSnapshot{});
    auto back = KitResponse::decode(good.encode());
    REQUIRE(back);
    CHECK(*back == good);
    Bytes bad = good.encode();
    bad.push_back(0);
    CHECK_FALSE(KitResponse::decode(bad));
    bad = good.encode();
    bad.resize(bad.size() - 1);
    CHECK_FALSE(KitResponse::decode(bad));
}

TEST_CASE("kit response: the fee snapshot answers the largest target within the blocks left") {
    FeeSnapshot f{1000, {{1, 50'000}, {6, 20'000}, {144, 5'000}}};
    CHECK(f.estimate_for(0) == 50'000);
    CHECK(f.estimate_for(1) == 50'000);
    CHECK(f.estimate_for(5) == 50'000);
    CHECK(f.estimate_for(6) == 20'000);
    CHECK(f.estimate_for(143) == 20'000);
    CHECK(f.estimate_for(1000) == 5'000);
    CHECK_FALSE(FeeSnapshot{}.estimate_for(6));
}
