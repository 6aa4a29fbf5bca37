// BOLT #8 transport: the Noise_XK_secp256k1_ChaChaPoly_SHA256 handshake with
// prologue "lightning", then length-prefixed ChaCha20-Poly1305 messages with
// key rotation. Pure state machines over byte spans: the caller owns the socket
// and draws the ephemeral key from its RNG.
//
// Errors (never asserts on peer input):
//   malformed          an act of the wrong size, or a handshake version other than 0
//   invalid_key        a public key in an act that is not a valid compressed point
//   decryption_failed  a MAC that does not verify (handshake or message)
//   invalid_argument   a step called out of order, after a failure, on a moved-from
//                      object, or a message longer than max_message_size
// BOLT #8: "If a MAC check ever fails during the handshake process, then the
// connection is to be immediately terminated": after any failure a Responder,
// Initiator or Transport refuses every further call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "common/bytes.h"
#include "common/keys.h"
#include "common/result.h"

namespace argus::bolt8 {

inline constexpr std::size_t act_one_size = 50, act_two_size = 50, act_three_size = 66;
inline constexpr std::size_t length_header_size = 18;  // 2-byte length + 16-byte tag
inline constexpr std::size_t max_message_size = 65535;
inline constexpr std::uint64_t key_rotation_interval = 1000;  // BOLT #8: rotate after 1000 uses

namespace detail {
// One direction of the message phase: key k, chaining key ck, nonce n.
struct CipherState {
    ByteArray<32> key{};
    ByteArray<32> chaining_key{};
    std::uint64_t nonce = 0;
    CipherState() = default;
    CipherState(const CipherState&) = delete;
    CipherState& operator=(const CipherState&) = delete;
    ~CipherState();
};

// The handshake variables of BOLT #8 "Handshake State": ck, h and the
// current temp_k.
struct HandshakeState {
    Hash256 chaining_key{};
    Hash256 handshake_hash{};
    ByteArray<32> temporary_key{};
    HandshakeState() = default;
    HandshakeState(const HandshakeState&) = delete;
    HandshakeState& operator=(const HandshakeState&) = delete;
    ~HandshakeState();
};
}  // namespace detail

// The message phase, after a successful handshake. Movable, not copyable; a
// moved-from Transport refuses every call.
class Transport {
  public:
    Transport(Transport&&) noexcept = default;
    Transport& operator=(Transport&&) noexcept = default;
    Transport(const Transport&) = delete;
    Transport& operator=(const Transport&) = delete;
    ~Transport();

    // Encrypted length header (18 bytes) || encrypted body (message.size() + 16).
    Result<Bytes> encrypt(ByteSpan message);
    // header.size() must be length_header_size; returns the body length
    // without its tag. Must be followed by decrypt_body.
    Result<std::size_t> decrypt_length(ByteSpan header);
    // body_and_tag.size() must be the length decrypt_length returned + 16.
    Result<Bytes> decrypt_body(ByteSpan body_and_tag);

    const PublicKey& remote_static() const { return remote_static_; }

  private:
    friend class Responder;
    friend class Initiator;
    struct State {
        detail::CipherState sending;
        detail::CipherState receiving;
        std::optional<std::size_t> pending_body_length;
    };
    Transport(const ByteArray<32>& sending_key, const ByteArray<32>& receiving_key,
              const Hash256& chaining_key, const PublicKey& remote_static);

    std::unique_ptr<State> state_;
    PublicKey remote_static_;
};

// The tower's side: reads act one, answers act two, reads act three.
class Responder {
  public:
    Responder(const PrivateKey& local_static, const PrivateKey& local_ephemeral);
    Responder(const Responder&) = delete;
    Responder& operator=(const Responder&) = delete;

    // -> act two to send.
    Result<Bytes> read_act_one(ByteSpan act_one);
    Result<Transport> read_act_three(ByteSpan act_three);

  private:
    enum class Step { expect_act_one, expect_act_three, done, failed };
    PrivateKey local_static_;
    PrivateKey local_ephemeral_;
    detail::HandshakeState state_;
    Step step_ = Step::expect_act_one;
};

// The connecting side: knows the responder's static key in advance.
class Initiator {
  public:
    Initiator(const PrivateKey& local_static, const PublicKey& remote_static,
              const PrivateKey& local_ephemeral);
    Initiator(const Initiator&) = delete;
    Initiator& operator=(const Initiator&) = delete;

    // The 50-byte act one (the same bytes on every call).
    Bytes act_one();
    // -> act three to send.
    Result<Bytes> read_act_two(ByteSpan act_two);
    // After read_act_two succeeded; hands the Transport over once.
    Result<Transport> transport();

  private:
    enum class Step { expect_act_two, act_two_read, done, failed };
    PrivateKey local_static_;
    PublicKey remote_static_;
    PrivateKey local_ephemeral_;
    detail::HandshakeState state_;
    Bytes act_one_;
    std::optional<Transport> transport_;
    Step step_ = Step::expect_act_two;
};

}  // namespace argus::bolt8
