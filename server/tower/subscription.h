// teos subscription rules (rust-teos gatekeeper.rs), as pure functions of a
// user's record, the policy and the chain height.
#pragma once

#include <optional>
#include <vector>

#include "common/result.h"
#include "common/teos_protocol.h"
#include "server/store/store.h"

namespace argus::tower {

struct SubscriptionPolicy {
    std::uint32_t slots = teos::default_subscription_slots;
    std::uint32_t duration = teos::default_subscription_duration;
    std::uint32_t expiry_delta = teos::default_expiry_delta;
    // Appointments of outdated users removed at most at one block (a user
    // always whole, and at least one user a block): removal runs in the
    // write path and the block pass, so a day's expiry must not stall them.
    // At 1.4 s per 100,000 rows on PostgreSQL (argus-bench-scale, 10^7),
    // 20,000 keep it to ~0.3 s; the rest goes at the next blocks.
    std::uint64_t removals_per_block = 20'000;
};

// teos: a new user gets `slots` and expiry height + duration; registering again
// adds `slots` (failing on u32 overflow) and extends expiry from the old expiry.
Result<store::UserRecord> register_user(const SubscriptionPolicy& policy,
                                        const std::optional<store::UserRecord>& existing,
                                        const store::UserId& user, std::uint32_t height);

// teos: expired when height >= expiry; outdated (data removed) at expiry + delta.
bool is_expired(const store::UserRecord& user, std::uint32_t height);
bool is_outdated(const SubscriptionPolicy& policy, const store::UserRecord& user, std::uint32_t height);

// How many of the outdated users, in order (their appointment counts given),
// are removed at this block: as many as fit in `budget` appointments, and
// always the first.
std::size_t outdated_users_to_remove(const std::vector<std::uint64_t>& appointments, std::uint64_t budget);

// teos: an update charges only the difference in slots between the new blob and
// the one it replaces (possibly refunding). nullopt when the user cannot pay.
std::optional<std::uint32_t> slots_after_charge(const store::UserRecord& user, std::size_t old_blob_size,
                                                std::size_t new_blob_size);

}  // namespace argus::tower
