#include <doctest/doctest.h>

#include "client/channel/channel.h"
#include "common/bolt3_keys.h"
#include "common/hex.h"
#include "common/script.h"
#include "common/sighash.h"
#include "tests/unit/client/appendix_c_alice.h"

using namespace argus;
using namespace argus::client;
using namespace argus::test;


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

namespace {
// Appendix C's Alice as a watchtower client holds her: the revocation basepoint
// secret and public keys only, each typed in from the appendix (not derived
// from her other secrets).
WatchedChannel appendix_c_alice_watched(bool anchors, std::int64_t dust_limit) {
    JusticeMaterial material{
        secret_of('2'),  // the appendix's remote revocation basepoint secret
        vector_pubkey("030e9f7b623d2ccc7c9bd44d66d5ce21ce504c0acf6385a132cec6d3c39fa711c1"),  // remote_funding_pubkey
        vector_pubkey("032c0b7cf95324a07d05398b240174dc0c2be444d96b159aa6c7f7b1e668680991"),  // remote_payment_basepoint
        vector_pubkey("032c0b7cf95324a07d05398b240174dc0c2be444d96b159aa6c7f7b1e668680991"),  // = remote htlc basepoint
        vector_pubkey("023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb"),  // local_funding_pubkey
        vector_pubkey("034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa"),  // local_payment_basepoint
        vector_pubkey("023c72addb4fdf09af94f0c94d7fe92a386a7e70cf8a1d85916386bb2535c7b1b1"),  // local_delayed_payment_basepoint
        vector_pubkey("034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa")};  // = local htlc basepoint
    ChannelConfig config;
    config.funding_outpoint = {Txid::from_display_hex("8984484a580b825b9972d7adb15050b3ab624ccd731946b3eeddb92f4e7ef6be").value(), 0};
    config.funding_satoshis = 10'000'000;
    config.local_is_opener = false;
    config.anchors = anchors;
    config.remote_to_self_delay = 144;
    config.dust_limit_satoshis = dust_limit;
    return WatchedChannel(config, material);
}

// The justice transaction the full-secret way, without the channel engine:
// the appendix's own commitment (built from its "local" keys) swept with
// revocationprivkey derived from the revocation basepoint secret.
Result<Transaction> full_secret_justice(const bolt3::Commitment& revoked, const PrivateKey& revocation_basepoint_secret,
                                        const Hash256& per_commitment_secret, const Bytes& destination,
                                        std::uint32_t feerate) {
    auto revocation = bolt3::derive_revocation_privkey(revocation_basepoint_secret,
                                                       PrivateKey::from_bytes(per_commitment_secret).value());
    if (!revocation) return revocation.error();
    bolt3::JusticeRequest request{bolt3::revocable_outputs(revoked), destination, feerate};
    return bolt3::build_justice_transaction(request, *revocation);
}
}  // namespace

TEST_CASE("watched channel: rebuilds every Appendix C and F commitment from public keys and one secret") {
    auto json = load_vectors("bolt3_commitments.json");
    PublicKey bob_point = vector_pubkey("025f7117a78150fe2ef97db7cfc83bd57b2e2c0d0dd25eaf467a4a1c2a45ce1486");
    for (const char* appendix : {"appendix_c", "appendix_f"}) {
        bool anchors = std::string(appendix) == "appendix_f";
        auto spec = appendix_c_channel(anchors);
        for (const auto& v : json[appendix]) {
            CAPTURE(v["name"].get<std::string>());
            WatchedChannel alice = appendix_c_alice_watched(anchors, v["dust_limit_satoshis"].get<std::int64_t>());
            bolt3::Commitment bobs = alice.remote_commitment(alice_view(v, spec), bob_point);
            CHECK(bobs.tx.txid() == parse_transaction(hex_bytes(v["commit_tx"])).value().txid());
            // The keys it derives are the appendix's.
            bolt3::CommitmentKeys keys = alice.remote_commitment_keys(bob_point);
            CHECK(keys.revocation_pubkey == spec.keys.revocation_pubkey);
            CHECK(keys.local_delayed_pubkey == spec.keys.local_delayed_pubkey);
            CHECK(keys.local_htlc_pubkey == spec.keys.local_htlc_pubkey);
            CHECK(keys.remote_htlc_pubkey == spec.keys.remote_htlc_pubkey);
        }
    }
}

