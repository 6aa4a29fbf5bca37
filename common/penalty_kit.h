// Argus penalty kits (version 1): what a tower needs to build *independent*
// penalties for one revoked commitment, each pre-signed at a ladder of fee
// rates, instead of one justice transaction that spends every output.
//
// A kit travels like a teos penalty: encrypted under the commitment's txid
// (teos blob), stored under its locator, opened only when that commitment is
// mined. Its plaintext starts with `kit_magic`, which no standard transaction
// can start with (it would be a transaction of version 0x544b5241, and only
// versions 1 and 2 are standard), so a plain teos blob still means one
// classic penalty.
//
// Compact: shared keys once, one template per output, one 64-byte signature
// and a 4-byte fee per rung; the tower rebuilds every transaction from the
// BOLT 3 templates (common/bolt3_scripts.h). Each penalty has one input and
// one output to `sweep_script`, version 2, locktime 0, and signals RBF
// (sequence 0xfffffffd); its input is
//   to_local, offered_htlc, received_htlc: commitment txid : vout
//   second_stage: second_stage_txid : 0 (the cheater's HTLC-success or
//                 HTLC-timeout transaction of the HTLC at `vout`, whose txid
//                 is fixed on channels without anchors)
// and its witness (BOLT 3)
//   to_local, second_stage: <sig> 1 <to_local script>
//   HTLCs:                  <sig> <revocationpubkey> <HTLC script>
//
// Deadlines: to_local and a second-stage output can be taken by the cheater
// `to_self_delay` blocks after the transaction holding them confirms; an HTLC
// output at its `cltv_expiry` (absolute height) at the latest.
//
// Wire format (little-endian integers):
//   magic "ARKT" | version u8 = 1 | flags u8 (bit 0: anchors; others zero)
//   to_self_delay u16 | revocation_pubkey 33 | local_delayed_pubkey 33
//   local_htlc_pubkey 33 | remote_htlc_pubkey 33
//   sweep_script: length u8 (1..80) + bytes
//   part count u16 (1..max_parts), then each part:
//     kind u8 | vout u16 | amount u64 (the spent output's value)
//     HTLCs and second_stage: payment_hash 32 | cltv_expiry u32
//     second_stage: second_stage_txid 32 (internal byte order)
//     rung count u8 (1..max_rungs), then each rung: fee u32 (sat) | signature 64 (r || s)
//   zero padding up to the size bucket (pad_to_bucket): every byte after the
//   last part must be zero.
// Rung fees strictly increase; a second_stage part names an HTLC part of the
// kit by its vout.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "common/keys.h"
#include "common/result.h"
#include "common/transaction.h"

