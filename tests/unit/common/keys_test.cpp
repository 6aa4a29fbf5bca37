#include <doctest/doctest.h>

#include <cctype>

#include "common/hex.h"
#include "common/keys.h"
#include "tests/support/vectors.h"

using namespace argus;
using argus::test::hex_array;
using argus::test::hex_bytes;

namespace {
PrivateKey key(const std::string& hex) { return PrivateKey::from_bytes(hex_bytes(hex)).value(); }
PublicKey point(const std::string& hex) { return PublicKey::parse(hex_bytes(hex)).value(); }
std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}
}  // namespace

TEST_CASE("keys: private key range and public key derivation (BOLT 8 Appendix A)") {
    // BOLT 8: ls.priv 0x11..11 -> ls.pub 034f355b...; e.priv 0x12..12 -> e.pub 036360e8...
    CHECK(to_hex(key(std::string(64, '1')).public_key().bytes()) ==
          "034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa");
    CHECK(to_hex(key("1212121212121212121212121212121212121212121212121212121212121212")
                     .public_key()
                     .bytes()) ==
          "036360e856310ce5d294e8be33fc807077dc56ac80d95d9cd4ddbd21325eff73f7");
    CHECK_FALSE(PrivateKey::from_bytes(Bytes(32, 0)));  // zero
    CHECK_FALSE(PrivateKey::from_bytes(
        hex_bytes("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")));  // n
    CHECK_FALSE(PrivateKey::from_bytes(Bytes(31, 1)));
}

TEST_CASE("keys: public key parsing rejects off-curve and malformed encodings") {
    auto g = point("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
    // The uncompressed form parses to the same key.
    auto g65 = point(
        "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798483ada7726a3c4655da4fb"
        "fc0e1108a8fd17b448a68554199c47d08ffb10d4b8");
    CHECK(g == g65);
    CHECK_FALSE(PublicKey::parse(hex_bytes(
        "0579be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")));  // bad prefix
    CHECK_FALSE(PublicKey::parse(hex_bytes(
        "020000000000000000000000000000000000000000000000000000000000000005")));  // x not on curve
    CHECK_FALSE(PublicKey::parse(Bytes(32, 2)));
    CHECK_FALSE(PublicKey::parse({}));
}

TEST_CASE("keys: ECDH (BOLT 8 Appendix A handshake shared secrets)") {
    auto e = key("1212121212121212121212121212121212121212121212121212121212121212");
    auto rs = point("028d7500dd4c12685d1f568b4c2b5048e8534b873319f3a8daa612b469132ec7f7");
    CHECK(to_hex(ecdh(e, rs).value()) ==
          "1e2fb3c8fe8fb9f262f649f64d26ecf0f2c0a805a767cf02dc2d77a6ef1fdcc3");
    auto re = point("02466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f27");
    CHECK(to_hex(ecdh(e, re).value()) ==
          "c06363d6cc549bcb7913dbb9ac1c33fc1158680c89e972000ecd06b36c472e47");
    CHECK(to_hex(ecdh(key(std::string(64, '1')), re).value()) ==
          "b36b6d195982c5be874d6d542dc268234379e1ae4ff1709402135b7de5cf0766");
}

TEST_CASE("keys: ECDSA RFC6979 signing, DER and verification (BIP143 native P2WPKH example)") {
    auto v = test::load_vectors("bip143.json")["signature"][0];
    auto k = key(v["private_key"]);
    CHECK(to_hex(k.public_key().bytes()) == v["public_key"].get<std::string>());
    auto digest = hex_array<32>(v["sighash"]);
    EcdsaSignature sig = ecdsa_sign(k, digest);
    CHECK(to_hex(serialize_der(sig)) == v["der_signature"].get<std::string>());
    CHECK(is_low_s(sig));
    CHECK(ecdsa_verify(k.public_key(), digest, sig));
    auto parsed = parse_der_signature(hex_bytes(v["der_signature"]));
    REQUIRE(parsed);
    CHECK(*parsed == sig);
    Hash256 other = digest;
    other[0] ^= 1;
    CHECK_FALSE(ecdsa_verify(k.public_key(), other, sig));
}

TEST_CASE("keys: ECDSA rejects high-S and non-strict DER") {
    auto k = key(std::string(64, '1'));
    Hash256 digest{};
    digest[31] = 7;
    EcdsaSignature sig = ecdsa_sign(k, digest);
    // s' = n - s is the same signature malleated to high S.
    ByteArray<32> n = hex_array<32>("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
    EcdsaSignature high = sig;
    int borrow = 0;
    for (int i = 31; i >= 0; --i) {
        int d = n[i] - sig.compact[32 + i] - borrow;
        borrow = d < 0;
        high.compact[32 + i] = static_cast<std::uint8_t>(d + (borrow ? 256 : 0));
    }
    CHECK_FALSE(is_low_s(high));
    CHECK_FALSE(ecdsa_verify(k.public_key(), digest, high));

    Bytes der = serialize_der(sig);
    Bytes bad_tag = der;
    bad_tag[0] = 0x31;
    CHECK_FALSE(parse_der_signature(bad_tag));
    Bytes bad_length = der;
    bad_length[1] = static_cast<std::uint8_t>(bad_length[1] + 1);
    CHECK_FALSE(parse_der_signature(bad_length));
    Bytes trailing = der;
    trailing.push_back(0);
    CHECK_FALSE(parse_der_signature(trailing));
    CHECK_FALSE(parse_der_signature({}));
    CHECK_FALSE(parse_der_signature(Bytes(200, 0x30)));
    // compact with r = n is out of range
    Bytes compact(64, 0);
    std::copy(n.begin(), n.end(), compact.begin());
    compact[63] = 1;
    CHECK_FALSE(parse_compact_signature(compact));
    CHECK_FALSE(parse_compact_signature(Bytes(63, 1)));
}

TEST_CASE("keys: recoverable signatures recover the signer") {
    auto k = key("1212121212121212121212121212121212121212121212121212121212121212");
    Hash256 digest{};
    digest[0] = 0x42;
    RecoverableSignature sig = ecdsa_sign_recoverable(k, digest);
    auto recovered = ecdsa_recover(digest, sig);
    REQUIRE(recovered);
    CHECK(*recovered == k.public_key());
    RecoverableSignature wrong_id = sig;
    wrong_id.recovery_id = sig.recovery_id ^ 1;
    auto other = ecdsa_recover(digest, wrong_id);
    CHECK((!other || !(*other == k.public_key())));
    wrong_id.recovery_id = 4;
    CHECK_FALSE(ecdsa_recover(digest, wrong_id));
}

TEST_CASE("keys: BIP340 Schnorr signing and verification (bip-0340/test-vectors.csv)") {
    auto vectors = test::load_vectors("bip340.json")["vectors"];
    CHECK(vectors.size() == 19);
    for (const auto& v : vectors) {
        CAPTURE(v["index"].get<int>());
        Bytes message = hex_bytes(v["message"]);
        auto sig = hex_array<64>(v["signature"]);
        std::string secret = v["secret_key"];
        if (!secret.empty()) {
            auto k = key(secret);
            CHECK(to_hex(k.public_key().x_only().bytes()) == lower(v["public_key"]));
            CHECK(to_hex(schnorr_sign(k, message, hex_array<32>(v["aux_rand"]))) ==
                  lower(v["signature"]));
        }
        auto pub = XOnlyPublicKey::parse(hex_bytes(v["public_key"]));
        bool valid = pub && schnorr_verify(*pub, message, sig);
        CHECK(valid == v["valid"].get<bool>());
    }
}
