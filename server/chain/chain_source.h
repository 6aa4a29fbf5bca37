// What the chain follower and responder need from bitcoind, as interfaces:
// the RPC adapters implement them, tests can implement them in memory.
#pragma once

#include <array>
#include <optional>
#include <utility>
#include <vector>

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

// The fee market at a moment: bitcoind's mempool minimum and estimatesmartfee
// for a few confirmation targets.
struct FeeSnapshot {
    std::int64_t mempool_min_feerate = 0;                             // sat per 1000 vbytes
    std::vector<std::pair<std::uint32_t, std::int64_t>> estimates;  // (target, sat per 1000 vbytes), targets increasing
    // The estimate for confirming within `blocks`: the largest target not above
    // it (the smallest target when `blocks` is below every target).
    std::optional<std::int64_t> estimate_for(std::uint32_t blocks) const {
        if (estimates.empty()) return std::nullopt;
        std::optional<std::int64_t> best = estimates.front().second;
        for (const auto& [target, feerate] : estimates) {
            if (target <= blocks) best = feerate;
        }
        return best;
    }
    bool operator==(const FeeSnapshot&) const = default;
};
// The targets the tower asks estimatesmartfee for.
inline constexpr std::array<std::uint32_t, 8> fee_targets = {1, 2, 3, 6, 12, 24, 144, 1008};

class Broadcaster {
public:
    virtual ~Broadcaster() = default;
    virtual BroadcastResult broadcast(const Transaction& tx) = 0;
    virtual Result<bool> in_mempool(const Txid& txid) = 0;
    // The fee market now. A broadcaster that cannot tell answers an empty
    // snapshot (no estimate, no minimum): penalties then follow the deadline
    // schedule alone.
    virtual Result<FeeSnapshot> fee_snapshot() { return FeeSnapshot{}; }
};

}  // namespace argus::chain
