// The tower's answer to a breach whose appointment holds a penalty kit
// (common/penalty_kit.h): one independent penalty per output, each climbing
// its fee ladder (escalation.h) until it confirms, and per-output tracking.
// Pure: blocks, broadcast results and the fee market in; broadcasts to make
// and the new state out. The watch core keeps one per kit tracker, persisted
// with the tracker (encode/decode).
//
// Per part:
// - waiting: a second-stage sweep whose HTLC output the cheater has not spent
//   with the transaction it sweeps (yet).
// - live: its output is on chain and unspent; the decided rung is sent every
//   block (a higher one replaces the one in the mempool); a refusal for the
//   fee tries the next rung at once.
// - confirmed: one of its rungs was mined. lost: another transaction spent
//   its output (the cheater won that output). invalid: it does not match the
//   transaction it spends (wrong amount, script or signature): never sent.
//   moot: a second stage whose HTLC output we swept, or that the cheater
//   spent another way.
// A spend by the cheater's second-stage transaction (the txid the kit names)
// makes that part's second stage live, verified against the transaction seen.
// A disconnected block undoes what it settled or started. The response is
// resolved when every part is settled `resolve_depth` deep.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/block.h"
#include "common/penalty_kit.h"
#include "server/chain/chain_source.h"
#include "server/watch/escalation.h"

namespace argus::watch {

using chain::FeeSnapshot;

enum class PartStatus : std::uint8_t { waiting = 0, live = 1, confirmed = 2, lost = 3, invalid = 4, moot = 5 };
const char* to_string(PartStatus status);

struct PartState {
    PartStatus status = PartStatus::live;
    std::uint32_t start_height = 0;    // height of the transaction holding the spent output
    std::optional<std::uint8_t> rung;  // the highest rung the mempool accepted
    std::uint32_t settled_height = 0;  // confirmed or lost: height of the spend
    Txid spender;                      // lost: who spent it
    bool past_deadline = false;
    bool operator==(const PartState&) const = default;
};

struct RungBroadcast {
    std::size_t part = 0;
    std::size_t rung = 0;
    Transaction transaction;
};

// What one step did, for the core's counters and the log.
struct KitStep {
    std::vector<RungBroadcast> broadcasts;
    bool changed = false;  // the state to persist changed
    std::uint32_t replacements = 0;     // a higher rung accepted over one in the mempool
    std::uint32_t parts_confirmed = 0;
    std::uint32_t parts_lost = 0;
    std::uint32_t parts_past_deadline = 0;  // newly past their deadline, unconfirmed
    std::uint32_t second_stages_started = 0;
    // Of the parts confirmed: the sum of the rungs mined and of the blocks
    // that were left before their deadlines (how close it came).
    std::uint64_t confirmed_rung_sum = 0;
    std::uint64_t confirmed_margin_sum = 0;
};

class KitResponse {
public:
    // A breach: the dispute (the revoked commitment) mined at `height`. Parts
    // that do not match it are invalid; second stages wait.
    static KitResponse start(kit::PenaltyKit kit, const Transaction& dispute, std::uint32_t height);
    static Result<KitResponse> decode(ByteSpan state);
    Bytes encode() const;

    // A block connected at `height`: the parts' outputs it spends, then each
    // live part re-decided against `fees` (its broadcasts returned).
    KitStep on_block(const Block& block, std::uint32_t height, const FeeSnapshot& fees);
    // Broadcasts for the live parts without a new block (the breach's own round).
    KitStep decide(std::uint32_t tip, const FeeSnapshot& fees);
    // The block at `height` left the chain.
    bool on_disconnected(std::uint32_t height);
    // The result of broadcasting `rung` of `part`.
    KitStep on_report(std::size_t part, std::size_t rung, const chain::BroadcastResult& result, std::uint32_t tip);

    bool resolved(std::uint32_t tip, std::uint32_t resolve_depth) const;
    // The penalty shown to a teos client (get_appointment): to_local's highest
    // accepted rung, else any part's, else to_local's first rung.
    Transaction main_penalty() const;
    std::uint32_t deadline(std::size_t part) const;

    const kit::PenaltyKit& kit() const { return kit_; }
    const Txid& commitment_txid() const { return commitment_txid_; }
    const std::vector<PartState>& parts() const { return parts_; }
    bool operator==(const KitResponse&) const = default;

private:
    PartSchedule schedule(std::size_t part) const;
    void decide_part(std::size_t part, std::uint32_t tip, const FeeSnapshot& fees, KitStep& step);
    // Which of `part`'s rungs `txid` is, if any.
    std::optional<std::size_t> rung_of(std::size_t part, const Txid& txid) const;

    kit::PenaltyKit kit_;
    Txid commitment_txid_;
    std::vector<PartState> parts_;  // parallel to kit_.parts
};

}  // namespace argus::watch
