// The tower's persistent state behind one interface, with two backends
// (SQLite: embedded default; PostgreSQL: towers as a service) that pass one
// conformance suite. Every method is thread-safe. Every write is one durable
// transaction: when write() returns success the data survives kill -9.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "common/transaction.h"
#include "common/watchtower_crypto.h"

namespace argus::store {

using UserId = ByteArray<33>;  // compressed public key

struct UserRecord {
    UserId user_id{};
    std::uint32_t available_slots = 0;
    std::uint32_t subscription_start = 0;
    std::uint32_t subscription_expiry = 0;
    bool operator==(const UserRecord&) const = default;
};

// How an appointment is triggered and what it carries: teos (txid locator,
// encrypted penalty) and LND wtwire (SHA256 hint, encrypted justice kit); the
// spent-outpoint / plaintext-sweep kinds are reserved for the Electrum front door.
enum class TriggerKind : std::uint8_t { txid_locator = 0, txid_hint = 1, spent_outpoint = 2 };
enum class PayloadKind : std::uint8_t { encrypted_penalty = 0, encrypted_justice_kit = 1, plaintext_sweep = 2 };

struct AppointmentRecord {
    Locator locator{};
    UserId user_id{};
    TriggerKind trigger = TriggerKind::txid_locator;
    PayloadKind payload = PayloadKind::encrypted_penalty;
    std::uint32_t to_self_delay = 0;
    std::uint32_t start_block = 0;
    Bytes blob;
    bool operator==(const AppointmentRecord&) const = default;
};

struct AppointmentKey {
    Locator locator{};
    UserId user_id{};
};

// Store user ids are namespaced by their first byte: 0x02/0x03 are teos users
// (their compressed public key); 0x12/0x13 are LND wtwire sessions (the
// session's public key with 0x10 added to its prefix), so a teos registration,
// which is unsigned, can never touch a session's account.
inline constexpr std::uint8_t session_account_tag = 0x10;
inline UserId session_account(const ByteArray<33>& session_key) {
    UserId account = session_key;
    account[0] = static_cast<std::uint8_t>(account[0] | session_account_tag);
    return account;
}
inline bool is_session_account(const UserId& account) { return account[0] == 0x12 || account[0] == 0x13; }
inline ByteArray<33> session_key_of(const UserId& account) {
    ByteArray<33> key = account;
    key[0] = static_cast<std::uint8_t>(key[0] & ~session_account_tag);
    return key;
}
// A session account never expires (lnd sessions end with DeleteSession).
inline constexpr std::uint32_t never_expires = 0xffffffffu;

// An LND watchtower (wtwire) session: what CreateSession negotiated and how
// far its StateUpdates went (lnd wtdb.SessionInfo). Its account is a user.
struct SessionRecord {
    UserId account{};  // session_account(session key)
    std::uint16_t blob_type = 0;
    std::uint16_t max_updates = 0;
    std::uint32_t reward_base = 0;
    std::uint32_t reward_rate = 0;
    std::uint64_t sweep_fee_rate = 0;  // sat/kw
    std::uint16_t last_applied = 0;
    std::uint16_t client_last_applied = 0;
    Bytes reward_script;  // empty for altruist sessions
    bool operator==(const SessionRecord&) const = default;
};

// Electrum watchtower accounts (Electrum 4.3.4): a users row whose id is
// electrum_account(username) -- prefix 0x20 | SHA256 of the username's bytes
// in the rest, so it is never a valid teos key (0x02/0x03) or a session
// account (0x12/0x13) -- and a password hash (libsodium crypto_pwhash_str).
inline constexpr std::uint8_t electrum_account_tag = 0x20;
inline bool is_electrum_account(const UserId& account) { return account[0] == electrum_account_tag; }
struct ElectrumAccountRecord {
    std::string username;
    UserId account{};
    std::string password_hash;
    bool operator==(const ElectrumAccountRecord&) const = default;
};
// A channel an Electrum client registered (get_ctn): its funding outpoint and
// the highest commitment number whose sweeps are stored (-1: none yet).
struct ElectrumChannelRecord {
    UserId account{};
    Txid funding_txid;
    std::uint32_t funding_vout = 0;
    std::string funding_address;
    std::int64_t max_ctn = -1;
    bool operator==(const ElectrumChannelRecord&) const = default;
};

// How a watched funding outpoint was spent: the watcher's record of a channel's close.
enum class CloseType : std::uint8_t { cooperative = 1, unilateral = 2, breach = 3 };
inline const char* to_string(CloseType type) {
    switch (type) {
        case CloseType::cooperative: return "cooperative";
        case CloseType::unilateral: return "unilateral";
        case CloseType::breach: return "breach";
    }
    return "unknown";
}
struct ChannelCloseRecord {
    Txid funding_txid;
    std::uint32_t funding_vout = 0;
    Txid closing_txid;
    std::uint32_t height = 0;
    CloseType type = CloseType::cooperative;
    std::optional<Txid> penalty_txid;  // a breach: the sweep the tower broadcast
    bool operator==(const ChannelCloseRecord&) const = default;
};

struct ChainPosition {
    std::uint32_t height = 0;
    Hash256 block_hash{};  // internal byte order
    bool operator==(const ChainPosition&) const = default;
};

// A triggered appointment the responder follows until its penalty is deep enough.
struct TrackerRecord {
    Locator locator{};
    UserId user_id{};
    Txid dispute_txid;
    Bytes dispute_tx;
    Txid penalty_txid;
    Bytes penalty_tx;
    std::uint32_t broadcast_height = 0;
    std::optional<std::uint32_t> confirmed_height;
    std::uint32_t blob_size = 0;  // the triggered appointment's, for the slot refund
    // Set while bitcoind's mempool refuses the penalty for its fee: it is sent
    // again every block until this height (the end of the dispute's CSV window).
    std::optional<std::uint32_t> waiting_for_fee_until;
    // A breach answered with a penalty kit: its per-output response
    // (watch/kit_response.h, encoded); the penalty above is then the one shown
    // to the client. Empty: one classic penalty.
    Bytes kit_state;
    bool operator==(const TrackerRecord&) const = default;
};

// One write operation. A batch is an ordered list of them, applied in order
// inside one transaction: a later operation on the same key sees (and
// overrides) an earlier one, whatever their kinds. A user must exist (in the
// store or earlier in the batch) before its appointments and trackers.
struct PutUser {
    UserRecord user;
    // Set: written only if the stored row is still at this version (0: no
    // row yet), else the whole write fails with ErrorCode::conflict; the row
    // then takes `new_version` (non-zero, unique to this writer: a value no
    // other tower can produce, so a write chained on a failed one can never
    // match another tower's). Unset: written whatever the version, which then
    // moves to a random value. PostgreSQL; SQLite (one process) keeps none.
    std::optional<std::uint64_t> expected_version;
    std::uint64_t new_version = 0;
};
struct AddSlots {  // adds to a user's available slots (refunds), capped at 2^32-1; no row, no effect
    UserId user{};
    std::uint32_t slots = 0;
};
struct PutAppointment {  // insert or replace
    AppointmentRecord appointment;
    // The writer knows no appointment of this user has this locator (stored
    // or being written): PostgreSQL then inserts without looking for one to
    // replace in every partition. Wrong here means a duplicate row.
    bool known_new = false;
};
struct RemoveAppointment {
    AppointmentKey key;
};
struct PutTracker {  // insert or replace; skipped when its user no longer exists
    TrackerRecord tracker;
};
struct RemoveTracker {
    AppointmentKey key;
};
struct PutSession {  // insert or replace; its account user must exist
    SessionRecord session;
};
struct RemoveUser {  // the user, its appointments, trackers and session
    UserId user{};
};
struct SetChainPosition {  // the block whose effects the batch carries
    ChainPosition position;
};
struct PutElectrumAccount {  // insert or replace; its account user must exist
    ElectrumAccountRecord account;
};
struct PutElectrumChannel {  // insert or replace; its account user must exist
    ElectrumChannelRecord channel;
};
struct PutChannelClose {  // insert or replace, by funding outpoint
    ChannelCloseRecord close;
};
struct RemoveChannelClose {  // its spend left the chain
    Txid funding_txid;
    std::uint32_t funding_vout = 0;
};
using WriteOperation =
    std::variant<PutUser, PutAppointment, RemoveAppointment, PutTracker, RemoveTracker, PutSession, RemoveUser,
                 SetChainPosition, PutElectrumAccount, PutElectrumChannel, PutChannelClose, RemoveChannelClose,
                 AddSlots>;

struct WriteBatch {
    std::vector<WriteOperation> operations;
    // The elected watcher's writes carry its epoch: PostgreSQL commits the
    // batch only while the group's epoch is still this one (else
    // ErrorCode::fenced). SQLite (one process) ignores it.
    std::optional<std::uint64_t> fence_epoch;

