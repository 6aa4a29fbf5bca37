// The watch/respond decision core: a pure state machine, events in, actions
// out. It never touches the store, bitcoind, a clock or a log; the chain
// follower (chain_follower.h) is its adapter: it feeds events, executes the
// actions, and makes one round's durable actions one transaction before it
// keeps the core's new state (a draft copy is discarded on any failure).
//
// Events: a block connected (with the stored appointments the locator index
// could not rule out), a block disconnected, an appointment stored, the result
// of a broadcast, a mempool report. Actions: broadcast, query the mempool,
// persist a tracker, drop an appointment, resolve a tracker (with its slot
// refund), undo a tracker (its dispute left the chain), set the tip, abort the
// round (bitcoind unavailable: retry the whole round later).
//
// Responder rules (rust-teos): a penalty accepted or already in the mempool is
// tracked from the breach height; -27 (already in chain) counts as confirmed at
// the breach height; -25/-26/-22 rejections drop the appointment without
// refund, except a refusal for the fee alone (fee_too_low), where Argus keeps
// the tracker and sends the penalty again every block (fees fall) until it is
// accepted, becomes invalid (its inputs spent: abandoned) or the dispute's
// CSV window closes (abandoned); an unconfirmed penalty not in the mempool `rebroadcast_after` blocks
// after its broadcast is sent again with its dispute; a penalty
// `resolve_depth` deep is resolved, its appointment deleted and the user's
// slots refunded. A tracker lives beside its appointment, so a reorg that
// removes the dispute undoes the tracker and the appointment is watched again.
//
// Completeness: the core keeps the blocks up to `recent_blocks` deep; an
// appointment stored after a block's candidates were read is checked against
// them when its AppointmentStored event arrives, so no breach in a recent
// block is missed whatever the interleaving.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "common/block.h"
#include "common/watchtower_crypto.h"
#include "server/chain/chain_source.h"
#include "server/store/store.h"
#include "server/watch/kit_response.h"

