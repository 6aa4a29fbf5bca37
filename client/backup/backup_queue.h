// The client's durable backup queue (SQLite, WAL, synchronous=FULL): every
// revoked state to back up, one delivery per (tower, backup), the receipts
// towers signed as proof, each tower's subscription and standing, and the
// breaches towers reported. A backup is queued in one transaction with its
// deliveries, so a crash never loses one; an acknowledged delivery is never
// sent again.
//
// The schema is a numbered list of migrations (backup_queue_schema_version,
// PRAGMA user_version), applied in order at open and never edited once
// released; a file from a newer build is refused.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/backup/teos_client.h"
#include "common/transaction.h"

namespace argus::client {

struct BackupRecord {
    Locator locator{};
    Txid commitment_txid;
    Bytes encrypted_blob;
    std::uint32_t to_self_delay = 0;
    std::string channel_id;
    std::uint64_t commitment_number = 0;
    // The penalty kit for this state, encrypted like the blob (empty: none);
    // sent instead of the blob to towers that advertise kits (migration 3).
    Bytes kit_blob;
};

enum class DeliveryStatus { pending, acked, failed };
const char* to_string(DeliveryStatus status);

struct TowerRecord {
    TowerAddress address;
    std::string standing = "active";  // active, misbehaving
    std::string misbehavior;
    bool registered = false;
    std::uint32_t available_slots = 0;
    std::uint32_t subscription_expiry = 0;
    std::uint32_t last_seen_height = 0;  // the tower's best height, from its receipts
    std::uint32_t kit_max_blob = 0;      // penalty kits it advertised (0: none)
};

struct Delivery {
    BackupRecord backup;
    std::uint32_t attempts = 0;
};

struct TowerStatus {
    TowerRecord tower;
    std::size_t pending = 0, acked = 0, failed = 0;
};

// A tower's report that a backed-up revoked commitment was broadcast and that
// it answered with the penalty (teos "dispute_responded"), checked against
// the backup (check_dispute_report) before it is recorded.
struct BreachRecord {
    Locator locator{};
    std::string channel_id;
    std::uint64_t commitment_number = 0;
    Txid dispute_txid;  // the revoked commitment
    Txid penalty_txid;
    PublicKey reported_by;  // the tower
    std::int64_t reported_ms = 0;
};

struct ChannelTowerSummary {
    std::string tower;  // id hex
    std::size_t pending = 0, acked = 0, failed = 0;
    std::optional<std::uint64_t> last_acked_commitment_number;
};

// One channel as the backups know it (backups handed over without a channel id share "").
struct ChannelSummary {
    std::string channel_id;
    std::size_t backups = 0;
    std::uint64_t highest_commitment_number = 0;
    std::vector<ChannelTowerSummary> towers;
    std::optional<BreachRecord> breach;  // the first reported
};

struct BackupView {
    BackupRecord backup;
    std::vector<std::pair<std::string, std::string>> deliveries;  // tower id hex, status
};

// Migrations: 1, towers, backups and deliveries (what builds before
// versioning wrote, user_version 0); 2, breaches.
inline constexpr int backup_queue_schema_version = 3;

class BackupQueue {
public:
    static Result<std::unique_ptr<BackupQueue>> open(const std::string& path);
    ~BackupQueue();

    Status add_tower(const TowerAddress& tower, std::int64_t now_ms);  // replicates every existing backup
    Status remove_tower(const PublicKey& tower);
    // False when the locator was already queued (the call is idempotent).
    Result<bool> enqueue(const BackupRecord& backup, std::int64_t now_ms);

    Result<std::vector<TowerRecord>> towers();
    Result<std::vector<Delivery>> due(const PublicKey& tower, std::int64_t now_ms, std::size_t limit);
    Status mark_acked(const PublicKey& tower, const Locator& locator, const AppointmentReceipt& receipt);
    Status mark_retry(const PublicKey& tower, const Locator& locator, const std::string& error, std::int64_t next_ms);
    Status mark_failed(const PublicKey& tower, const Locator& locator, const std::string& error);
    Status set_registration(const PublicKey& tower, const RegistrationReceipt& receipt);
    Status set_slots(const PublicKey& tower, std::uint32_t available_slots, std::uint32_t subscription_expiry,
                     std::uint32_t height);
    Status mark_misbehaving(const PublicKey& tower, const std::string& why);
    Status retry_now(std::int64_t now_ms);
    // Acknowledged locators of a tower, for auditing that it still holds them.
    // A locator with a recorded breach is left out: a tower forgets a
    // responded appointment once its penalty is resolved, which is no denial.
    Result<std::vector<Locator>> acked_locators(const PublicKey& tower);

    // Backups acknowledged by `tower` to ask about breaches, in locator order
    // after `after` (all zero: from the start), at most `limit`. Left out:
    // channels with a recorded breach (for backups without a channel id, only
    // the breached backup itself).
    Result<std::vector<BackupRecord>> breach_check_candidates(const PublicKey& tower, const Locator& after,
                                                              std::size_t limit);
    // False when this backup's breach was already recorded (by any tower).
    Result<bool> record_breach(const BreachRecord& breach);
    Result<std::vector<BreachRecord>> breaches();  // in the order they were recorded
    Result<std::vector<ChannelSummary>> channels();  // by channel id

    Result<std::vector<TowerStatus>> tower_status();
    Result<std::vector<BackupView>> backups();
    Result<std::size_t> pending_count();

private:
    struct Impl;
    explicit BackupQueue(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace argus::client
