#include "common/lnd_justice.h"

#include <algorithm>
#include <limits>
#include <string>

#include "common/aead.h"
#include "common/byte_reader.h"
#include "common/check.h"
#include "common/commitment.h"
#include "common/hash.h"
#include "common/script.h"
#include "common/sighash.h"
#include "common/watchtower_crypto.h"

namespace argus::lnd {

namespace {

// lnd blob/commitments.go CommitmentType, as Type.CommitmentType resolves it.
enum class CommitmentType { legacy, anchor, taproot, taproot_final };

std::optional<CommitmentType> commitment_type(std::uint16_t blob_type) {
    if (has_flag(blob_type, blob_flag::taproot_final)) return CommitmentType::taproot_final;
    if (has_flag(blob_type, blob_flag::taproot_commitment)) return CommitmentType::taproot;
    if (has_flag(blob_type, blob_flag::anchor_commitment)) return CommitmentType::anchor;
    if (has_flag(blob_type, blob_flag::commit_outputs)) return CommitmentType::legacy;
    return std::nullopt;
}

bool is_taproot(CommitmentType type) {
    return type == CommitmentType::taproot || type == CommitmentType::taproot_final;
}

Error unsupported_type(std::uint16_t blob_type) {
    return make_error(ErrorCode::invalid_argument,
                      "lnd blob type " + std::to_string(blob_type) + " is not supported");
}

bool all_zero(ByteSpan bytes) {
    return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
}

// A v1 kit's x-only key as the even-y point of that x coordinate.
Result<PublicKey> even_key_from_x_only(const ByteArray<32>& x) {
    auto parsed = XOnlyPublicKey::parse(x);
    if (!parsed) return make_error(ErrorCode::invalid_key, "kit x-only key is not on the curve");
    Bytes compressed{0x02};
    append(compressed, x);
    return PublicKey::parse(compressed);
}

Result<PublicKey> compressed_key(const ByteArray<33>& bytes, const char* what) {
    if (bytes[0] != 0x02 && bytes[0] != 0x03) {
        return make_error(ErrorCode::invalid_key, std::string(what) + " is not a compressed key");
    }
    auto key = PublicKey::parse(bytes);
    if (!key) return make_error(ErrorCode::invalid_key, std::string(what) + " is not on the curve");
    return key;
}

// btcec's ecdsa.Signature.Serialize always writes the low-S form, so lnd's
// witness carries s' = n - s for a kit signature with a high s.
EcdsaSignature normalized_low_s(const EcdsaSignature& signature) {
    if (is_low_s(signature)) return signature;
    static constexpr ByteArray<32> order = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
                                            0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b,
                                            0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
    EcdsaSignature out = signature;
    int borrow = 0;
    for (int i = 31; i >= 0; --i) {
        int difference = order[static_cast<std::size_t>(i)] -
                         signature.compact[32 + static_cast<std::size_t>(i)] - borrow;
        borrow = difference < 0 ? 1 : 0;
        out.compact[32 + static_cast<std::size_t>(i)] =
            static_cast<std::uint8_t>(difference + (borrow << 8));
    }
    return out;
}

Bytes control_block(bool output_key_odd, const std::optional<Hash256>& sibling) {
    // BIP341: (leaf_version | parity) || internal key || merkle path.
    Bytes out{static_cast<std::uint8_t>(0xc0 | (output_key_odd ? 1 : 0))};
    append(out, taproot_nums_key().bytes());
    if (sibling) append(out, *sibling);
    return out;
}

constexpr std::int64_t max_money = 21'000'000LL * 100'000'000LL;

// One output of the breach transaction the justice transaction spends.
struct BreachedInput {
    OutPoint outpoint;
    TxOut spent;
    std::uint32_t sequence = 0;
    std::vector<Bytes> witness;
    // How its signature is checked.
    bool taproot = false;
    std::optional<PublicKey> signer;  // ECDSA key, or the even-y form of the x-only key
    Bytes script_code;                // BIP143 scriptCode (v0)
    Hash256 leaf_hash{};              // BIP341 script path (taproot)
    ByteArray<64> signature{};        // compact ECDSA or BIP340
};

Result<BreachedInput> find_output(const Transaction& breach_tx, const Bytes& script_pubkey,
                                  const char* what) {
    // lookout findTxOutByPkScript: the first output with the script.
    for (std::size_t i = 0; i < breach_tx.outputs.size(); ++i) {
        const TxOut& out = breach_tx.outputs[i];
        if (out.script_pubkey != script_pubkey) continue;
        if (out.value < 0 || out.value > max_money) {
            return make_error(ErrorCode::invalid_argument,
                              std::string(what) + " output value is out of range");
        }
        BreachedInput in;
        in.outpoint = OutPoint{breach_tx.txid(), static_cast<std::uint32_t>(i)};
        in.spent = out;
        return in;
    }
    return make_error(ErrorCode::not_found, std::string("lnd lookout: ") + what +
                                                " output not found in the breach transaction");
}

Result<BreachedInput> to_local_input(const JusticeKit& kit, CommitmentType type,
                                     const Transaction& breach_tx) {
    if (!is_taproot(type)) {
        // legacyJusticeKit.ToLocalOutputSpendInfo: P2WSH(CommitScriptToSelf),
        // witness <sig||SIGHASH_ALL> 1 <script>.
        Bytes script =
            commit_to_local_script(kit.revocation_pubkey, kit.csv_delay, kit.local_delay_pubkey);
        auto in = find_output(breach_tx, p2wsh_script(script), "to_local");
        if (!in) return in;
        in->signer = kit.revocation_pubkey;
        in->script_code = script;
        in->signature = kit.to_local_signature;
        in->witness = {Bytes{}, Bytes{0x01}, script};
        return in;
    }
    // taprootJusticeKit.ToLocalOutputSpendInfo: the revocation leaf of a tree
    // {revoke leaf, delay leaf} under the NUMS key; witness <sig> <script> <control block>.
    Bytes script = taproot_to_local_revoke_script(kit.local_delay_pubkey.x_only(),
                                                  kit.revocation_pubkey.x_only());
    Hash256 leaf = tapleaf_hash(0xc0, script);
    Hash256 root = tapbranch_hash(leaf, kit.delay_leaf_hash);
    auto output_key = taproot_output_key(taproot_nums_key(), root);
    if (!output_key) return output_key.error();
    auto in = find_output(breach_tx, p2tr_script(output_key->key), "taproot to_local");
    if (!in) return in;
    in->taproot = true;
    in->signer = kit.revocation_pubkey;
    in->leaf_hash = leaf;
    in->signature = kit.to_local_signature;
    in->witness = {Bytes(kit.to_local_signature.begin(), kit.to_local_signature.end()), script,
                   control_block(output_key->parity_odd, kit.delay_leaf_hash)};
    return in;
}

Result<BreachedInput> to_remote_input(const ToRemoteKit& remote, CommitmentType type,
                                      const Transaction& breach_tx) {
    Bytes pubkey(remote.pubkey.bytes().begin(), remote.pubkey.bytes().end());
    switch (type) {
        case CommitmentType::legacy: {
            // legacyJusticeKit: P2WPKH, witness <sig||SIGHASH_ALL> <pubkey>, sequence 0.
            auto in = find_output(breach_tx, p2wpkh_script(remote.pubkey), "to_remote");
            if (!in) return in;
            in->signer = remote.pubkey;
            in->script_code = p2wpkh_script_code(remote.pubkey);
            in->signature = remote.signature;
            in->witness = {Bytes{}, pubkey};
            return in;
        }
        case CommitmentType::anchor: {
            // anchorJusticeKit: P2WSH(<pk> OP_CHECKSIGVERIFY 1 OP_CSV), sequence 1.
            Bytes script = ScriptBuilder()
                               .push(pubkey)
                               .op(OP_CHECKSIGVERIFY)
                               .op(OP_1)
                               .op(OP_CHECKSEQUENCEVERIFY)
                               .build();
            auto in = find_output(breach_tx, p2wsh_script(script), "anchor to_remote");
            if (!in) return in;
            in->sequence = 1;
            in->signer = remote.pubkey;
            in->script_code = script;
            in->signature = remote.signature;
            in->witness = {Bytes{}, script};
            return in;
        }
        case CommitmentType::taproot:
        case CommitmentType::taproot_final: {
            // taprootJusticeKit: the one-leaf tree under the NUMS key, sequence 1.
            Bytes script = taproot_to_remote_script(remote.pubkey.x_only(),
                                                    type == CommitmentType::taproot_final);
            Hash256 leaf = tapleaf_hash(0xc0, script);
            auto output_key = taproot_output_key(taproot_nums_key(), leaf);
            if (!output_key) return output_key.error();
            auto in = find_output(breach_tx, p2tr_script(output_key->key), "taproot to_remote");
            if (!in) return in;
            in->sequence = 1;
            in->taproot = true;
            in->signer = remote.pubkey;
            in->leaf_hash = leaf;
            in->signature = remote.signature;
            in->witness = {Bytes(remote.signature.begin(), remote.signature.end()), script,
                           control_block(output_key->parity_odd, std::nullopt)};
            return in;
        }
    }
    return make_error(ErrorCode::invalid_argument, "unknown commitment type");
}

// BIP 69 (btcd txsort): inputs by previous txid in display order, then index;
// outputs by value, then script bytes.
bool input_before(const BreachedInput& a, const BreachedInput& b) {
    if (a.outpoint.txid == b.outpoint.txid) return a.outpoint.index < b.outpoint.index;
    return reversed(a.outpoint.txid.bytes) < reversed(b.outpoint.txid.bytes);
}
bool output_before(const TxOut& a, const TxOut& b) {
    if (a.value != b.value) return a.value < b.value;
    return a.script_pubkey < b.script_pubkey;
}

}  // namespace

bool is_supported_blob_type(std::uint16_t blob_type) {
    return blob_type == blob_type_altruist_legacy || blob_type == blob_type_reward ||
           blob_type == blob_type_altruist_anchor || blob_type == blob_type_altruist_taproot ||
           blob_type == blob_type_altruist_taproot_final;
}

std::size_t kit_plaintext_size(std::uint16_t blob_type) {
    if (!is_supported_blob_type(blob_type)) return 0;
    return has_flag(blob_type, blob_flag::taproot_commitment) ? kit_v1_plaintext_size
                                                              : kit_v0_plaintext_size;
}

std::size_t blob_size(std::uint16_t blob_type) {
    std::size_t plaintext = kit_plaintext_size(blob_type);
    return plaintext == 0 ? 0 : blob_nonce_size + plaintext + aead_tag_size;
}

Result<JusticeKit> decode_justice_kit(std::uint16_t blob_type, ByteSpan plaintext) {
    if (!is_supported_blob_type(blob_type)) return unsupported_type(blob_type);
    const bool v1 = has_flag(blob_type, blob_flag::taproot_commitment);
    const std::size_t expected = kit_plaintext_size(blob_type);
    if (plaintext.size() != expected) {
        return make_error(
            plaintext.size() < expected ? ErrorCode::truncated : ErrorCode::trailing_data,
            "lnd justice kit v" + std::string(v1 ? "1" : "0") + " must be " +
                std::to_string(expected) + " bytes, got " + std::to_string(plaintext.size()));
    }
    ByteReader reader(plaintext);
    // justice_kit_packet.go: sweep address length (1) | padded sweep address (42)
    std::uint8_t sweep_size = reader.read_u8();
    ByteArray<max_sweep_script_size> padded = reader.read_array<max_sweep_script_size>();
    if (sweep_size > max_sweep_script_size) {
        return make_error(ErrorCode::malformed,
                          "lnd: sweep address must be <= 42 bytes (ErrSweepAddressToLong)");
    }
    if (!all_zero(ByteSpan(padded).subspan(sweep_size))) {
        return make_error(ErrorCode::malformed, "lnd justice kit: non-zero sweep address padding");
    }
    Bytes sweep_script(padded.begin(), padded.begin() + sweep_size);

    std::optional<PublicKey> revocation;
    std::optional<PublicKey> local_delay;
    std::uint32_t csv_delay = 0;
    Hash256 delay_leaf_hash{};
    ByteArray<64> to_local_signature{};
    if (!v1) {
        // v0: revocation pubkey (33) | local delay pubkey (33) | csv delay (4) | to_local sig (64)
        auto rev = compressed_key(reader.read_array<33>(), "revocation pubkey");
        if (!rev) return rev.error();
        auto delay = compressed_key(reader.read_array<33>(), "local delay pubkey");
        if (!delay) return delay.error();
        revocation = *rev;
        local_delay = *delay;
        csv_delay = reader.read_u32_be();
        to_local_signature = reader.read_array<64>();
    } else {
        // v1: revocation x-only (32) | local delay x-only (32) | to_local sig (64) | delay leaf
        // hash (32)
        auto rev = even_key_from_x_only(reader.read_array<32>());
        if (!rev) return rev.error();
        auto delay = even_key_from_x_only(reader.read_array<32>());
        if (!delay) return delay.error();
        revocation = *rev;
        local_delay = *delay;
        to_local_signature = reader.read_array<64>();
        delay_leaf_hash = reader.read_array<32>();
    }
    // both: to_remote pubkey (33, blank when absent) | to_remote sig (64, blank when absent)
    ByteArray<33> remote_key = reader.read_array<33>();
    ByteArray<64> remote_signature = reader.read_array<64>();
    ARGUS_CHECK(reader.ok() && reader.remaining() == 0);  // the size was checked above

    std::optional<ToRemoteKit> to_remote;
    if (all_zero(remote_key)) {
        if (!all_zero(remote_signature)) {
            return make_error(ErrorCode::malformed,
                              "lnd justice kit: to_remote signature without a to_remote key");
        }
    } else {
        auto key = compressed_key(remote_key, "to_remote pubkey");
        if (!key) return key.error();
        to_remote = ToRemoteKit{*key, remote_signature};
    }
    return JusticeKit{std::move(sweep_script), *revocation,        *local_delay,        csv_delay,
                      delay_leaf_hash,         to_local_signature, std::move(to_remote)};
}

Bytes encode_justice_kit(std::uint16_t blob_type, const JusticeKit& kit) {
    ARGUS_CHECK(is_supported_blob_type(blob_type));
    ARGUS_CHECK(kit.sweep_script.size() <= max_sweep_script_size);
    const bool v1 = has_flag(blob_type, blob_flag::taproot_commitment);
    ByteWriter writer;
    writer.write_u8(static_cast<std::uint8_t>(kit.sweep_script.size()));
    ByteArray<max_sweep_script_size> padded{};
    std::copy(kit.sweep_script.begin(), kit.sweep_script.end(), padded.begin());
    writer.write_bytes(padded);
    if (!v1) {
        writer.write_bytes(kit.revocation_pubkey.bytes());
        writer.write_bytes(kit.local_delay_pubkey.bytes());
        writer.write_u32_be(kit.csv_delay);
        writer.write_bytes(kit.to_local_signature);
    } else {
        writer.write_bytes(kit.revocation_pubkey.x_only().bytes());
        writer.write_bytes(kit.local_delay_pubkey.x_only().bytes());
        writer.write_bytes(kit.to_local_signature);
        writer.write_bytes(kit.delay_leaf_hash);
    }
    if (kit.to_remote) {
        writer.write_bytes(kit.to_remote->pubkey.bytes());
        writer.write_bytes(kit.to_remote->signature);
    } else {
        writer.write_bytes(ByteArray<33 + 64>{});
    }
    Bytes out = std::move(writer).take();
    ARGUS_CHECK(out.size() == kit_plaintext_size(blob_type));
    return out;
}

Result<JusticeKit> decrypt_justice_kit(std::uint16_t blob_type, ByteSpan encrypted_blob,
                                       const Txid& breach_txid) {
    if (!is_supported_blob_type(blob_type)) return unsupported_type(blob_type);
    if (encrypted_blob.size() != blob_size(blob_type)) {
        return make_error(ErrorCode::malformed,
                          "lnd encrypted blob of type " + std::to_string(blob_type) + " must be " +
                              std::to_string(blob_size(blob_type)) + " bytes, got " +
                              std::to_string(encrypted_blob.size()));
    }
    ByteArray<24> nonce{};
    std::copy(encrypted_blob.begin(), encrypted_blob.begin() + blob_nonce_size, nonce.begin());
    Hash256 key = breach_key(breach_txid);
    auto plaintext = xchacha20poly1305_decrypt(key, nonce, encrypted_blob.subspan(blob_nonce_size));
    secure_wipe(key.data(), key.size());
    if (!plaintext) {
        return make_error(ErrorCode::decryption_failed,
                          "lnd blob does not decrypt under this breach txid");
    }
    auto kit = decode_justice_kit(blob_type, *plaintext);
    secure_wipe(plaintext->data(), plaintext->size());
    return kit;
}

Bytes encrypt_justice_kit(std::uint16_t blob_type, const JusticeKit& kit, const Txid& breach_txid,
                          const ByteArray<24>& nonce) {
    Bytes plaintext = encode_justice_kit(blob_type, kit);
    Hash256 key = breach_key(breach_txid);
    Bytes out(nonce.begin(), nonce.end());
    append(out, xchacha20poly1305_encrypt(key, nonce, plaintext));
    secure_wipe(key.data(), key.size());
    secure_wipe(plaintext.data(), plaintext.size());
    return out;
}

Status validate_policy(const SessionPolicy& policy) {
    if (!is_supported_blob_type(policy.blob_type)) return unsupported_type(policy.blob_type);
    if (!has_flag(policy.blob_type, blob_flag::reward) &&
        (policy.reward_base != 0 || policy.reward_rate != 0)) {
        return make_error(ErrorCode::invalid_argument,
                          "wtpolicy: altruist policy has reward params (ErrAltruistReward)");
    }
    if (policy.sweep_fee_rate < min_sweep_fee_rate) {
        return make_error(ErrorCode::invalid_argument,
                          "wtpolicy: sweep fee rate below 1000 sat/kw (ErrSweepFeeRateTooLow)");
    }
    return {};
}

Result<std::uint64_t> justice_transaction_weight(std::uint16_t blob_type, bool has_to_local,
                                                 bool has_to_remote, std::size_t sweep_script_size,
                                                 std::size_t reward_script_size) {
    auto type = commitment_type(blob_type);
    if (!type) return unsupported_type(blob_type);
    // lookout CreateJusticeTxn: a 22-byte sweep script weighs as P2WPKH, a
    // 34-byte one as P2WSH (P2TR is the same size); anything else is
    // ErrUnknownSweepAddrType.
    if (sweep_script_size != 22 && sweep_script_size != 34) {
        return make_error(ErrorCode::invalid_argument,
                          "lnd lookout: sweep script of " + std::to_string(sweep_script_size) +
                              " bytes is not p2wkh, p2wsh or p2tr (ErrUnknownSweepAddrType)");
    }
    // input/size.go TxWeightEstimator.
    constexpr std::uint64_t input_size = 32 + 4 + 1 + 4;  // InputSize
    constexpr std::uint64_t base_output_size = 8 + 1;     // BaseOutputSize
    constexpr std::uint64_t base_tx_size = 4 + 4;         // BaseTxSize
    constexpr std::uint64_t witness_header_size = 2;      // WitnessHeaderSize
    std::uint64_t inputs = 0, input_bytes = 0, witness_bytes = 0, outputs = 0, output_bytes = 0;
    auto add_input = [&](std::uint64_t witness) {
        ++inputs;
        input_bytes += input_size;
        witness_bytes += witness;
    };
    auto add_output = [&](std::size_t script_size) {
        ++outputs;
        output_bytes += base_output_size + script_size;
    };
    if (has_to_local) {
        // blob/commitments.go ToLocalWitnessSize: legacy types keep the old
        // one-byte underestimate so historic signatures stay valid.
        switch (*type) {
            case CommitmentType::legacy:
                add_input(witness_size::to_local_penalty_legacy);
                break;
            case CommitmentType::anchor:
                add_input(witness_size::to_local_penalty);
                break;
            case CommitmentType::taproot:
            case CommitmentType::taproot_final:
                add_input(witness_size::taproot_to_local_revoke);
                break;
        }
    }
    if (has_to_remote) {
        // ToRemoteWitnessSize.
        switch (*type) {
            case CommitmentType::legacy:
                add_input(witness_size::p2wkh);
                break;
            case CommitmentType::anchor:
                add_input(witness_size::to_remote_confirmed);
                break;
            case CommitmentType::taproot:
                add_input(witness_size::taproot_to_remote);
                break;
            case CommitmentType::taproot_final:
                add_input(witness_size::taproot_to_remote_final);
                break;
        }
    }
    add_output(sweep_script_size);
    if (has_flag(blob_type, blob_flag::reward)) add_output(reward_script_size);
    std::uint64_t stripped = base_tx_size + compact_size_length(inputs) + input_bytes +
                             compact_size_length(outputs) + output_bytes;
    std::uint64_t weight = stripped * 4;
    if (inputs > 0) weight += witness_header_size + witness_bytes;
    return weight;
}

std::optional<std::uint64_t> fee_for_weight(std::uint64_t fee_rate_per_kw, std::uint64_t weight) {
    if (weight != 0 && fee_rate_per_kw > std::numeric_limits<std::uint64_t>::max() / weight) {
        return std::nullopt;
    }
    return fee_rate_per_kw * weight / 1000;
}

std::int64_t compute_reward_amount(std::int64_t total, std::uint32_t base, std::uint32_t rate) {
    // wtpolicy ComputeRewardAmount: "rounded up to the nearest whole satoshi".
    const std::int64_t reward_base = base;
    if (reward_base > total) return reward_base;
    const std::int64_t after_base = total - reward_base;
    // after_base <= 2^63 and rate < 2^32 can overflow 64 bits only for
    // amounts far beyond 21M BTC; compute in 128 bits to stay exact.
    __extension__ typedef unsigned __int128 Uint128;
    const Uint128 scaled = static_cast<Uint128>(after_base) * rate;
    const auto proportional = static_cast<std::int64_t>((scaled + reward_scale - 1) / reward_scale);
    return reward_base + proportional;
}

std::int64_t dust_limit_for_script_size(std::size_t script_size) {
    // btcd mempool.GetDustThreshold: 3 * (output size + 41 + (107 / 4 for a
    // witness program, 107 otherwise)).
    auto threshold = [](std::size_t size, bool witness) {
        return 3 * static_cast<std::int64_t>(8 + 1 + size + 41 + (witness ? 26 : 107));
    };
    switch (script_size) {
        case 22:
            return threshold(22, true);  // P2WPKH: 294
        case 34:
            return threshold(34, true);  // P2WSH, P2TR: 330
        case 23:
            return threshold(23, false);  // P2SH: 540
        case 25:
            return threshold(25, false);  // P2PKH: 546
        default:
            return threshold(42, true);  // GenerateUnknownWitness: 354
    }
}

Result<JusticeAmounts> compute_justice_amounts(const SessionPolicy& policy,
                                               std::int64_t total_amount, std::uint64_t weight,
                                               std::size_t sweep_script_size) {
    if (total_amount < 0 || total_amount > max_money) {
        return make_error(ErrorCode::invalid_argument, "justice input total is out of range");
    }
    auto fee = fee_for_weight(policy.sweep_fee_rate, weight);
    if (!fee || *fee > static_cast<std::uint64_t>(total_amount)) {
        return make_error(ErrorCode::invalid_argument,
                          "wtpolicy: sweep fee exceeds input value (ErrFeeExceedsInputs)");
    }
    JusticeAmounts amounts;
    amounts.fee = static_cast<std::int64_t>(*fee);
    if (has_flag(policy.blob_type, blob_flag::reward)) {
        amounts.reward =
            compute_reward_amount(total_amount, policy.reward_base, policy.reward_rate);
        if (amounts.reward + amounts.fee > total_amount) {
            return make_error(
                ErrorCode::invalid_argument,
                "wtpolicy: reward amount exceeds input value (ErrRewardExceedsInputs)");
        }
        amounts.sweep = total_amount - amounts.reward - amounts.fee;
        // wtpolicy ComputeRewardOutputs checks the victim's output against the
        // dust limit of the reward script's size.
        if (amounts.sweep < dust_limit_for_script_size(policy.reward_script.size())) {
            return make_error(
                ErrorCode::invalid_argument,
                "wtpolicy: justice transaction creates dust at fee rate (ErrCreatesDust)");
        }
        return amounts;
    }
    amounts.sweep = total_amount - amounts.fee;
    if (amounts.sweep < dust_limit_for_script_size(sweep_script_size)) {
        return make_error(
            ErrorCode::invalid_argument,
            "wtpolicy: justice transaction creates dust at fee rate (ErrCreatesDust)");
    }
    return amounts;
}

const XOnlyPublicKey& taproot_nums_key() {
    // input/script_utils.go TaprootNUMSHex
    // 02dca094751109d0bd055d03565874e8276dd53e926b44e3bd1bb6bf4bc130a279.
    static const XOnlyPublicKey key =
        XOnlyPublicKey::parse(ByteArray<32>{0xdc, 0xa0, 0x94, 0x75, 0x11, 0x09, 0xd0, 0xbd,
                                            0x05, 0x5d, 0x03, 0x56, 0x58, 0x74, 0xe8, 0x27,
                                            0x6d, 0xd5, 0x3e, 0x92, 0x6b, 0x44, 0xe3, 0xbd,
                                            0x1b, 0xb6, 0xbf, 0x4b, 0xc1, 0x30, 0xa2, 0x79})
            .value();
    return key;
}

Bytes taproot_to_local_revoke_script(const XOnlyPublicKey& local_delay_key,
                                     const XOnlyPublicKey& revocation_key) {
    return ScriptBuilder()
        .push(local_delay_key.bytes())
        .op(OP_DROP)
        .push(revocation_key.bytes())
        .op(OP_CHECKSIG)
        .build();
}

Bytes taproot_to_remote_script(const XOnlyPublicKey& remote_key, bool production) {
    ScriptBuilder script;
    script.push(remote_key.bytes());
    if (production) {
        script.op(OP_CHECKSIGVERIFY).op(OP_1).op(OP_CHECKSEQUENCEVERIFY);
    } else {
        script.op(OP_CHECKSIG).op(OP_1).op(OP_CHECKSEQUENCEVERIFY).op(OP_DROP);
    }
    return script.build();
}

Bytes commit_to_local_script(const PublicKey& revocation_pubkey, std::uint32_t csv_delay,
                             const PublicKey& local_delay_pubkey) {
    // BOLT #3: OP_IF <revocationpubkey> OP_ELSE `to_self_delay` OP_CSV OP_DROP
    // <local_delayedpubkey> OP_ENDIF OP_CHECKSIG
    return ScriptBuilder()
        .op(OP_IF)
        .push(revocation_pubkey.bytes())
        .op(OP_ELSE)
        .push_number(csv_delay)
        .op(OP_CHECKSEQUENCEVERIFY)
        .op(OP_DROP)
        .push(local_delay_pubkey.bytes())
        .op(OP_ENDIF)
        .op(OP_CHECKSIG)
        .build();
}

Result<Transaction> build_justice_transaction(const JusticeKit& kit, const SessionPolicy& policy,
                                              const Transaction& breach_tx) {
    if (!is_supported_blob_type(policy.blob_type)) return unsupported_type(policy.blob_type);
    const CommitmentType type = *commitment_type(policy.blob_type);
    if (kit.sweep_script.size() > max_sweep_script_size) {
        return make_error(ErrorCode::invalid_argument, "lnd: sweep address must be <= 42 bytes");
    }

    // lookout CreateJusticeTxn: to_local always, to_remote when the kit has it.
    std::vector<BreachedInput> inputs;
    auto local = to_local_input(kit, type, breach_tx);
    if (!local) return local.error();
    inputs.push_back(std::move(*local));
    if (kit.to_remote) {
        auto remote = to_remote_input(*kit.to_remote, type, breach_tx);
        if (!remote) return remote.error();
        if (remote->outpoint == inputs[0].outpoint) {
            return make_error(ErrorCode::invalid_argument, "to_local and to_remote are one output");
        }
        inputs.push_back(std::move(*remote));
    }

    auto weight = justice_transaction_weight(policy.blob_type, true, kit.to_remote.has_value(),
                                             kit.sweep_script.size(), policy.reward_script.size());
    if (!weight) return weight.error();
    std::int64_t total = 0;
    for (const auto& in : inputs) total += in.spent.value;
    auto amounts = compute_justice_amounts(policy, total, *weight, kit.sweep_script.size());
    if (!amounts) return amounts.error();

    // wtpolicy ComputeJusticeTxOuts, then txsort.InPlaceSort (BIP 69).
    Transaction tx;
    tx.version = 2;
    tx.lock_time = 0;
    tx.outputs.push_back(TxOut{amounts->sweep, kit.sweep_script});
    if (has_flag(policy.blob_type, blob_flag::reward)) {
        tx.outputs.push_back(TxOut{amounts->reward, policy.reward_script});
    }
    std::stable_sort(inputs.begin(), inputs.end(), input_before);
    std::stable_sort(tx.outputs.begin(), tx.outputs.end(), output_before);
    std::vector<TxOut> spent_outputs;
    for (const auto& in : inputs) {
        TxIn txin;
        txin.prevout = in.outpoint;
        txin.sequence = in.sequence;
        tx.inputs.push_back(std::move(txin));
        spent_outputs.push_back(in.spent);
    }

    // Attach the witnesses and verify each signature (lookout runs the script
    // engine; the scripts are ours by construction, the signatures are not).
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        BreachedInput& in = inputs[i];
        const std::string which = "lnd justice input " + std::to_string(i) + " (" +
                                  in.outpoint.txid.to_display_hex() + ":" +
                                  std::to_string(in.outpoint.index) + ")";
        if (in.taproot) {
            // BIP341 script path, SIGHASH_DEFAULT (64-byte signature, no hash byte).
            auto digest = taproot_sighash(tx, i, spent_outputs, SIGHASH_DEFAULT, std::nullopt,
                                          TaprootScriptPath{in.leaf_hash, 0xffffffff});
            if (!digest) return digest.error();
            if (!schnorr_verify(in.signer->x_only(), *digest, in.signature)) {
                return make_error(ErrorCode::invalid_signature,
                                  which + ": BIP340 signature does not verify");
            }
        } else {
            auto parsed = parse_compact_signature(in.signature);
            if (!parsed) {
                return make_error(ErrorCode::invalid_signature,
                                  which + ": not a valid compact ECDSA signature");
            }
            EcdsaSignature signature = normalized_low_s(*parsed);
            Hash256 digest = segwit_v0_sighash(tx, i, in.script_code, in.spent.value, SIGHASH_ALL);
            if (!ecdsa_verify(*in.signer, digest, signature)) {
                return make_error(
                    ErrorCode::invalid_signature,
                    which + ": ECDSA signature does not verify (BIP143, SIGHASH_ALL)");
            }
            in.witness[0] = bolt3::signature_with_hash_type(signature, SIGHASH_ALL);
        }
        tx.inputs[i].witness = std::move(in.witness);
    }
    return tx;
}

}  // namespace argus::lnd