    WriteBatch& put_user(UserRecord user) { return add(PutUser{std::move(user), std::nullopt, 0}); }
    // A versioned write (see PutUser): {expected, new}.
    WriteBatch& put_user(UserRecord user, std::optional<std::pair<std::uint64_t, std::uint64_t>> versions) {
        if (!versions) return put_user(std::move(user));
        return add(PutUser{std::move(user), versions->first, versions->second});
    }
    WriteBatch& add_slots(const UserId& user, std::uint32_t slots) { return add(AddSlots{user, slots}); }
    WriteBatch& put_appointment(AppointmentRecord a, bool known_new = false) {
        return add(PutAppointment{std::move(a), known_new});
    }
    WriteBatch& remove_appointment(AppointmentKey key) { return add(RemoveAppointment{key}); }
    WriteBatch& put_tracker(TrackerRecord t) { return add(PutTracker{std::move(t)}); }
    WriteBatch& remove_tracker(AppointmentKey key) { return add(RemoveTracker{key}); }
    WriteBatch& put_session(SessionRecord s) { return add(PutSession{std::move(s)}); }
    WriteBatch& remove_user(const UserId& user) { return add(RemoveUser{user}); }
    WriteBatch& set_chain_position(ChainPosition position) { return add(SetChainPosition{position}); }
    WriteBatch& put_electrum_account(ElectrumAccountRecord a) { return add(PutElectrumAccount{std::move(a)}); }
    WriteBatch& put_electrum_channel(ElectrumChannelRecord c) { return add(PutElectrumChannel{std::move(c)}); }
    WriteBatch& put_channel_close(ChannelCloseRecord c) { return add(PutChannelClose{c}); }
    WriteBatch& remove_channel_close(const Txid& txid, std::uint32_t vout) { return add(RemoveChannelClose{txid, vout}); }
    WriteBatch& add(WriteOperation operation) {
        operations.push_back(std::move(operation));
        return *this;
    }
    // Appends `later`'s operations after this batch's, keeping their order.
    void append(WriteBatch&& later) {
        if (later.fence_epoch) fence_epoch = later.fence_epoch;
        operations.insert(operations.end(), std::make_move_iterator(later.operations.begin()),
                          std::make_move_iterator(later.operations.end()));
    }
    bool empty() const { return operations.empty(); }
};

// What a committed batch changed in the set of stored appointments, net of all
// its operations: the locators of appointments that did not exist before the
// batch and do after it, and of those that existed and no longer do. The
// in-memory locator index changes only from these.
struct WriteEffects {
    std::vector<Locator> inserted;
    std::vector<Locator> removed;
};

// What the towers of a group wrote (PostgreSQL, --ha): each tower follows the
// others' rows to keep its locator index current, and the elected watcher
// checks every stored appointment against recent blocks.
struct FeedEntry {
    // watched: a funding outpoint registered for channel monitoring.
    enum class Kind : std::uint8_t { entered = 1, left = 2, stored = 3, watched = 4 };
    std::uint64_t seq = 0;
    std::uint64_t origin = 0;  // the writing process's feed origin
    Kind kind = Kind::entered;
    Locator locator{};
    std::optional<UserId> user;  // stored: whose appointment
    std::optional<OutPoint> outpoint;  // watched
    bool operator==(const FeedEntry&) const = default;
};
struct FeedBounds {
    std::uint64_t first = 0;  // 0: the feed is empty
    std::uint64_t last = 0;
};

// A user as stored, with its row version (PostgreSQL; SQLite: 0).
struct VersionedUser {
    UserRecord user;
    std::uint64_t version = 0;
};

struct StoreCounts {
    std::uint64_t users = 0;
    std::uint64_t appointments = 0;
};

// What an online backup holds: the snapshot's contents, read back from the copy.
struct BackupInfo {
    std::string path;
    std::uint64_t bytes = 0;
    StoreCounts counts;
    std::optional<ChainPosition> chain_position;  // where a tower restored from it resumes
    int schema_version = 0;
};

class Store {
public:
    virtual ~Store() = default;
    virtual std::string backend_name() const = 0;

