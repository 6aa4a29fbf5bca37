#include "common/hash.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

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

// SHA256 is on the hot path (two per txid, 40,000 per full block). EVP_Digest
// fetches the algorithm and allocates a context on every call, which costs more
// than hashing a transaction; a prefetched algorithm and a per-thread context
// reused across calls halve the cost. Immutable after creation, per thread.
struct Sha256Context {
    EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Sha256Context() {
        EVP_MD_CTX_free(ctx);
        EVP_MD_free(md);
    }
};
}  // namespace

Hash256 sha256(ByteSpan data) {
    thread_local Sha256Context c;
    Hash256 out{};
    unsigned int size = 0;
    if (c.md == nullptr || c.ctx == nullptr || EVP_DigestInit_ex2(c.ctx, c.md, nullptr) != 1 ||
        EVP_DigestUpdate(c.ctx, data.data(), data.size()) != 1 || EVP_DigestFinal_ex(c.ctx, out.data(), &size) != 1 ||
        size != 32) {
        std::abort();
    }
    return out;
}

Hash256 sha256d(ByteSpan data) {
    Hash256 first = sha256(data);
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

struct Sha256::Context {
    EVP_MD_CTX* ctx;
};

Sha256::Sha256() : context_(new Context{EVP_MD_CTX_new()}) {
    if (context_->ctx == nullptr || EVP_DigestInit_ex(context_->ctx, EVP_sha256(), nullptr) != 1) {
        std::abort();
    }
}

Sha256::~Sha256() {
    EVP_MD_CTX_free(context_->ctx);
    delete context_;
}

Sha256& Sha256::write(ByteSpan data) {
    if (EVP_DigestUpdate(context_->ctx, data.data(), data.size()) != 1) std::abort();
    return *this;
}

Hash256 Sha256::finish() {
    Hash256 out{};
    unsigned int size = 0;
    if (EVP_DigestFinal_ex(context_->ctx, out.data(), &size) != 1 || size != 32) std::abort();
    return out;
}

}  // namespace argus
