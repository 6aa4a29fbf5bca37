#include <doctest/doctest.h>

#include "common/bech32.h"
#include "common/hash.h"
#include "common/hex.h"
#include "common/script.h"
#include "common/sighash.h"
#include "tests/support/vectors.h"
#include "tests/support/wtclient/justice_kit.h"

using namespace argus;
using namespace argus::test::wtclient;
using argus::test::hex_bytes;

namespace {

// lnd watchtower/wtclient/backup_task_internal_test.go: revPrivBytes,
// toLocalPrivBytes, toRemotePrivBytes, csvDelay = 144, sweepAddr and addrScript.
const char* rev_priv = "8f4b5183a934bd5f746c9d5cae882d310690dd8c9b31bcd17891882af974a0ef";
const char* to_local_priv = "de17c12fdc1bc0c6595df9c13e89bc6f0185457626ce9c553bc9ec3dd88baca8";
const char* to_remote_priv = "28596f36b89f195dcb07488ae5897174704cff1e9c0093bee22e68084cb40f4f";
constexpr std::uint32_t csv_delay = 144;

PrivateKey key(const char* hex) { return PrivateKey::from_bytes(hex_bytes(hex)).value(); }

Bytes sweep_script() {
    return decode_address("tb1qs3jyc9sf5kak3x0w99cav9u605aeu3t600xxx0", Network::testnet).value();
}
Bytes reward_script() {
    return decode_address("tb1pw8gzj8clt3v5lxykpgacpju5n8xteskt7gxhmudu6pa70nwfhe6s3unsyk",
                          Network::testnet)
        .value();
}

struct AmountCase {
    const char* name;
    std::int64_t to_local;
    std::int64_t to_remote;
    bool reward;
    std::uint64_t fee_rate;
    std::int64_t sweep;  // expSweepAmt
    std::int64_t reward_amount;
    std::optional<PolicyFailure> failure;
};

// The per-channel-type expectations of TestBackupTask.
struct ChannelExpectations {
    const char* channel;
    std::uint16_t flag;  // blob flag the test ORs in (anchor or taproot)
    std::int64_t no_reward_both, no_reward_local, no_reward_remote;
    std::int64_t reward_both, reward_local, reward_remote;
    std::uint64_t no_reward_remote_dust_rate, reward_remote_dust_rate;
};

const ChannelExpectations channel_expectations[] = {
    {"legacy", 0, 299241, 199514, 99561, 296069, 197342, 98389, 227500, 175350},
    {"anchor", blob_flag::anchor_channel, 299236, 199513, 99557, 296064, 197341, 98385, 225400,
     174100},
    {"taproot", blob_flag::taproot_channel, 299165, 199468, 99531, 295993, 197296, 98359, 213200,
     167000},
};

std::vector<AmountCase> cases_for(const ChannelExpectations& e) {
    const auto dust = PolicyFailure::creates_dust;
    const auto fee = PolicyFailure::fee_exceeds_inputs;
    return {
        {"commit no-reward, both outputs", 200000, 100000, false, 1000, e.no_reward_both, 0, {}},
        {"commit no-reward, to-local output only", 200000, 0, false, 1000, e.no_reward_local, 0,
         {}},
        {"commit no-reward, to-remote output only", 0, 100000, false, 1000, e.no_reward_remote, 0,
         {}},
        {"commit no-reward, to-remote output only, creates dust", 0, 100000, false,
         e.no_reward_remote_dust_rate, 0, 0, dust},
        {"commit no-reward, no outputs, fee rate exceeds inputs", 0, 0, false, 1000, 0, 0, fee},
        {"commit no-reward, no outputs, fee rate of 0 creates dust", 0, 0, false, 0, 0, 0, dust},
        {"commit reward, both outputs", 200000, 100000, true, 1000, e.reward_both, 3000, {}},
        {"commit reward, to-local output only", 200000, 0, true, 1000, e.reward_local, 2000, {}},
        {"commit reward, to-remote output only", 0, 100000, true, 1000, e.reward_remote, 1000, {}},
        {"commit reward, to-remote output only, creates dust", 0, 108221, true,
         e.reward_remote_dust_rate, 0, 0, dust},
        {"commit reward, no outputs, fee rate exceeds inputs", 0, 0, true, 1000, 0, 0, fee},
        {"commit reward, no outputs, fee rate of 0 creates dust", 0, 0, true, 0, 0, 0, dust},
    };
}

SessionPolicy policy_for(const ChannelExpectations& e, const AmountCase& c) {
    SessionPolicy policy;
    policy.blob_type = static_cast<std::uint16_t>(blob_flag::commit_outputs | e.flag |
                                                  (c.reward ? blob_flag::reward : 0));
    policy.sweep_fee_rate = c.fee_rate;
    policy.reward_rate = 10000;  // the test's session has RewardRate 10000, RewardBase 0
    if (c.reward) policy.reward_script = reward_script();
    return policy;
}

Transaction fabricate_commitment(const BreachOutputs& outputs, std::int64_t to_local,
                                 std::int64_t to_remote) {
    Transaction tx;
    tx.version = 2;
    TxIn funding;
    funding.prevout.txid.bytes.fill(0x42);
    funding.sequence = 0x80000000;
    tx.inputs.push_back(funding);
    if (to_local > 0) tx.outputs.push_back(TxOut{to_local, outputs.to_local_script_pubkey});
    // an unrelated output first, so indexes are not trivially 0 and 1
    tx.outputs.push_back(TxOut{5000, p2wpkh_script(key(rev_priv).public_key())});
    if (to_remote > 0) tx.outputs.push_back(TxOut{to_remote, outputs.to_remote_script_pubkey});
    tx.lock_time = 0x20000000;
    return tx;
}

}  // namespace

