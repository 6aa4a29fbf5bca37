// The client node's operations, shared by the daemon's HTTP API, the Core
// Lightning plugin and tests: towers, backups of revoked states, status.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "client/backup/backup_queue.h"
#include "client/backup/backup_worker.h"
#include "common/context.h"

namespace argus::client {

struct RevokedState {
    std::string commitment_txid;  // display hex, as Core Lightning and bitcoind print it
    std::string penalty_tx;       // hex of the signed justice transaction
    std::string channel_id;
    std::uint64_t commitment_number = 0;
    std::uint32_t to_self_delay = 0;
};

class ClientNode {
public:
    // Opens (creating) the data dir (0700): client key and queue database (0600).
    // The key is drawn from context.rng; due times and waits use context.clock.
    static Result<std::unique_ptr<ClientNode>> open(const std::string& data_dir, Context context,
                                                    BackupWorkerOptions options = {});
    ~ClientNode();

    void start() { worker_->start(); }
    void stop() { worker_->stop(); }

    Result<std::string> add_tower(std::string_view tower);  // "id@host:port"
    Status remove_tower(std::string_view tower_id_hex);
    // Validates, encrypts with the commitment txid and queues durably for every tower.
    Result<Locator> backup(const RevokedState& state);
    Status retry_now();
    Status audit() { return worker_->audit(); }

    nlohmann::json towers_json();
    nlohmann::json backups_json();
    nlohmann::json status_json();
    std::string metrics_text();  // Prometheus text format
    const PublicKey& user_id() const { return user_id_; }
    BackupQueue& queue() { return *queue_; }
    BackupWorker& worker() { return *worker_; }

private:
    ClientNode(Context context, PublicKey user_id) : context_(context), user_id_(user_id) {}
    std::int64_t now_ms();

    Context context_;
    std::unique_ptr<BackupQueue> queue_;
    std::unique_ptr<BackupWorker> worker_;
    PublicKey user_id_;
};

}  // namespace argus::client
