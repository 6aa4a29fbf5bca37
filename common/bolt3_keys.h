// BOLT #3 key derivation ("Key Derivation" section).
#pragma once

#include "common/keys.h"

namespace argus::bolt3 {

// BOLT #3: pubkey = basepoint + SHA256(per_commitment_point || basepoint) * G
Result<PublicKey> derive_pubkey(const PublicKey& basepoint, const PublicKey& per_commitment_point);
// BOLT #3: privkey = basepoint_secret + SHA256(per_commitment_point || basepoint)
Result<PrivateKey> derive_privkey(const PrivateKey& basepoint_secret,
                                  const PublicKey& per_commitment_point);
// BOLT #3: revocationpubkey = revocation_basepoint * SHA256(revocation_basepoint || per_commitment_point)
//                           + per_commitment_point * SHA256(per_commitment_point || revocation_basepoint)
Result<PublicKey> derive_revocation_pubkey(const PublicKey& revocation_basepoint,
                                           const PublicKey& per_commitment_point);
Result<PrivateKey> derive_revocation_privkey(const PrivateKey& revocation_basepoint_secret,
                                             const PrivateKey& per_commitment_secret);

}  // namespace argus::bolt3