TEST_CASE("wtclient: sweep and reward amounts of lnd's backup_task_internal_test.go") {
    for (const auto& e : channel_expectations) {
        for (const auto& c : cases_for(e)) {
            const std::string channel = e.channel;
            const std::string name = c.name;
            CAPTURE(channel);
            CAPTURE(name);
            auto amounts =
                justice_amounts(policy_for(e, c), c.to_local, c.to_remote, sweep_script());
            if (c.failure) {
                REQUIRE_FALSE(amounts);
                CHECK(amounts.error() == *c.failure);
                continue;
            }
            REQUIRE(amounts);
            CHECK(amounts->total == c.to_local + c.to_remote);
            CHECK(amounts->sweep == c.sweep);
            CHECK(amounts->reward == (c.reward ? c.reward_amount : 0));
        }
    }
}

TEST_CASE("wtclient: taproot-final uses the 138-byte to_remote witness estimate") {
    // input/size.go TaprootToRemoteWitnessSizeFinal = 138 (one byte below 139):
    // both outputs at 1000 sat/kw weigh 834 instead of 835.
    SessionPolicy policy;
    policy.blob_type = blob_type::altruist_taproot_final_commit;
    policy.sweep_fee_rate = 1000;
    auto amounts = justice_amounts(policy, 200000, 100000, sweep_script());
    REQUIRE(amounts);
    CHECK(amounts->weight == 834);
    CHECK(amounts->sweep == 299166);
}

TEST_CASE("wtclient: reward amount rounds up (wtpolicy.ComputeRewardAmount)") {
    CHECK(reward_amount(300000, 0, 10000) == 3000);
    CHECK(reward_amount(100001, 0, 10000) == 1001);
    CHECK(reward_amount(100000, 1000, 10000) == 1000 + 990);
    CHECK(reward_amount(500, 1000, 10000) == 1000);  // base above total
}

TEST_CASE("wtclient: blob types and their commitment types") {
    CHECK(commitment_type_of(0x0002).value() == CommitmentType::legacy);
    CHECK(commitment_type_of(0x0003).value() == CommitmentType::legacy);
    CHECK(commitment_type_of(0x0006).value() == CommitmentType::anchor);
    CHECK(commitment_type_of(0x000a).value() == CommitmentType::taproot);
    CHECK(commitment_type_of(0x001a).value() == CommitmentType::taproot_final);
    CHECK_FALSE(commitment_type_of(0x0000));
}