namespace argus::kit {

inline constexpr std::array<std::uint8_t, 4> kit_magic = {'A', 'R', 'K', 'T'};
inline constexpr std::uint8_t kit_version = 1;
// An Argus tower's register reply carries {"argus_penalty_kits": {"version": 1,
// "max_encrypted_blob": N}} (teos clients ignore unknown fields); a client
// sends kits only to towers that say so, and no larger than N bytes.
inline constexpr const char* capability_field = "argus_penalty_kits";
// The encrypted blob of a kit: its padded plaintext plus the teos AEAD tag.
inline constexpr std::size_t encryption_overhead = 16;
inline constexpr std::size_t max_parts = 2 * 483 + 1;  // to_local, every HTLC and its second stage
inline constexpr std::size_t max_rungs = 32;
inline constexpr std::size_t max_sweep_script = 80;
// Plaintext size buckets: the next power of two from 1 KiB, so that the tower
// learns from the blob size little more than "many HTLCs or few".
inline constexpr std::size_t min_bucket = 1024;
// Every penalty signals replaceability (BIP125) so a higher rung can replace it.
inline constexpr std::uint32_t penalty_sequence = 0xfffffffd;
// BIP125 rule 4 at bitcoind's default incremental relay fee (sat per 1000 vbytes).
inline constexpr std::int64_t default_incremental_relay_feerate = 1000;
// Smallest penalty output (P2WSH dust at 3 sat/vB, as justice.h).
inline constexpr std::int64_t min_output = 330;

enum class PartKind : std::uint8_t { to_local = 0, offered_htlc = 1, received_htlc = 2, second_stage = 3 };
const char* to_string(PartKind kind);

struct Rung {
    std::uint32_t fee = 0;  // satoshis
    EcdsaSignature signature;
    bool operator==(const Rung&) const = default;
};

struct Part {
    PartKind kind = PartKind::to_local;
    std::uint16_t vout = 0;     // the output of the revoked commitment (second_stage: of its HTLC)
    std::int64_t amount = 0;    // value of the output this part spends
    Hash256 payment_hash{};     // HTLCs and second_stage
    std::uint32_t cltv_expiry = 0;
    Txid second_stage_txid;     // second_stage only
    std::vector<Rung> rungs;
    bool operator==(const Part&) const = default;
};

// Compressed public keys; `validate` and `decode` check each is on the curve.
using KeyBytes = ByteArray<33>;

struct PenaltyKit {
    bool anchors = false;
    std::uint16_t to_self_delay = 0;
    KeyBytes revocation_pubkey{};
    KeyBytes local_delayed_pubkey{};  // the cheater's keys of the revoked commitment
    KeyBytes local_htlc_pubkey{};
    KeyBytes remote_htlc_pubkey{};    // the victim's HTLC key
    Bytes sweep_script;
    std::vector<Part> parts;
    bool operator==(const PenaltyKit&) const = default;
};

// Whether a decrypted blob is a kit (starts with the magic) rather than a
// classic penalty transaction.
bool is_kit(ByteSpan plaintext);

// The kit's bytes, unpadded. Refuses a kit that breaks the rules above.
Result<Bytes> encode(const PenaltyKit& kit);
// Zero-pads to the next bucket (1 KiB, 2 KiB, 4 KiB, ...).
Bytes pad_to_bucket(Bytes encoded);
std::size_t bucket_size(std::size_t encoded_size);
// Pure and strict: every field checked, keys parsed, padding all zero.
Result<PenaltyKit> decode(ByteSpan plaintext);
Status validate(const PenaltyKit& kit);

// The witness script of the output a part spends.
Bytes witness_script(const PenaltyKit& kit, const Part& part);
// The outpoint a part spends, given the revoked commitment's txid.
OutPoint spent_outpoint(const Part& part, const Txid& commitment_txid);
// Absolute height by which the part must confirm: `confirmed_height` is the
// height of the transaction holding the spent output (the commitment, or the
// second-stage transaction). The cheater can spend it at this height.
std::uint32_t deadline_height(const PenaltyKit& kit, const Part& part, std::uint32_t confirmed_height);

// The unsigned penalty of one rung (witness stack empty) and its signed form.
Transaction unsigned_penalty(const PenaltyKit& kit, const Part& part, const Txid& commitment_txid, std::uint32_t fee);
Transaction signed_penalty(const PenaltyKit& kit, const Part& part, const Txid& commitment_txid, std::size_t rung);
// BIP143 digest a rung's signature commits to.
Hash256 penalty_sighash(const PenaltyKit& kit, const Part& part, const Txid& commitment_txid, std::uint32_t fee);
// Fee rate of a signed penalty, sat per 1000 vbytes (rounded down).
std::int64_t feerate_per_kvb(std::int64_t fee, const Transaction& signed_tx);

// Checks one part against the transaction whose output it spends (the revoked
// commitment, or the cheater's second-stage transaction): the output exists,
// has the part's amount, pays to P2WSH of the part's script. Then every
// rung's signature against its BIP143 digest under the revocation key.
Status verify_part(const PenaltyKit& kit, const Part& part, const Transaction& spent_tx, const Txid& commitment_txid);

// BIP125 rules 3, 4 and 6 for a same-shaped replacement: a higher absolute
// fee, a higher fee rate, and new fee - old fee >= incremental rate * new vsize.
struct FeePoint {
    std::int64_t fee = 0;
    std::int64_t vsize = 0;
};
Status check_replacement(const FeePoint& replaced, const FeePoint& replacement,
                         std::int64_t incremental_relay_feerate = default_incremental_relay_feerate);

// ---- building (the client) ----

// The fee ladder for a penalty of `vsize` vbytes: from `floor_feerate` (sat
// per 1000 vbytes) up to `budget` satoshis, geometric, each rung a valid
// BIP125 replacement of the one below (at `max_vsize`, the largest size a
// signature can make it), at most `rungs` rungs, the last one the budget (a
// single rung is the budget itself).
// Empty when the budget does not cover the floor.
std::vector<std::uint32_t> fee_ladder(std::int64_t floor_feerate, std::int64_t budget, std::int64_t max_vsize,
                                      std::size_t rungs,
                                      std::int64_t incremental_relay_feerate = default_incremental_relay_feerate);

// The largest vsize a part's penalty can have (a 73-byte DER signature).
std::int64_t max_penalty_vsize(const PenaltyKit& kit, const Part& part);

// Signs every rung of `part` (fees already set, signatures ignored) with the
// revocation private key, and checks each signature and each replacement
// before returning.
Status sign_part(const PenaltyKit& kit, Part& part, const Txid& commitment_txid, const PrivateKey& revocation_privkey);

}  // namespace argus::kit
