#include "server/tower/session_rules.h"

#include "common/lnd_justice.h"

namespace argus::tower {

namespace code = wtwire::code;

CreateSessionDecision decide_create_session(const WtwirePolicy& policy, const store::UserId& account,
                                            const std::optional<store::SessionRecord>& existing,
                                            const wtwire::CreateSession& request, std::uint64_t session_count) {
    CreateSessionDecision d;
    if (existing && existing->last_applied > 0) {
        // lnd: "return the reward address to the client in case they were not
        // able to process our reply earlier".
        d.code = code::session_already_exists;
        d.last_applied = existing->last_applied;
        d.data = existing->reward_script;
        return d;
    }
    bool reward = (request.blob_type & lnd::blob_flag::reward) != 0;
    // lnd: blob.IsSupportedType, and DisableReward rejects reward sessions as a blob type.
    if (!lnd::is_supported_blob_type(request.blob_type) || (reward && policy.reward_script.empty())) {
        d.code = code::reject_blob_type;
        return d;
    }
    // lnd wtpolicy.Validate: max updates must be positive.
    if (request.max_updates == 0 || request.max_updates > policy.max_updates) {
        d.code = code::reject_max_updates;
        return d;
    }
    if (request.sweep_fee_rate < policy.min_sweep_fee_rate || request.sweep_fee_rate > policy.max_sweep_fee_rate) {
        d.code = code::reject_sweep_fee_rate;
        return d;
    }
    if (reward && (request.reward_base < policy.min_reward_base || request.reward_rate < policy.min_reward_rate)) {
        d.code = code::reject_reward_rate;
        return d;
    }
    if (!existing && session_count >= policy.max_sessions) {
        d.code = code::temporary_failure;
        return d;
    }
    store::SessionRecord s;
    s.account = account;
    s.blob_type = request.blob_type;
    s.max_updates = request.max_updates;
    if (reward) {
        s.reward_base = request.reward_base;
        s.reward_rate = request.reward_rate;
        s.reward_script = policy.reward_script;
    }
    s.sweep_fee_rate = request.sweep_fee_rate;
    d.data = s.reward_script;
    d.create = std::move(s);
    return d;
}

StateUpdateDecision decide_state_update(const std::optional<store::SessionRecord>& session,
                                        const wtwire::StateUpdate& update) {
    StateUpdateDecision d;
    if (!session) {
        d.code = code::permanent_failure;  // lnd: ErrSessionNotFound
        return d;
    }
    if (update.encrypted_blob.size() != lnd::blob_size(session->blob_type)) {
        d.code = code::temporary_failure;  // lnd: ErrInvalidBlobSize maps to the default code
        return d;
    }
    const store::SessionRecord& s = *session;
    if (update.seqnum <= update.last_applied) {
        d.code = code::permanent_failure;  // lnd: ErrSeqNumAlreadyApplied
    } else if (update.last_applied < s.client_last_applied) {
        d.code = code::client_behind;  // lnd: ErrLastAppliedReversion
    } else if (update.seqnum > s.max_updates) {
        d.code = code::max_updates_exceeded;  // lnd: ErrSessionConsumed
    } else if (update.seqnum != s.last_applied && update.seqnum != s.last_applied + 1) {
        d.code = code::seqnum_out_of_order;  // lnd: ErrUpdateOutOfOrder
    }
    if (d.code != code::ok) return d;
    store::SessionRecord next = s;
    next.last_applied = update.seqnum;
    next.client_last_applied = update.last_applied;
    d.last_applied = next.last_applied;
    d.session = std::move(next);
    return d;
}

std::uint32_t session_slots(const store::SessionRecord& session) {
    return session.max_updates > session.last_applied ? session.max_updates - session.last_applied : 0;
}

}  // namespace argus::tower
