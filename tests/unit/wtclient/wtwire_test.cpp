#include <doctest/doctest.h>

#include "common/hex.h"
#include "tests/support/vectors.h"
#include "tests/support/wtclient/wtwire.h"

using namespace argus;
using namespace argus::test::wtclient;
using argus::test::hex_bytes;

// Expected bytes written by hand from lnd's field order (watchtower/wtwire/*.go:
// WriteElements order; big-endian integers; []byte as wire.WriteVarBytes, a
// Bitcoin CompactSize length; *lnwire.RawFeatureVector as u16 length + bytes).

namespace {
void check_round_trip(const WireMessage& message, const std::string& hex) {
    auto encoded = encode_message(message);
    REQUIRE(encoded);
    CHECK(to_hex(*encoded) == hex);
    auto decoded = decode_message(hex_bytes(hex));
    REQUIRE(decoded);
    CHECK(*decoded == message);
}

Hash256 counting_hash() {
    Hash256 h;
    for (std::size_t i = 0; i < 32; ++i) h[i] = static_cast<std::uint8_t>(i);
    return h;
}
const std::string counting_hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
}  // namespace

TEST_CASE("wtclient: wtwire Init 600 as lnd encodes it") {
    // type 0x0258 | features len 0x0001 | 0x01 (bit 0) | chain hash
    check_round_trip(InitMessage{feature_vector({0}), counting_hash()},
                     "0258" "0001" "01" + counting_hex);
    // lnd's tower: altruist-sessions optional (1) and anchor-commit optional (3): 0x0a
    check_round_trip(InitMessage{feature_vector({1, 3}), counting_hash()},
                     "0258" "0001" "0a" + counting_hex);
    // empty vector: length 0
    check_round_trip(InitMessage{{}, counting_hash()}, "0258" "0000" + counting_hex);
    // bit 9: two bytes, 0x02 0x00
    CHECK(to_hex(feature_vector({9})) == "0200");
    CHECK(to_hex(lnd_client_features(0x0002)) == "01");
    CHECK(to_hex(lnd_client_features(0x0006)) == "05");
    CHECK(to_hex(lnd_client_features(0x001a)) == "11");
}

TEST_CASE("wtclient: wtwire Error 601") {
    check_round_trip(ErrorMessage{50, {0xde, 0xad}}, "0259" "0032" "02" "dead");
}

TEST_CASE("wtclient: wtwire CreateSession 602") {
    // blob_type 0x0002 | max_updates 1024 | reward_base 0 | reward_rate 10000 | sweep 2500 sat/kw
    check_round_trip(CreateSessionMessage{0x0002, 1024, 0, 10000, 2500},
                     "025a" "0002" "0400" "00000000" "00002710" "00000000000009c4");
}

TEST_CASE("wtclient: wtwire CreateSessionReply 603") {
    check_round_trip(CreateSessionReplyMessage{0, 0, {}}, "025b" "0000" "0000" "00");
    check_round_trip(CreateSessionReplyMessage{60, 1, {}}, "025b" "003c" "0001" "00");
    Bytes p2wpkh = hex_bytes("0014" "1111111111111111111111111111111111111111");
    check_round_trip(CreateSessionReplyMessage{0, 0, p2wpkh},
                     "025b" "0000" "0000" "16" "0014" "1111111111111111111111111111111111111111");
    // lnd MaxPayloadLength is 2 + 3 + 1024 = 1029 (it leaves out last_applied),
    // so with the 3-byte CompactSize and both u16s the longest data is 1022 bytes.
    CHECK(encode_message(CreateSessionReplyMessage{0, 0, Bytes(1022, 0)}));
    CHECK_FALSE(encode_message(CreateSessionReplyMessage{0, 0, Bytes(1023, 0)}));
}

TEST_CASE("wtclient: wtwire StateUpdate 604") {
    ByteArray<16> hint;
    for (std::size_t i = 0; i < 16; ++i) hint[i] = static_cast<std::uint8_t>(0xa0 + i);
    check_round_trip(StateUpdateMessage{1, 0, 1, hint, {0x01, 0x02, 0x03}},
                     "025c" "0001" "0000" "01" "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf" "03" "010203");
    // A 314-byte blob has a 3-byte CompactSize: fd 3a 01.
    auto encoded = encode_message(StateUpdateMessage{2, 1, 0, hint, Bytes(314, 0xee)}).value();
    CHECK(encoded.size() == 2 + 2 + 2 + 1 + 16 + 3 + 314);
    CHECK(to_hex(ByteSpan(encoded).subspan(23, 3)) == "fd3a01");
}

TEST_CASE("wtclient: wtwire StateUpdateReply 605, DeleteSession 606, DeleteSessionReply 607") {
    check_round_trip(StateUpdateReplyMessage{0, 3}, "025d" "0000" "0003");
    check_round_trip(StateUpdateReplyMessage{72, 2}, "025d" "0048" "0002");
    check_round_trip(DeleteSessionMessage{}, "025e");
    check_round_trip(DeleteSessionReplyMessage{80}, "025f" "0050");
}

TEST_CASE("wtclient: wtwire decoding is strict") {
    CHECK(decode_message(hex_bytes("0260")).error().code == ErrorCode::malformed);  // 608 unknown
    CHECK(decode_message(hex_bytes("02")).error().code == ErrorCode::truncated);
    CHECK(decode_message(hex_bytes("025d0000")).error().code == ErrorCode::truncated);
    CHECK(decode_message(hex_bytes("025d000000030a")).error().code == ErrorCode::trailing_data);
    // non-canonical CompactSize (fd 0100 for 1)
    CHECK_FALSE(decode_message(hex_bytes("025b00000000fd010000")));
}

TEST_CASE("wtclient: Init check as lnd's client does it") {
    InitMessage local{lnd_client_features(0x0002), counting_hash()};
    InitMessage tower{feature_vector({1, 3}), counting_hash()};
    CHECK(check_remote_init(local, tower));
    // taproot-commit required (4) is known; an unknown required bit (6) is not.
    CHECK(check_remote_init(local, InitMessage{feature_vector({0, 4}), counting_hash()}));
    CHECK_FALSE(check_remote_init(local, InitMessage{feature_vector({6}), counting_hash()}));
    CHECK(check_remote_init(local, InitMessage{feature_vector({7}), counting_hash()}));
    Hash256 other = counting_hash();
    other[0] ^= 1;
    CHECK_FALSE(check_remote_init(local, InitMessage{feature_vector({1}), other}));
}
