// The tower's persistent state behind one interface, with two backends
// (SQLite: embedded default; PostgreSQL: towers as a service) that pass one
// conformance suite. Every method is thread-safe. Every write is one durable
// transaction: when write() returns success the data survives kill -9.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
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

// How an appointment is triggered and what it carries. Only the teos kinds are
// produced today; the others are reserved for the LND and Electrum front doors.
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
    bool operator==(const TrackerRecord&) const = default;
};

// Applied in order inside one transaction: users, appointments, removals,
// trackers, tracker removals, chain position. A user must exist (in the store
// or earlier in the same batch) before its appointments and trackers.
struct WriteBatch {
    std::vector<UserRecord> users;                 // insert or update
    std::vector<AppointmentRecord> appointments;   // insert or replace
    std::vector<AppointmentKey> removed_appointments;
    std::vector<TrackerRecord> trackers;           // insert or replace
    std::vector<AppointmentKey> removed_trackers;
    std::optional<ChainPosition> chain_position;   // the block whose effects these are
    bool empty() const {
        return users.empty() && appointments.empty() && removed_appointments.empty() && trackers.empty() &&
               removed_trackers.empty() && !chain_position;
    }
};

struct StoreCounts {
    std::uint64_t users = 0;
    std::uint64_t appointments = 0;
};

class Store {
public:
    virtual ~Store() = default;
    virtual std::string backend_name() const = 0;

    virtual Status write(const WriteBatch& batch) = 0;
    virtual Result<std::vector<UserRecord>> load_users() = 0;
    virtual Result<std::optional<UserRecord>> get_user(const UserId& user) = 0;
    virtual Result<std::optional<AppointmentRecord>> get_appointment(const AppointmentKey& key) = 0;
    // Size of the stored blob, without reading it (slot accounting on update).
    virtual Result<std::optional<std::size_t>> get_blob_size(const AppointmentKey& key) = 0;
    virtual Result<std::vector<AppointmentRecord>> find_by_locator(const Locator& locator) = 0;
    virtual Result<std::vector<Locator>> user_locators(const UserId& user) = 0;
    // Streams every stored locator (building the watcher's in-memory index).
    virtual Status for_each_locator(const std::function<void(const Locator&)>& visit) = 0;
    // Deletes a user and all its appointments, in chunks of at most `chunk`
    // rows per transaction so no single huge DELETE runs. Returns appointments removed.
    virtual Result<std::uint64_t> remove_user(const UserId& user, std::size_t chunk = 10'000) = 0;
    virtual Result<StoreCounts> counts() = 0;

    virtual Result<std::vector<TrackerRecord>> load_trackers() = 0;

    virtual Result<std::optional<ChainPosition>> chain_position() = 0;
    virtual Status set_chain_position(const ChainPosition& position) = 0;

    // A cheap round trip (health checks): never scans a table.
    virtual Status ping() = 0;

    // Schema version currently applied.
    virtual Result<int> schema_version() = 0;
};

// Opens (creating if needed) and migrates. Fails when the database carries a
// schema newer than this build knows.
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path);
Result<std::unique_ptr<Store>> open_postgres_store(const std::string& connection_string,
                                                   std::size_t read_connections = 4);

}  // namespace argus::store
