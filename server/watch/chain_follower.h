// Follows bitcoind's best chain block by block. ZMQ notifications only wake
// it; every sync reconciles the persisted position with bitcoind over RPC:
// it disconnects back to the fork point (up to `max_reorg_depth` blocks) and
// connects each block of the new branch in order. A block's effects (trackers,
// removed appointments, refunds) are committed in one transaction together
// with the new position, so a crash replays at most the block in progress.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "server/chain/chain_source.h"
#include "server/tower/tower_service.h"
#include "server/watch/responder.h"
#include "server/watch/watcher.h"

namespace argus::watch {

struct FollowerOptions {
    std::uint32_t max_reorg_depth = 100;
    std::chrono::milliseconds poll_interval{30'000};  // fallback when ZMQ is silent or lossy
    std::chrono::milliseconds max_backoff{30'000};
    std::function<void(double seconds)> on_block_processed;  // metrics
};

struct FollowerStats {
    std::uint64_t blocks_connected = 0;
    std::uint64_t blocks_disconnected = 0;
    std::uint64_t breaches = 0;
    std::uint64_t breaches_reorged_out = 0;  // trackers dropped with their breach's block
    std::uint64_t penalties_broadcast = 0;
    std::uint64_t penalties_rebroadcast = 0;
    std::uint64_t penalties_confirmed = 0;
    std::uint64_t penalties_rejected = 0;
    std::uint64_t invalid_appointments = 0;
    std::uint64_t rpc_errors = 0;
    double last_block_seconds = 0;
};

class ChainFollower {
public:
    ChainFollower(chain::ChainSource& source, Watcher& watcher, Responder& responder, tower::TowerService& service,
                  store::Store& store, FollowerOptions options = {});
    ~ChainFollower();

    // Loads the persisted position (or starts at bitcoind's tip on first run).
    Status initialize();
    // Reconciles with bitcoind until caught up. Returns blocks connected.
    Result<std::size_t> sync();
    // Runs sync() on its own thread: on wake(), every poll interval, and with
    // backoff while bitcoind is unreachable.
    void start();
    void stop();
    void wake();
    // A newly stored appointment: checked against recent blocks on the follower thread.
    void appointment_stored(const store::AppointmentRecord& appointment);

    tower::ChainStatus status() const;
    bool caught_up() const { return caught_up_; }
    std::uint32_t best_height() const { return best_height_; }
    FollowerStats stats() const;

private:
    struct Ref {
        std::uint32_t height;
        Hash256 hash;
    };
    Status connect(const Block& block, const Hash256& hash, std::uint32_t height);
    Status disconnect_tip();
    Status check_late_appointments();
    void run();

    chain::ChainSource& source_;
    Watcher& watcher_;
    Responder& responder_;
    tower::TowerService& service_;
    store::Store& store_;
    FollowerOptions options_;

    std::deque<Ref> recent_;  // our chain, oldest first; back() is the tip
    std::atomic<std::uint32_t> height_{0};
    std::atomic<bool> reachable_{false};
    std::atomic<bool> caught_up_{false};
    std::atomic<std::uint32_t> best_height_{0};

    mutable std::mutex mutex_;  // guards stats_, pending_, wake state
    FollowerStats stats_;
    std::deque<store::AppointmentRecord> pending_;
    std::condition_variable wake_;
    bool woken_ = false;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace argus::watch
