// lnd watchtower appointments: the encrypted justice kit (lnd watchtower/blob)
// and the justice transaction a tower rebuilds from it (watchtower/lookout,
// watchtower/wtpolicy, input/size.go). The client signed that transaction
// with SIGHASH_ALL (v0 kits) or SIGHASH_DEFAULT (taproot kits), so every byte
// of it — input order, sequences, output values — must come out exactly as
// lnd computes it, or the signatures do not verify. Pure: no I/O, no clocks.
#pragma once

#include <cstdint>
#include <optional>

#include "common/keys.h"
#include "common/transaction.h"

namespace argus::lnd {

// lnd watchtower/blob/type.go: a blob type is a bit vector of flags.
namespace blob_flag {
inline constexpr std::uint16_t reward = 0x01;              // FlagReward
inline constexpr std::uint16_t commit_outputs = 0x02;      // FlagCommitOutputs
inline constexpr std::uint16_t anchor_commitment = 0x04;   // FlagAnchorChannel
inline constexpr std::uint16_t taproot_commitment = 0x08;  // FlagTaprootChannel
inline constexpr std::uint16_t taproot_final = 0x10;       // FlagTaprootFinalChannel
}  // namespace blob_flag

// type.go: TypeAltruistCommit, TypeRewardCommit, TypeAltruistAnchorCommit,
// TypeAltruistTaprootCommit (staging taproot scripts) and
// TypeAltruistTaprootFinalCommit (production taproot scripts).
inline constexpr std::uint16_t blob_type_altruist_legacy = 0x0002;
inline constexpr std::uint16_t blob_type_reward = 0x0003;
inline constexpr std::uint16_t blob_type_altruist_anchor = 0x0006;
inline constexpr std::uint16_t blob_type_altruist_taproot = 0x000A;
inline constexpr std::uint16_t blob_type_altruist_taproot_final = 0x001A;

// type.go IsSupportedType: exactly the five types above.
bool is_supported_blob_type(std::uint16_t blob_type);
inline bool has_flag(std::uint16_t blob_type, std::uint16_t flag) {
    return (blob_type & flag) == flag;
}

// justice_kit_packet.go sizes.
inline constexpr std::size_t kit_v0_plaintext_size = 274;  // V0PlaintextSize
inline constexpr std::size_t kit_v1_plaintext_size = 300;  // V1PlaintextSize
inline constexpr std::size_t blob_nonce_size = 24;         // NonceSize (XChaCha20)
inline constexpr std::size_t max_sweep_script_size = 42;   // MaxSweepAddrSize

// The plaintext kit size of a supported type (274 or 300), 0 for any other type.
std::size_t kit_plaintext_size(std::uint16_t blob_type);
// nonce || ciphertext || tag: 314 (v0 kit) or 340 (v1 kit); 0 for an unsupported type.
std::size_t blob_size(std::uint16_t blob_type);

// The signature of the to_remote output, present when the kit sweeps it.
struct ToRemoteKit {
    PublicKey pubkey;           // 33-byte compressed key in both kit versions
    ByteArray<64> signature{};  // v0: ECDSA r||s (SIGHASH_ALL); v1: BIP340 (SIGHASH_DEFAULT)
    bool operator==(const ToRemoteKit&) const = default;
};

// One decoded justice kit. Kit v0 (justiceKitPacketV0: legacy and anchor
// types) carries compressed keys and the csv delay; kit v1
// (justiceKitPacketV1: taproot types) carries x-only keys — held here as the
// even-y PublicKey of that x coordinate — and the TapLeaf hash of the to_local
// delay script instead of the delay. Fields of the other version stay zero.
struct JusticeKit {
    Bytes sweep_script;  // the victim's output script, used as is (<= 42 bytes)
    PublicKey revocation_pubkey;
    PublicKey local_delay_pubkey;
    std::uint32_t csv_delay = 0;         // v0 only
    Hash256 delay_leaf_hash{};           // v1 only
    ByteArray<64> to_local_signature{};  // v0: ECDSA r||s; v1: BIP340
    std::optional<ToRemoteKit> to_remote;
    bool operator==(const JusticeKit&) const = default;
};

// Decodes the fixed-size plaintext of a supported blob type. Strict where lnd
// is lenient, so that decode -> encode is the identity: the sweep script's
// padding and an absent to_remote's 97 bytes must be zero. Keys must be valid
// points; an all-zero to_remote key means "no to_remote" (lnd: any bytes that
// are not 0x02/0x03-prefixed). Signatures are checked by the builder, not here.
Result<JusticeKit> decode_justice_kit(std::uint16_t blob_type, ByteSpan plaintext);
// Precondition (checked): supported type and sweep_script <= 42 bytes.
Bytes encode_justice_kit(std::uint16_t blob_type, const JusticeKit& kit);

// lnd blob.Decrypt: blob = nonce(24) || XChaCha20-Poly1305(kit) || tag(16),
// key = breach_key(txid) (watchtower_crypto.h), no associated data. The blob
// must have exactly blob_size(blob_type) bytes. A wrong key or a forged blob
// fails with decryption_failed.
Result<JusticeKit> decrypt_justice_kit(std::uint16_t blob_type, ByteSpan encrypted_blob,
                                       const Txid& breach_txid);
// lnd blob.Encrypt with a caller-chosen nonce (never reuse one for a key).
Bytes encrypt_justice_kit(std::uint16_t blob_type, const JusticeKit& kit, const Txid& breach_txid,
                          const ByteArray<24>& nonce);

// What the tower knows of the session (wtpolicy.Policy / wtdb.SessionInfo).
struct SessionPolicy {
    std::uint16_t blob_type = 0;
    std::uint32_t reward_base = 0;
    std::uint32_t reward_rate = 0;     // millionths of the swept amount
    std::uint64_t sweep_fee_rate = 0;  // sat/kw
    Bytes reward_script;               // the tower's reward output (reward sessions)
};

// wtpolicy/policy.go constants.
inline constexpr std::uint64_t reward_scale = 1'000'000;        // RewardScale
inline constexpr std::uint32_t default_reward_rate = 10'000;    // DefaultRewardRate
inline constexpr std::uint64_t default_sweep_fee_rate = 2'500;  // DefaultSweepFeeRate, sat/kw
inline constexpr std::uint64_t min_sweep_fee_rate = 1'000;      // MinSweepFeeRate, sat/kw
inline constexpr std::uint16_t default_max_updates = 1'024;     // DefaultMaxUpdates

// wtpolicy Policy.Validate (lnd's client runs it; lnd's tower itself checks
// only IsSupportedType): a supported type, no reward parameters on an
// altruist type, a sweep fee rate of at least 1000 sat/kw. lnd has no upper
// bound. MaxUpdates is the session's business, not the transaction's.
Status validate_policy(const SessionPolicy& policy);

// input/size.go witness sizes (weight units) the justice estimate uses.
namespace witness_size {
inline constexpr std::uint64_t to_local_penalty = 157;  // ToLocalPenaltyWitnessSize
// Legacy types keep the old one-byte underestimate (blob/commitments.go).
inline constexpr std::uint64_t to_local_penalty_legacy = 156;
inline constexpr std::uint64_t p2wkh = 109;                // P2WKHWitnessSize
inline constexpr std::uint64_t to_remote_confirmed = 113;  // ToRemoteConfirmedWitnessSize
inline constexpr std::uint64_t taproot_to_local_revoke = 202;  // TaprootToLocalRevokeWitnessSize
inline constexpr std::uint64_t taproot_to_remote = 139;        // TaprootToRemoteWitnessSize
inline constexpr std::uint64_t taproot_to_remote_final = 138;  // TaprootToRemoteWitnessSizeFinal
}  // namespace witness_size

// The estimated weight lnd's client and tower both feed to the fee
// computation (input.TxWeightEstimator): inputs by commitment type
// (blob/commitments.go), the sweep output and, for reward types, the reward
// output. An output weighs 8 + 1 + script size bytes; the client only signs
// P2WPKH, P2WSH and P2TR outputs, and the tower (lookout) accepts a sweep
// script of 22 or 34 bytes only, so any other sweep size is refused.
// Note: lnd's tower weighs the reward output as P2WPKH whatever it is (its
// reward addresses are P2WPKH); the client weighs it by its type, and the
// client is the one who signs, so this follows the client.
Result<std::uint64_t> justice_transaction_weight(std::uint16_t blob_type, bool has_to_local,
                                                 bool has_to_remote, std::size_t sweep_script_size,
                                                 std::size_t reward_script_size);

// chainfee SatPerKWeight.FeeForWeight: rate * weight / 1000, rounded down.
// nullopt when the product does not fit 64 bits (no real fee does).
std::optional<std::uint64_t> fee_for_weight(std::uint64_t fee_rate_per_kw, std::uint64_t weight);
// wtpolicy ComputeRewardAmount: base + ceil((total - base) * rate / 1e6); just
// base when base exceeds total (the caller then finds it exceeds the inputs).
std::int64_t compute_reward_amount(std::int64_t total, std::uint32_t base, std::uint32_t rate);
// lnwallet DustLimitForSize (btcd GetDustThreshold at 3 sat/vB): 294 for 22
// bytes (P2WPKH), 330 for 34 (P2WSH/P2TR), 540 for 23 (P2SH), 546 for 25
// (P2PKH), and 354 (a 42-byte witness program) for any other size.
std::int64_t dust_limit_for_script_size(std::size_t script_size);

struct JusticeAmounts {
    std::int64_t sweep = 0;
    std::int64_t reward = 0;  // 0 unless the type has the reward flag
    std::int64_t fee = 0;
};
// wtpolicy ComputeJusticeTxOuts: fee = FeeForWeight(weight); altruist: sweep =
// total - fee, refused below the sweep script's dust limit; reward: reward =
// ComputeRewardAmount(total), sweep = total - reward - fee, refused below the
// dust limit of the *reward* script's size (lnd's rule, kept so that we refuse
// exactly what lnd refuses). Errors name ErrFeeExceedsInputs,
// ErrRewardExceedsInputs or ErrCreatesDust.
Result<JusticeAmounts> compute_justice_amounts(const SessionPolicy& policy,
                                               std::int64_t total_amount, std::uint64_t weight,
                                               std::size_t sweep_script_size);

// lnd input/script_utils.go TaprootNUMSKey (x-only), the internal key of
// taproot commitment outputs.
const XOnlyPublicKey& taproot_nums_key();
// Leaf scripts of lnd's simple taproot channel commitment outputs.
// to_local revocation leaf (same in staging and production):
//   <local_delay_xonly> OP_DROP <revocation_xonly> OP_CHECKSIG
Bytes taproot_to_local_revoke_script(const XOnlyPublicKey& local_delay_key,
                                     const XOnlyPublicKey& revocation_key);
// to_remote leaf: staging <key> OP_CHECKSIG 1 OP_CSV OP_DROP;
// production (taproot-final) <key> OP_CHECKSIGVERIFY 1 OP_CSV.
Bytes taproot_to_remote_script(const XOnlyPublicKey& remote_key, bool production);
// lnd input.CommitScriptToSelf with a 32-bit delay (BOLT #3 to_local).
Bytes commit_to_local_script(const PublicKey& revocation_pubkey, std::uint32_t csv_delay,
                             const PublicKey& local_delay_pubkey);

// Rebuilds the justice transaction exactly as lnd's lookout (JusticeDescriptor
// .CreateJusticeTxn) does: finds the to_local output (and, when the kit has
// one, the to_remote output) of the breach transaction by script — the first
// match — spends them with sequence 0 (to_local), 0 (legacy to_remote) or 1
// (anchor and taproot to_remote), version 2, locktime 0, outputs from
// compute_justice_amounts, inputs and outputs in BIP 69 order, then attaches
// the witnesses and verifies every signature against its sighash (BIP143 for
// v0 kits, BIP341 script path for taproot kits). Any failure is an error:
// not_found (an output is missing), invalid_key, invalid_signature,
// invalid_argument (policy, sweep script, amounts).
Result<Transaction> build_justice_transaction(const JusticeKit& kit, const SessionPolicy& policy,
                                              const Transaction& breach_tx);

}  // namespace argus::lnd
