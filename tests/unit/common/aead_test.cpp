#include <doctest/doctest.h>

#include "common/aead.h"
#include "common/hex.h"
#include "tests/support/vectors.h"

using namespace argus;
using test::hex_array;
using test::hex_bytes;

namespace {
const char* sunscreen =
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, "
    "sunscreen would be it.";
}

TEST_CASE("aead: ChaCha20-Poly1305 (RFC 8439 section 2.8.2)") {
    auto key = hex_array<32>("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    auto nonce = hex_array<12>("070000004041424344454647");
    Bytes aad = hex_bytes("50515253c0c1c2c3c4c5c6c7");
    Bytes sealed = chacha20poly1305_encrypt(key, nonce, as_bytes(sunscreen), aad);
    CHECK(to_hex(sealed) ==
          "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69"
          "da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad67594"
          "5585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
          "1ae10b594f09e26a7e902ecbd0600691");
    auto opened = chacha20poly1305_decrypt(key, nonce, sealed, aad);
    REQUIRE(opened);
    CHECK(std::string(opened->begin(), opened->end()) == sunscreen);
    sealed[5] ^= 1;
    CHECK(chacha20poly1305_decrypt(key, nonce, sealed, aad).error().code ==
          ErrorCode::decryption_failed);
    CHECK(chacha20poly1305_decrypt(key, nonce, Bytes(15, 0)).error().code == ErrorCode::truncated);
}

TEST_CASE("aead: ChaCha20-Poly1305 with empty plaintext (BOLT 8 Appendix A act one)") {
    // encryptWithAD(temp_k1, 0, h, <empty>) -> c = 0df6086551151f58b8afe6c195782c6a
    auto key = hex_array<32>("e68f69b7f096d7917245f5e5cf8ae1595febe4d4644333c99f9c4a1282031c9f");
    Bytes h = hex_bytes("9e0e7de8bb75554f21db034633de04be41a2b8a18da7a319a03c803bf02b396c");
    CHECK(to_hex(chacha20poly1305_encrypt(key, ByteArray<12>{}, {}, h)) ==
          "0df6086551151f58b8afe6c195782c6a");
}

TEST_CASE("aead: XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03 A.3.1)") {
    auto key = hex_array<32>("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    auto nonce = hex_array<24>("404142434445464748494a4b4c4d4e4f5051525354555657");
    Bytes aad = hex_bytes("50515253c0c1c2c3c4c5c6c7");
    Bytes sealed = xchacha20poly1305_encrypt(key, nonce, as_bytes(sunscreen), aad);
    CHECK(to_hex(sealed) ==
          "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f"
          "4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f"
          "76b2383565d3fff921f9664c97637da9768812f615c68b13b52e"
          "c0875924c1c7987947deafd8780acf49");
    auto opened = xchacha20poly1305_decrypt(key, nonce, sealed, aad);
    REQUIRE(opened);
    CHECK(std::string(opened->begin(), opened->end()) == sunscreen);
    CHECK_FALSE(xchacha20poly1305_decrypt(key, nonce, sealed, {}));  // AAD is authenticated
}
