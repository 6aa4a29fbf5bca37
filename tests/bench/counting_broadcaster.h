// A Broadcaster that only counts, for the block benchmarks (every penalty "accepted").
#pragma once

#include "server/chain/chain_source.h"

namespace argus::bench {

struct CountingBroadcaster final : chain::Broadcaster {
    std::size_t sent = 0;
    chain::BroadcastResult broadcast(const Transaction&) override {
        ++sent;
        return {chain::BroadcastResult::Kind::accepted, 0, ""};
    }
    Result<bool> in_mempool(const Txid&) override { return true; }
};

}  // namespace argus::bench
