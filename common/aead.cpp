#include "common/aead.h"

#include <sodium.h>

#include <cstdlib>

namespace argus {

namespace {
void ensure_sodium() {
    // sodium_init picks CPU-specific implementations; it is idempotent and thread-safe.
    static const bool ready = sodium_init() >= 0;
    if (!ready) std::abort();
}

Error auth_failed() {
    return make_error(ErrorCode::decryption_failed, "ciphertext failed authentication");
}
}  // namespace

// libsodium's IETF ChaCha20-Poly1305 and XChaCha20-Poly1305 share one
// signature; only the nonce size and the functions differ.
using Seal = int (*)(unsigned char*, unsigned long long*, const unsigned char*, unsigned long long,
                     const unsigned char*, unsigned long long, const unsigned char*, const unsigned char*,
                     const unsigned char*);
using Open = int (*)(unsigned char*, unsigned long long*, unsigned char*, const unsigned char*, unsigned long long,
                     const unsigned char*, unsigned long long, const unsigned char*, const unsigned char*);

namespace {
Bytes seal(Seal fn, const ByteArray<32>& key, const std::uint8_t* nonce, ByteSpan plaintext, ByteSpan aad) {
    ensure_sodium();
    Bytes out(plaintext.size() + aead_tag_size);
    unsigned long long size = 0;
    fn(out.data(), &size, plaintext.data(), plaintext.size(), aad.data(), aad.size(), nullptr, nonce, key.data());
    out.resize(size);
    return out;
}

Result<Bytes> open(Open fn, const ByteArray<32>& key, const std::uint8_t* nonce, ByteSpan sealed, ByteSpan aad) {
    ensure_sodium();
    if (sealed.size() < aead_tag_size) {
        return make_error(ErrorCode::truncated, "ciphertext shorter than its 16-byte tag");
    }
    Bytes out(sealed.size() - aead_tag_size);
    unsigned long long size = 0;
    if (fn(out.data(), &size, nullptr, sealed.data(), sealed.size(), aad.data(), aad.size(), nonce, key.data()) != 0) {
        return auth_failed();
    }
    out.resize(size);
    return out;
}
}  // namespace

Bytes chacha20poly1305_encrypt(const ByteArray<32>& key, const ByteArray<12>& nonce, ByteSpan plaintext,
                               ByteSpan associated_data) {
    return seal(crypto_aead_chacha20poly1305_ietf_encrypt, key, nonce.data(), plaintext, associated_data);
}

Result<Bytes> chacha20poly1305_decrypt(const ByteArray<32>& key, const ByteArray<12>& nonce,
                                       ByteSpan ciphertext_and_tag, ByteSpan associated_data) {
    return open(crypto_aead_chacha20poly1305_ietf_decrypt, key, nonce.data(), ciphertext_and_tag, associated_data);
}

Bytes xchacha20poly1305_encrypt(const ByteArray<32>& key, const ByteArray<24>& nonce, ByteSpan plaintext,
                                ByteSpan associated_data) {
    return seal(crypto_aead_xchacha20poly1305_ietf_encrypt, key, nonce.data(), plaintext, associated_data);
}

Result<Bytes> xchacha20poly1305_decrypt(const ByteArray<32>& key, const ByteArray<24>& nonce,
                                        ByteSpan ciphertext_and_tag, ByteSpan associated_data) {
    return open(crypto_aead_xchacha20poly1305_ietf_decrypt, key, nonce.data(), ciphertext_and_tag, associated_data);
}

}  // namespace argus
