#include <doctest/doctest.h>

#include "common/bolt3_keys.h"
#include "common/hex.h"
#include "common/justice.h"
#include "common/script.h"
#include "common/sighash.h"
#include "tests/unit/common/bolt3_appendix_c_fixture.h"

using namespace argus;
using namespace argus::bolt3;
using namespace argus::test;

namespace {
// Appendix C's INTERNAL values: the remote holds the revocation basepoint secret
// and learns the local per-commitment secret when the state is revoked.
PrivateKey appendix_c_revocation_privkey() {
    auto basepoint_secret = vector_privkey(std::string(64, '2'));
    auto per_commitment_secret =
        vector_privkey("1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a0908070605040302010001");
    return derive_revocation_privkey(basepoint_secret, per_commitment_secret).value();
}

Bytes victim_script() {
    return p2wpkh_script(PrivateKey::from_bytes(Bytes(32, 0x77)).value().public_key());
}
}  // namespace

TEST_CASE("justice: revocation key of Appendix C derives from the revealed secret") {
    auto channel = appendix_c_channel(false);
    CHECK(appendix_c_revocation_privkey().public_key() == channel.keys.revocation_pubkey);
}

TEST_CASE("justice: sweeps to_local and every HTLC output of each revoked Appendix C/F commitment") {
    auto json = load_vectors("bolt3_commitments.json");
    PrivateKey revocation = appendix_c_revocation_privkey();
    int swept_cases = 0;
    for (const char* appendix : {"appendix_c", "appendix_f"}) {
        bool anchors = std::string(appendix) == "appendix_f";
        for (const auto& v : json[appendix]) {
            CAPTURE(v["name"].get<std::string>());
            auto channel = appendix_c_channel(anchors);
            channel.params.dust_limit_satoshis = v["dust_limit_satoshis"].get<std::int64_t>();
            auto state = appendix_c_state(channel, v);
            Commitment commitment = build_commitment(channel.params, channel.keys, state);
            Transaction published = parse_transaction(hex_bytes(v["commit_tx"])).value();
            REQUIRE(commitment.tx.txid() == published.txid());

            JusticeRequest request{revocable_outputs(commitment), victim_script(), 2500};
            std::size_t expected_inputs = 0;
            for (const auto& o : commitment.outputs) {
                expected_inputs += o.kind == OutputKind::to_local || o.htlc_index.has_value();
            }
            CHECK(request.outputs.size() == expected_inputs);
            if (request.outputs.empty()) continue;  // e.g. the remote-only single anchor case
            auto justice = build_justice_transaction(request, revocation);
            if (!justice) {
                // Only a lone tiny HTLC can fail to cover the fee.
                CHECK(justice.error().code == ErrorCode::invalid_argument);
                continue;
            }
            ++swept_cases;
            std::int64_t total = 0;
            for (std::size_t i = 0; i < justice->inputs.size(); ++i) {
                const TxIn& in = justice->inputs[i];
                // Spends the spec's published commitment, output by output.
                CHECK(in.prevout.txid == published.txid());
                const TxOut& spent = published.outputs[in.prevout.index];
                CHECK(p2wsh_script(in.witness.back()) == spent.script_pubkey);
                total += spent.value;
                // Independent check: the signature verifies under the revocation pubkey
                // against the BIP143 digest of this input.
                const Bytes& sig = in.witness[0];
                CHECK(sig.back() == SIGHASH_ALL);
                auto parsed = parse_der_signature(ByteSpan(sig.data(), sig.size() - 1)).value();
                Hash256 digest = segwit_v0_sighash(*justice, i, in.witness.back(), spent.value, SIGHASH_ALL);
                CHECK(ecdsa_verify(channel.keys.revocation_pubkey, digest, parsed));
                // BOLT 3 witness forms: <sig> 1 for to_local, <sig> <revocationpubkey> for HTLCs.
                if (request.outputs[i].kind == OutputKind::to_local) {
                    CHECK(in.witness[1] == Bytes{0x01});
                } else {
                    CHECK(in.witness[1] == Bytes(channel.keys.revocation_pubkey.bytes().begin(),
                                                  channel.keys.revocation_pubkey.bytes().end()));
                }
            }
            REQUIRE(justice->outputs.size() == 1);
            CHECK(justice->outputs[0].script_pubkey == victim_script());
            std::int64_t fee = total - justice->outputs[0].value;
            std::int64_t actual_weight = static_cast<std::int64_t>(justice->weight());
            CHECK(fee >= 2500 * actual_weight / 1000);                   // pays at least the feerate
            CHECK(fee <= 2500 * (actual_weight + 4 * justice->inputs.size()) / 1000 + 1);  // not much more
        }
    }
    CHECK(swept_cases >= 20);
}

TEST_CASE("justice: refuses the wrong key, nothing to sweep, and fees above the value") {
    auto channel = appendix_c_channel(false);
    auto json = load_vectors("bolt3_commitments.json");
    auto state = appendix_c_state(channel, json["appendix_c"][1]);
    Commitment commitment = build_commitment(channel.params, channel.keys, state);
    JusticeRequest request{revocable_outputs(commitment), victim_script(), 2500};

    auto wrong = PrivateKey::from_bytes(Bytes(32, 0x09)).value();
    CHECK(build_justice_transaction(request, wrong).error().code == ErrorCode::invalid_argument);

    JusticeRequest empty{{}, victim_script(), 2500};
    CHECK_FALSE(build_justice_transaction(empty, appendix_c_revocation_privkey()));

    JusticeRequest expensive = request;
    expensive.feerate_per_kw = 50'000'000;
    CHECK_FALSE(build_justice_transaction(expensive, appendix_c_revocation_privkey()));

    // A tampered transaction fails verification.
    auto justice = build_justice_transaction(request, appendix_c_revocation_privkey()).value();
    CHECK(verify_justice_transaction(justice, request, channel.keys.revocation_pubkey));
    justice.outputs[0].value -= 1;
    CHECK(verify_justice_transaction(justice, request, channel.keys.revocation_pubkey).error().code ==
          ErrorCode::invalid_signature);
}
