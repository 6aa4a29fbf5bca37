#include <doctest/doctest.h>

#include "common/hex.h"
#include "tests/support/vectors.h"
#include "tests/support/wtclient/bolt8_appendix_a.h"
#include "tests/support/wtclient/noise.h"

using namespace argus;
using namespace argus::test::wtclient;
using argus::test::hex_array;
using argus::test::hex_bytes;
namespace v = argus::test::wtclient::bolt8_vectors;

namespace {

NoiseInitiator appendix_a_initiator() {
    auto ls = PrivateKey::from_bytes(hex_bytes(v::local_static_priv)).value();
    auto rs = PublicKey::parse(hex_bytes(v::remote_static_pub)).value();
    auto e = PrivateKey::from_bytes(hex_bytes(v::ephemeral_priv)).value();
    return NoiseInitiator(ls, rs, e);
}

}  // namespace

TEST_CASE("wtclient: BOLT 8 Appendix A initiator acts and final keys") {
    auto ls = PrivateKey::from_bytes(hex_bytes(v::local_static_priv)).value();
    CHECK(to_hex(ls.public_key().bytes()) == v::local_static_pub);
    NoiseInitiator noise = appendix_a_initiator();
    CHECK(to_hex(noise.act_one()) == v::act_one_output);
    REQUIRE(noise.read_act_two(hex_bytes(v::act_two_input)));
    CHECK(to_hex(noise.act_three()) == v::act_three_output);
    CHECK(to_hex(noise.chaining_key()) == v::final_chaining_key);
    TransportCipher transport = noise.transport();
    CHECK(to_hex(transport.send_state().key()) == v::send_key);
    CHECK(to_hex(transport.receive_state().key()) == v::receive_key);
}

TEST_CASE("wtclient: BOLT 8 Appendix A initiator rejects a bad act two") {
    const char* bad[] = {v::act_two_short, v::act_two_bad_version, v::act_two_bad_key,
                         v::act_two_bad_mac};
    for (const char* input : bad) {
        NoiseInitiator noise = appendix_a_initiator();
        (void)noise.act_one();
        CHECK_FALSE(noise.read_act_two(hex_bytes(input)));
    }
}

TEST_CASE("wtclient: BOLT 8 Appendix A message encryption with key rotation") {
    NoiseInitiator noise = appendix_a_initiator();
    (void)noise.act_one();
    REQUIRE(noise.read_act_two(hex_bytes(v::act_two_input)));
    (void)noise.act_three();
    TransportCipher transport = noise.transport();
    std::size_t next = 0;
    for (int i = 0; i <= 1001; ++i) {
        auto frame = transport.encrypt_message(as_bytes("hello"));
        REQUIRE(frame);
        if (next < std::size(v::message_outputs) && v::message_outputs[next].index == i) {
            CAPTURE(i);
            CHECK(to_hex(*frame) == v::message_outputs[next].output);
            ++next;
        }
    }
    CHECK(next == std::size(v::message_outputs));
}

TEST_CASE("wtclient: BOLT 8 transport decrypts what the other side encrypts") {
    // A responder's receive state is the initiator's send state (same ck and key).
    auto ck = hex_array<32>(v::final_chaining_key);
    auto sk = hex_array<32>(v::send_key);
    auto rk = hex_array<32>(v::receive_key);
    TransportCipher initiator{CipherState(ck, sk), CipherState(ck, rk)};
    TransportCipher responder{CipherState(ck, rk), CipherState(ck, sk)};
    for (int i = 0; i < 1502; ++i) {
        Bytes message(static_cast<std::size_t>(i % 7) * 100, static_cast<std::uint8_t>(i));
        auto frame = initiator.encrypt_message(message);
        REQUIRE(frame);
        auto length = responder.decrypt_header(ByteSpan(*frame).first(message_header_size));
        REQUIRE(length);
        CHECK(*length == message.size());
        auto body = responder.decrypt_body(ByteSpan(*frame).subspan(message_header_size));
        REQUIRE(body);
        CHECK(*body == message);
    }
    // BOLT #8: the maximum size of any Lightning message is 65535 bytes.
    CHECK(initiator.encrypt_message(Bytes(65535, 0)));
    CHECK(initiator.encrypt_message(Bytes(65536, 0)).error().code == ErrorCode::oversized);
    // A flipped MAC bit fails.
    auto frame = initiator.encrypt_message(as_bytes("x")).value();
    frame[3] ^= 1;
    CHECK_FALSE(responder.decrypt_header(ByteSpan(frame).first(message_header_size)));
}
