#include <doctest/doctest.h>

#include "common/hash.h"
#include "common/hex.h"

using namespace argus;

// FIPS 180-2 Appendix B.1 / B.2 (SHA-256), RIPEMD-160 paper's test values,
// RFC 4231 test cases 1 and 2 (HMAC-SHA-256), BIP340 tagged hash definition.
TEST_CASE("hash: SHA256 (FIPS 180-2 vectors)") {
    CHECK(to_hex(sha256(as_bytes("abc"))) ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(to_hex(sha256(as_bytes(""))) ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(to_hex(sha256(as_bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))) ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("hash: SHA256d is SHA256 twice (Bitcoin genesis block header)") {
    // The genesis block header hashes to the famous 000000000019d6... (display order).
    Bytes header = parse_hex(
                       "0100000000000000000000000000000000000000000000000000000000000000000000003ba3"
                       "edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c")
                       .value();
    CHECK(to_hex(reversed(sha256d(header))) ==
          "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f");
}

TEST_CASE("hash: RIPEMD160 and HASH160") {
    CHECK(to_hex(ripemd160(as_bytes(""))) == "9c1185a5c5e9fc54612808977ee8f548b2258d31");
    CHECK(to_hex(ripemd160(as_bytes("abc"))) == "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc");
    // BIP173: HASH160 of the generator point's compressed key is the P2WPKH program
    // of bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4.
    Bytes g = parse_hex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798").value();
    CHECK(to_hex(hash160(g)) == "751e76e8199196d454941c45d1b3a323f1433bd6");
}

TEST_CASE("hash: HMAC-SHA256 (RFC 4231 test cases 1 and 2)") {
    Bytes key1(20, 0x0b);
    CHECK(to_hex(hmac_sha256(key1, as_bytes("Hi There"))) ==
          "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    CHECK(to_hex(hmac_sha256(as_bytes("Jefe"), as_bytes("what do ya want for nothing?"))) ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("hash: incremental SHA256 equals one-shot") {
    Sha256 h;
    h.write(as_bytes("ab")).write(as_bytes("c"));
    CHECK(h.finish() == sha256(as_bytes("abc")));
}

TEST_CASE("hash: incremental SHA256 across block boundaries (FIPS 180-2 B.2 and B.3)") {
    Sha256 two;
    two.write(as_bytes("abcdbcdecdefdefgefghfghighijhij")).write(as_bytes("kijkljklmklmnlmnomnopnopq"));
    CHECK(to_hex(two.finish()) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    // One million 'a', written 1,000 (not a multiple of the 64-byte block) at a time.
    Sha256 million;
    Bytes thousand(1000, 'a');
    for (int i = 0; i < 1000; ++i) million.write(thousand);
    CHECK(to_hex(million.finish()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("hash: SHA256d of parts is SHA256d of their concatenation (Bitcoin genesis block header)") {
    Bytes header = parse_hex(
                       "0100000000000000000000000000000000000000000000000000000000000000000000003ba3"
                       "edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c")
                       .value();
    ByteSpan all(header);
    CHECK(to_hex(reversed(sha256d_of_parts({all.first(4), all.subspan(4, 70), all.subspan(74), ByteSpan{}}))) ==
          "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f");
}