TEST_CASE("watched channel: justice from the reduced material equals the full-secret path, Appendix C and F") {
    auto json = load_vectors("bolt3_commitments.json");
    Hash256 secret = hex_array<32>("1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100");
    PublicKey point = vector_pubkey("025f7117a78150fe2ef97db7cfc83bd57b2e2c0d0dd25eaf467a4a1c2a45ce1486");
    Bytes destination = p2wpkh_script(secret_of('4').public_key());
    std::size_t compared = 0, swept = 0;
    for (const char* appendix : {"appendix_c", "appendix_f"}) {
        bool anchors = std::string(appendix) == "appendix_f";
        auto spec = appendix_c_channel(anchors);
        for (const auto& v : json[appendix]) {
            CAPTURE(v["name"].get<std::string>());
            auto dust = v["dust_limit_satoshis"].get<std::int64_t>();
            WatchedChannel watched = appendix_c_alice_watched(anchors, dust);
            REQUIRE(watched.receive_revocation(42, secret, point));
            bolt3::CommitmentParams params = spec.params;
            params.dust_limit_satoshis = dust;
            bolt3::Commitment revoked = bolt3::build_commitment(params, spec.keys, appendix_c_state(spec, v));
            REQUIRE(revoked.tx.txid() == parse_transaction(hex_bytes(v["commit_tx"])).value().txid());
            auto reduced = watched.justice_transaction(alice_view(v, spec), destination, 1000);
            auto full = full_secret_justice(revoked, secret_of('2'), secret, destination, 1000);
            // Both refuse alike where the revoked outputs do not cover the fee (maximum feerate cases).
            REQUIRE(reduced.has_value() == full.has_value());
            ++compared;
            if (!full) {
                CHECK(reduced.error().message == full.error().message);
                continue;
            }
            CHECK(to_hex(reduced->serialize()) == to_hex(full->serialize()));
            // And the full-secret Channel (every one of Alice's secrets) builds the same bytes.
            Channel channel = appendix_c_alice(anchors);
            ChannelConfig config = channel.config();
            config.dust_limit_satoshis = dust;
            channel = Channel(config, channel.local(), channel.remote());
            REQUIRE(channel.receive_revocation(42, secret, point));
            CHECK(to_hex(channel.justice_transaction(alice_view(v, spec), destination, 1000)->serialize()) ==
                  to_hex(full->serialize()));
            ++swept;
        }
    }
    CHECK(compared == json["appendix_c"].size() + json["appendix_f"].size());
    CHECK(swept >= 20);  // most of the appendix's states are worth sweeping
}

TEST_CASE("watched channel: justice for a seed-built channel matches the counterparty's own commitment") {
    Hash256 alice_seed{}, bob_seed{};
    alice_seed.fill(0xa1);
    bob_seed.fill(0xb0);
    auto alice = ChannelSecrets::from_seed(alice_seed);
    auto bob = ChannelSecrets::from_seed(bob_seed);
    ChannelConfig config;
    config.funding_outpoint.txid.bytes[0] = 7;
    config.funding_satoshis = 1'000'000;
    config.local_is_opener = true;
    config.anchors = true;
    // Alice's watchtower client: her revocation secret, everything else public.
    JusticeMaterial material{alice.revocation_basepoint,
                             alice.funding.public_key(),
                             alice.payment_basepoint.public_key(),
                             alice.htlc_basepoint.public_key(),
                             bob.funding.public_key(),
                             bob.payment_basepoint.public_key(),
                             bob.delayed_payment_basepoint.public_key(),
                             bob.htlc_basepoint.public_key()};
    WatchedChannel watched(config, material);
    ChannelConfig bob_config = config;
    bob_config.local_is_opener = false;
    Channel bob_channel(bob_config, bob, ChannelBasepoints::of(alice));
    Bytes destination = p2wpkh_script(alice.payment_basepoint.public_key());
    for (std::uint64_t n = 0; n < 4; ++n) {
        ChannelState alices{n, 600'000'000 - n * 1000, 390'000'000 + n * 1000, 1000,
                            {{bolt3::HtlcDirection::offered, 10'000'000, 800, Hash256{}}}};
        ChannelState bobs{n, alices.remote_msat, alices.local_msat, 1000,
                          {{bolt3::HtlcDirection::received, 10'000'000, 800, Hash256{}}}};
        REQUIRE(watched.receive_revocation(n, bob.per_commitment_secret(n), bob.per_commitment_point(n)));
        bolt3::Commitment bobs_own = bob_channel.local_commitment(bobs);
        auto reduced = watched.justice_transaction(alices, destination, 2000);
        REQUIRE(reduced);
        auto full = full_secret_justice(bobs_own, alice.revocation_basepoint, bob.per_commitment_secret(n), destination, 2000);
        REQUIRE(full);
        CHECK(to_hex(reduced->serialize()) == to_hex(full->serialize()));
        CHECK(reduced->inputs.size() == 2);  // Bob's to_local and the HTLC
    }
}
