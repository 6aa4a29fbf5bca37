// The client's durable backup queue (SQLite, WAL, synchronous=FULL): every
// revoked state to back up, one delivery per (tower, backup), the receipts
// towers signed as proof, and each tower's subscription and standing. A
// backup is queued in one transaction with its deliveries, so a crash never
// loses one; an acknowledged delivery is never sent again.
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
};

struct Delivery {
    BackupRecord backup;
    std::uint32_t attempts = 0;
};

struct TowerStatus {
    TowerRecord tower;
    std::size_t pending = 0, acked = 0, failed = 0;
};

struct BackupView {
    BackupRecord backup;
    std::vector<std::pair<std::string, std::string>> deliveries;  // tower id hex, status
};

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
    Result<std::vector<Locator>> acked_locators(const PublicKey& tower);

    Result<std::vector<TowerStatus>> tower_status();
    Result<std::vector<BackupView>> backups();
    Result<std::size_t> pending_count();

private:
    struct Impl;
    explicit BackupQueue(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace argus::client