TEST_CASE("wtclient: signed justice transactions verify, kits and blobs have lnd's layout") {
    struct Kind {
        const char* name;
        std::uint16_t blob_type;
        bool with_to_remote;
    };
    const Kind kinds[] = {
        {"legacy both", blob_type::altruist_commit, true},
        {"legacy to_local only", blob_type::altruist_commit, false},
        {"reward both", blob_type::reward_commit, true},
        {"anchor both", blob_type::altruist_anchor_commit, true},
        {"taproot both", blob_type::altruist_taproot_commit, true},
        {"taproot-final both", blob_type::altruist_taproot_final_commit, true},
        {"taproot-final to_local only", blob_type::altruist_taproot_final_commit, false},
    };
    const PrivateKey revocation = key(rev_priv);
    const PublicKey local_delayed = key(to_local_priv).public_key();
    const PrivateKey to_remote = key(to_remote_priv);
    for (const auto& kind : kinds) {
        const std::string kind_name = kind.name;
        CAPTURE(kind_name);
        const CommitmentType type = commitment_type_of(kind.blob_type).value();
        const bool taproot = type == CommitmentType::taproot || type == CommitmentType::taproot_final;
        auto outputs = breach_outputs(
            type, ChannelKeys{revocation.public_key(), local_delayed, to_remote.public_key(),
                              csv_delay});
        REQUIRE(outputs);
        const std::int64_t remote_amount = kind.with_to_remote ? 100000 : 0;
        Transaction commitment = fabricate_commitment(*outputs, 200000, remote_amount);
        SessionPolicy policy;
        policy.blob_type = kind.blob_type;
        policy.sweep_fee_rate = 2500;
        if (kind.blob_type & blob_flag::reward) {
            policy.reward_rate = 10000;
            policy.reward_script = reward_script();
        }
        Breach breach{commitment, revocation, local_delayed, csv_delay, to_remote};
        ByteArray<24> nonce;
        nonce.fill(0x07);
        auto backup = build_justice_backup(breach, policy, sweep_script(), nonce);
        REQUIRE(backup);
        const Transaction& tx = backup->justice_tx;

        // Structure: version 2, locktime 0, one input per output swept, BIP 69.
        CHECK(tx.version == 2);
        CHECK(tx.lock_time == 0);
        REQUIRE(tx.inputs.size() == (kind.with_to_remote ? 2u : 1u));
        const Txid txid = commitment.txid();
        CHECK(tx.inputs[0].prevout == OutPoint{txid, 0});
        if (kind.with_to_remote) CHECK(tx.inputs[1].prevout == OutPoint{txid, 2});
        CHECK(tx.inputs[0].sequence == 0);
        if (kind.with_to_remote) {
            CHECK(tx.inputs[1].sequence == (type == CommitmentType::legacy ? 0u : 1u));
        }
        std::int64_t out_total = 0;
        for (const auto& o : tx.outputs) out_total += o.value;
        auto expected = justice_amounts(policy, 200000, remote_amount, sweep_script());
        REQUIRE(expected);
        CHECK(out_total == 200000 + remote_amount - expected->fee);
        CHECK(expected->fee == static_cast<std::int64_t>(2500 * expected->weight / 1000));
        CHECK(tx.weight() <= expected->weight);
        for (std::size_t i = 1; i < tx.outputs.size(); ++i) {
            CHECK(tx.outputs[i - 1].value <= tx.outputs[i].value);
        }

        // Each input's signature against a sighash computed here.
        std::vector<TxOut> spent;
        for (const auto& in : tx.inputs) spent.push_back(commitment.outputs[in.prevout.index]);
        ByteArray<64> local_sig{};
        ByteArray<64> remote_sig{};
        for (std::size_t i = 0; i < tx.inputs.size(); ++i) {
            const auto& w = tx.inputs[i].witness;
            const bool is_local = tx.inputs[i].prevout.index == 0;
            if (!taproot) {
                REQUIRE(w.size() == (is_local ? 3u : 2u));
                REQUIRE(w[0].back() == SIGHASH_ALL);
                auto sig = parse_der_signature(ByteSpan(w[0]).first(w[0].size() - 1));
                REQUIRE(sig);
                Bytes script_code;
                PublicKey signer = revocation.public_key();
                if (is_local) {
                    CHECK(w[1] == Bytes{1});
                    CHECK(p2wsh_script(w[2]) == spent[i].script_pubkey);
                    script_code = w[2];
                } else if (type == CommitmentType::legacy) {
                    signer = PublicKey::parse(w[1]).value();
                    CHECK(p2wpkh_script(signer) == spent[i].script_pubkey);
                    script_code = p2wpkh_script_code(signer);
                } else {
                    CHECK(p2wsh_script(w[1]) == spent[i].script_pubkey);
                    signer = to_remote.public_key();
                    script_code = w[1];
                }
                const Hash256 digest =
                    segwit_v0_sighash(tx, i, script_code, spent[i].value, SIGHASH_ALL);
                CHECK(ecdsa_verify(signer, digest, *sig));
                (is_local ? local_sig : remote_sig) = sig->compact;
                continue;
            }
            REQUIRE(w.size() == 3u);
            REQUIRE(w[0].size() == 64u);  // SIGHASH_DEFAULT
            const Hash256 leaf = tapleaf_hash(0xc0, w[1]);
            // control block: 0xc0|parity, NUMS x, then the sibling for to_local
            REQUIRE(w[2].size() == (is_local ? 65u : 33u));
            CHECK((w[2][0] & 0xfe) == 0xc0);
            CHECK(to_hex(ByteSpan(w[2]).subspan(1, 32)) ==
                  "dca094751109d0bd055d03565874e8276dd53e926b44e3bd1bb6bf4bc130a279");
            std::optional<Hash256> root = leaf;
            if (is_local) {
                Hash256 sibling;
                std::copy(w[2].begin() + 33, w[2].end(), sibling.begin());
                root = tapbranch_hash(leaf, sibling);
            }
            auto internal = XOnlyPublicKey::parse(ByteSpan(w[2]).subspan(1, 32)).value();
            auto output_key = taproot_output_key(internal, root).value();
            CHECK(p2tr_script(output_key.key) == spent[i].script_pubkey);
            CHECK(output_key.parity_odd == ((w[2][0] & 1) == 1));
            auto digest =
                taproot_sighash(tx, i, spent, SIGHASH_DEFAULT, std::nullopt, TaprootScriptPath{leaf});
            REQUIRE(digest);
            ByteArray<64> sig;
            std::copy(w[0].begin(), w[0].end(), sig.begin());
            const PublicKey signer = is_local ? revocation.public_key() : to_remote.public_key();
            CHECK(schnorr_verify(signer.x_only(), *digest, sig));
            (is_local ? local_sig : remote_sig) = sig;
        }

        // Kit layout (justice_kit_packet.go), offsets written by hand.
        const Bytes& kit = backup->kit_plaintext;
        REQUIRE(kit.size() == (taproot ? 300u : 274u));
        CHECK(kit[0] == 22);
        CHECK(Bytes(kit.begin() + 1, kit.begin() + 23) == sweep_script());
        CHECK(Bytes(kit.begin() + 23, kit.begin() + 43) == Bytes(20, 0));
        const PublicKey remote_key = to_remote.public_key();
        const Bytes remote_pub = kind.with_to_remote
                                     ? Bytes(remote_key.bytes().begin(), remote_key.bytes().end())
                                     : Bytes(33, 0);
        if (!taproot) {
            CHECK(to_hex(ByteSpan(kit).subspan(43, 33)) == to_hex(revocation.public_key().bytes()));
            CHECK(to_hex(ByteSpan(kit).subspan(76, 33)) == to_hex(local_delayed.bytes()));
            CHECK(to_hex(ByteSpan(kit).subspan(109, 4)) == "00000090");
            CHECK(to_hex(ByteSpan(kit).subspan(113, 64)) == to_hex(local_sig));
            CHECK(to_hex(ByteSpan(kit).subspan(177, 33)) == to_hex(remote_pub));
            CHECK(to_hex(ByteSpan(kit).subspan(210, 64)) == to_hex(remote_sig));
        } else {
            CHECK(to_hex(ByteSpan(kit).subspan(43, 32)) ==
                  to_hex(revocation.public_key().x_only().bytes()));
            CHECK(to_hex(ByteSpan(kit).subspan(75, 32)) == to_hex(local_delayed.x_only().bytes()));
            CHECK(to_hex(ByteSpan(kit).subspan(107, 64)) == to_hex(local_sig));
            // delay_script_hash: the settle leaf, the sibling in the to_local control block
            const auto& local_w = tx.inputs[0].witness;
            CHECK(to_hex(ByteSpan(kit).subspan(171, 32)) ==
                  to_hex(ByteSpan(local_w[2]).subspan(33, 32)));
            CHECK(to_hex(ByteSpan(kit).subspan(203, 33)) == to_hex(remote_pub));
            CHECK(to_hex(ByteSpan(kit).subspan(236, 64)) == to_hex(remote_sig));
        }

        // Hint, key and blob (blob/derivation.go, justice_kit_packet.go Encrypt).
        const Hash256 txid_hash = sha256(txid.bytes);
        CHECK(to_hex(backup->hint) == to_hex(ByteSpan(txid_hash).first(16)));
        CHECK(backup->encrypted_blob.size() == 24 + kit.size() + 16);
        CHECK(Bytes(backup->encrypted_blob.begin(), backup->encrypted_blob.begin() + 24) ==
              Bytes(24, 0x07));
        auto opened = decrypt_blob(txid, backup->encrypted_blob);
        REQUIRE(opened);
        CHECK(*opened == kit);
    }
}

