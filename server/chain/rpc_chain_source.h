// ChainSource and Broadcaster over bitcoind's JSON-RPC. Needs no txindex:
// blocks are read by hash (getblock verbosity 0), never transactions by id.
#pragma once

#include "net/bitcoind_rpc.h"
#include "server/chain/chain_source.h"

namespace argus::chain {

class RpcChainSource final : public ChainSource, public Broadcaster {
public:
    explicit RpcChainSource(BitcoindRpc& rpc) : rpc_(rpc) {}
    Result<Hash256> best_block_hash() override;
    Result<std::optional<Hash256>> block_hash(std::uint32_t height) override;
    Result<HeaderInfo> header(const Hash256& block_hash) override;
    Result<Block> block(const Hash256& block_hash) override;
    // testmempoolaccept first (a dry run), then sendrawtransaction, whose
    // error code classifies a refusal: -27 already in chain; -26 with
    // "txn-already-in-mempool" or "txn-already-known" is success; other -26,
    // -25 and -22 are rejections.
    BroadcastResult broadcast(const Transaction& tx) override;
    Result<bool> in_mempool(const Txid& txid) override;
    // getmempoolinfo's mempoolminfee and estimatesmartfee (conservative) for
    // each of fee_targets; a target without an estimate is left out.
    Result<FeeSnapshot> fee_snapshot() override;

private:
    BitcoindRpc& rpc_;
};

}  // namespace argus::chain
