// End to end: the two cheap escapes of issue #16, each run side by side with
// one classic penalty (what rust-teos's, LND's and Electrum's towers can do)
// and with an Argus penalty kit, through the teos API of a real argus-tower
// following the chain simulator's fee market (block minimum fee rate, BIP125).
// Alice is the victim backed up by the tower; Bob cheats with a revoked
// commitment of a real two-party BOLT 3 channel (client/channel), funded on
// chain. The simulator does not verify scripts; every transaction is
// nevertheless signed as bitcoind would need it.
#include <doctest/doctest.h>

#include "client/channel/channel.h"
#include "common/block.h"
#include "common/bolt3_keys.h"
#include "common/hash.h"
#include "common/hex.h"
#include "common/penalty_kit.h"
#include "common/script.h"
#include "common/sighash.h"
#include "tests/integration/breach_world.h"
#include "tests/support/cheater.h"

using namespace argus;
using namespace argus::client;
using namespace argus::test;

namespace {

Hash256 seed_of(std::uint8_t b) {
    Hash256 s{};
    s.fill(b);
    return s;
}

// A channel between Alice (opener, the tower's client) and Bob, with two
// HTLCs on state 0: one Alice offered (Bob knows its preimage) and one Bob offered.
struct CheatingChannel {
    ChannelSecrets alice_secrets, bob_secrets;
    Channel alice, bob;
    Transaction funding;
    ChannelState state;  // Alice's view
    Hash256 preimage{};  // of the HTLC Alice offered to Bob
    Bytes alice_sweep;
    bolt3::Commitment bobs;  // Bob's commitment for state 0, signed by both
    PublicKey bob_point;

    static Channel make(const ChannelSecrets& local, const ChannelSecrets& remote, const OutPoint& funding, bool opener,
                        std::uint16_t delay) {
        ChannelConfig c;
        c.funding_outpoint = funding;
        c.funding_satoshis = 10'000'000;
        c.local_is_opener = opener;
        c.anchors = false;
        c.local_to_self_delay = delay;
        c.remote_to_self_delay = delay;
        return Channel(c, local, ChannelBasepoints::of(remote));
    }

