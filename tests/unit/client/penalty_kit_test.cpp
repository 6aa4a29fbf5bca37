// The client's penalty kits (WatchedChannel::penalty_kit) for BOLT 3
// Appendix C's revoked commitment: each part checked against the published
// commitment and HTLC transactions (tests/vectors/bolt3_commitments.json,
// lightning/bolts 03-transactions.md Appendix C and F), and a rung's
// signature checked on a penalty built here by hand, under the appendix's
// revocation pubkey.
#include <doctest/doctest.h>

#include <set>

#include "client/channel/channel.h"
#include "common/hex.h"
#include "common/script.h"
#include "common/sighash.h"
#include "tests/unit/client/appendix_c_alice.h"

using namespace argus;
using namespace argus::client;
using namespace argus::test;

namespace {

const Hash256 bob_secret_42 = hex_array<32>("1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100");
PublicKey bob_point_42() { return vector_pubkey("025f7117a78150fe2ef97db7cfc83bd57b2e2c0d0dd25eaf467a4a1c2a45ce1486"); }

Channel revoked_alice(bool anchors, std::int64_t dust_limit) {
    Channel alice = appendix_c_alice(anchors);
    ChannelConfig config = alice.config();
    config.dust_limit_satoshis = dust_limit;
    Channel channel(config, alice.local(), alice.remote());
    REQUIRE(channel.receive_revocation(42, bob_secret_42, bob_point_42()));
    return channel;
}

std::int64_t vsize(const Transaction& tx) { return static_cast<std::int64_t>((tx.weight() + 3) / 4); }

}  // namespace

