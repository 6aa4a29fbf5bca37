#include "common/keys.h"

#include <openssl/rand.h>
#include <secp256k1.h>
#include <secp256k1_ecdh.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_recovery.h>
#include <secp256k1_schnorrsig.h>

#include <cstdlib>
#include <cstring>

#include "common/check.h"
#include "common/hash.h"

namespace argus {

namespace {

// One immutable context for the whole process: creating one costs ~50 us of
// table set-up. It is randomised once for side-channel blinding; the seed does
// not change any output, so this is not hidden randomness in the logic.
const secp256k1_context* context() {
    static const secp256k1_context* ctx = [] {
        secp256k1_context* c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
        unsigned char seed[32];
        if (c == nullptr || RAND_bytes(seed, sizeof seed) != 1 ||
            secp256k1_context_randomize(c, seed) != 1) {
            std::abort();
        }
        secure_wipe(seed, sizeof seed);
        return c;
    }();
    return ctx;
}

secp256k1_pubkey load_pubkey(const ByteArray<33>& bytes) {
    secp256k1_pubkey pk;
    // Stored keys were validated on construction.
    if (secp256k1_ec_pubkey_parse(context(), &pk, bytes.data(), bytes.size()) != 1) std::abort();
    return pk;
}

ByteArray<33> store_pubkey(const secp256k1_pubkey& pk) {
    ByteArray<33> out{};
    size_t size = out.size();
    secp256k1_ec_pubkey_serialize(context(), out.data(), &size, &pk, SECP256K1_EC_COMPRESSED);
    return out;
}

Error bad_key(const char* what) { return make_error(ErrorCode::invalid_key, what); }

}  // namespace

Result<PrivateKey> PrivateKey::from_bytes(ByteSpan bytes) {
    if (bytes.size() != 32) return bad_key("private key must be 32 bytes");
    if (secp256k1_ec_seckey_verify(context(), bytes.data()) != 1) {
        return bad_key("private key out of range");
    }
    ByteArray<32> array;
    std::memcpy(array.data(), bytes.data(), 32);
    return PrivateKey(array);
}

PublicKey PrivateKey::public_key() const {
    secp256k1_pubkey pk;
    if (secp256k1_ec_pubkey_create(context(), &pk, bytes_.data()) != 1) std::abort();
    return PublicKey(store_pubkey(pk));
}

Result<PrivateKey> PrivateKey::tweak_add(const ByteArray<32>& tweak) const {
    ByteArray<32> out = bytes_;
    if (secp256k1_ec_seckey_tweak_add(context(), out.data(), tweak.data()) != 1) {
        return bad_key("private key tweak out of range");
    }
    return PrivateKey(out);
}

Result<PrivateKey> PrivateKey::tweak_mul(const ByteArray<32>& tweak) const {
    ByteArray<32> out = bytes_;
    if (secp256k1_ec_seckey_tweak_mul(context(), out.data(), tweak.data()) != 1) {
        return bad_key("private key multiplier out of range");
    }
    return PrivateKey(out);
}

Result<PrivateKey> PrivateKey::add(const PrivateKey& other) const { return tweak_add(other.bytes_); }

PrivateKey PrivateKey::negate() const {
    ByteArray<32> out = bytes_;
    ARGUS_CHECK(secp256k1_ec_seckey_negate(context(), out.data()) == 1);
    return PrivateKey(out);
}

Result<PublicKey> PublicKey::parse(ByteSpan bytes) {
    if (bytes.size() != 33 && bytes.size() != 65) {
        return bad_key("public key must be 33 or 65 bytes");
    }
    secp256k1_pubkey pk;
    if (secp256k1_ec_pubkey_parse(context(), &pk, bytes.data(), bytes.size()) != 1) {
        return bad_key("public key is not a point on secp256k1");
    }
    return PublicKey(store_pubkey(pk));
}

Result<PublicKey> PublicKey::tweak_add(const ByteArray<32>& tweak) const {
    secp256k1_pubkey pk = load_pubkey(bytes_);
    if (secp256k1_ec_pubkey_tweak_add(context(), &pk, tweak.data()) != 1) {
        return bad_key("public key tweak out of range");
    }
    return PublicKey(store_pubkey(pk));
}

Result<PublicKey> PublicKey::tweak_mul(const ByteArray<32>& tweak) const {
    secp256k1_pubkey pk = load_pubkey(bytes_);
    if (secp256k1_ec_pubkey_tweak_mul(context(), &pk, tweak.data()) != 1) {
        return bad_key("public key multiplier out of range");
    }
    return PublicKey(store_pubkey(pk));
}

Result<PublicKey> PublicKey::combine(const PublicKey& a, const PublicKey& b) {
    secp256k1_pubkey pa = load_pubkey(a.bytes_);
    secp256k1_pubkey pb = load_pubkey(b.bytes_);
    const secp256k1_pubkey* parts[] = {&pa, &pb};
    secp256k1_pubkey sum;
    if (secp256k1_ec_pubkey_combine(context(), &sum, parts, 2) != 1) {
        return bad_key("public keys sum to infinity");
    }
    return PublicKey(store_pubkey(sum));
}

XOnlyPublicKey PublicKey::x_only() const {
    ByteArray<32> out;
    std::memcpy(out.data(), bytes_.data() + 1, 32);
    return XOnlyPublicKey(out);
}

Result<XOnlyPublicKey> XOnlyPublicKey::parse(ByteSpan bytes) {
    if (bytes.size() != 32) return bad_key("x-only public key must be 32 bytes");
    secp256k1_xonly_pubkey pk;
    if (secp256k1_xonly_pubkey_parse(context(), &pk, bytes.data()) != 1) {
        return bad_key("x-only public key is not on secp256k1");
    }
    ByteArray<32> out;
    std::memcpy(out.data(), bytes.data(), 32);
    return XOnlyPublicKey(out);
}

Result<EcdsaSignature> parse_der_signature(ByteSpan der) {
    secp256k1_ecdsa_signature sig;
    if (der.empty() || der.size() > 72 ||
        secp256k1_ecdsa_signature_parse_der(context(), &sig, der.data(), der.size()) != 1) {
        return make_error(ErrorCode::invalid_signature, "not a strict DER ECDSA signature");
    }
    EcdsaSignature out;
    secp256k1_ecdsa_signature_serialize_compact(context(), out.compact.data(), &sig);
    return out;
}

Result<EcdsaSignature> parse_compact_signature(ByteSpan compact) {
    secp256k1_ecdsa_signature sig;
    if (compact.size() != 64 ||
        secp256k1_ecdsa_signature_parse_compact(context(), &sig, compact.data()) != 1) {
        return make_error(ErrorCode::invalid_signature, "not a 64-byte compact ECDSA signature");
    }
    EcdsaSignature out;
    secp256k1_ecdsa_signature_serialize_compact(context(), out.compact.data(), &sig);
    return out;
}

Bytes serialize_der(const EcdsaSignature& signature) {
    secp256k1_ecdsa_signature sig;
    secp256k1_ecdsa_signature_parse_compact(context(), &sig, signature.compact.data());
    Bytes out(72);
    size_t size = out.size();
    secp256k1_ecdsa_signature_serialize_der(context(), out.data(), &size, &sig);
    out.resize(size);
    return out;
}

bool is_low_s(const EcdsaSignature& signature) {
    secp256k1_ecdsa_signature sig;
    secp256k1_ecdsa_signature_parse_compact(context(), &sig, signature.compact.data());
    return secp256k1_ecdsa_signature_normalize(context(), nullptr, &sig) == 0;
}

EcdsaSignature ecdsa_sign(const PrivateKey& key, const Hash256& digest) {
    secp256k1_ecdsa_signature sig;
    if (secp256k1_ecdsa_sign(context(), &sig, digest.data(), key.bytes().data(), nullptr,
                             nullptr) != 1) {
        std::abort();
    }
    EcdsaSignature out;
    secp256k1_ecdsa_signature_serialize_compact(context(), out.compact.data(), &sig);
    return out;
}

bool ecdsa_verify(const PublicKey& key, const Hash256& digest, const EcdsaSignature& signature) {
    secp256k1_ecdsa_signature sig;
    if (secp256k1_ecdsa_signature_parse_compact(context(), &sig, signature.compact.data()) != 1) {
        return false;
    }
    secp256k1_pubkey pk = load_pubkey(key.bytes());
    return secp256k1_ecdsa_verify(context(), &sig, digest.data(), &pk) == 1;
}

RecoverableSignature ecdsa_sign_recoverable(const PrivateKey& key, const Hash256& digest) {
    secp256k1_ecdsa_recoverable_signature sig;
    if (secp256k1_ecdsa_sign_recoverable(context(), &sig, digest.data(), key.bytes().data(),
                                         nullptr, nullptr) != 1) {
        std::abort();
    }
    RecoverableSignature out;
    secp256k1_ecdsa_recoverable_signature_serialize_compact(context(), out.compact.data(),
                                                            &out.recovery_id, &sig);
    return out;
}

Result<PublicKey> ecdsa_recover(const Hash256& digest, const RecoverableSignature& signature) {
    if (signature.recovery_id < 0 || signature.recovery_id > 3) {
        return make_error(ErrorCode::invalid_signature, "recovery id out of range");
    }
    secp256k1_ecdsa_recoverable_signature sig;
    if (secp256k1_ecdsa_recoverable_signature_parse_compact(
            context(), &sig, signature.compact.data(), signature.recovery_id) != 1) {
        return make_error(ErrorCode::invalid_signature, "signature r or s out of range");
    }
    secp256k1_pubkey pk;
    if (secp256k1_ecdsa_recover(context(), &pk, &sig, digest.data()) != 1) {
        return make_error(ErrorCode::invalid_signature, "no public key recovers from signature");
    }
    return PublicKey::parse(store_pubkey(pk));
}

Result<Hash256> ecdh(const PrivateKey& key, const PublicKey& point) {
    secp256k1_pubkey pk = load_pubkey(point.bytes());
    Hash256 out{};
    if (secp256k1_ecdh(context(), out.data(), &pk, key.bytes().data(), nullptr, nullptr) != 1) {
        return bad_key("ECDH failed");
    }
    return out;
}

ByteArray<64> schnorr_sign(const PrivateKey& key, ByteSpan message,
                           const ByteArray<32>& aux_random) {
    secp256k1_keypair keypair;
    if (secp256k1_keypair_create(context(), &keypair, key.bytes().data()) != 1) std::abort();
    ByteArray<64> sig{};
    secp256k1_schnorrsig_extraparams extra = SECP256K1_SCHNORRSIG_EXTRAPARAMS_INIT;
    extra.ndata = const_cast<std::uint8_t*>(aux_random.data());
    if (secp256k1_schnorrsig_sign_custom(context(), sig.data(), message.data(), message.size(),
                                         &keypair, &extra) != 1) {
        std::abort();
    }
    secure_wipe(&keypair, sizeof keypair);
    return sig;
}

bool schnorr_verify(const XOnlyPublicKey& key, ByteSpan message, const ByteArray<64>& sig) {
    secp256k1_xonly_pubkey pk;
    if (secp256k1_xonly_pubkey_parse(context(), &pk, key.bytes().data()) != 1) return false;
    return secp256k1_schnorrsig_verify(context(), sig.data(), message.data(), message.size(),
                                       &pk) == 1;
}

namespace {
Hash256 tap_tweak(const XOnlyPublicKey& internal, const std::optional<Hash256>& merkle_root) {
    Bytes data(internal.bytes().begin(), internal.bytes().end());
    if (merkle_root) append(data, *merkle_root);
    return tagged_hash("TapTweak", data);
}
}  // namespace

Result<TaprootOutputKey> taproot_output_key(const XOnlyPublicKey& internal,
                                            const std::optional<Hash256>& merkle_root) {
    secp256k1_xonly_pubkey pk;
    if (secp256k1_xonly_pubkey_parse(context(), &pk, internal.bytes().data()) != 1) {
        return bad_key("internal key not on curve");
    }
    Hash256 tweak = tap_tweak(internal, merkle_root);
    secp256k1_pubkey tweaked;
    if (secp256k1_xonly_pubkey_tweak_add(context(), &tweaked, &pk, tweak.data()) != 1) {
        return bad_key("taproot tweak out of range");
    }
    secp256k1_xonly_pubkey output;
    int parity = 0;
    ARGUS_CHECK(secp256k1_xonly_pubkey_from_pubkey(context(), &output, &parity, &tweaked) == 1);
    ByteArray<32> bytes;
    secp256k1_xonly_pubkey_serialize(context(), bytes.data(), &output);
    auto key = XOnlyPublicKey::parse(bytes);
    if (!key) return key.error();
    return TaprootOutputKey{*key, parity == 1};
}

Result<PrivateKey> taproot_tweak_private_key(const PrivateKey& internal,
                                             const std::optional<Hash256>& merkle_root) {
    secp256k1_keypair keypair;
    if (secp256k1_keypair_create(context(), &keypair, internal.bytes().data()) != 1) {
        return bad_key("invalid internal private key");
    }
    secp256k1_xonly_pubkey pk;
    ARGUS_CHECK(secp256k1_keypair_xonly_pub(context(), &pk, nullptr, &keypair) == 1);
    ByteArray<32> x;
    secp256k1_xonly_pubkey_serialize(context(), x.data(), &pk);
    auto internal_x = XOnlyPublicKey::parse(x);
    if (!internal_x) return internal_x.error();
    Hash256 tweak = tap_tweak(*internal_x, merkle_root);
    if (secp256k1_keypair_xonly_tweak_add(context(), &keypair, tweak.data()) != 1) {
        return bad_key("taproot tweak out of range");
    }
    ByteArray<32> secret;
    ARGUS_CHECK(secp256k1_keypair_sec(context(), secret.data(), &keypair) == 1);
    secure_wipe(&keypair, sizeof keypair);
    auto result = PrivateKey::from_bytes(secret);
    secure_wipe(secret.data(), secret.size());
    return result;
}

}  // namespace argus
