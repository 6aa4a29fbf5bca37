#include <doctest/doctest.h>

#include "common/hex.h"
#include "common/transaction.h"
#include "common/watchtower_crypto.h"
#include "tests/support/vectors.h"

using namespace argus;
using test::hex_bytes;

TEST_CASE("teos: locator, key and blob encryption (shared/vectors/teos.json)") {
    auto v = test::load_vectors("teos.json")["encryption"][0];
    auto txid = Txid::from_display_hex(v["commitment_txid_display"].get<std::string>()).value();
    CHECK(to_hex(txid.bytes) == v["commitment_txid_internal"].get<std::string>());
    CHECK(to_hex(teos::locator(txid)) == v["locator"].get<std::string>());
    CHECK(to_hex(teos::encryption_key(txid)) == v["key"].get<std::string>());
    Bytes penalty = hex_bytes(v["penalty_tx_hex"]);
    CHECK(to_hex(teos::encrypt_penalty(penalty, txid)) == v["encrypted_blob"].get<std::string>());
    auto decrypted = teos::decrypt_penalty(hex_bytes(v["encrypted_blob"]), txid);
    REQUIRE(decrypted);
    CHECK(*decrypted == penalty);
    // The wrong txid (a false-positive locator match) fails authentication.
    Txid other = txid;
    other.bytes[31] ^= 1;
    CHECK(teos::decrypt_penalty(hex_bytes(v["encrypted_blob"]), other).error().code ==
          ErrorCode::decryption_failed);
}

TEST_CASE("lnd: breach hint and key derivation (shared/vectors/lnd.json)") {
    auto json = test::load_vectors("lnd.json");
    for (const auto& v : json["hint_and_key"]) {
        auto txid = Txid::from_display_hex(v["txid_display"].get<std::string>()).value();
        CHECK(to_hex(txid.bytes) == v["txid_internal"].get<std::string>());
        CHECK(to_hex(lnd::breach_hint(txid)) == v["hint"].get<std::string>());
        CHECK(to_hex(lnd::breach_key(txid)) == v["key"].get<std::string>());
    }
    auto sizes = json["blob_sizes"];
    // blob = nonce || ciphertext || tag
    CHECK(sizes["nonce"].get<int>() + sizes["kit_v0_plaintext"].get<int>() + sizes["tag"].get<int>() ==
          sizes["blob_v0"].get<int>());
    Bytes kit(sizes["kit_v0_plaintext"].get<std::size_t>(), 0x5a);
    Bytes sealed = xchacha20poly1305_encrypt(Hash256{}, ByteArray<24>{}, kit);
    CHECK(sealed.size() + 24 == sizes["blob_v0"].get<std::size_t>());
}
