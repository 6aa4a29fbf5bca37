// Store's default lookups (full loads, filtered) and the feed's refusal for
// backends that keep none.
#include "server/store/store.h"

namespace argus::store {

namespace {
Error no_feed(const Store& store) {
    return make_error(ErrorCode::unsupported, "the " + store.backend_name() +
                                                  " store keeps no group feed (a group of towers needs PostgreSQL and --ha)");
}
}  // namespace

Result<WriteEffects> Store::write_apart(const WriteBatch&) {
    return make_error(ErrorCode::unsupported,
                      "the " + backend_name() + " store has one writer: removals go through write()");
}

Result<std::optional<VersionedUser>> Store::get_user_versioned(const UserId& user) {
    auto found = get_user(user);
    if (!found) return found.error();
    if (!*found) return std::optional<VersionedUser>();
    return std::optional<VersionedUser>(VersionedUser{**found, 0});
}

Result<std::vector<VersionedUser>> Store::load_users_versioned() {
    auto users = load_users();
    if (!users) return users.error();
    std::vector<VersionedUser> out;
    out.reserve(users->size());
    for (auto& u : *users) out.push_back(VersionedUser{u, 0});
    return out;
}

Result<std::optional<SessionRecord>> Store::get_session(const UserId& account) {
    auto sessions = load_sessions();
    if (!sessions) return sessions.error();
    for (auto& s : *sessions) {
        if (s.account == account) return std::optional<SessionRecord>(std::move(s));
    }
    return std::optional<SessionRecord>();
}

Result<std::optional<TrackerRecord>> Store::get_tracker(const AppointmentKey& key) {
    auto trackers = load_trackers();
    if (!trackers) return trackers.error();
    for (auto& t : *trackers) {
        if (t.locator == key.locator && t.user_id == key.user_id) return std::optional<TrackerRecord>(std::move(t));
    }
    return std::optional<TrackerRecord>();
}

Result<std::vector<ElectrumChannelRecord>> Store::electrum_channels_of(const UserId& account) {
    auto channels = load_electrum_channels();
    if (!channels) return channels.error();
    std::vector<ElectrumChannelRecord> out;
    for (auto& c : *channels) {
        if (c.account == account) out.push_back(std::move(c));
    }
    return out;
}

Result<std::vector<AppointmentRecord>> Store::find_by_locators(std::span<const Locator> locators) {
    std::vector<AppointmentRecord> out;
    for (const auto& locator : locators) {
        auto found = find_by_locator(locator);
        if (!found) return found.error();
        for (auto& a : *found) out.push_back(std::move(a));
    }
    return out;
}

Result<std::vector<UserId>> Store::outdated_users(std::uint32_t height, std::uint32_t expiry_delta) {
    auto users = load_users();
    if (!users) return users.error();
    std::vector<UserId> out;
    for (const auto& u : *users) {
        if (is_session_account(u.user_id) || u.subscription_expiry == 0) continue;
        if (std::uint64_t{u.subscription_expiry} + expiry_delta <= height) out.push_back(u.user_id);
    }
    return out;
}

Result<std::vector<FeedEntry>> Store::read_feed(std::uint64_t, std::size_t) { return no_feed(*this); }
Result<std::vector<FeedEntry>> Store::read_others_feed(std::uint64_t, std::size_t) { return no_feed(*this); }
Result<FeedBounds> Store::feed_bounds() { return no_feed(*this); }
Result<std::vector<FeedEntry>> Store::recent_feed(std::chrono::seconds, std::size_t) { return no_feed(*this); }
Status Store::wait_for_feed(std::chrono::milliseconds) { return no_feed(*this); }
Result<std::uint64_t> Store::prune_feed(std::chrono::seconds) { return no_feed(*this); }
Result<std::optional<std::pair<std::uint64_t, std::string>>> Store::leader_epoch() {
    return std::optional<std::pair<std::uint64_t, std::string>>();
}

}  // namespace argus::store