    // One durable transaction; on success returns what it changed.
    virtual Result<WriteEffects> write(const WriteBatch& batch) = 0;
    // Removals of whole users (only RemoveUser operations, else
    // ErrorCode::invalid_argument) written on a connection of their own,
    // concurrently with write(): a day's expiry at scale reads and deletes
    // rows all over the table, and must not hold up the writes behind it.
    // The same transaction rules as write() (fence, write barrier, count).
    // The caller orders them: nothing of these users may be in a write() under
    // way. Backends that cannot (SQLite, one writer) say so in writes_apart()
    // and answer ErrorCode::unsupported.
    virtual bool writes_apart() const { return false; }
    virtual Result<WriteEffects> write_apart(const WriteBatch& batch);
    // New appointments of existing users in bulk, in one transaction
    // (imports, the scale benchmark): PostgreSQL COPY, SQLite prepared
    // inserts. Every (user, locator) must be new, as for a PutAppointment
    // known_new: a key twice in the load, or an unknown user, fails the whole
    // load; one already stored is refused by SQLite, not looked for by
    // PostgreSQL. Reports no effects: a tower reads the store again at start.
    virtual Status bulk_load_appointments(std::span<const AppointmentRecord> appointments) = 0;
    virtual Result<std::vector<UserRecord>> load_users() = 0;
    virtual Result<std::optional<UserRecord>> get_user(const UserId& user) = 0;
    virtual Result<std::optional<AppointmentRecord>> get_appointment(const AppointmentKey& key) = 0;
    // Size of the stored blob, without reading it (slot accounting on update).
    virtual Result<std::optional<std::size_t>> get_blob_size(const AppointmentKey& key) = 0;
    virtual Result<std::vector<AppointmentRecord>> find_by_locator(const Locator& locator) = 0;
    // The appointments of several locators (a block's candidates), in one
    // read where the backend can: every record whose locator is one of them.
    virtual Result<std::vector<AppointmentRecord>> find_by_locators(std::span<const Locator> locators);
    virtual Result<std::vector<Locator>> user_locators(const UserId& user) = 0;
    // Streams every stored locator's first 8 bytes (building the watcher's
    // in-memory index of prefixes), in batches: the other 8 bytes may be
    // zero. On an error, the batches visited so far are not all there is.
    virtual Status for_each_locator_prefix(const std::function<void(std::span<const Locator>)>& visit) = 0;
    virtual Result<StoreCounts> counts() = 0;

