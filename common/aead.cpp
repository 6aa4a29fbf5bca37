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

Bytes chacha20poly1305_encrypt(const ByteArray<32>& key, const ByteArray<12>& nonce,
                               ByteSpan plaintext, ByteSpan associated_data) {
    ensure_sodium();
    Bytes out(plaintext.size() + aead_tag_size);
    unsigned long long size = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(out.data(), &size, plaintext.data(), plaintext.size(),
                                              associated_data.data(), associated_data.size(),
                                              nullptr, nonce.data(), key.data());
    out.resize(size);
    return out;
}

Result<Bytes> chacha20poly1305_decrypt(const ByteArray<32>& key, const ByteArray<12>& nonce,
                                       ByteSpan ciphertext_and_tag, ByteSpan associated_data) {
    ensure_sodium();
    if (ciphertext_and_tag.size() < aead_tag_size) {
        return make_error(ErrorCode::truncated, "ciphertext shorter than its 16-byte tag");
    }
    Bytes out(ciphertext_and_tag.size() - aead_tag_size);
    unsigned long long size = 0;
    if (crypto_aead_chacha20poly1305_ietf_decrypt(
            out.data(), &size, nullptr, ciphertext_and_tag.data(), ciphertext_and_tag.size(),
            associated_data.data(), associated_data.size(), nonce.data(), key.data()) != 0) {
        return auth_failed();
    }
    out.resize(size);
    return out;
}

Bytes xchacha20poly1305_encrypt(const ByteArray<32>& key, const ByteArray<24>& nonce,
                                ByteSpan plaintext, ByteSpan associated_data) {
    ensure_sodium();
    Bytes out(plaintext.size() + aead_tag_size);
    unsigned long long size = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out.data(), &size, plaintext.data(),
                                               plaintext.size(), associated_data.data(),
                                               associated_data.size(), nullptr, nonce.data(),
                                               key.data());
    out.resize(size);
    return out;
}

Result<Bytes> xchacha20poly1305_decrypt(const ByteArray<32>& key, const ByteArray<24>& nonce,
                                        ByteSpan ciphertext_and_tag, ByteSpan associated_data) {
    ensure_sodium();
    if (ciphertext_and_tag.size() < aead_tag_size) {
        return make_error(ErrorCode::truncated, "ciphertext shorter than its 16-byte tag");
    }
    Bytes out(ciphertext_and_tag.size() - aead_tag_size);
    unsigned long long size = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            out.data(), &size, nullptr, ciphertext_and_tag.data(), ciphertext_and_tag.size(),
            associated_data.data(), associated_data.size(), nonce.data(), key.data()) != 0) {
        return auth_failed();
    }
    out.resize(size);
    return out;
}

}  // namespace argus
