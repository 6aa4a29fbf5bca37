// What the chain follower and responder need from bitcoind, as interfaces:
// the RPC adapters implement them, tests can implement them in memory.
#pragma once

#include <optional>

#include "common/block.h"
#include "common/result.h"

namespace argus::chain {

struct HeaderInfo {
    std::uint32_t height = 0;
    Hash256 previous{};
};

class ChainSource {
public:
    virtual ~ChainSource() = default;
    // Errors: ErrorCode::unavailable when bitcoind cannot be reached.
    virtual Result<Hash256> best_block_hash() = 0;
    virtual Result<std::optional<Hash256>> block_hash(std::uint32_t height) = 0;  // nullopt above the tip
    virtual Result<HeaderInfo> header(const Hash256& block_hash) = 0;
    virtual Result<Block> block(const Hash256& block_hash) = 0;
};

struct BroadcastResult {
    // fee_too_low: a valid transaction bitcoind's mempool will not take at its
    // fee now (min relay fee, mempool minimum, replacement fee); rejected:
    // anything else (invalid, inputs missing or spent, not decodable).
    enum class Kind { accepted, already_in_mempool, already_in_chain, fee_too_low, rejected, unavailable } kind =
        Kind::unavailable;
    int code = 0;  // bitcoind's RPC code when refused (-25, -26, -22)
    std::string message;
    bool ok() const { return kind == Kind::accepted || kind == Kind::already_in_mempool || kind == Kind::already_in_chain; }
};

class Broadcaster {
public:
    virtual ~Broadcaster() = default;
    virtual BroadcastResult broadcast(const Transaction& tx) = 0;
    virtual Result<bool> in_mempool(const Txid& txid) = 0;
};

}  // namespace argus::chain
