// AEAD ciphers from libsodium (no hand-written cryptography).
#pragma once

#include "common/bytes.h"
#include "common/result.h"

namespace argus {

// RFC 8439 ChaCha20-Poly1305, 12-byte nonce. Output: ciphertext || 16-byte tag.
Bytes chacha20poly1305_encrypt(const ByteArray<32>& key, const ByteArray<12>& nonce,
                               ByteSpan plaintext, ByteSpan associated_data = {});
Result<Bytes> chacha20poly1305_decrypt(const ByteArray<32>& key, const ByteArray<12>& nonce,
                                       ByteSpan ciphertext_and_tag, ByteSpan associated_data = {});

// XChaCha20-Poly1305, 24-byte nonce (lnd watchtower blobs).
Bytes xchacha20poly1305_encrypt(const ByteArray<32>& key, const ByteArray<24>& nonce,
                                ByteSpan plaintext, ByteSpan associated_data = {});
Result<Bytes> xchacha20poly1305_decrypt(const ByteArray<32>& key, const ByteArray<24>& nonce,
                                        ByteSpan ciphertext_and_tag, ByteSpan associated_data = {});

inline constexpr std::size_t aead_tag_size = 16;

}  // namespace argus
