// lnd watchtower wire messages (lightningnetwork/lnd watchtower/wtwire), the
// plaintext carried inside BOLT #8 messages between an lnd client and a tower.
//
// lnd: a message is a 2-byte big-endian type followed by its fields in order;
// integers are big-endian; []byte fields are Bitcoin CompactSize-prefixed
// (btcd wire.WriteVarBytes, canonical, at most 66000); Init's feature vector is
// lnwire.RawFeatureVector: a u16 big-endian byte length, then the bits with bit
// 0 in the last byte's least significant position.
//
// Decoding is stricter than lnd's wtwire.ReadMessage in one way: lnd reads the
// fields it knows from a bytes.Reader and ignores anything after them; decode()
// refuses trailing bytes (ErrorCode::trailing_data), so that decode -> encode
// gives back the input. lnd's own encoder never writes trailing bytes. Like lnd
// (makeEmptyMessage), an unknown type is an error (ErrorCode::malformed).
// Truncation -> ErrorCode::truncated; a non-canonical CompactSize -> malformed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <variant>

#include "common/bytes.h"
#include "common/result.h"

namespace argus::wtwire {

// lnd: message.go MsgInit ... MsgDeleteSessionReply.
enum class MessageType : std::uint16_t {
    init = 600,
    error = 601,
    create_session = 602,
    create_session_reply = 603,
    state_update = 604,
    state_update_reply = 605,
    delete_session = 606,
    delete_session_reply = 607,
};

// Every code lnd defines (error_code.go, create_session_reply.go,
// state_update_reply.go, delete_session_reply.go).
namespace code {
inline constexpr std::uint16_t ok = 0;                       // CodeOK
inline constexpr std::uint16_t temporary_failure = 40;       // CodeTemporaryFailure
inline constexpr std::uint16_t permanent_failure = 50;       // CodePermanentFailure
inline constexpr std::uint16_t session_already_exists = 60;  // CreateSessionCodeAlreadyExists
inline constexpr std::uint16_t reject_max_updates = 61;      // CreateSessionCodeRejectMaxUpdates
inline constexpr std::uint16_t reject_reward_rate = 62;      // CreateSessionCodeRejectRewardRate
inline constexpr std::uint16_t reject_sweep_fee_rate = 63;   // CreateSessionCodeRejectSweepFeeRate
inline constexpr std::uint16_t reject_blob_type = 64;        // CreateSessionCodeRejectBlobType
inline constexpr std::uint16_t client_behind = 70;           // StateUpdateCodeClientBehind
inline constexpr std::uint16_t max_updates_exceeded = 71;    // StateUpdateCodeMaxUpdatesExceeded
inline constexpr std::uint16_t seqnum_out_of_order = 72;     // StateUpdateCodeSeqNumOutOfOrder
inline constexpr std::uint16_t session_not_found = 80;       // DeleteSessionCodeNotFound
}  // namespace code

// lnd: features.go (lnwire.FeatureBit numbers of the Init feature vector).
namespace feature {
inline constexpr unsigned altruist_sessions_required = 0;
inline constexpr unsigned altruist_sessions_optional = 1;
inline constexpr unsigned anchor_commit_required = 2;
inline constexpr unsigned anchor_commit_optional = 3;
inline constexpr unsigned taproot_commit_required = 4;
inline constexpr unsigned taproot_commit_optional = 5;
}  // namespace feature

// lnd: message.go MaxMessagePayload, the limit on the fields after the type.
inline constexpr std::size_t max_message_size = 65535;
// lnd: create_session_reply.go MaxCreateSessionReplyDataLength (enforced by
// lnd when writing, not when reading; decode() does not enforce it either).
inline constexpr std::size_t max_create_session_reply_data_size = 1024;

// lnd: init.go Init { ConnFeatures, ChainHash }. features holds the raw
// feature-vector bytes as on the wire (without the u16 length), kept exactly
// as received; chain_hash is the genesis hash in internal byte order.
struct Init {
    Bytes features;
    Hash256 chain_hash{};
    bool operator==(const Init&) const = default;
};

// lnd: error.go Error { Code, Data []byte }.
struct ErrorMessage {
    std::uint16_t code = 0;
    Bytes data;
    bool operator==(const ErrorMessage&) const = default;
};

// lnd: create_session.go; sweep_fee_rate in sat/kw.
struct CreateSession {
    std::uint16_t blob_type = 0;
    std::uint16_t max_updates = 0;
    std::uint32_t reward_base = 0;
    std::uint32_t reward_rate = 0;
    std::uint64_t sweep_fee_rate = 0;
    bool operator==(const CreateSession&) const = default;
};

// lnd: create_session_reply.go { Code, LastApplied, Data []byte }.
struct CreateSessionReply {
    std::uint16_t code = 0;
    std::uint16_t last_applied = 0;
    Bytes data;
    bool operator==(const CreateSessionReply&) const = default;
};

// lnd: state_update.go { SeqNum, LastApplied, IsComplete, Hint [16]byte, EncryptedBlob []byte }.
struct StateUpdate {
    std::uint16_t seqnum = 0;
    std::uint16_t last_applied = 0;
    std::uint8_t is_complete = 0;
    ByteArray<16> hint{};
    Bytes encrypted_blob;
    bool operator==(const StateUpdate&) const = default;
};

// lnd: state_update_reply.go { Code, LastApplied }.
struct StateUpdateReply {
    std::uint16_t code = 0;
    std::uint16_t last_applied = 0;
    bool operator==(const StateUpdateReply&) const = default;
};

// lnd: delete_session.go: no fields.
struct DeleteSession {
    bool operator==(const DeleteSession&) const = default;
};

// lnd: delete_session_reply.go { Code }.
struct DeleteSessionReply {
    std::uint16_t code = 0;
    bool operator==(const DeleteSessionReply&) const = default;
};

using Message = std::variant<Init, ErrorMessage, CreateSession, CreateSessionReply, StateUpdate,
                             StateUpdateReply, DeleteSession, DeleteSessionReply>;

// 2-byte type then fields. Errors: truncated, trailing_data, malformed
// (unknown type, non-canonical CompactSize), oversized (more than
// max_message_size bytes after the type).
Result<Message> decode(ByteSpan message);
// Never fails; an Init with more than 65535 feature bytes is a bug (checked).
// Does not enforce max_message_size: the BOLT #8 transport refuses a message
// over 65535 bytes.
Bytes encode(const Message& message);
MessageType type_of(const Message& message);

// lnwire.RawFeatureVector bit order: bit b lives in byte (size - 1 - b / 8),
// at position b % 8. Bits beyond the vector are unset.
bool has_feature(ByteSpan features, unsigned bit);
// The shortest vector holding exactly these bits, as lnd encodes it (empty
// for no bits).
Bytes make_features(std::initializer_list<unsigned> bits);

}  // namespace argus::wtwire
