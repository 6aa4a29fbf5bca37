// BOLT #3 commitment and HTLC transactions (static_remotekey and anchors).
// Pure construction: callers supply keys and balances, nothing is signed here
// except through the explicit helpers.
#pragma once

#include <optional>
#include <vector>

#include "common/keys.h"
#include "common/transaction.h"

namespace argus::bolt3 {

enum class HtlcDirection { offered, received };  // as seen by the commitment's owner

struct Htlc {
    HtlcDirection direction = HtlcDirection::offered;
    std::uint64_t amount_msat = 0;
    std::uint32_t cltv_expiry = 0;
    Hash256 payment_hash{};
};

// Keys of one commitment, already derived for its per-commitment point
// ("local" = the commitment's owner, the side whose outputs are delayed).
struct CommitmentKeys {
    PublicKey revocation_pubkey;
    PublicKey local_delayed_pubkey;
    PublicKey local_htlc_pubkey;
    PublicKey remote_htlc_pubkey;
    PublicKey remote_payment_pubkey;  // static_remotekey: the remote payment basepoint
    PublicKey local_funding_pubkey;
    PublicKey remote_funding_pubkey;
};

struct CommitmentParams {
    OutPoint funding_outpoint;
    std::int64_t funding_satoshis = 0;
    std::uint16_t to_self_delay = 0;  // imposed on the owner by the other side
    std::int64_t dust_limit_satoshis = 546;
    bool anchors = false;  // option_anchors (zero-fee HTLC transactions)
    bool local_is_opener = true;  // the opener pays the fee and the anchors
    std::uint64_t obscuring_factor = 0;
};

struct CommitmentState {
    std::uint64_t commitment_number = 0;
    std::uint64_t to_local_msat = 0;   // balances after HTLCs are taken out
    std::uint64_t to_remote_msat = 0;
    std::uint32_t feerate_per_kw = 0;
    std::vector<Htlc> htlcs;
};

enum class OutputKind { to_local, to_remote, local_anchor, remote_anchor, offered_htlc, received_htlc };

struct CommitmentOutput {
    OutputKind kind;
    Bytes witness_script;  // empty for a P2WPKH to_remote
    std::optional<std::size_t> htlc_index;  // into CommitmentState::htlcs
};

struct Commitment {
    Transaction tx;  // unsigned: the funding input has no witness yet
    std::vector<CommitmentOutput> outputs;  // parallel to tx.outputs
    std::int64_t fee_satoshis = 0;          // what the opener paid, trimmed HTLCs included
};

inline constexpr std::int64_t anchor_output_satoshis = 330;

// BOLT #3: a commitment's locktime has upper 8 bits 0x20 and its one input's
// sequence upper 8 bits 0x80; the lower 24 bits of each carry half of the
// obscured commitment number.
inline constexpr std::uint32_t commitment_locktime_mark = 0x20;
inline constexpr std::uint32_t commitment_sequence_mark = 0x80;
// True when `tx` carries those marks: a commitment transaction (a unilateral
// close) rather than a mutual close, whose locktime and sequence are free.
bool has_commitment_marks(const Transaction& tx);

// BOLT #3: the lower 48 bits of SHA256(opener payment_basepoint || accepter payment_basepoint).
std::uint64_t obscuring_factor(const PublicKey& opener_payment_basepoint,
                               const PublicKey& accepter_payment_basepoint);
std::int64_t commitment_weight(std::size_t untrimmed_htlcs, bool anchors);
std::int64_t htlc_timeout_fee(std::uint32_t feerate_per_kw, bool anchors);
std::int64_t htlc_success_fee(std::uint32_t feerate_per_kw, bool anchors);
bool is_trimmed(const Htlc& htlc, std::uint32_t feerate_per_kw, std::int64_t dust_limit, bool anchors);

Commitment build_commitment(const CommitmentParams& params, const CommitmentKeys& keys,
                            const CommitmentState& state);
Hash256 commitment_sighash(const Commitment& commitment, const CommitmentParams& params,
                           const CommitmentKeys& keys);
// Adds the 2-of-2 witness, placing each signature by its key's order in the script.
void finalize_commitment(Commitment& commitment, const CommitmentKeys& keys,
                         const EcdsaSignature& local_signature,
                         const EcdsaSignature& remote_signature);

// The HTLC-timeout (offered) or HTLC-success (received) transaction spending
// output `output_index` of the commitment. Unsigned.
Transaction build_htlc_transaction(const Commitment& commitment, std::size_t output_index,
                                   const CommitmentParams& params, const CommitmentKeys& keys,
                                   const CommitmentState& state);
// option_anchors: the remote signs HTLC transactions with SINGLE|ANYONECANPAY.
std::uint32_t remote_htlc_sighash_type(bool anchors);
Hash256 htlc_sighash(const Transaction& htlc_tx, const CommitmentOutput& spent,
                     std::int64_t spent_amount, std::uint32_t sighash_type);
// Witness: 0 <remotehtlcsig> <localhtlcsig> <payment_preimage or empty> <script>
void finalize_htlc_transaction(Transaction& htlc_tx, const CommitmentOutput& spent,
                               const EcdsaSignature& local_signature,
                               const EcdsaSignature& remote_signature, bool anchors,
                               const std::optional<Hash256>& payment_preimage);

// DER signature followed by its sighash byte, as it appears in a witness.
Bytes signature_with_hash_type(const EcdsaSignature& signature, std::uint32_t hash_type);

}  // namespace argus::bolt3
