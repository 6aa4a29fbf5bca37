// The cheater's side of a two-party BOLT 3 channel, for the tests and the
// drill: Bob holds both signatures on his own commitments and HTLC
// transactions. Pure; every signature made as bitcoind verifies it.
#pragma once

#include "client/channel/channel.h"
#include "common/bolt3_keys.h"
#include "common/script.h"
#include "common/sighash.h"

#include <optional>

namespace argus::test {

// A state seen from the other side: balances swapped, HTLC directions flipped.
inline client::ChannelState mirrored_state(const client::ChannelState& s) {
    client::ChannelState m = s;
    std::swap(m.local_msat, m.remote_msat);
    for (auto& h : m.htlcs) {
        h.direction = h.direction == bolt3::HtlcDirection::offered ? bolt3::HtlcDirection::received
                                                                   : bolt3::HtlcDirection::offered;
    }
    return m;
}

// A coin of Bob's that pays the fee of an anchor HTLC transaction (which
// carries none: the victim signed it SIGHASH_SINGLE|ANYONECANPAY).
struct FeeInput {
    OutPoint outpoint;
    std::int64_t amount = 0;  // of the P2WPKH coin
    PrivateKey key;
    std::int64_t fee = 0;     // what the HTLC transaction pays; the rest comes back as change
};

// Bob's HTLC-success of output `output` of his commitment `own` (state
// `bobs_state`, his view), an HTLC the victim offered him: the victim's
// signature (as she gave it at the update) and his, with the preimage; on
// an anchor channel with `fee` added as a second input and a change output.
inline Transaction htlc_success(const client::Channel& bob, const client::ChannelSecrets& bob_secrets,
                                const client::ChannelSecrets& victim_secrets, const bolt3::Commitment& own,
                                std::size_t output, const client::ChannelState& bobs_state, const Hash256& preimage,
                                const std::optional<FeeInput>& fee = std::nullopt) {
    std::uint64_t n = bobs_state.commitment_number;
    PublicKey point = bob_secrets.per_commitment_point(n);
    bolt3::CommitmentState cs{n, bobs_state.local_msat, bobs_state.remote_msat, bobs_state.feerate_per_kw, bobs_state.htlcs};
    Transaction tx = bolt3::build_htlc_transaction(own, output, bob.local_commitment_params(), bob.local_commitment_keys(n), cs);
    bool anchors = bob.config().anchors;
    if (fee) {
        TxIn in;
        in.prevout = fee->outpoint;
        in.sequence = 0xfffffffd;
        tx.inputs.push_back(in);
        tx.outputs.push_back({fee->amount - fee->fee, p2wpkh_script(fee->key.public_key())});
    }
    std::int64_t amount = own.tx.outputs[output].value;
    Hash256 victim_digest = bolt3::htlc_sighash(tx, own.outputs[output], amount, bolt3::remote_htlc_sighash_type(anchors));
    Hash256 bob_digest = bolt3::htlc_sighash(tx, own.outputs[output], amount, SIGHASH_ALL);
    auto victim_key = bolt3::derive_privkey(victim_secrets.htlc_basepoint, point).value();
    auto bob_key = bolt3::derive_privkey(bob_secrets.htlc_basepoint, point).value();
    bolt3::finalize_htlc_transaction(tx, own.outputs[output], ecdsa_sign(bob_key, bob_digest),
                                     ecdsa_sign(victim_key, victim_digest), anchors, preimage);
    if (fee) {
        PublicKey pub = fee->key.public_key();
        Hash256 digest = segwit_v0_sighash(tx, 1, p2wpkh_script_code(pub), fee->amount, SIGHASH_ALL);
        tx.inputs[1].witness = {bolt3::signature_with_hash_type(ecdsa_sign(fee->key, digest), SIGHASH_ALL),
                                Bytes(pub.bytes().begin(), pub.bytes().end())};
    }
    return tx;
}

}  // namespace argus::test
