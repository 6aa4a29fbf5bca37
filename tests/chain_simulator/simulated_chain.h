// The chain simulator's state: a block tree with real headers, merkle roots
// and coinbases, and a mempool that checks that inputs exist and are unspent.
// It does NOT verify scripts or signatures (say so wherever it is used).
//
// A fee market, modelled on bitcoind 0.21: a mempool minimum fee rate (below
// it: -26 "mempool min fee not met"), a block minimum fee rate (miners leave
// cheaper transactions in the mempool, as -blockmintxfee does; no package
// or CPFP selection), BIP125 replacement of conflicting mempool transactions
// (every conflict must signal; the replacement pays a higher fee rate than
// each, at least their fees plus its own size at the incremental relay fee;
// descendants of the replaced ones leave with them) and a settable fee
// estimate for estimatesmartfee.
// Pure: no I/O; the RPC adapter and the ZMQ publisher sit around it.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <vector>

#include "common/block.h"
#include "common/result.h"

namespace argus::sim {

struct RejectReason {
    int code;  // bitcoind RPC codes: -25 missing inputs, -26 policy, -22 decode, -27 already in chain
    std::string message;
};

class SimulatedChain {
public:
    SimulatedChain();
    // Rebuilds the active chain from saved blocks (genesis first); the mempool
    // starts empty, as bitcoind's does after a crash.
    static Result<SimulatedChain> from_blocks(const std::vector<Block>& blocks);
    std::vector<Block> active_blocks() const;

    std::uint32_t height() const { return static_cast<std::uint32_t>(active_.size() - 1); }
    const Block& tip() const { return block_at(height()); }
    const Block& block_at(std::uint32_t height) const;
    std::optional<std::uint32_t> height_of(const Hash256& block_hash) const;  // active chain only
    const Block* find_block(const Hash256& block_hash) const;                 // any branch

    // Mines `count` blocks on the tip, each taking every mempool transaction
    // (the first one) and paying the coinbase to `payout_script`.
    std::vector<Hash256> mine(std::uint32_t count, const Bytes& payout_script);
    // Replaces the last `depth` blocks with `new_blocks` empty-ish blocks
    // (plus `include` transactions in the first new block). The disconnected
    // blocks' transactions return to the mempool when still valid.
    std::vector<Hash256> reorg(std::uint32_t depth, std::uint32_t new_blocks,
                               const std::vector<Transaction>& include = {});

    Result<Txid, RejectReason> accept(const Transaction& tx, bool dry_run = false);
    // A fee market: transactions paying less than this many sat per 1000
    // vbytes are refused as bitcoind's mempool does (-26 "mempool min fee not met").
    void set_min_fee_rate(std::int64_t sat_per_kvb) { min_fee_rate_ = sat_per_kvb; }
    std::int64_t min_fee_rate() const { return min_fee_rate_; }
    // Miners take only transactions paying at least this (sat per 1000 vbytes).
    void set_block_min_fee_rate(std::int64_t sat_per_kvb) { block_min_fee_rate_ = sat_per_kvb; }
    // What estimatesmartfee answers (for every target); none: "Insufficient data".
    void set_fee_estimate(std::optional<std::int64_t> sat_per_kvb) { fee_estimate_ = sat_per_kvb; }
    std::optional<std::int64_t> fee_estimate() const { return fee_estimate_; }
    static constexpr std::int64_t incremental_relay_fee_rate = 1000;  // bitcoind's default, sat per 1000 vbytes
    // Fee and fee rate of a mempool transaction.
    std::optional<std::int64_t> mempool_fee(const Txid& txid) const;
    const std::vector<Transaction>& mempool() const { return mempool_; }
    bool in_mempool(const Txid& txid) const;
    // Height of the block holding the transaction in the active chain.
    std::optional<std::uint32_t> confirmation_height(const Txid& txid) const;
    std::optional<TxOut> utxo(const OutPoint& outpoint) const;

private:
    Block make_block(const Hash256& previous, std::uint32_t height, std::vector<Transaction> txs,
                     const Bytes& payout_script);
    void connect(const Block& block);
    void disconnect_tip();
    void rebuild_mempool(std::vector<Transaction> candidates);

    std::map<Hash256, Block> blocks_;  // every block ever built, by hash
    std::vector<Hash256> active_;      // active chain by height
    std::map<std::pair<Hash256, std::uint32_t>, TxOut> utxos_;
    std::map<Hash256, std::uint32_t> confirmed_;  // txid -> height, active chain
    std::vector<Transaction> mempool_;
    std::map<Hash256, std::int64_t> mempool_fees_;  // txid -> fee, for every mempool transaction
    std::uint32_t time_ = 1'700'000'000;
    std::int64_t min_fee_rate_ = 0;
    std::int64_t block_min_fee_rate_ = 0;
    std::optional<std::int64_t> fee_estimate_;
    void remove_from_mempool(const std::set<Hash256>& txids);
};

}  // namespace argus::sim