TEST_CASE("wtclient: taproot scripts as lnd's input/script_utils.go writes them") {
    const PublicKey revocation = key(rev_priv).public_key();
    const PublicKey local_delayed = key(to_local_priv).public_key();
    const PublicKey remote = key(to_remote_priv).public_key();
    const std::string d = to_hex(local_delayed.x_only().bytes());
    const std::string r = to_hex(revocation.x_only().bytes());
    const std::string m = to_hex(remote.x_only().bytes());
    auto staging = breach_outputs(CommitmentType::taproot,
                                  ChannelKeys{revocation, local_delayed, remote, 144})
                       .value();
    // <delayed> OP_CHECKSIG <144: 0x9000> OP_CSV OP_DROP
    CHECK(to_hex(staging.to_local_delay_script) == "20" + d + "ac" "029000" "b275");
    // <delayed> OP_DROP <revocation> OP_CHECKSIG
    CHECK(to_hex(staging.to_local_witness_script) == "20" + d + "75" "20" + r + "ac");
    // <remote> OP_CHECKSIG OP_1 OP_CSV OP_DROP
    CHECK(to_hex(staging.to_remote_witness_script) == "20" + m + "ac" "51" "b275");
    auto final_scripts = breach_outputs(CommitmentType::taproot_final,
                                        ChannelKeys{revocation, local_delayed, remote, 144})
                             .value();
    CHECK(to_hex(final_scripts.to_local_delay_script) == "20" + d + "ad" "029000" "b2");
    CHECK(to_hex(final_scripts.to_remote_witness_script) == "20" + m + "ad" "51" "b2");
    CHECK(final_scripts.to_local_witness_script == staging.to_local_witness_script);
    CHECK(classify_script(staging.to_local_script_pubkey) == ScriptTemplate::p2tr);
    CHECK(staging.to_local_script_pubkey != final_scripts.to_local_script_pubkey);
}

