#include "common/bolt8.h"

#include <string>
#include <string_view>
#include <utility>

#include "common/aead.h"
#include "common/check.h"
#include "common/hash.h"

namespace argus::bolt8 {

namespace {

// BOLT #8: "protocolName = "Noise_XK_secp256k1_ChaChaPoly_SHA256""
constexpr std::string_view protocol_name = "Noise_XK_secp256k1_ChaChaPoly_SHA256";
// BOLT #8: "prologue is the ASCII string: lightning"
constexpr std::string_view prologue = "lightning";
// BOLT #8: "A version of 0 indicates that no change is necessary"
constexpr std::uint8_t handshake_version = 0;
constexpr std::size_t compressed_key_size = 33;

Error out_of_order(const char* what) {
    return make_error(ErrorCode::invalid_argument, std::string("bolt8: ") + what);
}

// BOLT #8: "HKDF(salt,ikm): a function defined in RFC 5869, evaluated with a
// zero-length info field ... return 64 bytes".
struct KeyPair {
    ByteArray<32> first{};
    ByteArray<32> second{};
    KeyPair() = default;
    KeyPair(const KeyPair&) = delete;
    KeyPair& operator=(const KeyPair&) = delete;
    ~KeyPair() {
        secure_wipe(first.data(), first.size());
        secure_wipe(second.data(), second.size());
    }
};

void hkdf(KeyPair& out, ByteSpan salt, ByteSpan input_key_material) {
    // RFC 5869: PRK = HMAC(salt, IKM); T(1) = HMAC(PRK, 0x01); T(2) = HMAC(PRK, T(1) || 0x02).
    Hash256 pseudo_random_key = hmac_sha256(salt, input_key_material);
    const std::uint8_t one = 0x01;
    out.first = hmac_sha256(pseudo_random_key, ByteSpan(&one, 1));
    ByteArray<33> block{};
    std::copy(out.first.begin(), out.first.end(), block.begin());
    block[32] = 0x02;
    out.second = hmac_sha256(pseudo_random_key, block);
    secure_wipe(pseudo_random_key.data(), pseudo_random_key.size());
    secure_wipe(block.data(), block.size());
}

// BOLT #8: "nonce n encoded as 32 zero bits, followed by a *little-endian*
// 64-bit value".
ByteArray<12> noise_nonce(std::uint64_t n) {
    ByteArray<12> out{};
    for (std::size_t i = 0; i < 8; ++i) out[4 + i] = static_cast<std::uint8_t>(n >> (8 * i));
    return out;
}

Bytes encrypt_with_ad(const ByteArray<32>& key, std::uint64_t n, ByteSpan ad, ByteSpan plaintext) {
    return chacha20poly1305_encrypt(key, noise_nonce(n), plaintext, ad);
}

Result<Bytes> decrypt_with_ad(const ByteArray<32>& key, std::uint64_t n, ByteSpan ad,
                              ByteSpan ciphertext) {
    return chacha20poly1305_decrypt(key, noise_nonce(n), ciphertext, ad);
}

void wipe(detail::HandshakeState& state) {
    secure_wipe(state.chaining_key.data(), state.chaining_key.size());
    secure_wipe(state.handshake_hash.data(), state.handshake_hash.size());
    secure_wipe(state.temporary_key.data(), state.temporary_key.size());
}

// h = SHA-256(h || data)
void mix_hash(detail::HandshakeState& state, ByteSpan data) {
    Sha256 hasher;
    hasher.write(state.handshake_hash).write(data);
    state.handshake_hash = hasher.finish();
}

// ck, temp_k = HKDF(ck, shared_secret)
void mix_key(detail::HandshakeState& state, ByteSpan shared_secret) {
    KeyPair keys;
    hkdf(keys, state.chaining_key, shared_secret);
    state.chaining_key = keys.first;
    state.temporary_key = keys.second;
}

// ECDH(k, rk) then mix_key; the shared secret is wiped.
Status mix_ecdh(detail::HandshakeState& state, const PrivateKey& key, const PublicKey& point) {
    auto shared = ecdh(key, point);
    if (!shared) return make_error(ErrorCode::invalid_key, "bolt8: ECDH failed");
    mix_key(state, *shared);
    secure_wipe(shared->data(), shared->size());
    return {};
}

// BOLT #8 "Handshake State Initialization".
void initialize(detail::HandshakeState& state, const PublicKey& responder_static) {
    // BOLT #8: "h = SHA-256(protocolName)", "ck = h", "h = SHA-256(h || prologue)"
    state.handshake_hash = sha256(as_bytes(protocol_name));
    state.chaining_key = state.handshake_hash;
    mix_hash(state, as_bytes(prologue));
    // BOLT #8: "both sides mix the responder's public key into the handshake digest"
    mix_hash(state, responder_static.bytes());
}

// Parses the common shape of acts one and two: v || compressed key || tag.
struct EphemeralAct {
    PublicKey key;
    ByteSpan tag;
};

Result<EphemeralAct> parse_ephemeral_act(ByteSpan act, const char* name) {
    // BOLT #8: "Read _exactly_ 50 bytes from the network buffer."
    if (act.size() != act_one_size) {
        return make_error(
            ErrorCode::malformed,
            std::string("bolt8: ") + name + " must be 50 bytes, got " + std::to_string(act.size()));
    }
    // BOLT #8: "If v is an unrecognized handshake version, then the responder
    // MUST abort the connection attempt."
    if (act[0] != handshake_version) {
        return make_error(
            ErrorCode::malformed,
            std::string("bolt8: ") + name + " has unknown version " + std::to_string(act[0]));
    }
    // BOLT #8: "The raw bytes of the remote party's ephemeral public key (re)
    // are to be deserialized into a point on the curve"
    auto key = PublicKey::parse(act.subspan(1, compressed_key_size));
    if (!key) {
        return make_error(ErrorCode::invalid_key,
                          std::string("bolt8: ") + name + " carries an invalid ephemeral key");
    }
    return EphemeralAct{*key, act.subspan(1 + compressed_key_size)};
}

Bytes make_ephemeral_act(const PublicKey& ephemeral, ByteSpan tag) {
    // BOLT #8: "Send m = 0 || e.pub.serializeCompressed() || c"
    Bytes act;
    act.reserve(act_one_size);
    act.push_back(handshake_version);
    append(act, ephemeral.bytes());
    append(act, tag);
    return act;
}

// BOLT #8: "Key rotation for a key k is performed according to the following
// steps: ... ck', k' = HKDF(ck, k) ... Reset the nonce for the key to n = 0."
void advance_nonce(detail::CipherState& cipher) {
    // BOLT #8: "The nonce sn MUST be incremented after this step."
    ++cipher.nonce;
    // BOLT #8: "rotating the key once the nonce dedicated to it reaches 1000."
    if (cipher.nonce == key_rotation_interval) {
        KeyPair keys;
        hkdf(keys, cipher.chaining_key, cipher.key);
        cipher.chaining_key = keys.first;
        cipher.key = keys.second;
        cipher.nonce = 0;
    }
}

Bytes seal(detail::CipherState& cipher, ByteSpan plaintext) {
    // BOLT #8: "A zero-length byte slice is to be passed as the AD"
    Bytes sealed = encrypt_with_ad(cipher.key, cipher.nonce, {}, plaintext);
    advance_nonce(cipher);
    return sealed;
}

Result<Bytes> open(detail::CipherState& cipher, ByteSpan ciphertext) {
    auto opened = decrypt_with_ad(cipher.key, cipher.nonce, {}, ciphertext);
    advance_nonce(cipher);
    return opened;
}

Error message_failed(const char* what) {
    return make_error(ErrorCode::decryption_failed,
                      std::string("bolt8: ") + what + " failed authentication");
}

}  // namespace

namespace detail {
CipherState::~CipherState() {
    secure_wipe(key.data(), key.size());
    secure_wipe(chaining_key.data(), chaining_key.size());
}
HandshakeState::~HandshakeState() {
    wipe(*this);
}
}  // namespace detail

// ---------------------------------------------------------------------------
// Transport

Transport::Transport(const ByteArray<32>& sending_key, const ByteArray<32>& receiving_key,
                     const Hash256& chaining_key, const PublicKey& remote_static)
    : state_(std::make_unique<State>()), remote_static_(remote_static) {
    state_->sending.key = sending_key;
    state_->receiving.key = receiving_key;
    // BOLT #8: "rck = sck = ck", "rn = 0, sn = 0"
    state_->sending.chaining_key = chaining_key;
    state_->receiving.chaining_key = chaining_key;
}

Transport::~Transport() = default;

Result<Bytes> Transport::encrypt(ByteSpan message) {
    if (!state_) return out_of_order("transport is closed");
    // BOLT #8: "The *maximum* size of _any_ Lightning message MUST NOT exceed 65535 bytes."
    if (message.size() > max_message_size) {
        return make_error(
            ErrorCode::invalid_argument,
            "bolt8: message of " + std::to_string(message.size()) + " bytes exceeds 65535");
    }
    // BOLT #8: "Serialize l into 2 bytes encoded as a big-endian integer."
    const ByteArray<2> length{static_cast<std::uint8_t>(message.size() >> 8),
                              static_cast<std::uint8_t>(message.size())};
    // BOLT #8: "Encrypt l ... to obtain lc (18 bytes)" then "encrypt the message
    // itself (m) using the same procedure"; "Send lc || c".
    Bytes out = seal(state_->sending, length);
    append(out, seal(state_->sending, message));
    return out;
}

Result<std::size_t> Transport::decrypt_length(ByteSpan header) {
    if (!state_) return out_of_order("transport is closed");
    if (state_->pending_body_length)
        return out_of_order("decrypt_body expected before the next header");
    // BOLT #8: "Read _exactly_ 18 bytes from the network buffer."
    if (header.size() != length_header_size) {
        return make_error(
            ErrorCode::invalid_argument,
            "bolt8: length header must be 18 bytes, got " + std::to_string(header.size()));
    }
    auto length = open(state_->receiving, header);
    if (!length) {
        state_.reset();  // wipes the keys: the connection is finished
        return message_failed("length header");
    }
    std::size_t size = (std::size_t{(*length)[0]} << 8) | (*length)[1];
    state_->pending_body_length = size;
    return size;
}

Result<Bytes> Transport::decrypt_body(ByteSpan body_and_tag) {
    if (!state_) return out_of_order("transport is closed");
    if (!state_->pending_body_length) return out_of_order("decrypt_length expected before a body");
    // BOLT #8: "Read _exactly_ l+16 bytes from the network buffer"
    const std::size_t expected = *state_->pending_body_length + aead_tag_size;
    if (body_and_tag.size() != expected) {
        return make_error(ErrorCode::invalid_argument,
                          "bolt8: body must be " + std::to_string(expected) + " bytes, got " +
                              std::to_string(body_and_tag.size()));
    }
    auto body = open(state_->receiving, body_and_tag);
    if (!body) {
        state_.reset();
        return message_failed("message body");
    }
    state_->pending_body_length.reset();
    return body;
}

// ---------------------------------------------------------------------------
// Responder

Responder::Responder(const PrivateKey& local_static, const PrivateKey& local_ephemeral)
    : local_static_(local_static), local_ephemeral_(local_ephemeral) {
    // BOLT #8: "The responding node mixes in their local static public key"
    initialize(state_, local_static_.public_key());
}

Result<Bytes> Responder::read_act_one(ByteSpan act_one) {
    if (step_ != Step::expect_act_one) return out_of_order("act one is not expected now");
    step_ = Step::failed;  // until this act is through
    auto act = parse_ephemeral_act(act_one, "act one");
    if (!act) {
        wipe(state_);
        return act.error();
    }
    // BOLT #8: "h = SHA-256(h || re.serializeCompressed())"
    mix_hash(state_, act->key.bytes());
    // BOLT #8: "es = ECDH(s.priv, re)", "ck, temp_k1 = HKDF(ck, es)"
    if (auto mixed = mix_ecdh(state_, local_static_, act->key); !mixed) {
        wipe(state_);
        return mixed.error();
    }
    // BOLT #8: "p = decryptWithAD(temp_k1, 0, h, c) ... If the MAC check in this
    // operation fails ... the responder MUST terminate the connection"
    if (!decrypt_with_ad(state_.temporary_key, 0, state_.handshake_hash, act->tag)) {
        wipe(state_);
        return make_error(ErrorCode::decryption_failed, "bolt8: act one MAC check failed");
    }
    // BOLT #8: "h = SHA-256(h || c)"
    mix_hash(state_, act->tag);

    // Act two. BOLT #8: "h = SHA-256(h || e.pub.serializeCompressed())"
    const PublicKey ephemeral = local_ephemeral_.public_key();
    mix_hash(state_, ephemeral.bytes());
    // BOLT #8: "ee = ECDH(e.priv, re)", "ck, temp_k2 = HKDF(ck, ee)"
    if (auto mixed = mix_ecdh(state_, local_ephemeral_, act->key); !mixed) {
        wipe(state_);
        return mixed.error();
    }
    // BOLT #8: "c = encryptWithAD(temp_k2, 0, h, zero)", "h = SHA-256(h || c)"
    Bytes tag = encrypt_with_ad(state_.temporary_key, 0, state_.handshake_hash, {});
    mix_hash(state_, tag);
    step_ = Step::expect_act_three;
    return make_ephemeral_act(ephemeral, tag);
}

Result<Transport> Responder::read_act_three(ByteSpan act_three) {
    if (step_ != Step::expect_act_three) return out_of_order("act three is not expected now");
    step_ = Step::failed;
    auto fail = [this](ErrorCode code, const std::string& message) {
        wipe(state_);
        return make_error(code, "bolt8: " + message);
    };
    // BOLT #8: "Read _exactly_ 66 bytes from the network buffer."
    if (act_three.size() != act_three_size) {
        return fail(ErrorCode::malformed,
                    "act three must be 66 bytes, got " + std::to_string(act_three.size()));
    }
    // BOLT #8: "If v is an unrecognized handshake version, then the responder
    // MUST abort the connection attempt."
    if (act_three[0] != handshake_version) {
        return fail(ErrorCode::malformed,
                    "act three has unknown version " + std::to_string(act_three[0]));
    }
    // BOLT #8: "c is the next 49 bytes of m, and t is the last 16 bytes of m"
    const ByteSpan ciphertext = act_three.subspan(1, compressed_key_size + aead_tag_size);
    const ByteSpan tag = act_three.subspan(1 + compressed_key_size + aead_tag_size);
    // BOLT #8: "rs = decryptWithAD(temp_k2, 1, h, c) ... If the MAC check in this
    // operation fails, then the responder MUST terminate the connection"
    auto remote_static_bytes =
        decrypt_with_ad(state_.temporary_key, 1, state_.handshake_hash, ciphertext);
    if (!remote_static_bytes)
        return fail(ErrorCode::decryption_failed, "act three static key MAC check failed");
    auto remote_static = PublicKey::parse(*remote_static_bytes);
    if (!remote_static)
        return fail(ErrorCode::invalid_key, "act three carries an invalid static key");
    // BOLT #8: "h = SHA-256(h || c)"
    mix_hash(state_, ciphertext);
    // BOLT #8: "se = ECDH(e.priv, rs)", "ck, temp_k3 = HKDF(ck, se)"
    if (auto mixed = mix_ecdh(state_, local_ephemeral_, *remote_static); !mixed) {
        return fail(ErrorCode::invalid_key, mixed.error().message);
    }
    // BOLT #8: "p = decryptWithAD(temp_k3, 0, h, t) ... If the MAC check in
    // this operation fails, then the responder MUST terminate the connection"
    if (!decrypt_with_ad(state_.temporary_key, 0, state_.handshake_hash, tag)) {
        return fail(ErrorCode::decryption_failed, "act three final MAC check failed");
    }
    // BOLT #8: "rk, sk = HKDF(ck, zero)"
    KeyPair keys;
    hkdf(keys, state_.chaining_key, {});
    Transport transport(/*sending=*/keys.second, /*receiving=*/keys.first, state_.chaining_key,
                        *remote_static);
    wipe(state_);
    step_ = Step::done;
    return Result<Transport>(std::move(transport));
}

// ---------------------------------------------------------------------------
// Initiator

Initiator::Initiator(const PrivateKey& local_static, const PublicKey& remote_static,
                     const PrivateKey& local_ephemeral)
    : local_static_(local_static),
      remote_static_(remote_static),
      local_ephemeral_(local_ephemeral) {
    // BOLT #8: "The initiating node mixes in the responding node's static public key"
    initialize(state_, remote_static_);
    // Act one. BOLT #8: "h = SHA-256(h || e.pub.serializeCompressed())"
    const PublicKey ephemeral = local_ephemeral_.public_key();
    mix_hash(state_, ephemeral.bytes());
    // BOLT #8: "es = ECDH(e.priv, rs)", "ck, temp_k1 = HKDF(ck, es)". Both keys
    // are already valid typed keys, so ECDH cannot fail here.
    const Status mixed = mix_ecdh(state_, local_ephemeral_, remote_static_);
    ARGUS_CHECK(mixed.has_value());
    // BOLT #8: "c = encryptWithAD(temp_k1, 0, h, zero)", "h = SHA-256(h || c)"
    Bytes tag = encrypt_with_ad(state_.temporary_key, 0, state_.handshake_hash, {});
    mix_hash(state_, tag);
    act_one_ = make_ephemeral_act(ephemeral, tag);
}

Bytes Initiator::act_one() {
    return act_one_;
}

Result<Bytes> Initiator::read_act_two(ByteSpan act_two) {
    if (step_ != Step::expect_act_two) return out_of_order("act two is not expected now");
    step_ = Step::failed;
    auto act = parse_ephemeral_act(act_two, "act two");
    if (!act) {
        wipe(state_);
        return act.error();
    }
    // BOLT #8: "h = SHA-256(h || re.serializeCompressed())"
    mix_hash(state_, act->key.bytes());
    // BOLT #8: "ee = ECDH(e.priv, re)", "ck, temp_k2 = HKDF(ck, ee)"
    if (auto mixed = mix_ecdh(state_, local_ephemeral_, act->key); !mixed) {
        wipe(state_);
        return mixed.error();
    }
    // BOLT #8: "p = decryptWithAD(temp_k2, 0, h, c) ... If the MAC check in this
    // operation fails, then the initiator MUST terminate the connection"
    if (!decrypt_with_ad(state_.temporary_key, 0, state_.handshake_hash, act->tag)) {
        wipe(state_);
        return make_error(ErrorCode::decryption_failed, "bolt8: act two MAC check failed");
    }
    // BOLT #8: "h = SHA-256(h || c)"
    mix_hash(state_, act->tag);

    // Act three. BOLT #8: "c = encryptWithAD(temp_k2, 1, h, s.pub.serializeCompressed())"
    Bytes act_three;
    act_three.reserve(act_three_size);
    act_three.push_back(handshake_version);
    Bytes ciphertext = encrypt_with_ad(state_.temporary_key, 1, state_.handshake_hash,
                                       local_static_.public_key().bytes());
    // BOLT #8: "h = SHA-256(h || c)"
    mix_hash(state_, ciphertext);
    // BOLT #8: "se = ECDH(s.priv, re)", "ck, temp_k3 = HKDF(ck, se)"
    if (auto mixed = mix_ecdh(state_, local_static_, act->key); !mixed) {
        wipe(state_);
        return mixed.error();
    }
    // BOLT #8: "t = encryptWithAD(temp_k3, 0, h, zero)"
    Bytes tag = encrypt_with_ad(state_.temporary_key, 0, state_.handshake_hash, {});
    // BOLT #8: "sk, rk = HKDF(ck, zero)"
    KeyPair keys;
    hkdf(keys, state_.chaining_key, {});
    transport_.emplace(Transport(/*sending=*/keys.first, /*receiving=*/keys.second,
                                 state_.chaining_key, remote_static_));
    wipe(state_);
    // BOLT #8: "Send m = 0 || c || t over the network buffer."
    append(act_three, ciphertext);
    append(act_three, tag);
    step_ = Step::act_two_read;
    return act_three;
}

Result<Transport> Initiator::transport() {
    if (step_ != Step::act_two_read || !transport_) {
        return out_of_order("transport is available once, after act two");
    }
    Transport out = std::move(*transport_);
    transport_.reset();
    step_ = Step::done;
    return Result<Transport>(std::move(out));
}

}  // namespace argus::bolt8
