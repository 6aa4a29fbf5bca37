#include "server/tower/tower_service.h"

#include <algorithm>
#include <future>
#include <limits>
#include <map>
#include <mutex>

#include "common/check.h"
#include "common/hex.h"
#include "common/message_signing.h"
#include "log/log.h"

namespace argus::tower {

namespace {
const char* const bad_signature_or_slots = "Invalid signature or user does not have enough slots available";

ApiError expired(std::uint32_t expiry) {
    return ApiError{teos_error::invalid_signature_or_subscription,
                    "Your subscription expired at " + std::to_string(expiry)};
}

}  // namespace

std::size_t UserIdHash::operator()(const store::UserId& id) const {
    std::size_t h = 0;
    for (int i = 1; i < 9; ++i) h = (h << 8) | id[static_cast<std::size_t>(i)];
    return h;
}

struct TowerService::UserState {
    std::mutex mutex;
    store::UserRecord record;
    // Blob sizes of this user's appointments queued but not yet durable: the
    // newest write wins when slots for an update are computed.
    std::unordered_map<Locator, std::pair<std::size_t, std::uint64_t>, LocatorHash> pending;
    std::uint64_t next_sequence = 0;
    std::optional<store::SessionRecord> session;  // a wtwire session's account
    // An Electrum account's channels, by funding outpoint.
    std::map<std::pair<Hash256, std::uint32_t>, store::ElectrumChannelRecord> channels;
    // Shared store: the row version the next write expects (unknown: write
    // unconditionally), this tower's writes of the user not yet durable, a
    // conflict seen (read the row again), and whether another tower wrote it.
    std::optional<std::uint64_t> version;
    std::size_t in_flight = 0;
    bool stale = false;
    // Another tower wrote this user: the index answers for it only once the
    // feed is applied up to this seq (UINT64_MAX: not known, never).
    std::uint64_t foreign_until = 0;
};

TowerService::TowerService(store::Store& store, LocatorIndex& index, PrivateKey tower_key, SubscriptionPolicy policy,
                           std::function<ChainStatus()> chain, TowerHooks hooks, Clock& clock)
    : clock_(clock),
      store_(store),
      index_(index),
      tower_key_(std::move(tower_key)),
      tower_id_(tower_key_.public_key()),
      policy_(policy),
      chain_(std::move(chain)),
      hooks_(std::move(hooks)) {}

TowerService::~TowerService() { stop(); }

void TowerService::set_shared_store(bool shared, std::uint64_t origin) {
    // Versions must be this process's own: two towers with one origin would
    // produce each other's versions.
    ARGUS_CHECK(!shared || origin != 0);
    shared_ = shared;
    version_origin_ = origin;
}

Status TowerService::start() {
    {
        std::unique_lock lock(users_mutex_);
        if (auto ok = reload_users(true); !ok) return ok;
    }
    if (auto counts = store_.counts(); counts) index_.reserve(counts->appointments);
    if (auto ok = store_.for_each_locator_prefix([&](std::span<const Locator> batch) { index_.insert_all(batch); }); !ok) return ok;
    committer_ = std::make_unique<GroupCommitter>(
        store_, [this](const Error& e) { on_commit_failure(e); },
        [this](const store::WriteEffects& effects) { apply_to_index(effects); }, clock_);
    return {};
}

void TowerService::stop() {
    if (committer_) committer_->stop();
}

Status TowerService::reload_users(bool at_start) {
    auto users = store_.load_users_versioned();
    if (!users) {
        healthy_ = false;
        return users.error();
    }
    auto sessions = store_.load_sessions();
    if (!sessions) {
        healthy_ = false;
        return sessions.error();
    }
    auto electrum_accounts = store_.load_electrum_accounts();
    if (!electrum_accounts) {
        healthy_ = false;
        return electrum_accounts.error();
    }
    auto electrum_channels = store_.load_electrum_channels();
    if (!electrum_channels) {
        healthy_ = false;
        return electrum_channels.error();
    }
    UserMap fresh;
    for (const auto& u : *users) {
        if (being_removed(u.user.user_id)) continue;  // its removal apart is under way
        auto state = std::make_shared<UserState>();
        state->record = u.user;
        // Read before the index: a write by another tower after this read
        // moves the version, so the user is then read from the store.
        if (shared_) {
            state->version = u.version;
            state->foreign_until = at_start ? 0 : foreign_horizon();
        }
        fresh.emplace(u.user.user_id, std::move(state));
    }
    std::size_t count = 0;
    for (auto& s : *sessions) {
        auto it = fresh.find(s.account);
        if (it == fresh.end()) continue;  // the foreign key makes this impossible
        it->second->session = std::move(s);
        ++count;
    }
    electrum_.clear();
    for (auto& a : *electrum_accounts) electrum_.put(std::move(a));
    // Never cleared: an outpoint watched once stays watched until restart
    // (a removed account's channel costs one slot and reports nothing).
    for (const auto& c : *electrum_channels) funding_index_.insert(OutPoint{c.funding_txid, c.funding_vout});
    for (auto& c : *electrum_channels) {
        auto it = fresh.find(c.account);
        if (it == fresh.end()) continue;
        auto key = std::make_pair(c.funding_txid.bytes, c.funding_vout);
        it->second->channels[key] = std::move(c);
    }
    users_.swap(fresh);
    sessions_ = count;
    healthy_ = true;
    return {};
}

void TowerService::apply_to_index(const store::WriteEffects& effects) {
    for (const auto& l : effects.inserted) index_.insert(l);
    for (const auto& l : effects.removed) index_.erase(l);
}

void TowerService::on_commit_failure(const Error& error) {
    // Runs on the committer thread. Everything queued was admitted against the
    // in-memory state that included the failed batch, so it fails too.
    log_event(LogLevel::error, "store_write_failed", {{"error", error.message}});
    std::unique_lock lock(users_mutex_);
    healthy_ = false;
    committer_->fail_pending(error);
    if (auto reloaded = reload_users(); !reloaded) {
        // Still unhealthy: every request answers 503 and retries the reload.
        last_store_error_ = reloaded.error().message;
    }
}

bool TowerService::try_resync() {
    std::unique_lock lock(users_mutex_, std::try_to_lock);
    if (!lock.owns_lock()) return false;
    if (healthy_) return true;
    if (resync_on_committer_) return false;
    return static_cast<bool>(reload_users());
}

bool TowerService::healthy() const {
    std::shared_lock lock(users_mutex_);
    return healthy_;
}

std::shared_ptr<TowerService::UserState> TowerService::find_user(const store::UserId& user) const {
    auto it = users_.find(user);
    return it == users_.end() ? nullptr : it->second;
}

Status TowerService::adopt_user(const store::UserId& user) {
    if (!shared_) return {};
    {
        std::shared_lock lock(users_mutex_);
        if (find_user(user)) return {};
    }
    auto found = store_.get_user_versioned(user);
    if (!found) return found.error();
    if (!*found) return {};
    auto state = std::make_shared<UserState>();
    state->record = (*found)->user;
    state->version = (*found)->version;
    state->foreign_until = foreign_horizon();
    if (store::is_session_account(user)) {
        auto session = store_.get_session(user);
        if (!session) return session.error();
        state->session = std::move(*session);
    }
    if (store::is_electrum_account(user)) {
        auto channels = store_.electrum_channels_of(user);
        if (!channels) return channels.error();
        for (auto& c : *channels) {
            funding_index_.insert(OutPoint{c.funding_txid, c.funding_vout});
            state->channels[std::make_pair(c.funding_txid.bytes, c.funding_vout)] = std::move(c);
        }
    }
    std::unique_lock lock(users_mutex_);
    if (!find_user(user) && !being_removed(user)) {
        if (state->session) ++sessions_;
        users_.emplace(user, std::move(state));
    }
    return {};
}

Result<bool> TowerService::sync_user(UserState& state) {
    if (!shared_) return true;
    if (state.in_flight > 0) {
        // This tower's own writes chain on the version: each is checked when written.
        if (state.stale) return make_error(ErrorCode::conflict, "another tower wrote this user: retry");
        return trusts_index(state);
    }
    const store::UserId id = state.record.user_id;
    auto fresh = store_.get_user_versioned(id);
    if (!fresh) return fresh.error();
    std::uint64_t version = *fresh ? (*fresh)->version : 0;
    if (state.version && *state.version == version && !state.stale) return trusts_index(state);
    // Another tower wrote it (or removed it) since this one last did.
    state.record = *fresh ? (*fresh)->user : store::UserRecord{id, 0, 0, 0};
    state.version = version;
    state.stale = false;
    state.foreign_until = foreign_horizon();
    if (store::is_session_account(id)) {
        auto session = store_.get_session(id);
        if (!session) return session.error();
        state.session = std::move(*session);
    }
    if (store::is_electrum_account(id)) {
        auto channels = store_.electrum_channels_of(id);
        if (!channels) return channels.error();
        for (auto& c : *channels) {
            funding_index_.insert(OutPoint{c.funding_txid, c.funding_vout});
            auto key = std::make_pair(c.funding_txid.bytes, c.funding_vout);
            auto& mine = state.channels[key];
            if (c.max_ctn > mine.max_ctn || mine.account != id) mine = std::move(c);
        }
    }
    return false;
}

std::uint64_t TowerService::foreign_horizon() {
    // Every write of the user another tower committed so far has its feed
    // rows at or below the feed's last seq, read now.
    auto bounds = store_.feed_bounds();
    if (!bounds) return std::numeric_limits<std::uint64_t>::max();
    return std::max<std::uint64_t>(bounds->last, 1);
}

bool TowerService::trusts_index(const UserState& state) const {
    return state.foreign_until == 0 || feed_applied_.load() >= state.foreign_until;
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> TowerService::take_version(UserState& state) {
    if (!state.version) return std::nullopt;
    std::uint64_t expected = *state.version;
    // splitmix64 of (origin, counter): unique to this process, never 0.
    std::uint64_t z = version_origin_ + 0x9e3779b97f4a7c15ull * (++version_counter_);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    std::uint64_t next = (z & 0x7fffffffffffffffull) | 1;  // a positive bigint
    state.version = next;
    return std::make_pair(expected, next);
}

bool TowerService::submit_user_write(const std::shared_ptr<UserState>& state, store::WriteBatch batch,
                                     GroupCommitter::Done done) {
    ++state->in_flight;
    bool queued = committer_->submit(std::move(batch), [state, done = std::move(done)](const Status& status) {
        {
            std::lock_guard lock(state->mutex);
            --state->in_flight;
            if (!status && status.error().code == ErrorCode::conflict) state->stale = true;
        }
        done(status);
    });
    if (!queued) --state->in_flight;
    return queued;
}

void TowerService::register_user(const store::UserId& user, std::function<void(ApiResult<RegisterReply>)> done) {
    ChainStatus chain = chain_();
    if (!chain.reachable) return done(service_unavailable());
    if (!healthy() && !try_resync()) return done(service_unavailable());
    if (!adopt_user(user)) return done(service_unavailable());

    std::shared_ptr<UserState> state;
    bool created = false;
    {
        std::shared_lock lock(users_mutex_);
        state = find_user(user);
    }
    if (!state) {
        std::unique_lock lock(users_mutex_);
        state = find_user(user);
        if (!state) {
            // Its expired subscription is being removed: register again after.
            if (being_removed(user)) return done(service_unavailable());
            state = std::make_shared<UserState>();
            state->record.user_id = user;
            users_.emplace(user, state);
            created = true;
        }
    }

    std::shared_lock map_lock(users_mutex_);
    if (!healthy_) return done(service_unavailable());
    std::unique_lock user_lock(state->mutex);
    if (created && shared_) state->version = 0;  // no row: adopt_user found none
    if (auto synced = sync_user(*state); !synced) return done(service_unavailable());
    std::optional<store::UserRecord> existing;
    if (!created && state->record.subscription_expiry != 0) existing = state->record;
    auto updated = tower::register_user(policy_, existing, user, chain.height);
    if (!updated) {
        return done(ApiError{teos_error::registration_resource_exhausted, "Subscription maximum slots count reached"});
    }
    state->record = *updated;
    store::UserRecord snapshot = *updated;
    store::WriteBatch batch;
    batch.put_user(snapshot, take_version(*state));
    auto shared_done = std::make_shared<std::function<void(ApiResult<RegisterReply>)>>(std::move(done));
    bool queued = submit_user_write(state, std::move(batch), [this, snapshot, shared_done](const Status& status) {
        auto& reply_to = *shared_done;
        if (!status) return reply_to(service_unavailable());
        RegisterReply reply{snapshot.user_id, snapshot.available_slots, snapshot.subscription_start,
                            snapshot.subscription_expiry, {}};
        reply.subscription_signature = sign_message(
            tower_key_, teos::registration_receipt_message(snapshot.user_id, snapshot.available_slots,
                                                           snapshot.subscription_start, snapshot.subscription_expiry));
        reply_to(std::move(reply));
    });
    if (!queued) {
        user_lock.unlock();
        map_lock.unlock();
        (*shared_done)(service_unavailable());
    }
}

void TowerService::add_appointment(AddAppointmentRequest request,
                                   std::function<void(ApiResult<AddAppointmentReply>)> done) {
    Bytes message = teos::add_appointment_message(request.locator, request.encrypted_blob, request.to_self_delay);
    auto signer = recover_message_signer(message, request.signature);
    ChainStatus chain = chain_();
    if (!chain.reachable) return done(service_unavailable());
    if (!healthy() && !try_resync()) return done(service_unavailable());
    if (!signer) return done(ApiError{teos_error::invalid_signature_or_subscription, bad_signature_or_slots});
    store::UserId user_id = signer->bytes();
    if (!adopt_user(user_id)) return done(service_unavailable());

    std::shared_lock map_lock(users_mutex_);
    if (!healthy_) return done(service_unavailable());
    std::shared_ptr<UserState> state = find_user(user_id);
    if (!state) return done(ApiError{teos_error::invalid_signature_or_subscription, bad_signature_or_slots});
    std::unique_lock user_lock(state->mutex);
    auto trust_index = sync_user(*state);
    if (!trust_index) return done(service_unavailable());
    if (state->record.subscription_expiry == 0) {
        // Registration still in flight: not yet a user.
        return done(ApiError{teos_error::invalid_signature_or_subscription, bad_signature_or_slots});
    }
    if (is_expired(state->record, chain.height)) return done(expired(state->record.subscription_expiry));
    if (hooks_.tracker_for && hooks_.tracker_for(request.locator, user_id)) {
        return done(ApiError{teos_error::appointment_already_triggered,
                             "The provided appointment has already been triggered"});
    }

    // The size of what this write replaces: a queued write, else the store. The
    // index says "certainly new" for almost every appointment, sparing a read.
    std::optional<std::size_t> old_size;
    if (auto p = state->pending.find(request.locator); p != state->pending.end()) {
        old_size = p->second.first;
    } else if (!*trust_index || index_.maybe_contains(request.locator)) {
        auto stored = store_.get_blob_size({request.locator, user_id});
        if (!stored) return done(service_unavailable());
        old_size = *stored;
    }
    auto slots = slots_after_charge(state->record, old_size.value_or(0), request.encrypted_blob.size());
    if (!slots) return done(ApiError{teos_error::invalid_signature_or_subscription, bad_signature_or_slots});

    state->record.available_slots = *slots;
    std::uint64_t sequence = ++state->next_sequence;
    state->pending[request.locator] = {request.encrypted_blob.size(), sequence};

    store::AppointmentRecord record;
    record.locator = request.locator;
    record.user_id = user_id;
    record.to_self_delay = request.to_self_delay;
    record.start_block = chain.height;
    record.blob = std::move(request.encrypted_blob);
    store::WriteBatch batch;
    batch.put_user(state->record, take_version(*state));
    // Nothing pending, and the index (or the store) had nothing: a new row.
    batch.put_appointment(record, !old_size.has_value());
    std::uint32_t expiry = state->record.subscription_expiry;

    auto shared_done = std::make_shared<std::function<void(ApiResult<AddAppointmentReply>)>>(std::move(done));
    // The receipt is known now; sign it here, on an HTTP worker, rather than
    // on the committer thread, which should do nothing but commit.
    AddAppointmentReply reply;
    reply.locator = record.locator;
    reply.start_block = record.start_block;
    reply.available_slots = *slots;
    reply.subscription_expiry = expiry;
    reply.signature = sign_message(tower_key_, teos::appointment_receipt_message(request.signature, record.start_block));
    bool queued = submit_user_write(state, std::move(batch), [this, state, sequence, record = std::move(record),
                                                        reply = std::move(reply), shared_done](const Status& status) mutable {
        auto& reply_to = *shared_done;
        {
            std::lock_guard lock(state->mutex);
            auto p = state->pending.find(record.locator);
            if (p != state->pending.end() && p->second.second == sequence) state->pending.erase(p);
        }
        if (!status) return reply_to(service_unavailable());
        // The index already holds it (apply_to_index ran first), so a block
        // scanned from now on finds it; blocks scanned before are the
        // watcher's to re-check.
        if (hooks_.on_appointment_stored) hooks_.on_appointment_stored(std::move(record));
        reply_to(std::move(reply));
    });
    if (!queued) {
        user_lock.unlock();
        map_lock.unlock();
        (*shared_done)(service_unavailable());
    }
}

ApiResult<AppointmentView> TowerService::get_appointment(const Locator& locator, std::string_view signature) {
    std::string message = teos::get_appointment_message(locator);
    auto signer = recover_message_signer(as_bytes(message), signature);
    ChainStatus chain = chain_();
    if (!chain.reachable) return service_unavailable();
    ApiError unauthenticated{teos_error::invalid_signature_or_subscription, "User cannot be authenticated"};
    if (!signer) return unauthenticated;
    store::UserId user_id = signer->bytes();
    if (!adopt_user(user_id)) return service_unavailable();
    std::uint32_t expiry = 0;
    {
        std::shared_lock lock(users_mutex_);
        auto state = find_user(user_id);
        if (!state) return unauthenticated;
        std::lock_guard user_lock(state->mutex);
        if (!sync_user(*state)) return service_unavailable();
        if (state->record.subscription_expiry == 0) return unauthenticated;
        expiry = state->record.subscription_expiry;
    }
    if (chain.height >= expiry) return expired(expiry);
    AppointmentView view;
    if (hooks_.tracker_for) {
        if (auto tracker = hooks_.tracker_for(locator, user_id)) {
            view.tracker = *tracker;
            return view;
        }
    }
    auto stored = store_.get_appointment({locator, user_id});
    if (!stored) return service_unavailable();
    if (!stored->has_value()) return ApiError{teos_error::appointment_not_found, "Appointment not found"};
    view.appointment = std::move(**stored);
    return view;
}

ApiResult<SubscriptionInfo> TowerService::get_subscription_info(std::string_view signature) {
    auto signer = recover_message_signer(as_bytes(teos::get_subscription_info_message()), signature);
    ChainStatus chain = chain_();
    if (!chain.reachable) return service_unavailable();
    ApiError not_found{teos_error::invalid_signature_or_subscription, "User not found. Have you registered?"};
    if (!signer) return not_found;
    store::UserId user_id = signer->bytes();
    if (!adopt_user(user_id)) return service_unavailable();
    SubscriptionInfo info;
    {
        std::shared_lock lock(users_mutex_);
        auto state = find_user(user_id);
        if (!state) return not_found;
        std::lock_guard user_lock(state->mutex);
        if (!sync_user(*state)) return service_unavailable();
        if (state->record.subscription_expiry == 0) return not_found;
        info.available_slots = state->record.available_slots;
        info.subscription_expiry = state->record.subscription_expiry;
    }
    if (chain.height >= info.subscription_expiry) return expired(info.subscription_expiry);
    auto locators = store_.user_locators(user_id);
    if (!locators) return service_unavailable();
    info.locators = std::move(*locators);
    return info;
}

Status TowerService::commit_chain_effects(store::WriteBatch batch,
                                          const std::vector<std::pair<store::UserId, std::uint32_t>>& refunds) {
    if (!healthy() && !try_resync()) return make_error(ErrorCode::unavailable, "store unavailable");
    std::promise<Status> committed;
    auto future = committed.get_future();
    {
        std::shared_lock map_lock(users_mutex_);
        if (!healthy_) return make_error(ErrorCode::unavailable, "store unavailable");
        for (const auto& [user, slots] : refunds) {
            // A delta, not the record: another tower of a group may have
            // written the user meanwhile.
            batch.add_slots(user, slots);
            auto state = find_user(user);
            if (!state) continue;  // removed meanwhile: nothing to refund
            std::unique_lock user_lock(state->mutex);
            std::uint64_t total = std::uint64_t{state->record.available_slots} + slots;
            state->record.available_slots = static_cast<std::uint32_t>(std::min<std::uint64_t>(total, 0xffffffffu));
            if (shared_) {
                // The refund moves the row to a version no one expects: read it again before the next write.
                state->version.reset();
                state->stale = true;
            }
        }
        std::uint64_t epoch = watcher_epoch_.load();
        if (elected_ && epoch == 0) return make_error(ErrorCode::fenced, "this tower is not the group's watcher");
        if (epoch != 0) batch.fence_epoch = epoch;
        // Submitted under the map lock, like API writes, so a failure resync
        // cannot slip between the in-memory change and the queued write.
        bool queued = committer_->submit(std::move(batch), [&committed](const Status& s) { committed.set_value(s); });
        if (!queued) return make_error(ErrorCode::unavailable, "tower is shutting down");
    }
    return future.get();
}

std::vector<store::UserRecord> TowerService::list_users() const {
    std::vector<store::UserRecord> out;
    std::shared_lock lock(users_mutex_);
    for (const auto& [id, state] : users_) {
        std::lock_guard user_lock(state->mutex);
        if (state->record.subscription_expiry != 0) out.push_back(state->record);
    }
    return out;
}

std::optional<store::UserRecord> TowerService::get_user(const store::UserId& user) const {
    std::shared_lock lock(users_mutex_);
    auto state = find_user(user);
    if (!state) return std::nullopt;
    std::lock_guard user_lock(state->mutex);
    if (state->record.subscription_expiry == 0) return std::nullopt;
    return state->record;
}

Result<std::uint64_t> TowerService::remove_user(const store::UserId& user) {
    return remove_users({user});
}

Result<std::uint64_t> TowerService::remove_users(const std::vector<store::UserId>& users) {
    if (users.empty()) return std::uint64_t{0};
    // What is reported; the index follows what the transaction really deleted.
    std::uint64_t appointments = 0;
    for (const auto& user : users) {
        auto locators = store_.user_locators(user);
        if (!locators) return locators.error();
        appointments += locators->size();
    }
    if (auto ok = remove_users(users, 0); !ok) return ok.error();
    return appointments;
}

Status TowerService::remove_users(const std::vector<store::UserId>& users, std::uint64_t fence) {
    if (users.empty()) return {};
    if (!healthy() && !try_resync()) return make_error(ErrorCode::unavailable, "store unavailable");
    if (store_.writes_apart()) return remove_users_apart(users, fence);
    std::promise<Status> committed;
    auto future = committed.get_future();
    {
        // Out of memory first, under the exclusive lock: nothing more is
        // admitted for these users, and what was admitted before is queued
        // ahead of the removal, so it is removed with them.
        std::unique_lock lock(users_mutex_);
        if (!healthy_) return make_error(ErrorCode::unavailable, "store unavailable");
        store::WriteBatch batch = take_out_of_memory(users, fence);
        bool queued = committer_->submit(std::move(batch), [&committed](const Status& s) { committed.set_value(s); });
        if (!queued) return make_error(ErrorCode::unavailable, "tower is shutting down");
    }
    // A failure reloads the users from the store: they come back, unremoved.
    return future.get();
}

store::WriteBatch TowerService::take_out_of_memory(const std::vector<store::UserId>& users, std::uint64_t fence) {
    store::WriteBatch removal;
    if (fence != 0) removal.fence_epoch = fence;
    for (const auto& user : users) {
        if (auto it = users_.find(user); it != users_.end()) {
            std::lock_guard user_lock(it->second->mutex);
            if (it->second->session) --sessions_;
            users_.erase(it);
        }
        removal.remove_user(user);
    }
    return removal;
}

Status TowerService::remove_users_apart(const std::vector<store::UserId>& users, std::uint64_t fence) {
    store::WriteBatch removal;
    {
        // Out of memory first, as through the committer: nothing more is
        // admitted for these users, and nothing recreates them until the
        // removal has ended (being_removed).
        std::unique_lock lock(users_mutex_);
        if (!healthy_) return make_error(ErrorCode::unavailable, "store unavailable");
        removal = take_out_of_memory(users, fence);
        removing_.insert(users.begin(), users.end());
    }
    // What was admitted for them before is written first, so it is removed
    // with them (and a write of theirs never meets a deleted user row).
    if (auto ok = committer_barrier(); !ok) {
        restore_removed_users(users);
        return ok;
    }
    auto effects = store_.write_apart(removal);
    if (!effects) {
        log_event(LogLevel::warn, "users_not_removed",
                  {{"users", std::to_string(users.size())}, {"error", effects.error().message}});
        restore_removed_users(users);
        return effects.error();
    }
    apply_to_index(*effects);
    std::unique_lock lock(users_mutex_);
    for (const auto& user : users) removing_.erase(user);
    return {};
}

Status TowerService::committer_barrier() {
    std::promise<Status> written;
    auto future = written.get_future();
    if (!committer_->submit(store::WriteBatch{}, [&written](const Status& s) { written.set_value(s); })) {
        return make_error(ErrorCode::unavailable, "tower is shutting down");
    }
    return future.get();
}

void TowerService::restore_removed_users(const std::vector<store::UserId>& users) {
    {
        // Until they are read back, requests answer "unavailable" (and do not
        // reload themselves while writes admitted before are in flight).
        std::unique_lock lock(users_mutex_);
        for (const auto& user : users) removing_.erase(user);
        healthy_ = false;
        resync_on_committer_ = true;
    }
    std::promise<void> reloaded;
    auto future = reloaded.get_future();
    bool queued = committer_->submit(store::WriteBatch{}, [this, &reloaded](const Status& written) {
        // On the committer thread, after everything queued before: nothing in
        // flight. Failed, it is on_commit_failure's: it holds the map lock and
        // reloads right after (and removing_ no longer hides these users).
        if (written) {
            std::unique_lock lock(users_mutex_);
            if (auto ok = reload_users(); !ok) last_store_error_ = ok.error().message;
        }
        resync_on_committer_ = false;
        reloaded.set_value();
    });
    if (queued) {
        future.wait();
    } else {
        resync_on_committer_ = false;  // shutting down
    }
}

Result<std::size_t> TowerService::remove_outdated_users(std::uint32_t height) {
    std::uint64_t epoch = watcher_epoch_.load();
    if (elected_ && epoch == 0) return make_error(ErrorCode::fenced, "this tower is not the group's watcher");
    std::vector<store::UserId> outdated;
    if (shared_) {
        // Users other towers created may never have reached this one's memory.
        auto stored = store_.outdated_users(height, policy_.expiry_delta);
        if (!stored) return stored.error();
        outdated = std::move(*stored);
    } else {
        std::shared_lock lock(users_mutex_);
        for (const auto& [id, state] : users_) {
            std::lock_guard user_lock(state->mutex);
            if (store::is_session_account(id)) continue;  // sessions end with DeleteSession
            if (state->record.subscription_expiry != 0 && is_outdated(policy_, state->record, height)) {
                outdated.push_back(id);
            }
        }
    }
    // Oldest subscription first (as far as this tower knows it), then by id.
    // A day's expiry may take several blocks (policy.removals_per_block):
    // counts are read until one user past the budget, then the rule decides.
    std::vector<std::pair<std::uint32_t, store::UserId>> ordered;
    for (const auto& user : outdated) {
        std::uint32_t expiry = 0;
        if (auto record = get_user(user)) expiry = record->subscription_expiry;
        ordered.emplace_back(expiry, user);
    }
    std::sort(ordered.begin(), ordered.end());
    std::vector<std::uint64_t> counts;
    std::uint64_t total = 0;
    for (const auto& [expiry, user] : ordered) {
        auto locators = store_.user_locators(user);
        if (!locators) return locators.error();
        counts.push_back(locators->size());
        total += locators->size();
        if (total > policy_.removals_per_block) break;
    }
    std::size_t taken = outdated_users_to_remove(counts, policy_.removals_per_block);
    std::vector<store::UserId> removing;
    for (std::size_t i = 0; i < taken; ++i) removing.push_back(ordered[i].second);
    // The counts read above decided; they are not read again to report.
    if (auto removed = remove_users(removing, epoch); !removed) return removed.error();
    return removing.size();
}

void TowerService::create_session(const PublicKey& session_key, const wtwire::CreateSession& request,
                                  std::function<void(WtwireReply)> done) {
    auto temporary = [&] { done(WtwireReply{wtwire::code::temporary_failure, 0, {}}); };
    if (!healthy() && !try_resync()) return temporary();
    store::UserId account = store::session_account(session_key.bytes());
    std::uint32_t height = chain_().height;
    if (!adopt_user(account)) return temporary();

    // Decide before anything is allocated, so refused requests leave no trace.
    {
        std::shared_lock lock(users_mutex_);
        std::optional<store::SessionRecord> existing;
        if (auto found = find_user(account)) {
            std::lock_guard user_lock(found->mutex);
            existing = found->session;
        }
        CreateSessionDecision early = decide_create_session(wtwire_policy_, account, existing, request, sessions_);
        if (!early.create) return done(WtwireReply{early.code, early.last_applied, std::move(early.data)});
    }
    std::shared_ptr<UserState> state;
    {
        std::unique_lock lock(users_mutex_);
        state = find_user(account);
        if (!state) {
            if (being_removed(account)) return temporary();
            // Not yet a user: an account whose record is filled in below.
            state = std::make_shared<UserState>();
            state->record.user_id = account;
            users_.emplace(account, state);
        }
    }
    std::shared_lock map_lock(users_mutex_);
    if (!healthy_ || find_user(account) != state) return temporary();
    std::unique_lock user_lock(state->mutex);
    if (!state->version && shared_ && state->record.subscription_expiry == 0 && !state->session) state->version = 0;
    if (!sync_user(*state)) return temporary();
    CreateSessionDecision decision =
        decide_create_session(wtwire_policy_, account, state->session, request, sessions_);
    if (!decision.create) return done(WtwireReply{decision.code, decision.last_applied, std::move(decision.data)});
    if (!state->session) ++sessions_;  // counted while queued, so the cap holds under concurrency
    state->session = *decision.create;
    state->record = store::UserRecord{account, session_slots(*decision.create), height, store::never_expires};
    store::WriteBatch batch;
    batch.put_user(state->record, take_version(*state)).put_session(*decision.create);
    WtwireReply reply{wtwire::code::ok, 0, std::move(decision.data)};
    auto shared_done = std::make_shared<std::function<void(WtwireReply)>>(std::move(done));
    bool queued = submit_user_write(state, std::move(batch), [reply = std::move(reply), shared_done](const Status& status) {
        if (!status) return (*shared_done)(WtwireReply{wtwire::code::temporary_failure, 0, {}});
        (*shared_done)(reply);
    });
    if (!queued) {
        user_lock.unlock();
        map_lock.unlock();
        (*shared_done)(WtwireReply{wtwire::code::temporary_failure, 0, {}});
    }
}

void TowerService::state_update(const PublicKey& session_key, wtwire::StateUpdate update,
                                std::function<void(WtwireReply)> done) {
    if (!healthy() && !try_resync()) return done(WtwireReply{wtwire::code::temporary_failure, 0, {}});
    store::UserId account = store::session_account(session_key.bytes());
    std::uint32_t height = chain_().height;
    if (!adopt_user(account)) return done(WtwireReply{wtwire::code::temporary_failure, 0, {}});
    std::shared_lock map_lock(users_mutex_);
    if (!healthy_) return done(WtwireReply{wtwire::code::temporary_failure, 0, {}});
    std::shared_ptr<UserState> state = find_user(account);
    if (!state) return done(WtwireReply{decide_state_update(std::nullopt, update).code, 0, {}});
    std::unique_lock user_lock(state->mutex);
    auto trust_index = sync_user(*state);
    if (!trust_index) return done(WtwireReply{wtwire::code::temporary_failure, 0, {}});
    StateUpdateDecision decision = decide_state_update(state->session, update);
    if (!decision.session) return done(WtwireReply{decision.code, decision.last_applied, {}});
    state->session = *decision.session;
    state->record.available_slots = session_slots(*decision.session);

    store::AppointmentRecord record;
    record.locator = update.hint;  // lnd: hint = SHA256(breach txid)[:16]
    record.user_id = account;
    record.trigger = store::TriggerKind::txid_hint;
    record.payload = store::PayloadKind::encrypted_justice_kit;
    record.start_block = height;
    record.blob = std::move(update.encrypted_blob);
    // A hint seen before (pending, or maybe stored) may replace a row; any
    // other is new. Pending hints are tracked as the teos path tracks locators.
    bool known_new = !state->pending.count(record.locator) && *trust_index && !index_.maybe_contains(record.locator);
    std::uint64_t sequence = ++state->next_sequence;
    state->pending[record.locator] = {record.blob.size(), sequence};
    store::WriteBatch batch;
    batch.put_user(state->record, take_version(*state)).put_session(*decision.session).put_appointment(record, known_new);
    std::uint16_t last_applied = decision.last_applied;
    auto shared_done = std::make_shared<std::function<void(WtwireReply)>>(std::move(done));
    bool queued = submit_user_write(state, 
        std::move(batch), [this, state, sequence, last_applied, record = std::move(record), shared_done](const Status& status) mutable {
            {
                std::lock_guard lock(state->mutex);
                auto p = state->pending.find(record.locator);
                if (p != state->pending.end() && p->second.second == sequence) state->pending.erase(p);
            }
            if (!status) return (*shared_done)(WtwireReply{wtwire::code::temporary_failure, 0, {}});
            // Indexed already; blocks scanned before are the watcher's to re-check.
            if (hooks_.on_appointment_stored) hooks_.on_appointment_stored(std::move(record));
            (*shared_done)(WtwireReply{wtwire::code::ok, last_applied, {}});
        });
    if (!queued) {
        user_lock.unlock();
        map_lock.unlock();
        (*shared_done)(WtwireReply{wtwire::code::temporary_failure, 0, {}});
    }
}

void TowerService::delete_session(const PublicKey& session_key, std::function<void(WtwireReply)> done) {
    auto temporary = [&] { done(WtwireReply{wtwire::code::temporary_failure, 0, {}}); };
    if (!healthy() && !try_resync()) return temporary();
    store::UserId account = store::session_account(session_key.bytes());
    // As remove_users: out of memory first under the exclusive lock, so what
    // was admitted before is queued ahead of the removal and removed with it.
    std::unique_lock lock(users_mutex_);
    if (!healthy_) return temporary();
    auto it = users_.find(account);
    bool exists = false;
    if (it != users_.end()) {
        std::lock_guard user_lock(it->second->mutex);
        exists = it->second->session.has_value();
    }
    // lnd: DeleteSessionCodeNotFound.
    if (!exists) return done(WtwireReply{wtwire::code::session_not_found, 0, {}});
    users_.erase(it);
    --sessions_;
    store::WriteBatch batch;
    batch.remove_user(account);
    auto shared_done = std::make_shared<std::function<void(WtwireReply)>>(std::move(done));
    bool queued = committer_->submit(std::move(batch), [shared_done](const Status& status) {
        // A failure reloads users from the store: the session comes back.
        (*shared_done)(WtwireReply{status ? wtwire::code::ok : wtwire::code::temporary_failure, 0, {}});
    });
    if (!queued) {
        lock.unlock();
        (*shared_done)(WtwireReply{wtwire::code::temporary_failure, 0, {}});
    }
}

Result<store::ElectrumAccountRecord> TowerService::create_electrum_account(const std::string& username,
                                                                          const std::string& password) {
    if (auto ok = check_electrum_username(username); !ok) return ok.error();
    if (auto ok = check_electrum_password(password); !ok) return ok.error();
    if (!healthy() && !try_resync()) return make_error(ErrorCode::unavailable, "the store is unavailable");
    auto hash = hash_electrum_password(password);
    if (!hash) return hash.error();
    store::UserId account = electrum_account_id(username);
    ChainStatus chain = chain_();
    std::shared_ptr<UserState> state;
    store::WriteBatch batch;
    {
        std::unique_lock lock(users_mutex_);
        if (!healthy_) return make_error(ErrorCode::unavailable, "the store is unavailable");
        if (find_user(account)) return make_error(ErrorCode::invalid_argument, "Electrum user " + username + " exists");
        if (being_removed(account)) {
            return make_error(ErrorCode::unavailable, "Electrum user " + username + " is being removed: try again");
        }
        auto record = tower::register_user(policy_, std::nullopt, account, chain.height);
        if (!record) return make_error(ErrorCode::invalid_argument, "the subscription policy grants no slots");
        state = std::make_shared<UserState>();
        state->record = *record;
        if (shared_) state->version = 0;  // refused if another tower created it meanwhile
        users_.emplace(account, state);
        batch.put_user(*record, take_version(*state)).put_electrum_account({username, account, *hash});
    }
    std::promise<Status> written;
    auto future = written.get_future();
    store::ElectrumAccountRecord created{username, account, *hash};
    if (!committer_->submit(std::move(batch), [&written](const Status& status) { written.set_value(status); })) {
        return make_error(ErrorCode::unavailable, "the tower is stopping");
    }
    Status status = future.get();
    if (!status) {
        // Another tower created it meanwhile (conflict), or the write failed
        // (the failure reloads users from the store): no phantom stays.
        std::unique_lock lock(users_mutex_);
        if (auto it = users_.find(account); it != users_.end() && it->second == state) users_.erase(it);
        return status.error();
    }
    electrum_.put(created);
    return created;
}

Result<std::uint64_t> TowerService::remove_electrum_account(const std::string& username) {
    if (auto ok = check_electrum_username(username); !ok) return ok.error();
    store::UserId account = electrum_account_id(username);
    if (!get_user(account)) return make_error(ErrorCode::not_found, "no Electrum user " + username);
    electrum_.remove(username);  // no call authenticates from now on
    return remove_user(account);
}

std::vector<store::ElectrumAccountRecord> TowerService::electrum_accounts() const {
    return electrum_.list();
}

std::vector<store::ElectrumChannelRecord> TowerService::electrum_channels(const store::UserId& account) const {
    std::vector<store::ElectrumChannelRecord> out;
    std::shared_lock lock(users_mutex_);
    auto state = find_user(account);
    if (!state) return out;
    std::lock_guard user_lock(state->mutex);
    for (const auto& [key, channel] : state->channels) out.push_back(channel);
    return out;
}

std::optional<store::UserId> TowerService::electrum_authenticate(std::string_view username, std::string_view password) {
    auto account = electrum_.authenticate(username, password);
    if (account || !shared_) return account;
    // Shared store: the account may be another tower's creation. Read the
    // accounts again, at most once a second (a wrong password costs no scan).
    {
        std::lock_guard lock(electrum_reload_mutex_);
        auto now = std::chrono::steady_clock::now();
        if (now - electrum_reloaded_ < std::chrono::seconds(1)) return std::nullopt;
        electrum_reloaded_ = now;
        auto accounts = store_.load_electrum_accounts();
        if (!accounts) return std::nullopt;
        for (auto& a : *accounts) {
            if (a.username == username) electrum_.put(std::move(a));
        }
    }
    return electrum_.authenticate(username, password);
}

namespace {
ApiError electrum_expired() { return ApiError{teos_error::invalid_signature_or_subscription, "subscription expired"}; }
ApiError electrum_no_slots() {
    return ApiError{teos_error::invalid_signature_or_subscription, "no slots left in the subscription"};
}
}  // namespace

void TowerService::electrum_get_ctn(const store::UserId& account, const OutPoint& funding, std::string funding_address,
                                    std::function<void(ApiResult<std::int64_t>)> done) {
    ChainStatus chain = chain_();
    if (!healthy() && !try_resync()) return done(service_unavailable());
    if (!adopt_user(account)) return done(service_unavailable());
    std::shared_lock map_lock(users_mutex_);
    if (!healthy_) return done(service_unavailable());
    std::shared_ptr<UserState> state = find_user(account);
    if (!state) return done(ApiError{teos_error::invalid_signature_or_subscription, "unknown user"});
    std::unique_lock user_lock(state->mutex);
    if (!sync_user(*state)) return done(service_unavailable());
    auto key = std::make_pair(funding.txid.bytes, funding.index);
    if (auto it = state->channels.find(key); it != state->channels.end()) return done(it->second.max_ctn);
    if (is_expired(state->record, chain.height)) return done(electrum_expired());
    // A new channel: registered durably before the answer, so its funding
    // outpoint is known to the tower from the first sweep on.
    store::ElectrumChannelRecord channel{account, funding.txid, funding.index, std::move(funding_address), -1};
    state->channels[key] = channel;
    funding_index_.insert(funding);
    store::WriteBatch batch;
    // The user row moves too (same slots), so a tower of a group reading
    // this account sees a new version and reads its channels again.
    batch.put_user(state->record, take_version(*state)).put_electrum_channel(channel);
    auto shared_done = std::make_shared<std::function<void(ApiResult<std::int64_t>)>>(std::move(done));
    bool queued = submit_user_write(state, std::move(batch), [shared_done](const Status& status) {
        if (!status) return (*shared_done)(service_unavailable());
        (*shared_done)(std::int64_t{-1});
    });
    if (!queued) {
        state->channels.erase(key);
        user_lock.unlock();
        map_lock.unlock();
        (*shared_done)(service_unavailable());
    }
}

void TowerService::electrum_add_sweep(const store::UserId& account, const OutPoint& funding, std::int64_t ctn,
                                      const OutPoint& prevout, Bytes raw_sweep, std::function<void(ApiResult<bool>)> done) {
    // Unlike teos add_appointment, a sweep is taken while bitcoind is
    // unreachable (stamped with the last height seen): Electrum drops a sweep
    // whose add_sweep_tx errors and never sends it again.
    ChainStatus chain = chain_();
    if (!healthy() && !try_resync()) return done(service_unavailable());
    if (!adopt_user(account)) return done(service_unavailable());
    std::shared_lock map_lock(users_mutex_);
    if (!healthy_) return done(service_unavailable());
    std::shared_ptr<UserState> state = find_user(account);
    if (!state) return done(ApiError{teos_error::invalid_signature_or_subscription, "unknown user"});
    std::unique_lock user_lock(state->mutex);
    auto trust_index = sync_user(*state);
    if (!trust_index) return done(service_unavailable());
    if (is_expired(state->record, chain.height)) return done(electrum_expired());
    auto key = std::make_pair(funding.txid.bytes, funding.index);
    auto channel = state->channels.find(key);
    if (channel == state->channels.end()) {
        return done(ApiError{teos_error::invalid_request_format, "unknown channel: get_ctn registers it first"});
    }
    // The sweep is an appointment of the account, triggered by its prevout's
    // txid (the revoked commitment, or a second-stage HTLC transaction).
    Locator locator = teos::locator(prevout.txid);
    Bytes blob;
    blob.reserve(44 + raw_sweep.size());
    blob.insert(blob.end(), funding.txid.bytes.begin(), funding.txid.bytes.end());
    for (int i = 0; i < 4; ++i) blob.push_back(static_cast<std::uint8_t>(funding.index >> (8 * i)));
    for (int i = 0; i < 8; ++i) blob.push_back(static_cast<std::uint8_t>(static_cast<std::uint64_t>(ctn) >> (8 * i)));
    blob.insert(blob.end(), raw_sweep.begin(), raw_sweep.end());

    std::optional<std::size_t> old_size;
    if (auto p = state->pending.find(locator); p != state->pending.end()) {
        old_size = p->second.first;
    } else if (!*trust_index || index_.maybe_contains(locator)) {
        auto stored = store_.get_blob_size({locator, account});
        if (!stored) return done(service_unavailable());
        old_size = *stored;
    }
    auto slots = slots_after_charge(state->record, old_size.value_or(0), blob.size());
    if (!slots) return done(electrum_no_slots());
    state->record.available_slots = *slots;
    std::uint64_t sequence = ++state->next_sequence;
    state->pending[locator] = {blob.size(), sequence};
    if (ctn > channel->second.max_ctn) channel->second.max_ctn = ctn;

    store::AppointmentRecord record;
    record.locator = locator;
    record.user_id = account;
    record.trigger = store::TriggerKind::txid_locator;
    record.payload = store::PayloadKind::plaintext_sweep;
    record.start_block = chain.height;
    record.blob = std::move(blob);
    store::WriteBatch batch;
    batch.put_user(state->record, take_version(*state)).put_electrum_channel(channel->second).put_appointment(record, !old_size.has_value());
    auto shared_done = std::make_shared<std::function<void(ApiResult<bool>)>>(std::move(done));
    bool queued = submit_user_write(state, std::move(batch), [this, state, sequence, record = std::move(record),
                                                        shared_done](const Status& status) mutable {
        {
            std::lock_guard lock(state->mutex);
            auto p = state->pending.find(record.locator);
            if (p != state->pending.end() && p->second.second == sequence) state->pending.erase(p);
        }
        if (!status) return (*shared_done)(service_unavailable());
        if (hooks_.on_appointment_stored) hooks_.on_appointment_stored(std::move(record));
        (*shared_done)(true);
    });
    if (!queued) {
        user_lock.unlock();
        map_lock.unlock();
        (*shared_done)(service_unavailable());
    }
}

std::optional<store::SessionRecord> TowerService::session(const store::UserId& account) {
    {
        std::shared_lock lock(users_mutex_);
        auto state = find_user(account);
        if (state) {
            std::lock_guard user_lock(state->mutex);
            if (state->session || !shared_) return state->session;
        } else if (!shared_) {
            return std::nullopt;
        }
    }
    // A session another tower created or moved: the store is the truth. (The
    // watcher never drops an appointment for a session that exists.)
    auto stored = store_.get_session(account);
    if (!stored || !*stored) return std::nullopt;
    return *stored;
}

std::size_t TowerService::session_count() const {
    std::shared_lock lock(users_mutex_);
    return sessions_;
}

CommitterStats TowerService::committer_stats() const {
    return committer_ ? committer_->stats() : CommitterStats{};
}

std::size_t TowerService::user_count() const {
    std::shared_lock lock(users_mutex_);
    return users_.size();
}

}  // namespace argus::tower
