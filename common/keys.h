// secp256k1 keys and signatures (libsecp256k1). Follows libsecp256k1's order:
// outputs returned, inputs as arguments; nothing here is variable-time on secrets.
#pragma once

#include <optional>

#include "common/bytes.h"
#include "common/result.h"

namespace argus {

class PublicKey;
class XOnlyPublicKey;

// A 32-byte scalar in [1, n-1]. Wiped on destruction.
class PrivateKey {
public:
    static Result<PrivateKey> from_bytes(ByteSpan bytes);
    PrivateKey(const PrivateKey& other) = default;
    PrivateKey& operator=(const PrivateKey& other) = default;
    ~PrivateKey() { secure_wipe(bytes_.data(), bytes_.size()); }

    const ByteArray<32>& bytes() const { return bytes_; }
    PublicKey public_key() const;
    Result<PrivateKey> tweak_add(const ByteArray<32>& tweak) const;
    Result<PrivateKey> tweak_mul(const ByteArray<32>& tweak) const;
    Result<PrivateKey> add(const PrivateKey& other) const;
    PrivateKey negate() const;

private:
    explicit PrivateKey(const ByteArray<32>& bytes) : bytes_(bytes) {}
    ByteArray<32> bytes_;
};

// A point on the curve, kept in its 33-byte compressed form.
class PublicKey {
public:
    // Accepts 33-byte compressed or 65-byte uncompressed encodings.
    static Result<PublicKey> parse(ByteSpan bytes);
    const ByteArray<33>& bytes() const { return bytes_; }
    Result<PublicKey> tweak_add(const ByteArray<32>& tweak) const;
    Result<PublicKey> tweak_mul(const ByteArray<32>& tweak) const;
    static Result<PublicKey> combine(const PublicKey& a, const PublicKey& b);
    XOnlyPublicKey x_only() const;
    bool operator==(const PublicKey& other) const { return bytes_ == other.bytes_; }

private:
    friend class PrivateKey;
    explicit PublicKey(const ByteArray<33>& bytes) : bytes_(bytes) {}
    ByteArray<33> bytes_;
};

// BIP340 x-only public key.
class XOnlyPublicKey {
public:
    static Result<XOnlyPublicKey> parse(ByteSpan bytes);
    const ByteArray<32>& bytes() const { return bytes_; }
    bool operator==(const XOnlyPublicKey& other) const { return bytes_ == other.bytes_; }

private:
    friend class PublicKey;
    explicit XOnlyPublicKey(const ByteArray<32>& bytes) : bytes_(bytes) {}
    ByteArray<32> bytes_;
};

// ECDSA signature as (r, s), 64 bytes big-endian.
struct EcdsaSignature {
    ByteArray<64> compact;
    bool operator==(const EcdsaSignature& other) const = default;
};

// Strict DER (BIP66 shape); high-S signatures parse but fail verification.
Result<EcdsaSignature> parse_der_signature(ByteSpan der);
Result<EcdsaSignature> parse_compact_signature(ByteSpan compact);
Bytes serialize_der(const EcdsaSignature& signature);
bool is_low_s(const EcdsaSignature& signature);

// RFC6979 deterministic nonce, low-S output.
EcdsaSignature ecdsa_sign(const PrivateKey& key, const Hash256& digest);
// Rejects high-S signatures, as Bitcoin's standardness rules do.
bool ecdsa_verify(const PublicKey& key, const Hash256& digest, const EcdsaSignature& signature);

struct RecoverableSignature {
    ByteArray<64> compact;
    int recovery_id = 0;  // 0..3
};
RecoverableSignature ecdsa_sign_recoverable(const PrivateKey& key, const Hash256& digest);
Result<PublicKey> ecdsa_recover(const Hash256& digest, const RecoverableSignature& signature);

// SHA256 of the compressed shared point (libsecp256k1's default, as BOLT 8 uses).
Result<Hash256> ecdh(const PrivateKey& key, const PublicKey& point);

// BIP340 Schnorr.
// Messages of any length (BIP340 allows them; Bitcoin signs 32-byte sighashes).
ByteArray<64> schnorr_sign(const PrivateKey& key, ByteSpan message,
                           const ByteArray<32>& aux_random);
bool schnorr_verify(const XOnlyPublicKey& key, ByteSpan message, const ByteArray<64>& sig);

// BIP341 taproot output key Q = P + H_TapTweak(P || merkle_root)G.
struct TaprootOutputKey {
    XOnlyPublicKey key;
    bool parity_odd;
};
Result<TaprootOutputKey> taproot_output_key(const XOnlyPublicKey& internal,
                                            const std::optional<Hash256>& merkle_root);
// The secret key that signs for the tweaked output key (key path spend).
Result<PrivateKey> taproot_tweak_private_key(const PrivateKey& internal,
                                             const std::optional<Hash256>& merkle_root);

}  // namespace argus
