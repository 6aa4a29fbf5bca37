#include <doctest/doctest.h>

#include <map>

#include "common/bech32.h"
#include "common/hex.h"
#include "common/keys.h"
#include "common/script.h"
#include "common/sighash.h"
#include "tests/support/vectors.h"

using namespace argus;
using test::hex_array;
using test::hex_bytes;

TEST_CASE("sighash: BIP143 segwit v0 examples (bip-0143.mediawiki)") {
    auto json = test::load_vectors("bip143.json");
    CHECK(json["sighash"].size() == 13);
    for (const auto& v : json["sighash"]) {
        CAPTURE(v["name"].get<std::string>());
        auto tx = parse_transaction(hex_bytes(v["tx"]));
        REQUIRE(tx);
        Hash256 h = segwit_v0_sighash(*tx, v["input_index"].get<std::size_t>(),
                                      hex_bytes(v["script_code"]), v["amount"].get<std::int64_t>(),
                                      v["hash_type"].get<std::uint32_t>());
        CHECK(to_hex(h) == v["sighash"].get<std::string>());
    }
}

namespace {
Transaction unsigned_tx(const nlohmann::json& given) {
    return parse_transaction(hex_bytes(given["rawUnsignedTx"])).value();
}

std::vector<TxOut> spent_outputs(const nlohmann::json& given) {
    std::vector<TxOut> out;
    for (const auto& u : given["utxosSpent"]) {
        out.push_back({u["amountSats"].get<std::int64_t>(), hex_bytes(u["scriptPubKey"])});
    }
    return out;
}

std::optional<Hash256> merkle_root(const nlohmann::json& value) {
    if (value.is_null()) return std::nullopt;
    return hex_array<32>(value);
}
}  // namespace

TEST_CASE("sighash: BIP341 key path spending (bip-0341/wallet-test-vectors.json)") {
    auto json = test::load_vectors("bip341_wallet.json");
    const auto& case_ = json["keyPathSpending"][0];
    Transaction tx = unsigned_tx(case_["given"]);
    auto spent = spent_outputs(case_["given"]);
    auto signed_tx = parse_transaction(hex_bytes(case_["auxiliary"]["fullySignedTx"])).value();
    int checked = 0;
    for (const auto& input : case_["inputSpending"]) {
        std::size_t index = input["given"]["txinIndex"];
        std::uint32_t hash_type = input["given"]["hashType"];
        CAPTURE(index);
        auto message = taproot_signature_message(tx, index, spent, hash_type, std::nullopt, std::nullopt);
        REQUIRE(message);
        CHECK(to_hex(*message) == input["intermediary"]["sigMsg"].get<std::string>());
        auto sighash = taproot_sighash(tx, index, spent, hash_type);
        REQUIRE(sighash);
        CHECK(to_hex(*sighash) == input["intermediary"]["sigHash"].get<std::string>());

        auto internal = PrivateKey::from_bytes(hex_bytes(input["given"]["internalPrivkey"])).value();
        CHECK(to_hex(internal.public_key().x_only().bytes()) ==
              input["intermediary"]["internalPubkey"].get<std::string>());
        auto tweaked = taproot_tweak_private_key(internal, merkle_root(input["given"]["merkleRoot"]));
        REQUIRE(tweaked);
        CHECK(to_hex(tweaked->bytes()) == input["intermediary"]["tweakedPrivkey"].get<std::string>());

        // The expected witness is a BIP340 signature (aux_rand zero) plus the hash type byte when not DEFAULT.
        ByteArray<64> sig = schnorr_sign(*tweaked, *sighash, ByteArray<32>{});
        Bytes witness(sig.begin(), sig.end());
        if (hash_type != SIGHASH_DEFAULT) witness.push_back(static_cast<std::uint8_t>(hash_type));
        CHECK(to_hex(witness) == input["expected"]["witness"][0].get<std::string>());
        CHECK(signed_tx.inputs[index].witness[0] == witness);
        // And it verifies against the output key in the spent scriptPubKey.
        auto output_key = XOnlyPublicKey::parse(ByteSpan(spent[index].script_pubkey).subspan(2)).value();
        CHECK(schnorr_verify(output_key, *sighash, sig));
        ++checked;
    }
    CHECK(checked == 7);
}

TEST_CASE("sighash: BIP341 rejects bad hash types and missing SINGLE outputs") {
    auto json = test::load_vectors("bip341_wallet.json");
    const auto& case_ = json["keyPathSpending"][0];
    Transaction tx = unsigned_tx(case_["given"]);
    auto spent = spent_outputs(case_["given"]);
    for (std::uint32_t bad : {0x04u, 0x80u, 0x84u, 0xffu}) {
        CHECK_FALSE(taproot_sighash(tx, 0, spent, bad));
    }
    CHECK_FALSE(taproot_sighash(tx, tx.inputs.size(), spent, 0));
    spent.pop_back();
    CHECK_FALSE(taproot_sighash(tx, 0, spent, 0));
    Transaction few_outputs = unsigned_tx(case_["given"]);
    few_outputs.outputs.resize(1);
    CHECK_FALSE(taproot_sighash(few_outputs, 3, spent_outputs(case_["given"]), SIGHASH_SINGLE));
}

