#include "tests/support/wtclient/justice_kit.h"

#include <sodium.h>

#include <algorithm>

#include "common/aead.h"
#include "common/bolt3_scripts.h"
#include "common/byte_reader.h"
#include "common/hash.h"
#include "common/hex.h"
#include "common/script.h"
#include "common/sighash.h"

namespace argus::test::wtclient {

namespace {

__extension__ typedef unsigned __int128 Wide;

// input/size.go
constexpr std::size_t base_tx_size = 4 + 4;
constexpr std::size_t input_size = 32 + 4 + 1 + 4;
constexpr std::size_t witness_header_size = 1 + 1;
constexpr std::size_t p2wkh_output_size = 8 + 1 + 22;
constexpr std::size_t p2wsh_output_size = 8 + 1 + 34;
constexpr std::size_t p2tr_output_size = 8 + 1 + 34;
constexpr std::size_t p2wkh_witness_size = 1 + 1 + 73 + 1 + 33;  // 109
constexpr std::size_t to_local_script_size = 1 + 1 + 33 + 1 + 1 + 4 + 1 + 1 + 1 + 33 + 1 + 1;
constexpr std::size_t to_local_penalty_witness_size =
    1 + 1 + 73 + 1 + 1 + 1 + to_local_script_size;  // 157
constexpr std::size_t to_remote_confirmed_witness_size = 1 + 1 + 73 + 1 + (1 + 33 + 1 + 1 + 1);
constexpr std::size_t taproot_to_local_revoke_witness_size =
    1 + 1 + 65 + 1 + (1 + 32 + 1 + 1 + 32 + 1) + 1 + 33 + 32;  // 202
constexpr std::size_t taproot_to_remote_script_size = 1 + 32 + 1 + 1 + 1 + 1;
constexpr std::size_t taproot_to_remote_witness_size =
    1 + 1 + 65 + 1 + taproot_to_remote_script_size + 1 + 33;  // 139
constexpr std::size_t taproot_to_remote_witness_size_final =
    taproot_to_remote_witness_size - 1;  // 138
constexpr std::size_t max_sweep_address_size = 42;  // blob.MaxSweepAddrSize
constexpr std::uint8_t tapscript_leaf_version = 0xc0;

std::size_t compact_size_bytes(std::size_t n) { return n < 0xfd ? 1 : n <= 0xffff ? 3 : 5; }

// blob/commitments.go: ToLocalWitnessSize. Legacy keeps the 156-byte estimate
// (ToLocalPenaltyWitnessSize - 1) that older lnd clients used.
std::size_t to_local_witness_size(CommitmentType type) {
    switch (type) {
        case CommitmentType::legacy: return to_local_penalty_witness_size - 1;
        case CommitmentType::anchor: return to_local_penalty_witness_size;
        case CommitmentType::taproot:
        case CommitmentType::taproot_final: return taproot_to_local_revoke_witness_size;
    }
    return 0;
}

std::size_t to_remote_witness_size(CommitmentType type) {
    switch (type) {
        case CommitmentType::legacy: return p2wkh_witness_size;
        case CommitmentType::anchor: return to_remote_confirmed_witness_size;
        case CommitmentType::taproot: return taproot_to_remote_witness_size;
        case CommitmentType::taproot_final: return taproot_to_remote_witness_size_final;
    }
    return 0;
}

// backup_task.go addScriptWeight
std::optional<std::size_t> output_size_for(ByteSpan script) {
    switch (classify_script(script)) {
        case ScriptTemplate::p2wpkh: return p2wkh_output_size;
        case ScriptTemplate::p2wsh: return p2wsh_output_size;
        case ScriptTemplate::p2tr: return p2tr_output_size;
        default: return std::nullopt;
    }
}

// lnwallet.DustLimitForSize: btcd's GetDustThreshold for a script of that size.
std::int64_t dust_limit_for_size(std::size_t script_size) {
    switch (script_size) {
        case 22: return 294;  // P2WPKH
        case 34: return 330;  // P2WSH (and P2TR, the same size)
        case 23: return 540;  // P2SH
        case 25: return 546;  // P2PKH
        default: return 330;  // not reachable: addScriptWeight rejects other scripts first
    }
}

Bytes xonly(const PublicKey& key) {
    const XOnlyPublicKey x = key.x_only();
    return Bytes(x.bytes().begin(), x.bytes().end());
}

// input/script_utils.go TaprootLocalCommitDelayScript
Bytes taproot_delay_script(const PublicKey& local_delayed, std::uint32_t csv, bool final_scripts) {
    ScriptBuilder b;
    b.push(xonly(local_delayed));
    if (final_scripts) {
        b.op(OP_CHECKSIGVERIFY).push_number(csv).op(OP_CHECKSEQUENCEVERIFY);
    } else {
        b.op(OP_CHECKSIG).push_number(csv).op(OP_CHECKSEQUENCEVERIFY).op(OP_DROP);
    }
    return b.build();
}

// TaprootLocalCommitRevokeScript: <local_delayed> OP_DROP <revocation> OP_CHECKSIG
Bytes taproot_revoke_script(const PublicKey& local_delayed, const PublicKey& revocation) {
    return ScriptBuilder()
        .push(xonly(local_delayed))
        .op(OP_DROP)
        .push(xonly(revocation))
        .op(OP_CHECKSIG)
        .build();
}

// NewRemoteCommitScriptTree's leaf
Bytes taproot_remote_script(const PublicKey& remote, bool final_scripts) {
    ScriptBuilder b;
    b.push(xonly(remote));
    if (final_scripts) {
        b.op(OP_CHECKSIGVERIFY).op(OP_1).op(OP_CHECKSEQUENCEVERIFY);
    } else {
        b.op(OP_CHECKSIG).op(OP_1).op(OP_CHECKSEQUENCEVERIFY).op(OP_DROP);
    }
    return b.build();
}

Bytes control_block(const TaprootOutputKey& output, const std::optional<Hash256>& sibling) {
    Bytes out;
    out.push_back(static_cast<std::uint8_t>(tapscript_leaf_version | (output.parity_odd ? 1 : 0)));
    const XOnlyPublicKey nums = taproot_nums_key().x_only();
    append(out, nums.bytes());
    if (sibling) append(out, *sibling);
    return out;
}

bool is_taproot(CommitmentType t) {
    return t == CommitmentType::taproot || t == CommitmentType::taproot_final;
}

Error invalid(const std::string& what) { return make_error(ErrorCode::invalid_argument, what); }

// btcd txsort: inputs by previous txid (as displayed, big-endian) then index;
// outputs by value then script bytes.
void bip69_sort(Transaction& tx, std::vector<TxOut>& spent) {
    std::vector<std::size_t> order(tx.inputs.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        const auto& pa = tx.inputs[a].prevout;
        const auto& pb = tx.inputs[b].prevout;
        if (pa.txid != pb.txid) return reversed(pa.txid.bytes) < reversed(pb.txid.bytes);
        return pa.index < pb.index;
    });
    std::vector<TxIn> inputs;
    std::vector<TxOut> outs;
    for (std::size_t i : order) {
        inputs.push_back(tx.inputs[i]);
        outs.push_back(spent[i]);
    }
    tx.inputs = std::move(inputs);
    spent = std::move(outs);
    std::stable_sort(tx.outputs.begin(), tx.outputs.end(), [](const TxOut& a, const TxOut& b) {
        if (a.value != b.value) return a.value < b.value;
        return a.script_pubkey < b.script_pubkey;
    });
}

std::optional<std::uint32_t> find_output(const Transaction& tx, ByteSpan script_pubkey) {
    for (std::size_t i = 0; i < tx.outputs.size(); ++i) {
        const auto& s = tx.outputs[i].script_pubkey;
        if (std::equal(s.begin(), s.end(), script_pubkey.begin(), script_pubkey.end())) {
            return static_cast<std::uint32_t>(i);
        }
    }
    return std::nullopt;
}

Bytes der_with_sighash_all(const EcdsaSignature& signature) {
    Bytes out = serialize_der(signature);
    out.push_back(SIGHASH_ALL);
    return out;
}

}  // namespace

