// A two-party BOLT 3 channel, from one party's side ("local"): its own keys and
// per-commitment secrets, the counterparty's basepoints and revealed secrets,
// and for every revoked counterparty state the justice transaction. Pure logic
// over common/: no I/O, no clock, no randomness (keys come from a seed).
//
// WatchedChannel is the part a watchtower client keeps: the counterparty's
// commitments and their justice transactions, from the revocation basepoint
// secret and public basepoints alone (JusticeMaterial). Channel builds its
// counterparty side on it, so both paths produce the same transactions.
#pragma once

#include <map>
#include <optional>
#include <vector>

#include "common/commitment.h"
#include "common/justice.h"
#include "common/penalty_kit.h"
#include "common/shachain.h"

namespace argus::client {

// One party's secrets, derived from a 32-byte seed (HMAC-SHA256 per purpose).
struct ChannelSecrets {
    static ChannelSecrets from_seed(const Hash256& seed);
    PrivateKey funding;
    PrivateKey revocation_basepoint;
    PrivateKey payment_basepoint;
    PrivateKey delayed_payment_basepoint;
    PrivateKey htlc_basepoint;
    Hash256 shachain_seed;

    // BOLT 3: per-commitment secret for commitment number n is generate_from_seed(seed, 2^48 - 1 - n).
    Hash256 per_commitment_secret(std::uint64_t commitment_number) const;
    PublicKey per_commitment_point(std::uint64_t commitment_number) const;
};

struct ChannelBasepoints {
    PublicKey funding;
    PublicKey revocation;
    PublicKey payment;
    PublicKey delayed_payment;
    PublicKey htlc;
    static ChannelBasepoints of(const ChannelSecrets& secrets);
};

struct ChannelConfig {
    OutPoint funding_outpoint;
    std::int64_t funding_satoshis = 0;
    bool local_is_opener = true;
    bool anchors = false;
    std::uint16_t local_to_self_delay = 144;   // imposed on the local party's outputs
    std::uint16_t remote_to_self_delay = 144;  // imposed on the remote party's outputs
    std::int64_t dust_limit_satoshis = 546;
};

// A channel state from the local party's point of view.
struct ChannelState {
    std::uint64_t commitment_number = 0;
    std::uint64_t local_msat = 0;   // balances after HTLCs are taken out
    std::uint64_t remote_msat = 0;
    std::uint32_t feerate_per_kw = 253;
    std::vector<bolt3::Htlc> htlcs;  // direction as seen by the local party
};

// How much of each output a penalty kit may spend on fees, and its ladder.
// Each part's budget is min(max_fee_share * amount, max_fee) satoshis, and
// never leaves less than kit::min_output.
struct KitPolicy {
    std::int64_t floor_feerate = 1000;     // sat per 1000 vbytes: the lowest rung
    double max_fee_share = 0.5;            // of the output's value
    std::int64_t max_fee = 1'000'000;      // satoshis, per output
    std::size_t rungs = 16;                // per output, at most kit::max_rungs
    bool second_stage = true;              // sweeps of the cheater's HTLC transactions (channels without anchors)
    Status validate() const;
};

// The fee budget of one output under `policy`.
std::int64_t kit_budget(const KitPolicy& policy, std::int64_t amount);

// Everything building the counterparty's commitment and its justice
// transaction needs, and nothing more. The funding, payment, delayed-payment
// and HTLC secrets are not in it: only the revocation key signs a justice
// transaction, and the rest of the counterparty's commitment is public keys.
struct JusticeMaterial {
    // BOLT #3: revocationprivkey = revocation_basepoint_secret * SHA256(revocation_basepoint || per_commitment_point)
    //                            + per_commitment_secret * SHA256(per_commitment_point || revocation_basepoint)
    PrivateKey revocation_basepoint_secret;
    PublicKey local_funding_pubkey;              // our anchor output on their commitment (option_anchors)
    PublicKey local_payment_basepoint;           // to_remote (option_static_remotekey) and the obscuring factor
    PublicKey local_htlc_basepoint;              // remote_htlcpubkey in the HTLC scripts
    PublicKey remote_funding_pubkey;             // the counterparty's anchor output (option_anchors)
    PublicKey remote_payment_basepoint;          // the obscuring factor
    PublicKey remote_delayed_payment_basepoint;  // local_delayedpubkey of the revoked to_local output
    PublicKey remote_htlc_basepoint;             // local_htlcpubkey in the HTLC scripts

    static JusticeMaterial of(const ChannelSecrets& local, const ChannelBasepoints& remote);
};

// The counterparty's side of a channel, for a watchtower client: rebuilds the
// counterparty's commitments, checks its revocations (shachain) and builds the
// justice transaction for each revoked one. Holds one secret: the revocation
// basepoint secret.
class WatchedChannel {
public:
    WatchedChannel(ChannelConfig config, JusticeMaterial material);

