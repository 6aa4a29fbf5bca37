#include "client/channel/channel.h"

#include <algorithm>
#include <limits>

#include "common/bolt3_keys.h"
#include "common/bolt3_scripts.h"
#include "common/check.h"
#include "common/hash.h"
#include "common/script.h"
#include "common/sighash.h"

namespace argus::client {

namespace {
PrivateKey derive_secret(const Hash256& seed, std::string_view purpose) {
    // Draw again in the (negligible) case the HMAC is not a valid scalar.
    for (std::uint8_t counter = 0;; ++counter) {
        Bytes label(purpose.begin(), purpose.end());
        label.push_back(counter);
        auto key = PrivateKey::from_bytes(hmac_sha256(seed, label));
        if (key) return *key;
    }
}
}  // namespace

ChannelSecrets ChannelSecrets::from_seed(const Hash256& seed) {
    return ChannelSecrets{derive_secret(seed, "funding"), derive_secret(seed, "revocation"),
                          derive_secret(seed, "payment"), derive_secret(seed, "delayed_payment"),
                          derive_secret(seed, "htlc"), hmac_sha256(seed, as_bytes("shachain"))};
}

Hash256 ChannelSecrets::per_commitment_secret(std::uint64_t n) const {
    return bolt3::generate_from_seed(shachain_seed, bolt3::max_shachain_index - n);
}

PublicKey ChannelSecrets::per_commitment_point(std::uint64_t n) const {
    return PrivateKey::from_bytes(per_commitment_secret(n)).value().public_key();
}

ChannelBasepoints ChannelBasepoints::of(const ChannelSecrets& s) {
    return {s.funding.public_key(), s.revocation_basepoint.public_key(), s.payment_basepoint.public_key(),
            s.delayed_payment_basepoint.public_key(), s.htlc_basepoint.public_key()};
}

Bytes funding_script_pubkey(const PublicKey& a, const PublicKey& b) { return p2wsh_script(bolt3::funding_script(a, b)); }

JusticeMaterial JusticeMaterial::of(const ChannelSecrets& local, const ChannelBasepoints& remote) {
    return {local.revocation_basepoint,       local.funding.public_key(), local.payment_basepoint.public_key(),
            local.htlc_basepoint.public_key(), remote.funding,             remote.payment,
            remote.delayed_payment,            remote.htlc};
}

WatchedChannel::WatchedChannel(ChannelConfig config, JusticeMaterial material)
    : config_(config),
      material_(std::move(material)),
      local_revocation_basepoint_(material_.revocation_basepoint_secret.public_key()) {}

bolt3::CommitmentParams WatchedChannel::remote_commitment_params() const {
    bolt3::CommitmentParams p;
    p.funding_outpoint = config_.funding_outpoint;
    p.funding_satoshis = config_.funding_satoshis;
    p.to_self_delay = config_.remote_to_self_delay;
    p.dust_limit_satoshis = config_.dust_limit_satoshis;
    p.anchors = config_.anchors;
    p.local_is_opener = !config_.local_is_opener;  // "local" of the remote's commitment is the remote
    // BOLT #3: the obscuring factor is SHA256(opener payment_basepoint || accepter payment_basepoint).
    const PublicKey& opener = config_.local_is_opener ? material_.local_payment_basepoint : material_.remote_payment_basepoint;
    const PublicKey& accepter = config_.local_is_opener ? material_.remote_payment_basepoint : material_.local_payment_basepoint;
    p.obscuring_factor = bolt3::obscuring_factor(opener, accepter);
    return p;
}

bolt3::CommitmentKeys WatchedChannel::remote_commitment_keys(const PublicKey& point) const {
    // The remote's commitment: its outputs are delayed and revocable by us.
    return bolt3::CommitmentKeys{bolt3::derive_revocation_pubkey(local_revocation_basepoint_, point).value(),
                                 bolt3::derive_pubkey(material_.remote_delayed_payment_basepoint, point).value(),
                                 bolt3::derive_pubkey(material_.remote_htlc_basepoint, point).value(),
                                 bolt3::derive_pubkey(material_.local_htlc_basepoint, point).value(),
                                 material_.local_payment_basepoint,  // static_remotekey: we are paid to our basepoint
                                 material_.remote_funding_pubkey,
                                 material_.local_funding_pubkey};
}

Channel::Channel(ChannelConfig config, ChannelSecrets local, ChannelBasepoints remote)
    : config_(config),
      local_(std::move(local)),
      remote_(std::move(remote)),
      local_points_(ChannelBasepoints::of(local_)),
      watched_(config_, JusticeMaterial::of(local_, remote_)) {}

bolt3::CommitmentParams Channel::remote_commitment_params() const { return watched_.remote_commitment_params(); }

bolt3::CommitmentKeys Channel::remote_commitment_keys(const PublicKey& point) const {
    return watched_.remote_commitment_keys(point);
}

bolt3::CommitmentParams Channel::local_commitment_params() const {
    bolt3::CommitmentParams p = remote_commitment_params();
    p.to_self_delay = config_.local_to_self_delay;
    p.local_is_opener = config_.local_is_opener;
    return p;
}

bolt3::CommitmentKeys Channel::local_commitment_keys(std::uint64_t n) const {
    PublicKey point = local_.per_commitment_point(n);
    return bolt3::CommitmentKeys{bolt3::derive_revocation_pubkey(remote_.revocation, point).value(),
                                 bolt3::derive_pubkey(local_points_.delayed_payment, point).value(),
                                 bolt3::derive_pubkey(local_points_.htlc, point).value(),
                                 bolt3::derive_pubkey(remote_.htlc, point).value(),
                                 remote_.payment,
                                 local_points_.funding,
                                 remote_.funding};
}

namespace {
// The remote's view of a state: balances swapped, HTLC directions flipped.
bolt3::CommitmentState mirrored(const ChannelState& s) {
    bolt3::CommitmentState out;
    out.commitment_number = s.commitment_number;
    out.to_local_msat = s.remote_msat;
    out.to_remote_msat = s.local_msat;
    out.feerate_per_kw = s.feerate_per_kw;
    for (auto h : s.htlcs) {
        h.direction = h.direction == bolt3::HtlcDirection::offered ? bolt3::HtlcDirection::received
                                                                   : bolt3::HtlcDirection::offered;
        out.htlcs.push_back(h);
    }
    return out;
}

bolt3::CommitmentState own(const ChannelState& s) {
    return bolt3::CommitmentState{s.commitment_number, s.local_msat, s.remote_msat, s.feerate_per_kw, s.htlcs};
}
}  // namespace

bolt3::Commitment WatchedChannel::remote_commitment(const ChannelState& state, const PublicKey& point) const {
    return bolt3::build_commitment(remote_commitment_params(), remote_commitment_keys(point), mirrored(state));
}

bolt3::Commitment Channel::remote_commitment(const ChannelState& state, const PublicKey& point) const {
    return watched_.remote_commitment(state, point);
}

bolt3::Commitment Channel::local_commitment(const ChannelState& state) const {
    return bolt3::build_commitment(local_commitment_params(), local_commitment_keys(state.commitment_number), own(state));
}

EcdsaSignature Channel::sign_remote_commitment(const bolt3::Commitment& commitment, const PublicKey& point) const {
    Hash256 digest = bolt3::commitment_sighash(commitment, remote_commitment_params(), remote_commitment_keys(point));
    return ecdsa_sign(local_.funding, digest);
}

bool Channel::verify_local_commitment_signature(const bolt3::Commitment& commitment, std::uint64_t n,
                                                const EcdsaSignature& signature) const {
    Hash256 digest = bolt3::commitment_sighash(commitment, local_commitment_params(), local_commitment_keys(n));
    return ecdsa_verify(remote_.funding, digest, signature);
}

Status WatchedChannel::receive_revocation(std::uint64_t n, const Hash256& secret, const PublicKey& expected_point) {
    auto key = PrivateKey::from_bytes(secret);
    if (!key || !(key->public_key() == expected_point)) {
        return make_error(ErrorCode::invalid_argument,
                          "revealed secret for commitment " + std::to_string(n) + " does not match its point");
    }
    // BOLT #3: per-commitment secrets are stored by index 2^48 - 1 - n; each must derive the earlier ones.
    return revealed_.insert(bolt3::max_shachain_index - n, secret);
}

std::optional<Hash256> WatchedChannel::revealed_secret(std::uint64_t n) const {
    return revealed_.lookup(bolt3::max_shachain_index - n);
}

Result<WatchedChannel::RevokedKeys> WatchedChannel::revoked_keys(std::uint64_t commitment_number) const {
    auto secret = revealed_secret(commitment_number);
    if (!secret) {
        return make_error(ErrorCode::not_found, "commitment " + std::to_string(commitment_number) + " has not been revoked");
    }
    auto per_commitment_secret = PrivateKey::from_bytes(*secret);
    if (!per_commitment_secret) return per_commitment_secret.error();
    auto revocation = bolt3::derive_revocation_privkey(material_.revocation_basepoint_secret, *per_commitment_secret);
    if (!revocation) return revocation.error();
    return RevokedKeys{per_commitment_secret->public_key(), *revocation};
}

Result<Transaction> WatchedChannel::justice_transaction(const ChannelState& state, const Bytes& destination,
                                                        std::uint32_t feerate_per_kw) const {
    auto keys = revoked_keys(state.commitment_number);
    if (!keys) return keys.error();
    auto& revocation = keys->revocation;
    bolt3::Commitment revoked = remote_commitment(state, keys->point);
    bolt3::JusticeRequest request{bolt3::revocable_outputs(revoked), destination, feerate_per_kw};
    // build_justice_transaction verifies every input's signature against its BIP143 sighash.
    return bolt3::build_justice_transaction(request, revocation);
}

Status KitPolicy::validate() const {
    if (floor_feerate < 0) return make_error(ErrorCode::invalid_argument, "kit floor fee rate is negative");
    if (!(max_fee_share > 0.0 && max_fee_share <= 1.0)) {
        return make_error(ErrorCode::invalid_argument, "kit max fee share must be in (0, 1]");
    }
    if (max_fee <= 0 || max_fee > std::numeric_limits<std::uint32_t>::max()) {
        return make_error(ErrorCode::invalid_argument, "kit max fee must be 1..4294967295 sat");
    }
    if (rungs == 0 || rungs > kit::max_rungs) {
        return make_error(ErrorCode::invalid_argument, "kit rungs must be 1.." + std::to_string(kit::max_rungs));
    }
    return {};
}

std::int64_t kit_budget(const KitPolicy& policy, std::int64_t amount) {
    auto share = static_cast<std::int64_t>(static_cast<double>(amount) * policy.max_fee_share);
    return std::min({share, policy.max_fee, amount - kit::min_output});
}

Result<WatchedChannel::BuiltKit> WatchedChannel::penalty_kit(const ChannelState& state, const Bytes& destination,
                                                             const KitPolicy& policy) const {
    if (auto ok = policy.validate(); !ok) return ok.error();
    auto revoked_key = revoked_keys(state.commitment_number);
    if (!revoked_key) return revoked_key.error();
    const PrivateKey* revocation = &revoked_key->revocation;
    PublicKey point = revoked_key->point;
    bolt3::CommitmentParams params = remote_commitment_params();
    bolt3::CommitmentKeys keys = remote_commitment_keys(point);
    bolt3::CommitmentState remote_state = mirrored(state);
    bolt3::Commitment revoked = bolt3::build_commitment(params, keys, remote_state);

    BuiltKit built;
    built.commitment_txid = revoked.tx.txid();
    kit::PenaltyKit& k = built.kit;
    k.anchors = params.anchors;
    k.to_self_delay = params.to_self_delay;
    k.revocation_pubkey = keys.revocation_pubkey.bytes();
    k.local_delayed_pubkey = keys.local_delayed_pubkey.bytes();
    k.local_htlc_pubkey = keys.local_htlc_pubkey.bytes();
    k.remote_htlc_pubkey = keys.remote_htlc_pubkey.bytes();
    k.sweep_script = destination;

    // Fees set from the policy; false when the output cannot pay the floor.
    auto ladder = [&](kit::Part& part) {
        auto fees = kit::fee_ladder(policy.floor_feerate, kit_budget(policy, part.amount),
                                    kit::max_penalty_vsize(k, part), policy.rungs);
        for (std::uint32_t fee : fees) part.rungs.push_back(kit::Rung{fee, {}});
        return !fees.empty();
    };
    std::vector<kit::Part> second_stages;
    for (std::size_t i = 0; i < revoked.outputs.size(); ++i) {
        const bolt3::CommitmentOutput& out = revoked.outputs[i];
        kit::Part part;
        part.vout = static_cast<std::uint16_t>(i);
        part.amount = revoked.tx.outputs[i].value;
        if (out.kind == bolt3::OutputKind::to_local) {
            part.kind = kit::PartKind::to_local;
        } else if (out.kind == bolt3::OutputKind::offered_htlc || out.kind == bolt3::OutputKind::received_htlc) {
            part.kind = out.kind == bolt3::OutputKind::offered_htlc ? kit::PartKind::offered_htlc
                                                                     : kit::PartKind::received_htlc;
            const bolt3::Htlc& htlc = remote_state.htlcs.at(*out.htlc_index);
            part.payment_hash = htlc.payment_hash;
            part.cltv_expiry = htlc.cltv_expiry;
        } else {
            continue;
        }
        if (!ladder(part)) {
            ++built.skipped_outputs;
            continue;
        }
        if (part.kind != kit::PartKind::to_local && policy.second_stage && !params.anchors) {
            // The cheater's HTLC-timeout (offered) or HTLC-success (received):
            // fully signed with SIGHASH_ALL, so its txid is fixed.
            Transaction second = bolt3::build_htlc_transaction(revoked, i, params, keys, remote_state);
            kit::Part sweep;
            sweep.kind = kit::PartKind::second_stage;
            sweep.vout = part.vout;
            sweep.amount = second.outputs.at(0).value;
            sweep.payment_hash = part.payment_hash;
            sweep.cltv_expiry = part.cltv_expiry;
            sweep.second_stage_txid = second.txid();
            if (ladder(sweep)) {
                second_stages.push_back(std::move(sweep));
            } else {
                ++built.skipped_outputs;
            }
        }
        k.parts.push_back(std::move(part));
    }
    for (auto& sweep : second_stages) k.parts.push_back(std::move(sweep));
    if (k.parts.empty()) {
        return make_error(ErrorCode::invalid_argument, "no output of the revoked commitment can pay the floor fee");
    }
    for (kit::Part& part : k.parts) {
        if (auto ok = kit::sign_part(k, part, built.commitment_txid, *revocation); !ok) return ok.error();
    }
    if (auto ok = kit::validate(k); !ok) return ok.error();
    return built;
}

Result<WatchedChannel::BuiltKit> Channel::penalty_kit(const ChannelState& state, const Bytes& destination,
                                                      const KitPolicy& policy) const {
    return watched_.penalty_kit(state, destination, policy);
}

Status Channel::receive_revocation(std::uint64_t n, const Hash256& secret, const PublicKey& expected_point) {
    return watched_.receive_revocation(n, secret, expected_point);
}

std::optional<Hash256> Channel::revealed_secret(std::uint64_t n) const { return watched_.revealed_secret(n); }

Result<Transaction> Channel::justice_transaction(const ChannelState& state, const Bytes& destination,
                                                 std::uint32_t feerate_per_kw) const {
    return watched_.justice_transaction(state, destination, feerate_per_kw);
}

}  // namespace argus::client
