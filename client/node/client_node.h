// The client node's operations, shared by the daemon's HTTP API, the Core
// Lightning plugin and tests: towers, backups of revoked states, status, the
// channels backed up and the breaches towers reported, and the event feed
// (backup_acknowledged, breach_reported) wallets long-poll.
#pragma once


#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "client/backup/backup_queue.h"
#include "client/backup/backup_worker.h"
#include "client/node/chain_watch.h"
#include "client/node/event_feed.h"
#include "common/context.h"
#include "common/penalty_kit.h"

namespace argus::client {

struct RevokedState {
    std::string commitment_txid;  // display hex, as Core Lightning and bitcoind print it
    std::string penalty_tx;       // hex of the signed justice transaction
    std::string channel_id;
    std::uint64_t commitment_number = 0;
    std::uint32_t to_self_delay = 0;
    // The channel's funding outpoint, for the client's own chain view (needs a channel_id).
    std::optional<OutPoint> funding_outpoint;
    // The penalty kit for this state (channel-material mode builds one), sent
    // to towers that advertise kits.
    std::optional<kit::PenaltyKit> kit;
};

class ClientNode {
public:
    // Opens (creating) the data dir (0700): client key and queue database (0600).
    // The key and the event stream id are drawn from context.rng; due times
    // and waits use context.clock. The breaches on record are published to
    // the event feed first, so a wallet polling from the start sees them.
    // The chain view's file (chain.sqlite) is opened too; it follows bitcoind
    // when chain.rpc is set.
    static Result<std::unique_ptr<ClientNode>> open(const std::string& data_dir, Context context,
                                                    BackupWorkerOptions options = {}, ChainWatchOptions chain = {});
    ~ClientNode();

    void start() {
        events_->start();
        worker_->start();
        chain_->start();
    }
    void stop() {
        chain_->stop();
        worker_->stop();
        events_->stop();
    }

    Result<std::string> add_tower(std::string_view tower);  // "id@host:port"
    Status remove_tower(std::string_view tower_id_hex);
    // Validates, encrypts with the commitment txid and queues durably for every tower.
    Result<Locator> backup(const RevokedState& state);
    Status retry_now();
    Status audit() { return worker_->audit(); }
    // Records a channel's funding outpoint for the chain view (channel material mode does this itself).
    Status watch_funding(const std::string& channel_id, const OutPoint& funding);

    nlohmann::json towers_json();
    nlohmann::json backups_json();
    nlohmann::json status_json();
    // Per channel: backups, highest commitment number, each tower's counts,
    // and the close the client knows of (docs/operations.md, "Channels").
    Result<nlohmann::json> channels_json();
    EventFeed& events() { return *events_; }
    std::string metrics_text();  // Prometheus text format
    const PublicKey& user_id() const { return user_id_; }
    BackupQueue& queue() { return *queue_; }
    BackupWorker& worker() { return *worker_; }
    ChainWatch& chain() { return *chain_; }

private:
    ClientNode(Context context, PublicKey user_id) : context_(context), user_id_(user_id) {}
    std::int64_t now_ms();

    Context context_;
    std::unique_ptr<BackupQueue> queue_;
    std::unique_ptr<EventFeed> events_;  // outlives the worker that publishes to it
    std::unique_ptr<BackupWorker> worker_;
    std::unique_ptr<ChainWatch> chain_;
    PublicKey user_id_;
};

}  // namespace argus::client
