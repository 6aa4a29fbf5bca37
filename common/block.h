// Bitcoin blocks: 80-byte header, transactions, merkle root.
#pragma once

#include <vector>

#include "common/bech32.h"
#include "common/transaction.h"

namespace argus {

struct BlockHeader {
    std::int32_t version = 0;
    Hash256 previous_block{};  // internal order
    Hash256 merkle_root{};
    std::uint32_t time = 0;
    std::uint32_t bits = 0;
    std::uint32_t nonce = 0;

    Bytes serialize() const;
    Hash256 hash() const;  // internal order; bitcoind displays it reversed
};

struct Block {
    BlockHeader header;
    std::vector<Transaction> transactions;
    // The transactions' txids, in order, as parse_block hashed them from the
    // bytes received (a full block's 20,000 re-serializations saved); empty in
    // a block built in memory. Whoever changes a parsed block's transactions
    // clears it. Use txids_of(), which falls back to hashing.
    std::vector<Txid> txids;

    Bytes serialize() const;
};

Result<BlockHeader> parse_block_header(ByteSpan data);
// Parses a full block; does not check proof of work or the merkle root
// (compare compute_merkle_root() yourself when it matters).
Result<Block> parse_block(ByteSpan data);
// block.txids when parse_block filled it, else each transaction's txid().
std::vector<Txid> txids_of(const Block& block);
// Bitcoin's merkle tree: SHA256d pairs, duplicating the last node of odd levels.
Hash256 compute_merkle_root(const std::vector<Hash256>& leaves);
Hash256 compute_merkle_root(const Block& block);

// The genesis block hash of a network, internal order (the chain_hash of
// BOLT #7 / lnd's wtwire Init).
Hash256 genesis_block_hash(Network network);

}  // namespace argus
