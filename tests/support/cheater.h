// The cheater's side of a two-party BOLT 3 channel, for the tests and the
// drill: Bob holds both signatures on his own commitments and HTLC
// transactions. Pure; every signature made as bitcoind verifies it.
#pragma once

#include "client/channel/channel.h"
#include "common/bolt3_keys.h"
#include "common/sighash.h"

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

// Bob's HTLC-success of output `output` of his commitment `own` (state
// `bobs_state`, his view), an HTLC the victim offered him: the victim's
// signature (as she gave it at the update) and his, with the preimage.
inline Transaction htlc_success(const client::Channel& bob, const client::ChannelSecrets& bob_secrets,
                                const client::ChannelSecrets& victim_secrets, const bolt3::Commitment& own,
                                std::size_t output, const client::ChannelState& bobs_state, const Hash256& preimage) {
    std::uint64_t n = bobs_state.commitment_number;
    PublicKey point = bob_secrets.per_commitment_point(n);
    bolt3::CommitmentState cs{n, bobs_state.local_msat, bobs_state.remote_msat, bobs_state.feerate_per_kw, bobs_state.htlcs};
    Transaction tx = bolt3::build_htlc_transaction(own, output, bob.local_commitment_params(), bob.local_commitment_keys(n), cs);
    bool anchors = bob.config().anchors;
    std::int64_t amount = own.tx.outputs[output].value;
    Hash256 victim_digest = bolt3::htlc_sighash(tx, own.outputs[output], amount, bolt3::remote_htlc_sighash_type(anchors));
    Hash256 bob_digest = bolt3::htlc_sighash(tx, own.outputs[output], amount, SIGHASH_ALL);
    auto victim_key = bolt3::derive_privkey(victim_secrets.htlc_basepoint, point).value();
    auto bob_key = bolt3::derive_privkey(bob_secrets.htlc_basepoint, point).value();
    bolt3::finalize_htlc_transaction(tx, own.outputs[output], ecdsa_sign(bob_key, bob_digest),
                                     ecdsa_sign(victim_key, victim_digest), anchors, preimage);
    return tx;
}

}  // namespace argus::test
