#include <doctest/doctest.h>

#include "client/channel/channel.h"
#include "common/hex.h"
#include "common/script.h"
#include "common/sighash.h"
#include "tests/unit/common/bolt3_appendix_c_fixture.h"

using namespace argus;
using namespace argus::client;
using namespace argus::test;

namespace {
PrivateKey secret_of(char digit) { return vector_privkey(std::string(64, digit)); }

// BOLT 3 Appendix C from the side of its "remote": Alice holds the remote
// revocation (2222..), payment and htlc (4444..) basepoint secrets and the
// remote funding key; Bob is the appendix's "local", the opener.
Channel appendix_c_alice(bool anchors) {
    ChannelSecrets alice{vector_privkey("1552dfba4f6cf29a62a0af13c8d6981d36d0ef8d61ba10fb0fe90da7634d7e1301"),
                         secret_of('2'), secret_of('4'), secret_of('5'), secret_of('4'), Hash256{}};
    ChannelBasepoints bob{vector_pubkey("023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb"),
                          secret_of('6').public_key(),  // Bob's revocation basepoint: unused on his own commitment
                          vector_pubkey("034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa"),
                          vector_pubkey("023c72addb4fdf09af94f0c94d7fe92a386a7e70cf8a1d85916386bb2535c7b1b1"),
                          vector_pubkey("034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa")};
    ChannelConfig config;
    config.funding_outpoint = {Txid::from_display_hex("8984484a580b825b9972d7adb15050b3ab624ccd731946b3eeddb92f4e7ef6be").value(), 0};
    config.funding_satoshis = 10'000'000;
    config.local_is_opener = false;
    config.anchors = anchors;
    config.remote_to_self_delay = 144;
    return Channel(config, alice, bob);
}

ChannelState alice_view(const nlohmann::json& v, const AppendixCChannel& spec) {
    ChannelState s;
    s.commitment_number = 42;
    s.local_msat = v["to_remote_msat"].get<std::uint64_t>();
    s.remote_msat = v["to_local_msat"].get<std::uint64_t>();
    s.feerate_per_kw = v["local_feerate_per_kw"].get<std::uint32_t>();
    for (int id : v["htlc_set"]) {
        auto h = spec.all_htlcs[static_cast<std::size_t>(id)];
        h.direction = h.direction == bolt3::HtlcDirection::offered ? bolt3::HtlcDirection::received
                                                                   : bolt3::HtlcDirection::offered;
        s.htlcs.push_back(h);
    }
    return s;
}
}  // namespace

TEST_CASE("channel engine: builds BOLT 3 Appendix C and F commitments as the remote party") {
    auto json = load_vectors("bolt3_commitments.json");
    PublicKey bob_point = vector_pubkey("025f7117a78150fe2ef97db7cfc83bd57b2e2c0d0dd25eaf467a4a1c2a45ce1486");
    for (const char* appendix : {"appendix_c", "appendix_f"}) {
        bool anchors = std::string(appendix) == "appendix_f";
        Channel alice = appendix_c_alice(anchors);
        auto spec = appendix_c_channel(anchors);
        for (const auto& v : json[appendix]) {
            CAPTURE(v["name"].get<std::string>());
            Channel channel = alice;
            ChannelConfig config = channel.config();
            config.dust_limit_satoshis = v["dust_limit_satoshis"].get<std::int64_t>();
            channel = Channel(config, channel.local(), channel.remote());
            ChannelState state = alice_view(v, spec);
            bolt3::Commitment bobs = channel.remote_commitment(state, bob_point);
            Transaction published = parse_transaction(hex_bytes(v["commit_tx"])).value();
            CHECK(bobs.tx.txid() == published.txid());
            // Alice's signature on Bob's commitment is the spec's remote_signature (RFC6979).
            EcdsaSignature sig = channel.sign_remote_commitment(bobs, bob_point);
            CHECK(to_hex(serialize_der(sig)) == v["remote_signature"].get<std::string>());
        }
    }
}

