// lnd's watchtower wire messages (watchtower/wtwire), encoded as lnd encodes
// them: a 2-byte big-endian type, then the fields in order, big-endian integers,
// byte strings with a Bitcoin CompactSize length (wire.WriteVarBytes), feature
// vectors as u16 length + bytes. Written from lnd's source for the test client.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <variant>

#include "common/bytes.h"
#include "common/result.h"

namespace argus::test::wtclient {

namespace message_type {
inline constexpr std::uint16_t init = 600;
inline constexpr std::uint16_t error = 601;
inline constexpr std::uint16_t create_session = 602;
inline constexpr std::uint16_t create_session_reply = 603;
inline constexpr std::uint16_t state_update = 604;
inline constexpr std::uint16_t state_update_reply = 605;
inline constexpr std::uint16_t delete_session = 606;
inline constexpr std::uint16_t delete_session_reply = 607;
}  // namespace message_type

// wtwire/error_code.go, create_session_reply.go, state_update_reply.go, delete_session_reply.go
namespace reply_code {
inline constexpr std::uint16_t ok = 0;
inline constexpr std::uint16_t temporary_failure = 40;
inline constexpr std::uint16_t permanent_failure = 50;
inline constexpr std::uint16_t already_exists = 60;
inline constexpr std::uint16_t reject_max_updates = 61;
inline constexpr std::uint16_t reject_reward_rate = 62;
inline constexpr std::uint16_t reject_sweep_fee_rate = 63;
inline constexpr std::uint16_t reject_blob_type = 64;
inline constexpr std::uint16_t client_behind = 70;
inline constexpr std::uint16_t max_updates_exceeded = 71;
inline constexpr std::uint16_t seqnum_out_of_order = 72;
inline constexpr std::uint16_t session_not_found = 80;
}  // namespace reply_code

// wtwire/features.go
namespace feature_bit {
inline constexpr unsigned altruist_sessions_required = 0;
inline constexpr unsigned altruist_sessions_optional = 1;
inline constexpr unsigned anchor_commit_required = 2;
inline constexpr unsigned anchor_commit_optional = 3;
inline constexpr unsigned taproot_commit_required = 4;
inline constexpr unsigned taproot_commit_optional = 5;
}  // namespace feature_bit

// wtwire: MaxMessagePayload; varbytes are read with a 66000-byte limit.
inline constexpr std::size_t max_message_payload = 65535;
inline constexpr std::size_t max_create_session_reply_data = 1024;

struct InitMessage {
    Bytes features;  // raw feature vector bytes (big-endian bit order), without the length
    Hash256 chain_hash{};
    bool operator==(const InitMessage&) const = default;
};
struct ErrorMessage {
    std::uint16_t code = 0;
    Bytes data;
    bool operator==(const ErrorMessage&) const = default;
};
struct CreateSessionMessage {
    std::uint16_t blob_type = 0;
    std::uint16_t max_updates = 0;
    std::uint32_t reward_base = 0;
    std::uint32_t reward_rate = 0;
    std::uint64_t sweep_fee_rate = 0;  // sat/kw
    bool operator==(const CreateSessionMessage&) const = default;
};
struct CreateSessionReplyMessage {
    std::uint16_t code = 0;
    std::uint16_t last_applied = 0;
    Bytes data;  // the reward script on success for reward sessions
    bool operator==(const CreateSessionReplyMessage&) const = default;
};
struct StateUpdateMessage {
    std::uint16_t seqnum = 0;
    std::uint16_t last_applied = 0;
    std::uint8_t is_complete = 0;
    ByteArray<16> hint{};
    Bytes encrypted_blob;
    bool operator==(const StateUpdateMessage&) const = default;
};
struct StateUpdateReplyMessage {
    std::uint16_t code = 0;
    std::uint16_t last_applied = 0;
    bool operator==(const StateUpdateReplyMessage&) const = default;
};
struct DeleteSessionMessage {
    bool operator==(const DeleteSessionMessage&) const = default;
};
struct DeleteSessionReplyMessage {
    std::uint16_t code = 0;
    bool operator==(const DeleteSessionReplyMessage&) const = default;
};

using WireMessage =
    std::variant<InitMessage, ErrorMessage, CreateSessionMessage, CreateSessionReplyMessage,
                 StateUpdateMessage, StateUpdateReplyMessage, DeleteSessionMessage,
                 DeleteSessionReplyMessage>;

std::uint16_t type_of(const WireMessage& message);
// Fails with `oversized` when the payload passes lnd's per-type limit
// (MaxPayloadLength: 20 for CreateSession, 1029 for CreateSessionReply, 4, 0, 2, 65535).
Result<Bytes> encode_message(const WireMessage& message);
// Strict: unknown type, truncation and trailing bytes are errors.
Result<WireMessage> decode_message(ByteSpan bytes);

// lnwire.RawFeatureVector encoding of a set of bits (the bytes without the length).
Bytes feature_vector(std::initializer_list<unsigned> bits);
bool has_feature(ByteSpan features, unsigned bit);

// wtpolicy.Policy.FeatureBits: altruist-sessions required, plus taproot-commit
// required for taproot blob types, else anchor-commit required for anchor types.
Bytes lnd_client_features(std::uint16_t blob_type);

// wtwire.Init.CheckRemoteInit: same chain hash, and every required (even) bit
// the remote sets is one lnd knows (0, 2, 4; their optional twins are 1, 3, 5).
Status check_remote_init(const InitMessage& local, const InitMessage& remote);

}  // namespace argus::test::wtclient