Result<CommitmentType> commitment_type_of(std::uint16_t type) {
    // blob.Type.CommitmentType: the most specific flag wins.
    if (type & blob_flag::taproot_final_channel) return CommitmentType::taproot_final;
    if (type & blob_flag::taproot_channel) return CommitmentType::taproot;
    if (type & blob_flag::anchor_channel) return CommitmentType::anchor;
    if (type & blob_flag::commit_outputs) return CommitmentType::legacy;
    return make_error(ErrorCode::invalid_argument, "unknown blob type");
}

PublicKey taproot_nums_key() {
    static const PublicKey key = [] {
        auto bytes = parse_hex("02dca094751109d0bd055d03565874e8276dd53e926b44e3bd1bb6bf4bc130a279");
        return PublicKey::parse(*bytes).value();
    }();
    return key;
}

const char* to_string(PolicyFailure failure) {
    switch (failure) {
        case PolicyFailure::fee_exceeds_inputs: return "sweep fee exceeds input value";
        case PolicyFailure::reward_exceeds_inputs: return "reward amount exceeds input value";
        case PolicyFailure::creates_dust: return "justice transaction creates dust at fee rate";
        case PolicyFailure::unsupported_script: return "invalid addr type";
        case PolicyFailure::unknown_blob_type: return "unknown blob type";
    }
    return "?";
}

