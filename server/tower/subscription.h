// teos subscription rules (rust-teos gatekeeper.rs), as pure functions of a
// user's record, the policy and the chain height.
#pragma once

#include <optional>

#include "common/result.h"
#include "common/teos_protocol.h"
#include "server/store/store.h"

namespace argus::tower {

struct SubscriptionPolicy {
    std::uint32_t slots = teos::default_subscription_slots;
    std::uint32_t duration = teos::default_subscription_duration;
    std::uint32_t expiry_delta = teos::default_expiry_delta;
};

// teos: a new user gets `slots` and expiry height + duration; registering again
// adds `slots` (failing on u32 overflow) and extends expiry from the old expiry.
Result<store::UserRecord> register_user(const SubscriptionPolicy& policy,
                                        const std::optional<store::UserRecord>& existing,
                                        const store::UserId& user, std::uint32_t height);

// teos: expired when height >= expiry; outdated (data removed) at expiry + delta.
bool is_expired(const store::UserRecord& user, std::uint32_t height);
bool is_outdated(const SubscriptionPolicy& policy, const store::UserRecord& user, std::uint32_t height);

// teos: an update charges only the difference in slots between the new blob and
// the one it replaces (possibly refunding). nullopt when the user cannot pay.
std::optional<std::uint32_t> slots_after_charge(const store::UserRecord& user, std::size_t old_blob_size,
                                                std::size_t new_blob_size);

}  // namespace argus::tower
