#include <doctest/doctest.h>

#include "common/hex.h"
#include "common/message_signing.h"
#include "common/zbase32.h"
#include "tests/support/vectors.h"

using namespace argus;

TEST_CASE("message signing: recovers Core Lightning's signature (shared/vectors/teos.json)") {
    auto v = test::load_vectors("teos.json")["message_signing"][0];
    std::string message = v["message_utf8"];
    auto signer = recover_message_signer(as_bytes(message), v["zbase32_signature"].get<std::string>());
    REQUIRE(signer);
    CHECK(to_hex(signer->bytes()) == v["recovered_pubkey"].get<std::string>());
    // A different message recovers a different key (or none).
    auto other = recover_message_signer(as_bytes("Test messagf"), v["zbase32_signature"].get<std::string>());
    CHECK((!other || to_hex(other->bytes()) != v["recovered_pubkey"].get<std::string>()));
}

TEST_CASE("message signing: sign then recover round trip") {
    auto key = PrivateKey::from_bytes(Bytes(32, 0x42)).value();
    std::string sig = sign_message(key, as_bytes("get subscription info"));
    CHECK(sig.size() == 104);
    auto signer = recover_message_signer(as_bytes("get subscription info"), sig);
    REQUIRE(signer);
    CHECK(*signer == key.public_key());
}

TEST_CASE("message signing: malformed signatures are clear errors") {
    auto key = PrivateKey::from_bytes(Bytes(32, 0x42)).value();
    std::string sig = sign_message(key, as_bytes("m"));
    CHECK(recover_message_signer(as_bytes("m"), sig.substr(0, 103)).error().code ==
          ErrorCode::invalid_signature);
    std::string bad_char = sig;
    bad_char[10] = 'l';  // not in the z-base-32 alphabet
    CHECK(recover_message_signer(as_bytes("m"), bad_char).error().code == ErrorCode::invalid_encoding);
    // Header byte 27 (uncompressed key claim) is refused.
    Bytes raw = zbase32_decode(sig).value();
    raw[0] = 27;
    CHECK(recover_message_signer(as_bytes("m"), zbase32_encode(raw)).error().code ==
          ErrorCode::invalid_signature);
    CHECK_FALSE(recover_message_signer(as_bytes("m"), std::string(104, 'y')));
}

TEST_CASE("zbase32: known encodings and canonical padding") {
    // z-base-32 spec example: 0xD4 0x7A 0x04 -> "4t7ye".
    CHECK(zbase32_encode(Bytes{0xd4, 0x7a, 0x04}) == "4t7ye");
    CHECK(zbase32_decode("4t7ye").value() == Bytes{0xd4, 0x7a, 0x04});
    CHECK(zbase32_decode("6y").value() == Bytes{0xf0});
    CHECK_FALSE(zbase32_decode("6n"));  // non-zero padding bits
    CHECK_FALSE(zbase32_decode("y"));   // 5 bits cannot hold a byte
    CHECK(zbase32_decode("").value().empty());
}
