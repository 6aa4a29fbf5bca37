#include <doctest/doctest.h>

#include "common/bech32.h"
#include "common/hex.h"
#include "tests/support/vectors.h"

using namespace argus;
using test::hex_bytes;

namespace {
std::string vector_string(const nlohmann::json& v) {
    Bytes b = hex_bytes(v["string_hex"]);
    return std::string(b.begin(), b.end());
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}
}  // namespace

TEST_CASE("bech32: BIP173 valid and invalid strings") {
    auto json = test::load_vectors("bech32_addresses.json");
    for (const auto& v : json["bech32_valid"]) {
        std::string s = vector_string(v);
        CAPTURE(s);
        auto d = bech32_decode(s);
        REQUIRE(d);
        CHECK(d->variant == Bech32Variant::bech32);
        CHECK(bech32_encode(Bech32Variant::bech32, d->hrp, d->data) == lower(s));
    }
    for (const auto& v : json["bech32_invalid"]) {
        std::string s = vector_string(v);
        CAPTURE(v["reason"].get<std::string>());
        auto d = bech32_decode(s);
        CHECK((!d || d->variant != Bech32Variant::bech32));
    }
}

TEST_CASE("bech32m: BIP350 valid and invalid strings") {
    auto json = test::load_vectors("bech32_addresses.json");
    for (const auto& v : json["bech32m_valid"]) {
        std::string s = vector_string(v);
        CAPTURE(s);
        auto d = bech32_decode(s);
        REQUIRE(d);
        CHECK(d->variant == Bech32Variant::bech32m);
        CHECK(bech32_encode(Bech32Variant::bech32m, d->hrp, d->data) == lower(s));
    }
    for (const auto& v : json["bech32m_invalid"]) {
        std::string s = vector_string(v);
        CAPTURE(v["reason"].get<std::string>());
        auto d = bech32_decode(s);
        CHECK((!d || d->variant != Bech32Variant::bech32m));
    }
}

TEST_CASE("address: BIP173/BIP350 valid segwit addresses decode and re-encode") {
    auto json = test::load_vectors("bech32_addresses.json");
    CHECK(json["address_valid"].size() >= 10);
    for (const auto& v : json["address_valid"]) {
        std::string address = vector_string(v);
        CAPTURE(address);
        std::string hrp = lower(address.substr(0, address.rfind('1')));
        auto wp = decode_segwit_address(address, hrp);
        REQUIRE(wp);
        CHECK(to_hex(witness_script_pubkey(*wp)) == v["script_pubkey"].get<std::string>());
        Network network = hrp == "bc" ? Network::mainnet : Network::testnet;
        auto encoded = encode_address(witness_script_pubkey(*wp), network);
        if (wp->version == 0 || wp->program.size() >= 2) {
            REQUIRE(encoded);
            CHECK(*encoded == lower(address));
        }
    }
}

TEST_CASE("address: BIP173/BIP350 invalid segwit addresses are rejected") {
    auto json = test::load_vectors("bech32_addresses.json");
    for (const char* list : {"address_invalid_bip173", "address_invalid_bip350"}) {
        for (const auto& v : json[list]) {
            std::string address = vector_string(v);
            CAPTURE(address);
            CAPTURE(v["reason"].get<std::string>());
            // Invalid for every network we know.
            for (const char* hrp : {"bc", "tb", "bcrt"}) CHECK_FALSE(decode_segwit_address(address, hrp));
        }
    }
}

TEST_CASE("address: networks and regtest") {
    Bytes script = hex_bytes("0014751e76e8199196d454941c45d1b3a323f1433bd6");
    CHECK(encode_address(script, Network::mainnet).value() == "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4");
    CHECK(encode_address(script, Network::testnet).value() == "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx");
    auto regtest = encode_address(script, Network::regtest).value();
    CHECK(regtest.rfind("bcrt1q", 0) == 0);
    CHECK(decode_address(regtest, Network::regtest).value() == script);
    CHECK_FALSE(decode_address(regtest, Network::mainnet));
    CHECK_FALSE(encode_address(hex_bytes("76a914751e76e8199196d454941c45d1b3a323f1433bd688ac"),
                               Network::mainnet));
    CHECK(parse_network("signet").value() == Network::signet);
    CHECK_FALSE(parse_network("moon"));
}