TEST_CASE("wtclient: the builder refuses what lnd's client refuses") {
    const PrivateKey revocation = key(rev_priv);
    const PublicKey local_delayed = key(to_local_priv).public_key();
    auto outputs = breach_outputs(CommitmentType::legacy,
                                  ChannelKeys{revocation.public_key(), local_delayed,
                                              key(to_remote_priv).public_key(), csv_delay})
                       .value();
    Breach breach{fabricate_commitment(outputs, 200000, 0), revocation, local_delayed, csv_delay,
                  std::nullopt};
    SessionPolicy policy;
    // P2PKH sweep: addScriptWeight's "invalid addr type"
    Hash160 h{};
    CHECK_FALSE(build_justice_backup(breach, policy, p2pkh_script(h)));
    // a sweep address longer than 42 bytes
    CHECK_FALSE(build_justice_backup(breach, policy, Bytes(43, 0x51)));
    // a commitment without the to_local output
    Breach other = breach;
    other.csv_delay = 145;
    CHECK_FALSE(build_justice_backup(other, policy, sweep_script()));
    // a random nonce each time
    auto a = build_justice_backup(breach, policy, sweep_script()).value();
    auto b = build_justice_backup(breach, policy, sweep_script()).value();
    CHECK(a.encrypted_blob != b.encrypted_blob);
    CHECK(a.kit_plaintext == b.kit_plaintext);
}
