// A BOLT 8 initiator (Noise_XK_secp256k1_ChaChaPoly_SHA256), written for the
// test client from the BOLT 8 text and lnd's brontide/noise.go, independently of
// the tower's transport. Pure: no I/O; the ephemeral key is supplied.
#pragma once

#include <cstdint>
#include <optional>

#include "common/bytes.h"
#include "common/keys.h"
#include "common/result.h"

namespace argus::test::wtclient {

// BOLT #8: act one and two are 50 bytes, act three 66.
inline constexpr std::size_t act_one_size = 50;
inline constexpr std::size_t act_two_size = 50;
inline constexpr std::size_t act_three_size = 66;
// BOLT #8: a message header is the 2-byte length plus its 16-byte MAC.
inline constexpr std::size_t message_header_size = 18;
inline constexpr std::size_t mac_size = 16;
// BOLT #8: the maximum size of any Lightning message MUST NOT exceed 65535 bytes.
inline constexpr std::size_t max_message_size = 65535;
// BOLT #8: keys are rotated after every 1000 encryptions or decryptions.
inline constexpr std::uint64_t key_rotation_interval = 1000;

// One direction of the transport: ChaCha20-Poly1305 with a 96-bit nonce of four
// zero bytes and a 64-bit little-endian counter, rotated with HKDF(ck, k).
class CipherState {
public:
    CipherState() = default;
    CipherState(const ByteArray<32>& chaining_key, const ByteArray<32>& key)
        : chaining_key_(chaining_key), key_(key) {}
    ~CipherState();
    CipherState(const CipherState&) = default;
    CipherState& operator=(const CipherState&) = default;

    Bytes encrypt(ByteSpan plaintext);
    Result<Bytes> decrypt(ByteSpan ciphertext);
    const ByteArray<32>& key() const { return key_; }
    std::uint64_t nonce() const { return nonce_; }

private:
    void advance();
    ByteArray<32> chaining_key_{};
    ByteArray<32> key_{};
    std::uint64_t nonce_ = 0;
};

// The transport after the handshake: frames (length || MAC, body || MAC).
class TransportCipher {
public:
    TransportCipher(CipherState send, CipherState receive)
        : send_(std::move(send)), receive_(std::move(receive)) {}
    // Fails with `oversized` above 65535 bytes (BOLT #8 MUST NOT exceed).
    Result<Bytes> encrypt_message(ByteSpan plaintext);
    // Decrypts an 18-byte header; returns the body length to read (without its MAC).
    Result<std::uint16_t> decrypt_header(ByteSpan header);
    // Decrypts a body of `length + 16` bytes.
    Result<Bytes> decrypt_body(ByteSpan body);
    const CipherState& send_state() const { return send_; }
    const CipherState& receive_state() const { return receive_; }

private:
    CipherState send_;
    CipherState receive_;
};

// HKDF-SHA256 with two 32-byte outputs, as BOLT 8 uses it: HKDF(salt, ikm).
void hkdf_two(const ByteArray<32>& salt, ByteSpan input_key_material, ByteArray<32>& first,
              ByteArray<32>& second);

// The initiator side of the handshake. Call act_one(), then read_act_two()
// with the responder's 50 bytes, then act_three(), then transport().
class NoiseInitiator {
public:
    NoiseInitiator(const PrivateKey& local_static, const PublicKey& remote_static,
                   const PrivateKey& ephemeral);
    ~NoiseInitiator();
    NoiseInitiator(const NoiseInitiator&) = default;
    NoiseInitiator& operator=(const NoiseInitiator&) = default;

    ByteArray<act_one_size> act_one();
    Status read_act_two(ByteSpan act_two);
    ByteArray<act_three_size> act_three();
    // The transport keys (BOLT #8: sk, rk = HKDF(ck, zero)); valid after act_three().
    TransportCipher transport() const;
    const ByteArray<32>& handshake_hash() const { return h_; }
    const ByteArray<32>& chaining_key() const { return ck_; }

private:
    void mix_hash(ByteSpan data);
    void mix_key(ByteSpan input);
    Bytes encrypt_and_hash(ByteSpan plaintext);
    Result<Bytes> decrypt_and_hash(ByteSpan ciphertext);

    PrivateKey local_static_;
    PublicKey remote_static_;
    PrivateKey ephemeral_;
    std::optional<PublicKey> remote_ephemeral_;
    ByteArray<32> h_{};
    ByteArray<32> ck_{};
    ByteArray<32> temp_k_{};
    std::uint64_t nonce_ = 0;  // for encryptWithAD during the handshake
    ByteArray<32> send_key_{};
    ByteArray<32> receive_key_{};
};

}  // namespace argus::test::wtclient
