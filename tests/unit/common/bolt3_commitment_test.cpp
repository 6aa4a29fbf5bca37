#include <doctest/doctest.h>

#include "common/commitment.h"
#include "common/hex.h"
#include "common/sighash.h"
#include "tests/unit/common/bolt3_appendix_c_fixture.h"

using namespace argus;
using namespace argus::bolt3;
using namespace argus::test;

TEST_CASE("BOLT 3 Appendix C: obscured commitment number") {
    auto channel = appendix_c_channel(false);
    // "obscured commitment number = 0x2bb038521914 ^ 42"
    CHECK(channel.params.obscuring_factor == 0x2bb038521914ULL);
    CHECK(channel.local_funding_privkey.public_key() == channel.keys.local_funding_pubkey);
    CHECK(channel.local_htlc_privkey.public_key() == channel.keys.local_htlc_pubkey);
}

namespace {
void check_htlc_transactions(const AppendixCChannel& channel, const Commitment& commitment,
                             const CommitmentState& state, const nlohmann::json& v, bool anchors,
                             const std::vector<int>& htlc_set) {
    std::size_t next = 0;
    for (std::size_t i = 0; i < commitment.outputs.size(); ++i) {
        const CommitmentOutput& out = commitment.outputs[i];
        if (!out.htlc_index) continue;
        REQUIRE(next < v["htlc_txs"].size());
        const auto& expected = v["htlc_txs"][next++];
        int htlc_id = htlc_set[*out.htlc_index];
        CAPTURE(htlc_id);
        if (expected.contains("htlc")) {
            CHECK(expected["htlc"].get<int>() == htlc_id);
            CHECK(expected["kind"].get<std::string>() ==
                  (out.kind == OutputKind::offered_htlc ? "timeout" : "success"));
        }
        Transaction tx = build_htlc_transaction(commitment, i, channel.params, channel.keys, state);
        std::int64_t amount = commitment.tx.outputs[i].value;
        Hash256 local_digest = htlc_sighash(tx, out, amount, SIGHASH_ALL);
        EcdsaSignature local_sig = ecdsa_sign(channel.local_htlc_privkey, local_digest);
        if (expected.contains("local_signature")) {
            CHECK(to_hex(serialize_der(local_sig)) == expected["local_signature"].get<std::string>());
        }
        auto remote_sig = parse_der_signature(hex_bytes(expected["remote_signature"]));
        REQUIRE(remote_sig);
        Hash256 remote_digest = htlc_sighash(tx, out, amount, remote_htlc_sighash_type(anchors));
        CHECK(ecdsa_verify(channel.keys.remote_htlc_pubkey, remote_digest, *remote_sig));
        std::optional<Hash256> preimage;
        if (out.kind == OutputKind::received_htlc) preimage = channel.preimages[static_cast<std::size_t>(htlc_id)];
        finalize_htlc_transaction(tx, out, local_sig, *remote_sig, anchors, preimage);
        CHECK(to_hex(tx.serialize()) == expected["tx"].get<std::string>());
    }
    CHECK(next == v["htlc_txs"].size());
}

void check_case(const nlohmann::json& v, bool anchors) {
    CAPTURE(v["name"].get<std::string>());
    auto channel = appendix_c_channel(anchors);
    channel.params.dust_limit_satoshis = v["dust_limit_satoshis"].get<std::int64_t>();
    CommitmentState state = appendix_c_state(channel, v);
    Commitment commitment = build_commitment(channel.params, channel.keys, state);

    Hash256 digest = commitment_sighash(commitment, channel.params, channel.keys);
    EcdsaSignature local_sig = ecdsa_sign(channel.local_funding_privkey, digest);
    if (v.contains("local_signature")) {
        CHECK(to_hex(serialize_der(local_sig)) == v["local_signature"].get<std::string>());
    }
    auto remote_sig = parse_der_signature(hex_bytes(v["remote_signature"]));
    REQUIRE(remote_sig);
    CHECK(ecdsa_verify(channel.remote_funding_pubkey, digest, *remote_sig));
    finalize_commitment(commitment, channel.keys, local_sig, *remote_sig);
    CHECK(to_hex(commitment.tx.serialize()) == v["commit_tx"].get<std::string>());
    if (v.contains("num_htlcs")) {
        std::size_t htlc_outputs = 0;
        for (const auto& o : commitment.outputs) htlc_outputs += o.htlc_index.has_value();
        CHECK(htlc_outputs == v["num_htlcs"].get<std::size_t>());
    }
    check_htlc_transactions(channel, commitment, state, v, anchors, v["htlc_set"].get<std::vector<int>>());
}
}  // namespace

TEST_CASE("BOLT 3 Appendix C: every commitment transaction case with HTLC transactions") {
    auto cases = load_vectors("bolt3_commitments.json")["appendix_c"];
    CHECK(cases.size() == 16);
    for (const auto& v : cases) check_case(v, false);
}

TEST_CASE("BOLT 3 Appendix F: every anchors commitment case with HTLC transactions") {
    auto cases = load_vectors("bolt3_commitments.json")["appendix_f"];
    CHECK(cases.size() == 9);
    for (const auto& v : cases) check_case(v, true);
}

TEST_CASE("BOLT 3: fee and trimming arithmetic") {
    CHECK(commitment_weight(0, false) == 724);
    CHECK(commitment_weight(2, true) == 1124 + 344);
    CHECK(htlc_timeout_fee(1000, false) == 663);
    CHECK(htlc_success_fee(1000, false) == 703);
    CHECK(htlc_success_fee(1000, true) == 0);
    Htlc h{HtlcDirection::received, 1'249'000, 0, {}};
    CHECK_FALSE(is_trimmed(h, 1000, 546, false));  // 1249 - 703 = 546
    h.amount_msat = 1'248'999;
    CHECK(is_trimmed(h, 1000, 546, false));
    CHECK_FALSE(is_trimmed(h, 1000, 546, true));
}