namespace argus::watch {

struct CoreOptions {
    std::uint32_t resolve_depth = 100;  // rust-teos IRREVOCABLY_RESOLVED
    std::uint32_t rebroadcast_after = 6;
    std::uint32_t recent_blocks = 6;  // late appointments are checked against blocks this deep
    // A penalty refused for its fee is retried every block for the dispute's
    // to_self_delay (when the appointment carries one), at most this many blocks.
    std::uint32_t max_fee_wait = 2016;
};

// A block with what every trigger kind needs computed once.
struct BlockView {
    std::uint32_t height = 0;
    Hash256 hash{};
    std::shared_ptr<const Block> block;
    std::vector<Txid> txids;
    std::vector<Locator> locators;  // teos locator of each transaction
    std::vector<Locator> hints;     // lnd breach hint of each transaction (empty while no session exists)
};
// `with_hints`: also compute lnd breach hints (one SHA256 per transaction),
// needed while the tower holds wtwire sessions.
std::shared_ptr<const BlockView> make_block_view(std::shared_ptr<const Block> block, const Hash256& hash,
                                                 std::uint32_t height, bool with_hints = true);
// The trigger of `appointment` as computed for transaction `i` of the block.
const Locator* trigger_of(const BlockView& view, store::TriggerKind kind, std::size_t i);

using Key = std::pair<Locator, store::UserId>;
inline Key key_of(const store::AppointmentKey& k) { return {k.locator, k.user_id}; }
inline store::AppointmentKey appointment_key(const Key& k) { return {k.first, k.second}; }

// ---- events ----
struct Candidate {
    std::size_t transaction_index = 0;  // into the block's transactions
    store::AppointmentRecord appointment;
    std::optional<store::SessionRecord> session;  // a wtwire appointment's session (its policy)
};
// A watched funding outpoint spent by transaction `transaction_index` (the
// adapter checks every input of the block against the outpoint index).
struct FundingSpend {
    std::size_t transaction_index = 0;
    OutPoint funding;
};
struct BlockConnected {
    std::shared_ptr<const BlockView> block;
    std::vector<Candidate> candidates;  // every stored appointment whose trigger may be in the block
    std::vector<FundingSpend> funding_spends;
    // The fee market (read while the core answers penalty kits, or the block
    // has candidates); empty: penalty kits follow their deadline schedule.
    chain::FeeSnapshot fees;
};
struct BlockDisconnected {
    std::shared_ptr<const BlockView> block;  // the tip being removed
    store::ChainPosition new_tip;            // its parent
    std::vector<FundingSpend> funding_spends;  // watched funding outpoints its transactions spent
};
struct AppointmentStored {
    store::AppointmentRecord appointment;
    std::optional<store::SessionRecord> session;  // as in Candidate
};
enum class BroadcastPurpose { penalty, rebroadcast_dispute, rebroadcast_penalty, fee_retry, kit_rung };
struct BroadcastReport {
    store::AppointmentKey key;
    BroadcastPurpose purpose = BroadcastPurpose::penalty;
    chain::BroadcastResult result;
    std::size_t kit_part = 0;  // kit_rung: which part and rung was sent
    std::size_t kit_rung = 0;
};
struct MempoolReport {
    store::AppointmentKey key;
    bool in_mempool = false;
};
using Event = std::variant<BlockConnected, BlockDisconnected, AppointmentStored, BroadcastReport, MempoolReport>;

// ---- actions ----
struct Broadcast {
    store::AppointmentKey key;
    BroadcastPurpose purpose = BroadcastPurpose::penalty;
    Transaction transaction;
    std::size_t kit_part = 0;  // kit_rung: echoed in the report
    std::size_t kit_rung = 0;
};
struct QueryMempool {
    store::AppointmentKey key;
    Txid txid;
};
struct PersistTracker {
    store::TrackerRecord tracker;
    bool is_new = false;  // a breach just responded to
};
enum class DropReason { invalid_payload, penalty_rejected };
struct DropAppointment {
    store::AppointmentKey key;
    DropReason reason = DropReason::invalid_payload;
    std::string detail;
};
struct ResolveTracker {  // delete tracker and appointment; refund the slots
    store::TrackerRecord tracker;
    std::uint32_t refund_slots = 0;
};
struct UndoTracker {  // its dispute left the chain: delete the tracker, watch again
    store::TrackerRecord tracker;
};
struct AbandonTracker {  // a penalty waiting for fee that can no longer help: delete tracker and appointment
    store::TrackerRecord tracker;
    std::string reason;
};
struct RecordChannelClose {  // a watched channel closed: keep the record for its client
    store::ChannelCloseRecord close;
};
struct UndoChannelClose {  // the closing transaction left the chain
    Txid funding_txid;
    std::uint32_t funding_vout = 0;
};
struct SetTip {
    store::ChainPosition position;
};
struct Abort {  // a dependency is unavailable: discard the round, retry later
    std::string reason;
};
using Action =
    std::variant<Broadcast, QueryMempool, PersistTracker, DropAppointment, ResolveTracker, UndoTracker, AbandonTracker,
                 RecordChannelClose, UndoChannelClose, SetTip, Abort>;

struct CoreCounters {
    std::uint64_t blocks_connected = 0;
    std::uint64_t blocks_disconnected = 0;
    std::uint64_t breaches = 0;  // triggered appointments whose payload opened
    std::uint64_t late_breaches = 0;  // of which found by an AppointmentStored event
    std::uint64_t penalties_broadcast = 0;  // accepted (or already known) first broadcasts
    std::uint64_t penalties_rejected = 0;
    std::uint64_t penalties_rebroadcast = 0;
    std::uint64_t penalties_confirmed = 0;
    std::uint64_t penalties_resolved = 0;
    std::uint64_t breaches_reorged_out = 0;
    std::uint64_t invalid_appointments = 0;
    std::uint64_t penalties_refused_for_fee = 0;  // first broadcasts the mempool refused for their fee
    std::uint64_t penalties_abandoned = 0;        // waiting for fee until the window closed or they became invalid
    std::uint64_t channels_closed_cooperative = 0;  // watched funding outpoints spent, by how
    std::uint64_t channels_closed_unilateral = 0;
    std::uint64_t channels_closed_breach = 0;
    // Penalty kits: breaches answered with one, rungs the mempool took,
    // replacements by a higher rung, outputs swept, outputs the cheater took,
    // outputs past their deadline unswept, second-stage sweeps started.
    std::uint64_t kit_breaches = 0;
    std::uint64_t kit_rungs_accepted = 0;
    std::uint64_t kit_replacements = 0;
    std::uint64_t kit_outputs_swept = 0;
    std::uint64_t kit_outputs_lost = 0;
    std::uint64_t kit_outputs_past_deadline = 0;
    std::uint64_t kit_second_stages = 0;
    std::uint64_t kit_confirmed_rung_sum = 0;    // over kit_outputs_swept: the rung mined
    std::uint64_t kit_confirmed_margin_sum = 0;  // and the blocks left before its deadline
};

// How a channel closed, from the transaction that spent its funding output:
// a breach when the tower holds sweeps of that very transaction (a revoked
// commitment); else unilateral when it carries BOLT 3's commitment marks
// (locktime upper byte 0x20, input sequence upper byte 0x80: the obscured
// commitment number); else cooperative.
store::CloseType classify_close(const Transaction& closing, bool tower_holds_sweeps_of_it);

// Opens a triggered appointment's payload with the dispute: the penalty to
// broadcast, or why not. Dispatches on the appointment's trigger and payload
// kinds: teos blobs decrypt to the penalty; lnd justice kits decrypt and the
// tower builds the justice transaction from the kit and the session's policy,
// every signature verified. A kind with no opener yet is `unsupported`.
struct OpenedPayload {
    enum class Kind { penalty, kit, invalid, unsupported } kind = Kind::invalid;
    std::optional<Transaction> penalty;
    std::optional<kit::PenaltyKit> kit;  // a teos blob holding an Argus penalty kit
    std::string reason;  // why it is invalid
};
OpenedPayload open_payload(const store::AppointmentRecord& appointment, const Transaction& dispute,
                           const std::optional<store::SessionRecord>& session = std::nullopt);

class WatchCore {
public:
    explicit WatchCore(CoreOptions options = {}, store::ChainPosition tip = {},
                       const std::vector<store::TrackerRecord>& trackers = {});