TEST_CASE("penalty kit: Appendix C's revoked commitment with five HTLCs gives eleven independent parts") {
    auto json = load_vectors("bolt3_commitments.json");
    const auto& v = json["appendix_c"][1];  // "commitment tx with all five HTLCs untrimmed (minimum feerate)"
    auto spec = appendix_c_channel(false);
    Channel alice = revoked_alice(false, v["dust_limit_satoshis"].get<std::int64_t>());
    Transaction published = parse_transaction(hex_bytes(v["commit_tx"])).value();
    Bytes destination = p2wpkh_script(secret_of('4').public_key());
    KitPolicy policy;
    auto built = alice.penalty_kit(alice_view(v, spec), destination, policy);
    REQUIRE(built);
    CHECK(built->commitment_txid == published.txid());
    CHECK(built->skipped_outputs == 0);
    const kit::PenaltyKit& k = built->kit;
    CHECK(k.revocation_pubkey == spec.keys.revocation_pubkey.bytes());
    CHECK(k.to_self_delay == 144);
    CHECK_FALSE(k.anchors);

    std::map<std::uint32_t, Transaction> second_stage_by_vout;  // the appendix's HTLC transactions, by spent output
    for (const auto& h : v["htlc_txs"]) {
        Transaction tx = parse_transaction(hex_bytes(h["tx"])).value();
        second_stage_by_vout[tx.inputs.at(0).prevout.index] = tx;
    }
    REQUIRE(second_stage_by_vout.size() == 5);

    std::size_t to_local = 0, htlcs = 0, second = 0;
    std::set<std::uint16_t> commitment_vouts;
    for (const kit::Part& part : k.parts) {
        CAPTURE(kit::to_string(part.kind));
        CAPTURE(part.vout);
        if (part.kind == kit::PartKind::second_stage) {
            ++second;
            // Its txid is the appendix's HTLC-success or HTLC-timeout of that output.
            REQUIRE(second_stage_by_vout.count(part.vout));
            const Transaction& htlc_tx = second_stage_by_vout[part.vout];
            CHECK(part.second_stage_txid == htlc_tx.txid());
            CHECK(kit::verify_part(k, part, htlc_tx, published.txid()));
        } else {
            part.kind == kit::PartKind::to_local ? ++to_local : ++htlcs;
            commitment_vouts.insert(part.vout);
            // Amount, script (P2WSH of the BOLT 3 template) and every signature.
            CHECK(kit::verify_part(k, part, published, published.txid()));
            CHECK(part.amount == published.outputs[part.vout].value);
        }
        // Every rung a BIP125 replacement of the one below, at its real size.
        for (std::size_t i = 1; i < part.rungs.size(); ++i) {
            Transaction low = kit::signed_penalty(k, part, published.txid(), i - 1);
            Transaction high = kit::signed_penalty(k, part, published.txid(), i);
            std::int64_t added = part.rungs[i].fee - part.rungs[i - 1].fee;
            CHECK(added >= vsize(high));  // 1 sat/vB incremental relay fee
            CHECK(part.rungs[i].fee * vsize(low) > part.rungs[i - 1].fee * vsize(high));
        }
        // The ladder: floor 1 sat/vB, top at the budget (half the output, capped).
        Transaction lowest = kit::signed_penalty(k, part, published.txid(), 0);
        CHECK(part.rungs.front().fee >= vsize(lowest));
        CHECK(part.rungs.front().fee <= vsize(lowest) + 2);
        CHECK(part.rungs.back().fee == std::min<std::int64_t>(part.amount / 2, 1'000'000));
    }
    CHECK(to_local == 1);
    CHECK(htlcs == 5);
    CHECK(second == 5);
    CHECK(commitment_vouts.size() == 6);

    // One rung's signature, on a penalty written out here from BIP143 and
    // BOLT 3 (not through the kit's builder): to_local, top rung.
    const kit::Part& tl = *std::find_if(k.parts.begin(), k.parts.end(),
                                        [](const kit::Part& p) { return p.kind == kit::PartKind::to_local; });
    Transaction by_hand;
    by_hand.version = 2;
    by_hand.lock_time = 0;
    TxIn in;
    in.prevout = {published.txid(), tl.vout};
    in.sequence = 0xfffffffd;
    by_hand.inputs.push_back(in);
    by_hand.outputs.push_back({published.outputs[tl.vout].value - tl.rungs.back().fee, destination});
    // BOLT 3 to_local: OP_IF <revocationpubkey> OP_ELSE `to_self_delay` OP_CHECKSEQUENCEVERIFY OP_DROP
    // <local_delayedpubkey> OP_ENDIF OP_CHECKSIG
    Bytes script{0x63, 0x21};
    append(script, spec.keys.revocation_pubkey.bytes());
    append(script, Bytes{0x67, 0x02, 0x90, 0x00, 0xb2, 0x75, 0x21});
    append(script, spec.keys.local_delayed_pubkey.bytes());
    append(script, Bytes{0x68, 0xac});
    CHECK(p2wsh_script(script) == published.outputs[tl.vout].script_pubkey);
    Hash256 digest = segwit_v0_sighash(by_hand, 0, script, published.outputs[tl.vout].value, SIGHASH_ALL);
    CHECK(ecdsa_verify(spec.keys.revocation_pubkey, digest, tl.rungs.back().signature));
    Transaction built_tx = kit::signed_penalty(k, tl, published.txid(), tl.rungs.size() - 1);
    CHECK(built_tx.txid() == by_hand.txid());
    REQUIRE(built_tx.inputs[0].witness.size() == 3);
    CHECK(built_tx.inputs[0].witness[1] == Bytes{0x01});
    CHECK(built_tx.inputs[0].witness[2] == script);

    // It round-trips through the codec, padded to its bucket.
    Bytes encoded = kit::encode(k).value();
    Bytes plain = kit::pad_to_bucket(encoded);
    CHECK(kit::decode(plain).value() == k);
    CHECK(plain.size() == kit::bucket_size(encoded.size()));
}

