#include "common/watchtower_crypto.h"

#include <algorithm>

#include "common/hash.h"

namespace argus {

namespace teos {

Locator locator(const Txid& commitment_txid) {
    Locator out;
    std::copy_n(commitment_txid.bytes.begin(), out.size(), out.begin());
    return out;
}

Hash256 encryption_key(const Txid& commitment_txid) { return sha256(commitment_txid.bytes); }

Bytes encrypt_penalty(ByteSpan penalty_tx, const Txid& commitment_txid) {
    return chacha20poly1305_encrypt(encryption_key(commitment_txid), ByteArray<12>{}, penalty_tx);
}

Result<Bytes> decrypt_penalty(ByteSpan encrypted_blob, const Txid& commitment_txid) {
    return chacha20poly1305_decrypt(encryption_key(commitment_txid), ByteArray<12>{},
                                    encrypted_blob);
}

}  // namespace teos

namespace lnd {

Locator breach_hint(const Txid& commitment_txid) {
    Hash256 h = sha256(commitment_txid.bytes);
    Locator out;
    std::copy_n(h.begin(), out.size(), out.begin());
    return out;
}

Hash256 breach_key(const Txid& commitment_txid) {
    Bytes data(commitment_txid.bytes.begin(), commitment_txid.bytes.end());
    append(data, commitment_txid.bytes);
    return sha256(data);
}

}  // namespace lnd

}  // namespace argus
