// The tower's public operations (register, add/get appointment, subscription
// info) and operator operations, independent of HTTP.
//
// Users live in memory (as in rust-teos) with the store as the truth. Each user
// has its own lock, so different users never wait on each other. A mutation is
// applied in memory, queued to the group committer under that lock, and only
// acknowledged once its transaction is durable. If a write fails, the service
// fails everything queued, reloads users from the store and answers 503 until
// the reload succeeds: memory never drifts from what is durable.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/context.h"
#include "common/keys.h"
#include "common/teos_protocol.h"
#include "server/store/store.h"
#include "server/tower/api_error.h"
#include "server/tower/electrum_accounts.h"
#include "server/tower/group_committer.h"
#include "server/tower/locator_index.h"
#include "server/tower/outpoint_index.h"
#include "server/tower/session_rules.h"
#include "server/tower/subscription.h"

namespace argus::tower {

struct ChainStatus {
    std::uint32_t height = 0;
    bool reachable = false;
};

struct RegisterReply {
    store::UserId user_id{};
    std::uint32_t available_slots = 0;
    std::uint32_t subscription_start = 0;
    std::uint32_t subscription_expiry = 0;
    std::string subscription_signature;
    // Argus-only: the largest encrypted penalty kit the front door takes (0: none).
    std::uint32_t kit_max_blob = 0;
};

struct AddAppointmentRequest {
    Locator locator{};
    Bytes encrypted_blob;
    std::uint32_t to_self_delay = 0;
    std::string signature;  // zbase32, by the user
};

struct AddAppointmentReply {
    Locator locator{};
    std::uint32_t start_block = 0;
    std::string signature;  // the tower's receipt signature
    std::uint32_t available_slots = 0;
    std::uint32_t subscription_expiry = 0;
};

// A triggered appointment as the responder tracks it (teos "dispute_responded").
struct TrackerView {
    Txid dispute_txid;
    Txid penalty_txid;
    Bytes penalty_rawtx;
    std::optional<std::uint32_t> waiting_for_fee_until;  // the mempool refuses it for its fee; retried until then
    std::optional<std::uint32_t> confirmed_height;       // the penalty's block, once mined
    Bytes kit_state;  // a penalty kit's per-output response (watch/kit_response.h); empty: classic
};

struct AppointmentView {
    std::optional<store::AppointmentRecord> appointment;  // being_watched
    std::optional<TrackerView> tracker;                   // dispute_responded
};

struct SubscriptionInfo {
    std::uint32_t available_slots = 0;
    std::uint32_t subscription_expiry = 0;
    std::vector<Locator> locators;
};

// A wtwire reply: code, last_applied and data (CreateSessionReply's reward
// script), as the front door sends it.
struct WtwireReply {
    std::uint16_t code = wtwire::code::ok;
    std::uint16_t last_applied = 0;
    Bytes data;
};

struct TowerHooks {
    // Responder: is this appointment already being responded to? (teos code 35)
    std::function<std::optional<TrackerView>(const Locator&, const store::UserId&)> tracker_for;
    // Watcher: called after every appointment is durably stored and indexed,
    // to check it against the blocks scanned before it was indexed.
    std::function<void(store::AppointmentRecord)> on_appointment_stored;
};

struct UserIdHash {
    std::size_t operator()(const store::UserId& id) const;
};

class TowerService {
public:
    TowerService(store::Store& store, LocatorIndex& index, PrivateKey tower_key, SubscriptionPolicy policy,
                 std::function<ChainStatus()> chain, TowerHooks hooks = {}, Clock& clock = system_clock());
    ~TowerService();

