#include <doctest/doctest.h>

#include "common/block.h"
#include "common/hash.h"
#include "common/hex.h"
#include "tests/support/vectors.h"

using namespace argus;
using test::hex_bytes;

namespace {
// Bitcoin's genesis block: header (Bitcoin Core chainparams) + one coinbase.
const std::string genesis_header =
    "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac7"
    "2c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c";
const std::string genesis_coinbase =
    "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff001d"
    "0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66"
    "207365636f6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe55"
    "48271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba"
    "0b8d578a4c702b6bf11d5fac00000000";
}  // namespace

TEST_CASE("block: genesis block parses, hashes and its merkle root matches") {
    Bytes raw = hex_bytes(genesis_header + "01" + genesis_coinbase);
    auto block = parse_block(raw);
    REQUIRE(block);
    CHECK(block->transactions.size() == 1);
    CHECK(to_hex(reversed(block->header.hash())) ==
          "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f");
    CHECK(compute_merkle_root(*block) == block->header.merkle_root);
    CHECK(block->serialize() == raw);
    auto header = parse_block_header(hex_bytes(genesis_header));
    REQUIRE(header);
    CHECK(header->time == 1231006505);
    CHECK(header->bits == 0x1d00ffff);
    CHECK(header->nonce == 2083236893);
}

TEST_CASE("block: parse_block hashes each txid from the bytes received, legacy and segwit") {
    // Bitcoin's genesis coinbase (its txid is the genesis merkle root) and
    // BOLT 3 Appendix C's commitment with its first HTLC transaction, which
    // names the commitment's txid in its prevout.
    auto c = test::load_vectors("bolt3_commitments.json")["appendix_c"][1];
    Bytes commit_raw = hex_bytes(c["commit_tx"]), htlc_raw = hex_bytes(c["htlc_txs"][0]["tx"]);
    Bytes raw = hex_bytes(genesis_header + "03" + genesis_coinbase);
    raw.insert(raw.end(), commit_raw.begin(), commit_raw.end());
    raw.insert(raw.end(), htlc_raw.begin(), htlc_raw.end());
    auto block = parse_block(raw);
    REQUIRE(block);
    REQUIRE(block->txids.size() == 3);
    CHECK(block->txids[0].to_display_hex() == "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b");
    CHECK(block->transactions[1].has_witness());
    CHECK(block->txids[1] == block->transactions[2].inputs[0].prevout.txid);
    CHECK(block->txids[2] == parse_transaction(htlc_raw).value().txid());
    CHECK(txids_of(*block) == block->txids);
    // A block built in memory has none stored; txids_of hashes each.
    Block built;
    built.transactions = block->transactions;
    CHECK(built.txids.empty());
    CHECK(txids_of(built) == block->txids);
}

TEST_CASE("block: merkle tree duplicates the last node of odd levels") {
    Hash256 a{}, b{}, c{};
    a[0] = 1;
    b[0] = 2;
    c[0] = 3;
    auto pair = [](const Hash256& x, const Hash256& y) {
        Bytes d(x.begin(), x.end());
        d.insert(d.end(), y.begin(), y.end());
        return sha256d(d);
    };
    CHECK(compute_merkle_root({a}) == a);
    CHECK(compute_merkle_root({a, b}) == pair(a, b));
    CHECK(compute_merkle_root({a, b, c}) == pair(pair(a, b), pair(c, c)));
}

TEST_CASE("block: truncated, empty and trailing data are errors") {
    Bytes raw = hex_bytes(genesis_header + "01" + genesis_coinbase);
    for (std::size_t n = 0; n < raw.size(); ++n) CHECK_FALSE(parse_block(ByteSpan(raw.data(), n)));
    Bytes extra = raw;
    extra.push_back(0);
    CHECK(parse_block(extra).error().code == ErrorCode::trailing_data);
    CHECK(parse_block(hex_bytes(genesis_header + "00")).error().code == ErrorCode::malformed);
    CHECK_FALSE(parse_block(hex_bytes(genesis_header + "fe00000100")));  // count beyond data
    CHECK_FALSE(parse_block_header(hex_bytes(genesis_header + "00")));
}

// Bitcoin Core chainparams.cpp: CreateGenesisBlock(time, nonce, bits, 1, 50 BTC)
// per network, all with the mainnet genesis merkle root.
TEST_CASE("block: genesis_block_hash is the hash of each network's genesis header") {
    auto header = parse_block_header(hex_bytes(genesis_header)).value();
    CHECK(genesis_block_hash(Network::mainnet) == header.hash());
    struct Case {
        Network network;
        std::uint32_t time, nonce, bits;
    };
    for (const Case& c : {Case{Network::testnet, 1296688602, 414098458, 0x1d00ffff},
                          Case{Network::signet, 1598918400, 52613770, 0x1e0377ae},
                          Case{Network::regtest, 1296688602, 2, 0x207fffff}}) {
        BlockHeader h = header;
        h.time = c.time;
        h.nonce = c.nonce;
        h.bits = c.bits;
        CAPTURE(to_string(c.network));
        CHECK(genesis_block_hash(c.network) == h.hash());
    }
}
