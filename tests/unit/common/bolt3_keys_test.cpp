#include <doctest/doctest.h>

#include "common/bolt3_keys.h"
#include "common/hex.h"
#include "tests/support/vectors.h"

using namespace argus;
using namespace argus::bolt3;
using test::hex_bytes;

TEST_CASE("BOLT 3 Appendix E: key derivation") {
    auto v = test::load_vectors("bolt3_secrets_and_keys.json")["key_derivation"];
    auto base_secret = PrivateKey::from_bytes(hex_bytes(v["base_secret"])).value();
    auto per_commitment_secret = PrivateKey::from_bytes(hex_bytes(v["per_commitment_secret"])).value();
    auto base_point = PublicKey::parse(hex_bytes(v["base_point"])).value();
    auto per_commitment_point = PublicKey::parse(hex_bytes(v["per_commitment_point"])).value();
    CHECK(base_secret.public_key() == base_point);
    CHECK(per_commitment_secret.public_key() == per_commitment_point);

    auto localpubkey = derive_pubkey(base_point, per_commitment_point);
    REQUIRE(localpubkey);
    CHECK(to_hex(localpubkey->bytes()) == v["localpubkey"].get<std::string>());

    auto localprivkey = derive_privkey(base_secret, per_commitment_point);
    REQUIRE(localprivkey);
    CHECK(to_hex(localprivkey->bytes()) == v["localprivkey"].get<std::string>());
    CHECK(localprivkey->public_key() == *localpubkey);

    auto revocationpubkey = derive_revocation_pubkey(base_point, per_commitment_point);
    REQUIRE(revocationpubkey);
    CHECK(to_hex(revocationpubkey->bytes()) == v["revocationpubkey"].get<std::string>());

    auto revocationprivkey = derive_revocation_privkey(base_secret, per_commitment_secret);
    REQUIRE(revocationprivkey);
    CHECK(to_hex(revocationprivkey->bytes()) == v["revocationprivkey"].get<std::string>());
    CHECK(revocationprivkey->public_key() == *revocationpubkey);
}
