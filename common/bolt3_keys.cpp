#include "common/bolt3_keys.h"

#include "common/hash.h"

namespace argus::bolt3 {

namespace {
Hash256 hash_points(const PublicKey& a, const PublicKey& b) {
    Bytes data(a.bytes().begin(), a.bytes().end());
    append(data, b.bytes());
    return sha256(data);
}
}  // namespace

Result<PublicKey> derive_pubkey(const PublicKey& basepoint, const PublicKey& per_commitment_point) {
    return basepoint.tweak_add(hash_points(per_commitment_point, basepoint));
}

Result<PrivateKey> derive_privkey(const PrivateKey& basepoint_secret,
                                  const PublicKey& per_commitment_point) {
    return basepoint_secret.tweak_add(
        hash_points(per_commitment_point, basepoint_secret.public_key()));
}

Result<PublicKey> derive_revocation_pubkey(const PublicKey& revocation_basepoint,
                                           const PublicKey& per_commitment_point) {
    auto a = revocation_basepoint.tweak_mul(hash_points(revocation_basepoint, per_commitment_point));
    if (!a) return a.error();
    auto b = per_commitment_point.tweak_mul(hash_points(per_commitment_point, revocation_basepoint));
    if (!b) return b.error();
    return PublicKey::combine(*a, *b);
}

Result<PrivateKey> derive_revocation_privkey(const PrivateKey& revocation_basepoint_secret,
                                             const PrivateKey& per_commitment_secret) {
    PublicKey revocation_basepoint = revocation_basepoint_secret.public_key();
    PublicKey per_commitment_point = per_commitment_secret.public_key();
    auto a = revocation_basepoint_secret.tweak_mul(
        hash_points(revocation_basepoint, per_commitment_point));
    if (!a) return a.error();
    auto b =
        per_commitment_secret.tweak_mul(hash_points(per_commitment_point, revocation_basepoint));
    if (!b) return b.error();
    return a->add(*b);
}

}  // namespace argus::bolt3