    // A block of the active chain at or below the tip, already processed (by
    // this process before a restart, or by the group's previous watcher):
    // kept in the window only, oldest first, so appointments stored late are
    // checked against it too. Nothing else changes.
    void remember(std::shared_ptr<const BlockView> block);

    // The pure transition: applies `event` to this state and returns what to do.
    [[nodiscard]] std::vector<Action> handle(const Event& event);

    // Whether an AppointmentStored event for `locator` could do anything: its
    // txid is in a block of the window. (Lets the adapter skip the round for
    // the vast majority of appointments, which trigger nothing.)
    bool in_window(const store::AppointmentRecord& appointment) const;

    const std::map<Key, store::TrackerRecord>& trackers() const { return trackers_; }
    // The per-output responses of breaches answered with a penalty kit.
    const std::map<Key, KitResponse>& kit_responses() const { return kits_; }
    bool answers_kits() const { return !kits_.empty(); }
    const store::ChainPosition& tip() const { return tip_; }
    const CoreCounters& counters() const { return counters_; }
    // Penalties broadcast whose result has not been reported yet.
    std::size_t awaiting_reports() const { return pending_.size(); }
    // Trackers whose penalty the mempool refuses for its fee, retried every block.
    std::size_t waiting_for_fee() const;

private:
    struct RecentBlock {
        using Table = std::unordered_map<Locator, std::size_t, LocatorHash>;  // trigger -> transaction index
        std::shared_ptr<const BlockView> view;
        // Built on the first late lookup, off the block's critical path (the
        // core and its draft copies live on the follower thread only).
        mutable std::optional<Table> by_locator;
        mutable std::optional<Table> by_hint;  // lnd hints, when the view has them
        const Table& table(store::TriggerKind kind) const;
    };
    struct PendingBreach {  // broadcast sent, result not yet reported
        store::TrackerRecord tracker;
        bool late = false;
        std::uint32_t to_self_delay = 0;  // the appointment's (0: unknown)
        Hash256 blob_digest{};
    };
    struct Dropped {  // an appointment dropped at this height, with this blob
        Hash256 blob_digest{};
        std::uint32_t height = 0;
    };

    std::vector<Action> on_connected(const BlockConnected& e);
    std::vector<Action> on_disconnected(const BlockDisconnected& e);
    std::vector<Action> on_stored(const AppointmentStored& e);
    std::vector<Action> on_broadcast(const BroadcastReport& e);
    std::vector<Action> on_mempool(const MempoolReport& e);
    std::vector<Action> on_fee_retry(const BroadcastReport& e);
    // A triggered appointment: broadcast its penalty, or drop it.
    // `blocks`: the dispute's block and those after it, oldest first.
    void respond(const store::AppointmentRecord& appointment, const std::optional<store::SessionRecord>& session,
                 const Transaction& dispute, bool late, const std::vector<const BlockView*>& blocks,
                 const chain::FeeSnapshot& fees, std::vector<Action>& out);
    void answer_with_kit(const Key& key, const store::AppointmentRecord& appointment, kit::PenaltyKit kit,
                         const Transaction& dispute, bool late, const std::vector<const BlockView*>& blocks,
                         const chain::FeeSnapshot& fees, std::vector<Action>& out);
    // Applies a kit step: counters, the tracker persisted if it changed, broadcasts.
    void apply_kit_step(const Key& key, const KitStep& step, std::vector<Action>& out);
    std::vector<Action> on_kit_report(const BroadcastReport& e);
    static std::vector<Action> rebroadcast(const store::TrackerRecord& tracker);
    std::optional<std::pair<const BlockView*, std::size_t>> find_in_window(store::TriggerKind kind,
                                                                           const Locator& trigger) const;

    CoreOptions options_;
    store::ChainPosition tip_;
    std::map<Key, store::TrackerRecord> trackers_;
    std::map<Key, KitResponse> kits_;  // kit trackers' responses (decoded kit_state)
    std::map<Key, PendingBreach> pending_;
    // Appointments dropped in the window: a late event for the same appointment
    // (queued before the drop committed) must not respond to it again; an
    // updated appointment (another blob) is a new one.
    std::map<Key, Dropped> dropped_;
    std::deque<std::shared_ptr<const RecentBlock>> recent_;  // active chain, oldest first; shared between copies
    CoreCounters counters_;
};

}  // namespace argus::watch
