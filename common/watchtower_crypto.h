// How watchtower protocols derive locators/hints and blob keys from a
// commitment txid (internal byte order), and the teos blob encryption.
#pragma once

#include "common/aead.h"
#include "common/transaction.h"

namespace argus {

using Locator = ByteArray<16>;

// Hash of a locator for in-memory tables keyed by locators that come from
// txids (uniform) or that only one user fills (it can slow only itself);
// never for a table shared by users who choose its keys.
struct LocatorHash {
    std::size_t operator()(const Locator& l) const {
        std::size_t h = 0;
        for (std::size_t i = 0; i < 8; ++i) h = (h << 8) | l[i];
        return h;
    }
};

namespace teos {
// teos: locator = first 16 bytes of the commitment txid.
Locator locator(const Txid& commitment_txid);
// teos: key = SHA256(commitment txid).
Hash256 encryption_key(const Txid& commitment_txid);
// teos: ChaCha20-Poly1305, all-zero 12-byte nonce, no AAD, of the penalty transaction.
Bytes encrypt_penalty(ByteSpan penalty_tx, const Txid& commitment_txid);
Result<Bytes> decrypt_penalty(ByteSpan encrypted_blob, const Txid& commitment_txid);
}  // namespace teos

namespace lnd {
// lnd watchtower/blob: hint = SHA256(txid)[:16], key = SHA256(txid || txid).
Locator breach_hint(const Txid& commitment_txid);
Hash256 breach_key(const Txid& commitment_txid);
}  // namespace lnd

}  // namespace argus
