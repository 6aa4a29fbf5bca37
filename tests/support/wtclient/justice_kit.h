// The justice side of lnd's watchtower client (watchtower/wtclient/backup_task.go,
// watchtower/blob, watchtower/wtpolicy, input/size.go, input/script_utils.go),
// written from lnd's source for the test client: given a revoked commitment it
// builds and signs the justice transaction lnd's client would sign, serializes
// the justice kit for the session's blob type, and encrypts it.
#pragma once

#include <cstdint>
#include <optional>

#include "common/bytes.h"
#include "common/keys.h"
#include "common/result.h"
#include "common/transaction.h"

namespace argus::test::wtclient {

// watchtower/blob/type.go
namespace blob_flag {
inline constexpr std::uint16_t reward = 1;
inline constexpr std::uint16_t commit_outputs = 1 << 1;
inline constexpr std::uint16_t anchor_channel = 1 << 2;
inline constexpr std::uint16_t taproot_channel = 1 << 3;
inline constexpr std::uint16_t taproot_final_channel = 1 << 4;
}  // namespace blob_flag
namespace blob_type {
inline constexpr std::uint16_t altruist_commit = 0x0002;         // "legacy"
inline constexpr std::uint16_t reward_commit = 0x0003;           // "reward"
inline constexpr std::uint16_t altruist_anchor_commit = 0x0006;  // "anchor"
inline constexpr std::uint16_t altruist_taproot_commit = 0x000A;        // "taproot" (staging scripts)
inline constexpr std::uint16_t altruist_taproot_final_commit = 0x001A;  // "taproot-final"
}  // namespace blob_type

// blob.CommitmentType as chosen by Type.CommitmentType (legacy and tweakless
// legacy build the same transaction once the to_remote key is known).
enum class CommitmentType { legacy, anchor, taproot, taproot_final };
Result<CommitmentType> commitment_type_of(std::uint16_t blob_type);

// lnd's NUMS point for taproot channels (input.TaprootNUMSHex).
PublicKey taproot_nums_key();

// The keys of one revoked commitment, as lnwallet.CommitmentKeyRing names them
// from the breaching party's view: their to_local pays revocation/local_delayed
// after csv_delay; their to_remote pays us (to_remote).
struct ChannelKeys {
    PublicKey revocation;
    PublicKey local_delayed;
    PublicKey to_remote;
    std::uint32_t csv_delay = 144;
};

// The outputs a revoked commitment of each kind carries, so a test can fabricate one.
struct BreachOutputs {
    Bytes to_local_script_pubkey;
    // v0: the BOLT 3 to_local witness script. taproot: the revocation leaf script.
    Bytes to_local_witness_script;
    // taproot only: the delay (settle) leaf script and its tapleaf hash.
    Bytes to_local_delay_script;
    Hash256 to_local_delay_leaf_hash{};
    Bytes to_remote_script_pubkey;
    // legacy: empty (P2WPKH). anchor: <pk> OP_CHECKSIGVERIFY 1 OP_CSV. taproot: the settle leaf.
    Bytes to_remote_witness_script;
};
Result<BreachOutputs> breach_outputs(CommitmentType type, const ChannelKeys& keys);

// The session's negotiated policy (wtpolicy.Policy), plus the reward script the
// tower returned in CreateSessionReply.data for reward sessions.
struct SessionPolicy {
    std::uint16_t blob_type = blob_type::altruist_commit;
    std::uint64_t sweep_fee_rate = 2500;  // sat/kw; wtpolicy.DefaultSweepFeeRate
    std::uint32_t reward_base = 0;
    std::uint32_t reward_rate = 0;  // parts per million (wtpolicy.RewardScale)
    Bytes reward_script;
};

// wtpolicy errors.
enum class PolicyFailure {
    fee_exceeds_inputs,     // ErrFeeExceedsInputs
    reward_exceeds_inputs,  // ErrRewardExceedsInputs
    creates_dust,           // ErrCreatesDust
    unsupported_script,     // addScriptWeight: not P2WPKH, P2WSH or P2TR
    unknown_blob_type,
};
const char* to_string(PolicyFailure failure);

struct JusticeAmounts {
    std::int64_t total = 0;
    std::size_t weight = 0;  // input.TxWeightEstimator
    std::int64_t fee = 0;
    std::int64_t sweep = 0;
    std::int64_t reward = 0;
};

// backupTask.bindSession: the weight estimate and the outputs' values. An
// amount of 0 means the output is absent (lnd's test convention too).
Result<JusticeAmounts, PolicyFailure> justice_amounts(const SessionPolicy& policy,
                                                      std::int64_t to_local_amount,
                                                      std::int64_t to_remote_amount,
                                                      ByteSpan sweep_script);
// wtpolicy.ComputeRewardAmount: base + ceil((total - base) * rate / 1e6).
std::int64_t reward_amount(std::int64_t total, std::uint32_t base, std::uint32_t rate);

// The revoked commitment and what the victim knows about it.
struct Breach {
    Transaction commitment;  // must pay to_local (found by its script)
    PrivateKey revocation_key;
    PublicKey local_delayed;
    std::uint32_t csv_delay = 144;
    // Our key on their to_remote output; with it the to_remote output is swept
    // too when the commitment has one.
    std::optional<PrivateKey> to_remote_key;
};

struct JusticeBackup {
    ByteArray<16> hint{};
    Bytes encrypted_blob;  // nonce(24) || XChaCha20-Poly1305(kit) || tag(16)
    Bytes kit_plaintext;   // 274 bytes (v0) or 300 (v1, taproot)
    Transaction justice_tx;  // signed: what the tower should broadcast
    JusticeAmounts amounts;
    std::vector<TxOut> spent_outputs;  // in justice_tx input order
};

// Builds, signs, serializes and encrypts as backupTask.craftSessionPayload.
// Schnorr signatures use zero auxiliary randomness (BIP 340 allows it).
Result<JusticeBackup> build_justice_backup(const Breach& breach, const SessionPolicy& policy,
                                           ByteSpan sweep_script, const ByteArray<24>& nonce);
// The same with a random nonce, as blob.Encrypt draws it.
Result<JusticeBackup> build_justice_backup(const Breach& breach, const SessionPolicy& policy,
                                           ByteSpan sweep_script);

// blob/derivation.go: hint = SHA256(txid)[:16], key = SHA256(txid || txid), txid
// in internal byte order.
ByteArray<16> breach_hint(const Txid& breach_txid);
ByteArray<32> breach_key(const Txid& breach_txid);
Result<Bytes> decrypt_blob(const Txid& breach_txid, ByteSpan encrypted_blob);

}  // namespace argus::test::wtclient