    const ChannelConfig& config() const { return config_; }
    const JusticeMaterial& material() const { return material_; }

    // The remote party's commitment for `state` (what the remote can broadcast),
    // given the remote's per-commitment point for that number.
    bolt3::Commitment remote_commitment(const ChannelState& state, const PublicKey& remote_point) const;
    bolt3::CommitmentParams remote_commitment_params() const;
    bolt3::CommitmentKeys remote_commitment_keys(const PublicKey& remote_point) const;

    // The remote revokes its commitment `n` by revealing its secret. Rejects a
    // secret that does not match the point we were given or the shachain.
    Status receive_revocation(std::uint64_t commitment_number, const Hash256& secret, const PublicKey& expected_point);
    std::optional<Hash256> revealed_secret(std::uint64_t commitment_number) const;

    // The justice transaction for the remote's revoked commitment of `state`:
    // every to_local and HTLC output swept through the revocation key to
    // `destination`, each signature checked against its BIP143 sighash.
    Result<Transaction> justice_transaction(const ChannelState& state, const Bytes& destination,
                                            std::uint32_t feerate_per_kw) const;

    // The penalty kit for the remote's revoked commitment of `state`: one
    // part per to_local and HTLC output (and, without anchors, per HTLC
    // transaction the cheater could publish), each rung signed with the
    // revocation key, checked against its BIP143 digest and checked as a
    // BIP125 replacement of the rung below. An output too small to pay the
    // floor fee and stay above dust gets no part. Also returns the revoked
    // commitment's txid (the kit's locator source).
    struct BuiltKit {
        kit::PenaltyKit kit;
        Txid commitment_txid;
        std::size_t skipped_outputs = 0;  // revocable outputs too small for the floor
    };
    Result<BuiltKit> penalty_kit(const ChannelState& state, const Bytes& destination, const KitPolicy& policy) const;

private:
    // The revoked commitment's per-commitment point and its revocation private key.
    struct RevokedKeys {
        PublicKey point;
        PrivateKey revocation;
    };
    Result<RevokedKeys> revoked_keys(std::uint64_t commitment_number) const;

    ChannelConfig config_;
    JusticeMaterial material_;
    PublicKey local_revocation_basepoint_;
    bolt3::ShachainStore revealed_;
};

class Channel {
public:
    Channel(ChannelConfig config, ChannelSecrets local, ChannelBasepoints remote);

    const ChannelConfig& config() const { return config_; }
    const ChannelSecrets& local() const { return local_; }
    const ChannelBasepoints& remote() const { return remote_; }

    // The remote party's commitment for `state` (what the remote can broadcast),
    // given the remote's per-commitment point for that number.
    bolt3::Commitment remote_commitment(const ChannelState& state, const PublicKey& remote_point) const;
    bolt3::CommitmentParams remote_commitment_params() const;
    bolt3::CommitmentKeys remote_commitment_keys(const PublicKey& remote_point) const;
    // The local party's own commitment (what the local party could broadcast).
    bolt3::Commitment local_commitment(const ChannelState& state) const;
    bolt3::CommitmentParams local_commitment_params() const;
    bolt3::CommitmentKeys local_commitment_keys(std::uint64_t commitment_number) const;

    // Our signature on the remote's commitment (we hand it over at each update).
    EcdsaSignature sign_remote_commitment(const bolt3::Commitment& commitment, const PublicKey& remote_point) const;
    // Checks the remote's signature on our commitment against its BIP143 sighash.
    bool verify_local_commitment_signature(const bolt3::Commitment& commitment, std::uint64_t commitment_number,
                                           const EcdsaSignature& signature) const;

    // The remote revokes its commitment `n` by revealing its secret. Rejects a
    // secret that does not match the point we were given or the shachain.
    Status receive_revocation(std::uint64_t commitment_number, const Hash256& secret, const PublicKey& expected_point);
    std::optional<Hash256> revealed_secret(std::uint64_t commitment_number) const;

    // The justice transaction for the remote's revoked commitment of `state`:
    // every to_local and HTLC output swept through the revocation key to
    // `destination`, each signature checked against its BIP143 sighash.
    Result<Transaction> justice_transaction(const ChannelState& state, const Bytes& destination,
                                            std::uint32_t feerate_per_kw) const;
    Result<WatchedChannel::BuiltKit> penalty_kit(const ChannelState& state, const Bytes& destination,
                                                 const KitPolicy& policy) const;
    const WatchedChannel& watched() const { return watched_; }

private:
    ChannelConfig config_;
    ChannelSecrets local_;
    ChannelBasepoints remote_;
    ChannelBasepoints local_points_;
    WatchedChannel watched_;  // the counterparty's commitments, revocations and justice
};

// The funding output's script and scriptPubKey (BOLT 3: 2-of-2 P2WSH).
Bytes funding_script_pubkey(const PublicKey& a, const PublicKey& b);

}  // namespace argus::client
