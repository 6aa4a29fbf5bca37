// Fee escalation of one penalty-kit part: which rung of its ladder to have in
// the mempool now. Pure: the market (tip height, bitcoind's estimatesmartfee
// for the blocks left, the mempool minimum) and the part's state in, one
// decision out. The watch core calls it for every live part on every block and
// after every refusal; the adapter asks bitcoind for the market.
//
// Rules, in order:
// - Blocks left: a penalty must be mined below `deadline_height` (the height
//   at which the cheater can take the output), so with the tip at h it has
//   deadline - 1 - h blocks. None left: the top rung (it may still win the
//   race), flagged past_deadline for the operator.
// - The floor: the lowest rung whose fee rate meets the mempool minimum.
// - The estimate: the lowest rung whose fee rate meets estimatesmartfee for
//   the blocks left (the adapter asks for that target); when bitcoind has no
//   estimate (regtest, a fresh node) there is no such term.
// - The schedule, always: the rung index grows linearly with the part of the
//   window used up, so that a penalty left unconfirmed climbs even when the
//   estimate is wrong; within the last `urgent` blocks of the window (an eighth
//   of it, at least one) it is the top rung.
// - Never below the rung already in the mempool (a replacement must pay more,
//   BIP125) and never above the top rung (the kit's budget).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace argus::watch {

struct RungFee {
    std::int64_t fee = 0;    // satoshis
    std::int64_t vsize = 0;  // of the signed penalty
    std::int64_t feerate_per_kvb() const { return vsize > 0 ? fee * 1000 / vsize : 0; }
};

struct PartSchedule {
    std::vector<RungFee> rungs;       // the ladder, fees increasing
    std::uint32_t start_height = 0;   // the spent output's confirmation height
    std::uint32_t deadline_height = 0;
    std::optional<std::size_t> current;  // the rung last accepted by the mempool
};

struct FeeMarket {
    std::uint32_t tip_height = 0;
    std::optional<std::int64_t> estimate_feerate;  // sat per 1000 vbytes, for blocks_left(...) blocks
    std::int64_t mempool_min_feerate = 0;          // sat per 1000 vbytes
};

struct EscalationDecision {
    // The rung that should be in the mempool; equal to `current` means keep it.
    std::size_t rung = 0;
    bool replace = false;        // a broadcast is needed (nothing in the mempool yet, or a higher rung)
    bool past_deadline = false;  // no block is left before the cheater can take the output
    bool at_top = false;
    enum class Why { floor, estimate, schedule, urgent, current, past_deadline } why = Why::floor;
};
const char* to_string(EscalationDecision::Why why);

// Blocks that can still mine a penalty before the deadline, with the tip at `tip` (0: none).
std::uint32_t blocks_left(std::uint32_t deadline_height, std::uint32_t tip);
// The last blocks of a window in which only the top rung will do.
std::uint32_t urgent_blocks(std::uint32_t window);

EscalationDecision decide_rung(const PartSchedule& part, const FeeMarket& market);

// After the mempool refused `refused` for its fee: the next rung to try, or
// none when it was the top one.
std::optional<std::size_t> next_rung_after_refusal(const PartSchedule& part, std::size_t refused);

}  // namespace argus::watch