Result<BreachOutputs> breach_outputs(CommitmentType type, const ChannelKeys& keys) {
    BreachOutputs out;
    const bool final_scripts = type == CommitmentType::taproot_final;
    if (!is_taproot(type)) {
        if (keys.csv_delay > 0xffff) return invalid("csv delay above 65535");
        out.to_local_witness_script = bolt3::to_local_script(
            keys.revocation, static_cast<std::uint16_t>(keys.csv_delay), keys.local_delayed);
        out.to_local_script_pubkey = p2wsh_script(out.to_local_witness_script);
        if (type == CommitmentType::legacy) {
            out.to_remote_script_pubkey = p2wpkh_script(keys.to_remote);
        } else {
            out.to_remote_witness_script = bolt3::to_remote_anchors_script(keys.to_remote);
            out.to_remote_script_pubkey = p2wsh_script(out.to_remote_witness_script);
        }
        return out;
    }
    // NewLocalCommitScriptTree: NUMS internal key, leaves {delay, revoke}.
    out.to_local_delay_script = taproot_delay_script(keys.local_delayed, keys.csv_delay,
                                                     final_scripts);
    out.to_local_witness_script = taproot_revoke_script(keys.local_delayed, keys.revocation);
    out.to_local_delay_leaf_hash = tapleaf_hash(tapscript_leaf_version, out.to_local_delay_script);
    const Hash256 root = tapbranch_hash(
        tapleaf_hash(tapscript_leaf_version, out.to_local_witness_script),
        out.to_local_delay_leaf_hash);
    auto local_key = taproot_output_key(taproot_nums_key().x_only(), root);
    if (!local_key) return local_key.error();
    out.to_local_script_pubkey = p2tr_script(local_key->key);
    // NewRemoteCommitScriptTree: NUMS internal key, one leaf.
    out.to_remote_witness_script = taproot_remote_script(keys.to_remote, final_scripts);
    auto remote_key = taproot_output_key(
        taproot_nums_key().x_only(),
        tapleaf_hash(tapscript_leaf_version, out.to_remote_witness_script));
    if (!remote_key) return remote_key.error();
    out.to_remote_script_pubkey = p2tr_script(remote_key->key);
    return out;
}

