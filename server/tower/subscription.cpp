#include "server/tower/subscription.h"

#include <limits>

namespace argus::tower {

Result<store::UserRecord> register_user(const SubscriptionPolicy& policy,
                                        const std::optional<store::UserRecord>& existing,
                                        const store::UserId& user, std::uint32_t height) {
    constexpr std::uint64_t max = std::numeric_limits<std::uint32_t>::max();
    if (!existing) {
        std::uint64_t expiry = std::uint64_t{height} + policy.duration;
        return store::UserRecord{user, policy.slots, height, static_cast<std::uint32_t>(std::min(expiry, max))};
    }
    store::UserRecord updated = *existing;
    std::uint64_t slots = std::uint64_t{existing->available_slots} + policy.slots;
    if (slots > max) {
        return make_error(ErrorCode::invalid_argument, "Subscription maximum slots count reached");
    }
    updated.available_slots = static_cast<std::uint32_t>(slots);
    std::uint64_t expiry = std::uint64_t{existing->subscription_expiry} + policy.duration;
    updated.subscription_expiry = static_cast<std::uint32_t>(std::min(expiry, max));
    return updated;
}

bool is_expired(const store::UserRecord& user, std::uint32_t height) { return height >= user.subscription_expiry; }

std::size_t outdated_users_to_remove(const std::vector<std::uint64_t>& appointments, std::uint64_t budget) {
    std::size_t taken = 0;
    std::uint64_t total = 0;
    for (std::uint64_t n : appointments) {
        if (taken > 0 && (total > budget || n > budget - total)) break;
        total += n;
        ++taken;
    }
    return taken;
}

bool is_outdated(const SubscriptionPolicy& policy, const store::UserRecord& user, std::uint32_t height) {
    return std::uint64_t{height} >= std::uint64_t{user.subscription_expiry} + policy.expiry_delta;
}

std::optional<std::uint32_t> slots_after_charge(const store::UserRecord& user, std::size_t old_blob_size,
                                                std::size_t new_blob_size) {
    std::int64_t used = teos::appointment_slots(old_blob_size);
    std::int64_t required = teos::appointment_slots(new_blob_size);
    std::int64_t diff = required - used;
    if (diff > static_cast<std::int64_t>(user.available_slots)) return std::nullopt;
    std::int64_t after = static_cast<std::int64_t>(user.available_slots) - diff;
    if (after > std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
    return static_cast<std::uint32_t>(after);
}

}  // namespace argus::tower