TEST_CASE("penalty kit: Appendix F (anchors) has no second-stage parts and its HTLC scripts match the commitment") {
    auto json = load_vectors("bolt3_commitments.json");
    auto spec = appendix_c_channel(true);
    std::size_t checked = 0;
    for (const auto& v : json["appendix_f"]) {
        CAPTURE(v["name"].get<std::string>());
        Channel alice = revoked_alice(true, v["dust_limit_satoshis"].get<std::int64_t>());
        Transaction published = parse_transaction(hex_bytes(v["commit_tx"])).value();
        auto built = alice.penalty_kit(alice_view(v, spec), p2wpkh_script(secret_of('4').public_key()), {});
        if (!built) {
            // Only Alice's own output left: nothing of Bob's to take back
            // (the classic justice builder agrees).
            CHECK(built.error().message.find("no output") != std::string::npos);
            CHECK_FALSE(alice.justice_transaction(alice_view(v, spec), p2wpkh_script(secret_of('4').public_key()), 253));
            continue;
        }
        CHECK(built->kit.anchors);
        std::size_t htlc_outputs = 0;
        for (const auto& part : built->kit.parts) {
            CHECK(part.kind != kit::PartKind::second_stage);
            CHECK(kit::verify_part(built->kit, part, published, published.txid()));
            if (part.kind != kit::PartKind::to_local) ++htlc_outputs;
        }
        CHECK(htlc_outputs + built->skipped_outputs == v["htlc_txs"].size());
        ++checked;
    }
    CHECK(checked >= 2);
}

TEST_CASE("penalty kit: the budget policy caps each part's top rung, skips outputs too small, refuses nonsense") {
    auto json = load_vectors("bolt3_commitments.json");
    const auto& v = json["appendix_c"][1];
    auto spec = appendix_c_channel(false);
    Channel alice = revoked_alice(false, v["dust_limit_satoshis"].get<std::int64_t>());
    Bytes destination = p2wpkh_script(secret_of('4').public_key());
    KitPolicy policy;
    policy.max_fee_share = 0.25;
    policy.max_fee = 100'000;
    policy.rungs = 6;
    policy.second_stage = false;
    auto built = alice.penalty_kit(alice_view(v, spec), destination, policy);
    REQUIRE(built);
    CHECK(built->kit.parts.size() == 6);
    for (const auto& part : built->kit.parts) {
        CHECK(part.rungs.size() <= 6);
        std::int64_t budget = std::min<std::int64_t>(part.amount / 4, 100'000);
        CHECK(part.rungs.back().fee <= budget);
        // A range narrower than one replacement step (1 sat/vB) is one rung.
        if (part.rungs.size() > 1) CHECK(part.rungs.back().fee == budget);
    }
    // A floor of 3 sat/vB: the 1,000-sat HTLC (Appendix C's HTLC #0) has a
    // budget of 250 sat, less than 3 sat/vB of its ~150 vB penalty: no part.
    policy.floor_feerate = 3000;
    built = alice.penalty_kit(alice_view(v, spec), destination, policy);
    REQUIRE(built);
    Transaction published = parse_transaction(hex_bytes(v["commit_tx"])).value();
    for (const auto& part : built->kit.parts) CHECK(published.outputs[part.vout].value != 1000);
    CHECK(built->skipped_outputs >= 1);
    CHECK(built->kit.parts.size() + built->skipped_outputs == 6);
    // Not revoked; bad policies.
    ChannelState later = alice_view(v, spec);
    later.commitment_number = 43;
    CHECK_FALSE(alice.penalty_kit(later, destination, {}));
    for (auto bad : {KitPolicy{1000, 0.0}, KitPolicy{1000, 1.5}, KitPolicy{1000, 0.5, 0},
                     KitPolicy{1000, 0.5, 1000, 0}, KitPolicy{1000, 0.5, 1000, 33}, KitPolicy{-1}}) {
        auto r = alice.penalty_kit(alice_view(v, spec), destination, bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::invalid_argument);
    }
}