TEST_CASE("sighash: BIP341/BIP342 script path extends the key path message") {
    // BIP342: the script path message is the key path message with ext_flag = 1
    // in spend_type, followed by tapleaf_hash || key_version 0x00 || codesep_pos.
    auto json = test::load_vectors("bip341_wallet.json");
    const auto& case_ = json["keyPathSpending"][0];
    Transaction tx = unsigned_tx(case_["given"]);
    auto spent = spent_outputs(case_["given"]);
    Hash256 leaf = tapleaf_hash(0xc0, hex_bytes("20387671353e273264c495656e27e39ba899ea8fee3bb69fb2a680e22093447d48ac"));
    for (const auto& input : case_["inputSpending"]) {
        std::size_t index = input["given"]["txinIndex"];
        std::uint32_t hash_type = input["given"]["hashType"];
        Bytes expected = hex_bytes(input["intermediary"]["sigMsg"]);
        std::uint32_t output_type = hash_type == 0 ? 1 : (hash_type & 3);
        std::size_t spend_type_offset = 1 + 1 + 4 + 4 + ((hash_type & 0x80) ? 0 : 128) +
                                        ((output_type == 2 || output_type == 3) ? 0 : 32);
        CHECK(expected[spend_type_offset] == 0);
        expected[spend_type_offset] = 2;
        expected.insert(expected.end(), leaf.begin(), leaf.end());
        expected.push_back(0x00);
        for (int i = 0; i < 4; ++i) expected.push_back(0xff);
        auto message = taproot_signature_message(tx, index, spent, hash_type, std::nullopt,
                                                 TaprootScriptPath{leaf, 0xffffffff});
        REQUIRE(message);
        CHECK(*message == expected);
    }
}

namespace {
struct TreeResult {
    Hash256 hash;
    std::vector<std::pair<int, std::vector<Hash256>>> leaves;  // id, path (leaf to root)
};

TreeResult walk(const nlohmann::json& node, std::vector<std::pair<int, std::uint8_t>>& versions,
                std::map<int, Hash256>& leaf_hashes) {
    if (node.is_object()) {
        auto version = node["leafVersion"].get<std::uint8_t>();
        int id = node["id"].get<int>();
        versions.emplace_back(id, version);
        leaf_hashes[id] = tapleaf_hash(version, hex_bytes(node["script"]));
        return {leaf_hashes[id], {{id, {}}}};
    }
    TreeResult left = walk(node[0], versions, leaf_hashes);
    TreeResult right = walk(node[1], versions, leaf_hashes);
    for (auto& l : left.leaves) l.second.push_back(right.hash);
    for (auto& r : right.leaves) r.second.push_back(left.hash);
    TreeResult out{tapbranch_hash(left.hash, right.hash), left.leaves};
    out.leaves.insert(out.leaves.end(), right.leaves.begin(), right.leaves.end());
    return out;
}
}  // namespace

TEST_CASE("taproot: BIP341 scriptPubKey vectors (leaf hashes, tweak, address, control blocks)") {
    auto json = test::load_vectors("bip341_wallet.json");
    for (const auto& v : json["scriptPubKey"]) {
        auto internal = XOnlyPublicKey::parse(hex_bytes(v["given"]["internalPubkey"])).value();
        std::optional<Hash256> root;
        std::vector<std::pair<int, std::uint8_t>> versions;
        std::map<int, Hash256> leaf_hashes;
        TreeResult tree;
        if (!v["given"]["scriptTree"].is_null()) {
            tree = walk(v["given"]["scriptTree"], versions, leaf_hashes);
            root = tree.hash;
            CHECK(to_hex(*root) == v["intermediary"]["merkleRoot"].get<std::string>());
            // leafHashes are listed by leaf id.
            std::size_t id = 0;
            for (const auto& expected : v["intermediary"]["leafHashes"]) {
                CHECK(to_hex(leaf_hashes[static_cast<int>(id)]) == expected.get<std::string>());
                ++id;
            }
        }
        auto output = taproot_output_key(internal, root);
        REQUIRE(output);
        CHECK(to_hex(output->key.bytes()) == v["intermediary"]["tweakedPubkey"].get<std::string>());
        CHECK(to_hex(p2tr_script(output->key)) == v["expected"]["scriptPubKey"].get<std::string>());
        CHECK(encode_address(p2tr_script(output->key), Network::mainnet).value() ==
              v["expected"]["bip350Address"].get<std::string>());
        if (v["expected"].contains("scriptPathControlBlocks")) {
            std::map<int, std::uint8_t> version_of(versions.begin(), versions.end());
            std::map<int, std::vector<Hash256>> path_of(tree.leaves.begin(), tree.leaves.end());
            int id = 0;
            for (const auto& expected : v["expected"]["scriptPathControlBlocks"]) {
                Bytes block{static_cast<std::uint8_t>(version_of[id] | (output->parity_odd ? 1 : 0))};
                block.insert(block.end(), internal.bytes().begin(), internal.bytes().end());
                for (const auto& h : path_of[id]) block.insert(block.end(), h.begin(), h.end());
                CHECK(to_hex(block) == expected.get<std::string>());
                ++id;
            }
        }
    }
}