    virtual Result<std::vector<TrackerRecord>> load_trackers() = 0;
    virtual Result<std::vector<SessionRecord>> load_sessions() = 0;
    virtual Result<std::vector<ElectrumAccountRecord>> load_electrum_accounts() = 0;
    virtual Result<std::vector<ElectrumChannelRecord>> load_electrum_channels() = 0;
    virtual Result<std::vector<ChannelCloseRecord>> load_channel_closes() = 0;

    virtual Result<std::optional<ChainPosition>> chain_position() = 0;
    virtual Status set_chain_position(const ChainPosition& position) = 0;

    // A cheap round trip (health checks): never scans a table.
    virtual Status ping() = 0;

    // Lookups by key (a tower of a group reading what another wrote). The
    // defaults filter the full loads, which is right for SQLite's sizes.
    virtual Result<std::optional<VersionedUser>> get_user_versioned(const UserId& user);
    virtual Result<std::vector<VersionedUser>> load_users_versioned();
    virtual Result<std::optional<SessionRecord>> get_session(const UserId& account);
    virtual Result<std::optional<TrackerRecord>> get_tracker(const AppointmentKey& key);
    virtual Result<std::vector<ElectrumChannelRecord>> electrum_channels_of(const UserId& account);

    // The group's feed (PostgreSQL opened with a feed origin; others answer
    // ErrorCode::unsupported). Entries after `after`, in seq order.
    virtual Result<std::vector<FeedEntry>> read_feed(std::uint64_t after, std::size_t limit);
    // The same, without this store's own entries (what a tower follows).
    virtual Result<std::vector<FeedEntry>> read_others_feed(std::uint64_t after, std::size_t limit);
    virtual Result<FeedBounds> feed_bounds();
    // Entries of the stored kind written within `age` (a new watcher's late checks).
    virtual Result<std::vector<FeedEntry>> recent_feed(std::chrono::seconds age, std::size_t limit);
    // Users whose subscription is outdated at `height` (expiry + delta <= height;
    // never session accounts), read from the store: a group's watcher removes
    // users it never had in memory too.
    virtual Result<std::vector<UserId>> outdated_users(std::uint32_t height, std::uint32_t expiry_delta);
    // Waits up to `timeout` for a notification that the feed grew (LISTEN,
    // on a connection of its own); returns early on one. Timeouts are not errors.
    virtual Status wait_for_feed(std::chrono::milliseconds timeout);
    // Deletes entries older than `age`. Returns how many.
    virtual Result<std::uint64_t> prune_feed(std::chrono::seconds age);
    // The group's current watcher epoch and holder (nullopt: never elected).
    virtual Result<std::optional<std::pair<std::uint64_t, std::string>>> leader_epoch();

