#include <doctest/doctest.h>

#include "common/hex.h"
#include "common/transaction.h"
#include "tests/support/vectors.h"

using namespace argus;
using test::hex_bytes;

namespace {
// The genesis block's coinbase (Bitcoin Core chainparams); txid in shared/vectors/lnd.json.
const char* genesis_coinbase =
    "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff001d"
    "0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66"
    "207365636f6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe55"
    "48271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba"
    "0b8d578a4c702b6bf11d5fac00000000";
}  // namespace

TEST_CASE("transaction: legacy parse, serialize and txid (genesis coinbase)") {
    Bytes raw = hex_bytes(genesis_coinbase);
    auto tx = parse_transaction(raw);
    REQUIRE(tx);
    CHECK(tx->version == 1);
    CHECK(tx->inputs.size() == 1);
    CHECK(tx->outputs.size() == 1);
    CHECK(tx->outputs[0].value == 5'000'000'000);
    CHECK_FALSE(tx->has_witness());
    CHECK(tx->serialize() == raw);
    auto lnd = test::load_vectors("lnd.json")["hint_and_key"][0];
    CHECK(tx->txid().to_display_hex() == lnd["txid_display"].get<std::string>());
    CHECK(tx->wtxid() == tx->txid().bytes);
}

TEST_CASE("transaction: segwit round trip, txid excludes the witness (BOLT 3 Appendix C)") {
    // Each HTLC transaction spends its commitment by txid, so the commitment's
    // txid computed here must equal the prevout the spec's HTLC tx names.
    auto c = test::load_vectors("bolt3_commitments.json")["appendix_c"][1];
    Bytes commit_raw = hex_bytes(c["commit_tx"]);
    auto commit = parse_transaction(commit_raw);
    REQUIRE(commit);
    CHECK(commit->has_witness());
    CHECK(commit->serialize() == commit_raw);
    CHECK(commit->inputs[0].witness.size() == 4);
    auto htlc = parse_transaction(hex_bytes(c["htlc_txs"][0]["tx"]));
    REQUIRE(htlc);
    CHECK(htlc->inputs[0].prevout.txid == commit->txid());
    CHECK(commit->wtxid() != commit->txid().bytes);
    CHECK(commit->weight() > commit->serialize_without_witness().size() * 4 - 1);
}

TEST_CASE("transaction: every truncation and trailing garbage is a clear error") {
    auto c = test::load_vectors("bolt3_commitments.json")["appendix_c"][1];
    for (Bytes raw : {hex_bytes(c["commit_tx"]), hex_bytes(genesis_coinbase)}) {
        for (std::size_t n = 0; n < raw.size(); ++n) {
            auto r = parse_transaction(ByteSpan(raw.data(), n));
            CHECK_FALSE(r);
        }
        Bytes extra = raw;
        extra.push_back(0);
        auto r = parse_transaction(extra);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::trailing_data);
    }
}

TEST_CASE("transaction: malformed structures are rejected") {
    // Witness marker with a bad flag.
    CHECK(parse_transaction(hex_bytes("020000000002")).error().code == ErrorCode::malformed);
    // Input count that the remaining bytes cannot hold.
    CHECK_FALSE(parse_transaction(hex_bytes("02000000fdff0000000000")));
    // Witness flag set but every witness empty: not a canonical encoding.
    Bytes legacy = hex_bytes(genesis_coinbase);
    auto tx = parse_transaction(legacy).value();
    Bytes flagged;
    flagged.insert(flagged.end(), legacy.begin(), legacy.begin() + 4);
    flagged.push_back(0x00);
    flagged.push_back(0x01);
    flagged.insert(flagged.end(), legacy.begin() + 4, legacy.end() - 4);
    flagged.push_back(0x00);  // empty witness for the one input
    flagged.insert(flagged.end(), legacy.end() - 4, legacy.end());
    CHECK(parse_transaction(flagged).error().code == ErrorCode::malformed);
    // Output above 21M BTC.
    Transaction big = tx;
    big.outputs[0].value = 2'100'000'000'000'001;
    CHECK_FALSE(parse_transaction(big.serialize()));
    // Oversized input.
    CHECK(parse_transaction(Bytes(max_transaction_size + 1, 0)).error().code == ErrorCode::oversized);
}

TEST_CASE("transaction: txid display order round trip") {
    auto txid = Txid::from_display_hex("4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b");
    REQUIRE(txid);
    CHECK(to_hex(txid->bytes).substr(0, 8) == "3ba3edfd");
    CHECK_FALSE(Txid::from_display_hex("00"));
}
