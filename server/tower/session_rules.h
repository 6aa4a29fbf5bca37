// LND watchtower (wtwire) session rules (lnd watchtower/wtserver and
// wtdb.SessionInfo), as pure functions of the operator's policy, the session
// record and the request. The reply codes are lnd's (common/wtwire.h).
#pragma once

#include <cstdint>
#include <optional>

#include "common/bytes.h"
#include "common/wtwire.h"
#include "server/store/store.h"

namespace argus::tower {

// What the operator accepts. lnd's tower accepts every supported blob type and
// any parameters; Argus adds the bounds an operator of a public tower needs.
struct WtwirePolicy {
    std::uint16_t max_updates = 0xffff;         // per session (lnd's client asks 1024)
    std::uint64_t max_sessions = 1'000'000;     // per tower; at the cap CreateSession gets temporary failure
    std::uint64_t min_sweep_fee_rate = 1000;    // sat/kw, lnd wtpolicy.MinSweepFeeRate
    std::uint64_t max_sweep_fee_rate = 1'000'000;
    std::uint32_t min_reward_base = 0;          // reward sessions only
    std::uint32_t min_reward_rate = 0;          // parts per million (wtpolicy.RewardScale)
    Bytes reward_script;                        // empty: reward sessions are refused (lnd DisableReward)
};

struct CreateSessionDecision {
    std::uint16_t code = wtwire::code::ok;
    std::uint16_t last_applied = 0;
    Bytes data;                                 // the reply's reward script
    std::optional<store::SessionRecord> create; // the session to store (code ok)
};

// lnd wtserver handleCreateSession: an existing session with updates answers
// "already exists" with its last_applied and reward script (the client may
// have lost the first reply); an unused one may be re-created with a new
// policy; then blob type, reward availability, and Argus's bounds.
CreateSessionDecision decide_create_session(const WtwirePolicy& policy, const store::UserId& account,
                                            const std::optional<store::SessionRecord>& existing,
                                            const wtwire::CreateSession& request, std::uint64_t session_count);

struct StateUpdateDecision {
    std::uint16_t code = wtwire::code::ok;
    std::uint16_t last_applied = 0;             // lnd answers 0 on every failure
    std::optional<store::SessionRecord> session;  // the session after the update (code ok)
};

// lnd wtdb InsertStateUpdate + SessionInfo.AcceptUpdateSequence: no session ->
// permanent failure; a blob of the wrong size for the blob type -> temporary
// failure; seqnum <= the client's last_applied -> permanent failure (already
// applied); the client's last_applied going backwards -> client behind; seqnum
// beyond max_updates -> max updates exceeded; seqnum neither the last applied
// (a resend) nor the next -> out of order.
StateUpdateDecision decide_state_update(const std::optional<store::SessionRecord>& session,
                                        const wtwire::StateUpdate& update);

// Slots left in a session's account: one per remaining update.
std::uint32_t session_slots(const store::SessionRecord& session);

}  // namespace argus::tower
