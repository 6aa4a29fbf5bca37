#include "tests/support/wtclient/noise.h"

#include <string>

#include "common/aead.h"
#include "common/hash.h"

namespace argus::test::wtclient {

namespace {

ByteArray<12> nonce_bytes(std::uint64_t n) {
    // BOLT #8: 32 zero bits followed by a little-endian 64-bit value.
    ByteArray<12> out{};
    for (int i = 0; i < 8; ++i) out[4 + i] = static_cast<std::uint8_t>(n >> (8 * i));
    return out;
}


}  // namespace

void hkdf_two(const ByteArray<32>& salt, ByteSpan input_key_material, ByteArray<32>& first,
              ByteArray<32>& second) {
    // RFC 5869 extract then expand with empty info, two blocks.
    Hash256 prk = hmac_sha256(salt, input_key_material);
    std::uint8_t one = 1;
    first = hmac_sha256(prk, ByteSpan(&one, 1));
    Bytes block(first.begin(), first.end());
    block.push_back(2);
    second = hmac_sha256(prk, block);
    secure_wipe(prk.data(), prk.size());
    secure_wipe(block.data(), block.size());
}

CipherState::~CipherState() {
    secure_wipe(key_.data(), key_.size());
    secure_wipe(chaining_key_.data(), chaining_key_.size());
}

void CipherState::advance() {
    ++nonce_;
    if (nonce_ == key_rotation_interval) {
        // BOLT #8: ck', k' = HKDF(ck, k); reset the nonce to 0.
        ByteArray<32> new_ck;
        ByteArray<32> new_k;
        hkdf_two(chaining_key_, key_, new_ck, new_k);
        chaining_key_ = new_ck;
        key_ = new_k;
        nonce_ = 0;
        secure_wipe(new_k.data(), new_k.size());
    }
}

Bytes CipherState::encrypt(ByteSpan plaintext) {
    Bytes out = chacha20poly1305_encrypt(key_, nonce_bytes(nonce_), plaintext);
    advance();
    return out;
}

Result<Bytes> CipherState::decrypt(ByteSpan ciphertext) {
    auto out = chacha20poly1305_decrypt(key_, nonce_bytes(nonce_), ciphertext);
    advance();
    return out;
}

Result<Bytes> TransportCipher::encrypt_message(ByteSpan plaintext) {
    if (plaintext.size() > max_message_size) {
        return make_error(ErrorCode::oversized,
                          "BOLT 8 message of " + std::to_string(plaintext.size()) + " bytes");
    }
    ByteArray<2> length{static_cast<std::uint8_t>(plaintext.size() >> 8),
                        static_cast<std::uint8_t>(plaintext.size() & 0xff)};
    Bytes out = send_.encrypt(length);
    append(out, send_.encrypt(plaintext));
    return out;
}

Result<std::uint16_t> TransportCipher::decrypt_header(ByteSpan header) {
    if (header.size() != message_header_size) {
        return make_error(ErrorCode::truncated, "BOLT 8 header must be 18 bytes");
    }
    auto length = receive_.decrypt(header);
    if (!length) return length.error();
    return static_cast<std::uint16_t>(((*length)[0] << 8) | (*length)[1]);
}

Result<Bytes> TransportCipher::decrypt_body(ByteSpan body) { return receive_.decrypt(body); }

NoiseInitiator::NoiseInitiator(const PrivateKey& local_static, const PublicKey& remote_static,
                               const PrivateKey& ephemeral)
    : local_static_(local_static), remote_static_(remote_static), ephemeral_(ephemeral) {
    // BOLT #8: h = SHA-256(protocolName); ck = h; h = SHA-256(h || prologue);
    // h = SHA-256(h || rs.pub.serializeCompressed())
    h_ = sha256(as_bytes("Noise_XK_secp256k1_ChaChaPoly_SHA256"));
    ck_ = h_;
    mix_hash(as_bytes("lightning"));
    mix_hash(remote_static_.bytes());
}

NoiseInitiator::~NoiseInitiator() {
    secure_wipe(temp_k_.data(), temp_k_.size());
    secure_wipe(ck_.data(), ck_.size());
    secure_wipe(send_key_.data(), send_key_.size());
    secure_wipe(receive_key_.data(), receive_key_.size());
}

void NoiseInitiator::mix_hash(ByteSpan data) {
    Bytes preimage(h_.begin(), h_.end());
    append(preimage, data);
    h_ = sha256(preimage);
}

void NoiseInitiator::mix_key(ByteSpan input) {
    ByteArray<32> new_ck;
    hkdf_two(ck_, input, new_ck, temp_k_);
    ck_ = new_ck;
    nonce_ = 0;
}

Bytes NoiseInitiator::encrypt_and_hash(ByteSpan plaintext) {
    Bytes c = chacha20poly1305_encrypt(temp_k_, nonce_bytes(nonce_), plaintext, h_);
    ++nonce_;
    mix_hash(c);
    return c;
}

Result<Bytes> NoiseInitiator::decrypt_and_hash(ByteSpan ciphertext) {
    auto p = chacha20poly1305_decrypt(temp_k_, nonce_bytes(nonce_), ciphertext, h_);
    if (!p) return p.error();
    ++nonce_;
    mix_hash(ciphertext);
    return p;
}

ByteArray<act_one_size> NoiseInitiator::act_one() {
    // BOLT #8 act one: h = SHA-256(h || e.pub); es = ECDH(e.priv, rs);
    // ck, temp_k1 = HKDF(ck, es); c = encryptWithAD(temp_k1, 0, h, zero); h = SHA-256(h || c)
    const auto e_pub = ephemeral_.public_key();
    mix_hash(e_pub.bytes());
    auto es = ecdh(ephemeral_, remote_static_);
    if (!es) std::abort();  // remote_static is a valid point by construction
    mix_key(*es);
    Bytes c = encrypt_and_hash({});
    ByteArray<act_one_size> out{};
    out[0] = 0;  // version
    std::copy(e_pub.bytes().begin(), e_pub.bytes().end(), out.begin() + 1);
    std::copy(c.begin(), c.end(), out.begin() + 34);
    return out;
}

Status NoiseInitiator::read_act_two(ByteSpan act_two) {
    if (act_two.size() != act_two_size) {
        return make_error(ErrorCode::truncated, "act two must be 50 bytes");
    }
    // BOLT #8: if v is an unrecognized handshake version, the responder MUST abort.
    if (act_two[0] != 0) return make_error(ErrorCode::malformed, "act two: bad version");
    auto re = PublicKey::parse(act_two.subspan(1, 33));
    if (!re) return make_error(ErrorCode::invalid_key, "act two: bad ephemeral key");
    remote_ephemeral_ = *re;
    mix_hash(re->bytes());
    auto ee = ecdh(ephemeral_, *re);
    if (!ee) return ee.error();
    mix_key(*ee);
    auto p = decrypt_and_hash(act_two.subspan(34, 16));
    if (!p) return make_error(ErrorCode::decryption_failed, "act two: bad MAC");
    return {};
}

ByteArray<act_three_size> NoiseInitiator::act_three() {
    // BOLT #8 act three: c = encryptWithAD(temp_k2, 1, h, s.pub); h = SHA-256(h || c);
    // se = ECDH(s.priv, re); ck, temp_k3 = HKDF(ck, se); t = encryptWithAD(temp_k3, 0, h, zero);
    // sk, rk = HKDF(ck, zero)
    if (!remote_ephemeral_) std::abort();  // bug: act_three before read_act_two
    Bytes c = encrypt_and_hash(local_static_.public_key().bytes());
    auto se = ecdh(local_static_, *remote_ephemeral_);
    if (!se) std::abort();
    mix_key(*se);
    Bytes t = encrypt_and_hash({});
    hkdf_two(ck_, {}, send_key_, receive_key_);
    ByteArray<act_three_size> out{};
    out[0] = 0;
    std::copy(c.begin(), c.end(), out.begin() + 1);
    std::copy(t.begin(), t.end(), out.begin() + 50);
    return out;
}

TransportCipher NoiseInitiator::transport() const {
    return TransportCipher(CipherState(ck_, send_key_), CipherState(ck_, receive_key_));
}

}  // namespace argus::test::wtclient
