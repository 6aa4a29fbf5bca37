// The watch path's adapter: follows bitcoind's best chain block by block and
// drives the pure decision core (watch_core.h). ZMQ notifications only wake
// it; every sync reconciles the persisted position with bitcoind over RPC: it
// disconnects back to the fork point (up to `max_reorg_depth` blocks) and
// connects each block of the new branch in order.
//
// One round per event (a block connected or disconnected, an appointment
// stored): the adapter reads the block's candidate appointments (locator
// index, then store), feeds the core a draft copy of its state, executes the
// broadcasts and mempool queries the core asks for and feeds back their
// results, then commits every durable action and the new chain position in one
// transaction. Only then does the draft become the core's state; on any
// failure it is discarded and the round retried, so a crash or an outage
// replays at most the round in progress.
//
// Appointments stored while a block is processed: the tower service calls
// appointment_stored() for every appointment after it is committed and
// indexed; the follower queues them and runs their rounds between blocks and
// while idle, so each is checked against every recent block scanned before it
// was indexed.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "common/context.h"
#include "server/chain/chain_source.h"
#include "server/tower/locator_index.h"
#include "server/tower/tower_service.h"
#include "server/watch/watch_core.h"

namespace argus::watch {

struct FollowerOptions {
    std::uint32_t max_reorg_depth = 100;
    std::chrono::milliseconds poll_interval{30'000};  // fallback when ZMQ is silent or lossy
    std::chrono::milliseconds max_backoff{30'000};
    CoreOptions core;
    std::function<void(double seconds)> on_block_processed;  // metrics
    // Tests: runs on the follower thread after a block's candidates were read
    // and before the core sees the block (where a concurrent store once raced).
    std::function<void(std::uint32_t height)> after_candidates_read;
};

// What one round leaves to be committed.
struct Round {
    store::WriteBatch batch;
    std::vector<std::pair<store::UserId, std::uint32_t>> refunds;
    std::vector<Action> done;  // the durable actions, in order (for logs)
};

// A wtwire appointment's session, looked up when it triggers.
using SessionLookup = std::function<std::optional<store::SessionRecord>(const store::UserId& account)>;

// A connected block's event: every stored appointment the locator index could
// not rule out (by teos locator or lnd hint), read from the store, with the
// session of each wtwire appointment.
Result<BlockConnected> read_block_candidates(std::shared_ptr<const BlockView> view, const tower::LocatorIndex& index,
                                             store::Store& store, const SessionLookup& session_of = {});
// Feeds `first` to `draft`, executes the broadcasts and mempool queries it
// asks for and feeds back their reports until it asks for nothing more;
// durable actions go into `round`. An error means: discard the draft.
Status run_round(WatchCore& draft, Event first, chain::Broadcaster& broadcaster, Round& round);
// Every input of the block that spends a watched funding outpoint (nothing
// to do, and no hashing, while none is watched).
std::vector<FundingSpend> funding_spends(const BlockView& view, const tower::OutpointIndex& watched);

struct FollowerStats {
    CoreCounters core;
    std::uint64_t rpc_errors = 0;
    std::uint64_t appointments_checked_late = 0;  // AppointmentStored rounds run
    std::uint64_t penalties_waiting_for_fee = 0;  // trackers retried every block
    double last_block_seconds = 0;
    bool halted = false;
};

class ChainFollower {
public:
    ChainFollower(chain::ChainSource& source, chain::Broadcaster& broadcaster, const tower::LocatorIndex& index,
                  tower::TowerService& service, store::Store& store, FollowerOptions options = {},
                  Clock& clock = system_clock());
    ~ChainFollower();

    // Loads the persisted position and trackers (or starts at bitcoind's tip on first run).
    Status initialize();
    // Reconciles with bitcoind until caught up, then runs queued appointment
    // rounds. Returns blocks connected.
    Result<std::size_t> sync();
    // Runs queued appointment rounds only (no RPC unless one is a breach).
    Status check_stored_appointments();
    // Runs sync() on its own thread: on wake(), every poll interval, and with
    // backoff while bitcoind is unreachable; stored appointments in between.
    void start();
    void stop();
    void wake();
    // Every newly stored appointment, from the committer thread.
    void appointment_stored(store::AppointmentRecord appointment);
    // An appointment another tower of the group stored (the feed): read from
    // the store only if its trigger is in the window of recent blocks.
    void appointment_key_stored(const store::AppointmentKey& key);

    std::optional<store::TrackerRecord> tracker(const Locator& locator, const store::UserId& user) const;
    std::size_t tracker_count() const;

    tower::ChainStatus status() const;
    bool caught_up() const { return caught_up_; }
    // A reorg deeper than max_reorg_depth: the follower stopped; an operator must act.
    std::optional<std::string> halted() const;
    std::uint32_t best_height() const { return best_height_; }
    FollowerStats stats() const;

private:
    struct Ref {
        std::uint32_t height;
        Hash256 hash;
    };
    Status connect(std::shared_ptr<const Block> block, const Hash256& hash, std::uint32_t height);
    Status disconnect_tip();
    // Runs a round on a draft of the core and commits it; on success the
    // draft becomes the core's state.
    Status round(Event first);
    Status round(std::vector<Event> events);  // several events, one draft, one commit
    void run();

    chain::ChainSource& source_;
    chain::Broadcaster& broadcaster_;
    const tower::LocatorIndex& index_;
    tower::TowerService& service_;
    store::Store& store_;
    FollowerOptions options_;
    Clock& clock_;

    WatchCore core_;          // follower thread only
    std::deque<Ref> recent_;  // our chain, oldest first; back() is the tip
    std::atomic<std::uint32_t> height_{0};
    std::atomic<bool> reachable_{false};
    std::atomic<bool> caught_up_{false};
    std::atomic<std::uint32_t> best_height_{0};

    mutable std::mutex mutex_;  // guards everything below
    std::map<Key, store::TrackerRecord> published_;  // the committed trackers, for the API threads
    FollowerStats stats_;
    std::optional<std::string> halted_;
    std::deque<store::AppointmentRecord> stored_;  // appointments to check, oldest first
    std::deque<store::AppointmentKey> stored_keys_;  // another tower's, to check
    std::condition_variable wake_;
    bool woken_ = false;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace argus::watch