TEST_CASE("channel engine: justice transaction for a revoked Appendix C commitment") {
    auto json = load_vectors("bolt3_commitments.json");
    Channel alice = appendix_c_alice(false);
    auto spec = appendix_c_channel(false);
    // Bob revokes commitment 42 by revealing its secret (Appendix C's x_local_per_commitment_secret).
    Hash256 secret = hex_array<32>("1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100");
    PublicKey point = vector_pubkey("025f7117a78150fe2ef97db7cfc83bd57b2e2c0d0dd25eaf467a4a1c2a45ce1486");
    Hash256 wrong = secret;
    wrong[0] ^= 1;
    CHECK_FALSE(alice.receive_revocation(42, wrong, point));
    REQUIRE(alice.receive_revocation(42, secret, point));
    const auto& v = json["appendix_c"][1];  // all five HTLCs untrimmed
    ChannelState state = alice_view(v, spec);
    Bytes destination = p2wpkh_script(alice.local().payment_basepoint.public_key());
    auto justice = alice.justice_transaction(state, destination, 1000);
    REQUIRE(justice);
    Transaction published = parse_transaction(hex_bytes(v["commit_tx"])).value();
    CHECK(justice->inputs.size() == 6);  // to_local and five HTLCs
    std::int64_t swept = 0;
    for (std::size_t i = 0; i < justice->inputs.size(); ++i) {
        CHECK(justice->inputs[i].prevout.txid == published.txid());
        const TxOut& out = published.outputs[justice->inputs[i].prevout.index];
        CHECK(p2wsh_script(justice->inputs[i].witness.back()) == out.script_pubkey);
        swept += out.value;
        // Each signature verifies under the spec's local_revocation_pubkey.
        const Bytes& sig = justice->inputs[i].witness[0];
        auto parsed = parse_der_signature(ByteSpan(sig.data(), sig.size() - 1)).value();
        Hash256 digest = segwit_v0_sighash(*justice, i, justice->inputs[i].witness.back(), out.value, SIGHASH_ALL);
        CHECK(ecdsa_verify(spec.keys.revocation_pubkey, digest, parsed));
    }
    CHECK(justice->outputs[0].script_pubkey == destination);
    CHECK(justice->outputs[0].value < swept);
    CHECK(justice->outputs[0].value > swept - 5'000);
    // An unrevoked state has no justice.
    ChannelState later = state;
    later.commitment_number = 43;
    CHECK_FALSE(alice.justice_transaction(later, destination, 1000));
}

TEST_CASE("channel engine: two parties agree on each other's commitments and signatures") {
    Hash256 alice_seed{}, bob_seed{};
    alice_seed[0] = 1;
    bob_seed[0] = 2;
    auto alice_secrets = ChannelSecrets::from_seed(alice_seed);
    auto bob_secrets = ChannelSecrets::from_seed(bob_seed);
    ChannelConfig alice_config;
    alice_config.funding_outpoint.txid.bytes[0] = 9;
    alice_config.funding_satoshis = 1'000'000;
    alice_config.local_is_opener = true;
    alice_config.anchors = true;
    alice_config.local_to_self_delay = 144;
    alice_config.remote_to_self_delay = 100;
    ChannelConfig bob_config = alice_config;
    bob_config.local_is_opener = false;
    std::swap(bob_config.local_to_self_delay, bob_config.remote_to_self_delay);
    Channel alice(alice_config, alice_secrets, ChannelBasepoints::of(bob_secrets));
    Channel bob(bob_config, bob_secrets, ChannelBasepoints::of(alice_secrets));

    ChannelState a{7, 600'000'000, 390'000'000, 1000, {{bolt3::HtlcDirection::offered, 10'000'000, 800, Hash256{}}}};
    ChannelState b{7, a.remote_msat, a.local_msat, 1000, {{bolt3::HtlcDirection::received, 10'000'000, 800, Hash256{}}}};
    PublicKey bob_point = bob_secrets.per_commitment_point(7);
    bolt3::Commitment bobs_by_alice = alice.remote_commitment(a, bob_point);
    bolt3::Commitment bobs_own = bob.local_commitment(b);
    CHECK(bobs_by_alice.tx.txid() == bobs_own.tx.txid());
    CHECK(bob.verify_local_commitment_signature(bobs_own, 7, alice.sign_remote_commitment(bobs_by_alice, bob_point)));
    bolt3::Commitment tampered = bobs_own;
    tampered.tx.outputs[0].value += 1;  // a signature over another transaction
    CHECK_FALSE(bob.verify_local_commitment_signature(tampered, 7, alice.sign_remote_commitment(bobs_by_alice, bob_point)));
    // Revocation: Bob reveals secret 7; Alice's justice sweeps Bob's to_local and the HTLC.
    REQUIRE(alice.receive_revocation(7, bob_secrets.per_commitment_secret(7), bob_point));
    auto justice = alice.justice_transaction(a, p2wpkh_script(alice_secrets.payment_basepoint.public_key()), 2000);
    REQUIRE(justice);
    CHECK(justice->inputs.size() == 2);
}