    CheatingChannel(BreachWorld& world, std::uint8_t tag, std::uint16_t delay)
        : alice_secrets(ChannelSecrets::from_seed(seed_of(tag))),
          bob_secrets(ChannelSecrets::from_seed(seed_of(static_cast<std::uint8_t>(tag + 1)))),
          alice(make(alice_secrets, bob_secrets, {}, true, delay)),
          bob(make(bob_secrets, alice_secrets, {}, false, delay)),
          bob_point(bob_secrets.per_commitment_point(0)) {
        funding = world.spend_coinbase({{10'000'000, funding_script_pubkey(alice_secrets.funding.public_key(),
                                                                           bob_secrets.funding.public_key())},
                                        {50'0000'0000 - 10'000'000 - 20'000, p2wpkh_script(world.victim.public_key())}});
        world.send(funding);
        world.mine(1);
        alice = make(alice_secrets, bob_secrets, {funding.txid(), 0}, true, delay);
        bob = make(bob_secrets, alice_secrets, {funding.txid(), 0}, false, delay);
        alice_sweep = p2wpkh_script(alice_secrets.payment_basepoint.public_key());
        preimage.fill(static_cast<std::uint8_t>(tag + 7));
        state.commitment_number = 0;
        state.local_msat = 2'850'000'000;
        state.remote_msat = 7'000'000'000;
        state.feerate_per_kw = 1000;
        state.htlcs = {{bolt3::HtlcDirection::offered, 100'000'000, 1000, sha256(preimage)},
                       {bolt3::HtlcDirection::received, 50'000'000, 1100, sha256(Bytes{tag})}};
        // Bob's commitment 0, signed by both (what he can broadcast).
        bolt3::Commitment by_alice = alice.remote_commitment(state, bob_point);
        bobs = bob.local_commitment(bob_view());
        REQUIRE(by_alice.tx.txid() == bobs.tx.txid());
        EcdsaSignature alice_sig = alice.sign_remote_commitment(by_alice, bob_point);
        Hash256 digest = bolt3::commitment_sighash(bobs, bob.local_commitment_params(), bob.local_commitment_keys(0));
        bolt3::finalize_commitment(bobs, bob.local_commitment_keys(0), ecdsa_sign(bob_secrets.funding, digest), alice_sig);
        // State 1 revokes it.
        REQUIRE(alice.receive_revocation(0, bob_secrets.per_commitment_secret(0), bob_point));
    }

    ChannelState bob_view() const { return mirrored_state(state); }
    const Transaction& commitment() const { return bobs.tx; }
    std::size_t output_of(bolt3::OutputKind kind) const {
        for (std::size_t i = 0; i < bobs.outputs.size(); ++i) {
            if (bobs.outputs[i].kind == kind) return i;
        }
        FAIL("no such output");
        return 0;
    }

    // Bob's HTLC-success of the HTLC Alice offered, with both signatures and the preimage.
    Transaction htlc_success() const {
        return test::htlc_success(bob, bob_secrets, alice_secrets, bobs, output_of(bolt3::OutputKind::received_htlc),
                                  bob_view(), preimage);
    }

    // Bob takes his to_local after to_self_delay, paying `fee`.
    Transaction bob_sweeps_to_local(std::int64_t fee) const {
        std::size_t i = output_of(bolt3::OutputKind::to_local);
        Transaction tx;
        TxIn in;
        in.prevout = {bobs.tx.txid(), static_cast<std::uint32_t>(i)};
        in.sequence = bob.local_commitment_params().to_self_delay;
        tx.inputs.push_back(in);
        tx.outputs.push_back({bobs.tx.outputs[i].value - fee, p2wpkh_script(bob_secrets.payment_basepoint.public_key())});
        const Bytes& script = bobs.outputs[i].witness_script;
        auto key = bolt3::derive_privkey(bob_secrets.delayed_payment_basepoint, bob_point).value();
        Hash256 digest = segwit_v0_sighash(tx, 0, script, bobs.tx.outputs[i].value, SIGHASH_ALL);
        tx.inputs[0].witness = {bolt3::signature_with_hash_type(ecdsa_sign(key, digest), SIGHASH_ALL), Bytes{}, script};
        return tx;
    }

    // What the tower is given: one classic justice transaction (every output, 1 sat/vB) ...
    Bytes classic_blob() const {
        Transaction justice = alice.justice_transaction(state, alice_sweep, 253).value();
        return teos::encrypt_penalty(justice.serialize(), bobs.tx.txid());
    }
    // ... or a penalty kit (defaults: 1 sat/vB up to half of each output).
    Bytes kit_blob() const {
        auto built = alice.penalty_kit(state, alice_sweep, KitPolicy{});
        REQUIRE(built);
        REQUIRE(built->commitment_txid == bobs.tx.txid());
        return teos::encrypt_penalty(kit::pad_to_bucket(kit::encode(built->kit).value()), bobs.tx.txid());
    }
};

void back_up(BreachWorld& world, const CheatingChannel& c, const Bytes& blob) {
    Txid id = c.commitment().txid();
    auto r = world.api().post("/add_appointment", world.user.add_appointment_body(teos::locator(id), blob, 144));
    REQUIRE_MESSAGE(r.status == 200, r.body);
}

// The transaction of the last `depth` blocks that spends `outpoint`.
std::optional<Transaction> spender_of(BreachWorld& world, const OutPoint& outpoint, std::uint32_t depth = 60) {
    std::uint32_t tip = world.chain_height();
    for (std::uint32_t h = tip; h + depth > tip && h > 0; --h) {
        std::string hash = world.call("getblockhash", json::array({h}));
        auto raw = parse_hex(world.call("getblock", json::array({hash, 0})).get<std::string>());
        REQUIRE(raw);
        auto block = parse_block(*raw);
        REQUIRE(block);
        for (const auto& tx : block->transactions) {
            for (const auto& in : tx.inputs) {
                if (in.prevout == outpoint) return tx;
            }
        }
    }
    return std::nullopt;
}

std::optional<std::uint32_t> height_of(BreachWorld& world, const Txid& txid) {
    int confirmations = world.confirmations(txid);
    if (confirmations <= 0) return std::nullopt;
    return world.chain_height() - static_cast<std::uint32_t>(confirmations) + 1;
}

void mine_and_settle(BreachWorld& world, std::uint32_t blocks) {
    for (std::uint32_t i = 0; i < blocks; ++i) {
        world.mine(1);
        REQUIRE(wait_until([&] { return world.tower_at_tip(); }));
    }
}

bool pays_to(const std::optional<Transaction>& tx, const Bytes& script) {
    return tx && tx->outputs.size() == 1 && tx->outputs[0].script_pubkey == script;
}

// The tower's defaults: an add_appointment limit of 33,792 bytes takes kits up to 16 KiB.
BreachWorld::Options kit_tower() { return {}; }

}  // namespace

TEST_CASE("penalty kits: a fee spike beats one classic penalty but not the kit's ladder, which sweeps to_local before its deadline, across a kill -9 of the tower") {
    BreachWorld world(kit_tower());
    const std::uint16_t delay = 24;
    CheatingChannel classic(world, 0x10, delay), kitted(world, 0x20, delay);
    // The tower advertises kits (an Argus-only field of the register reply).
    auto reg = json::parse(world.api().post("/register", world.user.register_body()).body);
    CHECK(reg["argus_penalty_kits"]["version"] == 1);
    CHECK(reg["argus_penalty_kits"]["max_encrypted_blob"] == (33'792 - 512) / 2);
    back_up(world, classic, classic.classic_blob());
    back_up(world, kitted, kitted.kit_blob());

    // Bob broadcasts both revoked commitments; then miners take only
    // 20 sat/vB and more (the mempool still takes 1 sat/vB).
    world.send(classic.commitment());
    world.send(kitted.commitment());
    world.mine(1);
    std::uint32_t breach_height = world.chain_height();
    world.set_block_min_fee(20'000);
    REQUIRE(wait_until([&] { return world.tower_at_tip(); }));
    CHECK(world.metric_reaches("argus_kit_breaches_total", 1));  // before the restart below resets it

    OutPoint kit_to_local{kitted.commitment().txid(), static_cast<std::uint32_t>(kitted.output_of(bolt3::OutputKind::to_local))};
    OutPoint classic_to_local{classic.commitment().txid(),
                              static_cast<std::uint32_t>(classic.output_of(bolt3::OutputKind::to_local))};
    // Until one block before Bob may take to_local. Three blocks in, the
    // tower is killed (SIGKILL) and restarted: the response resumes from its
    // persisted state, rungs and all.
    for (std::uint32_t h = breach_height + 1; h < breach_height + delay && !spender_of(world, kit_to_local, delay + 2); ++h) {
        if (h == breach_height + 3) {
            world.kill_tower();
            world.start_tower();
        }
        mine_and_settle(world, 1);
    }
    auto kit_sweep = spender_of(world, kit_to_local, delay + 2);
    REQUIRE_MESSAGE(kit_sweep, world.tower_log());
    CHECK(pays_to(kit_sweep, kitted.alice_sweep));
    auto swept_at = height_of(world, kit_sweep->txid());
    REQUIRE(swept_at);
    CHECK(*swept_at < breach_height + delay);
    std::int64_t fee = kitted.commitment().outputs[kit_to_local.index].value - kit_sweep->outputs[0].value;
    std::int64_t vsize = static_cast<std::int64_t>((kit_sweep->weight() + 3) / 4);
    CHECK(fee * 1000 / vsize >= 20'000);                                        // a rung miners took
    CHECK(fee <= kitted.commitment().outputs[kit_to_local.index].value / 2);  // within the budget
    MESSAGE("kit: to_local swept at +" << (*swept_at - breach_height) << " blocks, fee " << fee << " sat ("
                                       << fee * 1000 / vsize / 1000 << " sat/vB)");
    // Each rung up the ladder replaced the one below in the mempool.
    CHECK(wait_until([&] { return world.metric("argus_kit_replacements_total").value_or(0) >= 1; }));

    // The classic penalty (1 sat/vB) sits in the mempool; at the deadline Bob
    // replaces it with his own sweep of to_local, paying 30 sat/vB.
    CHECK_FALSE(spender_of(world, classic_to_local, delay + 2));
    while (world.chain_height() < breach_height + delay - 1) mine_and_settle(world, 1);
    Transaction bobs_sweep = classic.bob_sweeps_to_local(6'000);
    world.send(bobs_sweep);
    mine_and_settle(world, 1);
    auto classic_spender = spender_of(world, classic_to_local, delay + 2);
    REQUIRE(classic_spender);
    CHECK(classic_spender->txid() == bobs_sweep.txid());  // the classic penalty lost to_local
    // The kit's to_local was not Bob's to take.
    CHECK(spender_of(world, kit_to_local, delay + 4)->txid() == kit_sweep->txid());
}

TEST_CASE("penalty kits: Bob's HTLC-success in the breach block invalidates the classic penalty, the kit sweeps every output and the HTLC-success") {
    BreachWorld world(kit_tower());
    const std::uint16_t delay = 12;
    CheatingChannel classic(world, 0x30, delay), kitted(world, 0x40, delay);
    back_up(world, classic, classic.classic_blob());
    back_up(world, kitted, kitted.kit_blob());

    // Bob publishes each revoked commitment with his HTLC-success of the HTLC
    // whose preimage he knows, mined together.
    Transaction classic_success = classic.htlc_success(), kit_success = kitted.htlc_success();
    for (const Transaction* tx : std::vector<const Transaction*>{&classic.commitment(), &classic_success, &kitted.commitment(), &kit_success}) {
        world.send(*tx);
    }
    world.mine(1);
    std::uint32_t breach_height = world.chain_height();
    REQUIRE(world.confirmations(kit_success.txid()) == 1);
    REQUIRE(wait_until([&] { return world.tower_at_tip(); }));
    // The operator sees each output on its own: the HTLC output lost to Bob's
    // HTLC-success, its second stage live, the rest live.
    auto listed = world.admin_get("/appointments/" + to_hex(teos::locator(kitted.commitment().txid())));
    REQUIRE(listed.size() == 1);
    REQUIRE(listed[0].contains("penalty_kit"));
    std::map<std::string, int> statuses;
    for (const auto& p : listed[0]["penalty_kit"]) {
        ++statuses[p["status"].get<std::string>()];
        if (p["status"] == "lost") CHECK(p["spent_by"] == kit_success.txid().to_display_hex());
    }
    CHECK(statuses["lost"] == 1);
    CHECK(statuses["live"] == 3);  // to_local, Bob's offered HTLC, the second stage
    CHECK(statuses["waiting"] == 1);  // the other HTLC's second stage: its HTLC output is not spent yet
    mine_and_settle(world, 3);

    // The kit: to_local and Bob's offered HTLC swept from the commitment, and
    // the HTLC-success's output swept through the revocation key.
    for (bolt3::OutputKind kind : {bolt3::OutputKind::to_local, bolt3::OutputKind::offered_htlc}) {
        OutPoint out{kitted.commitment().txid(), static_cast<std::uint32_t>(kitted.output_of(kind))};
        auto sweep = spender_of(world, out);
        REQUIRE_MESSAGE(sweep, world.tower_log());
        CHECK(pays_to(sweep, kitted.alice_sweep));
    }
    auto second = spender_of(world, {kit_success.txid(), 0});
    REQUIRE_MESSAGE(second, world.tower_log());
    CHECK(pays_to(second, kitted.alice_sweep));
    CHECK(*height_of(world, second->txid()) < breach_height + delay);
    CHECK(world.metric_reaches("argus_kit_outputs_lost_total", 1));  // the HTLC output itself
    CHECK(world.metric_reaches("argus_kit_second_stages_total", 1));

    // The classic penalty spends the HTLC output Bob already spent: refused,
    // the appointment dropped, to_local never swept; Bob takes it at the deadline.
    OutPoint classic_to_local{classic.commitment().txid(),
                              static_cast<std::uint32_t>(classic.output_of(bolt3::OutputKind::to_local))};
    CHECK_FALSE(spender_of(world, classic_to_local));
    CHECK(world.metric_reaches("argus_penalties_rejected_total", 1));
    while (world.chain_height() < breach_height + delay - 1) mine_and_settle(world, 1);
    Transaction bobs_sweep = classic.bob_sweeps_to_local(2'000);
    world.send(bobs_sweep);
    mine_and_settle(world, 1);
    auto taken = spender_of(world, classic_to_local);
    REQUIRE(taken);
    CHECK(taken->txid() == bobs_sweep.txid());
}