    // A tower of a group (--ha): other processes write the same store. Each
    // write first reads the user's row version (and the user, if another
    // tower created it) and is written only at that version; a user another
    // tower wrote is never trusted to the locator index. Before start().
    // `origin` (non-zero, random per process) makes this tower's user row
    // versions its own.
    void set_shared_store(bool shared, std::uint64_t origin = 0);
    bool shared_store() const { return shared_; }
    // PostgreSQL: the watcher is elected, and its writes without an epoch
    // (none held) are refused as fenced.
    void set_elected(bool elected) { elected_ = elected; }
    // Whether blocks need lnd hints computed: a session exists here, or may
    // exist on another tower of the group.
    bool hints_needed() const { return shared_ || session_count() > 0; }
    // The feed thread: every entry up to `seq` is applied to the index.
    void set_feed_applied(std::uint64_t seq) { feed_applied_ = seq; }
    // A funding outpoint another tower of the group registered (the feed).
    void watch_funding_outpoint(const OutPoint& funding) { funding_index_.insert(funding); }
    // The elected watcher's epoch (0: none): the watcher's writes
    // (commit_chain_effects, expiry removals) carry it and fail once fenced.
    void set_watcher_epoch(std::uint64_t epoch) { watcher_epoch_ = epoch; }
    std::uint64_t watcher_epoch() const { return watcher_epoch_; }

    // Loads users and the locator index from the store.
    Status start();
    void stop();

    const PublicKey& tower_id() const { return tower_id_; }

    void register_user(const store::UserId& user, std::function<void(ApiResult<RegisterReply>)> done);
    void add_appointment(AddAppointmentRequest request, std::function<void(ApiResult<AddAppointmentReply>)> done);
    ApiResult<AppointmentView> get_appointment(const Locator& locator, std::string_view signature);
    ApiResult<SubscriptionInfo> get_subscription_info(std::string_view signature);

    // LND wtwire sessions (lnd wtserver semantics, session_rules.h). The
    // session key is the client's BOLT 8 static key. Each reply is sent only
    // once its write is durable; store trouble answers temporary failure.
    void set_wtwire_policy(WtwirePolicy policy) { wtwire_policy_ = std::move(policy); }
    void create_session(const PublicKey& session_key, const wtwire::CreateSession& request,
                        std::function<void(WtwireReply)> done);
    void state_update(const PublicKey& session_key, wtwire::StateUpdate update, std::function<void(WtwireReply)> done);
    void delete_session(const PublicKey& session_key, std::function<void(WtwireReply)> done);
    // The watcher's view of a session (its policy builds the justice transaction).
    // Shared store: a session another tower created is read from the store.
    std::optional<store::SessionRecord> session(const store::UserId& account);
    std::size_t session_count() const;

    // Electrum watchtower front door (Electrum 4.3.4 lnworker/lnwatcher).
    // Accounts are created and removed by the operator (blocking, through
    // the group committer); get_ctn registers a channel and answers the
    // highest commitment number whose sweeps are stored (-1: none, so the
    // client also sends ctn 0); add_sweep_tx stores a signed sweep as an
    // appointment triggered by its prevout's txid. Replies only after the
    // write is durable.
    Result<store::ElectrumAccountRecord> create_electrum_account(const std::string& username, const std::string& password);
    Result<std::uint64_t> remove_electrum_account(const std::string& username);
    std::vector<store::ElectrumChannelRecord> electrum_channels(const store::UserId& account) const;
    std::vector<store::ElectrumAccountRecord> electrum_accounts() const;
    std::optional<store::UserId> electrum_authenticate(std::string_view username, std::string_view password);
    // Every funding outpoint a client registered: the watcher checks each
    // block's inputs against it (a channel registered before its write is
    // durable is watched already).
    const OutpointIndex& funding_outpoints() const { return funding_index_; }
    void electrum_get_ctn(const store::UserId& account, const OutPoint& funding, std::string funding_address,
                          std::function<void(ApiResult<std::int64_t>)> done);
    void electrum_add_sweep(const store::UserId& account, const OutPoint& funding, std::int64_t ctn,
                            const OutPoint& prevout, Bytes raw_sweep, std::function<void(ApiResult<bool>)> done);

    // Chain effects of one block (or one late breach), made durable through the
    // group committer in order with API writes. `refunds` adds slots back to
    // users (resolved trackers). The locator index follows what the
    // transaction changed. Blocks until durable.
    Status commit_chain_effects(store::WriteBatch batch,
                                const std::vector<std::pair<store::UserId, std::uint32_t>>& refunds);

