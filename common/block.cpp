#include "common/block.h"

#include "common/byte_reader.h"
#include "common/hash.h"

namespace argus {

namespace {
constexpr std::size_t max_block_size = 4'000'000;
constexpr std::size_t min_transaction_size = 60;

void read_header(ByteReader& r, BlockHeader& h) {
    h.version = static_cast<std::int32_t>(r.read_u32_le());
    h.previous_block = r.read_array<32>();
    h.merkle_root = r.read_array<32>();
    h.time = r.read_u32_le();
    h.bits = r.read_u32_le();
    h.nonce = r.read_u32_le();
}
}  // namespace

Bytes BlockHeader::serialize() const {
    ByteWriter w;
    w.write_u32_le(static_cast<std::uint32_t>(version));
    w.write_bytes(previous_block);
    w.write_bytes(merkle_root);
    w.write_u32_le(time);
    w.write_u32_le(bits);
    w.write_u32_le(nonce);
    return std::move(w).take();
}

Hash256 BlockHeader::hash() const { return sha256d(serialize()); }

Bytes Block::serialize() const {
    ByteWriter w;
    w.write_bytes(header.serialize());
    w.write_compact_size(transactions.size());
    for (const auto& tx : transactions) write_transaction(w, tx, true);
    return std::move(w).take();
}

Result<BlockHeader> parse_block_header(ByteSpan data) {
    ByteReader r(data);
    BlockHeader h;
    read_header(r, h);
    r.expect_end("block header");
    if (!r.ok()) return r.error();
    return h;
}

Result<Block> parse_block(ByteSpan data) {
    if (data.size() > max_block_size) {
        return make_error(ErrorCode::oversized, "block larger than 4,000,000 bytes");
    }
    ByteReader r(data);
    Block block;
    read_header(r, block.header);
    std::uint64_t count = r.read_compact_size(max_block_size);
    if (r.ok() && count == 0) r.fail(ErrorCode::malformed, "block has no transactions");
    if (r.ok() && count > r.remaining() / min_transaction_size) {
        r.fail(ErrorCode::malformed, "transaction count exceeds remaining data");
    }
    if (!r.ok()) return r.error();
    block.transactions.resize(count);
    block.txids.resize(count);
    for (std::size_t i = 0; i < count; ++i) {
        read_transaction(r, block.transactions[i], &block.txids[i]);
        if (!r.ok()) return r.error();
    }
    r.expect_end("block");
    if (!r.ok()) return r.error();
    return block;
}

std::vector<Txid> txids_of(const Block& block) {
    if (block.txids.size() == block.transactions.size()) return block.txids;
    std::vector<Txid> out;
    out.reserve(block.transactions.size());
    for (const auto& tx : block.transactions) out.push_back(tx.txid());
    return out;
}

Hash256 compute_merkle_root(const std::vector<Hash256>& leaves) {
    if (leaves.empty()) return Hash256{};
    std::vector<Hash256> level = leaves;
    Bytes pair(64);
    while (level.size() > 1) {
        if (level.size() % 2 != 0) level.push_back(level.back());
        std::vector<Hash256> next(level.size() / 2);
        for (std::size_t i = 0; i < next.size(); ++i) {
            std::copy(level[2 * i].begin(), level[2 * i].end(), pair.begin());
            std::copy(level[2 * i + 1].begin(), level[2 * i + 1].end(), pair.begin() + 32);
            next[i] = sha256d(pair);
        }
        level = std::move(next);
    }
    return level[0];
}

Hash256 compute_merkle_root(const Block& block) {
    std::vector<Hash256> leaves;
    leaves.reserve(block.transactions.size());
    for (const auto& txid : txids_of(block)) leaves.push_back(txid.bytes);
    return compute_merkle_root(leaves);
}

Hash256 genesis_block_hash(Network network) {
    // Bitcoin Core chainparams.cpp: consensus.hashGenesisBlock (display order).
    const char* display = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
    switch (network) {
        case Network::mainnet: break;
        case Network::testnet: display = "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943"; break;
        case Network::signet: display = "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6"; break;
        case Network::regtest: display = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"; break;
    }
    return Txid::from_display_hex(display).value().bytes;
}

}  // namespace argus
