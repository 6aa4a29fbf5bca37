#include "tests/support/wtclient/wtwire.h"

#include <string>

#include "common/byte_reader.h"

namespace argus::test::wtclient {

namespace {

// wire.ReadVarBytes(r, 0, 66000, ...)
constexpr std::uint64_t var_bytes_limit = 66000;

template <class... F>
struct Overload : F... {
    using F::operator()...;
};
template <class... F>
Overload(F...) -> Overload<F...>;

std::size_t max_payload(std::uint16_t type) {
    switch (type) {
        case message_type::create_session: return 2 + 2 + 4 + 4 + 8;
        case message_type::create_session_reply: return 2 + 3 + max_create_session_reply_data;
        case message_type::state_update_reply: return 4;
        case message_type::delete_session: return 0;
        case message_type::delete_session_reply: return 2;
        default: return max_message_payload;
    }
}

}  // namespace

std::uint16_t type_of(const WireMessage& message) {
    return std::visit(
        Overload{
            [](const InitMessage&) { return message_type::init; },
            [](const ErrorMessage&) { return message_type::error; },
            [](const CreateSessionMessage&) { return message_type::create_session; },
            [](const CreateSessionReplyMessage&) { return message_type::create_session_reply; },
            [](const StateUpdateMessage&) { return message_type::state_update; },
            [](const StateUpdateReplyMessage&) { return message_type::state_update_reply; },
            [](const DeleteSessionMessage&) { return message_type::delete_session; },
            [](const DeleteSessionReplyMessage&) { return message_type::delete_session_reply; },
        },
        message);
}

Result<Bytes> encode_message(const WireMessage& message) {
    ByteWriter payload;
    std::visit(Overload{
                   [&](const InitMessage& m) {
                       payload.write_u16_be(static_cast<std::uint16_t>(m.features.size()));
                       payload.write_bytes(m.features);
                       payload.write_bytes(m.chain_hash);
                   },
                   [&](const ErrorMessage& m) {
                       payload.write_u16_be(m.code);
                       payload.write_var_bytes(m.data);
                   },
                   [&](const CreateSessionMessage& m) {
                       payload.write_u16_be(m.blob_type);
                       payload.write_u16_be(m.max_updates);
                       payload.write_u32_be(m.reward_base);
                       payload.write_u32_be(m.reward_rate);
                       payload.write_u64_be(m.sweep_fee_rate);
                   },
                   [&](const CreateSessionReplyMessage& m) {
                       payload.write_u16_be(m.code);
                       payload.write_u16_be(m.last_applied);
                       payload.write_var_bytes(m.data);
                   },
                   [&](const StateUpdateMessage& m) {
                       payload.write_u16_be(m.seqnum);
                       payload.write_u16_be(m.last_applied);
                       payload.write_u8(m.is_complete);
                       payload.write_bytes(m.hint);
                       payload.write_var_bytes(m.encrypted_blob);
                   },
                   [&](const StateUpdateReplyMessage& m) {
                       payload.write_u16_be(m.code);
                       payload.write_u16_be(m.last_applied);
                   },
                   [&](const DeleteSessionMessage&) {},
                   [&](const DeleteSessionReplyMessage& m) { payload.write_u16_be(m.code); },
               },
               message);
    const std::uint16_t type = type_of(message);
    // wtwire.WriteMessage: payload above MaxMessagePayload or MaxPayloadLength fails.
    if (payload.bytes().size() > max_payload(type)) {
        return make_error(ErrorCode::oversized, "wtwire payload of type " + std::to_string(type) +
                                                    " is " +
                                                    std::to_string(payload.bytes().size()) +
                                                    " bytes");
    }
    ByteWriter out;
    out.write_u16_be(type);
    out.write_bytes(payload.bytes());
    return std::move(out).take();
}

Result<WireMessage> decode_message(ByteSpan bytes) {
    ByteReader r(bytes);
    const std::uint16_t type = r.read_u16_be();
    if (!r.ok()) return r.error();
    WireMessage out;
    switch (type) {
        case message_type::init: {
            InitMessage m;
            std::uint16_t length = r.read_u16_be();
            m.features = r.read_bytes(length);
            m.chain_hash = r.read_array<32>();
            out = std::move(m);
            break;
        }
        case message_type::error: {
            ErrorMessage m;
            m.code = r.read_u16_be();
            m.data = r.read_var_bytes(var_bytes_limit);
            out = std::move(m);
            break;
        }
        case message_type::create_session: {
            CreateSessionMessage m;
            m.blob_type = r.read_u16_be();
            m.max_updates = r.read_u16_be();
            m.reward_base = r.read_u32_be();
            m.reward_rate = r.read_u32_be();
            m.sweep_fee_rate = r.read_u64_be();
            out = m;
            break;
        }
        case message_type::create_session_reply: {
            CreateSessionReplyMessage m;
            m.code = r.read_u16_be();
            m.last_applied = r.read_u16_be();
            m.data = r.read_var_bytes(var_bytes_limit);
            out = std::move(m);
            break;
        }
        case message_type::state_update: {
            StateUpdateMessage m;
            m.seqnum = r.read_u16_be();
            m.last_applied = r.read_u16_be();
            m.is_complete = r.read_u8();
            m.hint = r.read_array<16>();
            m.encrypted_blob = r.read_var_bytes(var_bytes_limit);
            out = std::move(m);
            break;
        }
        case message_type::state_update_reply: {
            StateUpdateReplyMessage m;
            m.code = r.read_u16_be();
            m.last_applied = r.read_u16_be();
            out = m;
            break;
        }
        case message_type::delete_session: out = DeleteSessionMessage{}; break;
        case message_type::delete_session_reply: {
            DeleteSessionReplyMessage m;
            m.code = r.read_u16_be();
            out = m;
            break;
        }
        default:
            return make_error(ErrorCode::malformed,
                              "unknown wtwire message type " + std::to_string(type));
    }
    r.expect_end("wtwire message");
    if (!r.ok()) return r.error();
    return out;
}

Bytes feature_vector(std::initializer_list<unsigned> bits) {
    // lnwire.RawFeatureVector.encode: the fewest bytes that hold the highest
    // bit; bit i sets data[length - i/8 - 1] |= 1 << (i % 8).
    std::size_t length = 0;
    for (unsigned bit : bits) length = std::max<std::size_t>(length, bit / 8 + 1);
    Bytes data(length, 0);
    for (unsigned bit : bits) {
        data[length - bit / 8 - 1] |= static_cast<std::uint8_t>(1u << (bit % 8));
    }
    return data;
}

bool has_feature(ByteSpan features, unsigned bit) {
    std::size_t byte = bit / 8;
    if (byte >= features.size()) return false;
    return (features[features.size() - byte - 1] >> (bit % 8)) & 1;
}

Bytes lnd_client_features(std::uint16_t blob_type) {
    constexpr std::uint16_t flag_anchor = 1 << 2;
    constexpr std::uint16_t flag_taproot = 1 << 3;
    if (blob_type & flag_taproot) {
        return feature_vector(
            {feature_bit::altruist_sessions_required, feature_bit::taproot_commit_required});
    }
    if (blob_type & flag_anchor) {
        return feature_vector(
            {feature_bit::altruist_sessions_required, feature_bit::anchor_commit_required});
    }
    return feature_vector({feature_bit::altruist_sessions_required});
}

Status check_remote_init(const InitMessage& local, const InitMessage& remote) {
    if (local.chain_hash != remote.chain_hash) {
        return make_error(ErrorCode::invalid_argument, "remote init has unknown chain hash");
    }
    // feature.ValidateRequired: an unknown required (even) bit is fatal.
    for (std::size_t i = 0; i < remote.features.size() * 8; i += 2) {
        const unsigned bit = static_cast<unsigned>(i);
        if (has_feature(remote.features, bit) && bit != feature_bit::altruist_sessions_required &&
            bit != feature_bit::anchor_commit_required &&
            bit != feature_bit::taproot_commit_required) {
            return make_error(ErrorCode::invalid_argument,
                              "remote init requires unknown feature bit " + std::to_string(bit));
        }
    }
    return {};
}

}  // namespace argus::test::wtclient
