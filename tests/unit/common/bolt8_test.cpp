#include <doctest/doctest.h>

#include <string>

#include "common/aead.h"
#include "common/bolt8.h"
#include "common/hex.h"
#include "tests/support/vectors.h"

using namespace argus;
using test::hex_array;
using test::hex_bytes;

namespace {

std::string text(const nlohmann::json& value) {
    return value.get<std::string>();
}
PrivateKey private_key(const nlohmann::json& hex) {
    return PrivateKey::from_bytes(hex_bytes(text(hex))).value();
}
PublicKey public_key(const nlohmann::json& hex) {
    return PublicKey::parse(hex_bytes(text(hex))).value();
}

// The spec names each failure (ACT1_BAD_VERSION, ACT3_BAD_PUBKEY, ...); this
// is the ErrorCode bolt8.h documents for each kind.
ErrorCode expected_code(const std::string& spec_error) {
    auto ends_with = [&spec_error](const std::string& suffix) {
        return spec_error.size() >= suffix.size() &&
               spec_error.compare(spec_error.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (ends_with("_READ_FAILED") || ends_with("_BAD_VERSION")) return ErrorCode::malformed;
    if (ends_with("_BAD_PUBKEY")) return ErrorCode::invalid_key;
    if (ends_with("_BAD_TAG") || ends_with("_BAD_CIPHERTEXT")) return ErrorCode::decryption_failed;
    FAIL("unmapped spec error " << spec_error);
    return ErrorCode::malformed;
}

// BOLT #8 nonce layout, written here independently of bolt8.cpp: 4 zero
// bytes, then the 64-bit little-endian counter.
ByteArray<12> nonce(std::uint64_t n) {
    ByteArray<12> out{};
    for (int i = 0; i < 8; ++i) out[4 + i] = static_cast<std::uint8_t>(n >> (8 * i));
    return out;
}

// A message as a peer holding `key` would send it as its first message:
// lc = encrypt(key, 0, len), c = encrypt(key, 1, m). Built from the aead
// primitive (tested against RFC 8439), not from bolt8.cpp.
Bytes first_message_under(const ByteArray<32>& key, ByteSpan message) {
    const ByteArray<2> length{static_cast<std::uint8_t>(message.size() >> 8),
                              static_cast<std::uint8_t>(message.size())};
    Bytes out = chacha20poly1305_encrypt(key, nonce(0), length);
    append(out, chacha20poly1305_encrypt(key, nonce(1), message));
    return out;
}

Bytes decrypt_whole(bolt8::Transport& transport, ByteSpan wire) {
    REQUIRE(wire.size() >= bolt8::length_header_size);
    auto length = transport.decrypt_length(wire.first(bolt8::length_header_size));
    REQUIRE(length);
    REQUIRE(wire.size() == bolt8::length_header_size + *length + aead_tag_size);
    auto body = transport.decrypt_body(wire.subspan(bolt8::length_header_size));
    REQUIRE(body);
    return *body;
}

const nlohmann::json& vectors() {
    static const nlohmann::json loaded = test::load_vectors("bolt8.json");
    return loaded;
}

// The Appendix A keys: initiator ls 0x11.., e 0x12..; responder ls 0x21.., e 0x22...
struct Connected {
    bolt8::Transport initiator;
    bolt8::Transport responder;
};

Connected connect() {
    const auto& i = vectors()["initiator"][0];
    const auto& r = vectors()["responder"][0];
    bolt8::Initiator initiator(private_key(i["ls_priv"]), public_key(i["rs_pub"]),
                               private_key(i["e_priv"]));
    bolt8::Responder responder(private_key(r["ls_priv"]), private_key(r["e_priv"]));
    auto act_two = responder.read_act_one(initiator.act_one());
    REQUIRE(act_two);
    auto act_three = initiator.read_act_two(*act_two);
    REQUIRE(act_three);
    auto responder_transport = responder.read_act_three(*act_three);
    REQUIRE(responder_transport);
    auto initiator_transport = initiator.transport();
    REQUIRE(initiator_transport);
    return Connected{std::move(initiator_transport).value(),
                     std::move(responder_transport).value()};
}

const Bytes hello{'h', 'e', 'l', 'l', 'o'};

}  // namespace

TEST_CASE("bolt8: every initiator test of BOLT 8 Appendix A") {
    const auto& tests = vectors()["initiator"];
    REQUIRE(tests.size() == 5);
    for (const auto& v : tests) {
        CAPTURE(text(v["name"]));
        auto local_static = private_key(v["ls_priv"]);
        auto ephemeral = private_key(v["e_priv"]);
        CHECK(to_hex(local_static.public_key().bytes()) == text(v["ls_pub"]));
        CHECK(to_hex(ephemeral.public_key().bytes()) == text(v["e_pub"]));
        bolt8::Initiator initiator(local_static, public_key(v["rs_pub"]), ephemeral);
        CHECK(to_hex(initiator.act_one()) == text(v["act_one_output"]));
        CHECK(to_hex(initiator.act_one()) == text(v["act_one_output"]));  // the same on every call

        auto act_three = initiator.read_act_two(hex_bytes(text(v["act_two_input"])));
        if (v.contains("error")) {
            REQUIRE_FALSE(act_three);
            CHECK(act_three.error().code == expected_code(text(v["error"])));
            CHECK(initiator.transport().error().code == ErrorCode::invalid_argument);
            continue;
        }
        REQUIRE(act_three);
        CHECK(to_hex(*act_three) == text(v["act_three_output"]));
        auto transport = initiator.transport();
        REQUIRE(transport);
        CHECK(to_hex(transport->remote_static().bytes()) == text(v["rs_pub"]));

        // Final keys. sk: our first message is sealed with sk at nonces 0 and 1.
        auto sk = hex_array<32>(text(v["sk"]));
        auto rk = hex_array<32>(text(v["rk"]));
        auto sent = transport->encrypt(hello);
        REQUIRE(sent);
        CHECK(to_hex(*sent) == to_hex(first_message_under(sk, hello)));
        // rk: a message the responder seals with rk opens.
        CHECK(decrypt_whole(*transport, first_message_under(rk, hello)) == hello);
    }
}

TEST_CASE("bolt8: every responder test of BOLT 8 Appendix A, failures included") {
    const auto& tests = vectors()["responder"];
    REQUIRE(tests.size() == 10);
    const auto initiator_static = public_key(vectors()["initiator"][0]["ls_pub"]);
    for (const auto& v : tests) {
        CAPTURE(text(v["name"]));
        auto local_static = private_key(v["ls_priv"]);
        auto ephemeral = private_key(v["e_priv"]);
        CHECK(to_hex(local_static.public_key().bytes()) == text(v["ls_pub"]));
        CHECK(to_hex(ephemeral.public_key().bytes()) == text(v["e_pub"]));
        bolt8::Responder responder(local_static, ephemeral);

        auto act_two = responder.read_act_one(hex_bytes(text(v["act_one_input"])));
        if (!v.contains("act_two_output")) {  // an act one failure
            REQUIRE(v.contains("error"));
            REQUIRE_FALSE(act_two);
            CHECK(act_two.error().code == expected_code(text(v["error"])));
            continue;
        }
        REQUIRE(act_two);
        CHECK(to_hex(*act_two) == text(v["act_two_output"]));

        auto transport = responder.read_act_three(hex_bytes(text(v["act_three_input"])));
        if (v.contains("error")) {
            REQUIRE_FALSE(transport);
            CHECK(transport.error().code == expected_code(text(v["error"])));
            continue;
        }
        REQUIRE(transport);
        CHECK(transport->remote_static() == initiator_static);
        auto rk = hex_array<32>(text(v["rk"]));
        auto sk = hex_array<32>(text(v["sk"]));
        auto sent = transport->encrypt(hello);
        REQUIRE(sent);
        CHECK(to_hex(*sent) == to_hex(first_message_under(sk, hello)));
        CHECK(decrypt_whole(*transport, first_message_under(rk, hello)) == hello);
    }
}

TEST_CASE("bolt8: message encryption through two key rotations (BOLT 8 Appendix A)") {
    const auto& v = vectors()["message"];
    const Bytes plaintext = hex_bytes(text(v["plaintext"]));
    REQUIRE(plaintext == hello);
    // The spec's message test starts from the successful handshake's sk and ck.
    REQUIRE(text(v["sk"]) == text(vectors()["initiator"][0]["sk"]));
    Connected pair = connect();
    std::size_t checked = 0;
    for (int i = 0; i <= 1001; ++i) {
        auto sent = pair.initiator.encrypt(plaintext);
        REQUIRE(sent);
        const std::string index = std::to_string(i);
        if (v["outputs"].contains(index)) {
            CAPTURE(i);
            CHECK(to_hex(*sent) == text(v["outputs"][index]));
            ++checked;
        }
        // The responder reads the same stream through its own rotations.
        CHECK(decrypt_whole(pair.responder, *sent) == plaintext);
    }
    CHECK(checked == 6);
}

TEST_CASE("bolt8: a tampered length header or body fails with decryption_failed and closes") {
    SUBCASE("length header") {
        Connected pair = connect();
        Bytes wire = pair.initiator.encrypt(hello).value();
        wire[0] ^= 0x01;
        auto length =
            pair.responder.decrypt_length(ByteSpan(wire).first(bolt8::length_header_size));
        REQUIRE_FALSE(length);
        CHECK(length.error().code == ErrorCode::decryption_failed);
        // BOLT #8: the connection is finished; nothing more is accepted.
        wire[0] ^= 0x01;
        CHECK(pair.responder.decrypt_length(ByteSpan(wire).first(bolt8::length_header_size))
                  .error()
                  .code == ErrorCode::invalid_argument);
    }
    SUBCASE("length tag") {
        Connected pair = connect();
        Bytes wire = pair.initiator.encrypt(hello).value();
        wire[17] ^= 0x80;
        CHECK(pair.responder.decrypt_length(ByteSpan(wire).first(bolt8::length_header_size))
                  .error()
                  .code == ErrorCode::decryption_failed);
    }
    SUBCASE("body") {
        Connected pair = connect();
        Bytes wire = pair.initiator.encrypt(hello).value();
        wire[bolt8::length_header_size + 2] ^= 0x01;
        auto length =
            pair.responder.decrypt_length(ByteSpan(wire).first(bolt8::length_header_size));
        REQUIRE(length);
        CHECK(*length == 5);
        auto body = pair.responder.decrypt_body(ByteSpan(wire).subspan(bolt8::length_header_size));
        REQUIRE_FALSE(body);
        CHECK(body.error().code == ErrorCode::decryption_failed);
        CHECK(pair.responder.encrypt(hello).error().code == ErrorCode::invalid_argument);
    }
    SUBCASE("a message replayed") {
        Connected pair = connect();
        Bytes wire = pair.initiator.encrypt(hello).value();
        CHECK(decrypt_whole(pair.responder, wire) == hello);
        // The same bytes again: the receiving nonce moved on.
        CHECK(pair.responder.decrypt_length(ByteSpan(wire).first(bolt8::length_header_size))
                  .error()
                  .code == ErrorCode::decryption_failed);
    }
}

TEST_CASE("bolt8: a message over 65535 bytes is refused and one of 65535 bytes round trips") {
    Connected pair = connect();
    Bytes too_long(bolt8::max_message_size + 1, 0x5a);
    CHECK(pair.initiator.encrypt(too_long).error().code == ErrorCode::invalid_argument);
    // Refusing it did not consume a nonce: the next message still matches the spec.
    Bytes largest(bolt8::max_message_size, 0xa5);
    auto sent = pair.initiator.encrypt(largest);
    REQUIRE(sent);
    CHECK(sent->size() == 2 + 16 + 65535 + 16);  // BOLT #8: "2 + 16 + 65535 + 16 = 65569 bytes"
    CHECK(decrypt_whole(pair.responder, *sent) == largest);
    // And an empty message.
    auto empty = pair.initiator.encrypt({});
    REQUIRE(empty);
    CHECK(empty->size() == bolt8::length_header_size + aead_tag_size);
    CHECK(decrypt_whole(pair.responder, *empty).empty());
}

TEST_CASE("bolt8: 2500 messages each way between an initiator and a responder") {
    Connected pair = connect();
    CHECK(pair.responder.remote_static() == public_key(vectors()["initiator"][0]["ls_pub"]));
    CHECK(pair.initiator.remote_static() == public_key(vectors()["responder"][0]["ls_pub"]));
    for (int i = 0; i < 2500; ++i) {
        CAPTURE(i);
        Bytes message(static_cast<std::size_t>((i * 37) % 700), static_cast<std::uint8_t>(i));
        for (std::size_t j = 0; j < message.size(); ++j)
            message[j] = static_cast<std::uint8_t>(message[j] + j);
        auto to_responder = pair.initiator.encrypt(message);
        REQUIRE(to_responder);
        REQUIRE(decrypt_whole(pair.responder, *to_responder) == message);
        message.push_back(static_cast<std::uint8_t>(i >> 8));
        auto to_initiator = pair.responder.encrypt(message);
        REQUIRE(to_initiator);
        REQUIRE(decrypt_whole(pair.initiator, *to_initiator) == message);
    }
}

TEST_CASE("bolt8: steps out of order, wrong sizes and calls after a failure are refused") {
    const auto& i = vectors()["initiator"][0];
    const auto& r = vectors()["responder"][0];
    const Bytes act_one = hex_bytes(text(r["act_one_input"]));
    const Bytes act_three = hex_bytes(text(r["act_three_input"]));

    SUBCASE("responder") {
        bolt8::Responder responder(private_key(r["ls_priv"]), private_key(r["e_priv"]));
        CHECK(responder.read_act_three(act_three).error().code == ErrorCode::invalid_argument);
        REQUIRE(responder.read_act_one(act_one));
        CHECK(responder.read_act_one(act_one).error().code == ErrorCode::invalid_argument);
        REQUIRE(responder.read_act_three(act_three));
        CHECK(responder.read_act_three(act_three).error().code == ErrorCode::invalid_argument);
    }
    SUBCASE("responder after a failed act one") {
        bolt8::Responder responder(private_key(r["ls_priv"]), private_key(r["e_priv"]));
        Bytes bad = act_one;
        bad.back() ^= 0x01;
        CHECK(responder.read_act_one(bad).error().code == ErrorCode::decryption_failed);
        CHECK(responder.read_act_one(act_one).error().code == ErrorCode::invalid_argument);
        CHECK(responder.read_act_three(act_three).error().code == ErrorCode::invalid_argument);
    }
    SUBCASE("responder after a failed act three") {
        bolt8::Responder responder(private_key(r["ls_priv"]), private_key(r["e_priv"]));
        REQUIRE(responder.read_act_one(act_one));
        Bytes bad = act_three;
        bad.back() ^= 0x01;
        CHECK(responder.read_act_three(bad).error().code == ErrorCode::decryption_failed);
        CHECK(responder.read_act_three(act_three).error().code == ErrorCode::invalid_argument);
    }
    SUBCASE("acts of the wrong size") {
        bolt8::Responder long_one(private_key(r["ls_priv"]), private_key(r["e_priv"]));
        Bytes longer = act_one;
        longer.push_back(0);
        CHECK(long_one.read_act_one(longer).error().code == ErrorCode::malformed);
        bolt8::Responder empty_one(private_key(r["ls_priv"]), private_key(r["e_priv"]));
        CHECK(empty_one.read_act_one({}).error().code == ErrorCode::malformed);
        bolt8::Responder long_three(private_key(r["ls_priv"]), private_key(r["e_priv"]));
        REQUIRE(long_three.read_act_one(act_one));
        longer = act_three;
        longer.push_back(0);
        CHECK(long_three.read_act_three(longer).error().code == ErrorCode::malformed);
    }
    SUBCASE("initiator") {
        bolt8::Initiator initiator(private_key(i["ls_priv"]), public_key(i["rs_pub"]),
                                   private_key(i["e_priv"]));
        CHECK(initiator.transport().error().code == ErrorCode::invalid_argument);
        const Bytes act_two = hex_bytes(text(i["act_two_input"]));
        REQUIRE(initiator.read_act_two(act_two));
        CHECK(initiator.read_act_two(act_two).error().code == ErrorCode::invalid_argument);
        REQUIRE(initiator.transport());
        CHECK(initiator.transport().error().code ==
              ErrorCode::invalid_argument);  // handed over once
    }
    SUBCASE("transport framing") {
        Connected pair = connect();
        Bytes wire = pair.initiator.encrypt(hello).value();
        const ByteSpan header = ByteSpan(wire).first(bolt8::length_header_size);
        const ByteSpan body = ByteSpan(wire).subspan(bolt8::length_header_size);
        CHECK(pair.responder.decrypt_body(body).error().code == ErrorCode::invalid_argument);
        CHECK(pair.responder.decrypt_length(header.first(17)).error().code ==
              ErrorCode::invalid_argument);
        REQUIRE(pair.responder.decrypt_length(header));
        CHECK(pair.responder.decrypt_length(header).error().code == ErrorCode::invalid_argument);
        CHECK(pair.responder.decrypt_body(body.first(body.size() - 1)).error().code ==
              ErrorCode::invalid_argument);
        // Refused framing consumed nothing: the body still opens.
        auto opened = pair.responder.decrypt_body(body);
        REQUIRE(opened);
        CHECK(*opened == hello);
    }
    SUBCASE("a moved-from transport") {
        Connected pair = connect();
        bolt8::Transport moved = std::move(pair.initiator);
        CHECK(pair.initiator.encrypt(hello).error().code ==
              ErrorCode::invalid_argument);  // NOLINT: use after move is the test
        CHECK(decrypt_whole(pair.responder, moved.encrypt(hello).value()) == hello);
    }
}
