// The client's chain view adapter: follows bitcoind over JSON-RPC (polling;
// getblockcount, getblockhash, getblock raw), feeds each block to the pure
// ChainView and records what it decides in chain.sqlite (0600, WAL,
// synchronous=FULL), one transaction per block. Reorgs are found by comparing
// the stored hash of the tip with bitcoind's at that height, and undone block
// by block down to the fork (up to `reorg_window` blocks; deeper is an error
// the log names, and the view stops until the operator looks).
//
// Funding outpoints to watch are recorded here whether or not a bitcoind is
// configured, so a chain view enabled later watches every channel. Revoked
// commitments and reported penalties are the backup queue's; the ClientNode
// hands them over at start and as they come.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "client/node/chain_view.h"
#include "common/context.h"
#include "net/bitcoind_rpc.h"

namespace argus::client {

struct ChainWatchOptions {
    std::optional<chain::RpcEndpoint> rpc;  // none: fundings are recorded, nothing is followed
    std::chrono::milliseconds poll{5'000};
    // The first block to read when nothing was read yet; none: bitcoind's tip
    // at the first start (a channel closed before that is not seen).
    std::optional<std::uint32_t> start_height;
    std::uint32_t max_blocks_per_poll = 500;
    std::uint32_t reorg_window = 288;  // block hashes kept to find a fork
    // Called on the watch's thread after a block's records are committed.
    std::function<void(const ChainAction& action)> on_action;
};

// One channel as the chain view sees it.
struct ChainChannelStatus {
    std::optional<OutPoint> funding;
    std::optional<ObservedClose> close;
    std::uint32_t close_confirmations = 0;
};

class ChainWatch {
public:
    static Result<std::unique_ptr<ChainWatch>> open(const std::string& path, Clock& clock, ChainWatchOptions options);
    ~ChainWatch();

    Status watch_funding(const std::string& channel_id, const OutPoint& funding);  // durable
    void add_revoked(const RevokedCommitment& revoked);
    void watch_penalty(const std::string& channel_id, const Txid& penalty_txid);

    // Reads and applies what bitcoind has beyond the tip (bounded per call).
    // The thread calls it every `poll`; tests call it directly.
    Status poll_once();
    void start();
    void stop();

    bool following() const { return options_.rpc.has_value(); }
    bool reachable() const { return reachable_; }
    std::optional<ChainTip> tip();
    std::vector<std::pair<std::string, OutPoint>> fundings();
    ChainChannelStatus status(const std::string& channel_id);
    // Confirmations of a penalty at the tip (0: not seen in a block).
    std::uint32_t penalty_confirmations(const std::string& channel_id, const Txid& penalty_txid);

private:
    struct Db;
    ChainWatch(Clock& clock, ChainWatchOptions options);
    Status rebuild_view();
    Status apply(const ChainEvent& event, std::uint32_t height, const Hash256& hash, bool connect);
    Result<std::optional<Hash256>> stored_hash(std::uint32_t height);
    bool blocks_read_beyond_window();

    Clock& clock_;
    ChainWatchOptions options_;
    std::unique_ptr<chain::BitcoindRpc> rpc_;
    std::unique_ptr<Db> db_;
    std::mutex mutex_;  // guards view_, the lists below and db_
    ChainView view_;
    std::vector<RevokedCommitment> revoked_;
    std::vector<std::pair<std::string, Txid>> penalties_;
    bool stalled_ = false;  // a reorg deeper than the window
    std::atomic<bool> reachable_{false};

    std::mutex thread_mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace argus::client