std::int64_t reward_amount(std::int64_t total, std::uint32_t base, std::uint32_t rate) {
    const auto reward_base = static_cast<std::int64_t>(base);
    if (reward_base > total) return reward_base;
    const Wide after_base = static_cast<Wide>(total - reward_base);
    const Wide proportional = (after_base * rate + 1'000'000 - 1) / 1'000'000;
    return reward_base + static_cast<std::int64_t>(proportional);
}

Result<JusticeAmounts, PolicyFailure> justice_amounts(const SessionPolicy& policy,
                                                      std::int64_t to_local_amount,
                                                      std::int64_t to_remote_amount,
                                                      ByteSpan sweep_script) {
    auto type = commitment_type_of(policy.blob_type);
    if (!type) return PolicyFailure::unknown_blob_type;
    // input.TxWeightEstimator, filled as backupTask.bindSession does.
    std::size_t inputs = 0;
    std::size_t witness = 0;
    if (to_local_amount > 0) {
        ++inputs;
        witness += to_local_witness_size(*type);
    }
    if (to_remote_amount > 0) {
        ++inputs;
        witness += to_remote_witness_size(*type);
    }
    const bool reward = policy.blob_type & blob_flag::reward;
    std::size_t outputs = 1;
    auto sweep_size = output_size_for(sweep_script);
    if (!sweep_size) return PolicyFailure::unsupported_script;
    std::size_t outputs_size = *sweep_size;
    if (reward) {
        auto reward_size = output_size_for(policy.reward_script);
        if (!reward_size) return PolicyFailure::unsupported_script;
        outputs_size += *reward_size;
        ++outputs;
    }
    const std::size_t stripped = base_tx_size + compact_size_bytes(inputs) + inputs * input_size +
                                 compact_size_bytes(outputs) + outputs_size;
    JusticeAmounts out;
    out.weight = stripped * 4 + (inputs > 0 ? witness_header_size + witness : 0);
    out.total = to_local_amount + to_remote_amount;
    // chainfee.SatPerKWeight.FeeForWeight: rate * weight / 1000, rounded down.
    const Wide fee = static_cast<Wide>(policy.sweep_fee_rate) * out.weight / 1000;
    if (fee > static_cast<Wide>(out.total)) return PolicyFailure::fee_exceeds_inputs;
    out.fee = static_cast<std::int64_t>(fee);
    if (reward) {
        // wtpolicy.ComputeRewardOutputs (its dust check uses the reward script's size)
        out.reward = reward_amount(out.total, policy.reward_base, policy.reward_rate);
        if (out.reward + out.fee > out.total) return PolicyFailure::reward_exceeds_inputs;
        out.sweep = out.total - out.reward - out.fee;
        if (out.sweep < dust_limit_for_size(policy.reward_script.size())) {
            return PolicyFailure::creates_dust;
        }
    } else {
        out.sweep = out.total - out.fee;
        if (out.sweep < dust_limit_for_size(sweep_script.size())) {
            return PolicyFailure::creates_dust;
        }
    }
    return out;
}

ByteArray<16> breach_hint(const Txid& breach_txid) {
    const Hash256 h = sha256(breach_txid.bytes);
    ByteArray<16> out;
    std::copy(h.begin(), h.begin() + 16, out.begin());
    return out;
}

ByteArray<32> breach_key(const Txid& breach_txid) {
    Bytes twice(breach_txid.bytes.begin(), breach_txid.bytes.end());
    append(twice, breach_txid.bytes);
    return sha256(twice);
}

Result<Bytes> decrypt_blob(const Txid& breach_txid, ByteSpan encrypted_blob) {
    if (encrypted_blob.size() < 24 + aead_tag_size) {
        return make_error(ErrorCode::truncated, "blob shorter than nonce and tag");
    }
    ByteArray<24> nonce;
    std::copy(encrypted_blob.begin(), encrypted_blob.begin() + 24, nonce.begin());
    ByteArray<32> key = breach_key(breach_txid);
    auto out = xchacha20poly1305_decrypt(key, nonce, encrypted_blob.subspan(24));
    secure_wipe(key.data(), key.size());
    return out;
}

