// lnd's watchtower/wtwire tests publish no wire bytes (wtwire_test.go round
// trips random messages through testing/quick; init_test.go checks chain
// hashes and feature negotiation). The bytes below are written by hand from
// lnd's field order (watchtower/wtwire/*.go Encode) and lnwire/btcd encodings.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "common/hex.h"
#include "common/wtwire.h"
#include "tests/support/vectors.h"

using namespace argus;
using namespace argus::wtwire;
using test::hex_array;
using test::hex_bytes;

namespace {

// Bitcoin mainnet genesis block hash in internal byte order (chainhash.Hash);
// displayed as 000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f.
const std::string mainnet_genesis =
    "6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000";

struct Case {
    std::string name;
    std::string wire;
    Message message;
};

std::vector<Case> cases() {
    std::vector<Case> out;
    // Init 600: features (u16 length 1, bits 1 and 3: AltruistSessionsOptional,
    // AnchorCommitOptional, what lnd's wtserver advertises), chain hash.
    out.push_back({"Init",
                   "0258"
                   "0001"
                   "0a" +
                       mainnet_genesis,
                   Init{Bytes{0x0a}, hex_array<32>(mainnet_genesis)}});
    // Init with no features.
    out.push_back({"Init, no features",
                   "0258"
                   "0000" +
                       mainnet_genesis,
                   Init{Bytes{}, hex_array<32>(mainnet_genesis)}});
    // Error 601: code u16 50, data varbytes "abc".
    out.push_back({"Error",
                   "0259"
                   "0032"
                   "03"
                   "616263",
                   ErrorMessage{50, Bytes{'a', 'b', 'c'}}});
    // CreateSession 602: blob_type u16, max_updates u16, reward_base u32,
    // reward_rate u32, sweep_fee_rate u64.
    out.push_back({"CreateSession",
                   "025a"
                   "0003"
                   "0102"
                   "01020304"
                   "0a0b0c0d"
                   "0102030405060708",
                   CreateSession{0x0003, 0x0102, 0x01020304, 0x0a0b0c0d, 0x0102030405060708}});
    // CreateSessionReply 603: code 60 (already exists), last_applied 5, data 2 bytes.
    out.push_back({"CreateSessionReply",
                   "025b"
                   "003c"
                   "0005"
                   "02"
                   "beef",
                   CreateSessionReply{code::session_already_exists, 5, Bytes{0xbe, 0xef}}});
    // CreateSessionReply with empty data.
    out.push_back({"CreateSessionReply, empty data",
                   "025b"
                   "0000"
                   "0000"
                   "00",
                   CreateSessionReply{0, 0, Bytes{}}});
    // StateUpdate 604: seqnum, last_applied, is_complete u8, hint[16], blob
    // varbytes of 314 bytes (a v0 blob): CompactSize fd 3a01.
    {
        Bytes blob(314);
        for (std::size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<std::uint8_t>(i);
        out.push_back(
            {"StateUpdate",
             "025c"
             "0007"
             "0006"
             "01"
             "000102030405060708090a0b0c0d0e0f"
             "fd3a01" +
                 to_hex(blob),
             StateUpdate{7, 6, 1, hex_array<16>("000102030405060708090a0b0c0d0e0f"), blob}});
    }
    // StateUpdateReply 605: code 70 (client behind), last_applied 0x0102.
    out.push_back({"StateUpdateReply",
                   "025d"
                   "0046"
                   "0102",
                   StateUpdateReply{code::client_behind, 0x0102}});
    // DeleteSession 606: no fields.
    out.push_back({"DeleteSession", "025e", DeleteSession{}});
    // DeleteSessionReply 607: code 80 (session not found).
    out.push_back({"DeleteSessionReply",
                   "025f"
                   "0050",
                   DeleteSessionReply{code::session_not_found}});
    return out;
}

}  // namespace

TEST_CASE("wtwire: every message encodes to lnd's bytes and decodes back") {
    for (const auto& c : cases()) {
        CAPTURE(c.name);
        CHECK(to_hex(encode(c.message)) == c.wire);
        auto decoded = decode(hex_bytes(c.wire));
        REQUIRE(decoded);
        CHECK(*decoded == c.message);
        CHECK(to_hex(encode(*decoded)) == c.wire);
    }
}

TEST_CASE("wtwire: type_of and the numbers lnd assigns") {
    CHECK(static_cast<int>(type_of(Init{})) == 600);
    CHECK(static_cast<int>(type_of(ErrorMessage{})) == 601);
    CHECK(static_cast<int>(type_of(CreateSession{})) == 602);
    CHECK(static_cast<int>(type_of(CreateSessionReply{})) == 603);
    CHECK(static_cast<int>(type_of(StateUpdate{})) == 604);
    CHECK(static_cast<int>(type_of(StateUpdateReply{})) == 605);
    CHECK(static_cast<int>(type_of(DeleteSession{})) == 606);
    CHECK(static_cast<int>(type_of(DeleteSessionReply{})) == 607);
    // lnd error_code.go, create_session_reply.go, state_update_reply.go, delete_session_reply.go.
    CHECK(code::ok == 0);
    CHECK(code::temporary_failure == 40);
    CHECK(code::permanent_failure == 50);
    CHECK(code::session_already_exists == 60);
    CHECK(code::reject_max_updates == 61);
    CHECK(code::reject_reward_rate == 62);
    CHECK(code::reject_sweep_fee_rate == 63);
    CHECK(code::reject_blob_type == 64);
    CHECK(code::client_behind == 70);
    CHECK(code::max_updates_exceeded == 71);
    CHECK(code::seqnum_out_of_order == 72);
    CHECK(code::session_not_found == 80);
}

TEST_CASE("wtwire: truncated input fails with truncated") {
    CHECK(decode({}).error().code == ErrorCode::truncated);
    CHECK(decode(hex_bytes("02")).error().code == ErrorCode::truncated);
    for (const auto& c : cases()) {
        CAPTURE(c.name);
        Bytes wire = hex_bytes(c.wire);
        // Every proper prefix that still holds the type fails (DeleteSession has none).
        for (std::size_t size = 2; size < wire.size(); ++size) {
            CAPTURE(size);
            auto decoded = decode(ByteSpan(wire).first(size));
            REQUIRE_FALSE(decoded);
            CHECK(decoded.error().code == ErrorCode::truncated);
        }
    }
}

TEST_CASE("wtwire: trailing bytes fail with trailing_data (lnd ignores them: see wtwire.h)") {
    for (const auto& c : cases()) {
        CAPTURE(c.name);
        auto decoded = decode(hex_bytes(c.wire + "00"));
        REQUIRE_FALSE(decoded);
        CHECK(decoded.error().code == ErrorCode::trailing_data);
    }
}

TEST_CASE("wtwire: unknown types, non-canonical lengths and oversized payloads are refused") {
    for (const char* type : {"0000", "0257", "0260", "ffff", "0010"}) {
        CAPTURE(type);
        auto decoded = decode(hex_bytes(std::string(type) + "0000"));
        REQUIRE_FALSE(decoded);
        CHECK(decoded.error().code == ErrorCode::malformed);
    }
    // btcd ReadVarInt refuses non-canonical CompactSize: 3 written as fd0300.
    CHECK(decode(hex_bytes("0259"
                           "0032"
                           "fd0300"
                           "616263"))
              .error()
              .code == ErrorCode::malformed);
    // lnd MaxMessagePayload = 65535 bytes after the type.
    Bytes largest = hex_bytes(
        "025c"
        "0001"
        "0000"
        "00"
        "000102030405060708090a0b0c0d0e0f"
        "fde7ff");
    largest.resize(2 + max_message_size, 0x11);  // 2 + 2 + 1 + 16 + 3 + 65511 bytes
    auto decoded = decode(largest);
    REQUIRE(decoded);
    CHECK(std::get<StateUpdate>(*decoded).encrypted_blob.size() == 65511);
    CHECK(encode(*decoded) == largest);
    Bytes oversized = largest;
    oversized.push_back(0x11);
    CHECK(decode(oversized).error().code == ErrorCode::oversized);
}

TEST_CASE("wtwire: Init keeps its feature bytes exactly as received") {
    // A vector lnd itself would write shorter (0001 0a) still round trips byte for byte.
    const std::string wire =
        "0258"
        "0002"
        "000a" +
        mainnet_genesis;
    auto decoded = decode(hex_bytes(wire));
    REQUIRE(decoded);
    const Init& init = std::get<Init>(*decoded);
    CHECK(init.features == Bytes{0x00, 0x0a});
    CHECK(has_feature(init.features, feature::altruist_sessions_optional));
    CHECK(has_feature(init.features, feature::anchor_commit_optional));
    CHECK_FALSE(has_feature(init.features, feature::altruist_sessions_required));
    CHECK(to_hex(encode(*decoded)) == wire);
}

TEST_CASE("wtwire: feature helpers follow lnwire.RawFeatureVector and lnd's bit numbers") {
    // lnd features.go.
    CHECK(feature::altruist_sessions_required == 0);
    CHECK(feature::altruist_sessions_optional == 1);
    CHECK(feature::anchor_commit_required == 2);
    CHECK(feature::anchor_commit_optional == 3);
    CHECK(feature::taproot_commit_required == 4);
    CHECK(feature::taproot_commit_optional == 5);
    // What lnd sends: the client AltruistSessionsRequired (+ AnchorCommitRequired
    // or TaprootCommitRequired, wtpolicy), the tower both optional bits (wtserver).
    CHECK(make_features({feature::altruist_sessions_required}) == Bytes{0x01});
    CHECK(make_features({feature::altruist_sessions_required, feature::anchor_commit_required}) ==
          Bytes{0x05});
    CHECK(make_features({feature::altruist_sessions_required, feature::taproot_commit_required}) ==
          Bytes{0x11});
    CHECK(make_features({feature::altruist_sessions_optional, feature::anchor_commit_optional}) ==
          Bytes{0x0a});
    CHECK(make_features({}).empty());
    // Bit 8 starts a second byte, written first (big-endian byte order).
    CHECK(make_features({8}) == Bytes{0x01, 0x00});
    CHECK(make_features({0, 15}) == Bytes{0x80, 0x01});
    const Bytes two_bytes{0x80, 0x01};
    CHECK(has_feature(two_bytes, 0));
    CHECK(has_feature(two_bytes, 15));
    for (unsigned bit = 1; bit < 15; ++bit) CHECK_FALSE(has_feature(two_bytes, bit));
    CHECK_FALSE(has_feature(two_bytes, 16));
    CHECK_FALSE(has_feature(two_bytes, 1000));
    CHECK_FALSE(has_feature({}, 0));
}
