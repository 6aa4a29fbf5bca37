#include "common/hash.h"

// For SHA256_Init/Update/Final (see sha256 below).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <cassert>
#include <cstdlib>

namespace argus {

namespace {
template <std::size_t N>
ByteArray<N> digest(const EVP_MD* md, ByteSpan data) {
    ByteArray<N> out{};
    unsigned int size = 0;
    if (EVP_Digest(data.data(), data.size(), out.data(), &size, md, nullptr) != 1 || size != N) {
        std::abort();  // only fails on allocation failure or a broken OpenSSL
    }
    return out;
}

// SHA256 is on the hot path (two per txid, 40,000 per full block). OpenSSL 3's
// EVP interface allocates and wipes a provider context at every digest, which
// costs more than hashing a transaction: through EVP, a txid's two digests
// took 2.2 times as long as through the low-level SHA256 functions, which run
// the same assembly (SHA extensions where the CPU has them) on a context on
// the stack. Those are deprecated in OpenSSL 3 but kept through 3.x; the
// suppression above covers only this file.
void sha256_init(SHA256_CTX& c) {
    if (SHA256_Init(&c) != 1) std::abort();  // cannot fail: no allocation
}
void sha256_update(SHA256_CTX& c, ByteSpan data) {
    if (SHA256_Update(&c, data.data(), data.size()) != 1) std::abort();
}
Hash256 sha256_final(SHA256_CTX& c) {
    Hash256 out{};
    if (SHA256_Final(out.data(), &c) != 1) std::abort();
    // The context holds the message's last block and chaining state, which
    // for HMAC keys, HKDF and shared secrets are secret (STYLE: wipe secrets).
    OPENSSL_cleanse(&c, sizeof c);
    return out;
}
}  // namespace

Hash256 sha256(ByteSpan data) {
    SHA256_CTX c;
    sha256_init(c);
    sha256_update(c, data);
    return sha256_final(c);
}

Hash256 sha256d(ByteSpan data) {
    Hash256 first = sha256(data);
    return sha256(first);
}

Hash256 sha256d_of_parts(std::initializer_list<ByteSpan> parts) {
    SHA256_CTX c;
    sha256_init(c);
    for (ByteSpan part : parts) sha256_update(c, part);
    Hash256 first = sha256_final(c);
    return sha256(first);
}

Hash160 ripemd160(ByteSpan data) { return digest<20>(EVP_ripemd160(), data); }

Hash160 hash160(ByteSpan data) {
    Hash256 first = sha256(data);
    return ripemd160(first);
}

Hash256 hmac_sha256(ByteSpan key, ByteSpan data) {
    Hash256 out{};
    unsigned int size = 0;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
             out.data(), &size) == nullptr ||
        size != 32) {
        std::abort();
    }
    return out;
}

Hash256 tagged_hash(std::string_view tag, ByteSpan data) {
    Hash256 tag_hash = sha256(as_bytes(tag));
    Sha256 hasher;
    hasher.write(tag_hash).write(tag_hash).write(data);
    return hasher.finish();
}

Sha256::Sha256() {
    static_assert(sizeof(SHA256_CTX) <= state_size && alignof(SHA256_CTX) <= alignof(std::uint64_t));
    sha256_init(*reinterpret_cast<SHA256_CTX*>(state_));
}

Sha256::~Sha256() { OPENSSL_cleanse(state_, sizeof state_); }

Sha256& Sha256::write(ByteSpan data) {
    sha256_update(*reinterpret_cast<SHA256_CTX*>(state_), data);
    return *this;
}

Hash256 Sha256::finish() { return sha256_final(*reinterpret_cast<SHA256_CTX*>(state_)); }

}  // namespace argus