Result<JusticeBackup> build_justice_backup(const Breach& breach, const SessionPolicy& policy,
                                           ByteSpan sweep_script, const ByteArray<24>& nonce) {
    auto type = commitment_type_of(policy.blob_type);
    if (!type) return type.error();
    if (sweep_script.size() > max_sweep_address_size) {
        return invalid("sweep address must be at most 42 bytes");
    }
    const bool taproot = is_taproot(*type);
    const PublicKey revocation = breach.revocation_key.public_key();
    const std::optional<PublicKey> to_remote =
        breach.to_remote_key ? std::optional<PublicKey>(breach.to_remote_key->public_key())
                             : std::nullopt;
    // The script of to_remote does not depend on the key we look for when absent.
    ChannelKeys keys{revocation, breach.local_delayed, to_remote.value_or(revocation),
                     breach.csv_delay};
    auto scripts = breach_outputs(*type, keys);
    if (!scripts) return scripts.error();

    const Txid breach_txid = breach.commitment.txid();
    auto local_index = find_output(breach.commitment, scripts->to_local_script_pubkey);
    if (!local_index) return make_error(ErrorCode::not_found, "commitment has no to_local output");
    std::optional<std::uint32_t> remote_index;
    if (to_remote) remote_index = find_output(breach.commitment, scripts->to_remote_script_pubkey);

    const TxOut local_out = breach.commitment.outputs[*local_index];
    std::optional<TxOut> remote_out;
    if (remote_index) remote_out = breach.commitment.outputs[*remote_index];

    auto amounts = justice_amounts(policy, local_out.value, remote_out ? remote_out->value : 0,
                                   sweep_script);
    if (!amounts) return make_error(ErrorCode::invalid_argument, to_string(amounts.error()));

    // craftSessionPayload: version 2, locktime 0, sequences from BlocksToMaturity
    // (to_local 0; to_remote 0 for legacy, 1 for anchor and taproot), BIP 69.
    Transaction tx;
    tx.version = 2;
    tx.lock_time = 0;
    std::vector<TxOut> spent;
    tx.inputs.push_back(TxIn{{breach_txid, *local_index}, {}, 0, {}});
    spent.push_back(local_out);
    if (remote_index) {
        const std::uint32_t sequence = *type == CommitmentType::legacy ? 0 : 1;
        tx.inputs.push_back(TxIn{{breach_txid, *remote_index}, {}, sequence, {}});
        spent.push_back(*remote_out);
    }
    tx.outputs.push_back(TxOut{amounts->sweep, Bytes(sweep_script.begin(), sweep_script.end())});
    if (policy.blob_type & blob_flag::reward) {
        tx.outputs.push_back(TxOut{amounts->reward, policy.reward_script});
    }
    bip69_sort(tx, spent);

    ByteArray<64> local_signature{};
    ByteArray<64> remote_signature{};
    const ByteArray<32> zero_aux{};
    for (std::size_t i = 0; i < tx.inputs.size(); ++i) {
        const bool is_local = tx.inputs[i].prevout.index == *local_index;
        if (!taproot) {
            // v0: SIGHASH_ALL ECDSA over BIP 143.
            Bytes script_code;
            if (is_local) {
                script_code = scripts->to_local_witness_script;
            } else if (*type == CommitmentType::legacy) {
                script_code = p2wpkh_script_code(*to_remote);
            } else {
                script_code = scripts->to_remote_witness_script;
            }
            const Hash256 digest =
                segwit_v0_sighash(tx, i, script_code, spent[i].value, SIGHASH_ALL);
            const PrivateKey& key = is_local ? breach.revocation_key : *breach.to_remote_key;
            const EcdsaSignature signature = ecdsa_sign(key, digest);
            if (is_local) {
                local_signature = signature.compact;
                // legacyJusticeKit.ToLocalOutputSpendInfo: sig||ALL, 0x01, script
                tx.inputs[i].witness = {der_with_sighash_all(signature), Bytes{1},
                                        scripts->to_local_witness_script};
            } else {
                remote_signature = signature.compact;
                tx.inputs[i].witness = {der_with_sighash_all(signature),
                                        *type == CommitmentType::legacy
                                            ? Bytes(to_remote->bytes().begin(),
                                                    to_remote->bytes().end())
                                            : scripts->to_remote_witness_script};
            }
            continue;
        }
        // taproot: BIP 341 script path, SIGHASH_DEFAULT (64-byte signature).
        const Bytes& leaf = is_local ? scripts->to_local_witness_script
                                     : scripts->to_remote_witness_script;
        auto digest = taproot_sighash(tx, i, spent, SIGHASH_DEFAULT, std::nullopt,
                                      TaprootScriptPath{tapleaf_hash(tapscript_leaf_version, leaf)});
        if (!digest) return digest.error();
        const PrivateKey& key = is_local ? breach.revocation_key : *breach.to_remote_key;
        const ByteArray<64> signature = schnorr_sign(key, *digest, zero_aux);
        std::optional<Hash256> merkle_root;
        std::optional<Hash256> sibling;
        if (is_local) {
            sibling = scripts->to_local_delay_leaf_hash;
            merkle_root = tapbranch_hash(tapleaf_hash(tapscript_leaf_version, leaf), *sibling);
        } else {
            merkle_root = tapleaf_hash(tapscript_leaf_version, leaf);
        }
        auto output_key = taproot_output_key(taproot_nums_key().x_only(), merkle_root);
        if (!output_key) return output_key.error();
        tx.inputs[i].witness = {Bytes(signature.begin(), signature.end()), leaf,
                                control_block(*output_key, sibling)};
        (is_local ? local_signature : remote_signature) = signature;
    }

    // justice_kit_packet.go: v0 (274 bytes) or v1 (300 bytes), big-endian.
    ByteWriter kit;
    kit.write_u8(static_cast<std::uint8_t>(sweep_script.size()));
    Bytes padded(sweep_script.begin(), sweep_script.end());
    padded.resize(max_sweep_address_size, 0);
    kit.write_bytes(padded);
    ByteArray<33> remote_key_bytes{};
    if (remote_index) remote_key_bytes = to_remote->bytes();
    if (!taproot) {
        kit.write_bytes(revocation.bytes());
        kit.write_bytes(breach.local_delayed.bytes());
        kit.write_u32_be(breach.csv_delay);
        kit.write_bytes(local_signature);
        kit.write_bytes(remote_key_bytes);
        kit.write_bytes(remote_signature);
    } else {
        kit.write_bytes(revocation.x_only().bytes());
        kit.write_bytes(breach.local_delayed.x_only().bytes());
        kit.write_bytes(local_signature);
        kit.write_bytes(scripts->to_local_delay_leaf_hash);
        kit.write_bytes(remote_key_bytes);
        kit.write_bytes(remote_signature);
    }

    JusticeBackup out;
    out.kit_plaintext = std::move(kit).take();
    out.hint = breach_hint(breach_txid);
    ByteArray<32> key = breach_key(breach_txid);
    out.encrypted_blob.assign(nonce.begin(), nonce.end());
    append(out.encrypted_blob, xchacha20poly1305_encrypt(key, nonce, out.kit_plaintext));
    secure_wipe(key.data(), key.size());
    out.justice_tx = std::move(tx);
    out.amounts = *amounts;
    out.spent_outputs = std::move(spent);
    return out;
}

Result<JusticeBackup> build_justice_backup(const Breach& breach, const SessionPolicy& policy,
                                           ByteSpan sweep_script) {
    ByteArray<24> nonce;
    if (sodium_init() < 0) return make_error(ErrorCode::unavailable, "libsodium failed to start");
    randombytes_buf(nonce.data(), nonce.size());
    return build_justice_backup(breach, policy, sweep_script, nonce);
}

}  // namespace argus::test::wtclient