    // Schema version currently applied.
    virtual Result<int> schema_version() = 0;

    // An online, consistent copy of the whole store at `destination` (a new
    // file: never overwritten), taken while writes go on. SQLite only: a
    // PostgreSQL store answers ErrorCode::unsupported (pg_basebackup / PITR,
    // docs/operations.md).
    virtual Result<BackupInfo> backup(const std::string& destination) = 0;
};

// Opens (creating if needed) and migrates. Fails when the database carries a
// schema newer than this build knows.
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path);
// PostgreSQL: every write transaction holds this advisory lock shared, and
// opening the store waits for it exclusively, so a tower never reads state
// while a killed predecessor's last transaction may still commit.
inline constexpr long long postgres_write_barrier_key = 0x4152475553574254;  // "ARGUSWBT"
// Feed rows get their seq under this lock, held exclusively until commit.
inline constexpr long long postgres_feed_lock_key = 0x4152475553464544;  // "ARGUSFED"
// The session-level lock whose holder is the group's elected watcher.
inline constexpr long long postgres_leader_lock_key = 0x415247555357544c;  // "ARGUSWTL"
inline constexpr const char* postgres_feed_channel = "argus_feed";

struct PostgresStoreOptions {
    std::size_t read_connections = 4;
    // Non-zero: a tower of a group (--ha). Every write appends its effects to
    // the feed under this origin and notifies the others; the writer's
    // transactions idle at most `idle_in_transaction` (a paused process's
    // open transaction cannot block a takeover).
    std::uint64_t feed_origin = 0;
    std::chrono::milliseconds idle_in_transaction{5000};
};
Result<std::unique_ptr<Store>> open_postgres_store(const std::string& connection_string,
                                                   std::size_t read_connections = 4);
Result<std::unique_ptr<Store>> open_postgres_store(const std::string& connection_string,
                                                   const PostgresStoreOptions& options);

// The elected watcher of a group of towers on one PostgreSQL database: a
// session-level advisory lock (postgres_leader_lock_key) held on a connection
// of its own. PostgreSQL ends that session, and so frees the lock, when the
// process dies (its socket closes) or when it stops sending heartbeats for
// `lease` (idle_session_timeout: a paused or partitioned holder), so a
// standby can take over. Not thread-safe: one thread drives it.
class LeaderLease {
public:
    virtual ~LeaderLease() = default;
    // Tries to take the lock; on success increments the group's epoch and
    // returns it. nullopt: another process holds it.
    virtual Result<std::optional<std::uint64_t>> try_acquire() = 0;
    // While held: one round trip that keeps the session alive. An error: the
    // session, and the lock with it, is gone.
    virtual Status heartbeat() = 0;
    virtual void release() = 0;
};
Result<std::unique_ptr<LeaderLease>> open_postgres_leader_lease(const std::string& connection_string,
                                                                std::string holder, std::chrono::milliseconds lease);

}  // namespace argus::store