    // Operator interface.
    std::vector<store::UserRecord> list_users() const;
    std::optional<store::UserRecord> get_user(const store::UserId& user) const;
    // In order with every other write: through the group committer, or, on
    // a store that writes apart (PostgreSQL), after what was queued for them
    // and beside later writes. Returns the appointments the users had.
    Result<std::uint64_t> remove_user(const store::UserId& user);
    Result<std::uint64_t> remove_users(const std::vector<store::UserId>& users);
    // Removes users outdated at `height` (expiry + expiry_delta), as the
    // watcher (fenced). Returns how many.
    Result<std::size_t> remove_outdated_users(std::uint32_t height);
    CommitterStats committer_stats() const;
    void set_commit_observer(std::function<void(std::size_t, double, bool)> observer) {
        if (committer_) committer_->set_observer(std::move(observer));
    }
    std::size_t user_count() const;
    bool healthy() const;

private:
    struct UserState;
    using UserMap = std::unordered_map<store::UserId, std::shared_ptr<UserState>, UserIdHash>;

    std::shared_ptr<UserState> find_user(const store::UserId& user) const;  // map lock held by caller
    // Shared store: a user another tower created is read into memory (no map lock held).
    Status adopt_user(const store::UserId& user);
    // Shared store, user lock held: reads the user's row again unless this
    // tower's own writes are in flight. Returns whether the locator index may
    // answer for this user's appointments (false: read the store).
    Result<bool> sync_user(UserState& state);
    // The version the next write of this user expects (user lock held).
    std::optional<std::pair<std::uint64_t, std::uint64_t>> take_version(UserState& state);
    std::uint64_t foreign_horizon();
    bool trusts_index(const UserState& state) const;
    // Submits a write of this user, counting it in flight (user lock held).
    bool submit_user_write(const std::shared_ptr<UserState>& state, store::WriteBatch batch, GroupCommitter::Done done);
    Status remove_users(const std::vector<store::UserId>& users, std::uint64_t fence);  // nothing read first
    // Removal apart from the group commit (Store::writes_apart): the users
    // leave memory, the writes already queued for them are waited for, and
    // the store removes them on a connection of its own while other writes
    // go on. Until it ends no one may create them again (being_removed).
    Status remove_users_apart(const std::vector<store::UserId>& users, std::uint64_t fence);
    // Erases the users from memory and returns the batch that removes them
    // from the store (map lock held exclusively).
    store::WriteBatch take_out_of_memory(const std::vector<store::UserId>& users, std::uint64_t fence);
    bool being_removed(const store::UserId& user) const { return removing_.count(user) != 0; }  // map lock held
    // Waits until everything queued before it is written (or failed).
    Status committer_barrier();
    // After a removal apart failed: the users are read back from the store
    // once nothing is in flight (a reload on the committer thread).
    void restore_removed_users(const std::vector<store::UserId>& users);
    void on_commit_failure(const Error& error);
    void apply_to_index(const store::WriteEffects& effects);  // committer thread
    // Exclusive map lock held by caller. After start, in a group, every user
    // is treated as written by another tower (the index was not reloaded).
    Status reload_users(bool at_start = false);
    bool try_resync();

    Clock& clock_;
    store::Store& store_;
    LocatorIndex& index_;
    PrivateKey tower_key_;
    PublicKey tower_id_;
    SubscriptionPolicy policy_;
    WtwirePolicy wtwire_policy_;
    std::function<ChainStatus()> chain_;
    TowerHooks hooks_;

    mutable std::shared_mutex users_mutex_;
    UserMap users_;
    std::unordered_set<store::UserId, UserIdHash> removing_;  // removals apart under way
    std::atomic<bool> resync_on_committer_{false};  // restore_removed_users: try_resync waits for it
    std::atomic<std::size_t> sessions_{0};  // users with a wtwire session
    ElectrumAccounts electrum_;
    OutpointIndex funding_index_;
    bool healthy_ = false;
    bool shared_ = false;
    bool elected_ = false;
    std::uint64_t version_origin_ = 0;
    std::atomic<std::uint64_t> version_counter_{0};
    std::atomic<std::uint64_t> watcher_epoch_{0};
    std::atomic<std::uint64_t> feed_applied_{0};
    std::mutex electrum_reload_mutex_;
    std::chrono::steady_clock::time_point electrum_reloaded_{};
    std::string last_store_error_;  // why the last reload failed
    std::unique_ptr<GroupCommitter> committer_;
};

}  // namespace argus::tower
