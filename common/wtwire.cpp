#include "common/wtwire.h"

#include <algorithm>
#include <string>
#include <type_traits>

#include "common/byte_reader.h"
#include "common/check.h"

namespace argus::wtwire {

namespace {

// lnd: wtwire.go ReadElement(*[]byte): wire.ReadVarBytes(r, 0, 66000, "[]byte").
constexpr std::uint64_t max_var_bytes = 66000;

Init read_init(ByteReader& reader) {
    Init out;
    // lnd: lnwire.RawFeatureVector.Decode: u16 big-endian length, then the bytes.
    const std::uint16_t feature_size = reader.read_u16_be();
    out.features = reader.read_bytes(feature_size);
    out.chain_hash = reader.read_array<32>();
    return out;
}

ErrorMessage read_error(ByteReader& reader) {
    ErrorMessage out;
    out.code = reader.read_u16_be();
    out.data = reader.read_var_bytes(max_var_bytes);
    return out;
}

CreateSession read_create_session(ByteReader& reader) {
    CreateSession out;
    out.blob_type = reader.read_u16_be();
    out.max_updates = reader.read_u16_be();
    out.reward_base = reader.read_u32_be();
    out.reward_rate = reader.read_u32_be();
    out.sweep_fee_rate = reader.read_u64_be();
    return out;
}

CreateSessionReply read_create_session_reply(ByteReader& reader) {
    CreateSessionReply out;
    out.code = reader.read_u16_be();
    out.last_applied = reader.read_u16_be();
    out.data = reader.read_var_bytes(max_var_bytes);
    return out;
}

StateUpdate read_state_update(ByteReader& reader) {
    StateUpdate out;
    out.seqnum = reader.read_u16_be();
    out.last_applied = reader.read_u16_be();
    out.is_complete = reader.read_u8();
    out.hint = reader.read_array<16>();
    out.encrypted_blob = reader.read_var_bytes(max_var_bytes);
    return out;
}

StateUpdateReply read_state_update_reply(ByteReader& reader) {
    StateUpdateReply out;
    out.code = reader.read_u16_be();
    out.last_applied = reader.read_u16_be();
    return out;
}

DeleteSessionReply read_delete_session_reply(ByteReader& reader) {
    DeleteSessionReply out;
    out.code = reader.read_u16_be();
    return out;
}

void write_fields(ByteWriter& writer, const Init& message) {
    ARGUS_CHECK(message.features.size() <= 0xffff);
    writer.write_u16_be(static_cast<std::uint16_t>(message.features.size()));
    writer.write_bytes(message.features);
    writer.write_bytes(message.chain_hash);
}

void write_fields(ByteWriter& writer, const ErrorMessage& message) {
    writer.write_u16_be(message.code);
    writer.write_var_bytes(message.data);
}

void write_fields(ByteWriter& writer, const CreateSession& message) {
    writer.write_u16_be(message.blob_type);
    writer.write_u16_be(message.max_updates);
    writer.write_u32_be(message.reward_base);
    writer.write_u32_be(message.reward_rate);
    writer.write_u64_be(message.sweep_fee_rate);
}

void write_fields(ByteWriter& writer, const CreateSessionReply& message) {
    writer.write_u16_be(message.code);
    writer.write_u16_be(message.last_applied);
    writer.write_var_bytes(message.data);
}

void write_fields(ByteWriter& writer, const StateUpdate& message) {
    writer.write_u16_be(message.seqnum);
    writer.write_u16_be(message.last_applied);
    writer.write_u8(message.is_complete);
    writer.write_bytes(message.hint);
    writer.write_var_bytes(message.encrypted_blob);
}

void write_fields(ByteWriter& writer, const StateUpdateReply& message) {
    writer.write_u16_be(message.code);
    writer.write_u16_be(message.last_applied);
}

void write_fields(ByteWriter&, const DeleteSession&) {}  // lnd: DeleteSession.Encode writes nothing

void write_fields(ByteWriter& writer, const DeleteSessionReply& message) {
    writer.write_u16_be(message.code);
}

template <class T>
constexpr MessageType type_of_alternative() {
    if constexpr (std::is_same_v<T, Init>)
        return MessageType::init;
    else if constexpr (std::is_same_v<T, ErrorMessage>)
        return MessageType::error;
    else if constexpr (std::is_same_v<T, CreateSession>)
        return MessageType::create_session;
    else if constexpr (std::is_same_v<T, CreateSessionReply>)
        return MessageType::create_session_reply;
    else if constexpr (std::is_same_v<T, StateUpdate>)
        return MessageType::state_update;
    else if constexpr (std::is_same_v<T, StateUpdateReply>)
        return MessageType::state_update_reply;
    else if constexpr (std::is_same_v<T, DeleteSession>)
        return MessageType::delete_session;
    else {
        static_assert(std::is_same_v<T, DeleteSessionReply>);
        return MessageType::delete_session_reply;
    }
}

// The fields are read; anything left over, or any read that failed, is an error.
Result<Message> finish(ByteReader& reader, Message message, const char* name) {
    reader.expect_end(name);
    if (!reader.ok()) {
        Error error = reader.error();
        error.message = std::string("wtwire: ") + name + ": " + error.message;
        return error;
    }
    return message;
}

}  // namespace

Result<Message> decode(ByteSpan message) {
    ByteReader reader(message);
    // lnd: ReadMessage reads a 2-byte big-endian type first.
    const std::uint16_t type = reader.read_u16_be();
    if (!reader.ok()) return reader.error();
    if (reader.remaining() > max_message_size) {
        return make_error(ErrorCode::oversized, "wtwire: payload of " +
                                                    std::to_string(reader.remaining()) +
                                                    " bytes exceeds MaxMessagePayload 65535");
    }
    switch (static_cast<MessageType>(type)) {
        case MessageType::init:
            return finish(reader, read_init(reader), "Init");
        case MessageType::error:
            return finish(reader, read_error(reader), "Error");
        case MessageType::create_session:
            return finish(reader, read_create_session(reader), "CreateSession");
        case MessageType::create_session_reply:
            return finish(reader, read_create_session_reply(reader), "CreateSessionReply");
        case MessageType::state_update:
            return finish(reader, read_state_update(reader), "StateUpdate");
        case MessageType::state_update_reply:
            return finish(reader, read_state_update_reply(reader), "StateUpdateReply");
        // lnd: DeleteSession.Decode reads nothing.
        case MessageType::delete_session:
            return finish(reader, DeleteSession{}, "DeleteSession");
        case MessageType::delete_session_reply:
            return finish(reader, read_delete_session_reply(reader), "DeleteSessionReply");
    }
    // lnd: makeEmptyMessage: "unknown message type [%d]"
    return make_error(ErrorCode::malformed, "wtwire: unknown message type " + std::to_string(type));
}

Bytes encode(const Message& message) {
    ByteWriter writer;
    writer.write_u16_be(static_cast<std::uint16_t>(type_of(message)));
    std::visit([&writer](const auto& alternative) { write_fields(writer, alternative); }, message);
    return std::move(writer).take();
}

MessageType type_of(const Message& message) {
    return std::visit(
        [](const auto& alternative) {
            return type_of_alternative<std::decay_t<decltype(alternative)>>();
        },
        message);
}

bool has_feature(ByteSpan features, unsigned bit) {
    // lnd: RawFeatureVector.decode: data[length-byteIndex-1] >> bitIndex & 1.
    const std::size_t byte_index = bit / 8;
    if (byte_index >= features.size()) return false;
    return ((features[features.size() - 1 - byte_index] >> (bit % 8)) & 1U) != 0;
}

Bytes make_features(std::initializer_list<unsigned> bits) {
    // lnd: RawFeatureVector.SerializeSize: largest bit / 8 + 1 bytes, 0 for none.
    std::size_t size = 0;
    for (unsigned bit : bits) size = std::max<std::size_t>(size, bit / 8 + 1);
    Bytes out(size, 0);
    for (unsigned bit : bits) out[size - 1 - bit / 8] |= static_cast<std::uint8_t>(1U << (bit % 8));
    return out;
}

}  // namespace argus::wtwire
