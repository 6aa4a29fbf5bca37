#include "common/commitment.h"

#include <algorithm>

#include "common/bolt3_scripts.h"
#include "common/check.h"
#include "common/hash.h"
#include "common/script.h"
#include "common/sighash.h"

namespace argus::bolt3 {

bool has_commitment_marks(const Transaction& tx) {
    return (tx.lock_time >> 24) == commitment_locktime_mark && tx.inputs.size() == 1 &&
           (tx.inputs[0].sequence >> 24) == commitment_sequence_mark;
}

std::uint64_t obscuring_factor(const PublicKey& opener_payment_basepoint,
                               const PublicKey& accepter_payment_basepoint) {
    Bytes data(opener_payment_basepoint.bytes().begin(), opener_payment_basepoint.bytes().end());
    append(data, accepter_payment_basepoint.bytes());
    Hash256 h = sha256(data);
    std::uint64_t factor = 0;
    for (std::size_t i = 26; i < 32; ++i) factor = (factor << 8) | h[i];
    return factor;
}

// BOLT #3 "Fee Calculation": expected weights.
std::int64_t commitment_weight(std::size_t untrimmed_htlcs, bool anchors) {
    return (anchors ? 1124 : 724) + 172 * static_cast<std::int64_t>(untrimmed_htlcs);
}

std::int64_t htlc_timeout_fee(std::uint32_t feerate_per_kw, bool anchors) {
    // option_anchors uses zero-fee HTLC transactions.
    return anchors ? 0 : static_cast<std::int64_t>(feerate_per_kw) * 663 / 1000;
}

std::int64_t htlc_success_fee(std::uint32_t feerate_per_kw, bool anchors) {
    return anchors ? 0 : static_cast<std::int64_t>(feerate_per_kw) * 703 / 1000;
}

bool is_trimmed(const Htlc& htlc, std::uint32_t feerate_per_kw, std::int64_t dust_limit,
                bool anchors) {
    std::int64_t amount = static_cast<std::int64_t>(htlc.amount_msat / 1000);
    std::int64_t fee = htlc.direction == HtlcDirection::offered
                           ? htlc_timeout_fee(feerate_per_kw, anchors)
                           : htlc_success_fee(feerate_per_kw, anchors);
    return amount - fee < dust_limit;
}

namespace {
struct PendingOutput {
    TxOut txout;
    CommitmentOutput info;
    std::uint32_t cltv_expiry = 0;
};
}  // namespace

Commitment build_commitment(const CommitmentParams& params, const CommitmentKeys& keys,
                            const CommitmentState& state) {
    std::vector<PendingOutput> pending;
    std::size_t untrimmed = 0;

    for (std::size_t i = 0; i < state.htlcs.size(); ++i) {
        const Htlc& htlc = state.htlcs[i];
        if (is_trimmed(htlc, state.feerate_per_kw, params.dust_limit_satoshis, params.anchors)) {
            continue;  // BOLT #3: a trimmed HTLC's amount goes to fees.
        }
        ++untrimmed;
        bool offered = htlc.direction == HtlcDirection::offered;
        Bytes script =
            offered ? offered_htlc_script(keys.revocation_pubkey, keys.local_htlc_pubkey,
                                          keys.remote_htlc_pubkey, htlc.payment_hash, params.anchors)
                    : received_htlc_script(keys.revocation_pubkey, keys.local_htlc_pubkey,
                                           keys.remote_htlc_pubkey, htlc.payment_hash,
                                           htlc.cltv_expiry, params.anchors);
        PendingOutput out;
        out.txout = TxOut{static_cast<std::int64_t>(htlc.amount_msat / 1000), p2wsh_script(script)};
        out.info = {offered ? OutputKind::offered_htlc : OutputKind::received_htlc,
                    std::move(script), i};
        out.cltv_expiry = htlc.cltv_expiry;
        pending.push_back(std::move(out));
    }

    // BOLT #3: the fee (and with anchors, both anchors) come out of the opener's balance.
    std::int64_t fee = state.feerate_per_kw * commitment_weight(untrimmed, params.anchors) / 1000;
    std::int64_t to_local = static_cast<std::int64_t>(state.to_local_msat / 1000);
    std::int64_t to_remote = static_cast<std::int64_t>(state.to_remote_msat / 1000);
    std::int64_t& opener = params.local_is_opener ? to_local : to_remote;
    std::int64_t paid = std::min(opener, fee);
    opener -= paid;
    if (params.anchors) {
        std::int64_t anchors_cost = std::min(opener, 2 * anchor_output_satoshis);
        opener -= anchors_cost;
    }

    bool has_to_local = to_local >= params.dust_limit_satoshis;
    bool has_to_remote = to_remote >= params.dust_limit_satoshis;
    if (has_to_local) {
        Bytes script = to_local_script(keys.revocation_pubkey, params.to_self_delay,
                                       keys.local_delayed_pubkey);
        pending.push_back({TxOut{to_local, p2wsh_script(script)},
                           {OutputKind::to_local, std::move(script), std::nullopt}, 0});
    }
    if (has_to_remote) {
        if (params.anchors) {
            Bytes script = to_remote_anchors_script(keys.remote_payment_pubkey);
            pending.push_back({TxOut{to_remote, p2wsh_script(script)},
                               {OutputKind::to_remote, std::move(script), std::nullopt}, 0});
        } else {
            pending.push_back({TxOut{to_remote, p2wpkh_script(keys.remote_payment_pubkey)},
                               {OutputKind::to_remote, {}, std::nullopt}, 0});
        }
    }
    if (params.anchors) {
        // BOLT #3: an anchor per side that has an output, both when HTLCs are pending.
        if (has_to_local || untrimmed > 0) {
            Bytes script = anchor_script(keys.local_funding_pubkey);
            pending.push_back({TxOut{anchor_output_satoshis, p2wsh_script(script)},
                               {OutputKind::local_anchor, std::move(script), std::nullopt}, 0});
        }
        if (has_to_remote || untrimmed > 0) {
            Bytes script = anchor_script(keys.remote_funding_pubkey);
            pending.push_back({TxOut{anchor_output_satoshis, p2wsh_script(script)},
                               {OutputKind::remote_anchor, std::move(script), std::nullopt}, 0});
        }
    }

    // BOLT #3: BIP69 order (amount, then scriptPubKey), ties broken by cltv_expiry.
    std::stable_sort(pending.begin(), pending.end(), [](const auto& a, const auto& b) {
        if (a.txout.value != b.txout.value) return a.txout.value < b.txout.value;
        if (a.txout.script_pubkey != b.txout.script_pubkey) {
            return a.txout.script_pubkey < b.txout.script_pubkey;
        }
        return a.cltv_expiry < b.cltv_expiry;
    });

    Commitment c;
    std::uint64_t obscured = (state.commitment_number ^ params.obscuring_factor) & 0xffffffffffffULL;
    c.tx.version = 2;
    // BOLT #3: locktime upper 8 bits 0x20, lower 24 bits the lower 24 bits of the
    // obscured number; sequence upper 8 bits 0x80, lower 24 bits its upper 24 bits.
    c.tx.lock_time = static_cast<std::uint32_t>((commitment_locktime_mark << 24) | (obscured & 0xffffff));
    TxIn in;
    in.prevout = params.funding_outpoint;
    in.sequence = static_cast<std::uint32_t>((commitment_sequence_mark << 24) | ((obscured >> 24) & 0xffffff));
    c.tx.inputs.push_back(std::move(in));
    std::int64_t outputs_total = 0;
    for (auto& p : pending) {
        outputs_total += p.txout.value;
        c.tx.outputs.push_back(std::move(p.txout));
        c.outputs.push_back(std::move(p.info));
    }
    c.fee_satoshis = params.funding_satoshis - outputs_total;
    return c;
}

Hash256 commitment_sighash(const Commitment& commitment, const CommitmentParams& params,
                           const CommitmentKeys& keys) {
    Bytes script = funding_script(keys.local_funding_pubkey, keys.remote_funding_pubkey);
    return segwit_v0_sighash(commitment.tx, 0, script, params.funding_satoshis, SIGHASH_ALL);
}

Bytes signature_with_hash_type(const EcdsaSignature& signature, std::uint32_t hash_type) {
    Bytes out = serialize_der(signature);
    out.push_back(static_cast<std::uint8_t>(hash_type));
    return out;
}

void finalize_commitment(Commitment& commitment, const CommitmentKeys& keys,
                         const EcdsaSignature& local_signature,
                         const EcdsaSignature& remote_signature) {
    const auto& l = keys.local_funding_pubkey.bytes();
    const auto& r = keys.remote_funding_pubkey.bytes();
    bool local_first = std::lexicographical_compare(l.begin(), l.end(), r.begin(), r.end());
    Bytes local_sig = signature_with_hash_type(local_signature, SIGHASH_ALL);
    Bytes remote_sig = signature_with_hash_type(remote_signature, SIGHASH_ALL);
    auto& witness = commitment.tx.inputs[0].witness;
    witness.clear();
    witness.push_back({});  // CHECKMULTISIG's extra pop
    witness.push_back(local_first ? local_sig : remote_sig);
    witness.push_back(local_first ? remote_sig : local_sig);
    witness.push_back(funding_script(keys.local_funding_pubkey, keys.remote_funding_pubkey));
}

Transaction build_htlc_transaction(const Commitment& commitment, std::size_t output_index,
                                   const CommitmentParams& params, const CommitmentKeys& keys,
                                   const CommitmentState& state) {
    ARGUS_CHECK(output_index < commitment.outputs.size());
    const CommitmentOutput& spent = commitment.outputs[output_index];
    ARGUS_CHECK(spent.htlc_index.has_value());
    const Htlc& htlc = state.htlcs[*spent.htlc_index];
    bool offered = spent.kind == OutputKind::offered_htlc;

    Transaction tx;
    tx.version = 2;
    // BOLT #3: HTLC-timeout locktime is cltv_expiry, HTLC-success 0.
    tx.lock_time = offered ? htlc.cltv_expiry : 0;
    TxIn in;
    in.prevout = OutPoint{commitment.tx.txid(), static_cast<std::uint32_t>(output_index)};
    in.sequence = params.anchors ? 1 : 0;
    tx.inputs.push_back(std::move(in));
    std::int64_t fee = offered ? htlc_timeout_fee(state.feerate_per_kw, params.anchors)
                               : htlc_success_fee(state.feerate_per_kw, params.anchors);
    Bytes script = to_local_script(keys.revocation_pubkey, params.to_self_delay,
                                   keys.local_delayed_pubkey);
    tx.outputs.push_back(TxOut{commitment.tx.outputs[output_index].value - fee, p2wsh_script(script)});
    return tx;
}

std::uint32_t remote_htlc_sighash_type(bool anchors) {
    return anchors ? (SIGHASH_SINGLE | SIGHASH_ANYONECANPAY) : SIGHASH_ALL;
}

Hash256 htlc_sighash(const Transaction& htlc_tx, const CommitmentOutput& spent,
                     std::int64_t spent_amount, std::uint32_t sighash_type) {
    return segwit_v0_sighash(htlc_tx, 0, spent.witness_script, spent_amount, sighash_type);
}

void finalize_htlc_transaction(Transaction& htlc_tx, const CommitmentOutput& spent,
                               const EcdsaSignature& local_signature,
                               const EcdsaSignature& remote_signature, bool anchors,
                               const std::optional<Hash256>& payment_preimage) {
    auto& witness = htlc_tx.inputs[0].witness;
    witness.clear();
    witness.push_back({});
    witness.push_back(signature_with_hash_type(remote_signature, remote_htlc_sighash_type(anchors)));
    witness.push_back(signature_with_hash_type(local_signature, SIGHASH_ALL));
    if (payment_preimage) {
        witness.push_back(Bytes(payment_preimage->begin(), payment_preimage->end()));
    } else {
        witness.push_back({});
    }
    witness.push_back(spent.witness_script);
}

}  // namespace argus::bolt3
